package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/publish"
)

// addPublishFlags adds the flags post and batch share.
func addPublishFlags(cmd *cobra.Command, f *publishFlags, ev *env) {
	fl := cmd.Flags()
	f.add(fl)
	fl.BoolVar(&f.dryRun, "dry-run", false, "prepare, store and check the link, then print the request instead of posting (token redacted)")
	fl.StringVar(&f.caption, "caption", "", "caption of picture and video statuses (at most 1024 characters)")
	fl.StringSliceVar(&f.participants, "participants", nil, "chat ids that may see the status, e.g. 79001234567@c.us (default: all contacts)")
	fl.StringVar(&f.backgroundColor, "background-color", "", "background of voice and text statuses, #RRGGBB")
	fl.StringVar(&f.deliveryWin, "delivery-window", ev.str("MEDIAPREP_DELIVERY_WINDOW", ""), "at the end, wait up to this long for each posted status to show as sent in getOutgoingStatuses (default 10m; 0: do not wait, no delivery is reported) [MEDIAPREP_DELIVERY_WINDOW]")
	fl.StringVar(&f.publishAt, "publish-at", "", "post at this time (RFC 3339 with offset, or Unix seconds): hands the statuses to the service at MEDIAPREP_API_URL, whose queue holds them until then")
	addSettingFlags(fl, &f.settings, ev)
	addAccountFlag(fl, &f.settings)
	f.limits = &f.settings
}

type postFlags struct {
	publishFlags
	text string
	font string
}

func newPostCmd(g *globalFlags, stdout io.Writer, ev *env) *cobra.Command {
	var f postFlags
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
			if f.publishAt != "" {
				return runPostScheduled(cmd.Context(), &f, ev, args, stdout) // schedule.go
			}
			if f.text != "" {
				return runPostText(cmd.Context(), g.logger(), &f, ev, stdout)
			}
			return runPost(cmd.Context(), runLogger(g, f.json, stdout), &f.publishFlags, ev, args, stdout)
		},
	}
	addPublishFlags(cmd, &f.publishFlags, ev)
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "out", "o", "", "keep the prepared files in this folder (default: a temporary folder)")
	fl.StringVar(&f.text, "text", "", "post this text status (at most 500 characters)")
	fl.StringVar(&f.font, "font", "", "font of a text status: SERIF, SANS_SERIF, NORICAN_REGULAR, BRYNDAN_WRITE, OSWALD_HEAVY")
	return cmd
}

func runPost(ctx context.Context, log *slog.Logger, f *publishFlags, ev *env, files []string, stdout io.Writer) error {
	c, err := f.check(ev)
	if err != nil {
		return err
	}
	if f.out == "" {
		dir, err := os.MkdirTemp("", "mediaprep-post-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		f.out = dir
	}
	p, _, err := newRunner(ctx, log, f, c, len(files), "")
	if err != nil {
		return err
	}
	defer p.Close()
	return p.RunFiles(ctx, files, stdout)
}

func runPostText(ctx context.Context, log *slog.Logger, f *postFlags, ev *env, stdout io.Writer) error {
	client, err := greenClient(log, f.greenConfig, ev) // statuses.go
	if err != nil {
		return err
	}
	st := greenapi.TextStatus{Message: f.text, BackgroundColor: f.backgroundColor, Font: f.font, Participants: f.participants}
	if err := st.Validate(); err != nil {
		return usageError{err}
	}
	window := delivery.DefaultWindow
	if f.deliveryWin != "" {
		if window, err = time.ParseDuration(f.deliveryWin); err != nil || window < 0 {
			return usagef("delivery window %q is not a duration like 10m (set --delivery-window or MEDIAPREP_DELIVERY_WINDOW)", f.deliveryWin)
		}
	}
	cfg := publish.NewDefaultConfig()
	cfg.DryRun, cfg.Delivery, cfg.JSON, cfg.Logger = f.dryRun, window, f.json, log
	return publish.PostText(ctx, client, st, cfg, stdout)
}
