package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/redis/go-redis/v9"
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
option names, as the gateway does: when the option configures redis, the
catalogue is the registry in Redis, or the catalogue file while Redis
contains no registry yet. Without redis it is the catalogue file. It builds the
policy input the gateway builds for a request by the consumer to the
resource, and prints the decision: allow or refuse, every reason, the data
scope, the mask strategies, the obligations, the grant used, the catalogue
used and the policy version. The decision cache is not used. With --trace
it also prints OPA's evaluation trace, with the file and line of each step.
Nothing is sent upstream, nothing is written to Redis and no audit record
is written.

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
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	loaded, err := loadConfiguredPolicy(ctx, configFile, adapter)
	if err != nil {
		return err
	}
	report, err := explain(ctx, loaded.catalog, loaded.engine, q)
	if err != nil {
		return fmt.Errorf("explaining decision: %w", err)
	}
	report.CatalogueSource = loaded.source
	out := cmd.OutOrStdout()
	if asJSON {
		encoder := json.NewEncoder(out)
		encoder.SetIndent("", "  ")
		return encoder.Encode(report)
	}
	report.writeText(out)
	return nil
}

// explainRegistryTimeout bounds the reading of the registry snapshot,
// retries included.
const explainRegistryTimeout = 10 * time.Second

// configuredPolicy is the catalogue the gateway serves, its source and the
// policies, which the explain subcommand decides against.
type configuredPolicy struct {
	catalog *catalog.Catalog
	// source is "redis registry version N" or "file <path>".
	source string
	engine *policy.Engine
}

// loadConfiguredPolicy loads the catalogue and the policies that the
// config's data_gateway app names, as the running gateway loads them. With
// redis configured, the catalogue is the registry's snapshot, unless Redis
// contains no registry yet.
func loadConfiguredPolicy(ctx context.Context, configFile, adapter string) (*configuredPolicy, error) {
	if configFile == "" {
		return nil, errors.New("--config is missing: give the gateway's Caddyfile or JSON config")
	}
	config, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, fmt.Errorf("loading config %q: %w", configFile, err)
	}
	var parsed struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(config, &parsed); err != nil {
		return nil, fmt.Errorf("decoding config %q: %w", configFile, err)
	}
	raw, ok := parsed.Apps["data_gateway"]
	if !ok {
		return nil, fmt.Errorf("config %q has no data_gateway global option", configFile)
	}
	app := new(App)
	if err := json.Unmarshal(raw, app); err != nil {
		return nil, fmt.Errorf("decoding the data_gateway option of %q: %w", configFile, err)
	}
	app.setDefaults(caddy.NewReplacer())
	if err := app.Validate(); err != nil {
		return nil, fmt.Errorf("checking the data_gateway option of %q: %w", configFile, err)
	}

	out := new(configuredPolicy)
	if app.Redis != nil {
		out.catalog, out.source, err = app.registryCatalogue(ctx)
		if err != nil {
			return nil, err
		}
	}
	if out.catalog == nil {
		if out.catalog, err = loadCatalogueFile(app.Catalogue); err != nil {
			return nil, err
		}
		out.source = "file " + app.Catalogue
	}
	if app.Policies != "" {
		out.engine, err = policy.LoadDir(app.Policies)
	} else {
		out.engine, err = policy.Load(policies.FS)
	}
	if err != nil {
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	return out, nil
}

// registryCatalogue reads the registry that the app's options name and
// builds the catalogue the app would serve from it, with its source. It
// returns a nil catalogue and no error when the registry was never seeded,
// because the gateway then serves the catalogue file. It writes nothing,
// so only the running gateway seeds the registry.
func (a *App) registryCatalogue(ctx context.Context) (*catalog.Catalog, string, error) {
	client := commandRedisClient(a.Redis)
	defer client.Close()
	store, err := a.registryStore(client, nil)
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, explainRegistryTimeout)
	defer cancel()
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the gateway serves the catalogue registry in Redis at %q, "+
			"so start Redis or fix the redis option", err, strings.Join(a.Redis.Addrs, " "))
	}
	if snap.Version == 0 {
		return nil, "", nil
	}
	st, err := snapshotState(snap)
	if err != nil {
		return nil, "", fmt.Errorf("loading catalogue registry %q: %w", store.Keys().Prefix(), err)
	}
	return st.catalog, fmt.Sprintf("redis registry version %d", snap.Version), nil
}

// loadCatalogueFile loads the catalogue file at path. A relative path is
// resolved from the working directory, as caddy run resolves it, so the
// error for a missing file names the working directory as the base.
func loadCatalogueFile(path string) (*catalog.Catalog, error) {
	cat, err := catalog.Load(path)
	if err == nil {
		return cat, nil
	}
	// catalog.Load starts its errors with "loading catalogue" already.
	if errors.Is(err, fs.ErrNotExist) && !filepath.IsAbs(path) {
		return nil, fmt.Errorf("%w: the path is relative to the working directory, "+
			"so run explain where the gateway runs or set an absolute catalogue path", err)
	}
	return nil, err
}

// commandRedisClient returns a client for a subcommand. A call ends at its
// context's deadline.
func commandRedisClient(cfg *RedisConfig) redis.UniversalClient {
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 cfg.Addrs,
		Username:              cfg.Username,
		Password:              cfg.Password,
		DB:                    cfg.DB,
		MasterName:            cfg.MasterName,
		DialTimeout:           5 * time.Second,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          10 * time.Second,
		ContextTimeoutEnabled: true,
	})
}
