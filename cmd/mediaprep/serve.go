package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/service"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
	"github.com/mediaprep/mediaprep/web"
)

// serveFlags are the settings of serve and worker.
type serveFlags struct {
	settings
	data          string
	listen        string
	natsURL       string
	natsListen    string
	workers       int
	dryRun        bool
	timeout       time.Duration
	grace         time.Duration
	ackWait       time.Duration
	maxDeliver    int
	replicas      int
	maxUpload     int64
	maxUploads    int
	maxQueued     int
	inboxPrefix   string
	poll          time.Duration
	settle        time.Duration
	eventsSubject string
	http          httpFlags
	pollSet       bool // --poll or MEDIAPREP_INBOX_POLL given
	deliveryWin   time.Duration
	schedAhead    time.Duration
}

// serveEnv reads a setting with its default; flags override it.
type serveEnv struct {
	getenv func(string) string
	errs   []error
}

func (e *serveEnv) str(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func (e *serveEnv) dur(name string, def time.Duration) time.Duration {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a duration like 30s", name, v))
		return def
	}
	return d
}

func (e *serveEnv) num(name string, def int) int {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q is not a positive whole number", name, v))
		return def
	}
	return n
}

// replicas reads a replica count: 0 (automatic) to 5.
func (e *serveEnv) replicas(name string) int {
	v := e.getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 5 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want 1 to 5, or 0 for automatic", name, v))
		return 0
	}
	return n
}

func (e *serveEnv) size(name string, def int64) int64 {
	v := e.getenv(name)
	if v == "" {
		return def
	}
	n, err := parseSize(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", name, err))
		return def
	}
	return n
}

// parseSize reads a byte count like 200MB, 1GiB or 5000000.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 200MB", s)
	}
	return n * mult, nil
}

func (f *serveFlags) add(fl *pflag.FlagSet, getenv func(string) string, withAPI bool) *serveEnv {
	e := &serveEnv{getenv: getenv}
	addSettingFlags(fl, &f.settings, getenv)
	fl.StringVar(&f.data, "data", e.str("MEDIAPREP_DATA_DIR", "mediaprep-data"), "data folder: embedded queue, local storage and inbox, temp files, the journal of sends not yet recorded (keep it on a persistent volume) [MEDIAPREP_DATA_DIR]")
	// No default from the environment: --help would show a URL that may
	// hold credentials. runService reads MEDIAPREP_NATS_URL itself.
	fl.StringVar(&f.natsURL, "nats", "", "NATS server(s) to join instead of the embedded one, e.g. nats://10.0.0.5:4222 [MEDIAPREP_NATS_URL]")
	fl.IntVarP(&f.workers, "workers", "j", e.num("MEDIAPREP_WORKERS", max(1, runtime.NumCPU()/2)), "jobs run at once by this process; serve --workers 0 only takes uploads and drops [MEDIAPREP_WORKERS]")
	fl.BoolVar(&f.dryRun, "dry-run", false, "never post: log the request each job would send (the default when no Green API credentials are set)")
	fl.DurationVar(&f.timeout, "timeout", e.dur("MEDIAPREP_FFMPEG_TIMEOUT", 10*time.Minute), "deadline of one ffmpeg run [MEDIAPREP_FFMPEG_TIMEOUT]")
	fl.DurationVar(&f.grace, "grace", e.dur("MEDIAPREP_SHUTDOWN_GRACE", 60*time.Second), "on SIGTERM, how long running jobs may go on before they are put back in the queue [MEDIAPREP_SHUTDOWN_GRACE]")
	fl.DurationVar(&f.ackWait, "ack-wait", e.dur("MEDIAPREP_QUEUE_ACK_WAIT", 30*time.Second), "a job whose worker stops answering for this long is given to another worker [MEDIAPREP_QUEUE_ACK_WAIT]")
	fl.DurationVar(&f.deliveryWin, "delivery-window", e.dur("MEDIAPREP_DELIVERY_WINDOW", delivery.DefaultWindow), "how long a posted status is looked for in getOutgoingStatuses before its delivery is not_confirmed; 0: not followed [MEDIAPREP_DELIVERY_WINDOW]")
	fl.IntVar(&f.maxDeliver, "max-deliver", e.num("MEDIAPREP_QUEUE_MAX_DELIVER", 10), "deliveries of a job before it fails [MEDIAPREP_QUEUE_MAX_DELIVER]")
	fl.IntVar(&f.replicas, "replicas", e.replicas("MEDIAPREP_QUEUE_REPLICAS"), "copies of the queue's stream and buckets in a NATS cluster, 1 to 5; 0: 3 on a cluster that can place them, else 1; never scales down [MEDIAPREP_QUEUE_REPLICAS]")
	if withAPI {
		fl.StringVar(&f.listen, "listen", e.str("MEDIAPREP_LISTEN", "127.0.0.1:8080"), "HTTP address of the API and /media/ links [MEDIAPREP_LISTEN]")
		fl.StringVar(&f.natsListen, "nats-listen", getenv("MEDIAPREP_NATS_LISTEN"), "let the embedded NATS server listen here too, so workers and bucket events can join, e.g. 127.0.0.1:4222 [MEDIAPREP_NATS_LISTEN]")
		fl.Int64Var(&f.maxUpload, "max-upload", e.size("MEDIAPREP_MAX_UPLOAD", 200<<20), "largest upload in bytes [MEDIAPREP_MAX_UPLOAD]")
		fl.IntVar(&f.maxUploads, "max-uploads", e.num("MEDIAPREP_MAX_UPLOADS", service.DefaultMaxConcurrentUploads), "uploads received at once; more answer 503 [MEDIAPREP_MAX_UPLOADS]")
		fl.IntVar(&f.maxQueued, "max-queued", e.num("MEDIAPREP_MAX_QUEUED", service.DefaultMaxQueued), "jobs waiting or running; more uploads answer 429 [MEDIAPREP_MAX_QUEUED]")
		fl.StringVar(&f.inboxPrefix, "inbox", e.str("MEDIAPREP_INBOX_PREFIX", "inbox/"), "prefix (or folder of the data dir) watched for dropped files [MEDIAPREP_INBOX_PREFIX]")
		fl.DurationVar(&f.poll, "poll", e.dur("MEDIAPREP_INBOX_POLL", 10*time.Second), "time between two listings of the inbox (5m when --events-subject is set and --poll is not); 0: events only [MEDIAPREP_INBOX_POLL]")
		fl.DurationVar(&f.settle, "settle", e.dur("MEDIAPREP_INBOX_SETTLE", 3*time.Second), "a dropped file is taken once it is this old (a late sidecar is still honoured) [MEDIAPREP_INBOX_SETTLE]")
		fl.StringVar(&f.eventsSubject, "events-subject", getenv("MEDIAPREP_S3_EVENTS_SUBJECT"), "NATS subject the bucket publishes its event notifications to, for instant pickup [MEDIAPREP_S3_EVENTS_SUBJECT]")
		f.http.add(fl, e)
		fl.DurationVar(&f.schedAhead, "max-schedule-ahead", e.dur("MEDIAPREP_MAX_SCHEDULE_AHEAD", queue.DefaultMaxScheduleAhead), "how far ahead a publishAt may be; later ones are refused [MEDIAPREP_MAX_SCHEDULE_AHEAD]")
	}
	return e
}

func newServeCmd(g *globalFlags, getenv func(string) string) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the service: HTTP uploads, the inbox and the workers, on an embedded or shared queue",
		Long: `serve accepts uploads on POST /v1/statuses, picks up files dropped into the
inbox (a folder of the data dir, or a prefix of the bucket), and posts them
through a durable JetStream queue. With no configuration everything is
embedded: the queue, storage in the data dir, links served under /media/,
and Green API in dry-run until MEDIAPREP_GREENAPI_INSTANCE and
MEDIAPREP_GREENAPI_TOKEN are set. See README for the HTTP API.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.pollSet = cmd.Flags().Changed("poll") || getenv("MEDIAPREP_INBOX_POLL") != ""
			return runService(cmd.Context(), g, &f, getenv, true)
		},
	}
	env := f.add(cmd.Flags(), getenv, true)
	cmd.PreRunE = func(*cobra.Command, []string) error { return usageError{errors.Join(env.errs...)}.orNil() }
	return cmd
}

func newWorkerCmd(g *globalFlags, getenv func(string) string) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run workers only, sharing the queue of an external NATS with other serve and worker processes",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.natsURL == "" && getenv("MEDIAPREP_NATS_URL") == "" {
				return usagef("worker needs --nats (or MEDIAPREP_NATS_URL): the queue it shares with serve")
			}
			return runService(cmd.Context(), g, &f, getenv, false)
		},
	}
	env := f.add(cmd.Flags(), getenv, false)
	cmd.PreRunE = func(*cobra.Command, []string) error { return usageError{errors.Join(env.errs...)}.orNil() }
	return cmd
}

func (e usageError) orNil() error {
	if e.err == nil {
		return nil
	}
	return e
}

// runService runs serve (withAPI: the HTTP API and the inbox as well) or
// worker until ctx ends, then shuts down gracefully.
func runService(ctx context.Context, g *globalFlags, f *serveFlags, getenv func(string) string, withAPI bool) error {
	log := g.logger()
	if f.natsURL == "" {
		f.natsURL = getenv("MEDIAPREP_NATS_URL")
	}
	natsToken := getenv("MEDIAPREP_NATS_TOKEN")
	// Loopback too: any local user could read the jobs (captions, numbers).
	if f.natsListen != "" && natsToken == "" {
		return usagef("--nats-listen %s needs a token: set MEDIAPREP_NATS_TOKEN (e.g. MEDIAPREP_NATS_TOKEN=$(openssl rand -hex 24)); every NATS client must give it, and workers join with nats://TOKEN@host:port", f.natsListen)
	}
	if withAPI && f.poll == 0 && f.eventsSubject == "" {
		return usagef("--poll 0 turns polling off, and no --events-subject is set: nothing would ever be picked up from the inbox")
	}
	if withAPI && f.eventsSubject != "" && !f.pollSet {
		f.poll = 5 * time.Minute // events pick files up; the listing only reconciles
	}
	if f.workers < 0 || (!withAPI && f.workers == 0) {
		return usagef("--workers %d: need at least %d", f.workers, map[bool]int{true: 0, false: 1}[withAPI])
	}
	if err := os.MkdirAll(f.data, 0o750); err != nil {
		return usagef("data folder: %v", err)
	}
	tmp, release, err := runDir(filepath.Join(f.data, "tmp"))
	if err != nil {
		return err
	}
	defer release()
	keys := apiKeys(getenv("MEDIAPREP_API_KEYS"))

	// The listener first: local links need its address.
	var ln net.Listener
	if withAPI {
		if err := service.CheckListen(f.listen, keys); err != nil {
			return usageError{err}
		}
		var err error
		if ln, err = net.Listen("tcp", f.listen); err != nil {
			return usagef("listen: %v", err)
		}
		defer ln.Close()
	}

	// Links from Green API's uploadFile: asked for, or the default when
	// Green API credentials are set and nothing else could make a link
	// Green API can fetch (no bucket, no public address).
	creds := f.instance != "" || getenv("MEDIAPREP_GREENAPI_TOKEN") != ""
	greenLinks := f.linkMode == linkGreenAPI ||
		(f.linkMode == "" && creds && !f.dryRun && f.bucket == "" && f.publicBaseURL == "")
	if greenLinks && !creds {
		return usagef("link mode greenapi uploads with uploadFile: set MEDIAPREP_GREENAPI_INSTANCE and MEDIAPREP_GREENAPI_TOKEN")
	}

	// Storage: the bucket when one is configured, else the data dir.
	var bucket service.Bucket
	var media http.Handler
	bucketName := ""
	if f.bucket != "" {
		scfg, err := f.storageConfig()
		if err != nil {
			return usageError{err}
		}
		st, err := storage.New(ctx, scfg)
		if err != nil {
			return usageError{err}
		}
		bucket, bucketName = st, scfg.Bucket
	} else {
		base := f.publicBaseURL
		if base == "" && ln == nil && greenLinks {
			base = "http://unused.invalid" // links come from uploadFile; the Dir only keeps the files
		}
		if base == "" {
			if ln == nil {
				return usagef("a worker on local storage needs MEDIAPREP_PUBLIC_BASE_URL: the address of the serve process whose /media/ serves the data dir")
			}
			base = "http://" + ln.Addr().String()
		}
		if f.publicBaseURL == "" && !greenLinks {
			log.Warn("links are served from this machine's loopback address: Green API cannot fetch them; set MEDIAPREP_PUBLIC_BASE_URL to an address it can reach, or configure a bucket", "base", base)
		}
		dir, err := storage.NewDir(storage.DirConfig{Root: f.data, Prefix: f.prefix, PublicBaseURL: base})
		if err != nil {
			return usageError{err}
		}
		bucket, media = dir, dir.MediaHandler()
		if withAPI {
			// The folder content teams drop files into, there from the start.
			if err := os.MkdirAll(filepath.Join(f.data, filepath.FromSlash(f.inboxPrefix)), 0o750); err != nil {
				return err
			}
		}
	}

	// The queue: embedded unless --nats.
	nc, natsLost, closeNATS, err := connectNATS(f, natsToken, log)
	if err != nil {
		return err
	}
	defer closeNATS()
	q, err := queue.Open(ctx, nc, queue.Config{AckWait: f.ackWait, MaxDeliver: f.maxDeliver, Replicas: f.replicas, Logger: log})
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}

	metrics := service.NewMetrics()
	metrics.QueueDepth(q.Depth)
	send, dryRun, err := f.sender(getenv, q, metrics, log)
	if err != nil {
		return err
	}
	var tracker *delivery.Tracker
	if client, ok := send.(*greenapi.Client); ok && f.deliveryWin > 0 {
		tracker = delivery.New(client, delivery.Config{Window: f.deliveryWin, Logger: log})
	}
	var linker pipeline.Linker
	if client, ok := send.(*greenapi.Client); ok && greenLinks {
		linker = pipeline.UploadLinker{Uploader: client}
		log.Info("links are uploaded to Green API (uploadFile)", "mediaUrl", client.MediaURL())
	} else if greenLinks {
		log.Warn("dry run: links are not uploaded to Green API")
	}
	tcfg := transcode.NewDefaultConfig()
	tcfg.RunTimeout = f.timeout
	tcfg.Logger = service.JobLogger(log) // ffmpeg lines name their job
	tcfg.Threads = max(1, runtime.NumCPU()/max(1, f.workers))
	if err := f.applyLimits(&tcfg); err != nil {
		return usageError{err}
	}
	tr, err := transcode.New(tcfg)
	if err != nil {
		return err
	}
	// Uploads a worker of this process can take without downloading.
	kept := ""
	if withAPI && f.workers > 0 {
		kept = filepath.Join(tmp, "kept")
		if err := os.MkdirAll(kept, 0o750); err != nil {
			return err
		}
	}
	// Sends whose answer is not in their job yet: kept on local disk
	// until it is (a NATS outage, a crash), here and after a restart.
	journal, err := service.OpenJournal(filepath.Join(f.data, "journal"), log)
	if err != nil {
		return err
	}
	defer journal.Close()
	journal.Register(metrics)
	worker, err := service.NewWorker(service.WorkerConfig{
		Journal:      journal,
		LocalSources: kept,
		Jobs:         q, Bucket: bucket, Prep: tr, Check: storage.Checker{}, Send: send, DryRun: dryRun, Linker: linker, Tracker: tracker,
		TempDir: filepath.Join(tmp, "work"), Layout: service.Layout{Inbox: f.inboxPrefix},
		// Several ffmpeg runs, each bounded by --timeout, plus transfers.
		Timeout: 3*f.timeout + 5*time.Minute,
		Metrics: metrics, Logger: log,
	})
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { watchQueue(runCtx, natsLost, errc, cancel) })
	wg.Go(func() { worker.Replay(runCtx) })
	if tracker != nil {
		// Follows posted statuses in the background, off the job slots.
		wg.Go(func() { tracker.Run(runCtx) })
	}
	if withAPI {
		acfg := service.APIConfig{
			Keys: keys, MaxUploadBytes: f.maxUpload, MaxConcurrentUploads: f.maxUploads, MaxQueued: f.maxQueued,
			SpoolDir: filepath.Join(tmp, "uploads"), KeepDir: kept, Media: media, Logger: log, Metrics: metrics,
			Web: web.Handler(), Schedule: service.ScheduleConfig{MaxAhead: f.schedAhead, DryRun: dryRun},
		}
		if c, ok := send.(*greenapi.Client); ok {
			acfg.Schedule.Deleter = c // DELETE of a posted job: deleteStatus
		}
		f.http.apply(&acfg)
		api, err := service.NewAPI(acfg, q, bucket)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(tmp, "uploads"), 0o750); err != nil {
			return err
		}
		srv, limited := api.Server(ln)
		srv.RegisterOnShutdown(api.CloseEvents) // event streams never end by themselves
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(limited); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
				cancel()
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-runCtx.Done()
			// Uploads in flight finish (and are queued) before the queue
			// closes; new ones are refused.
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer scancel()
			if err := srv.Shutdown(sctx); err != nil {
				log.Warn("http: uploads still running after 30 s were cut", "err", err)
				_ = srv.Close()
			}
		}()

		if kept != "" {
			// Uploads a worker elsewhere took are not needed here.
			wg.Add(1)
			go func() {
				defer wg.Done()
				pruneOld(runCtx, kept, 20*time.Minute)
			}()
		}

		icfg := service.InboxConfig{
			Bucket: bucket, Jobs: q, Layout: service.Layout{Inbox: f.inboxPrefix}, BucketName: bucketName,
			Poll: f.poll, Settle: f.settle, TempDir: filepath.Join(tmp, "inbox"), Metrics: metrics, Logger: log,
			Finish: worker.Finish, MaxScheduleAhead: f.schedAhead,
		}
		if f.poll == 0 {
			icfg.Poll = -1
		}
		if f.eventsSubject != "" {
			// Durable: a stream captures the bucket's publishes, and
			// every serve shares one consumer of it.
			icfg.EventSubject = f.eventsSubject
			icfg.DurableEvents = func(ctx context.Context, h func(context.Context, []byte, int) error) error {
				return q.ConsumeEvents(ctx, queue.EventsConfig{Subject: f.eventsSubject}, h)
			}
		}
		inbox, err := service.NewInbox(icfg)
		if err != nil {
			return usageError{err}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := inbox.Run(runCtx); err != nil {
				errc <- err
				cancel()
			}
		}()
		log.Info("serving", "addr", ln.Addr().String(), "data", f.data, "storage", fmt.Sprint(bucket),
			"workers", f.workers, "dryRun", dryRun, "auth", len(keys) > 0)
	} else {
		log.Info("working", "storage", fmt.Sprint(bucket), "workers", f.workers, "dryRun", dryRun)
	}

	if f.workers > 0 {
		err = q.Work(runCtx, queue.WorkOptions{Concurrency: f.workers, Grace: f.grace}, worker.Handle)
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
		log.Info("stopped; unfinished jobs stay queued")
		return exitError{exitInterrupted}
	}
	return nil
}

// connectNATS joins --nats, or starts the embedded server in the data dir;
// lost is closed when the embedded JetStream can no longer store jobs
// (queue.Embedded.Lost).
func connectNATS(f *serveFlags, token string, log *slog.Logger) (nc *nats.Conn, lost <-chan struct{}, closeNATS func(), err error) {
	opts := []nats.Option{nats.Name("mediaprep"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	if f.natsURL != "" {
		if token != "" {
			opts = append(opts, nats.Token(token))
		}
		nc, err = nats.Connect(f.natsURL, opts...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nats %s: %s", redactURLs(f.natsURL), strings.ReplaceAll(err.Error(), f.natsURL, redactURLs(f.natsURL)))
		}
		return nc, nil, nc.Close, nil
	}
	var eopts []queue.EmbeddedOption
	if token != "" {
		eopts = append(eopts, queue.WithToken(token))
	}
	emb, err := queue.StartEmbedded(filepath.Join(f.data, "nats"), f.natsListen, log, eopts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedded NATS: %w", err)
	}
	nc, err = emb.Connect(opts...)
	if err != nil {
		emb.Shutdown()
		return nil, nil, nil, err
	}
	if u := emb.ClientURL(); u != "" {
		log.Info("embedded NATS listening", "url", u)
	}
	return nc, emb.Lost(), func() { nc.Close(); emb.Shutdown() }, nil
}

// watchQueue ends the run with an error when the embedded JetStream can no
// longer store jobs (a write found the disk full; nats-server keeps failing
// that stream until a restart), so that serve exits non-zero for its
// supervisor to start it again; the stored jobs are recovered then.
func watchQueue(ctx context.Context, lost <-chan struct{}, errc chan<- error, cancel func()) {
	select {
	case <-ctx.Done():
	case <-lost:
		errc <- errors.New("the embedded queue cannot store jobs until a restart (disk full): exiting so that a supervisor (systemd Restart=on-failure, docker --restart=on-failure) starts mediaprep again; stored jobs are kept")
		cancel()
	}
}

// sender is Green API, or a dry run when asked or when no credentials are
// set. Real sends wait on a limiter shared through the queue, so that all
// workers together keep to Green API's rate.
func (f *serveFlags) sender(getenv func(string) string, q *queue.Queue, m *service.Metrics, log *slog.Logger) (service.Sender, bool, error) {
	noCreds := f.instance == "" && getenv("MEDIAPREP_GREENAPI_TOKEN") == ""
	gcfg, err := f.greenConfig(getenv)
	if noCreds {
		gcfg, err = greenapi.Config{APIURL: f.greenURL, IDInstance: "0", Token: "dry-run"}, nil
	}
	if err != nil {
		return nil, false, usageError{err}
	}
	hc := gcfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: greenapi.DefaultTimeout}
	}
	hc.Transport = m.Transport(http.DefaultTransport)
	gcfg.HTTPClient, gcfg.Logger = hc, service.JobLogger(log)
	dry := f.dryRun || noCreds
	if !dry {
		gcfg.SendLimiter = q.Limiter("greenapi-send-"+gcfg.IDInstance, int(greenapi.DefaultRatePerSecond), time.Second+50*time.Millisecond)
		gcfg.GetLimiter = q.Limiter("greenapi-get-"+gcfg.IDInstance, 1, time.Second+50*time.Millisecond)
		gcfg.DeleteLimiter = q.Limiter("greenapi-delete-"+gcfg.IDInstance, 10, time.Second+50*time.Millisecond)
	}
	client, err := greenapi.New(gcfg)
	if err != nil {
		return nil, false, usageError{err}
	}
	if dry {
		if noCreds {
			log.Warn("no Green API credentials (MEDIAPREP_GREENAPI_INSTANCE, MEDIAPREP_GREENAPI_TOKEN): dry run, nothing is posted")
		}
		return &service.DryRunSender{Client: client, Logger: service.JobLogger(log)}, true, nil
	}
	return client, false, nil
}

// apiKeys splits MEDIAPREP_API_KEYS (comma or space separated).
func apiKeys(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// runDir makes this process's own temp folder under parent (serve and
// workers may share a data dir) and removes what processes that died
// left there: each folder holds a lock its process keeps while it runs.
func runDir(parent string) (string, func(), error) {
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return "", nil, err
	}
	old, _ := filepath.Glob(filepath.Join(parent, "run-*"))
	for _, d := range old {
		if lf, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_RDWR, 0); err == nil {
			if syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				os.RemoveAll(d) // its process is gone
			}
			lf.Close()
		} else if errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(d)
		}
	}
	// Made under a hidden name, locked, then renamed: another process
	// starting now never sees a run-* folder without its lock held.
	tmp, err := os.MkdirTemp(parent, ".new-")
	if err != nil {
		return "", nil, err
	}
	lf, err := os.Create(filepath.Join(tmp, ".lock"))
	if err == nil {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	dir := filepath.Join(parent, "run-"+strings.TrimPrefix(filepath.Base(tmp), ".new-"))
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		if lf != nil {
			lf.Close()
		}
		os.RemoveAll(tmp)
		return "", nil, fmt.Errorf("temp folder: %w", err)
	}
	return dir, func() { os.RemoveAll(dir); lf.Close() }, nil
}

// redactURLs hides the user info (a token or password) of each URL in a
// comma-separated NATS server list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// pruneOld removes the files in dir older than age, every age/4, until
// ctx ends.
func pruneOld(ctx context.Context, dir string, age time.Duration) {
	t := time.NewTicker(age / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}
