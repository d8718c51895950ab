package mask

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// encode compresses b with one content coding.
func encode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch coding {
	case "gzip", "x-gzip":
		w = gzip.NewWriter(&buf)
	case "deflate":
		w = zlib.NewWriter(&buf)
	case "raw-deflate":
		w, err = flate.NewWriter(&buf, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf)
	default:
		t.Fatalf("unknown test coding %q", coding)
	}
	if err != nil {
		t.Fatalf("creating %s writer: %v", coding, err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatalf("writing %s: %v", coding, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing %s writer: %v", coding, err)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	plain := []byte(`{"persons":[{"name":"张三","phone":"13812345678"}]}`)
	tests := []struct {
		name   string
		header string
		body   []byte
	}{
		{"no header", "", plain},
		{"identity", "identity", plain},
		{"gzip", "gzip", encode(t, "gzip", plain)},
		{"x-gzip", "x-gzip", encode(t, "gzip", plain)},
		{"uppercase gzip", "GZIP", encode(t, "gzip", plain)},
		{"deflate zlib", "deflate", encode(t, "deflate", plain)},
		{"deflate raw", "deflate", encode(t, "raw-deflate", plain)},
		{"br", "br", encode(t, "br", plain)},
		{"zstd", "zstd", encode(t, "zstd", plain)},
		{"gzip then br", "gzip, br", encode(t, "br", encode(t, "gzip", plain))},
		{"three layers", "deflate,zstd, gzip", encode(t, "gzip", encode(t, "zstd", encode(t, "deflate", plain)))},
		{"identity in a list", "identity, gzip", encode(t, "gzip", plain)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Decode([]byte("x"), tt.body, tt.header, 1<<20)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if string(out) != "x"+string(plain) {
				t.Errorf("Decode = %q, want %q", out, "x"+string(plain))
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	plain := bytes.Repeat([]byte(`{"a":"0123456789"},`), 1000)
	bomb := encode(t, "gzip", make([]byte, 64<<20))
	tests := []struct {
		name   string
		header string
		body   []byte
		limit  int
		want   error
	}{
		{"identity over limit", "", plain, 100, ErrTooLarge},
		{"gzip over limit", "gzip", encode(t, "gzip", plain), 100, ErrTooLarge},
		{"br over limit", "br", encode(t, "br", plain), 100, ErrTooLarge},
		{"zstd over limit", "zstd", encode(t, "zstd", plain), 100, ErrTooLarge},
		{"deflate over limit", "deflate", encode(t, "deflate", plain), 100, ErrTooLarge},
		{"gzip bomb", "gzip", bomb, 1 << 20, ErrTooLarge},
		{"stacked over limit", "gzip, br", encode(t, "br", encode(t, "gzip", plain)), 1000, ErrTooLarge},
		{"unknown coding", "compress", plain, 1 << 20, ErrUnknownEncoding},
		{"unknown in a list", "gzip, lzma", plain, 1 << 20, ErrUnknownEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Decode([]byte("x"), tt.body, tt.header, tt.limit)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
			if string(out) != "x" {
				t.Errorf("Decode returned %d bytes, want dst unchanged", len(out))
			}
		})
	}
	if len(bomb) > 1<<20 {
		t.Errorf("the gzip bomb is %d bytes, so it tests nothing", len(bomb))
	}
}

func TestDecodeExactLimit(t *testing.T) {
	plain := bytes.Repeat([]byte("a"), 1000)
	tests := []struct {
		name   string
		header string
		body   []byte
	}{
		{"identity", "", plain},
		{"gzip", "gzip", encode(t, "gzip", plain)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Decode(nil, tt.body, tt.header, len(plain))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(out) != len(plain) {
				t.Errorf("Decode returned %d bytes, want %d", len(out), len(plain))
			}
		})
	}
}

func TestDecodeRejectsCorruptBody(t *testing.T) {
	tests := []struct {
		name   string
		header string
		body   []byte
	}{
		{"gzip garbage", "gzip", []byte("not gzip at all")},
		{"truncated gzip", "gzip", encode(t, "gzip", []byte(strings.Repeat("ab", 1000)))[:20]},
		{"br garbage", "br", []byte("\xff\xff\xff\xff")},
		{"zstd garbage", "zstd", []byte("not zstd")},
		{"deflate garbage", "deflate", []byte("\xff\xff\xff\xff")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(nil, tt.body, tt.header, 1<<20); err == nil {
				t.Error("Decode returned no error")
			}
		})
	}
}

func TestDecodeRejectsBadLimit(t *testing.T) {
	if _, err := Decode(nil, []byte("{}"), "", 0); err == nil {
		t.Error("Decode with limit 0 returned no error")
	}
}
