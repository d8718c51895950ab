package audit

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citydata/datagateway/internal/redistest"
)

const (
	subjectA = "0123456789abcdef0123456789abcdef"
	subjectB = "fedcba9876543210fedcba9876543210"
)

// queryRecords are the records the query tests write, in order. The
// request id names what sets each one apart.
func queryRecords() []*Record {
	make := func(id, consumer, org, resource, decision, subject string, status int) *Record {
		r := testRecord(id)
		r.Consumer, r.Org, r.Resource = consumer, org, resource
		r.Decision, r.SubjectHash, r.Status = decision, subject, status
		return r
	}
	return []*Record{
		make("civil-allow-a", "siming-civil", "Siming Civil Affairs", "population-persons", DecisionAllow, subjectA, 200),
		make("civil-deny-b", "siming-civil", "Siming Civil Affairs", "marriage-records", DecisionDeny, subjectB, 403),
		make("bank-allow-a", "xm-bank", "Xiamen Bank", "population-persons", DecisionAllow, subjectA, 200),
		make("bank-error", "xm-bank", "Xiamen Bank", "enterprise-credit", DecisionError, "", 503),
		make("fund-deny-a", "housing-fund", "Housing Fund Centre", "population-persons", DecisionDeny, subjectA, 403),
		make("anon-deny", "", "", "", DecisionDeny, "", 401),
	}
}

// writeRecords writes records through a real writer and waits until the
// stream holds them.
func writeRecords(t *testing.T, c redis.UniversalClient, records []*Record) {
	t.Helper()
	w := startWriter(t, Config{Client: c})
	for _, r := range records {
		tk, err := w.Reserve()
		if err != nil {
			t.Fatalf("Reserve: %v", err)
		}
		tk.Commit(r)
	}
	closeWriter(t, w)
}

func hitIDs(hits []Hit) string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return strings.Join(ids, ",")
}

func TestQueryFilters(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	writeRecords(t, c, queryRecords())

	tests := []struct {
		name   string
		filter Filter
		want   string
	}{
		{"no filter", Filter{}, "civil-allow-a,civil-deny-b,bank-allow-a,bank-error,fund-deny-a,anon-deny"},
		{"consumer", Filter{Consumer: "xm-bank"}, "bank-allow-a,bank-error"},
		{"organisation", Filter{Org: "Siming Civil Affairs"}, "civil-allow-a,civil-deny-b"},
		{"resource", Filter{Resource: "population-persons"}, "civil-allow-a,bank-allow-a,fund-deny-a"},
		{"subject", Filter{SubjectHash: subjectA}, "civil-allow-a,bank-allow-a,fund-deny-a"},
		{"other subject", Filter{SubjectHash: subjectB}, "civil-deny-b"},
		{"decision deny", Filter{Decision: DecisionDeny}, "civil-deny-b,fund-deny-a,anon-deny"},
		{"decision error", Filter{Decision: DecisionError}, "bank-error"},
		{"status", Filter{Status: 401}, "anon-deny"},
		{"subject and decision", Filter{SubjectHash: subjectA, Decision: DecisionDeny}, "fund-deny-a"},
		{"consumer and resource", Filter{Consumer: "xm-bank", Resource: "population-persons"}, "bank-allow-a"},
		{"no match", Filter{Consumer: "xm-bank", Decision: DecisionDeny}, ""},
		{"unknown consumer", Filter{Consumer: "nobody"}, ""},
		{"newest first", Filter{Consumer: "xm-bank", Newest: true}, "bank-error,bank-allow-a"},
		{"limit", Filter{Decision: DecisionDeny, Limit: 2}, "civil-deny-b,fund-deny-a"},
		{"limit newest", Filter{Decision: DecisionDeny, Limit: 1, Newest: true}, "anon-deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Query(context.Background(), c, DefaultStream, tt.filter)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if got := hitIDs(res.Records); got != tt.want {
				t.Errorf("records = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQueryDecodesFields(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	writeRecords(t, c, []*Record{testRecord("one")})

	res, err := Query(context.Background(), c, DefaultStream, Filter{})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if len(res.Records) != 1 {
		t.Fatalf("Query returned %d records, want 1", len(res.Records))
	}
	h := res.Records[0]
	want := testRecord("one")
	checks := []struct {
		name      string
		got, want any
	}{
		{"id", h.ID, want.ID},
		{"time", h.Time.Equal(want.Time), true},
		{"seq", h.Seq, uint64(1)},
		{"consumer", h.Consumer, want.Consumer},
		{"grant", h.GrantID, want.GrantID},
		{"reasons", strings.Join(h.Reasons, "|"), strings.Join(want.Reasons, "|")},
		{"status", h.Status, want.Status},
		{"bytes", h.Bytes, want.Bytes},
		{"masked", h.Masked, want.Masked},
		{"upstream ms", h.UpstreamMS, 12.345},
		{"total ms", h.TotalMS, 15.0},
		{"subject", h.SubjectHash, want.SubjectHash},
		{"entry id set", h.EntryID != "", true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestQueryPagesWithCursor(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	// More entries than one page, so every query crosses page borders.
	const n = 3*queryPageSize + 7
	w := newTestWriter(t, Config{Client: c})
	commitRecords(t, w, "req", n)
	closeWriter(t, w)

	for _, newest := range []bool{false, true} {
		t.Run("newest="+strconv.FormatBool(newest), func(t *testing.T) {
			seen := map[string]bool{}
			f := Filter{Limit: 400, Newest: newest}
			for round := 0; ; round++ {
				if round > 10 {
					t.Fatal("cursor did not reach the end within 10 rounds")
				}
				res, err := Query(context.Background(), c, DefaultStream, f)
				if err != nil {
					t.Fatalf("Query: %v", err)
				}
				for _, h := range res.Records {
					if seen[h.ID] {
						t.Fatalf("record %q returned twice", h.ID)
					}
					seen[h.ID] = true
				}
				if res.Next == "" {
					break
				}
				f.After = res.Next
			}
			if len(seen) != n {
				t.Errorf("cursor walk returned %d records, want %d", len(seen), n)
			}
		})
	}
}

func TestQueryMaxScanStopsWithCursor(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	w := newTestWriter(t, Config{Client: c})
	commitRecords(t, w, "req", 50)
	closeWriter(t, w)

	res, err := Query(context.Background(), c, DefaultStream, Filter{Consumer: "nobody", MaxScan: 20})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if res.Scanned != 20 {
		t.Errorf("Scanned = %d, want 20", res.Scanned)
	}
	if res.Next == "" {
		t.Error("Next is empty, want a cursor to go on from")
	}
}

func TestQueryTimeRange(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)

	// Three groups written apart in time; the bounds come from the entry
	// ids Redis gave them, so the test does not depend on clock skew.
	var firstIDs []string
	for _, group := range []string{"early", "middle", "late"} {
		before := len(readStream(t, c, DefaultStream))
		w := newTestWriter(t, Config{Client: c})
		commitRecords(t, w, group, 3)
		closeWriter(t, w)
		firstIDs = append(firstIDs, readStream(t, c, DefaultStream)[before].ID)
		time.Sleep(5 * time.Millisecond)
	}
	at := func(id string) time.Time {
		ms, _ := splitID(id)
		return time.UnixMilli(int64(ms))
	}

	tests := []struct {
		name   string
		filter Filter
		want   string
	}{
		{"since middle", Filter{Since: at(firstIDs[1])}, "middle-0,middle-1,middle-2,late-0,late-1,late-2"},
		{"until middle", Filter{Until: at(firstIDs[1])}, "early-0,early-1,early-2"},
		{"middle only", Filter{Since: at(firstIDs[1]), Until: at(firstIDs[2])}, "middle-0,middle-1,middle-2"},
		{"middle newest first", Filter{Since: at(firstIDs[1]), Until: at(firstIDs[2]), Newest: true},
			"middle-2,middle-1,middle-0"},
		{"future", Filter{Since: time.Now().Add(time.Hour)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Query(context.Background(), c, DefaultStream, tt.filter)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if got := hitIDs(res.Records); got != tt.want {
				t.Errorf("records = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQuerySkipsInvalidEntry(t *testing.T) {
	srv := redistest.Start(t)
	c := testClient(t, srv.Addr)
	writeRecords(t, c, []*Record{testRecord("good")})
	ctx := context.Background()
	bad := map[string]any{"id": "bad", "consumer": "consumer-1", "status": "not-a-number"}
	if err := c.XAdd(ctx, &redis.XAddArgs{Stream: DefaultStream, Values: bad}).Err(); err != nil {
		t.Fatalf("XADD: %v", err)
	}

	res, err := Query(ctx, c, DefaultStream, Filter{Consumer: "consumer-1"})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if got := hitIDs(res.Records); got != "good" {
		t.Errorf("records = %q, want \"good\"", got)
	}
	if res.Invalid != 1 {
		t.Errorf("Invalid = %d, want 1", res.Invalid)
	}
}

func TestFilterValidateRejects(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		filter Filter
		want   string
	}{
		{"unknown decision", Filter{Decision: "maybe"}, `invalid decision "maybe"`},
		{"raw identity number as subject", Filter{SubjectHash: "350203196804140613"}, "32 lowercase hex"},
		{"uppercase subject hash", Filter{SubjectHash: strings.ToUpper(subjectA)}, "lowercase hex"},
		{"negative status", Filter{Status: -1}, "invalid status"},
		{"reversed range", Filter{Since: now, Until: now.Add(-time.Hour)}, "is not before until"},
		{"empty range", Filter{Since: now, Until: now}, "is not before until"},
		{"before 1970", Filter{Since: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, "before 1970"},
		{"bad cursor", Filter{After: "abc"}, `invalid cursor "abc"`},
		{"cursor with range syntax", Filter{After: "(1-0"}, "invalid cursor"},
		{"limit too large", Filter{Limit: MaxQueryLimit + 1}, "invalid limit"},
		{"negative limit", Filter{Limit: -1}, "invalid limit"},
		{"negative max scan", Filter{MaxScan: -1}, "invalid max scan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.filter.Validate()
			if err == nil {
				t.Fatal("Validate accepted the filter")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestFilterValidateDoesNotEchoSubject(t *testing.T) {
	const raw = "350203196804140613"
	f := Filter{SubjectHash: raw}
	err := f.Validate()
	if err == nil {
		t.Fatal("Validate accepted a raw identity number as subject hash")
	}
	if strings.Contains(err.Error(), raw) {
		t.Errorf("error %q contains the raw identity number", err)
	}
}
