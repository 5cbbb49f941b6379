package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// Config is what Run needs: the settings of serve (API, inbox and
// workers) or of a worker. config.Settings.ServiceConfig fills it from
// flags and the environment; NewDefaultConfig gives the defaults.
type Config struct {
	// DataDir holds the embedded queue, local storage and inbox, temp
	// files and the journal of sends (keep it on a persistent volume).
	DataDir string
	// API: serve, the HTTP API (and /media/ links, the web page) and the
	// inbox besides the workers; false: a worker only.
	API    bool
	Listen string    // address of the API; serve only
	HTTP   APIConfig // limits and keys of the API (Run fills in the rest)
	Inbox  InboxConfig
	// Workers is how many jobs this process runs at once; serve with 0
	// only takes uploads and drops.
	Workers int
	Grace   time.Duration // on shutdown, how long running jobs may go on

	// NATSURL is the NATS server(s) to join; empty: the embedded one in
	// DataDir, listening on NATSListen too when set. Clients give
	// NATSToken.
	NATSURL, NATSListen, NATSToken string
	Queue                          queue.Config

	// Green is the Green API client's configuration (of the account
	// "default"); with Accounts, an empty IDInstance means there is no
	// single instance and no client is made for it. DryRun: never post,
	// log the request instead.
	Green          greenapi.Config
	DryRun         bool
	GreenLinks     bool          // links from Green API's uploadFile instead of the bucket
	DeliveryWindow time.Duration // how long a sent status is followed; 0: not followed
	// Accounts are the Green API accounts of MEDIAPREP_ACCOUNTS_FILE, each
	// posted for with its own client (the account "default" is Green's
	// when it has an IDInstance, else the file's, if it names one);
	// nil: Green's instance only.
	Accounts *accounts.Set

	// Storage is the bucket; nil: a folder of DataDir (with DirPrefix),
	// whose links start with PublicBaseURL (default: the API's address).
	Storage       *storage.Config
	DirPrefix     string
	PublicBaseURL string

	Transcode transcode.Config // Run sets Logger and Threads
	Logger    *slog.Logger
}

// Defaults of Config (the inbox's are DefaultPoll, DefaultSettle and
// DefaultMaxScan).
const (
	DefaultDataDir = "mediaprep-data"
	DefaultListen  = "127.0.0.1:8080"
	DefaultGrace   = 60 * time.Second
	// EventsPoll is the inbox listing's pace when bucket events pick
	// files up and no poll was asked for: it only reconciles.
	EventsPoll = 5 * time.Minute
)

const (
	prunedAfter     = 20 * time.Minute // kept uploads a worker elsewhere took
	shutdownTimeout = 30 * time.Second // uploads in flight at shutdown
)

// NewDefaultConfig returns the defaults of serve: every limit at its
// package's default, half the cores as workers, the embedded queue and
// storage in DefaultDataDir, Green API without credentials.
func NewDefaultConfig() Config {
	return Config{
		DataDir: DefaultDataDir,
		API:     true,
		Listen:  DefaultListen,
		HTTP: APIConfig{
			MaxUploadBytes:       DefaultMaxUploadBytes,
			MaxConcurrentUploads: DefaultMaxConcurrentUploads,
			MaxQueued:            DefaultMaxQueued,
			HTTP: HTTPConfig{
				ReadHeaderTimeout: DefaultReadHeaderTimeout,
				IdleTimeout:       DefaultIdleTimeout,
				ReadTimeout:       DefaultReadTimeout,
				WriteTimeout:      DefaultWriteTimeout,
				MinRate:           DefaultMinRate,
				MinRateWindow:     DefaultMinRateWindow,
				MaxConns:          DefaultMaxConns,
			},
			MaxFormFields:   DefaultMaxFormFields,
			MaxParticipants: DefaultMaxParticipants,
			MinFreeBytes:    DefaultMinFreeBytes,
			Schedule:        ScheduleConfig{MaxAhead: queue.DefaultMaxScheduleAhead},
		},
		Inbox:          InboxConfig{Layout: Layout{Inbox: DefaultInboxPrefix}, Poll: DefaultPoll, Settle: DefaultSettle, MaxScan: DefaultMaxScan},
		Workers:        max(1, runtime.NumCPU()/2),
		Grace:          DefaultGrace,
		Queue:          queue.Config{AckWait: queue.DefaultAckWait, MaxDeliver: queue.DefaultMaxDeliver},
		DeliveryWindow: delivery.DefaultWindow,
		Transcode:      transcode.NewDefaultConfig(),
	}
}

// SettingError is a bad setting found while starting: the command's
// user is to fix it (cmd/mediaprep exits 2).
type SettingError struct{ Err error }

func (e *SettingError) Error() string { return e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

func settingErr(err error) error { return &SettingError{err} }

// Run runs the service until ctx ends, then shuts down gracefully: the
// HTTP server finishes the uploads in flight, running jobs get Grace, and
// unfinished jobs stay queued. It returns nil after a shutdown asked
// through ctx.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner{cfg: cfg, log: log, metrics: NewMetrics()}
	defer r.close()
	if err := r.start(ctx); err != nil {
		return err
	}
	return r.run(ctx)
}

// bucket is storage as the whole service uses it.
type bucket interface {
	APIBucket
	InboxBucket
	WorkerBucket
}

// runner holds what the steps of Run open, for the later steps and for
// close.
type runner struct {
	cfg     Config
	log     *slog.Logger
	closers []func()

	tmp      string       // this process's temp folder
	kept     string       // uploads a worker of this process takes without downloading
	ln       net.Listener // serve only
	bucket   bucket
	media    http.Handler // /media/ of a local folder
	bucketID string       // the bucket's name; "" for a folder
	q        *queue.Queue
	lost     <-chan struct{} // closed when the embedded queue cannot store jobs
	metrics  *Metrics
	send     pipeline.Sender
	dryRun   bool
	tracker  *delivery.Tracker
	worker   *Worker
	list     *queue.Index // serve only: the job list (GET /v1/statuses, resumed deliveries)

	accounts        AccountMap          // nil without Config.Accounts
	accountTrackers []*delivery.Tracker // of the accounts besides default
}

// start runs the steps that open what the service needs, in order.
func (r *runner) start(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		r.makeRunDir,
		r.listen, // first: local links need its address
		r.openStorage,
		r.connectQueue,
		r.buildSender,
		r.buildWorker,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// close undoes start, last opened first.
func (r *runner) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// run starts the background parts (journal replay, delivery tracker, the
// queue watch; the HTTP server and the inbox for serve), runs the workers
// until ctx ends, and waits for everything to stop.
func (r *runner) run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) { errc <- err; cancel() }
	wg.Go(func() { watchQueue(runCtx, r.lost, fail) })
	wg.Go(func() { r.worker.Replay(runCtx) })
	if r.tracker != nil {
		// Follows posted statuses in the background, off the job slots.
		wg.Go(func() { r.tracker.Run(runCtx) })
	}
	r.runAccountTrackers(runCtx, &wg)
	if r.cfg.API {
		if err := r.serveHTTP(ctx, runCtx, &wg, fail); err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Go(func() { r.followDeliveries(runCtx) })
		if err := r.runInbox(runCtx, &wg, fail); err != nil {
			cancel()
			wg.Wait()
			return err
		}
		r.log.Info("serving", "addr", r.ln.Addr().String(), "data", r.cfg.DataDir, "storage", fmt.Sprint(r.bucket),
			"workers", r.cfg.Workers, "dryRun", r.dryRun, "auth", len(r.cfg.HTTP.Keys) > 0)
	} else {
		r.log.Info("working", "storage", fmt.Sprint(r.bucket), "workers", r.cfg.Workers, "dryRun", r.dryRun)
	}

	var err error
	if r.cfg.Workers > 0 {
		err = r.q.Work(runCtx, queue.WorkOptions{Concurrency: r.cfg.Workers, Grace: r.cfg.Grace}, r.worker.Handle)
	} else {
		<-runCtx.Done() // API and inbox only: workers run elsewhere
	}
	cancel()
	wg.Wait()
	close(errc)
	errs := []error{err}
	for e := range errc {
		errs = append(errs, e)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if ctx.Err() != nil {
		r.log.Info("stopped; unfinished jobs stay queued")
	}
	return nil
}
