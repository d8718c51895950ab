package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/policies"
)

func init() {
	subcommands = append(subcommands, explainCommand)
}

func explainCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use: "explain --config <Caddyfile> --consumer <id> (--resource <id> | --path <path>) " +
			"[--scenario <scenario>] [--time <RFC 3339>] [--trace] [--json]",
		Short: "Shows the policy decision the gateway would make for a request",
		Long: `
Loads the catalogue and the policies that the config's data_gateway global
option names, builds the policy input the gateway builds for a request by
the consumer to the resource, and prints the decision: allow or refuse,
every reason, the data scope, the mask strategies, the obligations, the
grant used and the policy version. The decision cache is not used. With
--trace it also prints OPA's evaluation trace, with the file and line of
each step. Nothing is sent upstream and no audit record is written.

To ask the running gateway instead, use GET or POST /data_gateway/explain
on its admin endpoint.`,
		Args: cobra.NoArgs,
		RunE: runExplain,
	}
	flags := cmd.Flags()
	flags.StringP("config", "c", "", "Config file (Caddyfile or JSON) that sets the data_gateway option")
	flags.StringP("adapter", "a", "", "Name of the config adapter; default: by file name, as caddy run")
	flags.String("consumer", "", "Consumer id from the catalogue")
	flags.String("resource", "", "Resource id from the catalogue")
	flags.String("path", "", "Request path (and query); default: the resource's path prefix")
	flags.String("scenario", "", "Declared scenario, as in the X-Data-Scenario header")
	flags.String("time", "", "Time of the request, RFC 3339; default: now")
	flags.String("method", "GET", "HTTP method of the request")
	flags.String("client-ip", "", "Client address as the gateway would see it")
	flags.Bool("trace", false, "Print OPA's evaluation trace")
	flags.Bool("json", false, "Print the report as JSON")
	return cmd
}

func runExplain(cmd *cobra.Command, _ []string) error {
	flags := cmd.Flags()
	configFile, _ := flags.GetString("config")
	adapter, _ := flags.GetString("adapter")
	var body explainBody
	body.Consumer, _ = flags.GetString("consumer")
	body.Resource, _ = flags.GetString("resource")
	body.Path, _ = flags.GetString("path")
	body.Scenario, _ = flags.GetString("scenario")
	body.Time, _ = flags.GetString("time")
	body.Method, _ = flags.GetString("method")
	body.ClientIP, _ = flags.GetString("client-ip")
	body.Trace, _ = flags.GetBool("trace")
	asJSON, _ := flags.GetBool("json")

	q, err := body.query()
	if err != nil {
		return err
	}
	cat, engine, err := loadConfiguredPolicy(configFile, adapter)
	if err != nil {
		return err
	}
	report, err := explain(context.Background(), cat, engine, q)
	if err != nil {
		return fmt.Errorf("explaining decision: %w", err)
	}
	out := cmd.OutOrStdout()
	if asJSON {
		encoder := json.NewEncoder(out)
		encoder.SetIndent("", "  ")
		return encoder.Encode(report)
	}
	report.writeText(out)
	return nil
}

// loadConfiguredPolicy loads the catalogue and the policies that the
// config's data_gateway app names, as the running gateway loads them.
func loadConfiguredPolicy(configFile, adapter string) (*catalog.Catalog, *policy.Engine, error) {
	if configFile == "" {
		return nil, nil, errors.New("--config is missing: give the gateway's Caddyfile or JSON config")
	}
	config, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, nil, fmt.Errorf("loading config %q: %w", configFile, err)
	}
	var parsed struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(config, &parsed); err != nil {
		return nil, nil, fmt.Errorf("decoding config %q: %w", configFile, err)
	}
	raw, ok := parsed.Apps["data_gateway"]
	if !ok {
		return nil, nil, fmt.Errorf("config %q has no data_gateway global option", configFile)
	}
	var app App
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, nil, fmt.Errorf("decoding the data_gateway option of %q: %w", configFile, err)
	}

	repl := caddy.NewReplacer()
	cataloguePath := repl.ReplaceKnown(app.Catalogue, "")
	cat, err := catalog.Load(cataloguePath)
	if err != nil {
		return nil, nil, fmt.Errorf("loading catalogue: %w", err)
	}
	var engine *policy.Engine
	if dir := repl.ReplaceKnown(app.Policies, ""); dir != "" {
		engine, err = policy.LoadDir(dir)
	} else {
		engine, err = policy.Load(policies.FS)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading policies: %w", err)
	}
	return cat, engine, nil
}
