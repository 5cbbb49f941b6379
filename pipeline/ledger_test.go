package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestLedgerSurvivesReopenAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out", LedgerName)
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			p := Posted{IDMessage: "3EB0" + string(rune('A'+i)), URL: "https://example.com/x"}
			if err := l.Record(t.Context(), string(rune('a'+i)), p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if _, err := f.WriteString(`{"id":"zz","posted":{"idMess`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l, err = OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 20 {
		t.Fatalf("reopened ledger holds %d posts, want 20", l.Len())
	}
	if p, ok := l.Lookup(t.Context(), "c"); !ok || p.IDMessage != "3EB0C" {
		t.Errorf("Lookup(c) = %+v, %v", p, ok)
	}
	if _, ok := l.Lookup(t.Context(), "zz"); ok {
		t.Error("the torn line was read as a post")
	}
	// The next record starts on a line of its own and is read back.
	if err := l.Record(t.Context(), "new", Posted{IDMessage: "3EB0NEW"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := l.Lookup(t.Context(), "new"); !ok || p.IDMessage != "3EB0NEW" || l.Len() != 21 {
		t.Errorf("after the torn line: Lookup(new) = %+v, %v; %d posts", p, ok, l.Len())
	}
	l.Close()
	// Opening again adds nothing: the file ends with a newline now.
	before, _ := os.ReadFile(path)
	l, _ = OpenLedger(path)
	l.Close()
	if after, _ := os.ReadFile(path); len(after) != len(before) {
		t.Errorf("reopening grew the ledger from %d to %d bytes", len(before), len(after))
	}
	// A dry run reads it without writing.
	r, err := ReadLedger(path)
	if err != nil || r.Len() != 21 || r.Record(t.Context(), "x", Posted{}) == nil {
		t.Errorf("ReadLedger: %d posts, %v; Record must fail", r.Len(), err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if none, err := ReadLedger(filepath.Join(missing, LedgerName)); err != nil || none.Len() != 0 {
		t.Errorf("ReadLedger of a missing file = %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("ReadLedger created a folder")
	}
}

func TestLedgerIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), LedgerName)
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description: a second open in
	// this process conflicts as one in another process would.
	if _, err := OpenLedger(path); !errors.Is(err, ErrLedgerBusy) {
		t.Fatalf("second OpenLedger = %v, want ErrLedgerBusy", err)
	}
	l.Close()
	l2, err := OpenLedger(path)
	if err != nil {
		t.Fatalf("OpenLedger after Close: %v", err)
	}
	l2.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("ledger mode %v, want 0600 (it holds presigned links)", fi.Mode().Perm())
	}
}
