package caddymodule

import (
	"encoding/json"
	"hash/maphash"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/citydata/datagateway/gateway/mask"
	"github.com/citydata/datagateway/gateway/policy"
)

// errorBody is the JSON body of every response the gateway makes itself.
type errorBody struct {
	Error     string   `json:"error"`
	Reasons   []string `json:"reasons,omitempty"`
	RequestID string   `json:"request_id"`
}

func writeError(w http.ResponseWriter, status int, rid, msg string, reasons []string) {
	body, err := json.Marshal(errorBody{Error: msg, Reasons: reasons, RequestID: rid})
	if err != nil {
		body = []byte(`{"error":"internal error","request_id":` + strconv.Quote(rid) + `}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// outPool recycles the buffers that decoded and masked bodies are built in.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

func getOut() []byte { return (*outPool.Get().(*[]byte))[:0] }

func putOut(b []byte) {
	if cap(b) <= 1<<20 {
		b = b[:0]
		outPool.Put(&b)
	}
}

// maxMaskings bounds the cache of parsed decision masks and scopes. They
// come from the policy's defaults and the grants, so a catalogue has few;
// past the bound they are parsed per call.
const maxMaskings = 4096

// masking is the part of a decision the masker needs, parsed once per
// distinct content of the decision's masks and fields.
type masking struct {
	strategies mask.Strategies
	scope      *mask.Scope
	// masks and fields are the decision values it was parsed from, to
	// tell a hash collision from a hit.
	masks  map[string]string
	fields []string
}

var maskingSeed = maphash.MakeSeed()

// masking returns the parsed strategies and data scope of a decision.
// Decisions repeat (the policy engine caches them), so the parse is cached
// by the decision's content, found through a hash that allocates nothing.
func (a *App) masking(d *policy.Decision) (*masking, error) {
	key := maskingKey(d)
	if v, ok := a.live.maskings.Load(key); ok {
		m := v.(*masking)
		if maps.Equal(m.masks, d.Masks) && slices.Equal(m.fields, d.Fields) &&
			(m.fields == nil) == (d.Fields == nil) {
			return m, nil
		}
	}
	strategies, err := mask.ParseStrategies(d.Masks)
	if err != nil {
		return nil, err
	}
	var scope *mask.Scope
	if d.Fields != nil {
		if scope, err = mask.CompileScope(d.Fields); err != nil {
			return nil, err
		}
	}
	m := &masking{strategies: strategies, scope: scope,
		masks: maps.Clone(d.Masks), fields: slices.Clone(d.Fields)}
	if a.live.maskingCount.Add(1) <= maxMaskings {
		a.live.maskings.Store(key, m)
	}
	return m, nil
}

// maskingKey hashes a decision's masks, in any order, and its fields, in
// order; a nil field list and an empty one hash apart.
func maskingKey(d *policy.Decision) uint64 {
	var h maphash.Hash
	h.SetSeed(maskingSeed)
	var sum uint64
	for class, strategy := range d.Masks {
		h.Reset()
		h.WriteString(class)
		h.WriteByte(0)
		h.WriteString(strategy)
		sum ^= h.Sum64()
	}
	h.Reset()
	if d.Fields == nil {
		h.WriteByte(1)
	}
	for _, f := range d.Fields {
		h.WriteString(f)
		h.WriteByte(0)
	}
	return sum ^ h.Sum64()*0x9e3779b97f4a7c15
}
