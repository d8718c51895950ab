#!/usr/bin/env bash
# Measures the data gateway against plain Caddy reverse_proxy on this
# machine, all on 127.0.0.1:
#
#   (a) plain  Caddy `reverse_proxy` straight to the population provider
#   (b) gateway  the data_gateway handler with authentication, policy,
#       masking and audit to a private redis-server, then reverse_proxy
#
# Both run the same bin/datagateway binary, without access logs. Each body
# size (a census listing of about 2 KB and one of about 64 KB) goes through
# (a) and (b) with wrk for peak throughput, then through bench/load at a
# fixed rate of half the gateway's peak for latency. The script fails when a
# gateway response is not a masked 200, when wrk counts an error, or when
# the audit stream lacks a record of a served request.
#
# Environment (defaults in brackets):
#   DURATION          wrk run length [10s]
#   CONNECTIONS       wrk and bench/load connections [32]
#   THREADS           wrk threads [2]
#   WARMUP            wrk warm-up before each measured run [2s]
#   LATENCY_DURATION  length of each fixed-rate latency run [5s]
#   LATENCY_ROUNDS    fixed-rate runs of each, plain and gateway alternating [3]
#   LATENCY_FRACTION  fixed rate as a fraction of the gateway's peak [0.5]
#   SMALL_COUNT       census persons in the small body [9: 1857 B, sent with
#                     Content-Length; from 10 on, the provider streams chunked]
#   LARGE_COUNT       census persons in the large body [330, about 64 KB]
#   PROFILE           1 captures a 10 s CPU profile of the gateway under wrk
#                     on the small body, prints its top 40 and the CPU per
#                     request by part, then the same parts for plain [0]
#   OUT_DIR           folder to keep raw outputs and the profile in [none]
#   SKIP_BUILD        1 reuses bin/datagateway and bin/providers [0]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
LATENCY_DURATION=${LATENCY_DURATION:-5s}
LATENCY_ROUNDS=${LATENCY_ROUNDS:-3}
LATENCY_FRACTION=${LATENCY_FRACTION:-0.5}
SMALL_COUNT=${SMALL_COUNT:-9}
LARGE_COUNT=${LARGE_COUNT:-330}
PROFILE=${PROFILE:-0}
OUT_DIR=${OUT_DIR:-}
SKIP_BUILD=${SKIP_BUILD:-0}

SCENARIO=social_assistance_review
STREAM=data_gateway:audit
# A fixed key for a throwaway Redis. Never use it outside this benchmark.
HMAC_KEY=bench-only-hmac-key-0123456789abcdef0123

die() {
	echo "bench: FAIL: $*" >&2
	exit 1
}

for tool in wrk redis-server redis-cli curl go awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/datagateway-bench.XXXXXX")
pids=()
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		kill -INT "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if ((status != 0)) && [[ -f $WORK/gateway.log ]]; then
		echo "--- last lines of the gateway log:" >&2
		tail -n 20 "$WORK/gateway.log" >&2
	fi
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $OUT_DIR ]]; then
	mkdir -p "$OUT_DIR"
	OUT_DIR=$(cd "$OUT_DIR" && pwd)
fi

# keep copies a raw output file into OUT_DIR, when one is set.
keep() {
	if [[ -n $OUT_DIR ]]; then
		cp "$1" "$OUT_DIR/"
	fi
}

# --- machine -----------------------------------------------------------
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "machine: $(nproc) CPUs, ${cpu_model:-unknown model}, $(uname -sr)," \
	"$(go version | awk '{print $3}'), $(wrk --version 2>&1 | awk 'NR==1 {print $1, $2}')," \
	"$(redis-server --version | awk '{print $3}')"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP);" \
	"fixed rate ${LATENCY_FRACTION} x gateway peak, $LATENCY_ROUNDS x $LATENCY_DURATION each"

# --- build -------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
	echo "building bin/datagateway, bin/providers and bench/load"
	./xcaddy.sh
	go build -o bin/providers ./examples/providers
fi
[[ -x bin/datagateway && -x bin/providers ]] || die "bin/datagateway or bin/providers is missing: run without SKIP_BUILD=1"
go build -o "$WORK/load" ./bench/load

# --- free loopback ports -------------------------------------------------
# Ports come from 20000-32767, below Linux's default ephemeral range, and
# are checked free just before use. If another program takes one in
# between, a server fails to start and the readiness check reports it.
# free_port sets port to a free port not handed out before.
used_ports=" "
free_port() {
	for _ in $(seq 200); do
		port=$((20000 + RANDOM % 12768))
		[[ $used_ports == *" $port "* ]] && continue
		if ! (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
			used_ports+="$port "
			return
		fi
	done
	die "no free loopback port found in 20000-32767"
}

wait_tcp() { # port name
	for _ in $(seq 300); do
		if (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null; then
			return
		fi
		sleep 0.1
	done
	die "$2 did not listen on 127.0.0.1:$1 within 30s (logs in $WORK)"
}

# --- redis ---------------------------------------------------------------
free_port
redis_port=$port
mkdir -p "$WORK/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
	--dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_tcp "$redis_port" redis-server
rcli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }

# --- providers -----------------------------------------------------------
declare -A default_port=([population]=9101 [marriage]=9102 [enterprise]=9103
	[housing-fund]=9104 [emergency]=9105)
declare -A provider_port
provider_flags=()
for dept in population marriage enterprise housing-fund emergency; do
	free_port
	provider_port[$dept]=$port
	provider_flags+=("-$dept" "127.0.0.1:${provider_port[$dept]}")
done
bin/providers "${provider_flags[@]}" >"$WORK/providers.log" 2>&1 &
pids+=($!)
for dept in "${!provider_port[@]}"; do
	wait_tcp "${provider_port[$dept]}" "provider $dept"
done

# The example catalogue, each upstream pointed at the port chosen above.
sed_args=()
for dept in "${!default_port[@]}"; do
	sed_args+=(-e "s|\"http://127.0.0.1:${default_port[$dept]}\"|\"http://127.0.0.1:${provider_port[$dept]}\"|g")
done
sed "${sed_args[@]}" examples/catalogue.json >"$WORK/catalogue.json"
grep -q "127.0.0.1:${provider_port[population]}" "$WORK/catalogue.json" ||
	die "rewriting examples/catalogue.json: population upstream 127.0.0.1:9101 not found"

# --- Caddy: plain reverse_proxy, and the gateway --------------------------
free_port
plain_port=$port
free_port
plain_admin=$port
free_port
gateway_port=$port
free_port
gateway_admin=$port

cat >"$WORK/Caddyfile.plain" <<EOF
{
	default_bind 127.0.0.1
	admin 127.0.0.1:$plain_admin
}

http://127.0.0.1:$plain_port {
	reverse_proxy 127.0.0.1:${provider_port[population]}
}
EOF

cat >"$WORK/Caddyfile.gateway" <<EOF
{
	default_bind 127.0.0.1
	admin 127.0.0.1:$gateway_admin
	data_gateway {
		catalogue $WORK/catalogue.json
		policies $ROOT/policies
		redis 127.0.0.1:$redis_port
		audit_stream $STREAM
		spool_dir $WORK/spool
		hmac_key {env.DATA_GATEWAY_HMAC_KEY}
		max_body 1MiB
	}
}

http://127.0.0.1:$gateway_port {
	data_gateway
	reverse_proxy {
		dynamic data_gateway
	}
}
EOF

# start_caddy starts bin/datagateway on Caddyfile.$1 and sets caddy_pid.
start_caddy() { # name
	mkdir -p "$WORK/$1"
	(
		cd "$WORK/$1"
		exec env DATA_GATEWAY_HMAC_KEY="$HMAC_KEY" \
			XDG_DATA_HOME="$WORK/$1/data" XDG_CONFIG_HOME="$WORK/$1/config" \
			"$ROOT/bin/datagateway" run --config "$WORK/Caddyfile.$1" --adapter caddyfile
	) >"$WORK/$1.log" 2>&1 &
	caddy_pid=$!
	pids+=("$caddy_pid")
}
start_caddy plain
plain_pid=$caddy_pid
start_caddy gateway
gateway_pid=$caddy_pid
wait_tcp "$plain_port" "plain Caddy"
wait_tcp "$gateway_port" "gateway"

# shellcheck disable=SC1091
source examples/demo-keys.env
[[ -n ${KEY_SIMING_CIVIL:-} ]] || die "KEY_SIMING_CIVIL is missing from examples/demo-keys.env"
gateway_headers=(-H "Authorization: Bearer $KEY_SIMING_CIVIL" -H "X-Data-Scenario: $SCENARIO")

census_path() { echo "/api/population/census/350203?count=$1"; }

# --- correctness before load -----------------------------------------------
# An identity number (17 digits and a check character) or a mainland
# mobile number standing alone in a JSON string is a value left unmasked.
unmasked_re='"[0-9]{17}[0-9X]"|"1[3-9][0-9]{9}"'

check_bodies() { # count
	local path plain_code gateway_code
	path=$(census_path "$1")
	plain_code=$(curl -s -o "$WORK/plain.body" -w '%{http_code}' "http://127.0.0.1:$plain_port$path")
	[[ $plain_code == 200 ]] || die "plain GET $path: status $plain_code, want 200"
	grep -Eq "$unmasked_re" "$WORK/plain.body" ||
		die "plain GET $path: no raw identity or phone number in the upstream body, so masking is not exercised"

	gateway_code=$(curl -s -D "$WORK/gateway.headers" -o "$WORK/gateway.body" -w '%{http_code}' \
		"${gateway_headers[@]}" "http://127.0.0.1:$gateway_port$path")
	[[ $gateway_code == 200 ]] || die "gateway GET $path: status $gateway_code, want 200: $(head -c 300 "$WORK/gateway.body")"
	grep -qi '^X-Data-Source: xm-public-security/population.census' "$WORK/gateway.headers" ||
		die "gateway GET $path: no X-Data-Source header naming population.census"
	if grep -Eq "$unmasked_re" "$WORK/gateway.body"; then
		die "gateway GET $path: the body contains an unmasked identity or phone number"
	fi
	cmp -s "$WORK/plain.body" "$WORK/gateway.body" && die "gateway GET $path: body identical to the upstream body"
	echo "check: count=$1 plain $(wc -c <"$WORK/plain.body") B raw, gateway $(wc -c <"$WORK/gateway.body") B masked, both 200"
	keep "$WORK/gateway.body"
}

# --- audit check ------------------------------------------------------------
# audit_scan counts the stream entries after ID $1: those with status 200
# and at least one masked field, and the others. It prints
# "served others last_id first_other", first_other being the status and
# reasons of the first other entry. It runs inside Redis, in chunks.
audit_scan() {
	# shellcheck disable=SC2016
	rcli --raw EVAL '
local cursor = ARGV[1]
local served, others, first = 0, 0, "-"
while true do
  local entries = redis.call("XRANGE", KEYS[1], "(" .. cursor, "+", "COUNT", 5000)
  if #entries == 0 then break end
  for _, e in ipairs(entries) do
    local v = {}
    for i = 1, #e[2], 2 do v[e[2][i]] = e[2][i + 1] end
    if v.status == "200" and tonumber(v.masked or "0") > 0 then
      served = served + 1
    else
      others = others + 1
      if first == "-" then
        first = "status=" .. tostring(v.status) .. ",masked=" .. tostring(v.masked) ..
          ",reasons=" .. tostring(v.reasons)
      end
    end
    cursor = e[1]
  end
end
return {served, others, cursor, first}' 1 "$STREAM" "$1" | tr '\n' ' '
}

audit_cursor=0-0
# audit_verify checks the records written since its last call: at least $1
# (the responses the client received) with status 200 and masked fields,
# and at most $2 others. When its time is up, wrk closes its connections
# with requests still in flight. The gateway records each of those as a
# non-200 entry, so up to one per connection is expected after wrk.
audit_verify() { # received max_others label
	local served others last first prev=-1
	for _ in $(seq 100); do # wait for the writer to drain its queue
		read -r served others last first <<<"$(audit_scan "$audit_cursor")"
		((served >= $1 && served + others == prev)) && break
		prev=$((served + others))
		sleep 0.2
	done
	((served >= $1)) || die "$3: $served audit records of masked 200 responses for $1 responses received"
	((others <= $2)) || die "$3: $others audit records have a status other than 200 or nothing masked (at most $2 expected); the first: $first"
	audit_cursor=$last
	audit_note="audit: $served masked 200 records"
	if ((others > 0)); then
		audit_note+=", $others requests cut off by the client's stop, the first: $first"
	fi
}

# --- wrk ------------------------------------------------------------------
cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_result requests=%d duration_us=%d rps=%.1f status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    e.status, e.connect, e.read, e.write, e.timeout))
end
EOF

clock_ticks=$(getconf CLK_TCK)
# cpu_ticks prints the CPU time (user and system) that process $1 has used,
# in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# other_start and other_stop measure the share of all CPUs that processes
# this script did not start (other users of the machine) used between the
# two calls. other_stop sets other_pct and raises other_max to it. The
# script's own CPU is that of its servers plus that of its finished
# children, wrk and bench/load.
nproc=$(nproc)
own_ticks() {
	local total pid
	total=$(awk '{print $16 + $17}' "/proc/$$/stat")
	for pid in "${pids[@]}"; do
		total=$((total + $(cpu_ticks "$pid")))
	done
	echo "$total"
}
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
other_start() {
	other_t0=$EPOCHREALTIME
	other_busy0=$(busy_ticks)
	other_own0=$(own_ticks)
}
other_stop() {
	other_pct=$(awk -v t0="$other_t0" -v t1="$EPOCHREALTIME" -v b0="$other_busy0" -v b1="$(busy_ticks)" \
		-v o0="$other_own0" -v o1="$(own_ticks)" -v hz="$clock_ticks" -v n="$nproc" \
		'BEGIN {p = ((b1 - b0) - (o1 - o0)) / hz / ((t1 - t0) * n) * 100; printf "%.0f", p < 0 ? 0 : p}')
	if ((other_pct > other_max)); then
		other_max=$other_pct
	fi
}
other_max=0
other_worst=0

# cpu_per_request prints the CPU microseconds per request from ticks $1 to
# $2 over $3 requests.
cpu_per_request() {
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$clock_ticks" 'BEGIN {printf "%.0f", (b - a) / hz * 1e6 / n}'
}

# run_wrk runs wrk against URL $2 for $3. It sets wrk_rps, wrk_requests,
# wrk_cpu_us (the CPU microseconds per request that process $4 used
# meanwhile) and other_pct. Further arguments go to wrk.
run_wrk() { # label url duration pid [wrk args...]
	local label=$1 url=$2 duration=$3 pid=$4 out before after
	shift 4
	out="$WORK/wrk-${label// /-}.txt"
	before=$(cpu_ticks "$pid")
	other_start
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" -s "$WORK/report.lua" "$@" "$url" >"$out" 2>&1 ||
		die "$label: wrk failed: $(cat "$out")"
	other_stop
	after=$(cpu_ticks "$pid")
	keep "$out"
	local line
	line=$(grep '^wrk_result ' "$out") || die "$label: no wrk result line in: $(cat "$out")"
	wrk_requests=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")
	wrk_rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
	((wrk_requests > 0)) || die "$label: wrk completed no request: $(cat "$out")"
	wrk_cpu_us=$(cpu_per_request "$before" "$after" "$wrk_requests")
	local field n
	for field in status connect read write timeout; do
		n=$(sed -E "s/.* $field=([0-9]+).*/\1/" <<<"$line")
		((n == 0)) || die "$label: wrk counted $n $field errors" \
			"(status: responses with status 400 or above): $(cat "$out")"
	done
}

# run_load runs bench/load at $3 requests per second for LATENCY_DURATION
# and sets p50 and p99 (milliseconds), load_ok (responses with status 200)
# and other_pct. Further arguments go to bench/load.
run_load() { # label url rate [load args...]
	local label=$1 url=$2 rate=$3 out
	shift 3
	out="$WORK/load-${label// /-}.txt"
	other_start
	"$WORK/load" -url "$url" -rate "$rate" -duration "$LATENCY_DURATION" -max 1000000 \
		-connections "$CONNECTIONS" -warmup 1s "$@" >"$out" 2>&1 ||
		die "$label: fixed-rate run failed: $(cat "$out")"
	other_stop
	keep "$out"
	p50=$(sed -nE 's/.* p50_ms=([0-9.]+).*/\1/p' "$out")
	p99=$(sed -nE 's/.* p99_ms=([0-9.]+).*/\1/p' "$out")
	load_ok=$(sed -nE 's/.* ok=([0-9]+).*/\1/p' "$out")
	local sent late
	sent=$(sed -nE 's/^sent=([0-9]+).*/\1/p' "$out")
	late=$(sed -nE 's/.* late=([0-9]+).*/\1/p' "$out")
	if ((late * 100 > sent)); then
		echo "note: $label: $late of $sent requests were queued more than 2 ms late" \
			"(the load client was short of CPU; other processes used $other_pct% of the CPUs)"
	fi
}

# median prints the median of its arguments (the lower middle one for an
# even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

load_header_args=(-header "Authorization: Bearer $KEY_SIMING_CIVIL" -header "X-Data-Scenario: $SCENARIO")

# measure_body runs every measurement on the census listing of $1 persons,
# appends a row to rows, and sets last_ratio and last_added.
rows=()
measure_body() { # count
	local count=$1 bytes path plain_url gateway_url
	check_bodies "$count"
	bytes=$(wc -c <"$WORK/plain.body")
	path=$(census_path "$count")
	plain_url="http://127.0.0.1:$plain_port$path"
	gateway_url="http://127.0.0.1:$gateway_port$path"

	# Peak throughput, and the CPU per request of each Caddy process.
	run_wrk "warm-up plain $count" "$plain_url" "$WARMUP" "$plain_pid"
	run_wrk "warm-up gateway $count" "$gateway_url" "$WARMUP" "$gateway_pid" "${gateway_headers[@]}"
	audit_verify "$wrk_requests" "$CONNECTIONS" "warm-up gateway count=$count"
	other_max=0

	run_wrk "plain $count" "$plain_url" "$DURATION" "$plain_pid"
	local plain_rps=$wrk_rps plain_cpu=$wrk_cpu_us plain_other=$other_pct redis_before redis_after
	redis_before=$(cpu_ticks "$redis_pid")
	run_wrk "gateway $count" "$gateway_url" "$DURATION" "$gateway_pid" "${gateway_headers[@]}"
	redis_after=$(cpu_ticks "$redis_pid")
	local gateway_rps=$wrk_rps gateway_cpu=$wrk_cpu_us redis_cpu
	redis_cpu=$(cpu_per_request "$redis_before" "$redis_after" "$wrk_requests")
	audit_verify "$wrk_requests" "$CONNECTIONS" "gateway count=$count"
	echo "wrk: count=$count plain $plain_rps req/s ($plain_cpu us CPU/req, other processes" \
		"$plain_other% of the CPUs), gateway $gateway_rps req/s ($gateway_cpu us CPU/req," \
		"redis $redis_cpu us/req, other processes $other_pct%); $audit_note"

	# Latency at one fixed rate for both, plain and gateway alternating, so
	# a burst of other work on the machine does not land on one side only.
	local rate round plain_p50s=() plain_p99s=() gateway_p50s=() gateway_p99s=() rounds_note=""
	rate=$(awk -v r="$gateway_rps" -v f="$LATENCY_FRACTION" 'BEGIN {printf "%.0f", r * f}')
	for round in $(seq "$LATENCY_ROUNDS"); do
		run_load "latency plain $count round $round" "$plain_url" "$rate"
		plain_p50s+=("$p50")
		plain_p99s+=("$p99")
		rounds_note+=" plain $p99 ($other_pct%),"
		run_load "latency gateway $count round $round" "$gateway_url" "$rate" "${load_header_args[@]}"
		gateway_p50s+=("$p50")
		gateway_p99s+=("$p99")
		rounds_note+=" gateway $p99 ($other_pct%);"
		audit_verify "$load_ok" 0 "latency gateway count=$count round $round"
	done
	echo "latency: count=$count at $rate req/s, p99 in ms per round (other processes' CPU" \
		"share):${rounds_note%;}"
	local plain_p50 plain_p99 gateway_p50 gateway_p99 ratio cpu_ratio added
	plain_p50=$(median "${plain_p50s[@]}")
	plain_p99=$(median "${plain_p99s[@]}")
	gateway_p50=$(median "${gateway_p50s[@]}")
	gateway_p99=$(median "${gateway_p99s[@]}")

	ratio=$(awk -v a="$plain_rps" -v b="$gateway_rps" 'BEGIN {printf "%.2f", b / a}')
	cpu_ratio=$(awk -v a="$plain_cpu" -v b="$gateway_cpu" 'BEGIN {printf "%.2f", a / b}')
	added=$(awk -v a="$plain_p99" -v b="$gateway_p99" 'BEGIN {printf "%+.3f", b - a}')
	rows+=("$(printf '%-7s %9s %9s %5s %6s %6s %5s %6s %15s %15s %8s %6s' \
		"$bytes" "$plain_rps" "$gateway_rps" "$ratio" "$plain_cpu" "$gateway_cpu" "$cpu_ratio" "$rate" \
		"$plain_p50/$plain_p99" "$gateway_p50/$gateway_p99" "$added" "$other_max%")")
	last_ratio=$ratio
	last_added=$added
	if ((other_max > other_worst)); then
		other_worst=$other_max
	fi
}

measure_body "$SMALL_COUNT"
small_ratio=$last_ratio
small_added_p99=$last_added
measure_body "$LARGE_COUNT"

# --- results ------------------------------------------------------------------
cat <<EOF

(a) plain reverse_proxy, (b) gateway. Peak: wrk -t$THREADS -c$CONNECTIONS -d$DURATION.
CPU: microseconds of CPU per request used by the Caddy process during the peak run;
its ratio a/b is the throughput ratio to expect when each Caddy has CPUs of its own.
Latency: median over $LATENCY_ROUNDS rounds of $LATENCY_DURATION at one fixed rate for both,
${LATENCY_FRACTION} x the gateway's peak; +p99 = p99(b) - p99(a).
Other: the largest share of the CPUs that processes outside this benchmark used in one
of the runs; above a few percent, the machine was shared and the figures are noisy.
EOF
printf '%-7s %9s %9s %5s %6s %6s %5s %6s %15s %15s %8s %6s\n' \
	"body B" "a req/s" "b req/s" "b/a" "a CPU" "b CPU" "a/b" "rate" "a p50/p99 ms" "b p50/p99 ms" "+p99 ms" "other"
for row in "${rows[@]}"; do
	echo "$row"
done
echo
# A verdict taken while other processes used more than a tenth of the CPUs
# is marked noisy, because it then reflects the machine more than the
# gateway.
noisy=""
if ((other_worst > 10)); then
	noisy=" (noisy)"
fi
verdict() { # condition text
	if awk "BEGIN {exit !($1)}"; then
		echo "met$noisy: $2"
	else
		echo "NOT MET$noisy: $2"
	fi
}
verdict "$small_ratio >= 0.75" "gateway throughput >= 0.75 x plain on the small body (ratio $small_ratio)"
verdict "$small_added_p99 < 1" "added p99 < 1 ms at ${LATENCY_FRACTION} x peak on the small body ($small_added_p99 ms)"
if [[ -n $noisy ]]; then
	echo "WARNING: processes outside this benchmark used up to $other_worst% of the CPUs during a" \
		"measured run, so these figures do not describe the gateway; rerun on a quiet machine"
fi
notable_log() {
	grep -v 'HTTP/[23] skipped because it requires TLS' "$WORK/gateway.log" | grep -E '"level":"(warn|error)"'
}
if notable_log >/dev/null; then
	echo "note: the gateway logged warnings or errors ($(notable_log | wc -l) lines); the last ones:"
	notable_log | tail -n 3 | cut -c1-300
fi

# --- CPU profile ----------------------------------------------------------------
# profile_breakdown prints the CPU of profile $1 by part of the gateway, in
# microseconds per request over $2 requests. Each sample goes to the first
# part whose pattern matches a frame of its stack, so the order matters:
# masking and policy run inside the handler, and the handler's call into
# reverse_proxy counts as reverse_proxy.
profile_breakdown() { # profile requests
	go tool pprof -traces bin/datagateway "$1" 2>/dev/null | awk -v requests="$2" '
		BEGIN {
			n = split("policy (OPA, decision cache)|masking|audit writer and Redis client|" \
				"reverse_proxy and upstream transport|gateway handler, rest|" \
				"HTTP server: read request, write response|garbage collector|scheduler and other", name, "|")
			pattern[1] = "datagateway/gateway/policy|open-policy-agent"
			pattern[2] = "datagateway/gateway/mask"
			pattern[3] = "datagateway/gateway/audit|go-redis"
			pattern[4] = "caddyhttp/reverseproxy|net/http[.][(][*]persistConn[)]|net/http[.][(][*]Transport[)]"
			pattern[5] = "datagateway/caddymodule"
			pattern[6] = "net/http[.][(][*]conn[)][.]serve"
			pattern[7] = "runtime[.](gcBgMarkWorker|bgsweep|bgscavenge)"
		}
		function flush(   i) {
			if (value == 0) return
			for (i = 1; i < n; i++) {
				if (stack ~ pattern[i]) break
			}
			seconds[i] += value
			total += value
			value = 0
		}
		/^-+[+]-+$/ { flush(); stack = ""; next }
		/^ +[0-9.]+(s|ms|us|µs) / {
			unit = $1
			sub(/^[0-9.]+/, "", unit)
			value = $1 + 0
			value *= unit == "s" ? 1 : unit == "ms" ? 1e-3 : 1e-6
			stack = $2
			next
		}
		value > 0 { stack = stack "\n" $1 }
		END {
			flush()
			for (i = 1; i <= n; i++) {
				printf "  %-44s %6.2f s %5.1f%% %7.1f us/request\n", name[i], seconds[i], 100 * seconds[i] / total, seconds[i] / requests * 1e6
			}
			printf "  %-44s %6.2f s        %7.1f us/request\n", "total", total, total / requests * 1e6
		}'
}

if [[ $PROFILE == 1 ]]; then
	profile="${OUT_DIR:-$WORK}/gateway-cpu.pprof"
	path=$(census_path "$SMALL_COUNT")
	echo
	echo "profiling the gateway for 10s under wrk on count=$SMALL_COUNT"
	curl -s -o "$profile" "http://127.0.0.1:$gateway_admin/debug/pprof/profile?seconds=10" &
	profiler=$!
	run_wrk "profiled gateway $SMALL_COUNT" "http://127.0.0.1:$gateway_port$path" 12s \
		"$gateway_pid" "${gateway_headers[@]}"
	wait "$profiler" || die "fetching the CPU profile from the admin endpoint failed"
	echo "profiled run: $wrk_rps req/s (profiling costs some throughput)"
	go tool pprof -top -nodecount=40 bin/datagateway "$profile" 2>/dev/null
	# The profile covers 10 of the 12 seconds of load.
	profiled_requests=$(awk -v r="$wrk_rps" 'BEGIN {printf "%.0f", r * 10}')
	echo
	echo "gateway CPU by part, over about $profiled_requests requests:"
	profile_breakdown "$profile" "$profiled_requests"

	# The same for plain reverse_proxy, for the difference.
	plain_profile="${OUT_DIR:-$WORK}/plain-cpu.pprof"
	curl -s -o "$plain_profile" "http://127.0.0.1:$plain_admin/debug/pprof/profile?seconds=10" &
	profiler=$!
	run_wrk "profiled plain $SMALL_COUNT" "http://127.0.0.1:$plain_port$path" 12s "$plain_pid"
	wait "$profiler" || die "fetching the CPU profile of plain Caddy from its admin endpoint failed"
	profiled_requests=$(awk -v r="$wrk_rps" 'BEGIN {printf "%.0f", r * 10}')
	echo
	echo "plain reverse_proxy CPU by part, over about $profiled_requests requests ($wrk_rps req/s):"
	profile_breakdown "$plain_profile" "$profiled_requests"
fi
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg); total time: ${SECONDS}s"
