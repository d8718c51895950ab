package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citydata/datagateway/internal/redistest"
)

func TestFormatMillis(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"zero", 0, "0.000"},
		{"one microsecond", time.Microsecond, "0.001"},
		{"below a microsecond", 999 * time.Nanosecond, "0.000"},
		{"milliseconds and micros", 12345 * time.Microsecond, "12.345"},
		{"whole seconds", 3 * time.Second, "3000.000"},
		{"negative", -1500 * time.Microsecond, "-1.500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendMillis(nil, tt.in)); got != tt.want {
				t.Errorf("appendMillis(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestChainHashSeparatesFields(t *testing.T) {
	enc := newEncoder(testKey)
	a := testRecord("req")
	a.Consumer, a.Org = "ab", "c"
	b := testRecord("req")
	b.Consumer, b.Org = "a", "bc"

	ea, eb := enc.encode(a), enc.encode(b)
	if enc.chainHash(&ea) == enc.chainHash(&eb) {
		t.Error("records that differ only in a field boundary hash alike")
	}
}

func TestChainHashDependsOnKey(t *testing.T) {
	e := newEncoder(testKey).encode(testRecord("req"))
	h1 := newEncoder(testKey).chainHash(&e)
	h2 := newEncoder([]byte("another-chain-key-0123456789")).chainHash(&e)
	if h1 == h2 {
		t.Error("two chain keys give the same hash")
	}
}

func TestSpoolLineRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		value string
	}{
		{"plain", "/api/people/{subject}"},
		{"quotes and backslashes", `a"b\c\\"`},
		{"newlines", "line1\nline2\r\n"},
		{"control characters", "\x00\x01\x1f\x7f"},
		{"chinese", "厦门市公安局"},
		{"json lookalike", `","hash":"forged`},
		{"invalid utf-8", "bad\xff\xfebytes"},
	}
	enc := newEncoder(testKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRecord("req")
			r.Instance, r.Seq = "gw-1", 7
			r.Path = tt.value
			r.Reasons = []string{tt.value}
			e := enc.encode(r)
			e[fieldHash] = enc.chainHash(&e)

			line := appendSpoolLine(nil, &e)
			if strings.Count(string(line), "\n") != 1 {
				t.Fatalf("spool line has %d newlines, want 1 at the end", strings.Count(string(line), "\n"))
			}
			got, err := parseSpoolLine(line)
			if err != nil {
				t.Fatalf("parseSpoolLine: %v", err)
			}
			if got != e {
				t.Errorf("round trip changed the entry:\n got %q\nwant %q", got, e)
			}
			if h := enc.chainHash(&got); h != e[fieldHash] {
				t.Errorf("hash after round trip = %s, want %s", h, e[fieldHash])
			}
		})
	}
}

func TestParseSpoolLineRejects(t *testing.T) {
	enc := newEncoder(testKey)
	e := enc.encode(testRecord("req"))
	e[fieldInstance] = "gw-1"
	valid := string(appendSpoolLine(nil, &e))

	tests := []struct {
		name string
		line string
	}{
		{"empty", "\n"},
		{"not json", "hello\n"},
		{"cut short", valid[:len(valid)/2]},
		{"number value", strings.Replace(valid, `"status":"403"`, `"status":403`, 1)},
		{"missing field", strings.Replace(valid, `"hash":`, `"hush":`, 1)},
		{"empty instance", strings.Replace(valid, `"instance":"gw-1"`, `"instance":""`, 1)},
		{"bad seq", strings.Replace(valid, `"seq":"0"`, `"seq":"-1"`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseSpoolLine([]byte(tt.line)); err == nil {
				t.Errorf("parseSpoolLine accepted %q", tt.line)
			}
		})
	}
}

func TestWritersKey(t *testing.T) {
	tests := []struct {
		stream, want string
	}{
		{"data_gateway:audit", "{data_gateway:audit}:writers"},
		{"{audit}:stream", "{audit}:stream:writers"},
		{"dg:{audit}", "dg:{audit}:writers"},
		{"a{b}c{d}", "a{b}c{d}:writers"},
	}
	for _, tt := range tests {
		t.Run(tt.stream, func(t *testing.T) {
			got, err := writersKey(tt.stream)
			if err != nil {
				t.Fatalf("writersKey(%q): %v", tt.stream, err)
			}
			if got != tt.want {
				t.Errorf("writersKey(%q) = %q, want %q", tt.stream, got, tt.want)
			}
		})
	}
}

func TestWritersKeyRejectsStrayBraces(t *testing.T) {
	for _, stream := range []string{"a{}b", "audit}", "{audit", "}{"} {
		t.Run(stream, func(t *testing.T) {
			if _, err := writersKey(stream); err == nil {
				t.Errorf("writersKey(%q) accepted braces that form no hash tag", stream)
			}
		})
	}
}

// TestWriterAdoptsDamagedSpool replays a spool file with a corrupt line in
// the middle and a line cut short at the end, as a crash mid-write leaves.
func TestWriterAdoptsDamagedSpool(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()

	enc := newEncoder(testKey)
	var data []byte
	var prev string
	for seq := uint64(1); seq <= 4; seq++ {
		r := testRecord("old-" + string(rune('0'+seq)))
		r.Instance, r.Seq, r.Prev = "crashed-1", seq, prev
		e := enc.encode(r)
		e[fieldHash] = enc.chainHash(&e)
		prev = e[fieldHash]
		line := appendSpoolLine(nil, &e)
		switch seq {
		case 2:
			line = []byte("{not json\n")
		case 4:
			line = line[:len(line)-20]
		}
		data = append(data, line...)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-crashed-1.spool"), data, 0o600); err != nil {
		t.Fatalf("writing spool file: %v", err)
	}

	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	waitFor(t, "spool replayed", 5*time.Second, func() bool { return len(spoolFiles(t, dir)) == 0 })
	closeWriter(t, w)

	msgs := readStream(t, c, DefaultStream)
	if len(msgs) != 2 {
		t.Fatalf("stream has %d entries, want 2 (seq 1 and 3)", len(msgs))
	}
	if got := field(msgs[1], "seq"); got != "3" {
		t.Errorf("second entry seq = %s, want 3", got)
	}
	problems := Verify(testKey, msgs, nil)
	if len(problems) != 1 {
		t.Fatalf("Verify found %d problems, want 1 (seq 2 missing): %v", len(problems), problems)
	}
	if !strings.Contains(problems[0].Reason, "seq 2 to 2 missing") {
		t.Errorf("problem %q does not name the missing seq 2", problems[0].Reason)
	}
}

func TestStreamFieldsReturnsCopy(t *testing.T) {
	names := StreamFields()
	names[0] = "changed"
	if got := StreamFields()[0]; got != "id" {
		t.Errorf("StreamFields()[0] = %q after a caller changed its copy, want \"id\"", got)
	}
}

func TestEncodeRedactsIdentityNumbers(t *testing.T) {
	id := "350203196804140613"
	r := &Record{
		ID: "req-1", Time: time.Unix(0, 0), Consumer: "c", Resource: "a" + id,
		Scenario: id, Path: "/api/x/" + id, Decision: "deny",
		Reasons: []string{"application " + id + " not found"},
	}
	e := textFields(r)
	for i, v := range e {
		if strings.Contains(v, id) {
			t.Errorf("field %s holds the raw identity number: %q", fieldNames[i], v)
		}
	}
	if reasons := string(appendReasonsJSON(nil, r.Reasons)); strings.Contains(reasons, id) {
		t.Errorf("reasons hold the raw identity number: %s", reasons)
	}
}
