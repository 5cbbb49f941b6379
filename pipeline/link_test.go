package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

type fakeUploader struct {
	mu    sync.Mutex
	now   func() time.Time
	bytes []string // what each upload read
}

func (u *fakeUploader) UploadFile(_ context.Context, up greenapi.Upload) (greenapi.Uploaded, error) {
	f, err := up.Open()
	if err != nil {
		return greenapi.Uploaded{}, err
	}
	defer f.Close()
	b := make([]byte, up.Size)
	if _, err := f.Read(b); err != nil {
		return greenapi.Uploaded{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.bytes = append(u.bytes, string(b))
	return greenapi.Uploaded{URLFile: fmt.Sprintf("https://media.example/%d.jpg", len(u.bytes)), Expires: u.now().Add(greenapi.UploadLifetime)}, nil
}

// dlStore is a memStore that gives files back, as *storage.Store does.
type dlStore struct{ *memStore }

func (s dlStore) Download(_ context.Context, key, dst string) (storage.Object, error) {
	return storage.Object{Key: key}, os.WriteFile(dst, []byte("prepared"), 0o600)
}

// A link made with uploadFile is recorded in the ledger and reused by a
// later run for the same content while it lives MinLinkLife more; after
// that the file is uploaded again, fetched back from storage.
func TestLinkerReusesLiveLinks(t *testing.T) {
	p := newParts(t, transcode.KindImage)
	ledgerPath := filepath.Join(t.TempDir(), LedgerName)
	ledger, err := OpenLedger(ledgerPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ledger.Close() }()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	up := &fakeUploader{now: clock}
	store := dlStore{p.store}
	run := func(force bool) Posted {
		t.Helper()
		pub := NewPublisher(p.pl, store, p.check, p.send, PublisherConfig{Ledger: ledger, Linker: UploadLinker{Uploader: up}, Now: clock})
		got, err := pub.Publish(t.Context(), Post{Source: p.src, Stem: "beach-day", Force: force})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := run(false)
	if len(up.bytes) != 1 || up.bytes[0] != "prepared" || first.URL != "https://media.example/1.jpg" || !first.LinkExpires.Equal(now.Add(greenapi.UploadLifetime)) {
		t.Fatalf("first run: %+v, uploads %q", first, up.bytes)
	}
	if l, ok := ledger.LookupLink(t.Context(), first.SHA256); !ok || l.URL != first.URL {
		t.Fatalf("link not in the ledger: %+v", l)
	}
	// Reopened, as a rerun would.
	ledger.Close()
	if ledger, err = OpenLedger(ledgerPath); err != nil {
		t.Fatal(err)
	}

	now = now.Add(greenapi.UploadLifetime - MinLinkLife - time.Hour)
	if again := run(true); again.URL != first.URL || len(up.bytes) != 1 {
		t.Errorf("rerun with a live link: %s, %d uploads; want the same link, no upload", again.URL, len(up.bytes))
	}
	now = now.Add(2 * time.Hour) // less than MinLinkLife left
	if late := run(true); late.URL != "https://media.example/2.jpg" || len(up.bytes) != 2 || up.bytes[1] != "prepared" {
		t.Errorf("rerun near expiry: %s, uploads %q; want a new upload of the stored file", late.URL, up.bytes)
	}
	if len(p.send.sent) != 3 {
		t.Errorf("%d sends, want 3", len(p.send.sent))
	}
}
