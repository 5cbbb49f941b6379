package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// makeRunDir makes the data folder and this process's temp folder in it.
func (r *runner) makeRunDir(context.Context) error {
	if err := os.MkdirAll(r.cfg.DataDir, 0o750); err != nil {
		return settingErr(fmt.Errorf("data folder: %w", err))
	}
	tmp, release, err := runDir(filepath.Join(r.cfg.DataDir, "tmp"))
	if err != nil {
		return err
	}
	r.tmp = tmp
	r.closers = append(r.closers, release)
	return nil
}

// listen opens the API's listener (serve only), refusing an address
// beyond loopback without keys.
func (r *runner) listen(context.Context) error {
	if !r.cfg.API {
		return nil
	}
	if err := CheckListen(r.cfg.Listen, r.cfg.HTTP.Keys); err != nil {
		return settingErr(err)
	}
	ln, err := net.Listen("tcp", r.cfg.Listen)
	if err != nil {
		return settingErr(fmt.Errorf("listen: %w", err))
	}
	r.ln = ln
	r.closers = append(r.closers, func() { ln.Close() })
	return nil
}

// openStorage opens the bucket when one is configured, else the data
// dir's folder (whose links serve answers under /media/).
func (r *runner) openStorage(ctx context.Context) error {
	if r.cfg.Storage != nil {
		st, err := storage.New(ctx, *r.cfg.Storage)
		if err != nil {
			return settingErr(err)
		}
		r.bucket, r.bucketID = st, r.cfg.Storage.Bucket
		return nil
	}
	base := r.cfg.PublicBaseURL
	if base == "" && r.ln == nil && r.cfg.GreenLinks {
		base = "http://unused.invalid" // links come from uploadFile; the Dir only keeps the files
	}
	if base == "" {
		if r.ln == nil {
			return settingErr(errors.New("a worker on local storage needs MEDIAPREP_PUBLIC_BASE_URL: the address of the serve process whose /media/ serves the data dir"))
		}
		base = "http://" + r.ln.Addr().String()
	}
	if r.cfg.PublicBaseURL == "" && !r.cfg.GreenLinks {
		r.log.Warn("links are served from this machine's loopback address: Green API cannot fetch them; set MEDIAPREP_PUBLIC_BASE_URL to an address it can reach, or configure a bucket", "base", base)
	}
	dir, err := storage.NewDir(storage.DirConfig{Root: r.cfg.DataDir, Prefix: r.cfg.DirPrefix, PublicBaseURL: base})
	if err != nil {
		return settingErr(err)
	}
	r.bucket, r.media = dir, dir.MediaHandler()
	if r.cfg.API {
		// The folder content teams drop files into, there from the start.
		return os.MkdirAll(filepath.Join(r.cfg.DataDir, filepath.FromSlash(r.cfg.Inbox.Layout.Inbox)), 0o750)
	}
	return nil
}

// connectQueue joins NATS (or starts the embedded server) and opens the
// queue on it.
func (r *runner) connectQueue(ctx context.Context) error {
	nc, lost, closeNATS, err := connectNATS(r.cfg, r.log)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, closeNATS)
	qcfg := r.cfg.Queue
	qcfg.Logger = r.log
	q, err := queue.Open(ctx, nc, qcfg)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	r.q, r.lost = q, lost
	r.metrics.QueueDepth(q.Depth)
	return nil
}

// connectNATS joins cfg.NATSURL, or starts the embedded server in the
// data dir; lost is closed when the embedded JetStream can no longer store
// jobs (queue.Embedded.Lost).
func connectNATS(cfg Config, log *slog.Logger) (nc *nats.Conn, lost <-chan struct{}, closeNATS func(), err error) {
	opts := []nats.Option{nats.Name("mediaprep"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	if cfg.NATSURL != "" {
		if cfg.NATSToken != "" {
			opts = append(opts, nats.Token(cfg.NATSToken))
		}
		nc, err = nats.Connect(cfg.NATSURL, opts...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("nats %s: %s", redactURLs(cfg.NATSURL), strings.ReplaceAll(err.Error(), cfg.NATSURL, redactURLs(cfg.NATSURL)))
		}
		return nc, nil, nc.Close, nil
	}
	var eopts []queue.EmbeddedOption
	if cfg.NATSToken != "" {
		eopts = append(eopts, queue.WithToken(cfg.NATSToken))
	}
	emb, err := queue.StartEmbedded(filepath.Join(cfg.DataDir, "nats"), cfg.NATSListen, log, eopts...)
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

// buildSender makes the Green API client, or a dry run. Real sends wait
// on a limiter shared through the queue, so that all workers together
// keep to Green API's rate; sent statuses are followed (delivery) when
// DeliveryWindow is set. With accounts but no single instance (no
// Green.IDInstance) there is no default account: no client, no tracker.
func (r *runner) buildSender(context.Context) error {
	r.dryRun = r.cfg.DryRun
	if r.cfg.Accounts != nil && r.cfg.Green.IDInstance == "" {
		return nil
	}
	gcfg := r.cfg.Green
	hc := gcfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: greenapi.DefaultTimeout}
	}
	hc.Transport = r.metrics.Transport(http.DefaultTransport)
	gcfg.HTTPClient, gcfg.Logger = hc, JobLogger(r.log)
	if !r.cfg.DryRun {
		gcfg.SendLimiter = r.q.Limiter(SendLimiterName(gcfg.IDInstance), int(greenapi.DefaultRatePerSecond), time.Second+50*time.Millisecond)
		gcfg.GetLimiter = r.q.Limiter(GetLimiterName(gcfg.IDInstance), 1, time.Second+50*time.Millisecond)
		gcfg.DeleteLimiter = r.q.Limiter(DeleteLimiterName(gcfg.IDInstance), 10, time.Second+50*time.Millisecond)
	}
	client, err := greenapi.New(gcfg)
	if err != nil {
		return settingErr(err)
	}
	if r.dryRun {
		r.send = &pipeline.DryRunSender{Client: client, Logger: JobLogger(r.log)}
		return nil
	}
	r.send = client
	if r.cfg.DeliveryWindow > 0 {
		r.tracker = delivery.New(client, delivery.Config{Window: r.cfg.DeliveryWindow, Logger: r.log})
	}
	return nil
}

// buildWorker makes the transcoder, the journal of sends and the worker.
func (r *runner) buildWorker(context.Context) error {
	var linker pipeline.Linker
	if client, ok := r.send.(*greenapi.Client); ok && r.cfg.GreenLinks {
		linker = pipeline.UploadLinker{Uploader: client}
		r.log.Info("links are uploaded to Green API (uploadFile)", "mediaUrl", client.MediaURL())
	} else if r.cfg.GreenLinks && r.dryRun {
		r.log.Warn("dry run: links are not uploaded to Green API")
	}
	if err := r.buildAccounts(linker); err != nil {
		return err
	}
	tcfg := r.cfg.Transcode
	tcfg.Logger = JobLogger(r.log) // ffmpeg lines name their job
	tcfg.Threads = max(1, runtime.NumCPU()/max(1, r.cfg.Workers))
	if err := tcfg.Validate(); err != nil {
		return settingErr(err)
	}
	tr, err := transcode.New(tcfg)
	if err != nil {
		return err
	}
	if r.cfg.API && r.cfg.Workers > 0 {
		r.kept = filepath.Join(r.tmp, "kept")
		if err := os.MkdirAll(r.kept, 0o750); err != nil {
			return err
		}
	}
	// Sends whose answer is not in their job yet: kept on local disk
	// until it is (a NATS outage, a crash), here and after a restart.
	journal, err := OpenJournal(filepath.Join(r.cfg.DataDir, "journal"), r.log)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, func() { journal.Close() })
	journal.Register(r.metrics)
	r.worker, err = NewWorker(WorkerConfig{
		Journal:      journal,
		LocalSources: r.kept,
		Jobs:         r.q, Bucket: r.bucket, Prep: tr, Check: storage.Checker{}, Send: r.send, DryRun: r.dryRun, Linker: linker, Tracker: r.tracker, Accounts: r.workerAccounts(),
		TempDir: filepath.Join(r.tmp, "work"), Layout: r.cfg.Inbox.Layout,
		// Several ffmpeg runs, each bounded by their timeout, plus transfers.
		Timeout: 3*tcfg.RunTimeout + 5*time.Minute,
		Metrics: r.metrics, Logger: r.log,
	})
	return err
}

// serveHTTP serves the API on the listener until runCtx ends; uploads in
// flight then finish (and are queued) before the queue closes, new ones
// are refused. It prunes the kept uploads a worker elsewhere took.
func (r *runner) serveHTTP(ctx, runCtx context.Context, wg *sync.WaitGroup, fail func(error)) error {
	acfg := r.cfg.HTTP
	acfg.SpoolDir, acfg.KeepDir, acfg.Media, acfg.Logger, acfg.Metrics = filepath.Join(r.tmp, "uploads"), r.kept, r.media, r.log, r.metrics
	acfg.Schedule.DryRun = r.dryRun
	if c, ok := r.send.(*greenapi.Client); ok {
		acfg.Schedule.Deleter = c // DELETE of a posted job: deleteStatus
	}
	acfg.Accounts, acfg.Deleters = r.accountNames(), r.accountDeleters()
	list, err := r.q.Index(runCtx) // GET /v1/statuses
	if err != nil {
		return err
	}
	acfg.List, acfg.Counts, r.list = list, list, list
	api, err := NewAPI(acfg, r.q, r.bucket)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(acfg.SpoolDir, 0o750); err != nil {
		return err
	}
	srv, limited := api.Server(r.ln)
	srv.RegisterOnShutdown(api.CloseEvents) // event streams never end by themselves
	wg.Go(func() {
		if err := srv.Serve(limited); !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("http: %w", err))
		}
	})
	wg.Go(func() {
		<-runCtx.Done()
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			r.log.Warn("http: uploads still running after 30 s were cut", "err", err)
			_ = srv.Close()
		}
	})
	if r.kept != "" {
		// Uploads a worker elsewhere took are not needed here.
		wg.Go(func() { pruneOld(runCtx, r.kept, prunedAfter) })
	}
	return nil
}

// runInbox watches the inbox until runCtx ends: listing it, and taking
// bucket events from a durable consumer when Inbox.EventSubject is set.
func (r *runner) runInbox(runCtx context.Context, wg *sync.WaitGroup, fail func(error)) error {
	icfg := r.cfg.Inbox
	icfg.Bucket, icfg.Jobs, icfg.BucketName = r.bucket, r.q, r.bucketID
	icfg.TempDir, icfg.Metrics, icfg.Logger, icfg.Finish = filepath.Join(r.tmp, "inbox"), r.metrics, r.log, r.worker.Finish
	icfg.MaxScheduleAhead = r.cfg.HTTP.Schedule.MaxAhead // one setting for every entry point
	icfg.Accounts = r.accountNames()
	if subject := icfg.EventSubject; subject != "" {
		// Durable: a stream captures the bucket's publishes, and every
		// serve shares one consumer of it.
		icfg.DurableEvents = func(ctx context.Context, h func(context.Context, []byte, int) error) error {
			return r.q.ConsumeEvents(ctx, queue.EventsConfig{Subject: subject}, h)
		}
	}
	inbox, err := NewInbox(icfg)
	if err != nil {
		return settingErr(err)
	}
	wg.Go(func() {
		if err := inbox.Run(runCtx); err != nil {
			fail(err)
		}
	})
	return nil
}

// watchQueue ends the run with an error when the embedded JetStream can no
// longer store jobs (a write found the disk full; nats-server keeps failing
// that stream until a restart), so that serve exits non-zero for its
// supervisor to start it again; the stored jobs are recovered then.
func watchQueue(ctx context.Context, lost <-chan struct{}, fail func(error)) {
	select {
	case <-ctx.Done():
	case <-lost:
		fail(errors.New("the embedded queue cannot store jobs until a restart (disk full): exiting so that a supervisor (systemd Restart=on-failure, docker --restart=on-failure) starts mediaprep again; stored jobs are kept"))
	}
}
