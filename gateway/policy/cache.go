package policy

import (
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/citydata/datagateway/gateway/catalog"
)

// Decision cache limits. A policy may compare input.now with times the
// catalogue does not store (office hours, a fixed date), so a cached
// decision is reused for at most decisionTTL even when no catalogue time
// boundary comes first.
const (
	decisionTTL          = time.Second
	maxCachedDecisions   = 65536
	requestFieldsAllRead = requestMethod | requestPath | requestQuery | requestClientIP
)

// Request fields a policy can read besides the scenario, which every
// decision key contains.
const (
	requestMethod = 1 << iota
	requestPath
	requestQuery
	requestClientIP
)

// decisionKey contains everything a decision reads: the catalogue entries by
// pointer, the credit state, the scenario, and the request fields the
// policy reads (the others stay empty). The time is checked against the
// entry's window instead.
type decisionKey struct {
	consumer *catalog.Consumer
	resource *catalog.Resource
	grant    *catalog.Grant
	credit   int
	scenario string
	method   string
	path     string
	query    string
	clientIP string
}

// cachedDecision is valid for requests at times in [from, until).
type cachedDecision struct {
	decision Decision
	from     time.Time
	until    time.Time
}

type decisionCache struct {
	mu      sync.RWMutex
	entries map[decisionKey]*cachedDecision
}

func newDecisionCache() *decisionCache {
	return &decisionCache{entries: make(map[decisionKey]*cachedDecision)}
}

func (c *decisionCache) get(key *decisionKey, now time.Time) (Decision, bool) {
	c.mu.RLock()
	entry := c.entries[*key]
	c.mu.RUnlock()
	if entry == nil || now.Before(entry.from) || !now.Before(entry.until) {
		return Decision{}, false
	}
	return entry.decision, true
}

func (c *decisionCache) put(key *decisionKey, entry *cachedDecision) {
	c.mu.Lock()
	if len(c.entries) >= maxCachedDecisions {
		clear(c.entries)
	}
	c.entries[*key] = entry
	c.mu.Unlock()
}

func (c *decisionCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// decisionKeyOf builds the cache key of a request for a policy that reads
// the request fields in read.
func decisionKeyOf(in *Input, read int) decisionKey {
	key := decisionKey{
		consumer: in.Consumer,
		resource: in.Resource,
		grant:    in.Grant,
		credit:   creditIndex(in.Credit),
		scenario: in.Request.Scenario,
	}
	if read&requestMethod != 0 {
		key.method = in.Request.Method
	}
	if read&requestPath != 0 {
		key.path = in.Request.Path
	}
	if read&requestQuery != 0 {
		key.query = in.Request.Query
	}
	if read&requestClientIP != 0 {
		key.clientIP = in.Request.ClientIP
	}
	return key
}

// decisionWindow returns when a decision made at now stops being valid:
// after decisionTTL, or at the next catalogue time the policy compares
// input.now with (a grant's validity, an emergency's start and end),
// whichever comes first.
func decisionWindow(in *Input) cachedDecision {
	until := in.Now.Add(decisionTTL)
	earliest := func(boundary time.Time) {
		if boundary.After(in.Now) && boundary.Before(until) {
			until = boundary
		}
	}
	if in.Grant != nil {
		earliest(in.Grant.ValidFrom)
		earliest(in.Grant.ValidUntil)
	}
	if emergency := in.Resource.Emergency; emergency != nil {
		earliest(emergency.Start)
		earliest(emergency.End)
	}
	return cachedDecision{from: in.Now, until: until}
}

// typeTests are the built-in functions that read only the type of their
// argument. A request field the policy reads only through them cannot
// change a decision for the input Go builds, where every request field is
// a string.
var typeTests = map[string]bool{
	"is_string": true, "is_boolean": true, "is_number": true, "is_null": true,
	"is_array": true, "is_object": true, "is_set": true, "type_name": true,
}

// requestFieldsRead returns the request fields other than the scenario
// that the modules read outside type tests. A read of the whole input, the
// whole request or a computed key counts as reading every field.
func requestFieldsRead(modules map[string]*ast.Module) int {
	read := 0
	visitor := ast.NewGenericVisitor(func(node any) bool {
		switch node := node.(type) {
		case *ast.Expr:
			return node.IsCall() && onlyTypeTest(node.Operator(), node.Operands())
		case ast.Call:
			operator, ok := node[0].Value.(ast.Ref)
			return ok && onlyTypeTest(operator, node[1:])
		case ast.Ref:
			read |= requestFieldsOf(node)
		}
		return false
	})
	for _, module := range modules {
		visitor.Walk(module)
	}
	return read
}

// onlyTypeTest reports whether a call is a type test whose arguments are
// all plain references, so the walk can skip them.
func onlyTypeTest(operator ast.Ref, operands []*ast.Term) bool {
	if !typeTests[operator.String()] {
		return false
	}
	for _, operand := range operands {
		if _, ok := operand.Value.(ast.Ref); !ok {
			return false
		}
	}
	return true
}

func requestFieldsOf(ref ast.Ref) int {
	if !ref[0].Equal(ast.InputRootDocument) {
		return 0
	}
	if len(ref) == 1 {
		return requestFieldsAllRead
	}
	top, ok := ref[1].Value.(ast.String)
	if !ok {
		return requestFieldsAllRead
	}
	if top != "request" {
		return 0
	}
	if len(ref) == 2 {
		return requestFieldsAllRead
	}
	field, ok := ref[2].Value.(ast.String)
	if !ok {
		return requestFieldsAllRead
	}
	switch field {
	case "scenario":
		return 0
	case "method":
		return requestMethod
	case "path":
		return requestPath
	case "query":
		return requestQuery
	case "client_ip":
		return requestClientIP
	default:
		return 0
	}
}
