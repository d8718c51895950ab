package caddymodule

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/citydata/datagateway/gateway/audit"
)

func init() {
	subcommands = append(subcommands, auditCommand)
}

// Timeouts of the audit subcommands. A query or a verify of a long stream
// reads many pages, each bounded by the client's read timeout.
const (
	auditQueryTimeout  = 5 * time.Minute
	auditVerifyTimeout = time.Hour
	auditTrimTimeout   = time.Hour
)

// exitVerifyFailed is the exit status of `audit verify` when it could not
// read the stream; status 1 means it found a problem.
const exitVerifyFailed = 2

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Queries, verifies and trims the audit trail",
		Long: `
Security staff's tools for the audit trail in Redis. Each subcommand reads
the Redis address, the audit stream and hmac_key from the data_gateway
global option of the config file, expanding placeholders such as
{env.DATA_GATEWAY_HMAC_KEY} from this process's environment, as the
gateway does.`,
	}
	cmd.AddCommand(auditQueryCmd(), auditVerifyCmd(), auditTrimCmd())
	return cmd
}

func addConfigFlags(cmd *cobra.Command) {
	cmd.Flags().StringP("config", "c", "", "Config file with the data_gateway global option (default: ./Caddyfile)")
	cmd.Flags().StringP("adapter", "a", "", "Name of the config adapter (default: caddyfile for a Caddyfile)")
	cmd.Flags().Bool("json", false, "Print the result as JSON")
}

func auditQueryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query [flags]",
		Short: "Searches the audit trail",
		Long: `
Searches the audit trail by consumer, organisation, resource, subject,
decision, status and time, oldest first unless --newest is set.

--subject takes the raw resident identity number or unified social credit
code; the command hashes it with the gateway's key and searches by the
hash, and never prints the raw value. Give "-" to read it from standard
input, which keeps it out of the shell history and the process list.

--since and --until take an RFC 3339 time, or a duration back from now
such as 24h or 7d. They select by the time Redis stored the record, which
for records replayed from the spool after an outage is later than the
request.`,
		RunE: caddycmd.WrapCommandFuncForCobra(cmdAuditQuery),
	}
	addConfigFlags(cmd)
	f := cmd.Flags()
	f.String("consumer", "", "Consumer id")
	f.String("org", "", "Consumer organisation, as recorded")
	f.String("resource", "", "Catalogue resource id")
	f.String("subject", "", `Raw identity number or credit code of the subject queried, or "-" for standard input`)
	f.String("subject-kind", "", "id_number or credit_code, when the subject is valid as both")
	f.String("subject-hash", "", "Keyed hash of the subject, as recorded")
	f.String("decision", "", "allow, deny, error or trim")
	f.Int("status", 0, "HTTP status sent to the consumer")
	f.String("since", "", "Earliest time, RFC 3339 or a duration back from now")
	f.String("until", "", "Latest time (exclusive), RFC 3339 or a duration back from now")
	f.Int("limit", audit.DefaultQueryLimit, fmt.Sprintf("Maximum records to print, at most %d", audit.MaxQueryLimit))
	f.String("after", "", "Go on after this entry id, printed by an earlier query")
	f.Bool("newest", false, "Print the newest records first")
	return cmd
}

func cmdAuditQuery(fl caddycmd.Flags) (int, error) {
	q := auditQuery{
		Consumer:    fl.String("consumer"),
		Org:         fl.String("org"),
		Resource:    fl.String("resource"),
		SubjectKind: fl.String("subject-kind"),
		SubjectHash: fl.String("subject-hash"),
		Decision:    fl.String("decision"),
		Status:      strconv.Itoa(fl.Int("status")),
		Since:       fl.String("since"),
		Until:       fl.String("until"),
		Limit:       strconv.Itoa(fl.Int("limit")),
		After:       fl.String("after"),
		Newest:      fl.Bool("newest"),
	}
	subject, err := readSubject(fl.String("subject"), os.Stdin)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	q.Subject = subject

	target, err := loadAuditTarget(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer target.client.Close()
	f, err := q.filter(target.app.subjectHash, time.Now())
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), auditQueryTimeout)
	defer cancel()
	res, err := audit.Query(ctx, target.client, target.stream, f)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if fl.Bool("json") {
		return writeCommandJSON(os.Stdout, res)
	}
	printHits(os.Stdout, res)
	return 0, nil
}

// readSubject returns the subject flag's value, or one line of in when it
// is "-".
func readSubject(flag string, in io.Reader) (string, error) {
	if flag != "-" {
		return flag, nil
	}
	line, err := bufio.NewReader(io.LimitReader(in, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading subject from standard input: %w", err)
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return "", errors.New("reading subject from standard input: got an empty line")
	}
	return line, nil
}

func printHits(out io.Writer, res *audit.QueryResult) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tTIME\tCONSUMER\tRESOURCE\tSCENARIO\tDECISION\tSTATUS\tSUBJECT\tREQUEST\tREASONS")
	for _, h := range res.Records {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			h.EntryID, h.Time.Local().Format(time.RFC3339), printable(h.Consumer),
			printable(h.Resource), printable(h.Scenario), printable(h.Decision), h.Status,
			printable(h.SubjectHash), printable(h.ID), printable(strings.Join(h.Reasons, "; ")))
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "%d records, %d entries read", len(res.Records), res.Scanned)
	if res.Invalid > 0 {
		fmt.Fprintf(out, ", %d invalid entries skipped (run audit verify)", res.Invalid)
	}
	fmt.Fprintln(out)
	if res.Next != "" {
		fmt.Fprintf(out, "more may match: go on with --after %s\n", res.Next)
	}
}

// printable replaces control characters, so a value read from the stream
// cannot move the cursor or recolour the operator's terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func auditVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify [flags]",
		Short: "Checks the audit trail's hash chains",
		Long: `
Walks every writer instance's hash chain in the audit stream and reports
each record that was deleted, inserted or edited, with its entry id,
instance, seq and reason. Chains cut by "audit trim" start at their
signed trim point.

Exit status: 0 when every chain is whole, 1 when a problem is found,
2 when the stream could not be read.`,
		RunE: caddycmd.WrapCommandFuncForCobra(cmdAuditVerify),
	}
	addConfigFlags(cmd)
	return cmd
}

func cmdAuditVerify(fl caddycmd.Flags) (int, error) {
	target, err := loadAuditTarget(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return exitVerifyFailed, err
	}
	defer target.client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), auditVerifyTimeout)
	defer cancel()
	problems, err := audit.VerifyStream(ctx, target.client, target.stream, target.chainKey)
	if err != nil {
		return exitVerifyFailed, err
	}
	if problems == nil {
		problems = []audit.Problem{}
	}

	if fl.Bool("json") {
		res := auditVerifyResult{OK: len(problems) == 0, Stream: target.stream, Problems: problems}
		if _, err := writeCommandJSON(os.Stdout, res); err != nil {
			return exitVerifyFailed, err
		}
	} else {
		for _, p := range problems {
			fmt.Fprintln(os.Stdout, printable(p.String()))
		}
	}
	if len(problems) > 0 {
		return 1, fmt.Errorf("audit stream %q: %d problems found", target.stream, len(problems))
	}
	if !fl.Bool("json") {
		fmt.Fprintf(os.Stdout, "audit stream %q: every chain is whole\n", target.stream)
	}
	return 0, nil
}

func auditTrimCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trim --older-than <duration> [flags]",
		Short: "Removes audit records older than the retention period",
		Long: `
Removes the audit records that Redis stored more than --older-than ago
(XTRIM MINID), such as 720h or 180d. Before it removes anything it
verifies the records to remove and writes its own audit record (consumer
"operator", decision "trim", with the cut-off and the count), so the trim
itself is on the trail. It stores a signed trim point per chain, so
"audit verify" accepts the chains that now start later.

A range that fails verification is kept as evidence unless --force is
given.`,
		RunE: caddycmd.WrapCommandFuncForCobra(cmdAuditTrim),
	}
	addConfigFlags(cmd)
	cmd.Flags().String("older-than", "", "Retention period: remove records stored longer ago, such as 720h or 180d")
	cmd.Flags().Bool("force", false, "Remove records even when they fail verification")
	return cmd
}

func cmdAuditTrim(fl caddycmd.Flags) (int, error) {
	olderThan := fl.String("older-than")
	age, err := caddy.ParseDuration(olderThan)
	if err != nil || age <= 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("invalid --older-than %q: give a positive duration "+
			"such as 720h or 180d", olderThan)
	}
	target, err := loadAuditTarget(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer target.client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), auditTrimTimeout)
	defer cancel()
	res, err := audit.Trim(ctx, audit.TrimConfig{
		Client:   target.client,
		Stream:   target.stream,
		ChainKey: target.chainKey,
		Cutoff:   time.Now().Add(-age),
		Force:    fl.Bool("force"),
		Operator: operatorName(),
	})
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if fl.Bool("json") {
		return writeCommandJSON(os.Stdout, res)
	}
	for _, p := range res.Problems {
		fmt.Fprintln(os.Stdout, "removed despite:", printable(p.String()))
	}
	if res.Removed == 0 {
		fmt.Fprintf(os.Stdout, "audit stream %q: no record stored before %s\n",
			target.stream, res.Cutoff.Format(time.RFC3339))
		return 0, nil
	}
	fmt.Fprintf(os.Stdout, "audit stream %q: removed %d records stored before %s from %d chains; "+
		"trim record %s\n", target.stream, res.Removed, res.Cutoff.Format(time.RFC3339), res.Chains, res.RecordID)
	return 0, nil
}

// operatorName returns the OS user running the command, for the trim
// record, or an empty string when it is unknown.
func operatorName() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
}

func writeCommandJSON(out io.Writer, v any) (int, error) {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("writing JSON: %w", err)
	}
	return 0, nil
}

// auditTarget is the audit trail a subcommand works on, from the config.
type auditTarget struct {
	// app holds the settings and the subject key; nothing is provisioned.
	app      *App
	client   redis.UniversalClient
	stream   string
	chainKey []byte
}

// loadAuditTarget reads the data_gateway app from a config file through
// its adapter, expands its placeholders as App.Provision does and opens
// a Redis client. The caller closes the client.
func loadAuditTarget(configFile, adapter string) (*auditTarget, error) {
	cfgJSON, file, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, err
	}
	if cfgJSON == nil {
		return nil, errors.New("no config file: give --config with the path of the Caddyfile")
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("decoding config %q: %w", file, err)
	}
	raw, ok := cfg.Apps["data_gateway"]
	if !ok {
		return nil, fmt.Errorf("config %q has no data_gateway global option", file)
	}
	app := new(App)
	if err := json.Unmarshal(raw, app); err != nil {
		return nil, fmt.Errorf("decoding data_gateway option of %q: %w", file, err)
	}

	repl := caddy.NewReplacer()
	app.setDefaults(repl)
	key := repl.ReplaceKnown(app.HMACKey, "")
	if len(key) < minHMACKeyLen {
		return nil, fmt.Errorf("hmac_key of %q is %d bytes after expanding placeholders, want at least %d: "+
			"set the environment variable it names", file, len(key), minHMACKeyLen)
	}
	if app.Redis == nil || len(app.Redis.Addrs) == 0 {
		return nil, fmt.Errorf("config %q has no redis in its data_gateway option: "+
			"the audit trail is only in the spool", file)
	}
	app.subjectMAC = deriveKey(key, "subject")

	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:        app.Redis.Addrs,
		Username:     app.Redis.Username,
		Password:     app.Redis.Password,
		DB:           app.Redis.DB,
		MasterName:   app.Redis.MasterName,
		DialTimeout:  5 * time.Second,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 10 * time.Second,
		// Let the command's deadline cut a call in progress short.
		ContextTimeoutEnabled: true,
	})
	return &auditTarget{app: app, client: client, stream: app.AuditStream,
		chainKey: deriveKey(key, "audit-chain")}, nil
}
