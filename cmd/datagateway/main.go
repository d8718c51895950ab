// Command datagateway is Caddy with the data gateway plugin built in, so a
// plain `go build` produces the gateway binary without xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/citydata/datagateway/caddymodule"
)

func main() {
	caddycmd.Main()
}
