package publish

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/cwriter"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// Error is a file's failure: a stable code and a message.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Result is one line of --json output of post and batch.
type Result struct {
	pipeline.Posted        // Request: --dry-run, what would be sent
	Error           *Error `json:"error,omitempty"`
}

// MarshalJSON prints a failed file as {"source","error"} only.
func (r Result) MarshalJSON() ([]byte, error) {
	if r.Error != nil {
		return failureJSON(r.Source, r.Error)
	}
	return json.Marshal(r.Posted)
}

// failureJSON is the JSON line of a file that failed.
func failureJSON(source string, e *Error) ([]byte, error) {
	return json.Marshal(struct {
		Source string `json:"source"`
		Error  *Error `json:"error"`
	}{source, e})
}

// Run runs jobs with Config.Jobs at once and prints a line (or a JSON
// object) per job in input order, with live bars on a terminal, then a
// summary. failed are files that failed before they became jobs (a broken
// sidecar): they are printed first and counted. It returns (Tally.Err)
// ErrInterrupted, ErrFailed or nil.
func (p *Runner) Run(ctx context.Context, jobs []pipeline.Post, stdout io.Writer, failed ...Result) error {
	t := NewTally()
	for _, r := range failed {
		t.Add(r.Error.Code, false)
		p.print(stdout, p.cfg.JSON, r)
	}
	var bars *mpb.Progress
	if !p.cfg.JSON && len(jobs) > 0 && IsTerminal(stdout) { // (no jobs: a total of 0 never completes)
		// Not tied to ctx: on Ctrl-C the interrupted files still get their
		// lines and the container ends when the last one is counted.
		bars = mpb.New(mpb.WithOutput(stdout), mpb.WithWidth(24))
	}
	// On a terminal each running file has a bar with its stage, lines of
	// finished files appear above the bars, and a last bar counts them all.
	results := make([]chan Result, len(jobs))
	for i := range results {
		results[i] = make(chan Result, 1)
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
	for range min(p.cfg.Jobs, len(jobs)) {
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
				p.follow(ctx, r, j.Status, func(r Result) {
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
		t.Add(code, r.Skipped)
		if bars == nil { // else printed above the bars already
			p.print(stdout, p.cfg.JSON, r)
		}
	}
	wg.Wait()
	if bars != nil {
		bars.Wait()
	}
	if !p.cfg.JSON {
		verb := "posted"
		if p.cfg.DryRun {
			verb = "would be posted (dry run)"
		}
		t.Summary(stdout, verb, true)
	}
	return t.Err(ctx)
}

// follow hands r to finish once its status showed in getOutgoingStatuses
// (or its window ended), recording its delivery in the ledger (even after
// ctx ended: the run waits for it); at once when it is not followed.
func (p *Runner) follow(ctx context.Context, r Result, st pipeline.Status, finish func(Result)) {
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
func (p *Runner) resolve(ctx context.Context, r Result, st pipeline.Status, finish func(Result)) {
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
func (p *Runner) print(w io.Writer, asJSON bool, r Result) {
	if asJSON {
		line, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	printPosted(w, r)
}

func (p *Runner) publishOne(ctx context.Context, j pipeline.Post) Result {
	if err := ctx.Err(); err != nil {
		return Result{Posted: pipeline.Posted{Prepared: pipeline.Prepared{Source: j.Source}}, Error: &Error{string(transcode.CodeCanceled), "not started: interrupted"}}
	}
	posted, err := p.pub.Publish(ctx, j)
	if err != nil {
		if !posted.OutcomeUnknown {
			posted = pipeline.Posted{}
		}
		posted.Source = j.Source
		return Result{Posted: posted, Error: &Error{pipeline.CodeOf(err), err.Error()}}
	}
	return Result{Posted: posted}
}

func printPosted(w io.Writer, r Result) {
	switch {
	case r.Error != nil:
		printFail(w, r.Source, r.Error)
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

// IsTerminal reports whether w is a terminal with a known width (bars
// need one; a pseudo-terminal without a size gets plain lines).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !cwriter.IsTerminal(int(f.Fd())) {
		return false
	}
	width, _, err := cwriter.GetSize(int(f.Fd()))
	return err == nil && width > 0
}
