package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mediaprep/mediaprep/storage"
)

// FileLedger is a Ledger kept as JSON lines in one file, one line per post,
// written and synced before Record returns. A line cut short by a crash is
// ignored when the file is read again. It is safe for concurrent use within
// one process, and it holds an exclusive lock on the file so that a second
// process cannot open it at the same time (two runs posting from one
// ledger could post the same file twice). The file is private to its owner:
// it holds presigned links.
type FileLedger struct {
	mu    sync.Mutex
	f     *os.File
	seen  map[string]Posted
	links map[string]storage.Link // by prepared content's SHA-256
}

// ledgerLine is a post (ID and Posted), or a link made for a prepared
// file (Link, with ID "link:" + its SHA-256).
type ledgerLine struct {
	ID     string      `json:"id"`
	Posted Posted      `json:"posted,omitzero"`
	Link   *ledgerLink `json:"link,omitempty"`
}

type ledgerLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

const linkPrefix = "link:"

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
	seen, links, err := readLedger(f)
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
	return &FileLedger{f: f, seen: seen, links: links}, nil
}

// ReadLedger reads the ledger at path without creating, locking or ever
// writing it (a missing file is an empty ledger), for dry runs: its Record
// fails.
func ReadLedger(path string) (*FileLedger, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &FileLedger{seen: map[string]Posted{}, links: map[string]storage.Link{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: ledger: %w", err)
	}
	defer f.Close()
	seen, links, err := readLedger(f)
	if err != nil {
		return nil, fmt.Errorf("pipeline: ledger %s: %w", path, err)
	}
	return &FileLedger{seen: seen, links: links}, nil
}

// readLedger reads the records of r. A line that does not parse (cut short
// by a crash) is skipped: its post is redone if it was not recorded.
func readLedger(r io.Reader) (map[string]Posted, map[string]storage.Link, error) {
	seen := make(map[string]Posted)
	links := make(map[string]storage.Link)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line ledgerLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.ID == "" {
			continue
		}
		if sum, ok := strings.CutPrefix(line.ID, linkPrefix); ok {
			if line.Link != nil {
				links[sum] = storage.Link{URL: line.Link.URL, Expires: line.Link.Expires}
			}
			continue
		}
		seen[line.ID] = line.Posted
	}
	return seen, links, sc.Err()
}

// LookupLink implements LinkLedger.
func (l *FileLedger) LookupLink(_ context.Context, sha256 string) (storage.Link, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k, ok := l.links[sha256]
	return k, ok
}

// RecordLink implements LinkLedger: one line, written and synced.
func (l *FileLedger) RecordLink(_ context.Context, sha256 string, link storage.Link) error {
	if err := l.write(ledgerLine{ID: linkPrefix + sha256, Link: &ledgerLink{link.URL, link.Expires}}); err != nil {
		return err
	}
	l.mu.Lock()
	l.links[sha256] = link
	l.mu.Unlock()
	return nil
}

// Lookup implements Ledger.
func (l *FileLedger) Lookup(_ context.Context, id string) (Posted, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.seen[id]
	return p, ok
}

// Record implements Ledger: one line, written and synced.
func (l *FileLedger) Record(_ context.Context, id string, p Posted) error {
	if err := l.write(ledgerLine{ID: id, Posted: p}); err != nil {
		return err
	}
	l.mu.Lock()
	l.seen[id] = p
	l.mu.Unlock()
	return nil
}

// write appends line and syncs the file.
func (l *FileLedger) write(line ledgerLine) error {
	b, err := json.Marshal(line)
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
