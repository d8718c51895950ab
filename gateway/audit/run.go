package audit

import (
	"bufio"
	"fmt"
	"time"

	"go.uber.org/zap"
)

const (
	// probeInterval is the pause between PINGs while Redis is failing.
	probeInterval = time.Second
	// scanInterval is the pause between looks for spool files that other
	// writers left behind.
	scanInterval = 10 * time.Second
	// replayBatchesPerStep is how many spool batches the writer replays
	// between two batches of new records. Above one, so a replay catches up
	// with a steady stream of new records.
	replayBatchesPerStep = 4
	minBackoff           = 100 * time.Millisecond
	maxBackoff           = 5 * time.Second
	// repeatLogInterval limits how often a repeated failure is logged.
	repeatLogInterval = 10 * time.Second
)

// worker is the state of the writer goroutine; nothing else touches it.
type worker struct {
	w   *Writer
	log *zap.Logger
	enc *encoder

	// seq and prev are the position and hash of the last record chained.
	seq  uint64
	prev string
	// batch holds chained records that are in neither Redis nor the spool.
	batch []entry

	// spooling is set from the first failed Redis write until the spool is
	// replayed. While it is set every record goes to the spool, which keeps
	// the chain in order.
	spooling bool
	// redisUp is set when the probe goroutine reports a reply from Redis
	// and cleared by a failed call.
	redisUp  bool
	nextScan time.Time
	own      *spoolFile
	adopted  []*spoolFile

	args []any
	// records is the batch encoded for appendScript. It keeps the capacity
	// of the largest batch so far, an estimated BatchSize × MaxRecordBytes
	// at most.
	records   []byte
	spoolBuf  []byte
	replayBuf []entry
	reader    *bufio.Reader

	ticker     *time.Ticker
	flushTimer *time.Timer
	retryTimer *time.Timer
	backoff    time.Duration
	retryLog   logLimiter
	replayLog  logLimiter
}

func (wk *worker) init(w *Writer) {
	wk.w = w
	wk.log = w.log
	wk.enc = newEncoder(w.cfg.ChainKey)
	wk.batch = make([]entry, 0, w.cfg.BatchSize)
	wk.reader = bufio.NewReaderSize(nil, 64<<10)
	wk.ticker = time.NewTicker(probeInterval)
	wk.flushTimer = time.NewTimer(time.Hour)
	wk.flushTimer.Stop()
	wk.retryTimer = time.NewTimer(time.Hour)
	wk.retryTimer.Stop()
}

func (wk *worker) run() {
	defer close(wk.w.done)
	defer wk.stop()

	wk.started()
	for {
		if wk.aborted() {
			wk.spoolRemaining()
			return
		}
		wk.maintain(time.Now())

		if len(wk.batch) == 0 {
			if wk.w.closing.Load() && wk.w.reserved.Load() == 0 {
				return
			}
			wk.collect()
		}
		if len(wk.batch) > 0 {
			wk.flush()
		}
	}
}

func (wk *worker) started() {
	cfg := wk.w.cfg
	if wk.w.client == nil {
		wk.setSpooling(true)
		wk.log.Warn("no redis configured: audit records go to the spool only",
			zap.String("spool_dir", cfg.SpoolDir))
	}
	wk.log.Info("audit writer started",
		zap.String("stream", cfg.Stream),
		zap.String("spool_dir", cfg.SpoolDir),
		zap.Int("queue_size", cfg.QueueSize),
		zap.Int("batch_size", cfg.BatchSize))
}

// stop releases the spool files and timers. A spool file with records
// not yet in Redis stays on disk for the next writer.
func (wk *worker) stop() {
	if wk.w.client != nil {
		wk.w.cancelRun()
		close(wk.w.stopProbe)
		<-wk.w.probeDone
	}
	wk.ticker.Stop()
	wk.flushTimer.Stop()
	wk.retryTimer.Stop()

	if wk.own != nil {
		if wk.own.pending() {
			_ = wk.own.release()
			wk.log.Warn("audit spool file left for the next writer",
				zap.String("file", wk.own.path), zap.Int64("bytes", wk.own.size-wk.own.offset))
		} else {
			wk.retire(wk.own)
		}
	}
	for _, sf := range wk.adopted {
		_ = sf.release()
	}
	wk.adopted = nil

	wk.log.Info("audit writer stopped",
		zap.Uint64("written", wk.w.written.Load()),
		zap.Uint64("spooled", wk.w.spooled.Load()),
		zap.Int64("spool_bytes", wk.w.spoolBytes.Load()))
}

func (wk *worker) aborted() bool {
	select {
	case <-wk.w.abort:
		return true
	default:
		return false
	}
}

// collect waits for a record and gathers a batch of up to BatchSize,
// waiting at most FlushInterval for more. It returns with no record on a
// tick, a wake-up from Close or an abort, and at once when a spool replay
// has work to do.
func (wk *worker) collect() {
	queue := wk.w.queue
	var r Record
	if wk.replayDue() {
		select {
		case r = <-queue:
		default:
			return
		}
	} else {
		select {
		case r = <-queue:
		case <-wk.ticker.C:
			return
		case <-wk.w.probed:
			wk.redisUp = true
			return
		case <-wk.w.wake:
			return
		case <-wk.w.abort:
			return
		}
	}
	wk.add(&r)

	limit := wk.w.cfg.BatchSize
	for len(wk.batch) < limit {
		select {
		case r = <-queue:
			wk.add(&r)
			continue
		default:
		}
		break
	}
	if len(wk.batch) == limit || wk.w.closing.Load() || wk.replayDue() {
		return
	}

	wk.flushTimer.Reset(wk.w.cfg.FlushInterval)
	defer wk.flushTimer.Stop()
	for len(wk.batch) < limit {
		select {
		case r = <-queue:
			wk.add(&r)
		case <-wk.flushTimer.C:
			return
		case <-wk.w.abort:
			return
		}
	}
}

// add chains r to the previous record and appends it to the batch.
func (wk *worker) add(r *Record) {
	wk.seq++
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Instance = wk.w.instance
	r.Seq = wk.seq
	r.Prev = wk.prev

	wk.batch = append(wk.batch, wk.enc.seal(r))
	wk.prev = wk.batch[len(wk.batch)-1][fieldHash]
}

// flush makes the batch durable and frees its slots. When neither Redis
// nor the spool takes it, the writer keeps the batch, makes Reserve fail
// and waits before the next try.
func (wk *worker) flush() {
	err := wk.persist()
	if err == nil {
		n := len(wk.batch)
		clear(wk.batch)
		wk.batch = wk.batch[:0]
		wk.w.release(n)
		wk.backoff = 0
		if wk.w.unavailable.Swap(false) {
			wk.log.Info("audit log available again")
		}
		return
	}

	if !wk.w.unavailable.Swap(true) {
		wk.retryLog = logLimiter{}
		wk.log.Error("audit log unavailable: redis and spool both failed, reserving fails until one recovers",
			zap.Int("held_records", len(wk.batch)), zap.Error(err))
	} else if ok, attempts := wk.retryLog.allow(time.Now()); ok {
		wk.log.Warn("retrying audit batch",
			zap.Int("held_records", len(wk.batch)), zap.Int("attempts", attempts), zap.Error(err))
	}
	wk.sleepBackoff()
}

// persist writes the batch to Redis, or to the spool while spooling or
// after the Redis write fails.
func (wk *worker) persist() error {
	if !wk.spooling {
		n, err := wk.appendEntries(wk.batch)
		if err == nil {
			wk.w.written.Add(uint64(n))
			return nil
		}
		wk.w.redisErrors.Add(1)
		wk.redisUp = false
		wk.setSpooling(true)
		wk.log.Warn("redis write failed, spooling audit records",
			zap.Uint64("from_seq", wk.seq-uint64(len(wk.batch))+1), zap.Error(err))
	}
	return wk.appendSpool(wk.batch)
}

func (wk *worker) setSpooling(on bool) {
	wk.spooling = on
	wk.w.spooling.Store(on)
}

func (wk *worker) sleepBackoff() {
	wk.backoff = min(max(2*wk.backoff, minBackoff), maxBackoff)
	wk.retryTimer.Reset(wk.backoff)
	select {
	case <-wk.retryTimer.C:
	case <-wk.w.probed:
		wk.retryTimer.Stop()
		wk.redisUp = true
	case <-wk.w.abort:
		wk.retryTimer.Stop()
	}
}

// appendSpool appends entries to this writer's spool file, creating it
// first if needed.
func (wk *worker) appendSpool(entries []entry) error {
	buf := wk.spoolBuf[:0]
	for i := range entries {
		buf = appendSpoolLine(buf, &entries[i])
	}
	wk.spoolBuf = buf

	held := wk.w.spoolBytes.Load()
	if held+int64(len(buf)) > wk.w.cfg.SpoolMaxBytes {
		return fmt.Errorf("spooling %d audit records: %w (%d of %d bytes used)",
			len(entries), errSpoolFull, held, wk.w.cfg.SpoolMaxBytes)
	}
	if wk.own == nil {
		sf, err := createSpool(wk.w.cfg.SpoolDir, wk.w.instance)
		if err != nil {
			return err
		}
		wk.own = sf
		wk.log.Info("audit spool file created", zap.String("file", sf.path))
	}
	if err := wk.own.append(buf); err != nil {
		return err
	}
	wk.w.spoolBytes.Add(int64(len(buf)))
	wk.w.spooled.Add(uint64(len(entries)))
	return nil
}

// spoolRemaining runs when Close's deadline has passed: it chains what is
// in the queue and tries once to put every held record in the spool.
func (wk *worker) spoolRemaining() {
	for {
		select {
		case r := <-wk.w.queue:
			wk.add(&r)
			continue
		default:
		}
		break
	}
	if len(wk.batch) > 0 {
		if err := wk.appendSpool(wk.batch); err != nil {
			wk.log.Error("spooling audit records at close failed", zap.Int("records", len(wk.batch)), zap.Error(err))
		} else {
			wk.w.release(len(wk.batch))
			wk.batch = wk.batch[:0]
		}
	}
	if n := wk.w.reserved.Load(); n > 0 {
		wk.log.Error("audit writer stopped before writing every record", zap.Int64("unwritten", n))
	}
}

// logLimiter lets a repeated message through once per repeatLogInterval
// and counts the attempts in between.
type logLimiter struct {
	next     time.Time
	attempts int
}

// allow counts an attempt and reports whether to log it, with the number
// of attempts since the last logged one.
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.attempts++
	if now.Before(l.next) {
		return false, 0
	}
	n := l.attempts
	l.attempts = 0
	l.next = now.Add(repeatLogInterval)
	return true, n
}
