package caddymodule

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/citydata/datagateway/gateway/mask"
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

// maxScopes bounds the cache of compiled data scopes. Scopes come from
// grants, so a catalogue has few; past the bound they are compiled per call.
const maxScopes = 4096

// scope returns the compiled data scope for a decision's field list; nil
// fields keep everything.
func (a *App) scope(fields []string) (*mask.Scope, error) {
	if fields == nil {
		return nil, nil
	}
	key := strings.Join(fields, "\x00")
	if s, ok := a.live.scopes.Load(key); ok {
		return s.(*mask.Scope), nil
	}
	s, err := mask.CompileScope(fields)
	if err != nil {
		return nil, err
	}
	if a.live.scopeCount.Add(1) <= maxScopes {
		a.live.scopes.Store(key, s)
	}
	return s, nil
}
