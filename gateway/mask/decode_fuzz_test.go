package mask

import (
	"bytes"
	"errors"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// fuzzDecodeLimit bounds what one Decode call in the fuzzer may produce,
// so that a compression bomb costs little.
const fuzzDecodeLimit = 64 << 10

// fuzzEncoders compress a body the way an upstream would, by coding name.
var fuzzEncoders = []struct {
	name   string
	encode func([]byte) []byte
}{
	{"gzip", func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}},
	{"deflate", func(b []byte) []byte {
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}},
	{"deflate", func(b []byte) []byte {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}},
	{"br", func(b []byte) []byte {
		var buf bytes.Buffer
		w := brotli.NewWriter(&buf)
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes()
	}},
	{"zstd", func(b []byte) []byte {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		defer enc.Close()
		return enc.EncodeAll(b, nil)
	}},
}

// FuzzDecode feeds Decode arbitrary bodies under arbitrary Content-Encoding
// values, and checks that every coding it accepts round-trips.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id_number":"350203198506151209"}`), uint8(0), []byte("\x1f\x8b\x08"), "gzip")
	f.Add([]byte(`[]`), uint8(3), []byte("not brotli"), "br")
	f.Add([]byte{}, uint8(4), []byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd")
	f.Add([]byte("x"), uint8(1), []byte("x"), "gzip, br, identity")
	f.Add([]byte("x"), uint8(2), []byte("x"), "compress")
	f.Add([]byte("x"), uint8(2), []byte{0x78, 0x9c}, " DEFLATE ,")
	f.Fuzz(func(t *testing.T, data []byte, coding uint8, raw []byte, header string) {
		prefix := []byte("keep")
		out, err := Decode(bytes.Clone(prefix), raw, header, fuzzDecodeLimit)
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("Decode changed the bytes already in dst")
		}
		if err != nil && len(out) != len(prefix) {
			t.Fatalf("Decode returned %d bytes with its error %v", len(out)-len(prefix), err)
		}
		if err == nil && len(out)-len(prefix) > fuzzDecodeLimit {
			t.Fatalf("Decode returned %d bytes, over the limit %d", len(out)-len(prefix), fuzzDecodeLimit)
		}

		enc := fuzzEncoders[int(coding)%len(fuzzEncoders)]
		got, err := Decode(nil, enc.encode(data), enc.name, fuzzDecodeLimit)
		switch {
		case len(data) > fuzzDecodeLimit:
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%s body of %d bytes: error %v, want ErrTooLarge", enc.name, len(data), err)
			}
		case err != nil:
			t.Fatalf("decoding a valid %s body: %v", enc.name, err)
		case !bytes.Equal(got, data):
			t.Fatalf("%s round trip changed the body", enc.name)
		}
	})
}
