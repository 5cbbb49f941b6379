package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// prepared is one line of `mediaprep prepare --json`: a prepared file, or
// an error.
type prepared struct {
	pipeline.Prepared
	Error *Error `json:"error,omitempty"`
}

// MarshalJSON prints a failed input as {"source","error"} only.
func (r prepared) MarshalJSON() ([]byte, error) {
	if r.Error != nil {
		return failureJSON(r.Source, r.Error)
	}
	return json.Marshal(r.Prepared)
}

// Prepare is `mediaprep prepare`: it prepares files with pl and opts,
// jobs at once, and prints a line (a JSON object with asJSON) per file in
// input order, each as soon as it and those before it are done, then a
// summary (not with asJSON). It returns (Tally.Err) ErrInterrupted,
// ErrFailed or nil.
func Prepare(ctx context.Context, pl *pipeline.Pipeline, opts transcode.Options, files []string, jobs int, asJSON bool, w io.Writer) error {
	t := NewTally()
	results := make([]chan prepared, len(files))
	for i := range results {
		results[i] = make(chan prepared, 1)
	}
	stems := pipeline.Stems(files)
	sem := make(chan struct{}, max(1, jobs))
	var wg sync.WaitGroup
	for i, src := range files {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			results[i] <- prepareOne(ctx, pl, src, stems[i], opts)
		})
	}
	for _, ch := range results {
		r := <-ch
		code := ""
		if r.Error != nil {
			code = r.Error.Code
		}
		t.Add(code, false)
		if asJSON {
			line, _ := json.Marshal(r)
			fmt.Fprintf(w, "%s\n", line)
		} else {
			printPrepared(w, r)
		}
	}
	wg.Wait()
	if !asJSON {
		t.Summary(w, "prepared", false)
	}
	return t.Err(ctx)
}

func prepareOne(ctx context.Context, pl *pipeline.Pipeline, src, stem string, opts transcode.Options) prepared {
	if err := ctx.Err(); err != nil {
		return prepared{Prepared: pipeline.Prepared{Source: src}, Error: &Error{string(transcode.CodeCanceled), "not started: interrupted"}}
	}
	p, err := pl.Prepare(ctx, src, stem, opts)
	if err != nil {
		return prepared{Prepared: pipeline.Prepared{Source: src}, Error: &Error{pipeline.CodeOf(err), err.Error()}}
	}
	return prepared{Prepared: p}
}

func printPrepared(w io.Writer, r prepared) {
	if r.Error != nil {
		printFail(w, r.Source, r.Error)
		return
	}
	p := r.Prepared
	fmt.Fprintf(w, "ok    %-5s %s -> %s  ", p.Kind, p.Source, p.Output)
	if p.Width > 0 {
		fmt.Fprintf(w, "%dx%d ", p.Width, p.Height)
	}
	if p.DurationSeconds > 0 {
		fmt.Fprintf(w, "%.1fs ", p.DurationSeconds)
	}
	fmt.Fprintf(w, "%s %s", humanBytes(p.SizeBytes), p.Method)
	if p.FastPath {
		fmt.Fprint(w, " (stream copy)")
	}
	fmt.Fprintln(w)
}

// printFail prints the line of a file that failed, its message without
// the source it starts with.
func printFail(w io.Writer, source string, e *Error) {
	fmt.Fprintf(w, "FAIL  %s: %s: %s\n", source, e.Code, strings.TrimPrefix(e.Message, source+": "))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
