package audit

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Problem is one break found in an audit chain.
type Problem struct {
	// EntryID is the stream entry id, empty for records missing at the end
	// of a chain.
	EntryID  string `json:"entry_id,omitempty"`
	Instance string `json:"instance"`
	Seq      uint64 `json:"seq,omitempty"`
	Reason   string `json:"reason"`
}

func (p Problem) String() string {
	if p.EntryID == "" {
		return fmt.Sprintf("instance %q: %s", p.Instance, p.Reason)
	}
	return fmt.Sprintf("entry %s (instance %q, seq %d): %s", p.EntryID, p.Instance, p.Seq, p.Reason)
}

// Verifier recomputes the hash chains of stream entries fed in stream
// order, one chain per writer instance. It finds an edited or forged entry
// (hash mismatch), a deleted entry (seq gap, or with the writers hash a
// missing tail) and an inserted or repeated entry (seq not increasing).
//
// A chain starts at seq 1, or right after its trim point (see Trim and
// StartAfter). A stream trimmed any other way, such as XADD MAXLEN, shows
// its trimmed start as missing records.
type Verifier struct {
	enc      *encoder
	chains   map[string]*chainState
	problems []Problem
}

type chainState struct {
	seq  uint64
	hash string
}

// NewVerifier returns a Verifier for chains made with key.
func NewVerifier(key []byte) *Verifier {
	return &Verifier{enc: newEncoder(key), chains: make(map[string]*chainState)}
}

// StartAfter sets where instance's chain resumes after a trim: its first
// entry must then have seq p.Seq+1 and prev p.Hash. Gaps and edits after
// that point are found as in a chain that starts at seq 1. Call it before
// Add.
func (v *Verifier) StartAfter(instance string, p TrimPoint) {
	v.chains[instance] = &chainState{seq: p.Seq, hash: p.Hash}
}

// Add checks the next entry of the stream.
func (v *Verifier) Add(msg redis.XMessage) {
	e, err := entryFromValues(func(name string) (string, bool) {
		s, ok := msg.Values[name].(string)
		return s, ok
	})
	if err != nil {
		v.report(msg.ID, "", 0, fmt.Sprintf("invalid entry: %v", err))
		return
	}
	instance := e[fieldInstance]
	seq, _ := strconv.ParseUint(e[fieldSeq], 10, 64) // checked by entryFromValues

	if got := v.enc.chainHash(&e); got != e[fieldHash] {
		v.report(msg.ID, instance, seq, "hash does not match the fields: entry edited or forged")
	}

	st := v.chains[instance]
	if st == nil {
		st = &chainState{}
		v.chains[instance] = st
	}
	switch {
	case seq <= st.seq:
		v.report(msg.ID, instance, seq, fmt.Sprintf("seq repeats or goes back after seq %d: entry inserted", st.seq))
		return
	case seq > st.seq+1:
		v.report(msg.ID, instance, seq, fmt.Sprintf("seq %d to %d missing: entries deleted", st.seq+1, seq-1))
	case e[fieldPrev] != st.hash:
		v.report(msg.ID, instance, seq, fmt.Sprintf("prev does not match the hash of seq %d", st.seq))
	}
	st.seq = seq
	st.hash = e[fieldHash]
}

// Finish returns every problem found. last, when not nil, holds the last
// seq each instance wrote (the writers hash next to the stream), which
// reveals records deleted from the end of a chain.
func (v *Verifier) Finish(last map[string]uint64) []Problem {
	instances := make([]string, 0, len(last))
	for instance := range last {
		instances = append(instances, instance)
	}
	sort.Strings(instances)

	for _, instance := range instances {
		var seen uint64
		if st := v.chains[instance]; st != nil {
			seen = st.seq
		}
		if want := last[instance]; seen < want {
			v.report("", instance, 0, fmt.Sprintf("seq %d to %d missing at the end: entries deleted", seen+1, want))
		}
	}
	return v.problems
}

func (v *Verifier) report(id, instance string, seq uint64, reason string) {
	v.problems = append(v.problems, Problem{EntryID: id, Instance: instance, Seq: seq, Reason: reason})
}

// Verify checks entries, in stream order, with key; see Verifier. It
// returns nil when every chain is whole.
func Verify(key []byte, entries []redis.XMessage, last map[string]uint64) []Problem {
	v := NewVerifier(key)
	for _, msg := range entries {
		v.Add(msg)
	}
	return v.Finish(last)
}

// verifyPageSize is how many entries VerifyStream reads per XRANGE.
const verifyPageSize = 1000

// VerifyStream reads the whole stream, its writers hash and its trim
// points from Redis and checks every chain with key. A trim point whose
// signature does not match is reported and ignored.
func VerifyStream(ctx context.Context, client redis.UniversalClient, stream string, key []byte) ([]Problem, error) {
	// Read the writers hash first: records added during the scan can then
	// only be extra, never reported missing.
	last, err := lastSeqs(ctx, client, stream)
	if err != nil {
		return nil, err
	}
	points, pointProblems, err := readTrimPoints(ctx, client, stream, key)
	if err != nil {
		return nil, err
	}

	v := NewVerifier(key)
	v.problems = append(v.problems, pointProblems...)
	for instance, p := range points {
		v.StartAfter(instance, p)
	}
	start := "-"
	for {
		page, err := client.XRangeN(ctx, stream, start, "+", verifyPageSize).Result()
		if err != nil {
			return nil, fmt.Errorf("reading audit stream %q: %w", stream, err)
		}
		for _, msg := range page {
			v.Add(msg)
		}
		if len(page) < verifyPageSize {
			break
		}
		start = "(" + page[len(page)-1].ID
	}
	return v.Finish(last), nil
}
