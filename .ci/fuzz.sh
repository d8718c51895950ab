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

# fuzz_once runs one target once and prints nothing of its own.
fuzz_once() {
	# Minimising a new input costs time that grows with the square of its
	# length; a short bound keeps it from eating a short run.
	go test -run='^$' -fuzz="^${2}\$" -fuzztime="$fuzztime" \
		-fuzzminimizetime="${FUZZMINIMIZETIME:-2s}" -parallel="$parallel" "$1"
}

# corpus_files lists the failing inputs a target has saved so far.
corpus_files() {
	ls "$1/testdata/fuzz/$2" 2>/dev/null || true
}

passed=0
failed=0
for entry in "${targets[@]}"; do
	read -r pkg name <<<"$entry"
	wanted "$name" "$@" || continue
	echo "fuzzing $name in $pkg for $fuzztime"
	before=$(corpus_files "$pkg" "$name")
	if fuzz_once "$pkg" "$name"; then
		passed=$((passed + 1))
		continue
	fi
	# Go 1.26's fuzzing coordinator can fail a target with "context
	# deadline exceeded" as -fuzztime ends, having found nothing
	# (golang/go#75804, fixed in Go 1.27). A failure that saved no failing
	# input is run once more; a second failure counts whatever it says.
	if [ "$(corpus_files "$pkg" "$name")" = "$before" ]; then
		echo "$name failed without saving a failing input; running it again"
		if fuzz_once "$pkg" "$name"; then
			passed=$((passed + 1))
			continue
		fi
	fi
	echo "FAIL: $name in $pkg; a failing input, if any, is under $pkg/testdata/fuzz/$name"
	failed=$((failed + 1))
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
