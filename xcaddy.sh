#!/usr/bin/env bash
# Builds the gateway (Caddy with the data gateway plugin) into bin/datagateway
# and, with "run", starts it on the example Caddyfile.
#
#   ./xcaddy.sh            build
#   ./xcaddy.sh run [...]  build, then run with extra `caddy run` arguments
#
# With xcaddy on PATH (go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5)
# and USE_XCADDY=1, the build goes through xcaddy; otherwise `go build` of
# cmd/datagateway, which links the same modules.
set -euo pipefail
cd "$(dirname "$0")"

CADDY_VERSION=v2.11.9
MODULE=$(go list -m)
mkdir -p bin

if [[ "${USE_XCADDY:-0}" == 1 ]] && command -v xcaddy >/dev/null; then
	# xcaddy fetches plugins through the module proxy; a local module needs a
	# pinned pseudo-version to be replaced by the working tree.
	xcaddy build "$CADDY_VERSION" --with "$MODULE@v0.0.0=./" --output bin/datagateway
else
	go build -o bin/datagateway ./cmd/datagateway
fi

if [[ "${1:-}" == run ]]; then
	shift
	exec bin/datagateway run --config Caddyfile --adapter caddyfile "$@"
fi
