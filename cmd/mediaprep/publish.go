package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/cwriter"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// publishFlags are the flags post and batch share.
type publishFlags struct {
	settings
	prepFlags
	dryRun          bool
	caption         string
	participants    []string
	backgroundColor string
	deliveryWin     string
	publishAt       string // --publish-at: hand the statuses to a service (schedule.go)
}

// publisher is what post and batch wire up from their flags.
type publisher struct {
	pub     *pipeline.Publisher
	tracker *delivery.Tracker // nil: statuses are not followed
	ledger  *pipeline.FileLedger
	opts    transcode.Options
	status  pipeline.Status
}

// checked are the settings of post and batch, validated.
type checked struct {
	opts     transcode.Options
	storage  storage.Config
	green    greenapi.Config
	delivery time.Duration
	local    bool // no bucket: link mode greenapi, files kept under --out
}

// check validates every setting and flag at once, before anything is
// touched, and reports all the problems together.
func (f *publishFlags) check(ev *env) (checked, error) {
	var c checked
	var errs []error
	var err error
	if c.opts, err = f.options(); err != nil {
		errs = append(errs, err)
	}
	// Without a bucket, links from uploadFile need none: the prepared
	// files are kept in --out instead. That is the default when Green API
	// credentials are set and no storage setting at all is.
	creds := f.instance != "" || ev.str("MEDIAPREP_GREENAPI_TOKEN", "") != ""
	noStorage := f.endpoint == "" && f.pathStyle == "" && f.linkTTL == "" && f.publicBaseURL == ""
	c.local = f.bucket == "" && !f.dryRun && (f.linkMode == linkGreenAPI ||
		(f.linkMode == "" && noStorage && creds))
	if c.local {
		f.linkMode = linkGreenAPI
	} else if c.storage, err = f.storageConfig(); err != nil {
		errs = append(errs, err)
	}
	if c.green, err = f.greenConfig(ev); err != nil {
		errs = append(errs, err)
	}
	c.delivery = delivery.DefaultWindow
	if f.deliveryWin != "" {
		if c.delivery, err = time.ParseDuration(f.deliveryWin); err != nil || c.delivery < 0 {
			errs = append(errs, fmt.Errorf("delivery window %q is not a duration like 10m (set --delivery-window or MEDIAPREP_DELIVERY_WINDOW)", f.deliveryWin))
		}
	}
	if len(errs) > 0 {
		return c, usageError{joinLines(errs)}
	}
	return c, nil
}

// newPublisher wires storage, the link check and Green API (or its dry
// run) into a Publisher for a run over files files. With a ledger path, it
// opens the ledger there; a dry run reads it but never writes to it.
func newPublisher(ctx context.Context, log *slog.Logger, f *publishFlags, c checked, files int, ledgerPath string) (*publisher, error) {
	pl, err := f.pipeline(log, files)
	if err != nil {
		return nil, usageError{err}
	}
	var st pipeline.Store
	if c.local {
		// Links come from uploadFile; the Dir only keeps the files (its
		// own links are never made).
		st, err = storage.NewDir(storage.DirConfig{Root: f.out, Prefix: f.prefix, PublicBaseURL: "http://unused.invalid"})
		log.Info("no bucket: prepared files are kept in --out and linked with Green API's uploadFile", "out", f.out)
	} else {
		st, err = storage.New(ctx, c.storage)
	}
	if err != nil {
		return nil, usageError{err}
	}
	c.green.Logger = log
	client, err := greenapi.New(c.green)
	if err != nil {
		return nil, usageError{err}
	}
	p := &publisher{opts: c.opts, status: pipeline.Status{
		Caption: f.caption, Participants: f.participants, BackgroundColor: f.backgroundColor,
	}}
	pcfg := pipeline.PublisherConfig{DryRun: f.dryRun, Logger: log}
	switch {
	case ledgerPath != "" && f.dryRun:
		if p.ledger, err = pipeline.ReadLedger(ledgerPath); err != nil {
			return nil, err
		}
		pcfg.Ledger = p.ledger
	case ledgerPath != "":
		if p.ledger, err = pipeline.OpenLedger(ledgerPath); err != nil {
			return nil, err
		}
		pcfg.Ledger = p.ledger
	}
	var send pipeline.Sender = client
	if f.dryRun {
		send = &pipeline.DryRunSender{Client: client}
	}
	if f.linkMode == linkGreenAPI {
		if f.dryRun {
			// A dry run sends nothing to Green API, uploads included.
			log.Warn("dry run: links come from the bucket, not uploadFile")
		} else {
			pcfg.Linker = pipeline.UploadLinker{Uploader: client}
		}
	}
	if !f.dryRun && c.delivery > 0 {
		p.tracker = delivery.New(client, delivery.Config{Window: c.delivery, First: time.Second, Logger: log})
	}
	p.pub = pipeline.NewPublisher(pl, st, storage.Checker{}, send, pcfg)
	return p, nil
}

// Close closes the ledger.
func (p *publisher) Close() error {
	if p.ledger == nil {
		return nil
	}
	return p.ledger.Close()
}

// result is one line of --json output of post and batch.
type result struct {
	pipeline.Posted            // Request: --dry-run, what would be sent
	Error           *errorBody `json:"error,omitempty"`
}

// MarshalJSON prints a failed file as {"source","error"} only.
func (r result) MarshalJSON() ([]byte, error) {
	if r.Error != nil {
		return json.Marshal(struct {
			Source string     `json:"source"`
			Error  *errorBody `json:"error"`
		}{r.Source, r.Error})
	}
	return json.Marshal(r.Posted)
}

// publishAll runs jobs with f.jobs at once and prints a line (or a JSON
// object) per job in input order, with live bars on a terminal, then a
// summary. failed are files that failed before they became jobs (a broken
// sidecar): they are printed first and counted. It returns the exit status
// as an error.
func (p *publisher) publishAll(ctx context.Context, f *publishFlags, jobs []pipeline.Post, stdout io.Writer, failed ...result) error {
	t := newTally()
	for _, r := range failed {
		t.add(r.Error.Code, false)
		p.print(stdout, f.json, r)
	}
	var bars *mpb.Progress
	if !f.json && len(jobs) > 0 && isTerminal(stdout) { // (no jobs: a total of 0 never completes)
		// Not tied to ctx: on Ctrl-C the interrupted files still get their
		// lines and the container ends when the last one is counted.
		bars = mpb.New(mpb.WithOutput(stdout), mpb.WithWidth(24))
	}
	// On a terminal each running file has a bar with its stage, lines of
	// finished files appear above the bars, and a last bar counts them all.
	results := make([]chan result, len(jobs))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	// Start the biggest files first: size is a fair guess at the work, and
	// running the long jobs first leaves short ones for the end, so the
	// cores stay busy until the last file (longest-first scheduling).
	order := make([]int, len(jobs))
	sizes := make([]int64, len(jobs))
	for i, j := range jobs {
		order[i] = i
		if fi, err := os.Stat(j.Source); err == nil {
			sizes[i] = fi.Size()
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	queue := make(chan int, len(jobs))
	for _, i := range order {
		queue <- i
	}
	close(queue)
	var total *mpb.Bar
	if bars != nil {
		total = bars.AddBar(int64(len(jobs)), mpb.BarPriority(1<<30),
			mpb.PrependDecorators(decor.Name("all files", decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.CountersNoUnit("%d/%d", decor.WCSyncSpaceR), decor.Elapsed(decor.ET_STYLE_GO)))
	}
	var wg sync.WaitGroup
	for range min(f.jobs, len(jobs)) {
		wg.Go(func() {
			for i := range queue {
				j := jobs[i]
				var bar *mpb.Bar
				var stage stageText
				if bars != nil && ctx.Err() == nil {
					bar = newBar(bars, j.Source, &stage)
					j.Progress = func(s pipeline.Stage) { stage.set(string(s)); bar.Increment() }
				}
				r := p.publishOne(ctx, j)
				p.follow(ctx, r, j.Status, func(r result) {
					if bars != nil {
						// The file's line goes above the bars, its bar away.
						var line bytes.Buffer
						printPosted(&line, r)
						if _, err := bars.Write(line.Bytes()); err != nil {
							stdout.Write(line.Bytes())
						}
						if bar != nil {
							bar.Abort(true)
						}
						total.Increment()
					}
					results[i] <- r
				})
			}
		})
	}
	if p.tracker != nil {
		// Posted statuses are followed while the other files go on; the
		// run waits for them at the end (its lines come in input order).
		tctx, stop := context.WithCancel(ctx)
		defer stop()
		go p.tracker.Run(tctx)
	}
	for _, ch := range results {
		r := <-ch
		code := ""
		if r.Error != nil {
			code = r.Error.Code
		}
		t.add(code, r.Skipped)
		if bars == nil { // else printed above the bars already
			p.print(stdout, f.json, r)
		}
	}
	wg.Wait()
	if bars != nil {
		bars.Wait()
	}
	if !f.json {
		verb := "posted"
		if f.dryRun {
			verb = "would be posted (dry run)"
		}
		t.summary(stdout, verb, true)
	}
	return t.exit(ctx)
}

// follow hands r to finish once its status showed in getOutgoingStatuses
// (or its window ended), recording its delivery in the ledger (even after
// ctx ended: the run waits for it); at once when it is not followed.
func (p *publisher) follow(ctx context.Context, r result, st pipeline.Status, finish func(result)) {
	ctx = context.WithoutCancel(ctx)
	if p.tracker != nil && r.Error != nil && r.OutcomeUnknown && r.Method != "" {
		p.resolve(ctx, r, st, finish)
		return
	}
	if p.tracker == nil || r.Error != nil || r.Skipped || r.DryRun || r.IDMessage == "" {
		finish(r)
		return
	}
	r.Delivery = delivery.Pending
	p.tracker.Follow(delivery.Watch{
		IDMessage: r.IDMessage, SentAt: r.PostedAt.Add(-time.Second),
		Done: func(d delivery.Result) {
			r.Delivery, r.DeliveryNote = d.State, d.Note
			if p.ledger != nil && d.State != delivery.Pending {
				if err := p.ledger.Record(ctx, r.PostID, r.Posted); err != nil {
					r.DeliveryNote += " (not recorded in the ledger: " + err.Error() + ")"
				}
			}
			finish(r)
		},
	})
}

// resolve looks for the status of a send whose answer was lost: when
// exactly one status of its method with its caption shows up, r becomes
// posted with that idMessage (recorded in the ledger, so a rerun skips
// it); otherwise it stays outcome_unknown, its message saying what was
// seen. Nothing is sent again.
func (p *publisher) resolve(ctx context.Context, r result, st pipeline.Status, finish func(result)) {
	text := st.Caption
	if r.Method == pipeline.MethodVoiceStatus {
		text = "" // voice statuses have no caption
	}
	p.tracker.Follow(delivery.Watch{
		Method: string(r.Method), Text: text,
		// PostedAt is when the send gave up; it began up to a timeout before.
		SentAt: r.PostedAt.Add(-time.Minute),
		Done: func(d delivery.Result) {
			if d.IDMessage == "" {
				if d.Note != "" {
					r.Error.Message += " (" + d.Note + ")"
				}
				finish(r)
				return
			}
			r.Error, r.OutcomeUnknown = nil, false
			r.IDMessage, r.Delivery, r.DeliveryNote = d.IDMessage, d.State, d.Note
			if p.ledger != nil {
				if err := p.ledger.Record(ctx, r.PostID, r.Posted); err != nil {
					r.DeliveryNote += " (not recorded in the ledger: " + err.Error() + ")"
				}
			}
			finish(r)
		},
	})
}

// print writes r as a JSON line or a readable line.
func (p *publisher) print(w io.Writer, asJSON bool, r result) {
	if asJSON {
		line, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	printPosted(w, r)
}

func (p *publisher) publishOne(ctx context.Context, j pipeline.Post) result {
	if err := ctx.Err(); err != nil {
		return result{Posted: pipeline.Posted{Prepared: pipeline.Prepared{Source: j.Source}}, Error: &errorBody{string(transcode.CodeCanceled), "not started: interrupted"}}
	}
	posted, err := p.pub.Publish(ctx, j)
	if err != nil {
		if !posted.OutcomeUnknown {
			posted = pipeline.Posted{}
		}
		posted.Source = j.Source
		return result{Posted: posted, Error: &errorBody{pipeline.CodeOf(err), err.Error()}}
	}
	return result{Posted: posted}
}

func printPosted(w io.Writer, r result) {
	switch {
	case r.Error != nil:
		fmt.Fprintf(w, "FAIL  %s: %s: %s\n", r.Source, r.Error.Code, strings.TrimPrefix(r.Error.Message, r.Source+": "))
	case r.Skipped:
		fmt.Fprintf(w, "skip  %s: posted before as %s (--force posts it again)\n", r.Source, r.IDMessage)
	case r.Request != nil:
		body, _ := json.Marshal(r.Request.Body)
		fmt.Fprintf(w, "dry   %-5s %s: would POST %s %s\n", r.Kind, r.Source, r.Request.URL, body)
	default:
		stored := "stored as"
		if !r.Stored {
			stored = "already stored as"
		}
		seen := ""
		if r.Delivery != "" {
			seen = "; delivery " + r.Delivery
		}
		fmt.Fprintf(w, "ok    %-5s %s -> %s %s (%s %s%s; --json shows the link)\n", r.Kind, r.Source, r.Method, r.IDMessage, stored, r.Key, seen)
	}
}

// stageText is the text a bar shows, set from the job's goroutine.
type stageText struct {
	mu sync.Mutex
	s  string
}

func (t *stageText) set(s string) { t.mu.Lock(); t.s = s; t.mu.Unlock() }
func (t *stageText) get() string  { t.mu.Lock(); defer t.mu.Unlock(); return t.s }

func newBar(p *mpb.Progress, name string, stage *stageText) *mpb.Bar {
	stage.set("starting")
	// Four stages; the fifth step is never taken: the bar is dropped when
	// the file is done, so it stays up while the last stage runs.
	return p.AddBar(5, mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(shorten(filepath.Base(name), 32), decor.WCSyncSpaceR)),
		mpb.AppendDecorators(
			decor.Any(func(decor.Statistics) string { return stage.get() }, decor.WCSyncSpaceR),
			decor.Elapsed(decor.ET_STYLE_GO),
		),
	)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}

// isTerminal reports whether w is a terminal with a known width (bars
// need one; a pseudo-terminal without a size gets plain lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !cwriter.IsTerminal(int(f.Fd())) {
		return false
	}
	width, _, err := cwriter.GetSize(int(f.Fd()))
	return err == nil && width > 0
}

// joinLines joins errors one per line.
func joinLines(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msg := "bad settings:"
	for _, e := range errs {
		msg += "\n  " + strings.ReplaceAll(e.Error(), "\n", "\n  ")
	}
	return fmt.Errorf("%s", msg)
}

// runLogger is the logger of post and batch: on a terminal with bars, info
// lines would tear the bars, so only warnings and errors are logged unless
// -v asks for everything.
func runLogger(g *globalFlags, asJSON bool, stdout io.Writer) *slog.Logger {
	if !asJSON && !g.verbose && isTerminal(stdout) {
		return g.loggerAt(slog.LevelWarn)
	}
	return g.logger()
}
