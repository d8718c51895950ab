// Package audit writes one tamper-evident audit record per gateway request
// to a Redis stream.
//
// The request path only reserves a slot and hands the record to a bounded
// queue. One writer goroutine adds records to the stream in batches, each
// batch one atomic, idempotent script call, and chains every record to the
// one before it with a keyed hash. When Redis fails, records go to an
// fsynced spool file on disk and are replayed, in order and without
// duplicates, once Redis replies again. A slot is freed only when its
// record is in Redis or in the spool, and when neither can take records
// Reserve fails, so the caller can refuse the request: no data leaves
// without its record.
package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Decisions recorded in Record.Decision.
const (
	DecisionAllow = "allow"
	DecisionDeny  = "deny"
	DecisionError = "error"
)

// Defaults for zero Config fields.
const (
	DefaultStream        = "data_gateway:audit"
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 256
	DefaultFlushInterval = 5 * time.Millisecond
	DefaultSpoolMaxBytes = 256 << 20
)

// Limits on Config fields. A batch is one script call, and Redis serves no
// other command while a script runs. The chain key must be long enough to
// resist guessing.
const (
	MaxBatchSize      = 4096
	MinChainKeyLength = 16
)

var (
	// ErrUnavailable is returned by Reserve when the queue is full, or when
	// Redis is failing and the spool cannot take records either. The
	// request must be refused (503).
	ErrUnavailable = errors.New("audit log unavailable")

	// ErrClosed is returned by Reserve after Close. The request must be
	// refused (503) as for ErrUnavailable.
	ErrClosed = errors.New("audit writer closed")
)

// MaxRecordBytes is the spool space Reserve sets aside for each record not
// yet written. The writer truncates long text fields so that a record's
// spool line stays under it.
// NOTE: the bound is an estimate for fields full of characters that JSON
// escapes. A longer line is still caught by the spool's own size check.
const MaxRecordBytes = 8 << 10

// minSpoolRecords is the fewest records a spool must have room for.
const minSpoolRecords = 4

// Record is the audit record of one request. The caller fills every field
// up to ClientIP; the writer sets the rest.
type Record struct {
	// ID is the request id, as sent in the X-Request-Id response header.
	ID string
	// Time is when the request arrived. A zero Time is replaced by the
	// time the writer takes the record from the queue.
	Time time.Time

	Consumer string
	Org      string
	Resource string
	Provider string
	Scenario string
	Method   string
	// Path is the request path with any subject identifier already
	// replaced by the caller.
	Path string

	// Decision is DecisionAllow, DecisionDeny or DecisionError.
	Decision      string
	Reasons       []string
	PolicyVersion string

	// Status is the HTTP status sent to the consumer.
	Status int
	// Bytes is the size of the response body sent to the consumer.
	Bytes int64
	// Masked is the number of personal field values masked or removed.
	Masked int

	UpstreamLatency time.Duration
	TotalLatency    time.Duration

	// SubjectHash is the keyed hash of the subject identifier the request
	// queried. The raw identifier must never be put in a record.
	SubjectHash string
	GrantID     string
	ClientIP    string

	// Instance is the writer instance whose chain holds the record.
	Instance string
	// Seq is the record's position in that chain, from 1.
	Seq uint64
	// Prev is the hash of the record before it, empty for Seq 1.
	Prev string
	// Hash is the chain hash of the record (see StreamFields).
	Hash string
}

// Config configures a Writer.
type Config struct {
	// Client is the Redis connection. With nil, every record goes to the
	// spool, for a demonstration without Redis. Calls are bounded by the
	// client's own dial retries and read and write timeouts, and the write
	// that first meets a failing Redis holds up the queue that long, so
	// keep them short. Set the client's ContextTimeoutEnabled option so
	// that Close's deadline also cuts a call in progress short. The writer
	// never closes the client.
	Client redis.UniversalClient
	// Stream is the key of the audit stream; DefaultStream when empty.
	Stream string

	// SpoolDir is the directory of the spool files, created if missing.
	// Required. Writers of several processes may share it.
	SpoolDir string
	// SpoolMaxBytes bounds the bytes of the spool files this writer holds,
	// its own and those it adopted; DefaultSpoolMaxBytes when zero.
	SpoolMaxBytes int64

	// QueueSize is the number of records that may be reserved and not yet
	// durable; DefaultQueueSize when zero.
	QueueSize int
	// BatchSize is the maximum number of records per write;
	// DefaultBatchSize when zero, at most MaxBatchSize and QueueSize.
	BatchSize int
	// FlushInterval is how long the writer waits to fill a batch once it
	// has a record; DefaultFlushInterval when zero.
	FlushInterval time.Duration

	// ChainKey is the HMAC key of the hash chain, at least
	// MinChainKeyLength bytes. Required, and secret: anyone with the key
	// can forge a chain.
	ChainKey []byte

	// Logger receives lifecycle events, spool changes and errors; none
	// when nil.
	Logger *zap.Logger
}

// Stats is a snapshot of a Writer's state.
type Stats struct {
	// Reserved is the number of slots in use: records reserved, queued or
	// being written.
	Reserved int64
	// Queued is the number of committed records waiting in the queue.
	Queued int
	// SpoolBytes is the size of the spool files the writer holds.
	SpoolBytes int64
	// Spooling is true while records go to the spool instead of Redis.
	Spooling bool
	// Unavailable is true while Reserve fails because neither Redis nor
	// the spool takes records.
	Unavailable bool
	// RedisErrors counts failed Redis calls.
	RedisErrors uint64
	// Written counts records added to the stream, directly or from the
	// spool.
	Written uint64
	// Spooled counts records appended to the spool.
	Spooled uint64
}

// Writer adds audit records to a Redis stream from one goroutine. Reserve,
// Ticket methods, Stats and Close are safe for concurrent use.
type Writer struct {
	cfg      Config
	client   redis.UniversalClient
	stream   string
	keys     []string
	instance string
	log      *zap.Logger

	queue    chan Record
	reserved atomic.Int64
	// unavailable is set while a batch can go neither to Redis nor to the
	// spool.
	unavailable atomic.Bool
	closing     atomic.Bool
	// wake signals the writer goroutine, once closing, that a slot was
	// freed.
	wake      chan struct{}
	abort     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	abortOnce sync.Once
	runCtx    context.Context
	cancelRun context.CancelFunc

	redisErrors atomic.Uint64
	written     atomic.Uint64
	spooled     atomic.Uint64
	spoolBytes  atomic.Int64
	spooling    atomic.Bool

	// probeWanted requests PINGs from the probe goroutine, which signals
	// on probed when Redis replies.
	probeWanted atomic.Bool
	probed      chan struct{}
	stopProbe   chan struct{}
	probeDone   chan struct{}

	worker worker
}

// NewWriter checks cfg, creates the spool directory and starts the writer
// goroutine, and with a Redis client the goroutine that probes Redis while
// spooling. Call Close to stop them.
func NewWriter(cfg Config) (*Writer, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating audit spool directory: %w", err)
	}
	wkey, err := writersKey(cfg.Stream)
	if err != nil {
		return nil, err
	}
	instance, err := newInstanceID()
	if err != nil {
		return nil, err
	}

	w := &Writer{
		cfg:      cfg,
		client:   cfg.Client,
		stream:   cfg.Stream,
		keys:     []string{cfg.Stream, wkey},
		instance: instance,
		log:      cfg.Logger.With(zap.String("audit_instance", instance)),
		queue:    make(chan Record, cfg.QueueSize),
		wake:     make(chan struct{}, 1),
		abort:    make(chan struct{}),
		done:     make(chan struct{}),

		probed:    make(chan struct{}, 1),
		stopProbe: make(chan struct{}),
		probeDone: make(chan struct{}),
	}
	w.runCtx, w.cancelRun = context.WithCancel(context.Background())
	w.worker.init(w)

	if w.client != nil {
		go w.probe()
	}
	go w.worker.run()
	return w, nil
}

func (c *Config) normalize() error {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SpoolDir == "" {
		return errors.New("audit spool directory is required: set SpoolDir")
	}
	if len(c.ChainKey) < MinChainKeyLength {
		return fmt.Errorf("audit chain key is %d bytes: set ChainKey to at least %d random bytes",
			len(c.ChainKey), MinChainKeyLength)
	}

	if err := defaultPositive("SpoolMaxBytes", &c.SpoolMaxBytes, DefaultSpoolMaxBytes); err != nil {
		return err
	}
	if c.SpoolMaxBytes < minSpoolRecords*MaxRecordBytes {
		return fmt.Errorf("SpoolMaxBytes is %d: set it to at least %d, room for %d records "+
			"of up to %d bytes", c.SpoolMaxBytes, minSpoolRecords*MaxRecordBytes,
			minSpoolRecords, MaxRecordBytes)
	}
	if err := defaultPositive("QueueSize", &c.QueueSize, DefaultQueueSize); err != nil {
		return err
	}
	if err := defaultPositive("BatchSize", &c.BatchSize, DefaultBatchSize); err != nil {
		return err
	}
	if err := defaultPositive("FlushInterval", &c.FlushInterval, DefaultFlushInterval); err != nil {
		return err
	}
	if c.BatchSize > MaxBatchSize || c.BatchSize > c.QueueSize {
		return fmt.Errorf("audit BatchSize %d is too large: set at most %d and at most QueueSize (%d)",
			c.BatchSize, MaxBatchSize, c.QueueSize)
	}

	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// defaultPositive sets *v to def when it is zero and rejects a negative
// value.
func defaultPositive[T int | int64 | time.Duration](name string, v *T, def T) error {
	if *v < 0 {
		return fmt.Errorf("invalid audit %s %v: must not be negative (0 means the default, %v)", name, *v, def)
	}
	if *v == 0 {
		*v = def
	}
	return nil
}

// newInstanceID returns the host name and 8 random bytes in hex, such as
// "gw-3-5f1c09a2b7e4d3c8". The random part keeps the chains of restarted
// or concurrent writers apart; the host name helps an operator. Characters
// other than letters, digits, '.', '_' and '-' are dropped, as the id is
// part of a file name.
func newInstanceID() (string, error) {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", fmt.Errorf("generating audit writer instance id: %w", err)
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '_', r == '-':
			return r
		}
		return -1
	}, host)
	if len(host) > 63 {
		host = host[:63]
	}
	if host == "" {
		host = "gateway"
	}
	return host + "-" + hex.EncodeToString(random[:]), nil
}

// Instance returns the id that names this writer's chain in the stream.
func (w *Writer) Instance() string {
	return w.instance
}

// Ticket is a reserved queue slot. Exactly one of Commit or Cancel must be
// called on it, once.
type Ticket struct {
	w *Writer
}

// Reserve takes a queue slot for one record. It never waits: it returns
// ErrUnavailable when the queue is full or when neither Redis nor the spool
// can take records, and ErrClosed after Close.
func (w *Writer) Reserve() (Ticket, error) {
	// Counting before the closing check means Close, which waits for the
	// count to reach zero, can never miss this slot.
	n := w.reserved.Add(1)
	if n > int64(w.cfg.QueueSize) {
		w.release(1)
		return Ticket{}, ErrUnavailable
	}
	if w.closing.Load() {
		w.release(1)
		return Ticket{}, ErrClosed
	}
	if w.unavailable.Load() {
		w.release(1)
		return Ticket{}, ErrUnavailable
	}
	// Every record not yet durable must fit in the spool should Redis fail
	// before it is written: otherwise a served request could lose its
	// record when the process stops during an outage.
	if n*MaxRecordBytes+w.spoolBytes.Load() > w.cfg.SpoolMaxBytes {
		w.release(1)
		return Ticket{}, ErrUnavailable
	}
	return Ticket{w: w}, nil
}

// Commit queues a copy of r for writing. It never blocks, because the
// queue has room for every reserved slot. The writer shares r.Reasons, so
// the caller must not change that slice afterwards. Commit on the zero
// Ticket, which a failed Reserve returns, does nothing.
func (t Ticket) Commit(r *Record) {
	if t.w == nil {
		return
	}
	t.w.queue <- *r
}

// Cancel frees the slot without writing a record.
func (t Ticket) Cancel() {
	if t.w == nil {
		return
	}
	t.w.release(1)
}

// release frees n slots.
func (w *Writer) release(n int) {
	w.reserved.Add(int64(-n))
	if w.closing.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Stats returns a snapshot of the writer's counters.
func (w *Writer) Stats() Stats {
	return Stats{
		Reserved:    w.reserved.Load(),
		Queued:      len(w.queue),
		SpoolBytes:  w.spoolBytes.Load(),
		Spooling:    w.spooling.Load(),
		Unavailable: w.unavailable.Load(),
		RedisErrors: w.redisErrors.Load(),
		Written:     w.written.Load(),
		Spooled:     w.spooled.Load(),
	}
}

// Close stops accepting reservations and waits until every reserved record
// is in Redis or in the spool, then stops the writer goroutine. When ctx
// ends first, the writer puts what it holds in the spool if it can and
// stops, and Close returns an error that counts the records not written.
// Close does not close Config.Client.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.closing.Store(true)
		w.log.Info("closing audit writer", zap.Int64("reserved", w.reserved.Load()))
		select {
		case w.wake <- struct{}{}:
		default:
		}
	})

	select {
	case <-w.done:
	case <-ctx.Done():
		w.abortOnce.Do(func() {
			close(w.abort)
			w.cancelRun()
		})
		<-w.done
	}
	w.cancelRun()

	if n := w.reserved.Load(); n > 0 {
		err := fmt.Errorf("closing audit writer: %d audit records written neither to redis nor to the spool", n)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, ctx.Err())
		}
		return err
	}
	return nil
}
