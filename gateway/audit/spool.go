package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"
)

// Spool file names are spoolPrefix + writer instance + spoolSuffix. A file
// is created under the name with tmpSuffix added, locked, then renamed, so
// a scan never finds a spool file that its owner has not locked yet.
const (
	spoolPrefix = "audit-"
	spoolSuffix = ".spool"
	tmpSuffix   = ".tmp"
)

var errSpoolFull = errors.New("audit spool is full")

// spoolFile is a spool file that this writer holds an exclusive lock on:
// its own, or one adopted from a writer that has stopped. The file is a
// sequence of spool lines (see appendSpoolLine) in chain order.
type spoolFile struct {
	path string
	f    *os.File
	own  bool

	// size is the length of the complete lines. A failed append may leave
	// bytes past it, which the next append overwrites.
	size int64
	// offset is how many bytes from the start are in Redis already.
	offset int64
	// checked is how far bad lines have been logged, so a replay retried
	// after a Redis error does not log them again.
	checked int64

	replayed, duplicates, bad int
}

func spoolName(instance string) string {
	return spoolPrefix + instance + spoolSuffix
}

// createSpool creates and locks the spool file of instance in dir.
func createSpool(dir, instance string) (*spoolFile, error) {
	path := filepath.Join(dir, spoolName(instance))
	tmp := path + tmpSuffix

	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating audit spool file: %w", err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("locking audit spool file %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("renaming audit spool file: %w", err)
	}
	syncDir(dir)
	return &spoolFile{path: path, f: f, own: true}, nil
}

// append writes buf, whole lines, at the end of the file and syncs it to
// disk; the lines count as written only when both succeed.
func (sf *spoolFile) append(buf []byte) error {
	if _, err := sf.f.WriteAt(buf, sf.size); err != nil {
		return fmt.Errorf("writing audit spool file %q: %w", sf.path, err)
	}
	if err := sf.f.Sync(); err != nil {
		return fmt.Errorf("syncing audit spool file %q: %w", sf.path, err)
	}
	sf.size += int64(len(buf))
	return nil
}

// pending reports whether the file has lines that are not in Redis yet.
func (sf *spoolFile) pending() bool {
	return sf.offset < sf.size
}

// read parses up to limit lines from offset and returns them with the offset
// after them. Lines that cannot be parsed are skipped and logged: the
// chain's Verify then reports the gap. A last line without a newline is a
// write cut short by a crash, which the writer never acknowledged.
func (sf *spoolFile) read(br *bufio.Reader, limit int, dst []entry, log *zap.Logger) ([]entry, int64) {
	br.Reset(io.NewSectionReader(sf.f, sf.offset, sf.size-sf.offset))
	next := sf.offset
	for len(dst) < limit && next < sf.size {
		line, err := br.ReadBytes('\n')
		at := next
		next += int64(len(line))
		if err != nil {
			// Only io.EOF is possible before size: the section ends there.
			if at >= sf.checked {
				log.Warn("skipping incomplete last line of audit spool file",
					zap.String("file", sf.path), zap.Int64("offset", at), zap.Int("bytes", len(line)))
			}
			break
		}
		e, perr := parseSpoolLine(line)
		if perr != nil {
			if at >= sf.checked {
				sf.bad++
				log.Error("skipping invalid line in audit spool file",
					zap.String("file", sf.path), zap.Int64("offset", at), zap.Error(perr))
			}
			continue
		}
		dst = append(dst, e)
	}
	sf.checked = max(sf.checked, next)
	return dst, next
}

// remove deletes the file, then releases the lock by closing it. In that
// order no other writer can lock and adopt a file that is going away.
func (sf *spoolFile) remove() error {
	err := os.Remove(sf.path)
	if cerr := sf.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// release closes the file and so releases the lock, leaving the file for
// a later writer to adopt.
func (sf *spoolFile) release() error {
	return sf.f.Close()
}

// adoptSpools locks and returns the spool files in dir that no running
// writer holds, oldest first, skipping the paths in held. It also removes
// empty files and temporary files that a crash left behind.
func adoptSpools(dir string, held map[string]bool, log *zap.Logger) []*spoolFile {
	dirEntries, err := os.ReadDir(dir)
	if err != nil {
		log.Error("listing audit spool directory failed", zap.String("dir", dir), zap.Error(err))
		return nil
	}

	var adopted []*spoolFile
	modTimes := make(map[*spoolFile]int64)
	for _, de := range dirEntries {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(name, spoolPrefix) {
			continue
		}
		path := filepath.Join(dir, name)
		if held[path] {
			continue
		}
		switch {
		case strings.HasSuffix(name, spoolSuffix+tmpSuffix):
			removeStaleTemp(path)
		case strings.HasSuffix(name, spoolSuffix):
			sf, modTime := adoptSpool(path, log)
			if sf != nil {
				adopted = append(adopted, sf)
				modTimes[sf] = modTime
			}
		}
	}
	sort.SliceStable(adopted, func(i, j int) bool {
		return modTimes[adopted[i]] < modTimes[adopted[j]]
	})
	return adopted
}

// adoptSpool locks the spool file at path unless a running writer holds
// it. An empty file is removed at once and not returned.
func adoptSpool(path string, log *zap.Logger) (*spoolFile, int64) {
	f, ok := lockIfSame(path)
	if !ok {
		return nil, 0
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		log.Error("reading audit spool file failed", zap.String("file", path), zap.Error(err))
		return nil, 0
	}

	sf := &spoolFile{path: path, f: f, size: info.Size()}
	if sf.size == 0 {
		if err := sf.remove(); err != nil {
			log.Warn("removing empty audit spool file failed", zap.String("file", path), zap.Error(err))
		}
		return nil, 0
	}
	return sf, info.ModTime().UnixNano()
}

// lockIfSame opens and locks path, and succeeds only when path still names
// the locked file afterwards: a writer that removed its file between the
// open and the lock has released it for good, not handed it over.
func lockIfSame(path string) (*os.File, bool) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, false
	}
	opened, err1 := f.Stat()
	named, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(opened, named) {
		_ = f.Close()
		return nil, false
	}
	return f, true
}

func removeStaleTemp(path string) {
	f, ok := lockIfSame(path)
	if !ok {
		return
	}
	_ = os.Remove(path)
	_ = f.Close()
}

// syncDir makes a new or renamed directory entry durable. Some file systems
// cannot sync a directory; the file's own contents are synced regardless,
// so the error is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
