package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// FileLedger is a Ledger kept as JSON lines in one file, one line per post,
// written and synced before Record returns. A line cut short by a crash is
// ignored when the file is read again. It is safe for concurrent use within
// one process, and it holds an exclusive lock on the file so that a second
// process cannot open it at the same time (two runs posting from one
// ledger could post the same file twice). The file is private to its owner:
// it holds presigned links.
type FileLedger struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]Posted
}

type ledgerLine struct {
	ID     string `json:"id"`
	Posted Posted `json:"posted"`
}

// ErrLedgerBusy is returned by OpenLedger when another process has the
// ledger open.
var ErrLedgerBusy = errors.New("pipeline: ledger busy")

// LedgerName is the ledger's file name in a batch's output folder.
const LedgerName = "mediaprep-ledger.jsonl"

// OpenLedger opens (or creates) the ledger file at path.
func OpenLedger(path string) (*FileLedger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("pipeline: ledger: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pipeline: ledger: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is in use by another mediaprep run; wait for it or give this run another --out", ErrLedgerBusy, path)
		}
		return nil, fmt.Errorf("pipeline: ledger %s: lock: %w", path, err)
	}
	seen, err := readLedger(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pipeline: ledger %s: %w", path, err)
	}
	// A crash may have cut the last line short: start the next record on
	// a line of its own.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte("\n")); err != nil {
				f.Close()
				return nil, fmt.Errorf("pipeline: ledger %s: %w", path, err)
			}
		}
	}
	return &FileLedger{f: f, seen: seen}, nil
}

// ReadLedger reads the ledger at path without creating, locking or ever
// writing it (a missing file is an empty ledger), for dry runs: its Record
// fails.
func ReadLedger(path string) (*FileLedger, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &FileLedger{seen: map[string]Posted{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: ledger: %w", err)
	}
	defer f.Close()
	seen, err := readLedger(f)
	if err != nil {
		return nil, fmt.Errorf("pipeline: ledger %s: %w", path, err)
	}
	return &FileLedger{seen: seen}, nil
}

// readLedger reads the records of r. A line that does not parse (cut short
// by a crash) is skipped: its post is redone if it was not recorded.
func readLedger(r io.Reader) (map[string]Posted, error) {
	seen := make(map[string]Posted)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line ledgerLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.ID == "" {
			continue
		}
		seen[line.ID] = line.Posted
	}
	return seen, sc.Err()
}

// Lookup implements Ledger.
func (l *FileLedger) Lookup(id string) (Posted, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.seen[id]
	return p, ok
}

// Record implements Ledger: one line, written and synced.
func (l *FileLedger) Record(id string, p Posted) error {
	b, err := json.Marshal(ledgerLine{ID: id, Posted: p})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("pipeline: ledger is closed or read-only")
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("pipeline: ledger: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("pipeline: ledger: %w", err)
	}
	l.seen[id] = p
	return nil
}

// Len returns the number of posts recorded.
func (l *FileLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// Close closes the file.
func (l *FileLedger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
