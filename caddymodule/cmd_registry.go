package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/citydata/datagateway/gateway/catalog"
)

func init() {
	subcommands = append(subcommands,
		registerCommand, updateCommand, listCommand, retireCommand, historyCommand)
}

// Defaults of the provider subcommands.
const (
	defaultGatewayURL = "http://localhost:8080"
	// providerCallTimeout bounds one registry call. A registration looks
	// up the upstream's host name, which the gateway bounds to a few
	// seconds.
	providerCallTimeout = 30 * time.Second
	// maxProviderResponse bounds the response body the subcommands read.
	maxProviderResponse = 64 << 20
)

// Environment variables the provider subcommands read when a flag is not
// given.
const (
	envGatewayURL = "DATA_GATEWAY_URL"
	envGatewayKey = "DATA_GATEWAY_KEY"
)

func registerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "register <resource.json> [--gateway <url>] [--key <api key>]",
		Short: "Registers a resource in the catalogue registry",
		Long: `
Sends the resource in the JSON file (one catalogue resource entry) to the
gateway's registry API. The gateway validates it as the catalogue file is
validated, checks the upstream address and the path prefix, asks the
registry policy whether the provider may register it, and then serves it
on every instance. Prints the version record, or the gateway's JSON error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readResourceFile(args[0])
			if err != nil {
				return err
			}
			return callRegistry(cmd, http.MethodPost, "/registry/resources", body)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func updateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "update <resource.json> [--gateway <url>] [--key <api key>]",
		Short: "Replaces a registered resource with a new version",
		Long: `
Sends the whole new version of the resource in the JSON file; its id names
the resource to replace. The checks are those of register. Prints the
version record, with the fields that changed, or the gateway's JSON error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readResourceFile(args[0])
			if err != nil {
				return err
			}
			res, err := catalog.DecodeResource(body)
			if err != nil {
				return fmt.Errorf("reading resource file %q: %w", args[0], err)
			}
			if !catalog.ValidID(res.ID) {
				return fmt.Errorf("reading resource file %q: invalid or missing id %q: "+
					"set the id of the resource to update", args[0], res.ID)
			}
			return callRegistry(cmd, http.MethodPut, "/registry/resources/"+res.ID, body)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func listCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--gateway <url>] [--key <api key>]",
		Short: "Lists the registered resources the caller may read",
		Long: `
Prints the registry version and the resources the caller may read: a
provider sees its own department's, an operator sees every one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return callRegistry(cmd, http.MethodGet, "/registry/resources", nil)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func retireCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retire <resource id> [--gateway <url>] [--key <api key>]",
		Short: "Stops serving a registered resource",
		Long: `
Retires the resource: every instance stops serving it, its grants are
revoked, and its versions stay readable with history. Prints the version
record, or the gateway's JSON error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := resourcePath(args[0], "")
			if err != nil {
				return err
			}
			return callRegistry(cmd, http.MethodDelete, path, nil)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func historyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history <resource id> [--gateway <url>] [--key <api key>]",
		Short: "Prints every version of a resource, also of a retired one",
		Long: `
Prints the resource's version records, oldest first: the registry version,
author, time, action (register, update or retire), the fields that changed
and the resource as it was.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := resourcePath(args[0], "/history")
			if err != nil {
				return err
			}
			return callRegistry(cmd, http.MethodGet, path, nil)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func addGatewayFlags(cmd *cobra.Command) {
	flags := cmd.Flags()
	flags.String("gateway", "", "Base URL of the gateway's site; default: $"+envGatewayURL+
		", else "+defaultGatewayURL)
	flags.String("key", "", "API key of the provider or operator; default: $"+envGatewayKey)
}

// resourcePath returns the API path of a resource id, checked so that an
// id cannot reach another route.
func resourcePath(id, suffix string) (string, error) {
	if !catalog.ValidID(id) {
		return "", fmt.Errorf("invalid resource id %q: ids use only lowercase letters, "+
			"digits, \".\", \"_\" and \"-\"", id)
	}
	return "/registry/resources/" + id + suffix, nil
}

// readResourceFile reads a resource file, up to the gateway's body limit.
func readResourceFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading resource file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRegistryBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading resource file %q: %w", path, err)
	}
	if len(data) > maxRegistryBody {
		return nil, fmt.Errorf("reading resource file %q: larger than %d bytes: "+
			"the file must hold one resource entry", path, maxRegistryBody)
	}
	return data, nil
}

// gatewayTarget returns the gateway's base URL and the API key from the
// flags or the environment.
func gatewayTarget(cmd *cobra.Command) (*url.URL, string, error) {
	flags := cmd.Flags()
	raw, _ := flags.GetString("gateway")
	if raw == "" {
		raw = os.Getenv(envGatewayURL)
	}
	if raw == "" {
		raw = defaultGatewayURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, "", fmt.Errorf("invalid --gateway %q: give the gateway's base URL, such as %q",
			raw, defaultGatewayURL)
	}

	key, _ := flags.GetString("key")
	if key == "" {
		key = os.Getenv(envGatewayKey)
	}
	if key == "" {
		return nil, "", errors.New("missing API key: pass --key or set " + envGatewayKey)
	}
	return base, key, nil
}

// callRegistry sends one registry call with a JSON body, or none when body
// is nil, and prints the JSON response as sendRegistry does.
func callRegistry(cmd *cobra.Command, method, path string, body []byte) error {
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	return sendRegistry(cmd, method, path, contentType, body)
}

// sendRegistry sends one registry call with body as contentType and prints
// the JSON response, indented: on stdout for a success, on stderr for an
// error, which also makes the command fail.
func sendRegistry(cmd *cobra.Command, method, path, contentType string, body []byte) error {
	base, key, err := gatewayTarget(cmd)
	if err != nil {
		return err
	}
	target := strings.TrimSuffix(base.String(), "/") + path

	ctx, cancel := context.WithTimeout(context.Background(), providerCallTimeout)
	defer cancel()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reader)
	if err != nil {
		return fmt.Errorf("calling the registry: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("calling the registry at %s: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxProviderResponse))
	if err != nil {
		return fmt.Errorf("reading the registry's response: %w", err)
	}

	out := cmd.OutOrStdout()
	if resp.StatusCode >= 300 {
		out = cmd.ErrOrStderr()
	}
	printJSON(out, data)
	if resp.StatusCode >= 300 {
		// The body printed above holds the gateway's reasons.
		cmd.SilenceUsage = true
		return fmt.Errorf("%s %s: the gateway responded %s", method, path, resp.Status)
	}
	return nil
}

// printJSON writes data indented when it is JSON, else as it came.
func printJSON(w io.Writer, data []byte) {
	var indented bytes.Buffer
	if err := json.Indent(&indented, data, "", "  "); err != nil {
		_, _ = w.Write(data)
		return
	}
	indented.WriteByte('\n')
	_, _ = w.Write(indented.Bytes())
}
