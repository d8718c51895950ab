package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/citydata/datagateway/gateway/catalog"
	"github.com/citydata/datagateway/gateway/mask"
	"github.com/citydata/datagateway/gateway/policy"
	"github.com/citydata/datagateway/gateway/urlpath"
)

// explainTimeout bounds one explained evaluation. It is longer than the
// default policy_timeout because a traced evaluation is several times
// slower than a plain one.
const explainTimeout = 10 * time.Second

// explainQuery is a request that security staff ask the gateway to
// decide without serving it.
type explainQuery struct {
	Consumer string
	Resource string
	Scenario string
	// Path is the request path, optionally with a query string; empty
	// uses the resource's path prefix.
	Path     string
	Method   string
	ClientIP string
	Time     time.Time
	Trace    bool
}

// explainReport is the result of an explainQuery: the decision and
// everything it was made from.
type explainReport struct {
	Allow bool `json:"allow"`
	// Status is the HTTP status the handler responds with for this
	// decision: 200 when allowed (the upstream may still fail), 403 when
	// refused, 503 when the policy gave no usable decision.
	Status  int      `json:"status"`
	Reasons []string `json:"reasons"`
	// Fields is the data scope; null keeps every field.
	Fields      []string          `json:"fields"`
	Masks       map[string]string `json:"masks"`
	Obligations map[string]string `json:"obligations"`
	// Error is the reason the policy gave no usable decision.
	Error            string          `json:"error,omitempty"`
	Grant            *grantReport    `json:"grant"`
	PolicyVersion    string          `json:"policy_version"`
	CatalogueVersion string          `json:"catalogue_version"`
	Consumer         string          `json:"consumer"`
	Resource         string          `json:"resource"`
	Scenario         string          `json:"scenario"`
	Method           string          `json:"method"`
	Path             string          `json:"path"`
	Time             time.Time       `json:"time"`
	Input            json.RawMessage `json:"input"`
	Trace            string          `json:"trace,omitempty"`
	TraceTruncated   bool            `json:"trace_truncated,omitempty"`
	// CatalogueSource is the catalogue the subcommand decided against:
	// "redis registry version N" or "file <path>". It is empty from the
	// admin endpoint, which decides against the catalogue it serves.
	CatalogueSource string `json:"catalogue_source,omitempty"`
}

// grantReport is the grant the decision used.
type grantReport struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Scenario   string    `json:"scenario"`
	Fields     []string  `json:"fields"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
}

// explain decides q against cat and engine as the handler would, without
// the decision cache. It returns an error for a malformed query or one
// that names an entry missing from the catalogue, and a report for a
// refusal.
func explain(ctx context.Context, cat *catalog.Catalog, engine *policy.Engine, q explainQuery) (*explainReport, error) {
	consumer := cat.ConsumerByID(q.Consumer)
	if consumer == nil {
		return nil, fmt.Errorf("consumer %q is not in the catalogue: give a consumer id", q.Consumer)
	}
	resource, path, query, err := explainResource(cat, q)
	if err != nil {
		return nil, err
	}
	if !validScenario(q.Scenario) {
		return nil, fmt.Errorf("invalid scenario %q: use up to %d characters of a-z, 0-9, '_' and '-'",
			q.Scenario, maxScenarioLen)
	}
	if q.Method == "" {
		q.Method = http.MethodGet
	}
	if q.Time.IsZero() {
		q.Time = time.Now()
	}

	in := decisionInput(cat, consumer, resource, policy.Request{
		Method:   q.Method,
		Path:     path,
		Query:    query,
		Scenario: q.Scenario,
		ClientIP: q.ClientIP,
	}, q.Time)
	ctx, cancel := context.WithTimeout(ctx, explainTimeout)
	defer cancel()
	explanation, err := engine.Explain(ctx, &in, q.Trace)
	if err != nil {
		return nil, err
	}

	report := &explainReport{
		PolicyVersion:    explanation.Version,
		CatalogueVersion: cat.Version(),
		Consumer:         consumer.ID,
		Resource:         resource.ID,
		Scenario:         q.Scenario,
		Method:           q.Method,
		Path:             redactPath(path),
		Time:             q.Time,
		Input:            redactInput(explanation.Input),
		Trace:            explanation.Trace,
		TraceTruncated:   explanation.TraceTruncated,
	}
	if grant := in.Grant; grant != nil {
		report.Grant = &grantReport{ID: grant.ID, Kind: grant.Kind, Scenario: grant.Scenario,
			Fields: grant.Fields, ValidFrom: grant.ValidFrom, ValidUntil: grant.ValidUntil}
	}
	report.setDecision(explanation.Decision, explanation.Err)
	return report, nil
}

// setDecision fills in the decision as the handler enforces it: an
// evaluation error, an unknown mask strategy or an invalid data scope is
// a 503 refusal.
func (r *explainReport) setDecision(decision policy.Decision, err error) {
	if err == nil && decision.Allow {
		if _, maskErr := mask.ParseStrategies(decision.Masks); maskErr != nil {
			err = fmt.Errorf("policy returned an invalid mask strategy: %w", maskErr)
		} else if _, scopeErr := mask.CompileScope(decision.Fields); scopeErr != nil {
			err = fmt.Errorf("policy returned an invalid data scope: %w", scopeErr)
		}
	}
	if err != nil {
		r.Status = http.StatusServiceUnavailable
		r.Error = err.Error()
		return
	}
	r.Allow = decision.Allow
	r.Reasons = decision.Reasons
	r.Fields = decision.Fields
	r.Masks = decision.Masks
	r.Obligations = decision.Obligations
	r.Status = http.StatusForbidden
	if decision.Allow {
		r.Status = http.StatusOK
	}
}

// redactInput replaces identity and phone numbers in the request path
// and query of an input document by "*", as the audit trail does, so a
// report can be stored or shared. The policy saw them unredacted.
func redactInput(input json.RawMessage) json.RawMessage {
	var doc map[string]any
	if err := json.Unmarshal(input, &doc); err != nil {
		return input
	}
	request, ok := doc["request"].(map[string]any)
	if !ok {
		return input
	}
	for _, key := range []string{"path", "query"} {
		if text, ok := request[key].(string); ok {
			request[key] = redactPath(text)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return input
	}
	return out
}

// explainResource finds the resource of q, by path when one is given,
// and returns it with the cleaned path and the query string.
func explainResource(cat *catalog.Catalog, q explainQuery) (*catalog.Resource, string, string, error) {
	if q.Path == "" {
		resource := cat.ResourceByID(q.Resource)
		if resource == nil {
			return nil, "", "", fmt.Errorf("resource %q is not in the catalogue: give a resource id or --path", q.Resource)
		}
		return resource, resource.PathPrefix, "", nil
	}
	rawPath, query, _ := strings.Cut(q.Path, "?")
	cleaned, err := urlpath.Clean(rawPath)
	if err != nil {
		return nil, "", "", fmt.Errorf("invalid path: %w", err)
	}
	resource := cat.Resource(cleaned)
	if resource == nil {
		return nil, "", "", fmt.Errorf("no catalogue resource serves the path: check its prefix")
	}
	if q.Resource != "" && q.Resource != resource.ID {
		return nil, "", "", fmt.Errorf("the path belongs to resource %q, not %q: drop --resource or fix the path",
			resource.ID, q.Resource)
	}
	return resource, cleaned, query, nil
}

// writeText prints the report for a terminal.
func (r *explainReport) writeText(w io.Writer) {
	decision := "allow"
	if !r.Allow {
		decision = "refuse"
	}
	fmt.Fprintf(w, "decision:          %s (HTTP %d)\n", decision, r.Status)

	if r.Error != "" {
		fmt.Fprintf(w, "error:             %s\n", r.Error)
	}
	if len(r.Reasons) > 0 {
		fmt.Fprintln(w, "reasons:")
		for _, reason := range r.Reasons {
			fmt.Fprintf(w, "  - %s\n", reason)
		}
	}
	scope := "every field"
	if r.Fields != nil {
		scope = "[" + strings.Join(r.Fields, ", ") + "]"
	}

	fmt.Fprintf(w, "data scope:        %s\n", scope)
	fmt.Fprintf(w, "masks:             %s\n", sortedPairs(r.Masks))
	fmt.Fprintf(w, "obligations:       %s\n", sortedPairs(r.Obligations))
	if r.Grant != nil {
		fmt.Fprintf(w, "grant:             %s (%s, scenario %q, valid %s to %s)\n", r.Grant.ID, r.Grant.Kind,
			r.Grant.Scenario, r.Grant.ValidFrom.Format(time.RFC3339), r.Grant.ValidUntil.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "grant:             none")
	}

	fmt.Fprintf(w, "policy version:    %s\n", r.PolicyVersion)
	if r.CatalogueSource != "" {
		fmt.Fprintf(w, "catalogue:         %s\n", r.CatalogueSource)
	}
	fmt.Fprintf(w, "catalogue version: %s\n", r.CatalogueVersion)
	fmt.Fprintf(w, "request:           %s %s as %s, scenario %q, at %s\n", r.Method, r.Path, r.Consumer,
		r.Scenario, r.Time.Format(time.RFC3339))

	if r.Trace != "" {
		fmt.Fprintln(w, "trace:")
		io.WriteString(w, r.Trace)
		if r.TraceTruncated {
			fmt.Fprintln(w, "(trace truncated)")
		}
	}
}

func sortedPairs(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + m[k]
	}
	return strings.Join(pairs, ", ")
}
