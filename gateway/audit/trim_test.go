package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/internal/redistest"
)

// trimFixture is a stream with two writer instances whose chains both
// cross the cut-off: 5 and 3 entries before it, 4 and 2 after.
type trimFixture struct {
	c      redis.UniversalClient
	cutoff time.Time
	// first is the instance with 5 entries before the cut-off.
	first  string
	before []redis.XMessage
	after  []redis.XMessage
}

func newTrimFixture(t *testing.T) *trimFixture {
	t.Helper()
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w1 := newTestWriter(t, Config{Client: c})
	w2 := newTestWriter(t, Config{Client: c})

	commitRecords(t, w1, "old-a", 5)
	commitRecords(t, w2, "old-b", 3)
	waitFor(t, "8 entries", 5*time.Second, func() bool { return len(readStream(t, c, DefaultStream)) == 8 })
	time.Sleep(5 * time.Millisecond)
	commitRecords(t, w1, "new-a", 4)
	commitRecords(t, w2, "new-b", 2)
	closeWriter(t, w1)
	closeWriter(t, w2)

	msgs := readStream(t, c, DefaultStream)
	ms, _ := splitID(msgs[8].ID)
	return &trimFixture{c: c, cutoff: time.UnixMilli(int64(ms)), first: w1.Instance(),
		before: msgs[:8], after: msgs[8:]}
}

// entryID returns the id of the first instance's entry with seq.
func (fx *trimFixture) entryID(t *testing.T, seq string) string {
	t.Helper()
	for _, m := range append(fx.before[:len(fx.before):len(fx.before)], fx.after...) {
		if field(m, "instance") == fx.first && field(m, "seq") == seq {
			return m.ID
		}
	}
	t.Fatalf("no entry with seq %s", seq)
	return ""
}

func (fx *trimFixture) trim(t *testing.T, force bool) *TrimResult {
	t.Helper()
	res, err := Trim(context.Background(), TrimConfig{
		Client: fx.c, ChainKey: testKey, Cutoff: fx.cutoff, Force: force, Operator: "alice",
	})
	if err != nil {
		t.Fatalf("Trim: %v", err)
	}
	return res
}

func verifyProblems(t *testing.T, c redis.UniversalClient) []Problem {
	t.Helper()
	problems, err := VerifyStream(context.Background(), c, DefaultStream, testKey)
	if err != nil {
		t.Fatalf("VerifyStream: %v", err)
	}
	return problems
}

func hasReason(problems []Problem, want string) bool {
	for _, p := range problems {
		if strings.Contains(p.Reason, want) {
			return true
		}
	}
	return false
}

func TestTrimRemovesOldEntries(t *testing.T) {
	fx := newTrimFixture(t)
	res := fx.trim(t, false)

	if res.Removed != 8 {
		t.Errorf("Removed = %d, want 8", res.Removed)
	}
	if res.Chains != 2 {
		t.Errorf("Chains = %d, want 2", res.Chains)
	}
	if res.LastEntryID != fx.before[7].ID {
		t.Errorf("LastEntryID = %q, want %q", res.LastEntryID, fx.before[7].ID)
	}
	msgs := readStream(t, fx.c, DefaultStream)
	if len(msgs) != 7 {
		t.Fatalf("stream has %d entries after the trim, want 6 kept and 1 trim record", len(msgs))
	}
	if msgs[0].ID != fx.after[0].ID {
		t.Errorf("first entry after the trim is %s, want %s", msgs[0].ID, fx.after[0].ID)
	}
}

func TestTrimWritesOwnRecord(t *testing.T) {
	fx := newTrimFixture(t)
	res := fx.trim(t, false)

	got, err := Query(context.Background(), fx.c, DefaultStream, Filter{Decision: DecisionTrim})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(got.Records) != 1 {
		t.Fatalf("found %d trim records, want 1", len(got.Records))
	}
	rec := got.Records[0]
	reasons := strings.Join(rec.Reasons, " | ")
	checks := []struct {
		name string
		ok   bool
	}{
		{"request id", rec.ID == res.RecordID},
		{"consumer is operator", rec.Consumer == OperatorConsumer},
		{"seq starts a chain", rec.Seq == 1},
		{"reasons name the cut-off", strings.Contains(reasons, "cut-off "+fx.cutoff.UTC().Format(time.RFC3339))},
		{"reasons count the records", strings.Contains(reasons, "8 records")},
		{"reasons name the operator", strings.Contains(reasons, "operator alice")},
	}
	for _, ck := range checks {
		if !ck.ok {
			t.Errorf("%s: record %+v", ck.name, rec)
		}
	}
}

func TestVerifyAfterTrim(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, fx *trimFixture)
		want   string // "" for no problem
	}{
		{
			name:   "untouched",
			tamper: func(*testing.T, *trimFixture) {},
		},
		{
			name: "first kept entry deleted",
			tamper: func(t *testing.T, fx *trimFixture) {
				xdel(t, fx.c, fx.entryID(t, "6"))
			},
			want: "seq 6 to 6 missing",
		},
		{
			name: "middle entry deleted",
			tamper: func(t *testing.T, fx *trimFixture) {
				xdel(t, fx.c, fx.entryID(t, "7"))
			},
			want: "seq 7 to 7 missing",
		},
		{
			name: "last entry deleted",
			tamper: func(t *testing.T, fx *trimFixture) {
				xdel(t, fx.c, fx.entryID(t, "9"))
			},
			want: "missing at the end",
		},
		{
			name: "trim point edited",
			tamper: func(t *testing.T, fx *trimFixture) {
				tkey, _ := trimsKey(DefaultStream)
				instance := fx.first
				forged := newTrimSigner([]byte("another-chain-key-0123456789abcd")).
					format(instance, TrimPoint{Seq: 6, Hash: "x"})
				if err := fx.c.HSet(context.Background(), tkey, instance, forged).Err(); err != nil {
					t.Fatalf("HSET: %v", err)
				}
			},
			want: "trim point does not match its signature",
		},
		{
			name: "trim point removed",
			tamper: func(t *testing.T, fx *trimFixture) {
				tkey, _ := trimsKey(DefaultStream)
				if err := fx.c.HDel(context.Background(), tkey, fx.first).Err(); err != nil {
					t.Fatalf("HDEL: %v", err)
				}
			},
			want: "seq 1 to 5 missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newTrimFixture(t)
			fx.trim(t, false)
			tt.tamper(t, fx)
			problems := verifyProblems(t, fx.c)
			if tt.want == "" {
				if len(problems) != 0 {
					t.Errorf("VerifyStream found problems: %v", problems)
				}
				return
			}
			if !hasReason(problems, tt.want) {
				t.Errorf("no problem says %q: %v", tt.want, problems)
			}
		})
	}
}

func xdel(t *testing.T, c redis.UniversalClient, id string) {
	t.Helper()
	if err := c.XDel(context.Background(), DefaultStream, id).Err(); err != nil {
		t.Fatalf("XDEL: %v", err)
	}
}

func TestTrimTwiceVerifies(t *testing.T) {
	fx := newTrimFixture(t)
	fx.trim(t, false)

	// A second trim up to now removes the rest, the first trim record
	// included.
	time.Sleep(2 * time.Millisecond)
	fx.cutoff = time.Now()
	res := fx.trim(t, false)
	if res.Removed != 7 {
		t.Errorf("second trim removed %d entries, want 7", res.Removed)
	}
	if problems := verifyProblems(t, fx.c); len(problems) != 0 {
		t.Errorf("VerifyStream after two trims found problems: %v", problems)
	}
}

func TestTrimRefusesBrokenRange(t *testing.T) {
	fx := newTrimFixture(t)
	xdel(t, fx.c, fx.entryID(t, "2"))

	_, err := Trim(context.Background(), TrimConfig{Client: fx.c, ChainKey: testKey, Cutoff: fx.cutoff})
	if err == nil {
		t.Fatal("Trim removed a range that fails verification")
	}
	if !strings.Contains(err.Error(), "fail verification") {
		t.Errorf("error %q does not say the range fails verification", err)
	}
	if n := len(readStream(t, fx.c, DefaultStream)); n != 13 {
		t.Errorf("stream has %d entries after the refused trim, want 13 (nothing removed, no record)", n)
	}
}

func TestTrimForcedPastBrokenRange(t *testing.T) {
	fx := newTrimFixture(t)
	xdel(t, fx.c, fx.entryID(t, "2"))

	res := fx.trim(t, true)
	if len(res.Problems) == 0 {
		t.Error("forced trim reported no problems in the removed range")
	}
	got, err := Query(context.Background(), fx.c, DefaultStream, Filter{Decision: DecisionTrim})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(got.Records) != 1 || !strings.Contains(strings.Join(got.Records[0].Reasons, " "), "forced past") {
		t.Errorf("trim record does not say it was forced: %+v", got.Records)
	}
	if problems := verifyProblems(t, fx.c); len(problems) != 0 {
		t.Errorf("VerifyStream after a forced trim found problems: %v", problems)
	}
}

func TestTrimKeepsEvidenceOfDeletedLastOldEntry(t *testing.T) {
	// A deleted last entry before the cut-off leaves no gap inside the
	// removed range, so the trim goes ahead. The next kept entry then
	// shows the gap.
	fx := newTrimFixture(t)
	xdel(t, fx.c, fx.entryID(t, "5"))
	fx.trim(t, false)

	if problems := verifyProblems(t, fx.c); !hasReason(problems, "seq 5 to 5 missing") {
		t.Errorf("no problem names seq 5: %v", problems)
	}
}

func TestTrimNothingOlder(t *testing.T) {
	fx := newTrimFixture(t)
	fx.cutoff = time.UnixMilli(1)
	res := fx.trim(t, false)
	if res.Removed != 0 {
		t.Errorf("Removed = %d, want 0", res.Removed)
	}
	if res.RecordID != "" {
		t.Errorf("a trim that removed nothing wrote record %q", res.RecordID)
	}
	if n := len(readStream(t, fx.c, DefaultStream)); n != 14 {
		t.Errorf("stream has %d entries, want 14", n)
	}
}

func TestTrimRejectsBadConfig(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	tests := []struct {
		name string
		cfg  TrimConfig
		want string
	}{
		{"no client", TrimConfig{ChainKey: testKey, Cutoff: time.Now()}, "no redis client"},
		{"short key", TrimConfig{Client: c, ChainKey: []byte("short"), Cutoff: time.Now()}, "chain key"},
		{"no cut-off", TrimConfig{Client: c, ChainKey: testKey}, "cut-off is missing"},
		{"future cut-off", TrimConfig{Client: c, ChainKey: testKey, Cutoff: time.Now().Add(time.Hour)}, "in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Trim(context.Background(), tt.cfg)
			if err == nil {
				t.Fatal("Trim accepted the config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestVerifyStartAfter(t *testing.T) {
	msgs, last, _ := writeChain(t, 6)
	cut := TrimPoint{Seq: 3, Hash: field(msgs[2], "hash")}
	instance := field(msgs[0], "instance")

	tests := []struct {
		name    string
		point   TrimPoint
		entries []redis.XMessage
		want    string
	}{
		{"chain from the trim point", cut, msgs[3:], ""},
		{"first entry after the point deleted", cut, msgs[4:], "seq 4 to 4 missing"},
		{"point with the wrong hash", TrimPoint{Seq: 3, Hash: "x"}, msgs[3:], "prev does not match"},
		{"point behind the chain", TrimPoint{Seq: 1, Hash: field(msgs[0], "hash")}, msgs[3:], "seq 2 to 3 missing"},
		{"point ahead of the chain", TrimPoint{Seq: 4, Hash: field(msgs[3], "hash")}, msgs[3:], "seq repeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(testKey)
			v.StartAfter(instance, tt.point)
			for _, m := range tt.entries {
				v.Add(m)
			}
			problems := v.Finish(last)
			if tt.want == "" {
				if len(problems) != 0 {
					t.Errorf("Verifier found problems: %v", problems)
				}
				return
			}
			if !hasReason(problems, tt.want) {
				t.Errorf("no problem says %q: %v", tt.want, problems)
			}
		})
	}
}

func TestNextEntryID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"1700000000000-0", "1700000000000-1"},
		{"1700000000000-41", "1700000000000-42"},
		{"5-18446744073709551615", "6-0"},
	}
	for _, tt := range tests {
		if got := nextEntryID(tt.id); got != tt.want {
			t.Errorf("nextEntryID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
