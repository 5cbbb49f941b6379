package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/publish"
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
	creds := f.instance != "" || ev.str("MEDIAPREP_GREENAPI_TOKEN", "") != "" || f.account != ""
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

// newRunner builds the runner of post and batch from their checked
// settings, for a run over files files, with its ledger at ledgerPath
// ("": none). Bad settings are usage errors.
func newRunner(ctx context.Context, log *slog.Logger, f *publishFlags, c checked, files int, ledgerPath string) (*publish.Runner, publish.Config, error) {
	cfg := publish.NewDefaultConfig()
	pl, err := f.pipeline(log, files)
	if err != nil {
		return nil, cfg, usageError{err}
	}
	cfg.Pipeline, cfg.Prepare, cfg.Logger = pl, c.opts, log
	cfg.Status = pipeline.Status{Caption: f.caption, Participants: f.participants, BackgroundColor: f.backgroundColor}
	cfg.Local, cfg.Out, cfg.Prefix, cfg.Storage, cfg.Green = c.local, f.out, f.prefix, c.storage, c.green
	cfg.UploadLinks = f.linkMode == linkGreenAPI
	cfg.DryRun, cfg.Delivery, cfg.Ledger, cfg.Jobs, cfg.JSON = f.dryRun, c.delivery, ledgerPath, f.jobs, f.json
	r, err := publish.New(ctx, cfg)
	if errors.Is(err, publish.ErrSettings) {
		return nil, cfg, usageError{err}
	}
	return r, cfg, err
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
	if !asJSON && !g.verbose && publish.IsTerminal(stdout) {
		return g.loggerAt(slog.LevelWarn)
	}
	return g.logger()
}
