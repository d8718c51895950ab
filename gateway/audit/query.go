package audit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of a query. A query holds at most Limit records in memory and
// reads the stream in pages of queryPageSize entries, so a search over a
// long stream costs time, never memory.
const (
	DefaultQueryLimit = 100
	MaxQueryLimit     = 10000
	// DefaultMaxScan is how many stream entries a query reads at most
	// before it stops and returns a cursor to go on from.
	DefaultMaxScan = 1_000_000
	queryPageSize  = 500
)

// subjectHashLen is the length of Record.SubjectHash as the gateway writes
// it: 16 bytes of HMAC-SHA256 in lowercase hex.
const subjectHashLen = 32

// Filter selects audit records. Every set field must match, and an empty
// field matches every record.
//
// Since and Until select by stream entry id, which is the time Redis
// stored the record, in milliseconds. NOTE: a record replayed from the
// spool after a Redis outage is stored when Redis returns, so its entry id
// can be later than its time field (the request's arrival) by the length
// of the outage.
type Filter struct {
	Consumer string
	Org      string
	Resource string
	// SubjectHash is the keyed hash of the subject identifier, as the
	// gateway records it. Callers hash the raw identifier first.
	SubjectHash string
	// Decision is DecisionAllow, DecisionDeny, DecisionError,
	// DecisionTrim, or a registry action such as "register" or
	// "application.approve".
	Decision string
	// Status is the HTTP status sent to the consumer; 0 matches any.
	Status int
	// Since is the earliest entry time, inclusive; zero means the start
	// of the stream.
	Since time.Time
	// Until is the latest entry time, exclusive; zero means the end of
	// the stream.
	Until time.Time
	// After resumes a query after this entry id (exclusive in the order of
	// the query), as returned in QueryResult.Next.
	After string
	// Newest returns the newest records first.
	Newest bool
	// Limit is the maximum number of records returned; DefaultQueryLimit
	// when zero, at most MaxQueryLimit.
	Limit int
	// MaxScan is the maximum number of entries read; DefaultMaxScan when
	// zero.
	MaxScan int
}

// Hit is one audit record that matched a query, as stored in the stream.
type Hit struct {
	// EntryID is the stream entry id.
	EntryID       string    `json:"entry_id"`
	ID            string    `json:"id"`
	Time          time.Time `json:"time"`
	Instance      string    `json:"instance"`
	Seq           uint64    `json:"seq"`
	Consumer      string    `json:"consumer"`
	Org           string    `json:"org"`
	Resource      string    `json:"resource"`
	Provider      string    `json:"provider"`
	Scenario      string    `json:"scenario"`
	GrantID       string    `json:"grant"`
	Method        string    `json:"method"`
	Path          string    `json:"path"`
	Decision      string    `json:"decision"`
	Reasons       []string  `json:"reasons"`
	PolicyVersion string    `json:"policy_version"`
	Status        int       `json:"status"`
	Bytes         int64     `json:"bytes"`
	Masked        int       `json:"masked"`
	// UpstreamMS and TotalMS are latencies in milliseconds.
	UpstreamMS  float64 `json:"upstream_ms"`
	TotalMS     float64 `json:"total_ms"`
	SubjectHash string  `json:"subject"`
	ClientIP    string  `json:"client_ip"`
}

// QueryResult is the outcome of one query.
type QueryResult struct {
	Records []Hit `json:"records"`
	// Scanned counts the stream entries read.
	Scanned int `json:"scanned"`
	// Invalid counts entries skipped because a field is missing or not a
	// number; VerifyStream reports them.
	Invalid int `json:"invalid"`
	// Next is the entry id to pass as Filter.After to read on. It is empty
	// when the query reached the end of its time range.
	Next string `json:"next,omitempty"`
}

// knownDecision reports whether d is a decision some record can carry:
// a data call's, a trim's, or a registry action's.
func knownDecision(d string) bool {
	switch d {
	case "", DecisionAllow, DecisionDeny, DecisionError, DecisionTrim,
		"register", "update", "retire":
		return true
	}
	for _, prefix := range []string{"application.", "grant.", "credit."} {
		if rest, ok := strings.CutPrefix(d, prefix); ok && rest != "" && isLowerWord(rest) {
			return true
		}
	}
	return false
}

func isLowerWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// Validate checks f and reports the first field that is wrong and how to
// fix it.
func (f *Filter) Validate() error {
	if !knownDecision(f.Decision) {
		return fmt.Errorf("invalid decision %q: use allow, deny, error, trim, a registry "+
			"action (register, update, retire) or an application action such as "+
			"application.approve or grant.revoke", f.Decision)
	}
	if f.SubjectHash != "" && !isLowerHex(f.SubjectHash, subjectHashLen) {
		// The value is not quoted: it may be a raw identifier given where
		// its hash belongs, and the error may reach a log.
		return fmt.Errorf("invalid subject hash of %d characters: want %d lowercase hex digits "+
			"as the gateway records them; search by the raw identifier to have it hashed",
			len(f.SubjectHash), subjectHashLen)
	}
	if f.Status < 0 || f.Status > 999 {
		return fmt.Errorf("invalid status %d: use an HTTP status such as 403, or 0 for any", f.Status)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return fmt.Errorf("invalid time range: since %s is not before until %s",
			f.Since.UTC().Format(time.RFC3339), f.Until.UTC().Format(time.RFC3339))
	}
	if (!f.Since.IsZero() && f.Since.UnixMilli() < 0) || (!f.Until.IsZero() && f.Until.UnixMilli() < 0) {
		return errors.New("invalid time range: times before 1970 have no stream entry id")
	}
	if f.After != "" && !isEntryID(f.After) {
		return fmt.Errorf("invalid cursor %q: want a stream entry id such as 1700000000000-0", f.After)
	}
	if f.Limit < 0 || f.Limit > MaxQueryLimit {
		return fmt.Errorf("invalid limit %d: use 1 to %d, or 0 for %d", f.Limit, MaxQueryLimit, DefaultQueryLimit)
	}
	if f.MaxScan < 0 {
		return fmt.Errorf("invalid max scan %d: must not be negative", f.MaxScan)
	}
	return nil
}

// Query reads the audit stream in pages and returns the records that
// match f, oldest first unless f.Newest is set.
func Query(ctx context.Context, client redis.UniversalClient, stream string, f Filter) (*QueryResult, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultQueryLimit
	}
	maxScan := f.MaxScan
	if maxScan == 0 {
		maxScan = DefaultMaxScan
	}

	low, high := f.idRange()
	res := &QueryResult{Records: []Hit{}}
	for res.Scanned < maxScan {
		count := min(queryPageSize, maxScan-res.Scanned)
		page, err := readPage(ctx, client, stream, low, high, count, f.Newest)
		if err != nil {
			return nil, err
		}
		done, err := f.collect(page, res, limit)
		if err != nil {
			return nil, err
		}
		if done {
			return res, nil
		}
		if len(page) < count {
			res.Next = ""
			return res, nil
		}
		last := page[len(page)-1].ID
		if f.Newest {
			high = "(" + last
		} else {
			low = "(" + last
		}
	}
	return res, nil
}

// collect adds the matching entries of page to res and sets res.Next to
// the last entry read. It reports whether res holds limit records.
func (f *Filter) collect(page []redis.XMessage, res *QueryResult, limit int) (bool, error) {
	for _, msg := range page {
		res.Scanned++
		res.Next = msg.ID
		if !f.matches(msg.Values) {
			continue
		}
		hit, err := hitFromMessage(msg)
		if err != nil {
			res.Invalid++
			continue
		}
		res.Records = append(res.Records, hit)
		if len(res.Records) == limit {
			return true, nil
		}
	}
	return false, nil
}

func readPage(ctx context.Context, client redis.UniversalClient, stream, low, high string,
	count int, newest bool,
) ([]redis.XMessage, error) {
	var (
		page []redis.XMessage
		err  error
	)
	if newest {
		page, err = client.XRevRangeN(ctx, stream, high, low, int64(count)).Result()
	} else {
		page, err = client.XRangeN(ctx, stream, low, high, int64(count)).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("reading audit stream %q: %w", stream, err)
	}
	return page, nil
}

// idRange returns the XRANGE bounds of f: the low bound inclusive unless
// it starts with "(", the high bound likewise.
func (f *Filter) idRange() (low, high string) {
	low, high = "-", "+"
	if !f.Since.IsZero() {
		low = strconv.FormatInt(f.Since.UnixMilli(), 10) + "-0"
	}
	if !f.Until.IsZero() {
		high = "(" + strconv.FormatInt(f.Until.UnixMilli(), 10) + "-0"
	}
	if f.After == "" {
		return low, high
	}
	// A cursor from an earlier page narrows the range further on the side
	// the query moves away from.
	if f.Newest {
		if high == "+" || compareIDs(f.After, strings.TrimPrefix(high, "(")) < 0 {
			high = "(" + f.After
		}
	} else if low == "-" || compareIDs(f.After, low) >= 0 {
		low = "(" + f.After
	}
	return low, high
}

// matches compares the filter's fields with an entry's raw values, so
// entries that do not match are never decoded.
func (f *Filter) matches(values map[string]any) bool {
	return fieldIs(values, "consumer", f.Consumer) &&
		fieldIs(values, "org", f.Org) &&
		fieldIs(values, "resource", f.Resource) &&
		fieldIs(values, "subject", f.SubjectHash) &&
		fieldIs(values, "decision", f.Decision) &&
		(f.Status == 0 || fieldIs(values, "status", strconv.Itoa(f.Status)))
}

func fieldIs(values map[string]any, name, want string) bool {
	if want == "" {
		return true
	}
	got, _ := values[name].(string)
	return got == want
}

// hitFromMessage decodes a stream entry. It fails when a field is missing
// or a numeric field does not parse.
func hitFromMessage(msg redis.XMessage) (Hit, error) {
	e, err := entryFromValues(func(name string) (string, bool) {
		s, ok := msg.Values[name].(string)
		return s, ok
	})
	if err != nil {
		return Hit{}, err
	}

	h := Hit{
		EntryID: msg.ID, ID: e[fieldID], Instance: e[fieldInstance],
		Consumer: e[5], Org: e[6], Resource: e[7], Provider: e[8],
		Scenario: e[9], GrantID: e[10], Method: e[11], Path: e[12],
		Decision: e[13], PolicyVersion: e[15],
		SubjectHash: e[21], ClientIP: e[22],
	}
	h.Seq, _ = strconv.ParseUint(e[fieldSeq], 10, 64) // checked by entryFromValues

	if h.Time, err = time.Parse(time.RFC3339Nano, e[fieldTime]); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"time\" %q", e[fieldTime])
	}
	if err := json.Unmarshal([]byte(e[14]), &h.Reasons); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"reasons\": %w", err)
	}

	if h.Status, err = strconv.Atoi(e[16]); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"status\" %q", e[16])
	}
	if h.Bytes, err = strconv.ParseInt(e[17], 10, 64); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"bytes\" %q", e[17])
	}
	if h.Masked, err = strconv.Atoi(e[18]); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"masked\" %q", e[18])
	}
	if h.UpstreamMS, err = strconv.ParseFloat(e[19], 64); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"upstream_ms\" %q", e[19])
	}
	if h.TotalMS, err = strconv.ParseFloat(e[20], 64); err != nil {
		return Hit{}, fmt.Errorf("invalid field \"total_ms\" %q", e[20])
	}
	return h, nil
}

// isEntryID reports whether s is a complete stream entry id, "ms-seq".
func isEntryID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

// compareIDs orders two complete stream entry ids. An id that does not
// parse sorts first.
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	return cmp.Or(cmp.Compare(am, bm), cmp.Compare(as, bs))
}

func splitID(id string) (ms, seq uint64) {
	msText, seqText, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(msText, 10, 64)
	seq, _ = strconv.ParseUint(seqText, 10, 64)
	return ms, seq
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
