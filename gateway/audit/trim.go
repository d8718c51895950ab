package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Values of the record that Trim writes about itself.
const (
	// DecisionTrim is the decision of a retention trim's own record.
	DecisionTrim = "trim"
	// OperatorConsumer is the consumer of records that an operator's
	// command writes, as opposed to a consumer's request.
	OperatorConsumer = "operator"
)

// TrimPoint is the position at which a trim cut one writer instance's
// chain: the seq and hash of the last entry it removed. The chain's next
// entry must have seq Seq+1 and prev Hash.
type TrimPoint struct {
	Seq  uint64
	Hash string
}

// TrimConfig configures Trim.
type TrimConfig struct {
	Client redis.UniversalClient
	// Stream is the key of the audit stream; DefaultStream when empty.
	Stream string
	// ChainKey is the HMAC key of the hash chain. Trim verifies the
	// entries it removes, signs the trim points and chains its own record
	// with it.
	ChainKey []byte
	// Cutoff is the retention limit: entries that Redis stored before it
	// are removed. It must not be in the future.
	Cutoff time.Time
	// Force removes the entries even when they fail verification. Without
	// it, Trim refuses, because the trim would erase the evidence.
	Force bool
	// Operator names who runs the trim, such as an OS user name; it goes
	// into the trim record's reasons.
	Operator string
}

// TrimResult reports what Trim did.
type TrimResult struct {
	Cutoff time.Time `json:"cutoff"`
	// Removed is the number of entries XTRIM removed.
	Removed int64 `json:"removed"`
	// LastEntryID is the id of the last entry removed.
	LastEntryID string `json:"last_entry_id,omitempty"`
	// Chains is the number of writer instances whose trim point moved.
	Chains int `json:"chains"`
	// RecordID is the request id of the trim's own audit record.
	RecordID string `json:"record_id,omitempty"`
	// Problems lists what verification found in the removed entries; it
	// is not empty only with Force.
	Problems []Problem `json:"problems,omitempty"`
}

// Trim removes the audit entries stored before cfg.Cutoff with XTRIM MINID
// and records a trim point for every chain it cuts, so that VerifyStream
// still accepts the chains that now start after seq 1.
//
// It first reads and verifies the entries to remove. It then writes its
// own audit record as a one-entry chain: consumer OperatorConsumer,
// decision DecisionTrim, and the cut-off and the count in the reasons.
// Only then does it store the trim points and trim, in one MULTI
// transaction, so when the record cannot be written, nothing is removed.
//
// NOTE: a VerifyStream that runs while Trim commits can report the
// removed entries as missing or the trimmed chains as going back; run it
// again once Trim has returned.
func Trim(ctx context.Context, cfg TrimConfig) (*TrimResult, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	tkey, err := trimsKey(cfg.Stream)
	if err != nil {
		return nil, err
	}

	scan, err := scanTrimRange(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res := &TrimResult{Cutoff: cfg.Cutoff.UTC(), LastEntryID: scan.lastID, Problems: scan.problems}
	if scan.count == 0 {
		return res, nil
	}
	if len(scan.problems) > 0 && !cfg.Force {
		return nil, fmt.Errorf("trimming audit stream %q: %d of the entries to remove fail verification, "+
			"first %s: keep them as evidence, or trim with force", cfg.Stream, len(scan.problems), scan.problems[0])
	}

	rec := trimRecord(cfg, scan)
	if err := writeOperatorRecord(ctx, cfg.Client, cfg.Stream, cfg.ChainKey, rec); err != nil {
		return nil, fmt.Errorf("trimming audit stream %q: nothing removed: %w", cfg.Stream, err)
	}
	res.RecordID = rec.ID

	signer := newTrimSigner(cfg.ChainKey)
	values := make([]any, 0, 2*len(scan.points))
	for instance, p := range scan.points {
		values = append(values, instance, signer.format(instance, p))
	}
	var trimmed *redis.IntCmd
	_, err = cfg.Client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, tkey, values...)
		trimmed = pipe.XTrimMinID(ctx, cfg.Stream, nextEntryID(scan.lastID))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("trimming audit stream %q after writing trim record %q: %w",
			cfg.Stream, rec.ID, err)
	}
	res.Removed = trimmed.Val()
	res.Chains = len(scan.points)
	return res, nil
}

func (c *TrimConfig) normalize() error {
	if c.Client == nil {
		return errors.New("trimming audit stream: no redis client")
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if len(c.ChainKey) < MinChainKeyLength {
		return fmt.Errorf("trimming audit stream: chain key is %d bytes, want at least %d",
			len(c.ChainKey), MinChainKeyLength)
	}
	if c.Cutoff.IsZero() || c.Cutoff.UnixMilli() <= 0 {
		return errors.New("trimming audit stream: cut-off is missing: give the age of the oldest record to keep")
	}
	if c.Cutoff.After(time.Now()) {
		return fmt.Errorf("trimming audit stream: cut-off %s is in the future: give a time in the past",
			c.Cutoff.UTC().Format(time.RFC3339))
	}
	return nil
}

// trimScan is the result of scanTrimRange over the entries to remove.
type trimScan struct {
	count    int
	lastID   string
	points   map[string]TrimPoint
	problems []Problem
}

// scanTrimRange reads the entries stored before the cut-off, page by
// page, verifies their chains from the current trim points and collects
// each chain's new trim point.
func scanTrimRange(ctx context.Context, cfg TrimConfig) (*trimScan, error) {
	current, pointProblems, err := readTrimPoints(ctx, cfg.Client, cfg.Stream, cfg.ChainKey)
	if err != nil {
		return nil, err
	}
	v := NewVerifier(cfg.ChainKey)
	v.problems = append(v.problems, pointProblems...)
	for instance, p := range current {
		v.StartAfter(instance, p)
	}

	scan := &trimScan{points: make(map[string]TrimPoint)}
	low, high := "-", "("+strconv.FormatInt(cfg.Cutoff.UnixMilli(), 10)+"-0"
	for {
		page, err := cfg.Client.XRangeN(ctx, cfg.Stream, low, high, verifyPageSize).Result()
		if err != nil {
			return nil, fmt.Errorf("reading audit stream %q: %w", cfg.Stream, err)
		}
		for _, msg := range page {
			v.Add(msg)
			scan.count++
			scan.lastID = msg.ID
			scan.advance(msg)
		}
		if len(page) < verifyPageSize {
			break
		}
		low = "(" + scan.lastID
	}
	scan.problems = v.problems
	return scan, nil
}

// advance moves the trim point of msg's chain to msg when msg is further
// along. An entry without a readable instance or seq moves nothing; the
// verifier reports it.
func (s *trimScan) advance(msg redis.XMessage) {
	instance, _ := msg.Values["instance"].(string)
	seqText, _ := msg.Values["seq"].(string)
	hash, _ := msg.Values["hash"].(string)
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if instance == "" || err != nil {
		return
	}
	if p, ok := s.points[instance]; !ok || seq > p.Seq {
		s.points[instance] = TrimPoint{Seq: seq, Hash: hash}
	}
}

func trimRecord(cfg TrimConfig, scan *trimScan) *Record {
	var random [6]byte
	_, _ = rand.Read(random[:]) // documented since Go 1.24 to never return an error
	reasons := []string{
		"cut-off " + cfg.Cutoff.UTC().Format(time.RFC3339),
		fmt.Sprintf("%d records stored before the cut-off removed, up to entry %s", scan.count, scan.lastID),
	}
	if len(scan.problems) > 0 {
		reasons = append(reasons, fmt.Sprintf("forced past %d verification problems", len(scan.problems)))
	}
	if cfg.Operator != "" {
		reasons = append(reasons, "operator "+cfg.Operator)
	}
	return &Record{
		ID:       "trim-" + hex.EncodeToString(random[:]),
		Time:     time.Now(),
		Consumer: OperatorConsumer,
		Scenario: "retention",
		Method:   "XTRIM",
		Path:     cfg.Stream,
		Decision: DecisionTrim,
		Reasons:  reasons,
	}
}

// writeOperatorRecord adds r to the stream as the first and only record
// of a new writer instance's chain, through the same script as the
// writer, so the writers hash records the chain and VerifyStream checks it.
func writeOperatorRecord(ctx context.Context, client redis.UniversalClient, stream string,
	key []byte, r *Record,
) error {
	instance, err := newInstanceID()
	if err != nil {
		return err
	}
	wkey, err := writersKey(stream)
	if err != nil {
		return err
	}
	r.Instance, r.Seq, r.Prev = instance, 1, ""

	enc := newEncoder(key)
	e := enc.seal(r)
	r.Hash = e[fieldHash]

	args, _ := scriptArgs(nil, nil, []entry{e})
	n, err := appendScript.Run(ctx, client, []string{stream, wkey}, args...).Int()
	if err != nil {
		return fmt.Errorf("writing audit record %q: %w", r.ID, err)
	}
	if n != 1 {
		return fmt.Errorf("writing audit record %q: the stream already contains instance %q", r.ID, instance)
	}
	return nil
}

// trimsKey returns the key of the hash that stores each chain's trim
// point, in the same Redis Cluster slot as the stream so that one MULTI
// can update both.
func trimsKey(stream string) (string, error) {
	wkey, err := writersKey(stream)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(wkey, ":writers") + ":trims", nil
}

// readTrimPoints reads the trim points of stream. A point whose signature
// does not match is left out and reported as a problem, so the chain it
// would excuse shows its start as missing.
func readTrimPoints(ctx context.Context, client redis.UniversalClient, stream string,
	key []byte,
) (map[string]TrimPoint, []Problem, error) {
	tkey, err := trimsKey(stream)
	if err != nil {
		return nil, nil, err
	}
	values, err := client.HGetAll(ctx, tkey).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("reading trim points %q: %w", tkey, err)
	}
	signer := newTrimSigner(key)
	points := make(map[string]TrimPoint, len(values))
	var problems []Problem
	for instance, v := range values {
		p, ok := signer.parse(instance, v)
		if !ok {
			problems = append(problems, Problem{Instance: instance,
				Reason: "trim point does not match its signature: edited or forged"})
			continue
		}
		points[instance] = p
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Instance < problems[j].Instance })
	return points, problems, nil
}

// trimSigner signs trim points with a key derived from the chain key, so
// that only a holder of the chain key can excuse a chain's missing start.
type trimSigner struct {
	key []byte
}

func newTrimSigner(chainKey []byte) trimSigner {
	mac := hmac.New(sha256.New, chainKey)
	mac.Write([]byte("trim point"))
	return trimSigner{key: mac.Sum(nil)}
}

// format returns the stored form of p: "seq hash signature".
func (s trimSigner) format(instance string, p TrimPoint) string {
	seq := strconv.FormatUint(p.Seq, 10)
	return seq + " " + p.Hash + " " + s.sign(instance, seq, p.Hash)
}

func (s trimSigner) parse(instance, value string) (TrimPoint, bool) {
	parts := strings.Split(value, " ")
	if len(parts) != 3 {
		return TrimPoint{}, false
	}
	seq, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil {
		return TrimPoint{}, false
	}
	want := s.sign(instance, parts[0], parts[1])
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return TrimPoint{}, false
	}
	return TrimPoint{Seq: seq, Hash: parts[1]}, true
}

func (s trimSigner) sign(instance, seq, hash string) string {
	mac := hmac.New(sha256.New, s.key)
	for _, v := range []string{instance, seq, hash} {
		mac.Write([]byte(v))
		mac.Write([]byte{0})
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// nextEntryID returns the smallest stream entry id above id, for XTRIM
// MINID, which keeps entries at or above its argument.
func nextEntryID(id string) string {
	ms, seq := splitID(id)
	if seq == ^uint64(0) {
		return strconv.FormatUint(ms+1, 10) + "-0"
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq+1, 10)
}
