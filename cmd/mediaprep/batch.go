package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/pipeline"
)

type batchFlags struct {
	*config.Settings
	manifest string
	force    bool
}

func newBatchCmd(g *globalFlags, stdout io.Writer, ev *config.Env) *cobra.Command {
	f := batchFlags{Settings: config.New()}
	cmd := &cobra.Command{
		Use:   "batch [flags] DIR|FILE...",
		Short: "Post many files as statuses, resuming where a previous run stopped",
		Long: `batch posts every file in the given folders (recursively; hidden files are
skipped) and the given files, like post, several at once (-j).

Per-file settings come from a sidecar next to the file (NAME.EXT.json) or
from a manifest (--manifest FILE, or any manifest.json / manifest.csv in
the folders; its file names are relative to it). Both hold caption, participants,
backgroundColor, crop, videoFit and publishAt (an account, if named, must be
--account's); a sidecar wins over the manifest, the manifest over flags.

With a publish time (--publish-at, or publishAt in a sidecar or manifest)
batch posts nothing itself: it hands every file to the service at
MEDIAPREP_API_URL (key MEDIAPREP_API_KEY), whose queue holds each until its
time, waits until each is prepared and stored there (a broken file fails
now), and prints its job id.
  sidecar:  {"caption": "Sale!", "participants": ["79001234567@c.us"]}
  JSON:     [{"file": "a.jpg", "caption": "..."}, ...]
  CSV:      file,caption,participants,backgroundColor  (participants split on spaces or ;)

The ledger (` + pipeline.LedgerName + ` in --out) records every post: content,
options and status → url and idMessage. A rerun skips what it holds unless
--force.

Exit status: 0 when every file was posted or skipped, 1 when any failed,
2 for usage errors and bad settings, 130 when interrupted.`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBatch(cmd.Context(), runLogger(g, f.JSON, stdout), &f, ev, args, stdout)
		},
	}
	fl := cmd.Flags()
	f.AddFlags(fl, ev, config.Batch)
	fl.StringVarP(&f.Out, "out", "o", "out", "folder for the prepared files and the ledger")
	fl.StringVar(&f.manifest, "manifest", "", "CSV or JSON file with per-file caption, participants, backgroundColor, crop, videoFit, publishAt, account")
	fl.BoolVar(&f.force, "force", false, "post again what the ledger says was posted")
	return cmd
}

func runBatch(ctx context.Context, log *slog.Logger, f *batchFlags, ev *config.Env, args []string, stdout io.Writer) error {
	plan, timed, err := batch.Plan(args, f.Out, f.manifest, f.PublishAt, f.Account)
	if timed {
		return runBatchScheduled(ctx, f, ev, plan, stdout) // publish times: the statuses go to a service (schedule.go)
	}
	c, cerr := f.Check(ev)
	switch {
	case cerr != nil:
		return usageError{cerr}
	case errors.Is(err, batch.ErrNoFiles):
		return usagef("no files to post in %s", strings.Join(args, ", "))
	case err != nil:
		return usageError{err}
	}
	p, err := newRunner(ctx, log, f.Settings, c, len(plan), filepath.Join(f.Out, pipeline.LedgerName))
	if err != nil {
		return err
	}
	defer p.Close()
	return p.RunBatch(ctx, plan, f.force, stdout)
}
