package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/credit"
)

func init() {
	subcommands = append(subcommands,
		applyCommand, applicationsCommand, checkCommand, approveCommand, refuseCommand,
		revokeCommand, importCreditCommand)
}

// maxApplicationFile bounds an application file; an application is a few
// KiB at most.
const maxApplicationFile = 1 << 20

func applyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apply <application.json> [--gateway <url>] [--key <consumer key>]",
		Short: "Submits a share or open application",
		Long: `
Sends the application in the JSON file to the gateway as the consumer whose
key is given. The file holds: kind ("share" for a government body, "open"
for the public), resource, scenario, fields (optional), valid_from and
valid_until (RFC 3339), purpose, security_measures, and for an open
application provision (how the data is provided). Prints the stored
application with its id and review deadlines.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readLimitedFile(args[0], "application file", maxApplicationFile)
			if err != nil {
				return err
			}
			return callRegistry(cmd, http.MethodPost, "/registry/applications", body)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func applicationsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "applications [--status <status>] [--gateway <url>] [--key <api key>]",
		Short: "Lists applications, with overdue flags",
		Long: `
Prints the applications the caller may read, oldest first: a consumer sees
its own, a provider those for its department's resources, an operator all.
Each has "overdue": true when the step it waits for (the first check of an
open application, or the decision) is past its deadline in working days.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/registry/applications"
			if status, _ := cmd.Flags().GetString("status"); status != "" {
				path += "?status=" + url.QueryEscape(status)
			}
			return callRegistry(cmd, http.MethodGet, path, nil)
		},
	}
	cmd.Flags().String("status", "", "Only applications in this status: pending, checked, approved, refused or revoked")
	addGatewayFlags(cmd)
	return cmd
}

func checkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check <application id> [--gateway <url>] [--key <api key>]",
		Short: "Records the passed first check of an open application",
		Long: `
Records that the open application's materials passed the first check. Its
decision is then due within 7 working days. An application that fails the
first check is refused with "refuse" and a written reason.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := idPath("/registry/applications/", args[0], "/check")
			if err != nil {
				return err
			}
			return callRegistry(cmd, http.MethodPost, path, nil)
		},
	}
	addGatewayFlags(cmd)
	return cmd
}

func approveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approve <application id> [--per-day <n>] [--per-minute <n>] [--gateway <url>] [--key <api key>]",
		Short: "Approves an application and creates its grant",
		Long: `
Approves the application as its resource's providing department. The
grant it creates takes the application's scenario, fields and period, and
every gateway instance serves it within about a second. --per-day and
--per-minute set the grant's call quota; 0 means no bound.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := idPath("/registry/applications/", args[0], "/approve")
			if err != nil {
				return err
			}
			perDay, _ := cmd.Flags().GetInt("per-day")
			perMinute, _ := cmd.Flags().GetInt("per-minute")
			if perDay < 0 || perMinute < 0 {
				return errors.New("invalid quota: --per-day and --per-minute take 0 or a positive number of calls")
			}
			body := []byte("{}")
			if perDay > 0 || perMinute > 0 {
				body, err = json.Marshal(approveRequest{Quota: &catalog.Quota{PerDay: perDay, PerMinute: perMinute}})
				if err != nil {
					return err
				}
			}
			return callRegistry(cmd, http.MethodPost, path, body)
		},
	}
	cmd.Flags().Int("per-day", 0, "Calls the grant allows per calendar day (China Standard Time)")
	cmd.Flags().Int("per-minute", 0, "Calls the grant allows per minute")
	addGatewayFlags(cmd)
	return cmd
}

func refuseCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   `refuse <application id> --reason "<written reason>" [--gateway <url>] [--key <api key>]`,
		Short: "Refuses an application with a written reason",
		Long: `
Refuses a pending or checked application as its resource's providing
department. The written reason is required; the applicant reads it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return callWithReason(cmd, "/registry/applications/", args[0], "/refuse")
		},
	}
	cmd.Flags().String("reason", "", "Written reason for the refusal (required)")
	addGatewayFlags(cmd)
	return cmd
}

func revokeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   `revoke <grant id> --reason "<written reason>" [--gateway <url>] [--key <api key>]`,
		Short: "Revokes a grant on every gateway instance",
		Long: `
Removes the grant from the registry as its resource's providing department;
every gateway instance refuses its calls within about a second. The grant
is kept in the revoked grants list with who revoked it, when and why.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return callWithReason(cmd, "/registry/grants/", args[0], "/revoke")
		},
	}
	cmd.Flags().String("reason", "", "Written reason for the revocation (required)")
	addGatewayFlags(cmd)
	return cmd
}

func importCreditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import-credit <lists.csv> [--replace] [--gateway <url>] [--key <operator key>]",
		Short: "Imports credit lists from a CSV file (operators only)",
		Long: `
Sends a CSV file with the header ` + credit.Header + ` to the gateway.
list is dishonest_debtor, abnormal_operation or serious_dishonest, since a
date (YYYY-MM-DD), credit_code a unified social credit code. The file is
checked here and again by the gateway; a file with any bad line imports
nothing, and every error names its line and column. --replace makes the
file the complete content of all three lists. Gateways apply the import
within about a second.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimitedFile(args[0], "credit list", credit.MaxFileSize)
			if err != nil {
				return err
			}
			if _, err := credit.Parse(data); err != nil {
				return fmt.Errorf("checking credit list %q: nothing was sent: %w", args[0], err)
			}
			path := "/registry/credit-lists"
			if replace, _ := cmd.Flags().GetBool("replace"); replace {
				path += "?replace=true"
			}
			return sendRegistry(cmd, http.MethodPost, path, "text/csv; charset=utf-8", data)
		},
	}
	cmd.Flags().Bool("replace", false, "Replace all three lists with the file's listings instead of adding them")
	addGatewayFlags(cmd)
	return cmd
}

// callWithReason sends a refusal or revocation with the --reason flag.
func callWithReason(cmd *cobra.Command, prefix, id, suffix string) error {
	path, err := idPath(prefix, id, suffix)
	if err != nil {
		return err
	}
	reason, _ := cmd.Flags().GetString("reason")
	if strings.TrimSpace(reason) == "" {
		return errors.New(`missing --reason: state the reason in writing, such as --reason "the scenario is outside the share conditions"`)
	}
	body, err := json.Marshal(reasonRequest{Reason: reason})
	if err != nil {
		return err
	}
	return callRegistry(cmd, http.MethodPost, path, body)
}

// idPath returns the API path of an application or grant id, checked so
// that an id cannot reach another route.
func idPath(prefix, id, suffix string) (string, error) {
	if !catalog.ValidID(id) {
		return "", fmt.Errorf("invalid id %q: ids use only lowercase letters, digits, \".\", \"_\" and \"-\"", id)
	}
	return prefix + id + suffix, nil
}

// readLimitedFile reads a file of at most limit bytes.
func readLimitedFile(path, what string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %q: %w", what, path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("reading %s %q: larger than %d bytes", what, path, limit)
	}
	return data, nil
}
