package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// maxTraceBytes bounds the evaluation trace Explain returns, because a
// policy that iterates over large data can trace without bound.
const maxTraceBytes = 4 << 20

// Explanation is one decision with what it was made from: the input
// document, the engine version and, when asked, OPA's evaluation trace.
type Explanation struct {
	// Version is the version of the engine that decided.
	Version string
	// Input is the input document, as JSON.
	Input json.RawMessage
	// Decision is the checked decision, or zero when Err is set.
	Decision Decision
	// Err is the evaluation or shape error that the gateway would enforce
	// as a refusal.
	Err error
	// Trace is OPA's pretty-printed evaluation trace, with the file and
	// line of each step, when the trace was requested.
	Trace string
	// TraceTruncated is true when the trace was cut at maxTraceBytes.
	TraceTruncated bool
}

// Explain evaluates the policy for in as Decide does, but always afresh,
// without the decision cache, and returns the input document and, when
// trace is set, the evaluation trace. When Decide would return an error
// for a decision (undefined, a runtime error, a wrong shape), Explain
// reports it in Explanation.Err. Its own error is for input that Decide
// rejects before evaluating.
func (e *Engine) Explain(ctx context.Context, in *Input, trace bool) (Explanation, error) {
	if in == nil || in.Consumer == nil || in.Resource == nil {
		return Explanation{}, fmt.Errorf("explaining decision: input needs a consumer and a resource")
	}
	if in.Now.IsZero() {
		return Explanation{}, fmt.Errorf("explaining decision: input has no time: set Input.Now")
	}

	input := e.inputValue(in)
	explanation := Explanation{Version: e.version}
	raw, err := ast.JSON(input)
	if err != nil {
		return Explanation{}, fmt.Errorf("explaining decision: converting input to JSON: %w", err)
	}
	explanation.Input, err = json.Marshal(raw)
	if err != nil {
		return Explanation{}, fmt.Errorf("explaining decision: encoding input: %w", err)
	}

	var options []rego.EvalOption
	var tracer *topdown.BufferTracer
	if trace {
		tracer = topdown.NewBufferTracer()
		options = append(options, rego.EvalQueryTracer(tracer))
	}
	explanation.Decision, explanation.Err = e.evaluateValue(ctx, input, options...)
	if tracer != nil {
		explanation.Trace, explanation.TraceTruncated = prettyTrace(*tracer)
	}
	return explanation, nil
}

// evaluateValue evaluates the query on a built input document with extra
// evaluation options, such as a tracer, and checks the decision as
// evaluate does.
func (e *Engine) evaluateValue(ctx context.Context, input ast.Value, options ...rego.EvalOption) (Decision, error) {
	results, err := e.query.Eval(ctx, append(options, rego.EvalParsedInput(input))...)
	if err != nil {
		return Decision{}, fmt.Errorf("evaluating policy %s: %w", e.version, err)
	}
	if len(results) == 0 || len(results[0].Expressions) == 0 {
		return Decision{}, fmt.Errorf("evaluating policy %s: %s is undefined", e.version, Query)
	}
	term, ok := results[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return Decision{}, fmt.Errorf("evaluating policy %s: result is %T, not an AST term",
			e.version, results[0].Expressions[0].Value)
	}
	decision, err := decisionFromTerm(term)
	if err != nil {
		return Decision{}, fmt.Errorf("checking decision of policy %s: %w", e.version, err)
	}
	return decision, nil
}

func prettyTrace(events []*topdown.Event) (string, bool) {
	var b limitedBuilder
	b.limit = maxTraceBytes
	topdown.PrettyTraceWithLocation(&b, events)
	return b.String(), b.truncated
}

// limitedBuilder keeps the first limit bytes written to it and drops the
// rest, so a huge trace costs no more than limit bytes of memory.
type limitedBuilder struct {
	strings.Builder
	limit     int
	truncated bool
}

func (b *limitedBuilder) Write(p []byte) (int, error) {
	room := b.limit - b.Len()
	if room <= 0 {
		b.truncated = b.truncated || len(p) > 0
		return len(p), nil
	}
	if len(p) > room {
		b.truncated = true
		b.Builder.Write(p[:room])
		return len(p), nil
	}
	b.Builder.Write(p)
	return len(p), nil
}
