package mask

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// maxZstdWindow bounds the window a zstd frame may ask the decoder to
// allocate. RFC 9659 requires HTTP zstd content coding to keep windows at
// or below 8 MB.
const maxZstdWindow = 8 << 20

// Decode appends body, decoded from the Content-Encoding value
// contentEncoding, to dst. It accepts identity, gzip, x-gzip, deflate (zlib
// or raw), br and zstd, in any letter case. A server applies a list such as
// "gzip, br" in that order, so Decode undoes it from the last to the first.
// The error wraps ErrUnknownEncoding for any other coding, and ErrTooLarge
// as soon as a decoded body would pass limit bytes. On error dst is
// returned unchanged in length.
func Decode(dst, body []byte, contentEncoding string, limit int) ([]byte, error) {
	if limit <= 0 {
		return dst, fmt.Errorf("decoding body: limit is %d, want a positive byte count", limit)
	}
	codings, err := parseCodings(contentEncoding)
	if err != nil {
		return dst, err
	}
	if len(codings) == 0 {
		if len(body) > limit {
			return dst, fmt.Errorf("decoding body: %w: %d bytes, the limit is %d",
				ErrTooLarge, len(body), limit)
		}
		return append(dst, body...), nil
	}

	start := len(dst)
	cur := body
	var spare []byte
	for i := len(codings) - 1; i >= 0; i-- {
		var out []byte
		if i == 0 {
			out = dst
		} else {
			out = spare[:0]
		}
		decoded, err := decodeOne(out, cur, codings[i], limit)
		if err != nil {
			return dst[:start], err
		}
		if i == 0 {
			return decoded, nil
		}
		// The previous intermediate buffer can take the next layer.
		if i < len(codings)-1 {
			spare = cur[:0]
		}
		cur = decoded
	}
	return dst, nil // not reached: the loop returns at i == 0
}

// parseCodings splits a Content-Encoding value and drops identity.
func parseCodings(contentEncoding string) ([]string, error) {
	var codings []string
	for c := range strings.SplitSeq(contentEncoding, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		switch c {
		case "", "identity":
			continue
		case "gzip", "x-gzip", "deflate", "br", "zstd":
			codings = append(codings, c)
		default:
			return nil, fmt.Errorf("decoding body: %w %q: use gzip, deflate, br, zstd or identity",
				ErrUnknownEncoding, c)
		}
	}
	return codings, nil
}

// decodeOne appends body decoded from one coding to dst, reading at most
// limit+1 bytes so that a larger body is detected without decoding it all.
func decodeOne(dst, body []byte, coding string, limit int) ([]byte, error) {
	src := bytes.NewReader(body)
	var r io.Reader
	switch coding {
	case "gzip", "x-gzip":
		zr := gzipReaders.Get().(*gzip.Reader)
		defer gzipReaders.Put(zr)
		if err := zr.Reset(src); err != nil {
			return dst, fmt.Errorf("decoding %s body: %w", coding, err)
		}
		r = zr
	case "deflate":
		// HTTP deflate is zlib-wrapped, but some servers send raw deflate.
		if isZlibHeader(body) {
			zr, err := zlib.NewReader(src)
			if err != nil {
				return dst, fmt.Errorf("decoding deflate body: %w", err)
			}
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(src)
			defer fr.Close()
			r = fr
		}
	case "br":
		br := brotliReaders.Get().(*brotli.Reader)
		defer brotliReaders.Put(br)
		if err := br.Reset(src); err != nil {
			return dst, fmt.Errorf("decoding br body: %w", err)
		}
		r = br
	case "zstd":
		zr := zstdDecoders.Get().(*zstd.Decoder)
		defer func() {
			_ = zr.Reset(nil)
			zstdDecoders.Put(zr)
		}()
		if err := zr.Reset(src); err != nil {
			return dst, fmt.Errorf("decoding zstd body: %w", err)
		}
		r = zr
	}

	start := len(dst)
	out, err := readAll(dst, io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return dst[:start], fmt.Errorf("decoding %s body: %w", coding, err)
	}
	if len(out)-start > limit {
		return dst[:start], fmt.Errorf("decoding %s body: %w: more than %d bytes decoded",
			coding, ErrTooLarge, limit)
	}
	return out, nil
}

// isZlibHeader reports whether b starts with a zlib header: compression
// method 8 and a header checksum that is a multiple of 31.
func isZlibHeader(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0F == 8 && b[0]>>4 <= 7 &&
		(uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// readAll is io.ReadAll appending to dst.
func readAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

var gzipReaders = sync.Pool{New: func() any { return new(gzip.Reader) }}

var brotliReaders = sync.Pool{New: func() any { return brotli.NewReader(nil) }}

var zstdDecoders = sync.Pool{New: func() any {
	// One decoder per goroutine, without background goroutines.
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		panic(fmt.Sprintf("creating zstd decoder: %v", err))
	}
	return d
}}
