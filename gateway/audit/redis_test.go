package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/internal/redistest"
)

// The legacy code below is the writer's encoding and script call as they
// were when every field value went to the script as its own argument. The
// tests hold the current code to the entries it wrote.

// legacyAppendScript takes n values per entry as separate arguments.
var legacyAppendScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local posInstance = tonumber(ARGV[2]) - 1
local posSeq = tonumber(ARGV[3]) - 1
local first = 4 + n
local last = {}
local lastArg = {}
local written = 0
local xadd = {KEYS[1], '*'}
for i = 1, n do
  xadd[2 * i + 1] = ARGV[3 + i]
end
for r = first, #ARGV, n do
  local instance = ARGV[r + posInstance]
  local seqArg = ARGV[r + posSeq]
  local seq = tonumber(seqArg)
  if last[instance] == nil then
    last[instance] = tonumber(redis.call('HGET', KEYS[2], instance) or '0')
  end
  if seq > last[instance] then
    for i = 1, n do
      xadd[2 * i + 2] = ARGV[r + i - 1]
    end
    redis.call('XADD', unpack(xadd))
    last[instance] = seq
    lastArg[instance] = seqArg
    written = written + 1
  end
end
for instance, seqArg in pairs(lastArg) do
  redis.call('HSET', KEYS[2], instance, seqArg)
end
return written
`)

// legacyEncode formats r's fields and hash as the writer did before.
func legacyEncode(key []byte, r *Record) entry {
	var e entry
	e[fieldID] = validUTF8(r.ID)
	e[fieldTime] = r.Time.UTC().Format(time.RFC3339Nano)
	e[fieldInstance] = r.Instance
	e[fieldSeq] = strconv.FormatUint(r.Seq, 10)
	e[fieldPrev] = r.Prev
	e[5] = text(r.Consumer, maxTextBytes)
	e[6] = text(r.Org, maxTextBytes)
	e[7] = text(r.Resource, maxTextBytes)
	e[8] = text(r.Provider, maxTextBytes)
	e[9] = text(r.Scenario, maxTextBytes)
	e[10] = text(r.GrantID, maxTextBytes)
	e[11] = text(r.Method, maxTextBytes)
	e[12] = text(r.Path, maxPathBytes)
	e[13] = text(r.Decision, maxTextBytes)
	e[14] = legacyReasonsJSON(r.Reasons)
	e[15] = text(r.PolicyVersion, maxTextBytes)
	e[16] = strconv.Itoa(r.Status)
	e[17] = strconv.FormatInt(r.Bytes, 10)
	e[18] = strconv.Itoa(r.Masked)
	e[19] = legacyMillis(r.UpstreamLatency)
	e[20] = legacyMillis(r.TotalLatency)
	e[21] = text(r.SubjectHash, maxTextBytes)
	e[22] = text(r.ClientIP, maxTextBytes)

	var in []byte
	for _, v := range e[:fieldHash] {
		in = binary.BigEndian.AppendUint32(in, uint32(len(v)))
		in = append(in, v...)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(in)
	e[fieldHash] = hex.EncodeToString(mac.Sum(nil))
	return e
}

func legacyReasonsJSON(reasons []string) string {
	if len(reasons) == 0 {
		return "[]"
	}
	if len(reasons) > maxReasons {
		reasons = reasons[:maxReasons]
	}
	buf := []byte{'['}
	for i, r := range reasons {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, text(r, maxReasonBytes))
	}
	return string(append(buf, ']'))
}

func legacyMillis(d time.Duration) string {
	us := d.Microseconds()
	sign := ""
	if us < 0 {
		sign = "-"
		us = -us
	}
	return fmt.Sprintf("%s%d.%03d", sign, us/1000, us%1000)
}

// legacyScriptArgs builds the arguments of legacyAppendScript.
func legacyScriptArgs(entries []entry) []any {
	args := []any{numFields, fieldInstance + 1, fieldSeq + 1}
	for _, name := range fieldNames {
		args = append(args, name)
	}
	for i := range entries {
		for _, v := range entries[i] {
			args = append(args, v)
		}
	}
	return args
}

// hostileRecords returns records whose values test the encoding: JSON
// and Lua special characters, invalid UTF-8, empty values, values that
// the encoder cuts, and extreme numbers.
func hostileRecords() []struct {
	name string
	r    *Record
} {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	quotes := testRecord(`req "quoted" \ 'single'`)
	quotes.Path = `/api/"x"/\u0000/%q`
	quotes.Reasons = []string{`"`, `\`, `"]`, `[",`}

	controls := testRecord("req\nnewline")
	controls.Consumer = "line 1\nline 2\r\n\ttab"
	controls.Org = "\x00nul\x01\x1f\x7f"
	controls.Reasons = []string{"a\nb", "\r", "\x00"}

	invalid := testRecord("req-\xff\xfe")
	invalid.Consumer = "cut \xc3"
	invalid.Path = "/p/\xe4\xb8"
	invalid.Reasons = []string{"bad \xff\xff reason", "\x80"}
	invalid.SubjectHash = "\xed\xa0\x80"

	empty := &Record{Reasons: []string{}}
	emptyReasons := testRecord("")
	emptyReasons.Reasons = []string{"", ""}
	emptyReasons.ClientIP = ""

	cut := testRecord("req-" + long("x", 400))
	cut.Consumer = long("中", 300)
	cut.Path = "/" + long("路径", 400)
	cut.Reasons = make([]string, maxReasons+2)
	for i := range cut.Reasons {
		cut.Reasons[i] = "a" + long("é", 300) + strconv.Itoa(i)
	}
	cut.PolicyVersion = long(`"`, 300)

	framing := testRecord("\x00\x00\x00\x05hello")
	framing.Org = "I4c0"
	framing.Resource = "%s %d \x00\x00\x00\x00"

	numbers := testRecord("req-numbers")
	numbers.Time = time.Date(1999, 12, 31, 23, 59, 59, 1, time.FixedZone("X", -9*3600-30*60))
	numbers.Status = -1
	numbers.Bytes = 1 << 62
	numbers.Masked = 1 << 40
	numbers.UpstreamLatency = -1500 * time.Microsecond
	numbers.TotalLatency = 1<<63 - 1

	return []struct {
		name string
		r    *Record
	}{
		{"plain", testRecord("req-plain")},
		{"quotes and backslashes", quotes},
		{"newlines and control characters", controls},
		{"invalid UTF-8", invalid},
		{"every value empty", empty},
		{"empty reasons", emptyReasons},
		{"values cut to their bounds", cut},
		{"values like length prefixes", framing},
		{"extreme numbers", numbers},
	}
}

// chainRecords gives the records one chain of instance, from seq 1, with
// prev set from the legacy hashes.
func chainRecords(instance string, records []*Record) {
	prev := ""
	for i, r := range records {
		r.Instance, r.Seq, r.Prev = instance, uint64(i+1), prev
		prev = legacyEncode(testKey, r)[fieldHash]
	}
}

func TestSealMatchesLegacyEncoding(t *testing.T) {
	enc := newEncoder(testKey)
	for _, tc := range hostileRecords() {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Instance, tc.r.Seq, tc.r.Prev = "gw-1", 1<<53-1, strings.Repeat("ab", 32)
			want := legacyEncode(testKey, tc.r)
			got := enc.seal(tc.r)
			for i, name := range fieldNames {
				if got[i] != want[i] {
					t.Errorf("field %s = %q, want %q", name, got[i], want[i])
				}
			}
		})
	}
}

// rawEntries reads stream with XRANGE as sent by Redis: each entry's
// field names and values in their stored order.
func rawEntries(t *testing.T, c redis.UniversalClient, stream string) [][]string {
	t.Helper()
	reply, err := c.Do(context.Background(), "XRANGE", stream, "-", "+").Slice()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", stream, err)
	}
	entries := make([][]string, len(reply))
	for i, item := range reply {
		msg, ok := item.([]any)
		if !ok || len(msg) != 2 {
			t.Fatalf("XRANGE %s entry %d is %#v, want [id fields]", stream, i, item)
		}
		pairs, ok := msg[1].([]any)
		if !ok {
			t.Fatalf("XRANGE %s entry %d fields are %#v, want a list", stream, i, msg[1])
		}
		for j, p := range pairs {
			s, ok := p.(string)
			if !ok {
				t.Fatalf("XRANGE %s entry %d item %d is %T, want string", stream, i, j, p)
			}
			entries[i] = append(entries[i], s)
		}
	}
	return entries
}

func TestAppendScriptMatchesLegacyScript(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	ctx := context.Background()

	cases := hostileRecords()
	records := make([]*Record, len(cases))
	for i, tc := range cases {
		records[i] = tc.r
	}
	chainRecords("gw-hostile", records)

	legacy := make([]entry, len(records))
	for i, r := range records {
		legacy[i] = legacyEncode(testKey, r)
	}
	keys := []string{"old", "{old}:writers"}
	n, err := legacyAppendScript.Run(ctx, c, keys, legacyScriptArgs(legacy)...).Int()
	if err != nil {
		t.Fatalf("legacy script: %v", err)
	}
	if n != len(records) {
		t.Fatalf("legacy script wrote %d entries, want %d", n, len(records))
	}

	enc := newEncoder(testKey)
	current := make([]entry, len(records))
	for i, r := range records {
		current[i] = enc.seal(r)
	}
	args, _ := scriptArgs(nil, nil, current)
	keys = []string{"new", "{new}:writers"}
	n, err = appendScript.Run(ctx, c, keys, args...).Int()
	if err != nil {
		t.Fatalf("append script: %v", err)
	}
	if n != len(records) {
		t.Fatalf("append script wrote %d entries, want %d", n, len(records))
	}

	want := rawEntries(t, c, "old")
	got := rawEntries(t, c, "new")
	if len(got) != len(want) {
		t.Fatalf("stream has %d entries, want %d", len(got), len(want))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("entry has %d names and values, want %d", len(got[i]), len(want[i]))
			}
			for j := range want[i] {
				if got[i][j] != want[i][j] {
					t.Errorf("item %d (%s) = %q, want %q", j, fieldNames[j/2], got[i][j], want[i][j])
				}
			}
		})
	}

	for _, key := range []string{"{old}:writers", "{new}:writers"} {
		last, err := c.HGet(ctx, key, "gw-hostile").Result()
		if err != nil {
			t.Fatalf("HGET %s: %v", key, err)
		}
		if want := strconv.Itoa(len(records)); last != want {
			t.Errorf("%s stores seq %s, want %s", key, last, want)
		}
	}
	problems, err := VerifyStream(ctx, c, "new", testKey)
	if err != nil {
		t.Fatalf("VerifyStream: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("VerifyStream found %d problems, first: %v", len(problems), problems[0])
	}
}

func TestAppendScriptSkipsWrittenSeqs(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	ctx := context.Background()
	keys := []string{"s", "{s}:writers"}

	enc := newEncoder(testKey)
	chain := func(instance string, from, to uint64) []entry {
		var entries []entry
		for seq := from; seq <= to; seq++ {
			r := testRecord(instance + "-" + strconv.FormatUint(seq, 10))
			r.Instance, r.Seq = instance, seq
			entries = append(entries, enc.seal(r))
		}
		return entries
	}
	big := uint64(1)<<53 - 10

	tests := []struct {
		name    string
		entries []entry
		want    int
	}{
		{"first batch", chain("a", 1, 3), 3},
		{"same batch again", chain("a", 1, 3), 0},
		{"overlapping batch", chain("a", 2, 5), 2},
		{"two instances", append(chain("b", 1, 2), chain("a", 5, 6)...), 3},
		{"seqs above 1e14", chain("c", big, big+2), 3},
		{"seqs above 1e14 again", chain("c", big+1, big+2), 0},
	}
	total := 0
	for _, tt := range tests {
		args, _ := scriptArgs(nil, nil, tt.entries)
		n, err := appendScript.Run(ctx, c, keys, args...).Int()
		if err != nil {
			t.Fatalf("%s: append script: %v", tt.name, err)
		}
		if n != tt.want {
			t.Errorf("%s: wrote %d entries, want %d", tt.name, n, tt.want)
		}
		total += tt.want
	}

	if got := len(readStream(t, c, "s")); got != total {
		t.Errorf("stream has %d entries, want %d", got, total)
	}
	last, err := lastSeqs(ctx, c, "s")
	if err != nil {
		t.Fatalf("lastSeqs: %v", err)
	}
	wantLast := map[string]uint64{"a": 6, "b": 2, "c": big + 2}
	for instance, want := range wantLast {
		if last[instance] != want {
			t.Errorf("writers hash stores seq %d for %s, want %d", last[instance], instance, want)
		}
	}
}

// legacySpool is a spool file written by the writer before the script
// took one argument for all entries: two records of instance "before-1"
// with testKey, the second with a quote, a newline and an invalid byte
// replaced by U+FFFD.
const legacySpool = `{"id":"before-a","time":"2025-03-03T21:06:07.890123456Z","instance":"before-1","seq":"1","prev":"","consumer":"consumer-1","org":"org-health","resource":"household-register","provider":"public-security","scenario":"social-assistance","grant":"grant-9","method":"GET","path":"/api/households/{subject}","decision":"deny","reasons":"[\"grant expired\",\"quote \\\" and \\\\ backslash\"]","policy_version":"v7","status":"403","bytes":"1234","masked":"3","upstream_ms":"12.345","total_ms":"15.000","subject":"5f3a","client_ip":"127.0.0.1","hash":"a2271f4417c108aec5a2155f94614ab2a3f0ce7d0fd7804996de400e26ccc986"}
{"id":"before-\"b\"\n�","time":"2025-03-03T21:06:07.890123456Z","instance":"before-1","seq":"2","prev":"a2271f4417c108aec5a2155f94614ab2a3f0ce7d0fd7804996de400e26ccc986","consumer":"consumer-1","org":"org-health","resource":"household-register","provider":"public-security","scenario":"social-assistance","grant":"grant-9","method":"GET","path":"/api/households/{subject}","decision":"deny","reasons":"[\"grant expired\",\"quote \\\" and \\\\ backslash\"]","policy_version":"v7","status":"403","bytes":"1234","masked":"3","upstream_ms":"12.345","total_ms":"15.000","subject":"5f3a","client_ip":"127.0.0.1","hash":"7194302373dbf17827a50b0ddace7b9ce319e48ed723322407798aab2f7b9175"}
`

func TestWriterReplaysLegacySpool(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "audit-before-1.spool"), []byte(legacySpool), 0o600); err != nil {
		t.Fatalf("writing spool file: %v", err)
	}

	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c, SpoolDir: dir})
	waitFor(t, "spool replayed", 5*time.Second, func() bool { return len(spoolFiles(t, dir)) == 0 })
	closeWriter(t, w)

	got := rawEntries(t, c, DefaultStream)
	lines := strings.SplitAfter(strings.TrimSuffix(legacySpool, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("stream has %d entries, want %d", len(got), len(lines))
	}
	for i, line := range lines {
		want, err := parseSpoolLine([]byte(line))
		if err != nil {
			t.Fatalf("spool line %d: %v", i, err)
		}
		for j, name := range fieldNames {
			if got[i][2*j] != name {
				t.Errorf("entry %d item %d = %q, want field name %q", i, 2*j, got[i][2*j], name)
			}
			if got[i][2*j+1] != want[j] {
				t.Errorf("entry %d field %s = %q, want %q", i, name, got[i][2*j+1], want[j])
			}
		}
	}
	problems, err := VerifyStream(context.Background(), c, DefaultStream, testKey)
	if err != nil {
		t.Fatalf("VerifyStream: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("VerifyStream found %d problems, first: %v", len(problems), problems[0])
	}
}
