package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
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
	p, cfg, err := newRunner(ctx, log, f, c, len(files), "")
	if err != nil {
		return err
	}
	defer p.Close()
	stems := pipeline.Stems(files)
	jobs := make([]pipeline.Post, len(files))
	for i, src := range files {
		jobs[i] = pipeline.Post{Source: src, Stem: stems[i], Prepare: cfg.Prepare, Status: cfg.Status}
	}
	return p.Run(ctx, jobs, stdout)
}

func runPostText(ctx context.Context, log *slog.Logger, f *postFlags, ev *env, stdout io.Writer) error {
	gcfg, err := f.greenConfig(ev)
	if err != nil {
		return usageError{err}
	}
	gcfg.Logger = log
	client, err := greenapi.New(gcfg)
	if err != nil {
		return usageError{err}
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
	type textResult struct {
		Method    string            `json:"method"`
		IDMessage string            `json:"idMessage,omitempty"`
		Delivery  string            `json:"delivery,omitempty"`
		Note      string            `json:"deliveryNote,omitempty"`
		Request   *greenapi.Request `json:"request,omitempty"`
		Error     *errorBody        `json:"error,omitempty"`
	}
	r := textResult{Method: string(pipeline.MethodTextStatus)}
	// The recipe of every status; a text status needs only the sender.
	var send pipeline.Sender = client
	if f.dryRun {
		send = &pipeline.DryRunSender{Client: client}
	}
	pub := pipeline.NewPublisher(nil, nil, nil, send, pipeline.PublisherConfig{DryRun: f.dryRun, Logger: log})
	start := time.Now()
	out, err := pub.Publish(ctx, pipeline.Post{Text: f.text, Font: f.font,
		Status: pipeline.Status{BackgroundColor: f.backgroundColor, Participants: f.participants}})
	switch {
	case err != nil:
		r.Error = &errorBody{greenapi.CodeOf(err), err.Error()}
	case f.dryRun:
		r.Request = out.Request
	}
	r.IDMessage = out.IDMessage
	if err == nil && !f.dryRun && window > 0 {
		d := waitDelivery(ctx, client, window, log, delivery.Watch{IDMessage: out.IDMessage, SentAt: start})
		r.Delivery, r.Note = d.State, d.Note
	}
	switch {
	case f.json:
		line, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "%s\n", line)
	case r.Error != nil:
		fmt.Fprintf(stdout, "FAIL  text: %s: %s\n", r.Error.Code, r.Error.Message)
	case r.Request != nil:
		body, _ := json.Marshal(r.Request.Body)
		fmt.Fprintf(stdout, "dry   text: would POST %s %s\n", r.Request.URL, body)
	default:
		seen := ""
		if r.Delivery != "" {
			seen = " (delivery " + r.Delivery + ")"
		}
		fmt.Fprintf(stdout, "ok    text -> %s %s%s\n", r.Method, r.IDMessage, seen)
	}
	switch {
	case r.Error != nil && ctx.Err() != nil:
		return exitError{exitInterrupted}
	case r.Error != nil:
		return exitError{exitFailed}
	}
	return nil
}

// waitDelivery follows one status until it shows in getOutgoingStatuses or
// window ends (pending if ctx ends first).
func waitDelivery(ctx context.Context, client *greenapi.Client, window time.Duration, log *slog.Logger, w delivery.Watch) delivery.Result {
	tr := delivery.New(client, delivery.Config{Window: window, First: time.Second, Logger: log})
	ch := make(chan delivery.Result, 1)
	w.Done = func(r delivery.Result) { ch <- r }
	tr.Follow(w)
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go tr.Run(tctx)
	return <-ch
}
