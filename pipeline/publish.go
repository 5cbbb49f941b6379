package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// Recipe names the version of the preparation recipe. It is part of every
// object key, so a change to how files are prepared gets new keys instead of
// reusing objects prepared the old way.
const Recipe = "mediaprep-1"

// Store is what publishing needs from object storage; *storage.Store is the
// implementation.
type Store interface {
	// Key returns the object key for a content digest, slug and extension.
	Key(digest, slug, ext string) string
	// Lookup returns the object at key, and false when there is none.
	Lookup(ctx context.Context, key string) (storage.Object, bool, error)
	// Put streams body to key; on error nothing is left under key.
	Put(ctx context.Context, key string, body io.Reader, obj storage.Object) (storage.Object, error)
	// Link returns a direct link to key.
	Link(ctx context.Context, key string) (storage.Link, error)
}

var _ Store = (*storage.Store)(nil)

// LinkChecker fetches a link as Green API will and returns an error when it
// would not be delivered; storage.Checker is the implementation.
type LinkChecker interface {
	CheckLink(ctx context.Context, link, contentType string) error
}

var _ LinkChecker = storage.Checker{}

// Sender posts statuses; *greenapi.Client is the implementation, and a
// dry-run sender stands in for it when nothing may be posted.
type Sender interface {
	SendMediaStatus(ctx context.Context, s greenapi.MediaStatus) (greenapi.Sent, error)
	SendVoiceStatus(ctx context.Context, s greenapi.VoiceStatus) (greenapi.Sent, error)
	SendTextStatus(ctx context.Context, s greenapi.TextStatus) (greenapi.Sent, error)
}

var _ Sender = (*greenapi.Client)(nil)

// Ledger remembers what was posted, so a rerun does not post it again.
// Implementations must be safe for concurrent use.
type Ledger interface {
	// Lookup returns the record of a post id, and false when there is none.
	Lookup(ctx context.Context, id string) (Posted, bool)
	// Record stores p under id durably before it returns.
	Record(ctx context.Context, id string, p Posted) error
}

// Status is what a media status says besides its file.
type Status struct {
	Caption         string   `json:"caption,omitempty"`         // pictures and video
	Participants    []string `json:"participants,omitempty"`    // chat ids; none means all contacts
	BackgroundColor string   `json:"backgroundColor,omitempty"` // voice statuses, #RRGGBB
}

// Post is one status to publish: a source file, or a text status. (A
// queue.Job is the service's record of one, with its state.)
type Post struct {
	Source string
	// Label is how log lines name the source, e.g. the object key it was
	// fetched from into a temp file; default Source.
	Label   string
	Stem    string // output name stem, see Stems
	Prepare transcode.Options
	Status  Status
	Force   bool // post even when the ledger says it was posted
	// StoreOnly stops after the store step: the file is prepared and
	// stored now (a broken file fails now), linked and posted by a later
	// Publish of the same job (a status scheduled for later).
	StoreOnly bool
	// Text, when set, makes the job a text status (sendTextStatus) in
	// Font, with Status's background colour and participants: there is
	// no Source, and nothing to prepare, store or link.
	Text, Font string

	// Progress, when set, is called as the job enters each stage.
	Progress func(Stage)
}

// Stage is a step of publishing a file, as Post.Progress reports it.
type Stage string

// The stages in order.
const (
	StagePreparing Stage = "preparing"
	StageStoring   Stage = "storing"
	StageChecking  Stage = "checking link"
	StagePosting   Stage = "posting"
)

func (j Post) stage(s Stage) {
	if j.Progress != nil {
		j.Progress(s)
	}
}

// Posted is the result of publishing a file. Its JSON form is the prepare
// object plus where the file is and what Green API answered.
type Posted struct {
	Prepared
	Key         string    `json:"key"`
	URL         string    `json:"url"`
	LinkExpires time.Time `json:"linkExpires,omitzero"`
	Stored      bool      `json:"stored"`              // uploaded now; false when the bucket already had it
	IDMessage   string    `json:"idMessage,omitempty"` // empty in a dry run
	PostID      string    `json:"postId"`              // the ledger's id: content, options and status
	PostedAt    time.Time `json:"postedAt,omitzero"`
	Skipped     bool      `json:"skipped,omitempty"` // the ledger had it; nothing was done
	// OutcomeUnknown is set in a ledger record when the send was written
	// and no answer came: the status may or may not have been posted.
	OutcomeUnknown bool `json:"outcomeUnknown,omitempty"`
	DryRun         bool `json:"dryRun,omitempty"`
	// Delivery is how far the status got by getOutgoingStatuses when it
	// was followed: pending, sent, delivered, read or not_confirmed.
	Delivery     string `json:"delivery,omitempty"`
	DeliveryNote string `json:"deliveryNote,omitempty"`
	// Request is, in a dry run with a DryRunSender, the request the
	// status would have been posted with (the token redacted).
	Request *greenapi.Request `json:"request,omitempty"`
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	Ledger Ledger       // optional: skip what was posted before
	DryRun bool         // the Sender does not post; nothing is recorded
	Logger *slog.Logger // default: discard
	// Linker, when set, makes the links in place of Store.Link (link
	// mode greenapi: UploadLinker); the file is still kept in the Store.
	Linker Linker
	Now    func() time.Time // the clock links' lives are judged by; default time.Now
}

// Publisher runs the whole recipe for a file: sniff → prepare → store →
// verify link → post. It is safe for concurrent use.
type Publisher struct {
	pipe   *Pipeline
	stored Store
	check  LinkChecker
	sender Sender
	cfg    PublisherConfig

	mu       sync.Mutex
	inflight map[string]chan struct{} // post ids being published, closed when done
	posted   map[string]Posted        // post ids this Publisher posted (or may have)
	links    map[string]storage.Link  // links the Linker made, by content SHA-256
}

// NewPublisher returns a Publisher that prepares with pipe, stores in store,
// checks links with check and posts with send.
func NewPublisher(pipe *Pipeline, store Store, check LinkChecker, send Sender, cfg PublisherConfig) *Publisher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{pipe: pipe, stored: store, check: check, sender: send, cfg: cfg,
		inflight: make(map[string]chan struct{}), posted: make(map[string]Posted), links: make(map[string]storage.Link)}
}

// Publish prepares j.Source, stores it (or finds it already stored), checks
// its link and posts it with the method of its kind. The status fields are
// checked before any work; broken media fails in the prepare step and
// nothing is stored or posted. With a Ledger, a post already recorded for
// the same content, options and status is skipped unless j.Force, and two
// jobs of the same post never run at once. On error the Posted returned is
// empty, except when the status went out (or may have: OutcomeUnknown).
func (p *Publisher) Publish(ctx context.Context, j Post) (Posted, error) {
	r := &run{Post: j, log: p.cfg.Logger.With("source", cmp.Or(j.Label, j.Source))}
	defer p.release(r)
	// The recipe. A step may end the run early with r.done (posted before).
	steps := []func(context.Context, *run) error{
		p.sniff,    // what the file is, the method that posts it, the status checked
		p.identify, // content + options → digest, object key and post id
		p.claim,    // the ledger: posted before? another job posting it now?
		p.store,    // found in the bucket, or prepared and uploaded
		p.link,     // a direct link, fetched as Green API will fetch it
		p.send,     // the Green API call
		p.record,   // the ledger
	}
	if j.Text != "" && j.StoreOnly {
		return Posted{}, nil // a text status: nothing to prepare or store now
	}
	if j.Text != "" {
		// A text status: nothing to sniff, prepare, store or link.
		steps = []func(context.Context, *run) error{p.text, p.claim, p.send, p.record}
		r.log = p.cfg.Logger
	}
	for _, step := range steps {
		if err := step(ctx, r); err != nil {
			if j.Text == "" {
				err = fmt.Errorf("%s: %w", j.Source, err)
			}
			if r.posted || r.out.OutcomeUnknown {
				return r.out, err
			}
			return Posted{}, err
		}
		if r.done {
			break
		}
	}
	return r.out, nil
}

// run is one job going through Publish.
type run struct {
	Post
	log     *slog.Logger
	media   transcode.Media
	method  Method
	name    string // fileName for Green API: stem + extension
	srcSum  string // SHA-256 of the source
	digest  string // content + options, see contentDigest
	claimed string // the post id whose p.inflight entry this run holds
	posted  bool   // Green API took it
	done    bool   // nothing more to do
	out     Posted
}

func (p *Publisher) sniff(ctx context.Context, r *run) error {
	r.stage(StagePreparing)
	m, err := p.pipe.prep.Sniff(ctx, r.Source)
	if err != nil {
		return err
	}
	r.media, r.method = m, MethodFor(m.Kind)
	r.name = r.Stem + transcode.ExtFor(m.Kind)
	r.Status = statusFor(r.method, r.Status, r.log)
	return validateStatus(r.method, r.name, r.Status)
}

// text checks a text status and names its post.
func (p *Publisher) text(_ context.Context, r *run) error {
	r.method = MethodTextStatus
	r.out.Method = MethodTextStatus
	if err := r.textStatus().Validate(); err != nil {
		return err
	}
	r.out.PostID = postID("text\n"+r.Text+"\nfont="+r.Font, r.method, r.Status)
	return nil
}

// textStatus is the sendTextStatus call of a text job.
func (r *run) textStatus() greenapi.TextStatus {
	return greenapi.TextStatus{Message: r.Text, Font: r.Font, BackgroundColor: r.Status.BackgroundColor, Participants: r.Status.Participants}
}

func (p *Publisher) identify(_ context.Context, r *run) error {
	sum, err := fileSHA256(r.Source)
	if err != nil {
		return err
	}
	r.srcSum, r.digest = sum, contentDigest(sum, r.media.Kind, r.Prepare)
	// The key is named after the source's own name, not the run's stem,
	// so the same file gets the same key in any run.
	base := filepath.Base(r.Source)
	r.out.Key = p.stored.Key(r.digest, Slug(strings.TrimSuffix(base, filepath.Ext(base))), transcode.ExtFor(r.media.Kind))
	r.out.PostID = postID(r.digest, r.method, r.Status)
	return nil
}

// claim makes jobs with the same post id (the same file given twice, or two
// copies of it) run one after the other, then consults what was posted:
// a post done by this Publisher already is skipped even with Force (Force
// means "again", not "twice in one run"); one in the ledger is skipped
// unless Force.
func (p *Publisher) claim(ctx context.Context, r *run) error {
	id := r.out.PostID
	for {
		p.mu.Lock()
		busy, ok := p.inflight[id]
		if !ok {
			p.inflight[id] = make(chan struct{})
			r.claimed = id
			p.mu.Unlock()
			break
		}
		p.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	prev, ok := p.posted[id]
	p.mu.Unlock()
	if !ok && p.cfg.Ledger != nil && !r.Force {
		prev, ok = p.cfg.Ledger.Lookup(ctx, id)
	}
	if !ok {
		return nil
	}
	if prev.OutcomeUnknown {
		return &greenapi.Error{
			Method: string(prev.Method), Code: greenapi.CodeOutcomeUnknown,
			Message: fmt.Sprintf("an earlier run sent this status at %s and got no answer; it may have been posted. Check getOutgoingStatuses, then run again with --force to post it anyway",
				prev.PostedAt.Format(time.RFC3339)),
		}
	}
	r.log.Debug("already posted", "idMessage", prev.IDMessage)
	prev.Source, prev.Skipped = r.Source, true
	r.out, r.done = prev, true
	return nil
}

// release lets the next job with the same post id go on.
func (p *Publisher) release(r *run) {
	if r.claimed == "" {
		return
	}
	p.mu.Lock()
	close(p.inflight[r.claimed])
	delete(p.inflight, r.claimed)
	p.mu.Unlock()
}

func (p *Publisher) store(ctx context.Context, r *run) error {
	key := r.out.Key
	obj, found, err := p.stored.Lookup(ctx, key)
	if err != nil {
		return err
	}
	if found {
		if prep, ok := preparedFrom(obj, r.Source, r.name); ok && prep.Kind == r.media.Kind && prep.ContentType == transcode.ContentTypeFor(prep.Kind) {
			r.out.Prepared = prep
			r.log.Debug("found in storage", "key", key)
			r.done = r.StoreOnly
			return nil
		}
		// Stored by something else, or with the wrong type: prepare
		// and store again.
	}
	prep, err := p.pipe.prepareSniffed(ctx, r.Source, r.Stem, r.media, r.Prepare)
	if err != nil {
		return err
	}
	r.stage(StageStoring)
	if err := p.put(ctx, key, prep, r.srcSum); err != nil {
		return err
	}
	r.out.Prepared, r.out.Stored = prep, true
	r.log.Debug("stored", "key", key, "bytes", prep.SizeBytes)
	r.done = r.StoreOnly
	return nil
}

func (p *Publisher) link(ctx context.Context, r *run) error {
	var link storage.Link
	var err error
	if p.cfg.Linker != nil {
		link, err = p.linkFile(ctx, r)
	} else {
		link, err = p.stored.Link(ctx, r.out.Key)
	}
	if err != nil {
		return err
	}
	r.out.URL, r.out.LinkExpires = link.URL, link.Expires
	if IsDryRunLink(link.URL) {
		return nil // a dry run without a bucket: nothing to fetch
	}
	r.stage(StageChecking)
	// The type the link must be served with comes from the kind, not from
	// the stored object, so a wrongly typed object cannot vouch for itself.
	return p.check.CheckLink(ctx, link.URL, transcode.ContentTypeFor(r.media.Kind))
}

func (p *Publisher) send(ctx context.Context, r *run) error {
	r.stage(StagePosting)
	status, err := r.call()
	if err != nil {
		return err
	}
	sent, err := p.post(ctx, status)
	r.out.PostedAt = time.Now().UTC().Truncate(time.Second)
	if err != nil {
		if errors.Is(err, greenapi.ErrOutcomeUnknown) && !p.cfg.DryRun {
			// The status may have been posted: remember that, so that
			// neither this run nor a rerun posts it a second time without
			// --force.
			r.out.OutcomeUnknown = true
			p.remember(r.out)
			if p.cfg.Ledger != nil {
				if rerr := p.cfg.Ledger.Record(ctx, r.out.PostID, r.out); rerr != nil {
					r.log.Error("ledger", "err", rerr)
				}
			}
		}
		return err
	}
	r.out.IDMessage, r.out.DryRun = sent.IDMessage, p.cfg.DryRun
	if d, ok := p.sender.(*DryRunSender); ok && p.cfg.DryRun {
		if req, err := d.Client.DryRun(string(r.method), status); err == nil {
			r.out.Request = &req
		}
	}
	p.remember(r.out)
	if !p.cfg.DryRun {
		r.posted = true
		r.log.Info("posted", "method", r.out.Method, "idMessage", r.out.IDMessage, "key", r.out.Key)
	}
	return nil
}

// remember notes that this Publisher sent out (a dry run: would send).
func (p *Publisher) remember(out Posted) {
	p.mu.Lock()
	p.posted[out.PostID] = out
	p.mu.Unlock()
}

func (p *Publisher) record(ctx context.Context, r *run) error {
	if p.cfg.Ledger == nil || p.cfg.DryRun {
		return nil
	}
	if err := p.cfg.Ledger.Record(ctx, r.out.PostID, r.out); err != nil {
		return fmt.Errorf("posted as %s but not recorded: %w", r.out.IDMessage, err)
	}
	return nil
}

func (p *Publisher) put(ctx context.Context, key string, prep Prepared, srcSum string) error {
	f, err := os.Open(prep.Output)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = p.stored.Put(ctx, key, f, storage.Object{
		ContentType: prep.ContentType,
		Size:        prep.SizeBytes,
		FileName:    downloadName(prep),
		Metadata: map[string]string{
			"recipe":        Recipe,
			"kind":          string(prep.Kind),
			"width":         strconv.Itoa(prep.Width),
			"height":        strconv.Itoa(prep.Height),
			"duration":      strconv.FormatFloat(prep.DurationSeconds, 'f', 3, 64),
			"sha256":        prep.SHA256,
			"source-sha256": srcSum,
			"fast-path":     strconv.FormatBool(prep.FastPath),
		},
	})
	return err
}

// downloadName is the name a browser shows for the stored file: the
// DisplayName of the source's own name with the prepared file's
// extension, else the prepared file's name.
func downloadName(prep Prepared) string {
	name := DisplayName(filepath.Base(prep.Source))
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	if stem == "" {
		return prep.FileName
	}
	return stem + filepath.Ext(prep.FileName)
}

// preparedFrom rebuilds what Prepare said about a file from the metadata Put
// stored with it; false when the object was not stored by this recipe.
func preparedFrom(obj storage.Object, src, name string) (Prepared, bool) {
	md := obj.Metadata
	if md["recipe"] != Recipe || md["sha256"] == "" {
		return Prepared{}, false
	}
	kind := transcode.Kind(md["kind"])
	w, _ := strconv.Atoi(md["width"])
	h, _ := strconv.Atoi(md["height"])
	d, _ := strconv.ParseFloat(md["duration"], 64)
	return Prepared{
		Source:          src,
		Kind:            kind,
		Method:          MethodFor(kind),
		FileName:        name,
		ContentType:     obj.ContentType,
		Width:           w,
		Height:          h,
		DurationSeconds: d,
		SizeBytes:       obj.Size,
		SHA256:          md["sha256"],
		FastPath:        md["fast-path"] == "true",
	}, true
}

// call is the status r posts: a greenapi.MediaStatus, VoiceStatus or
// TextStatus.
func (r *run) call() (any, error) {
	st := r.Status
	switch r.out.Method {
	case MethodVoiceStatus:
		return greenapi.VoiceStatus{URLFile: r.out.URL, FileName: r.out.FileName, BackgroundColor: st.BackgroundColor, Participants: st.Participants}, nil
	case MethodMediaStatus:
		return greenapi.MediaStatus{URLFile: r.out.URL, FileName: r.out.FileName, Caption: st.Caption, Participants: st.Participants}, nil
	case MethodTextStatus:
		return r.textStatus(), nil
	}
	return nil, fmt.Errorf("pipeline: no status method for %q", r.out.Method)
}

// post sends status with the method of its type.
func (p *Publisher) post(ctx context.Context, status any) (greenapi.Sent, error) {
	switch s := status.(type) {
	case greenapi.VoiceStatus:
		return p.sender.SendVoiceStatus(ctx, s)
	case greenapi.MediaStatus:
		return p.sender.SendMediaStatus(ctx, s)
	case greenapi.TextStatus:
		return p.sender.SendTextStatus(ctx, s)
	}
	return greenapi.Sent{}, fmt.Errorf("pipeline: no status method for %T", status)
}

// statusFor keeps the fields of st that method takes: voice statuses have
// no caption and media statuses no background colour, so a caption given for
// a whole batch is dropped for its audio files (with a log line) instead of
// failing them.
func statusFor(method Method, st Status, log *slog.Logger) Status {
	if method == MethodVoiceStatus && st.Caption != "" {
		log.Info("caption ignored: voice statuses have none")
		st.Caption = ""
	}
	if method == MethodMediaStatus && st.BackgroundColor != "" {
		log.Info("backgroundColor ignored: picture and video statuses have none")
		st.BackgroundColor = ""
	}
	return st
}

// validateStatus checks the status fields before any work is done, with a
// stand-in link (the real one exists only after storing).
func validateStatus(method Method, fileName string, st Status) error {
	const link = "https://mediaprep.invalid/status"
	if method == MethodVoiceStatus {
		return greenapi.VoiceStatus{URLFile: link, FileName: fileName, BackgroundColor: st.BackgroundColor, Participants: st.Participants}.Validate()
	}
	return greenapi.MediaStatus{URLFile: link, FileName: fileName, Caption: st.Caption, Participants: st.Participants}.Validate()
}

// contentDigest identifies a prepared file before it is prepared: the
// source's SHA-256, the recipe, and the options that change the output of
// its kind (the crop for pictures, the fit and the fast path for video,
// none for audio), defaults spelled out, so that another --crop does not
// make a video or a voice note new content.
func contentDigest(srcSum string, k transcode.Kind, o transcode.Options) string {
	var opts string
	switch k {
	case transcode.KindImage:
		opts = "crop=" + string(cmp.Or(o.Crop, transcode.CropCenter))
	case transcode.KindVideo:
		opts = fmt.Sprintf("fit=%s force=%t", cmp.Or(o.VideoFit, transcode.FitKeep), o.ForceTranscode)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", Recipe, srcSum, k, opts)
	return hex.EncodeToString(h.Sum(nil))
}

// postID identifies a post: the prepared content and what the status says.
func postID(digest string, method Method, st Status) string {
	parts := slices.Clone(st.Participants)
	slices.Sort(parts)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\ncaption=%q\nbg=%q\nparticipants=%s\n", digest, method, st.Caption, strings.ToUpper(st.BackgroundColor), strings.Join(parts, ","))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CodeBadMetadata is the code of a status's options that do not parse: a
// sidecar or manifest of batch, a sidecar or the object metadata of a file
// dropped into the service's inbox.
const CodeBadMetadata = "bad_metadata"

// CodeOf returns the stable code of an error from a Pipeline or Publisher
// call: a storage or Green API code when it is one of theirs, else the
// preparation's code.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	if c := storage.CodeOf(err); c != "" {
		return c
	}
	var ge *greenapi.Error
	if errors.As(err, &ge) {
		return greenapi.CodeOf(err)
	}
	return string(transcode.CodeOf(err))
}
