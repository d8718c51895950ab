// Package mask masks and projects JSON response bodies in one pass.
//
// Providers declare which JSON paths contain which field class (Rules). The
// policy decision grants a data scope (Scope) and picks a mask strategy per
// class (Strategies). Apply walks the body once and copies it to the output.
// On the way it keeps only the granted paths and masks the declared fields.
// It also scans every other string and number for identity numbers and
// mainland mobile numbers that a provider forgot to declare (the backstop).
package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
)

// Errors that Apply and Decode wrap.
var (
	ErrTooLarge        = errors.New("body too large")
	ErrInvalidJSON     = errors.New("invalid JSON")
	ErrTooDeep         = errors.New("JSON nested too deep")
	ErrUnknownEncoding = errors.New("unknown content encoding")
)

// MaxDepth is the deepest nesting of objects and arrays that Apply accepts.
const MaxDepth = 512

// Strategy is a mask strategy. The zero value is Remove, so a class without
// a strategy is removed rather than passed through.
type Strategy uint8

// Mask strategies.
const (
	// Remove deletes the value, or the key and value from an object.
	Remove Strategy = iota
	// Plain copies the value as it is.
	Plain
	// Partial keeps the customary part of the value, such as the first 6
	// and last 4 characters of an identity number, and stars the rest.
	Partial
	// Hash replaces the value with a keyed hash, so records can still be
	// joined.
	Hash
)

var strategyNames = [...]string{Remove: "remove", Plain: "plain", Partial: "partial", Hash: "hash"}

// String returns the strategy's name as the policy writes it.
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", s)
}

// strictness orders strategies from the one that reveals most to the one
// that reveals least.
func (s Strategy) strictness() int {
	switch s {
	case Plain:
		return 0
	case Partial:
		return 1
	case Hash:
		return 2
	}
	return 3
}

// ParseStrategy parses a strategy name: plain, partial, hash or remove.
func ParseStrategy(s string) (Strategy, error) {
	for i, name := range strategyNames {
		if s == name {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("parsing mask strategy %q: use plain, partial, hash or remove", s)
}

// Strategies maps field classes to mask strategies for one request. Apply
// removes a class that has no entry.
type Strategies map[string]Strategy

// ParseStrategies parses the masks of a policy decision, field class to
// strategy name.
func ParseStrategies(masks map[string]string) (Strategies, error) {
	s := make(Strategies, len(masks))
	for class, name := range masks {
		if err := checkClass(class); err != nil {
			return nil, fmt.Errorf("parsing mask strategies: %w", err)
		}
		st, err := ParseStrategy(name)
		if err != nil {
			return nil, fmt.Errorf("parsing mask strategy for class %q: %w", class, err)
		}
		s[class] = st
	}
	return s, nil
}

// Stats counts what Apply masked.
type Stats struct {
	// Masked is the number of values and backstop matches masked or removed
	// by a strategy other than Plain. Values dropped by the Scope are not
	// counted.
	Masked int
	// ByClass splits Masked by class id, the index into Rules.Classes.
	ByClass [MaxClasses]int
}

func (s *Stats) add(class uint8) {
	s.Masked++
	s.ByClass[class]++
}

// Masker masks response bodies. It is safe for concurrent use.
type Masker struct {
	// Key is the HMAC-SHA256 key of the Hash strategy. It must not be empty
	// when a class uses Hash.
	Key []byte
}

// Apply writes body to dst, masked by rules and strat and projected by scope,
// and returns the extended dst. rules may be nil (no declared field, only
// the backstop scan) and scope may be nil (keep everything). The output is
// always valid JSON with insignificant whitespace removed. A leading UTF-8
// byte order mark is dropped. On error dst is returned unchanged in length,
// and the error wraps ErrInvalidJSON or ErrTooDeep with the byte offset,
// never the content.
func (m *Masker) Apply(dst, body []byte, rules *Rules, scope *Scope, strat Strategies) ([]byte, Stats, error) {
	if rules == nil {
		rules = builtinRules
	}
	w := walkerPool.Get().(*walker)
	defer w.release()

	w.rules = rules
	w.scope = scope
	w.kinds = rules.kinds
	usesHash := false
	for i, c := range rules.classes {
		st, ok := strat[c]
		if !ok {
			st = Remove
		}
		w.strat[i] = st
		usesHash = usesHash || st == Hash
	}
	if usesHash {
		if len(m.Key) == 0 {
			return dst, Stats{}, errors.New("masking body: the hash strategy needs a non-empty Masker.Key")
		}
		w.setKey(m.Key)
	}

	start := len(dst)
	w.out = slices.Grow(dst, len(body)+len(body)/8)
	if err := w.run(body); err != nil {
		return dst[:start], Stats{}, err
	}
	return w.out, w.stats, nil
}

// walker is the state of one Apply call. Walkers are pooled so that their
// buffers and HMAC state are reused.
type walker struct {
	in     []byte
	offset int // bytes dropped before in, added to error offsets
	pos    int
	depth  int
	out    []byte

	rules *Rules
	scope *Scope
	kinds []classKind
	strat [MaxClasses]Strategy
	stats Stats

	mac     hash.Hash
	macKey  []byte
	sum     []byte
	scratch []byte // decoded string values
	keyBuf  []byte // decoded object keys
}

var walkerPool = sync.Pool{New: func() any { return new(walker) }}

func (w *walker) setKey(key []byte) {
	if w.mac != nil && string(w.macKey) == string(key) {
		return
	}
	w.mac = hmac.New(sha256.New, key)
	w.macKey = append(w.macKey[:0], key...)
}

// release returns the walker to the pool without the caller's buffers.
func (w *walker) release() {
	w.in, w.out, w.rules, w.scope, w.kinds = nil, nil, nil, nil, nil
	w.stats = Stats{}
	w.strat = [MaxClasses]Strategy{}
	w.pos, w.depth, w.offset = 0, 0, 0
	// Large scratch buffers are not kept, so one huge value does not pin
	// memory in the pool.
	if cap(w.scratch) > 64<<10 {
		w.scratch = nil
	}
	if cap(w.keyBuf) > 64<<10 {
		w.keyBuf = nil
	}
	walkerPool.Put(w)
}
