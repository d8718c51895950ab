#!/usr/bin/env bash
# Builds and starts the demo on this machine: Redis on 127.0.0.1:6379 when
# redis-server is installed (the audit trail goes to the on-disk spool
# otherwise), the demo provider APIs on 127.0.0.1:9101-9105, and the gateway
# on http://localhost:8080. Ctrl-C stops everything.
# Then, in another terminal: examples/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./xcaddy.sh
go build -o bin/providers ./examples/providers

# A fixed key keeps subject hashes stable across demo runs. Never use it
# outside the demo.
export DATA_GATEWAY_HMAC_KEY=${DATA_GATEWAY_HMAC_KEY:-demo-only-hmac-key-do-not-use-in-production}
export DATA_GATEWAY_REDIS=${DATA_GATEWAY_REDIS:-127.0.0.1:6379}

pids=()
cleanup() {
	trap - EXIT INT TERM
	if ((${#pids[@]})); then
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
}
trap cleanup EXIT INT TERM

redis_port=${DATA_GATEWAY_REDIS##*:}
if command -v redis-cli >/dev/null && redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
	echo "using the Redis already running on port $redis_port"
elif command -v redis-server >/dev/null; then
	redis_dir=$(mktemp -d)
	redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$redis_dir" >"$redis_dir/redis.log" 2>&1 &
	pids+=($!)
	echo "started redis-server on 127.0.0.1:$redis_port (log: $redis_dir/redis.log)"
else
	echo "redis-server is not installed: audit records go to the spool in" \
		"${DATA_GATEWAY_SPOOL:-./data_gateway_spool} (apt-get install redis-server to use Redis)"
fi

bin/providers &
pids+=($!)

bin/datagateway run --config Caddyfile --adapter caddyfile &
pids+=($!)
wait -n "${pids[@]}"
