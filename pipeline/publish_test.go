package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// The fakes below record what Publish asks of each part, so the tests can
// check the order of the recipe and what is never reached after a failure.
// The real parts are tested end to end in cmd/mediaprep.

type countingPreparer struct {
	kind     transcode.Kind
	err      error
	mu       sync.Mutex
	prepared int
}

func (p *countingPreparer) Sniff(context.Context, string) (transcode.Media, error) {
	return transcode.Media{Kind: p.kind}, nil
}

func (p *countingPreparer) PrepareMedia(_ context.Context, _ string, m transcode.Media, dst string, _ transcode.Options) (transcode.Result, error) {
	p.mu.Lock()
	p.prepared++
	p.mu.Unlock()
	if p.err != nil {
		return transcode.Result{}, p.err
	}
	if err := os.WriteFile(dst, []byte("prepared"), 0o644); err != nil {
		return transcode.Result{}, err
	}
	return transcode.Result{Kind: m.Kind, ContentType: transcode.ContentTypeFor(m.Kind), Size: 8, SHA256: "ab"}, nil
}

type memStore struct {
	mu   sync.Mutex
	objs map[string]storage.Object
	puts int
}

func (s *memStore) Key(digest, slug, ext string) string { return "p/" + digest[:16] + "-" + slug + ext }

func (s *memStore) Lookup(_ context.Context, key string) (storage.Object, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	return o, ok, nil
}

func (s *memStore) Put(_ context.Context, key string, body io.Reader, obj storage.Object) (storage.Object, error) {
	if _, err := io.Copy(io.Discard, body); err != nil {
		return storage.Object{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.objs == nil {
		s.objs = map[string]storage.Object{}
	}
	obj.Key = key
	s.objs[key] = obj
	s.puts++
	return obj, nil
}

func (s *memStore) Link(_ context.Context, key string) (storage.Link, error) {
	return storage.Link{URL: "https://cdn.example.com/" + key}, nil
}

type fakeChecker struct {
	err  error
	mu   sync.Mutex
	want []string // content types asked for
}

func (c *fakeChecker) CheckLink(_ context.Context, _, contentType string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = append(c.want, contentType)
	return c.err
}

type fakeSender struct {
	mu   sync.Mutex
	err  error
	sent []any
}

func (s *fakeSender) send(st any) (greenapi.Sent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, st)
	if s.err != nil {
		return greenapi.Sent{}, s.err
	}
	return greenapi.Sent{IDMessage: fmt.Sprintf("3EB0%016d", len(s.sent))}, nil
}

func (s *fakeSender) SendMediaStatus(_ context.Context, st greenapi.MediaStatus) (greenapi.Sent, error) {
	return s.send(st)
}
func (s *fakeSender) SendVoiceStatus(_ context.Context, st greenapi.VoiceStatus) (greenapi.Sent, error) {
	return s.send(st)
}
func (s *fakeSender) SendTextStatus(_ context.Context, st greenapi.TextStatus) (greenapi.Sent, error) {
	return s.send(st)
}

type memLedger struct {
	mu sync.Mutex
	m  map[string]Posted
}

func (l *memLedger) Lookup(_ context.Context, id string) (Posted, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.m[id]
	return p, ok
}

func (l *memLedger) Record(_ context.Context, id string, p Posted) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]Posted{}
	}
	l.m[id] = p
	return nil
}

type parts struct {
	pl     *Pipeline
	prep   *countingPreparer
	store  *memStore
	check  *fakeChecker
	send   *fakeSender
	ledger *memLedger
	pub    *Publisher
	src    string
}

func newParts(t *testing.T, kind transcode.Kind) *parts {
	t.Helper()
	p := &parts{prep: &countingPreparer{kind: kind}, store: &memStore{}, check: &fakeChecker{}, send: &fakeSender{}, ledger: &memLedger{}}
	pl, err := New(Config{OutDir: t.TempDir()}, p.prep)
	if err != nil {
		t.Fatal(err)
	}
	p.pl = pl
	p.again()
	p.src = filepath.Join(t.TempDir(), "Beach Day.raw")
	if err := os.WriteFile(p.src, bytes.Repeat([]byte("x"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// again starts a new run: a new Publisher over the same parts and ledger.
func (p *parts) again() {
	p.pub = NewPublisher(p.pl, p.store, p.check, p.send, PublisherConfig{Ledger: p.ledger})
}

func TestPublishRunsTheRecipeInOrder(t *testing.T) {
	p := newParts(t, transcode.KindAudio)
	var stages []Stage
	got, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "beach-day",
		Status:   Status{Caption: "dropped for voice", BackgroundColor: "#228B22"},
		Progress: func(s Stage) { stages = append(stages, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Stage{StagePreparing, StageStoring, StageChecking, StagePosting}; !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	if !got.Stored || got.IDMessage == "" || !strings.HasSuffix(got.Key, "-beach-day.mp3") || got.URL != "https://cdn.example.com/"+got.Key {
		t.Errorf("Publish = %+v", got)
	}
	if !slices.Equal(p.check.want, []string{"audio/mpeg"}) {
		t.Errorf("link checked for %v, want audio/mpeg", p.check.want)
	}
	if len(p.send.sent) != 1 {
		t.Fatalf("%d sends", len(p.send.sent))
	}
	vs, ok := p.send.sent[0].(greenapi.VoiceStatus)
	if !ok || vs.URLFile != got.URL || vs.FileName != "beach-day.mp3" || vs.BackgroundColor != "#228B22" {
		t.Errorf("sent %#v", p.send.sent[0])
	}
	if _, ok := p.ledger.Lookup(t.Context(), got.PostID); !ok {
		t.Error("not recorded in the ledger")
	}
}

func TestPublishStopsAtTheFirstFailure(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*parts)
		status   Status
		code     string
		prepared int // PrepareMedia calls
		puts     int
	}{
		{"broken media", func(p *parts) { p.prep.err = fmt.Errorf("%w: bad frame", transcode.ErrCorruptMedia) }, Status{}, "corrupt_media", 1, 0},
		{"caption too long", func(*parts) {}, Status{Caption: strings.Repeat("a", 1025)}, "invalid_request", 0, 0},
		{"bad participant", func(*parts) {}, Status{Participants: []string{"+7 900 123"}}, "invalid_request", 0, 0},
		{"link rejected", func(p *parts) {
			p.check.err = fmt.Errorf("%w: served as application/octet-stream", storage.ErrLinkRejected)
		}, Status{}, "link_rejected", 1, 1},
		{"Green API refuses", func(p *parts) { p.send.err = &greenapi.Error{Code: greenapi.CodeForbidden} }, Status{}, "forbidden", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newParts(t, transcode.KindImage)
			tt.setup(p)
			_, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "b", Status: tt.status})
			if CodeOf(err) != tt.code {
				t.Fatalf("Publish = %v (code %q), want code %s", err, CodeOf(err), tt.code)
			}
			if !strings.Contains(err.Error(), p.src) {
				t.Errorf("error %q does not name the source", err)
			}
			if p.prep.prepared != tt.prepared || p.store.puts != tt.puts {
				t.Errorf("prepared %d, stored %d; want %d, %d", p.prep.prepared, p.store.puts, tt.prepared, tt.puts)
			}
			wantSends := 0
			if tt.code == "forbidden" {
				wantSends = 1
			}
			if len(p.send.sent) != wantSends {
				t.Errorf("%d sends, want %d", len(p.send.sent), wantSends)
			}
			if len(p.ledger.m) != 0 {
				t.Errorf("ledger recorded a failure: %v", p.ledger.m)
			}
		})
	}
}

func TestPublishReusesStoredFileAndLedger(t *testing.T) {
	p := newParts(t, transcode.KindImage)
	first, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "a", Status: Status{Caption: "one"}})
	if err != nil {
		t.Fatal(err)
	}
	// Same file, same status, many at once: one post, the rest skipped.
	var wg sync.WaitGroup
	results := make([]Posted, 4)
	for i := range results {
		wg.Go(func() {
			r, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "a", Status: Status{Caption: "one"}})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	for _, r := range results {
		if !r.Skipped || r.IDMessage != first.IDMessage {
			t.Errorf("rerun %+v, want skipped as %s", r, first.IDMessage)
		}
	}
	// A new caption is a new post of the stored file: not prepared again.
	second, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "a", Status: Status{Caption: "two"}})
	if err != nil {
		t.Fatal(err)
	}
	if second.Stored || second.Skipped || second.Key != first.Key || p.prep.prepared != 1 || p.store.puts != 1 || len(p.send.sent) != 2 {
		t.Errorf("new caption: %+v; prepared %d, puts %d, sends %d", second, p.prep.prepared, p.store.puts, len(p.send.sent))
	}
	// Another crop is other content for a picture.
	third, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "a", Status: Status{Caption: "one"}, Prepare: transcode.Options{Crop: transcode.CropPad}})
	if err != nil || third.Key == first.Key || !third.Stored {
		t.Errorf("pad crop: %+v, %v", third, err)
	}
}

func TestPublishOptionsOfOtherKindsChangeNothing(t *testing.T) {
	for _, kind := range []transcode.Kind{transcode.KindVideo, transcode.KindAudio} {
		p := newParts(t, kind)
		if _, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "a"}); err != nil {
			t.Fatal(err)
		}
		p.again()
		got, err := p.pub.Publish(t.Context(), Post{Source: p.src, Stem: "a", Prepare: transcode.Options{Crop: transcode.CropPad, VideoFit: kindFit(kind)}})
		if err != nil || !got.Skipped || len(p.send.sent) != 1 || p.store.puts != 1 {
			t.Errorf("%s with --crop pad: %+v, %v; %d sends, %d uploads; want skipped", kind, got, err, len(p.send.sent), p.store.puts)
		}
	}
}

// kindFit is a video fit that changes nothing for kind: the default for
// video, any for audio.
func kindFit(kind transcode.Kind) transcode.Fit {
	if kind == transcode.KindVideo {
		return transcode.FitKeep
	}
	return transcode.FitPad
}

// gatedPreparer prepares only once every job has entered its first stage,
// so that all of them reach the claim before any can post.
type gatedPreparer struct {
	*countingPreparer
	all <-chan struct{}
}

func (g gatedPreparer) PrepareMedia(ctx context.Context, src string, m transcode.Media, dst string, o transcode.Options) (transcode.Result, error) {
	<-g.all
	return g.countingPreparer.PrepareMedia(ctx, src, m, dst, o)
}

func TestPublishConcurrentFirstPostsOnce(t *testing.T) {
	for _, withLedger := range []bool{true, false} {
		p := newParts(t, transcode.KindImage)
		const n = 6
		all := make(chan struct{})
		var started sync.WaitGroup
		started.Add(n)
		go func() { started.Wait(); close(all) }()
		pl, _ := New(Config{OutDir: t.TempDir()}, gatedPreparer{p.prep, all})
		cfg := PublisherConfig{}
		if withLedger {
			cfg.Ledger = p.ledger
		}
		pub := NewPublisher(pl, p.store, p.check, p.send, cfg)
		var wg sync.WaitGroup
		for range n {
			var once sync.Once
			wg.Go(func() {
				_, err := pub.Publish(t.Context(), Post{Source: p.src, Stem: "a", Status: Status{Caption: "c"},
					Progress: func(Stage) { once.Do(started.Done) }})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if len(p.send.sent) != 1 || p.prep.prepared != 1 {
			t.Errorf("ledger %v: %d concurrent first publishes of one post: %d sends, %d prepared; want 1, 1", withLedger, n, len(p.send.sent), p.prep.prepared)
		}
	}
}

func TestPublishOutcomeUnknownBlocksARerun(t *testing.T) {
	p := newParts(t, transcode.KindVideo)
	p.send.err = fmt.Errorf("wrapped: %w", &greenapi.Error{Code: greenapi.CodeCanceled})
	p.send.err = errors.Join(p.send.err, greenapi.ErrOutcomeUnknown) // canceled after the request was written
	job := Post{Source: p.src, Stem: "v"}
	if _, err := p.pub.Publish(t.Context(), job); !errors.Is(err, greenapi.ErrOutcomeUnknown) {
		t.Fatalf("Publish = %v", err)
	}
	p.send.err = nil
	p.again()
	_, err := p.pub.Publish(t.Context(), job)
	if CodeOf(err) != greenapi.CodeOutcomeUnknown || !strings.Contains(err.Error(), "--force") || len(p.send.sent) != 1 {
		t.Fatalf("rerun = %v, %d sends; want outcome_unknown and no second send", err, len(p.send.sent))
	}
	job.Force = true
	p.again()
	if got, err := p.pub.Publish(t.Context(), job); err != nil || got.IDMessage == "" || len(p.send.sent) != 2 {
		t.Fatalf("forced rerun = %+v, %v", got, err)
	}
	// Force means again, not twice in one run.
	if got, err := p.pub.Publish(t.Context(), job); err != nil || !got.Skipped || len(p.send.sent) != 2 {
		t.Fatalf("forced twice in one run = %+v, %v; %d sends", got, err, len(p.send.sent))
	}
}

// TestPublishText: a text status goes through the same recipe without a
// file: nothing is prepared, stored or checked; it is sent with
// sendTextStatus and recorded, and a rerun skips it. A bad one fails
// before any send.
func TestPublishText(t *testing.T) {
	p := newParts(t, transcode.KindImage)
	var stages []Stage
	j := Post{Text: "Sale today", Font: "SERIF", Status: Status{BackgroundColor: "#228B22", Participants: []string{"79001234567@c.us"}},
		Progress: func(s Stage) { stages = append(stages, s) }}
	got, err := p.pub.Publish(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	if p.prep.prepared != 0 || p.store.puts != 0 || len(p.check.want) != 0 {
		t.Errorf("prepared %d, stored %d, checked %v: want none", p.prep.prepared, p.store.puts, p.check.want)
	}
	if !slices.Equal(stages, []Stage{StagePosting}) {
		t.Errorf("stages %v, want posting only", stages)
	}
	want := greenapi.TextStatus{Message: "Sale today", Font: "SERIF", BackgroundColor: "#228B22", Participants: []string{"79001234567@c.us"}}
	if len(p.send.sent) != 1 {
		t.Fatalf("%d sends", len(p.send.sent))
	}
	if ts, ok := p.send.sent[0].(greenapi.TextStatus); !ok || ts.Message != want.Message || ts.Font != want.Font || ts.BackgroundColor != want.BackgroundColor || !slices.Equal(ts.Participants, want.Participants) {
		t.Errorf("sent %#v, want %#v", p.send.sent[0], want)
	}
	if got.Method != MethodTextStatus || got.IDMessage == "" || got.Key != "" {
		t.Errorf("Publish = %+v", got)
	}
	if rec, ok := p.ledger.Lookup(t.Context(), got.PostID); !ok || rec.IDMessage != got.IDMessage {
		t.Errorf("ledger has %+v, %v", rec, ok)
	}
	p.again()
	if again, err := p.pub.Publish(t.Context(), j); err != nil || !again.Skipped || len(p.send.sent) != 1 {
		t.Errorf("rerun: %+v, %v; %d sends", again, err, len(p.send.sent))
	}

	bad := j
	bad.Text, bad.Font = "Sale tomorrow", "COMIC_SANS"
	if _, err := p.pub.Publish(t.Context(), bad); greenapi.CodeOf(err) != greenapi.CodeInvalidRequest || len(p.send.sent) != 1 {
		t.Errorf("bad font: %v; %d sends", err, len(p.send.sent))
	}
}
