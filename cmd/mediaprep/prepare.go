package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

type prepareFlags struct {
	out            string
	json           bool
	jobs           int
	crop           string
	videoFit       string
	forceTranscode bool
	timeout        time.Duration
}

func newPrepareCmd(g *globalFlags, stdout io.Writer) *cobra.Command {
	var f prepareFlags
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
	fl.StringVarP(&f.out, "out", "o", "out", "folder for the prepared files")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per input")
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "files prepared at once")
	fl.StringVar(&f.crop, "crop", string(transcode.CropCenter), "how pictures become 9:16: center, smart or pad")
	fl.StringVar(&f.videoFit, "video-fit", string(transcode.FitKeep), "how videos are framed: keep, crop or pad (9:16)")
	fl.BoolVar(&f.forceTranscode, "force-transcode", false, "re-encode videos even when a stream copy would do")
	fl.DurationVar(&f.timeout, "timeout", transcode.NewDefaultConfig().RunTimeout, "deadline of one ffmpeg run")
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

func runPrepare(ctx context.Context, log *slog.Logger, f prepareFlags, files []string, stdout io.Writer) error {
	opts := transcode.Options{
		Crop:           transcode.CropMode(f.crop),
		VideoFit:       transcode.Fit(f.videoFit),
		ForceTranscode: f.forceTranscode,
	}
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	if f.jobs < 1 {
		return usagef("-j %d: need at least one job", f.jobs)
	}
	tcfg := transcode.NewDefaultConfig()
	tcfg.RunTimeout = f.timeout
	tcfg.Logger = log
	// Split the cores between the jobs that will run at once, so that
	// parallel ffmpeg runs don't fight over them (one file gets them all).
	tcfg.Threads = max(1, runtime.NumCPU()/min(f.jobs, len(files)))
	tr, err := transcode.New(tcfg)
	if err != nil {
		return usageError{err}
	}
	pcfg := pipeline.NewDefaultConfig()
	pcfg.OutDir = f.out
	pl, err := pipeline.New(pcfg, tr)
	if err != nil {
		return usageError{err}
	}

	start := time.Now()
	results := make([]chan fileResult, len(files))
	for i := range results {
		results[i] = make(chan fileResult, 1)
	}
	stems := pipeline.Stems(files)
	sem := make(chan struct{}, f.jobs)
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
	var ok, failed int
	codes := map[string]int{}
	for _, ch := range results {
		r := <-ch
		if r.Error != nil {
			failed++
			codes[r.Error.Code]++
		} else {
			ok++
		}
		if f.json {
			line, _ := json.Marshal(r)
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			printHuman(stdout, r)
		}
	}
	wg.Wait()
	if !f.json {
		fmt.Fprintf(stdout, "%d prepared, %d failed in %.1f s", ok, failed, time.Since(start).Seconds())
		if failed > 0 {
			fmt.Fprintf(stdout, " (%s)", formatCodes(codes))
		}
		fmt.Fprintln(stdout)
	}
	switch {
	case ctx.Err() != nil:
		return exitError{exitInterrupted}
	case failed > 0:
		return exitError{exitFailed}
	}
	return nil
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
		fmt.Fprintf(w, "FAIL  %s: %s: %s\n", r.Source, r.Error.Code, r.Error.Message)
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

func formatCodes(codes map[string]int) string {
	var s string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d", c, codes[c])
	}
	return s
}
