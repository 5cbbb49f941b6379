package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// ErrSettings marks an error of New that comes from a bad setting (the
// caller's to fix) rather than from the ledger or the machine.
var ErrSettings = errors.New("publish: bad settings")

// Config is what a run of post or batch needs.
type Config struct {
	// Pipeline prepares the files (required); the caller builds it, its
	// threads split between the Jobs.
	Pipeline *pipeline.Pipeline
	Prepare  transcode.Options // how every file is prepared
	Status   pipeline.Status   // caption, participants, background of every status

	// Local keeps the prepared files in a folder (Out, under Prefix)
	// instead of a bucket; their links then come from uploadFile.
	Local   bool
	Out     string
	Prefix  string
	Storage storage.Config // the bucket, when not Local
	Green   greenapi.Config
	// UploadLinks links the files with Green API's uploadFile instead of
	// the bucket (always with Local). A dry run uploads nothing: it
	// links from the bucket, or without one (Local) shows a placeholder
	// (pipeline.DryRunLinker).
	UploadLinks bool

	DryRun   bool          // print the requests instead of posting; the ledger is read, never written
	Delivery time.Duration // how long each posted status is followed (default delivery.DefaultWindow; 0: not followed)
	Ledger   string        // the ledger file ("": none)
	Jobs     int           // files at once (default 1)
	JSON     bool          // a JSON object per file, no bars, no summary
	Logger   *slog.Logger  // default: slog.Default()
}

// NewDefaultConfig returns a Config with the defaults; Pipeline is still
// to be set.
func NewDefaultConfig() Config {
	return Config{Delivery: delivery.DefaultWindow, Jobs: 1}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Pipeline == nil {
		errs = append(errs, errors.New("publish: no pipeline"))
	}
	if c.Jobs < 1 {
		errs = append(errs, fmt.Errorf("publish: %d jobs: need at least one", c.Jobs))
	}
	if c.Delivery < 0 {
		errs = append(errs, fmt.Errorf("publish: delivery window %s is negative", c.Delivery))
	}
	return errors.Join(errs...)
}

// settingsError is a bad setting: Is ErrSettings, and reads as err.
type settingsError struct{ err error }

func (e settingsError) Error() string        { return e.err.Error() }
func (e settingsError) Unwrap() error        { return e.err }
func (e settingsError) Is(target error) bool { return target == ErrSettings }

// Runner posts files with one Publisher; Close it to close the ledger.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	pub     *pipeline.Publisher
	tracker *delivery.Tracker // nil: statuses are not followed
	ledger  *pipeline.FileLedger
}

// New wires storage, the link check and Green API (or its dry run) into a
// Runner. With a ledger path, it opens the ledger there; a dry run reads
// it but never writes to it. Errors from bad settings are ErrSettings.
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, settingsError{err}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var st pipeline.Store
	var err error
	if cfg.Local {
		// Links come from uploadFile; the Dir only keeps the files (its
		// own links are never made).
		st, err = storage.NewDir(storage.DirConfig{Root: cfg.Out, Prefix: cfg.Prefix, PublicBaseURL: "http://unused.invalid"})
		log.Info("no bucket: prepared files are kept in --out and linked with Green API's uploadFile", "out", cfg.Out)
	} else {
		st, err = storage.New(ctx, cfg.Storage)
	}
	if err != nil {
		return nil, settingsError{err}
	}
	cfg.Green.Logger = log
	client, err := greenapi.New(cfg.Green)
	if err != nil {
		return nil, settingsError{err}
	}
	r := &Runner{cfg: cfg, log: log}
	pcfg := pipeline.PublisherConfig{DryRun: cfg.DryRun, Logger: log}
	switch {
	case cfg.Ledger != "" && cfg.DryRun:
		if r.ledger, err = pipeline.ReadLedger(cfg.Ledger); err != nil {
			return nil, err
		}
		pcfg.Ledger = r.ledger
	case cfg.Ledger != "":
		if r.ledger, err = pipeline.OpenLedger(cfg.Ledger); err != nil {
			return nil, err
		}
		pcfg.Ledger = r.ledger
	}
	var send pipeline.Sender = client
	if cfg.DryRun {
		send = &pipeline.DryRunSender{Client: client}
	}
	if cfg.UploadLinks {
		// A dry run sends nothing to Green API, uploads included.
		switch {
		case cfg.DryRun && cfg.Local:
			pcfg.Linker = pipeline.DryRunLinker{}
			log.Info("dry run without a bucket: nothing is uploaded; the request shows where uploadFile's link would go")
		case cfg.DryRun:
			log.Warn("dry run: links come from the bucket, not uploadFile")
		default:
			pcfg.Linker = pipeline.UploadLinker{Uploader: client}
		}
	}
	if !cfg.DryRun && cfg.Delivery > 0 {
		r.tracker = delivery.New(client, delivery.Config{Window: cfg.Delivery, First: time.Second, Logger: log})
	}
	r.pub = pipeline.NewPublisher(cfg.Pipeline, st, storage.Checker{}, send, pcfg)
	return r, nil
}

// Close closes the ledger.
func (p *Runner) Close() error {
	if p.ledger == nil {
		return nil
	}
	return p.ledger.Close()
}
