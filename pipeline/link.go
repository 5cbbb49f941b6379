package pipeline

import (
	"context"
	"fmt"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/storage"
)

// Linker makes the link Green API fetches for a prepared file, in place of
// Store.Link: UploadLinker hosts the file on Green API's media host.
// Implementations must be safe for concurrent use.
type Linker interface {
	// Link returns a direct link to f that lives until the returned
	// Expires (zero: no end).
	Link(ctx context.Context, f LinkFile) (storage.Link, error)
}

// LinkFile is a prepared file to link to.
type LinkFile struct {
	Key         string // its object key in storage
	Path        string // the file on disk
	ContentType string
	FileName    string // the name Green API shows, with the extension
	SHA256      string
	Size        int64
}

// LinkLedger is an optional ability of a Ledger: it keeps the links a
// Linker made, by the prepared content's SHA-256, so that a rerun (or
// another post of the same file) reuses a link still alive instead of
// uploading again.
type LinkLedger interface {
	LookupLink(ctx context.Context, sha256 string) (storage.Link, bool)
	RecordLink(ctx context.Context, sha256 string, l storage.Link) error
}

// Downloader is an optional ability of a Store: a file found in storage
// (prepared by an earlier run) is fetched to be given to a Linker.
type Downloader interface {
	Download(ctx context.Context, key, dst string) (storage.Object, error)
}

// MinLinkLife is how long a reused link must still live: Green API keeps a
// status queued for up to 24 hours before it fetches the file, plus an
// hour of margin.
const MinLinkLife = 25 * time.Hour

// Uploader hosts files on Green API; *greenapi.Client is the implementation.
type Uploader interface {
	UploadFile(ctx context.Context, u greenapi.Upload) (greenapi.Uploaded, error)
}

var _ Uploader = (*greenapi.Client)(nil)

// UploadLinker is the greenapi link mode: the prepared file is uploaded
// with uploadFile, streamed from disk, and the urlFile answered is the link.
type UploadLinker struct{ Uploader Uploader }

var _ Linker = UploadLinker{}

// Link implements Linker.
func (u UploadLinker) Link(ctx context.Context, f LinkFile) (storage.Link, error) {
	up, err := greenapi.UploadPath(f.Path, f.ContentType, f.FileName)
	if err != nil {
		return storage.Link{}, err
	}
	got, err := u.Uploader.UploadFile(ctx, up)
	if err != nil {
		return storage.Link{}, err
	}
	return storage.Link{URL: got.URLFile, Expires: got.Expires}, nil
}

// DryRunLinker stands in for UploadLinker in a dry run: it uploads nothing
// and gives a placeholder naming the file, DryRunLinkBase + its key, which
// the Publisher neither checks nor records. It is how a dry run without a
// bucket shows the request a real run would send: the placeholder is an
// https URL, so the request is checked as a real one.
type DryRunLinker struct{}

var _ Linker = DryRunLinker{}

// DryRunLinkBase starts every link a DryRunLinker makes: the .invalid
// domain never resolves (RFC 2606), and the host says where a real run's
// link comes from; a script can tell it by that prefix.
const DryRunLinkBase = "https://uploadfile.invalid/"

// Link implements Linker.
func (DryRunLinker) Link(ctx context.Context, f LinkFile) (storage.Link, error) {
	return storage.Link{URL: DryRunLinkBase + f.Key}, nil
}

// IsDryRunLink reports whether url is a DryRunLinker's placeholder.
func IsDryRunLink(url string) bool { return strings.HasPrefix(url, DryRunLinkBase) }

// linkFile makes r's link with the Linker, reusing one made for the same
// content (by this Publisher, or recorded in the ledger) that lives at
// least MinLinkLife more.
func (p *Publisher) linkFile(ctx context.Context, r *run) (storage.Link, error) {
	sum := r.out.SHA256
	now := p.now()
	alive := func(l storage.Link) bool {
		return l.URL != "" && (l.Expires.IsZero() || l.Expires.After(now.Add(MinLinkLife)))
	}
	p.mu.Lock()
	l, ok := p.links[sum]
	p.mu.Unlock()
	if ok && alive(l) {
		r.log.Debug("link reused", "sha256", sum)
		return l, nil
	}
	ll, _ := p.cfg.Ledger.(LinkLedger)
	if ll != nil && sum != "" {
		if l, ok := ll.LookupLink(ctx, sum); ok && alive(l) {
			r.log.Debug("link reused from the ledger", "sha256", sum, "expires", l.Expires)
			p.keepLink(sum, l)
			return l, nil
		}
	}
	path := r.out.Output
	if path == "" {
		// Found in storage: fetch it to upload it.
		d, ok := p.stored.(Downloader)
		if !ok {
			return storage.Link{}, fmt.Errorf("pipeline: %s was found in storage, which cannot give it back to be linked", r.out.Key)
		}
		if err := os.MkdirAll(p.pipe.cfg.OutDir, 0o755); err != nil {
			return storage.Link{}, fmt.Errorf("%w: %w", storage.ErrFailed, err)
		}
		dir, err := os.MkdirTemp(p.pipe.cfg.OutDir, ".link-")
		if err != nil {
			return storage.Link{}, fmt.Errorf("%w: %w", storage.ErrFailed, err)
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, pathpkg.Base(r.out.Key))
		if _, err := d.Download(ctx, r.out.Key, path); err != nil {
			return storage.Link{}, err
		}
	}
	l, err := p.cfg.Linker.Link(ctx, LinkFile{
		Key: r.out.Key, Path: path, ContentType: r.out.ContentType, FileName: pathpkg.Base(r.out.Key), // plain ASCII
		SHA256: sum, Size: r.out.SizeBytes,
	})
	if err != nil {
		return storage.Link{}, err
	}
	p.keepLink(sum, l)
	if ll != nil && sum != "" && !p.cfg.DryRun {
		if err := ll.RecordLink(ctx, sum, l); err != nil {
			r.log.Warn("ledger: link not recorded; a rerun uploads again", "err", err)
		}
	}
	return l, nil
}

func (p *Publisher) keepLink(sum string, l storage.Link) {
	if sum == "" {
		return
	}
	p.mu.Lock()
	p.links[sum] = l
	p.mu.Unlock()
}

func (p *Publisher) now() time.Time {
	if p.cfg.Now != nil {
		return p.cfg.Now()
	}
	return time.Now()
}
