package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/publish"
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

func runPrepare(ctx context.Context, log *slog.Logger, f *config.Settings, files []string, stdout io.Writer) error {
	opts, err := f.Options()
	if err != nil {
		return usageError{err}
	}
	pl, err := f.Pipeline(log, len(files))
	if err != nil {
		return usageError{err}
	}
	return publish.Prepare(ctx, pl, opts, files, f.Jobs, f.JSON, stdout)
}
