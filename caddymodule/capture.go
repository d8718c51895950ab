package caddymodule

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// captureMode is the capture writer's treatment of the upstream body.
type captureMode uint8

const (
	// modeStream passes the body straight to the client.
	modeStream captureMode = iota
	// modeBuffer keeps the body, up to the limit, for masking.
	modeBuffer
	// modeEmpty is a response without a body (HEAD, 204, 304): the status
	// and headers wait for the handler to fix them.
	modeEmpty
	// modeRefuse discards the body and stops the upstream copy: it cannot
	// be served safely.
	modeRefuse
)

// errAbortCapture is the panic value with which the capture writer stops
// reverse_proxy's copy of a body that will never be served. A panic is the
// only way out of that copy that reverse_proxy does not log together with
// the request URI, which can hold an identity number. The handler recovers
// it and responds 502 itself.
var errAbortCapture = errors.New("upstream body cannot be served safely")

var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// capture intercepts the response from reverse_proxy. The mode is chosen
// when the status line and headers arrive, and nothing reaches the client
// before the handler has masked the body, except in modeStream.
type capture struct {
	*caddyhttp.ResponseWriterWrapper
	choose      func(status int, header http.Header) captureMode
	abort       func() // cancels the upstream request
	limit       int
	mode        captureMode
	status      int
	wroteHeader bool
	overflow    bool
	buf         *bytes.Buffer
	streamed    int64
}

func newCapture(w http.ResponseWriter, limit int, abort func(),
	choose func(int, http.Header) captureMode,
) *capture {
	return &capture{
		ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
		choose:                choose,
		abort:                 abort,
		limit:                 limit,
	}
}

// stop cancels the upstream request, which closes its connection, and
// unwinds reverse_proxy.
func (c *capture) stop() {
	c.abort()
	panic(errAbortCapture)
}

func (c *capture) WriteHeader(status int) {
	if c.wroteHeader {
		return
	}
	// Informational responses (103 Early Hints) are dropped: their headers
	// come from the provider unmasked, and a client never needs them.
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		return
	}
	c.wroteHeader = true
	c.status = status
	c.mode = c.choose(status, c.ResponseWriter.Header())
	switch c.mode {
	case modeStream:
		c.ResponseWriter.WriteHeader(status)
	case modeBuffer:
		c.buf = bufferPool.Get().(*bytes.Buffer)
		c.buf.Reset()
	case modeRefuse:
		// A stream may never end, so stop at once.
		c.stop()
	}
}

func (c *capture) Write(p []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	switch c.mode {
	case modeStream:
		n, err := c.ResponseWriter.Write(p)
		c.streamed += int64(n)
		return n, err
	case modeBuffer:
		if c.buf.Len()+len(p) > c.limit {
			c.overflow = true
			c.stop()
		}
		return c.buf.Write(p)
	case modeEmpty:
		return len(p), nil
	default:
		c.stop()
		return 0, errAbortCapture
	}
}

// ReadFrom copies through Write: the embedded wrapper's ReadFrom would hand
// the body to the client unmasked.
func (c *capture) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{c}, r)
}

// Flush reaches the client only when streaming; a buffered body must not
// be committed before it is masked.
func (c *capture) Flush() {
	_ = c.FlushError()
}

// FlushError is the form http.ResponseController looks for first.
func (c *capture) FlushError() error {
	if c.mode != modeStream || !c.wroteHeader {
		return nil
	}
	return http.NewResponseController(c.ResponseWriter).Flush()
}

// release returns the buffer to the pool once the response is written.
func (c *capture) release() {
	if c.buf != nil && c.buf.Cap() <= 1<<20 {
		bufferPool.Put(c.buf)
	}
	c.buf = nil
}

// writerOnly hides every method but Write, so io.Copy cannot take a
// shortcut around it.
type writerOnly struct{ io.Writer }

// Interface guards
var (
	_ http.ResponseWriter = (*capture)(nil)
	_ http.Flusher        = (*capture)(nil)
	_ io.ReaderFrom       = (*capture)(nil)
)
