// Package policy evaluates the gateway's Rego policies: it compiles a policy
// bundle once, prepares the decision query, and turns each request into one
// decision that states whether the consumer may read the resource, which
// fields it may see, and how each field class is masked.
package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/citydata/datagateway/gateway/catalog"
)

// Query is the rule the engine evaluates for every request.
const Query = "data.data_gateway.decision"

// Input is the request context the gateway passes to the policy to get a
// decision.
type Input struct {
	Consumer *catalog.Consumer
	Resource *catalog.Resource
	// Grant is the consumer's approved application for the resource, or nil.
	Grant   *catalog.Grant
	Request Request
	Credit  catalog.CreditState
	Now     time.Time
}

// Request describes the HTTP request being decided.
type Request struct {
	Method string
	// Path is the cleaned path, exactly as it is sent upstream.
	Path  string
	Query string
	// Scenario is the X-Data-Scenario request header, empty when absent.
	Scenario string
	ClientIP string
}

// Decision is the policy's answer for one request.
type Decision struct {
	Allow bool
	// Reasons lists every rule that refused, in plain words; it is empty
	// when Allow is true.
	Reasons []string
	// Fields limits the response to these JSON paths; nil means all fields.
	Fields []string
	// Masks maps a field class to its mask strategy: plain, partial, hash
	// or remove.
	Masks map[string]string
	// Obligations always contains "attribution", the source statement that
	// results must cite.
	Obligations map[string]string
}

// Engine evaluates one compiled policy bundle. It is safe for concurrent
// use. A new bundle gets a new Engine, so a running Engine never changes.
type Engine struct {
	query rego.PreparedEvalQuery
	// registry is the prepared RegistryQuery, or nil when the bundle does
	// not define it.
	registry     *rego.PreparedEvalQuery
	capabilities *ast.Capabilities
	version      string
	terms        *termCache
	decisions    *decisionCache
	// requestFields are the request fields besides the scenario that the
	// policy reads, and so the ones that key the decision cache.
	requestFields int
}

// Version returns a short content hash of the policy modules the engine
// was loaded from. It depends only on file paths and contents, so the same
// bundle gives the same version on every instance and in every load order.
func (e *Engine) Version() string {
	return e.version
}

// Decide returns the decision for one request. When the policy is
// evaluated, an undefined decision, a Rego runtime error, a cancelled or
// expired ctx and a decision of the wrong shape are all errors, which the
// caller must treat as a refusal.
//
// Decisions are cached, keyed by what the policy reads: the consumer,
// resource and grant (by pointer), the credit state, the scenario and any
// other request field the policy reads outside type tests. A cached
// decision is reused from the time it was made until the next grant or
// emergency time boundary, and for at most one second, because a policy
// may also compare input.now with times of its own. The same pointers key
// cached input terms, so a catalogue entry passed to Decide must be
// replaced, not modified in place; call ClearCache after an in-place
// change. The returned Decision may be shared with other callers, so do
// not modify its slices or maps.
func (e *Engine) Decide(ctx context.Context, in *Input) (Decision, error) {
	return e.DecideWithin(ctx, in, 0)
}

// DecideWithin is Decide with a bound on the policy evaluation; zero means
// none beyond ctx. The deadline is set only when the decision cache misses,
// so a cached decision costs no timer.
func (e *Engine) DecideWithin(ctx context.Context, in *Input, timeout time.Duration) (Decision, error) {
	if in == nil || in.Consumer == nil || in.Resource == nil {
		return Decision{}, errors.New("deciding access: input needs a consumer and a resource")
	}
	if in.Now.IsZero() {
		return Decision{}, errors.New("deciding access: input has no time: set Input.Now")
	}

	key := decisionKeyOf(in, e.requestFields)
	if decision, ok := e.decisions.get(&key, in.Now); ok {
		return decision, nil
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	decision, err := e.evaluate(ctx, in)
	if err != nil {
		return Decision{}, err
	}
	entry := decisionWindow(in)
	entry.decision = decision
	e.decisions.put(&key, &entry)
	return decision, nil
}

// evaluate runs the prepared query for one request, without the cache.
func (e *Engine) evaluate(ctx context.Context, in *Input) (Decision, error) {
	input := e.inputValue(in)

	// Cancel evaluation when ctx ends, without the goroutine that OPA
	// starts per evaluation when it is given no canceller.
	cancel := topdown.NewCancel()
	stop := context.AfterFunc(ctx, cancel.Cancel)
	defer stop()

	results, err := e.query.Eval(ctx,
		rego.EvalParsedInput(input),
		rego.EvalExternalCancel(cancel),
	)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Decision{}, fmt.Errorf("evaluating policy %s: %w", e.version, ctxErr)
	}
	if err != nil {
		return Decision{}, fmt.Errorf("evaluating policy %s: %w", e.version, err)
	}
	if len(results) == 0 || len(results[0].Expressions) == 0 {
		return Decision{}, fmt.Errorf("evaluating policy %s: %s is undefined", e.version, Query)
	}
	term, ok := results[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return Decision{}, fmt.Errorf("evaluating policy %s: result is %T, not an AST term", e.version, results[0].Expressions[0].Value)
	}

	decision, err := decisionFromTerm(term)
	if err != nil {
		return Decision{}, fmt.Errorf("checking decision of policy %s: %w", e.version, err)
	}
	return decision, nil
}

// ClearCache drops every cached decision and the cached input terms of
// every consumer, resource and grant, so the next decision is evaluated
// afresh from the catalogue.
func (e *Engine) ClearCache() {
	e.terms.clear()
	e.decisions.clear()
}

// keepTerm makes evaluation results stay AST terms: the shape check reads
// them directly instead of converting them to Go maps first.
func keepTerm(term *ast.Term, _ *rego.EvalContext) (any, error) {
	return term, nil
}
