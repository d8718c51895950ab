package policy

import (
	"errors"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Mask strategies a decision may give a field class.
const (
	MaskPlain   = "plain"
	MaskPartial = "partial"
	MaskHash    = "hash"
	MaskRemove  = "remove"
)

// Keys of the decision object.
var (
	keyAllow       = ast.StringTerm("allow")
	keyReasons     = ast.StringTerm("reasons")
	keyObligations = ast.StringTerm("obligations")
)

// decisionFromTerm checks the shape of a decision and converts it. A
// missing key, a value of the wrong type, an unknown mask strategy or an
// allow that still carries reasons is an error, never an allow. Keys the
// gateway does not read are ignored.
func decisionFromTerm(term *ast.Term) (Decision, error) {
	object, ok := term.Value.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("decision is of type %s, not object", ast.ValueName(term.Value))
	}

	var decision Decision
	allow, err := requiredValue(object, keyAllow)
	if err != nil {
		return Decision{}, err
	}
	allowed, ok := allow.(ast.Boolean)
	if !ok {
		return Decision{}, fmt.Errorf("allow is of type %s, not boolean", ast.ValueName(allow))
	}
	decision.Allow = bool(allowed)

	if decision.Reasons, err = reasonsFrom(object); err != nil {
		return Decision{}, err
	}
	if decision.Allow && len(decision.Reasons) > 0 {
		return Decision{}, fmt.Errorf("allow is true but reasons are not empty: %q", decision.Reasons)
	}
	if decision.Fields, err = fieldsFrom(object); err != nil {
		return Decision{}, err
	}
	if decision.Masks, err = masksFrom(object); err != nil {
		return Decision{}, err
	}
	if decision.Obligations, err = obligationsFrom(object); err != nil {
		return Decision{}, err
	}
	return decision, nil
}

func requiredValue(object ast.Object, key *ast.Term) (ast.Value, error) {
	term := object.Get(key)
	if term == nil {
		return nil, fmt.Errorf("decision has no key %s", key)
	}
	return term.Value, nil
}

// reasonsFrom returns nil for an empty list, so an allow costs no
// allocation here.
func reasonsFrom(object ast.Object) ([]string, error) {
	value, err := requiredValue(object, keyReasons)
	if err != nil {
		return nil, err
	}
	reasons, err := stringArray(value)
	if err != nil {
		return nil, fmt.Errorf("reasons: %w", err)
	}
	return reasons, nil
}

// fieldsFrom returns nil for null (every field). An empty array is kept as
// an empty, non-nil slice: a data scope of no fields.
func fieldsFrom(object ast.Object) ([]string, error) {
	value, err := requiredValue(object, keyFields)
	if err != nil {
		return nil, err
	}
	if _, ok := value.(ast.Null); ok {
		return nil, nil
	}
	fields, err := stringArray(value)
	if err != nil {
		return nil, fmt.Errorf("fields: %w", err)
	}
	if fields == nil {
		fields = []string{}
	}
	return fields, nil
}

func masksFrom(object ast.Object) (map[string]string, error) {
	value, err := requiredValue(object, keyMasks)
	if err != nil {
		return nil, err
	}
	masks, err := stringObject(value)
	if err != nil {
		return nil, fmt.Errorf("masks: %w", err)
	}
	for class, strategy := range masks {
		switch strategy {
		case MaskPlain, MaskPartial, MaskHash, MaskRemove:
		default:
			return nil, fmt.Errorf("masks: field class %q has unknown strategy %q: expected plain, partial, hash or remove", class, strategy)
		}
	}
	return masks, nil
}

func obligationsFrom(object ast.Object) (map[string]string, error) {
	value, err := requiredValue(object, keyObligations)
	if err != nil {
		return nil, err
	}
	obligations, err := stringObject(value)
	if err != nil {
		return nil, fmt.Errorf("obligations: %w", err)
	}
	if _, ok := obligations["attribution"]; !ok {
		return nil, errors.New("obligations has no key \"attribution\"")
	}
	return obligations, nil
}

func stringArray(value ast.Value) ([]string, error) {
	array, ok := value.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("value is of type %s, not array", ast.ValueName(value))
	}
	if array.Len() == 0 {
		return nil, nil
	}
	values := make([]string, array.Len())
	for i := range values {
		item := array.Elem(i).Value
		text, ok := item.(ast.String)
		if !ok {
			return nil, fmt.Errorf("item %d is of type %s, not string", i, ast.ValueName(item))
		}
		values[i] = string(text)
	}
	return values, nil
}

func stringObject(value ast.Value) (map[string]string, error) {
	object, ok := value.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("value is of type %s, not object", ast.ValueName(value))
	}
	values := make(map[string]string, object.Len())
	err := object.Iter(func(key, item *ast.Term) error {
		name, ok := key.Value.(ast.String)
		if !ok {
			return fmt.Errorf("key %s is of type %s, not string", key, ast.ValueName(key.Value))
		}
		text, ok := item.Value.(ast.String)
		if !ok {
			return fmt.Errorf("%q is of type %s, not string", string(name), ast.ValueName(item.Value))
		}
		values[string(name)] = string(text)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return values, nil
}
