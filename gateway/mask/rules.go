package mask

import (
	"fmt"
)

// MaxClasses bounds the distinct field classes of one Rules, including the
// two that the backstop scan uses.
const MaxClasses = 32

// Class ids that every Rules assigns, because the backstop scan masks what it
// finds as these classes.
const (
	ClassIDNumber = 0 // "id_number"
	ClassPhone    = 1 // "phone"
)

// Field is a declared personal field: a JSON path of the response and its
// field class. It mirrors catalog.Field.
type Field struct {
	Path  string
	Class string
}

// classKind selects the partial mask of a class.
type classKind uint8

const (
	kindOther classKind = iota
	kindIDNumber
	kindPhone
	kindName
	kindAddress
	kindBankCard
	kindEmail
	kindCreditCode
)

var classKinds = map[string]classKind{
	"id_number":   kindIDNumber,
	"phone":       kindPhone,
	"name":        kindName,
	"address":     kindAddress,
	"bank_card":   kindBankCard,
	"email":       kindEmail,
	"credit_code": kindCreditCode,
}

// Rules are the declared personal fields of one resource, compiled into a
// path automaton. Compile them once when the catalogue is loaded. Rules are
// safe for concurrent use.
type Rules struct {
	tree    *tree
	classes []string
	kinds   []classKind
}

// builtinRules has no declared field; Apply uses it for nil Rules.
var builtinRules = mustCompile(nil)

func mustCompile(fields []Field) *Rules {
	r, err := Compile(fields)
	if err != nil {
		panic(err)
	}
	return r
}

// Compile compiles the declared fields. The error names the first bad path
// or class and the reason it is bad.
func Compile(fields []Field) (*Rules, error) {
	r := &Rules{
		tree:    newTree(),
		classes: []string{"id_number", "phone"},
		kinds:   []classKind{kindIDNumber, kindPhone},
	}
	for i, f := range fields {
		if err := checkClass(f.Class); err != nil {
			return nil, fmt.Errorf("compiling field %d (path %q): %w", i, f.Path, err)
		}
		comps, err := parsePath(f.Path)
		if err != nil {
			return nil, fmt.Errorf("compiling field %d path %q: %w", i, f.Path, err)
		}
		id, err := r.tree.insert(comps)
		if err != nil {
			return nil, fmt.Errorf("compiling field %d path %q: %w", i, f.Path, err)
		}
		class := r.classID(f.Class)
		if class < 0 {
			return nil, fmt.Errorf("compiling field %d path %q: more than %d field classes",
				i, f.Path, MaxClasses)
		}
		n := &r.tree.nodes[id]
		if n.term >= 0 && n.term != class {
			return nil, fmt.Errorf("compiling field %d path %q: the path is already "+
				"declared with class %q, so it cannot also be %q",
				i, f.Path, r.classes[n.term], f.Class)
		}
		n.term = class
	}
	r.tree.finish()
	return r, nil
}

// classID returns the id of class, adding it if new, or -1 when there are
// already MaxClasses classes.
func (r *Rules) classID(class string) int {
	for i, c := range r.classes {
		if c == class {
			return i
		}
	}
	if len(r.classes) == MaxClasses {
		return -1
	}
	r.classes = append(r.classes, class)
	r.kinds = append(r.kinds, classKinds[class])
	return len(r.classes) - 1
}

// Classes returns the field class names indexed by class id, the index of
// Stats.ByClass. The caller must not modify the slice.
func (r *Rules) Classes() []string {
	if r == nil {
		return builtinRules.classes
	}
	return r.classes
}

// checkClass accepts a lowercase word of letters, digits and underscores.
func checkClass(class string) error {
	if class == "" {
		return fmt.Errorf("field class is empty: use a class such as id_number, phone or name")
	}
	if len(class) > 64 {
		return fmt.Errorf("field class %q is longer than 64 bytes", class)
	}
	for i := 0; i < len(class); i++ {
		c := class[i]
		if c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return fmt.Errorf("field class %q is not a lowercase word: "+
			"use letters a-z, digits and underscores, starting with a letter", class)
	}
	return nil
}

// Scope is a compiled data scope: the granted paths of a response. A nil
// *Scope keeps everything. Scope is safe for concurrent use.
type Scope struct {
	tree *tree
}

// CompileScope compiles the granted paths. A nil slice returns a nil Scope,
// which keeps everything. An empty non-nil slice returns a Scope that keeps
// nothing: a root object or array is emptied and any other root becomes null.
func CompileScope(paths []string) (*Scope, error) {
	if paths == nil {
		return nil, nil
	}
	t := newTree()
	for _, p := range paths {
		comps, err := parsePath(p)
		if err != nil {
			return nil, fmt.Errorf("compiling granted path %q: %w", p, err)
		}
		id, err := t.insert(comps)
		if err != nil {
			return nil, fmt.Errorf("compiling granted path %q: %w", p, err)
		}
		t.nodes[id].term = 1
	}
	t.finish()
	return &Scope{tree: t}, nil
}
