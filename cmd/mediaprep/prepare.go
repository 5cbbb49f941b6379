package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/publish"
	"github.com/mediaprep/mediaprep/transcode"
)

func newPrepareCmd(g *globalFlags, stdout io.Writer, ev *config.Env) *cobra.Command {
	f := config.New()
	cmd := &cobra.Command{
		Use:   "prepare [flags] FILE...",
		Short: "Prepare media files for WhatsApp statuses (MP4, MP3 or 9:16 JPEG)",
		Long: `prepare sniffs each FILE from its bytes and writes a status-ready file into
the output folder: video becomes MP4 (H.264/AAC, at most 60 s and 16 MiB),
audio becomes MP3 (at most 60 s, no tags), pictures become 9:16 JPEG.

Exit status: 0 when every file succeeded, 1 when any failed (the others
still finish), 2 for usage errors, 130 when interrupted.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrepare(cmd.Context(), g.logger(), f, args, stdout)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.Out, "out", "o", "out", "folder for the prepared files")
	f.AddFlags(fl, ev, config.Prepare)
	return cmd
}

// fileResult is one line of --json output: a prepared file, or an error.
type fileResult struct {
	pipeline.Prepared
	Error *errorBody `json:"error,omitempty"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// MarshalJSON prints a failed input as {"source","error"} only.
func (r fileResult) MarshalJSON() ([]byte, error) {
	if r.Error != nil {
		return json.Marshal(struct {
			Source string     `json:"source"`
			Error  *errorBody `json:"error"`
		}{r.Source, r.Error})
	}
	return json.Marshal(r.Prepared)
}

func runPrepare(ctx context.Context, log *slog.Logger, f *config.Settings, files []string, stdout io.Writer) error {
	opts, err := f.Options()
	if err != nil {
		return usageError{err}
	}
	pl, err := f.Pipeline(log, len(files))
	if err != nil {
		return usageError{err}
	}

	t := publish.NewTally()
	results := make([]chan fileResult, len(files))
	for i := range results {
		results[i] = make(chan fileResult, 1)
	}
	stems := pipeline.Stems(files)
	sem := make(chan struct{}, f.Jobs)
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
	// Print in input order, each line as soon as it and those before it
	// are done.
	for _, ch := range results {
		r := <-ch
		code := ""
		if r.Error != nil {
			code = r.Error.Code
		}
		t.Add(code, false)
		if f.JSON {
			line, _ := json.Marshal(r)
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			printHuman(stdout, r)
		}
	}
	wg.Wait()
	if !f.JSON {
		t.Summary(stdout, "prepared", false)
	}
	return t.Err(ctx)
}

func prepareOne(ctx context.Context, pl *pipeline.Pipeline, src, stem string, opts transcode.Options) fileResult {
	if err := ctx.Err(); err != nil {
		return fileResult{Prepared: pipeline.Prepared{Source: src}, Error: &errorBody{string(transcode.CodeCanceled), "not started: interrupted"}}
	}
	p, err := pl.Prepare(ctx, src, stem, opts)
	if err != nil {
		return fileResult{Prepared: pipeline.Prepared{Source: src}, Error: &errorBody{pipeline.CodeOf(err), err.Error()}}
	}
	return fileResult{Prepared: p}
}

func printHuman(w io.Writer, r fileResult) {
	if r.Error != nil {
		fmt.Fprintf(w, "FAIL  %s: %s: %s\n", r.Source, r.Error.Code, strings.TrimPrefix(r.Error.Message, r.Source+": "))
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

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
