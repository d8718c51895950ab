package audit

import (
	"slices"
	"time"

	"go.uber.org/zap"
)

// maintain adopts spool files that stopped writers left, requests PINGs
// from the probe goroutine while spooling, and replays spool files while
// Redis is up.
func (wk *worker) maintain(now time.Time) {
	if wk.w.client == nil {
		return
	}
	if !now.Before(wk.nextScan) {
		wk.nextScan = now.Add(scanInterval)
		wk.adopt()
	}

	wantRedis := wk.spooling || len(wk.adopted) > 0
	wk.w.probeWanted.Store(wantRedis && !wk.redisUp)
	if !wantRedis {
		return
	}
	if !wk.redisUp {
		select {
		case <-wk.w.probed:
			wk.redisUp = true
		default:
			return
		}
	}
	wk.replay()
}

// probe PINGs Redis once per probeInterval while the writer goroutine
// requests it, and signals that goroutine when Redis replies. It runs apart from
// the writer goroutine, because a PING to a Redis that is down can take as
// long as the client's dial retries, and the writer must keep spooling
// meanwhile.
func (w *Writer) probe() {
	defer close(w.probeDone)
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()

	var failures logLimiter
	for {
		select {
		case <-w.stopProbe:
			return
		case <-ticker.C:
		}
		if !w.probeWanted.Load() {
			continue
		}
		if err := w.client.Ping(w.runCtx).Err(); err != nil {
			w.redisErrors.Add(1)
			if ok, attempts := failures.allow(time.Now()); ok {
				w.log.Warn("redis still unavailable, audit records stay in the spool",
					zap.Int("attempts", attempts), zap.Error(err))
			}
			continue
		}
		failures = logLimiter{}
		w.probeWanted.Store(false)
		select {
		case w.probed <- struct{}{}:
		default:
		}
	}
}

// replayDue reports whether spool replay has work to do now.
func (wk *worker) replayDue() bool {
	return wk.redisUp && (wk.spooling || len(wk.adopted) > 0)
}

// adopt takes over the spool files in the spool directory that no running
// writer holds.
func (wk *worker) adopt() {
	held := make(map[string]bool, len(wk.adopted)+1)
	if wk.own != nil {
		held[wk.own.path] = true
	}
	for _, sf := range wk.adopted {
		held[sf.path] = true
	}

	for _, sf := range adoptSpools(wk.w.cfg.SpoolDir, held, wk.log) {
		wk.adopted = append(wk.adopted, sf)
		wk.w.spoolBytes.Add(sf.size)
		wk.log.Info("adopted audit spool file of a stopped writer",
			zap.String("file", sf.path), zap.Int64("bytes", sf.size))
	}
}

// replay sends up to replayBatchesPerStep batches from the spool files to
// Redis: adopted files first, as their chains are older and independent
// of this writer's, then this writer's own file. Once everything is
// replayed, records go to Redis directly again.
func (wk *worker) replay() {
	for range replayBatchesPerStep {
		sf := wk.nextReplayFile()
		if sf == nil {
			if wk.spooling {
				wk.setSpooling(false)
				wk.log.Info("audit spool drained, writing to redis again")
			}
			return
		}
		if sf.offset == 0 && sf.checked == 0 {
			wk.log.Info("replaying audit spool file", zap.String("file", sf.path), zap.Int64("bytes", sf.size))
		}

		entries, next := sf.read(wk.reader, wk.w.cfg.BatchSize, wk.replayBuf[:0], wk.log)
		wk.replayBuf = entries
		written := 0
		if len(entries) > 0 {
			var err error
			written, err = wk.appendEntries(entries)
			clear(entries)
			if err != nil {
				wk.w.redisErrors.Add(1)
				wk.redisUp = false
				if ok, attempts := wk.replayLog.allow(time.Now()); ok {
					wk.log.Warn("replaying audit spool file failed, retrying when redis replies to PING",
						zap.String("file", sf.path), zap.Int("attempts", attempts), zap.Error(err))
				}
				return
			}
		}

		wk.w.written.Add(uint64(written))
		sf.replayed += written
		sf.duplicates += len(entries) - written
		sf.offset = next
		if !sf.pending() {
			wk.retire(sf)
		}
	}
}

func (wk *worker) nextReplayFile() *spoolFile {
	for _, sf := range wk.adopted {
		if sf.pending() {
			return sf
		}
	}
	if wk.own != nil && wk.own.pending() {
		return wk.own
	}
	return nil
}

// retire removes a spool file whose records are all in Redis.
func (wk *worker) retire(sf *spoolFile) {
	wk.log.Info("audit spool file replayed",
		zap.String("file", sf.path),
		zap.Int("records", sf.replayed),
		zap.Int("duplicates", sf.duplicates),
		zap.Int("invalid_lines", sf.bad))

	if err := sf.remove(); err != nil {
		// Replaying the file again adds no duplicates, so a file that
		// could not be removed costs only disk space.
		wk.log.Error("removing replayed audit spool file failed", zap.String("file", sf.path), zap.Error(err))
	}
	wk.w.spoolBytes.Add(-sf.size)
	if sf == wk.own {
		wk.own = nil
		return
	}
	wk.adopted = slices.DeleteFunc(wk.adopted, func(a *spoolFile) bool { return a == sf })
}
