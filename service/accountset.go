package service

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// AccountsConfig is how NewAccounts makes the clients of a service's
// accounts.
type AccountsConfig struct {
	Set *accounts.Set // the accounts file, read and checked; required
	// Default is the single-instance wiring, used as the account
	// accounts.Default when the set has it; without one (Send nil), an
	// account "default" of the file is made like the others.
	Default Account
	// Queue keeps the limiters every process shares, one per instance;
	// required unless DryRun.
	Queue          *queue.Queue
	HTTPTimeout    time.Duration // one Green API request; default greenapi.DefaultTimeout
	DryRun         bool          // never post: log the request instead
	GreenLinks     bool          // links from each account's uploadFile
	DeliveryWindow time.Duration // how long a sent status is followed; 0: not followed
	Metrics        *Metrics
	Logger         *slog.Logger
}

// NewAccounts makes a Green API client per account of cfg.Set, each
// waiting on the limiters shared through the queue under its idInstance
// (the keys the single-instance client has always used, so that every
// process posting for one number keeps to its rate together), with its
// own link uploader and delivery tracker. It returns the accounts and the
// trackers, which the caller runs.
func NewAccounts(cfg AccountsConfig) (AccountMap, []*delivery.Tracker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = greenapi.DefaultTimeout
	}
	m := AccountMap{}
	var trackers []*delivery.Tracker
	for _, name := range cfg.Set.Names() {
		if name == accounts.Default && cfg.Default.Send != nil {
			m[name] = cfg.Default
			continue
		}
		a, _ := cfg.Set.Get(name)
		log := cfg.Logger.With("account", name)
		gcfg := greenapi.Config{APIURL: a.APIURL, MediaURL: a.MediaURL, IDInstance: a.IDInstance, Token: a.Token,
			HTTPClient: &http.Client{Timeout: cfg.HTTPTimeout, Transport: cfg.Metrics.AccountTransport(name, http.DefaultTransport)},
			Logger:     JobLogger(log)}
		if !cfg.DryRun {
			gcfg.SendLimiter = cfg.Queue.Limiter(SendLimiterName(a.IDInstance), int(greenapi.DefaultRatePerSecond), time.Second+50*time.Millisecond)
			gcfg.GetLimiter = cfg.Queue.Limiter(GetLimiterName(a.IDInstance), 1, time.Second+50*time.Millisecond)
			gcfg.DeleteLimiter = cfg.Queue.Limiter(DeleteLimiterName(a.IDInstance), 10, time.Second+50*time.Millisecond)
		}
		client, err := greenapi.New(gcfg)
		if err != nil {
			return nil, nil, fmt.Errorf("account %s: %w", name, err)
		}
		acct := Account{Name: name, Send: client}
		switch {
		case cfg.DryRun:
			acct.Send = &pipeline.DryRunSender{Client: client, Logger: JobLogger(log)}
		default:
			if cfg.DeliveryWindow > 0 {
				acct.Tracker = delivery.New(client, delivery.Config{Window: cfg.DeliveryWindow, Logger: log})
				trackers = append(trackers, acct.Tracker)
			}
			if cfg.GreenLinks {
				acct.Linker = pipeline.UploadLinker{Uploader: client}
			}
		}
		m[name] = acct
	}
	return m, trackers, nil
}

// SendLimiterName and GetLimiterName name the limiters of an instance in
// the queue's key-value store: every process posting for it shares them.
func SendLimiterName(idInstance string) string { return "greenapi-send-" + idInstance }

// GetLimiterName: see SendLimiterName.
func GetLimiterName(idInstance string) string { return "greenapi-get-" + idInstance }

// DeleteLimiterName: see SendLimiterName.
func DeleteLimiterName(idInstance string) string { return "greenapi-delete-" + idInstance }
