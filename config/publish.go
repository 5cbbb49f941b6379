package config

import (
	"fmt"
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

// Checked are the settings of post and batch, validated by Check.
type Checked struct {
	Prepare  transcode.Options
	Storage  storage.Config
	Green    greenapi.Config
	Delivery time.Duration
	Local    bool // no bucket: link mode greenapi, files kept under --out
}

// Check validates every setting of post and batch at once, before anything
// is touched, and reports all the problems together, one a line.
func (s *Settings) Check(ev *Env) (Checked, error) {
	var c Checked
	var errs []error
	var err error
	if c.Prepare, err = s.Options(); err != nil {
		errs = append(errs, err)
	}
	// Without a bucket, links from uploadFile need none: the prepared
	// files are kept in --out instead. That is the default when Green API
	// credentials are set and no storage setting at all is.
	creds := s.Instance != "" || ev.Str(GreenTokenEnv, "") != "" || s.Account != ""
	noStorage := s.Endpoint == "" && s.PathStyle == "" && s.LinkTTL == "" && s.PublicBaseURL == ""
	c.Local = s.Bucket == "" && (s.LinkMode == LinkGreenAPI ||
		(s.LinkMode == "" && noStorage && creds))
	if c.Local {
		s.LinkMode = LinkGreenAPI
	} else if c.Storage, err = s.StorageConfig(); err != nil {
		errs = append(errs, err)
	}
	if c.Green, err = s.GreenConfig(ev); err != nil {
		errs = append(errs, err)
	}
	if c.Delivery, err = s.Delivery(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return c, joinLines(errs)
	}
	return c, nil
}

// Delivery is --delivery-window of post and batch: how long to wait for
// each posted status to show as sent (delivery.DefaultWindow when unset).
func (s *Settings) Delivery() (time.Duration, error) {
	if s.DeliveryWindow == "" {
		return delivery.DefaultWindow, nil
	}
	d, err := time.ParseDuration(s.DeliveryWindow)
	if err != nil || d < 0 {
		return delivery.DefaultWindow, fmt.Errorf("delivery window %q is not a duration like 10m (set --delivery-window or MEDIAPREP_DELIVERY_WINDOW)", s.DeliveryWindow)
	}
	return d, nil
}

// PublishConfig is the configuration of the runner of post and batch from
// their checked settings, for a run over files files, with its ledger at
// ledgerPath ("": none). Its error is a bad setting.
func (s *Settings) PublishConfig(log *slog.Logger, c Checked, files int, ledgerPath string) (publish.Config, error) {
	cfg := publish.NewDefaultConfig()
	pl, err := s.Pipeline(log, files)
	if err != nil {
		return cfg, err
	}
	cfg.Pipeline, cfg.Prepare, cfg.Logger = pl, c.Prepare, log
	cfg.Status = pipeline.Status{Caption: s.Caption, Participants: s.Participants, BackgroundColor: s.BackgroundColor}
	cfg.Local, cfg.Out, cfg.Prefix, cfg.Storage, cfg.Green = c.Local, s.Out, s.Prefix, c.Storage, c.Green
	cfg.UploadLinks = s.LinkMode == LinkGreenAPI
	cfg.DryRun, cfg.Delivery, cfg.Ledger, cfg.Jobs, cfg.JSON = s.DryRun, c.Delivery, ledgerPath, s.Jobs, s.JSON
	return cfg, nil
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
