package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/publish"
)

type postFlags struct {
	*config.Settings
	text string
	font string
}

func newPostCmd(g *globalFlags, stdout io.Writer, ev *config.Env) *cobra.Command {
	f := postFlags{Settings: config.New()}
	cmd := &cobra.Command{
		Use:   "post [flags] FILE...\n  mediaprep post --text TEXT [--font NAME] [--background-color #RRGGBB]",
		Short: "Prepare, store and post files (or a text) as WhatsApp statuses",
		Long: `post runs the whole path for each FILE: prepare it (see prepare), store it in
the bucket, check that its link is a direct link with the right Content-Type,
and post it with sendMediaStatus (pictures, video) or sendVoiceStatus (audio).
With --text it posts a text status with sendTextStatus instead.

Settings come from the environment (MEDIAPREP_GREENAPI_URL, _INSTANCE,
_TOKEN, MEDIAPREP_S3_*, MEDIAPREP_LINK_*, MEDIAPREP_PUBLIC_BASE_URL; the
AWS credentials from the standard AWS chain); flags override them. The
token is only read from MEDIAPREP_GREENAPI_TOKEN.

Exit status: 0 when every file was posted, 1 when any failed (the others
still finish), 2 for usage errors and bad settings, 130 when interrupted.`,
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if f.text != "" && len(args) > 0 {
				return fmt.Errorf("--text posts a text status: give no files with it")
			}
			if f.text == "" && len(args) == 0 {
				return fmt.Errorf("give files to post, or --text")
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.PublishAt != "" {
				return runPostScheduled(cmd.Context(), &f, ev, args, stdout) // schedule.go
			}
			if f.text != "" {
				return runPostText(cmd.Context(), g.logger(), &f, ev, stdout)
			}
			return runPost(cmd.Context(), runLogger(g, f.JSON, stdout), f.Settings, ev, args, stdout)
		},
	}
	fl := cmd.Flags()
	f.AddFlags(fl, ev, config.Post)
	fl.StringVarP(&f.Out, "out", "o", "", "keep the prepared files in this folder (default: a temporary folder)")
	fl.StringVar(&f.text, "text", "", "post this text status (at most 500 characters)")
	fl.StringVar(&f.font, "font", "", "font of a text status: SERIF, SANS_SERIF, NORICAN_REGULAR, BRYNDAN_WRITE, OSWALD_HEAVY")
	return cmd
}

func runPost(ctx context.Context, log *slog.Logger, f *config.Settings, ev *config.Env, files []string, stdout io.Writer) error {
	c, err := f.Check(ev)
	if err != nil {
		return usageError{err}
	}
	if f.Out == "" {
		dir, err := os.MkdirTemp("", "mediaprep-post-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		f.Out = dir
	}
	p, err := newRunner(ctx, log, f, c, len(files), "")
	if err != nil {
		return err
	}
	defer p.Close()
	return p.RunFiles(ctx, files, stdout)
}

func runPostText(ctx context.Context, log *slog.Logger, f *postFlags, ev *config.Env, stdout io.Writer) error {
	client, err := greenClient(log, f.Settings, ev) // statuses.go
	if err != nil {
		return err
	}
	st := greenapi.TextStatus{Message: f.text, BackgroundColor: f.BackgroundColor, Font: f.font, Participants: f.Participants}
	if err := st.Validate(); err != nil {
		return usageError{err}
	}
	window, err := f.Delivery()
	if err != nil {
		return usageError{err}
	}
	cfg := publish.NewDefaultConfig()
	cfg.DryRun, cfg.Delivery, cfg.JSON, cfg.Logger = f.DryRun, window, f.JSON, log
	return publish.PostText(ctx, client, st, cfg, stdout)
}
