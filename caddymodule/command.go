package caddymodule

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// subcommands are the `caddy data-gateway ...` subcommands. Files that add
// one append a constructor here from their init function, so each concern
// (providers, security staff) keeps its commands in its own file.
var subcommands []func() *cobra.Command

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "data-gateway",
		Usage: "<subcommand> [flags]",
		Short: "Operates the data gateway: registry, applications, policies and audit",
		Long: `
Subcommands for providers (register, list and retire resources; review
applications), consumers (apply) and security staff (explain a decision,
query and verify the audit trail). Run "caddy data-gateway help" for the list.`,
		CobraFunc: func(cmd *cobra.Command) {
			for _, sub := range subcommands {
				cmd.AddCommand(sub())
			}
		},
	})
}
