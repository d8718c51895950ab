package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/util"
)

// RegistryQuery is the rule the engine evaluates for every call of the
// registry API: who may register, change, retire or read catalogue
// entries and applications.
const RegistryQuery = "data.data_gateway.registry.decision"

// ErrNoRegistryPolicy is returned by DecideRegistry when the bundle does
// not define RegistryQuery.
var ErrNoRegistryPolicy = errors.New("the policy bundle defines no " + RegistryQuery +
	" rule: add the registry policy (registry.rego) to the bundle")

// Actor kinds in a registry decision's input.
const (
	ActorProvider = "provider"
	ActorOperator = "operator"
	ActorConsumer = "consumer"
)

// Actor is the caller of the registry API.
type Actor struct {
	ID string `json:"id"`
	// Kind is ActorProvider, ActorOperator or ActorConsumer.
	Kind string `json:"kind"`
	// ProviderID is the department a provider acts for; empty for an
	// operator or a consumer.
	ProviderID string `json:"provider_id"`
}

// RegistryInput is the input of one registry decision. Entries are given
// as values that encode to the JSON the registry stores, such as a
// *catalog.Resource, so the policy reads the same field names; nil gives
// null.
type RegistryInput struct {
	Actor Actor
	// Action names the requested action, such as "resource.register".
	Action string
	// Resource is the entry as the action would leave it.
	Resource any
	// Existing is the stored entry the action changes.
	Existing any
	// Application is the application the action concerns.
	Application any
	Now         time.Time
}

// RegistryDecision is the policy's decision on one registry call.
type RegistryDecision struct {
	Allow bool
	// Reasons lists every rule that refused; it is empty when Allow is true.
	Reasons []string
}

// registryInput is RegistryInput in the policy's JSON names.
type registryInput struct {
	Actor       Actor  `json:"actor"`
	Action      string `json:"action"`
	Resource    any    `json:"resource"`
	Existing    any    `json:"existing"`
	Application any    `json:"application"`
	Now         string `json:"now"`
}

// prepareRegistry prepares RegistryQuery on a compiled bundle, or returns
// nil when no rule defines it, so that a bundle without registry rules
// still decides data requests.
func prepareRegistry(compiler *ast.Compiler) (*rego.PreparedEvalQuery, error) {
	if len(compiler.GetRulesExact(ast.MustParseRef(RegistryQuery))) == 0 {
		return nil, nil
	}
	query, err := rego.New(
		rego.Query(RegistryQuery),
		rego.Compiler(compiler),
		rego.StrictBuiltinErrors(true),
		rego.GenerateJSON(keepTerm),
	).PrepareForEval(context.Background())
	if err != nil {
		return nil, fmt.Errorf("preparing query %s: %w", RegistryQuery, err)
	}
	return &query, nil
}

// DecideRegistry returns the registry decision for one call. As with
// Decide, an undefined decision, a Rego runtime error, an ended ctx and a
// decision of the wrong shape are errors, which the caller must treat as a
// refusal. Registry decisions are not cached.
func (e *Engine) DecideRegistry(ctx context.Context, in *RegistryInput) (RegistryDecision, error) {
	if e.registry == nil {
		return RegistryDecision{}, ErrNoRegistryPolicy
	}
	if in == nil || in.Actor.ID == "" || in.Action == "" {
		return RegistryDecision{}, errors.New("deciding registry call: input needs an actor and an action")
	}
	if in.Now.IsZero() {
		return RegistryDecision{}, errors.New("deciding registry call: input has no time: set RegistryInput.Now")
	}
	input, err := registryInputValue(in)
	if err != nil {
		return RegistryDecision{}, fmt.Errorf("deciding registry call: %w", err)
	}

	cancel := topdown.NewCancel()
	stop := context.AfterFunc(ctx, cancel.Cancel)
	defer stop()
	results, err := e.registry.Eval(ctx,
		rego.EvalParsedInput(input),
		rego.EvalExternalCancel(cancel),
	)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return RegistryDecision{}, fmt.Errorf("evaluating registry policy %s: %w", e.version, ctxErr)
	}
	if err != nil {
		return RegistryDecision{}, fmt.Errorf("evaluating registry policy %s: %w", e.version, err)
	}
	if len(results) == 0 || len(results[0].Expressions) == 0 {
		return RegistryDecision{}, fmt.Errorf("evaluating registry policy %s: %s is undefined",
			e.version, RegistryQuery)
	}
	term, ok := results[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return RegistryDecision{}, fmt.Errorf("evaluating registry policy %s: result is %T, not an AST term",
			e.version, results[0].Expressions[0].Value)
	}
	decision, err := registryDecisionFromTerm(term)
	if err != nil {
		return RegistryDecision{}, fmt.Errorf("checking registry decision of policy %s: %w", e.version, err)
	}
	return decision, nil
}

// registryInputValue encodes the input through JSON, so entries reach the
// policy under the names the registry stores them with.
func registryInputValue(in *RegistryInput) (ast.Value, error) {
	data, err := json.Marshal(registryInput{
		Actor:       in.Actor,
		Action:      in.Action,
		Resource:    in.Resource,
		Existing:    in.Existing,
		Application: in.Application,
		Now:         in.Now.Format(time.RFC3339Nano),
	})
	if err != nil {
		return nil, fmt.Errorf("encoding input: %w", err)
	}
	var doc any
	if err := util.NewJSONDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding input: %w", err)
	}
	return ast.InterfaceToValue(doc)
}

// registryDecisionFromTerm checks the decision's shape: allow a boolean,
// reasons an array of strings, and no reasons on an allow.
func registryDecisionFromTerm(term *ast.Term) (RegistryDecision, error) {
	object, ok := term.Value.(ast.Object)
	if !ok {
		return RegistryDecision{}, fmt.Errorf("decision is of type %s, not object", ast.ValueName(term.Value))
	}
	allow, err := requiredValue(object, keyAllow)
	if err != nil {
		return RegistryDecision{}, err
	}
	allowed, ok := allow.(ast.Boolean)
	if !ok {
		return RegistryDecision{}, fmt.Errorf("allow is of type %s, not boolean", ast.ValueName(allow))
	}
	reasons, err := reasonsFrom(object)
	if err != nil {
		return RegistryDecision{}, err
	}
	if allowed && len(reasons) > 0 {
		return RegistryDecision{}, fmt.Errorf("allow is true but reasons are not empty: %q", reasons)
	}
	return RegistryDecision{Allow: bool(allowed), Reasons: reasons}, nil
}
