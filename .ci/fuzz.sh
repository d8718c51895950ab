#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME each (default 20s). A target that
# finds a failing input saves it under its package's testdata/fuzz, where
# `go test` replays it from then on, and the script exits non-zero.
#
#   FUZZTIME=60s .ci/fuzz.sh            # every target, one minute each
#   .ci/fuzz.sh FuzzClean FuzzApply     # only the named targets
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-20s}"
# Fuzz workers per target; the machine has two cores.
parallel="${FUZZPARALLEL:-2}"

# package and target, one pair a line
targets=(
	"./gateway/mask FuzzApply"
	"./gateway/mask FuzzCompile"
	"./gateway/mask FuzzDecode"
	"./gateway/urlpath FuzzClean"
	"./gateway/catalog FuzzParse"
	"./gateway/identity FuzzCheckIDNumber"
	"./gateway/identity FuzzCheckCreditCode"
)

wanted() {
	[ "$#" -eq 1 ] && return 0
	local name="$1"
	shift
	for w in "$@"; do
		[ "$w" = "$name" ] && return 0
	done
	return 1
}

passed=0
failed=0
for entry in "${targets[@]}"; do
	read -r pkg name <<<"$entry"
	wanted "$name" "$@" || continue
	echo "fuzzing $name in $pkg for $fuzztime"
	# Minimising a new input costs time that grows with the square of its
	# length; a short bound keeps it from eating a short run.
	if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" \
		-fuzzminimizetime="${FUZZMINIMIZETIME:-2s}" -parallel="$parallel" "$pkg"; then
		passed=$((passed + 1))
	else
		echo "FAIL: $name in $pkg; the failing input is under $pkg/testdata/fuzz/$name"
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
