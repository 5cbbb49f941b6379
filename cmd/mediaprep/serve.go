package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/service"
	"github.com/mediaprep/mediaprep/web"
)

// serveSetting is one setting of serve and worker: its flag, the
// environment variable that sets the flag's default, and where the value
// goes (bind defines the flag, the value in place its default).
type serveSetting struct {
	flag, short, env, usage string
	serveOnly               bool
	bind                    func(fl *pflag.FlagSet, s serveSetting, ev *env)
}

// help is the flag's usage with its variable.
func (s serveSetting) help() string {
	if s.env == "" {
		return s.usage
	}
	return s.usage + " [" + s.env + "]"
}

func strVar(dst *string) func(*pflag.FlagSet, serveSetting, *env) {
	return func(fl *pflag.FlagSet, s serveSetting, ev *env) {
		fl.StringVarP(dst, s.flag, s.short, ev.str(s.env, *dst), s.help())
	}
}

func durVar(dst *time.Duration) func(*pflag.FlagSet, serveSetting, *env) {
	return func(fl *pflag.FlagSet, s serveSetting, ev *env) {
		fl.DurationVarP(dst, s.flag, s.short, ev.dur(s.env, *dst), s.help())
	}
}

func numVar(dst *int) func(*pflag.FlagSet, serveSetting, *env) {
	return func(fl *pflag.FlagSet, s serveSetting, ev *env) {
		fl.IntVarP(dst, s.flag, s.short, ev.num(s.env, *dst), s.help())
	}
}

func sizeVar(dst *int64) func(*pflag.FlagSet, serveSetting, *env) {
	return func(fl *pflag.FlagSet, s serveSetting, ev *env) {
		fl.Int64VarP(dst, s.flag, s.short, ev.size(s.env, *dst), s.help())
	}
}

func replicasVar(dst *int) func(*pflag.FlagSet, serveSetting, *env) {
	return func(fl *pflag.FlagSet, s serveSetting, ev *env) {
		fl.IntVarP(dst, s.flag, s.short, ev.replicas(s.env, *dst), s.help())
	}
}

// flagOnly is a flag the environment does not set (or sets only when the
// flag is not given, read in config: --help shows no value from it).
func flagOnly(dst *string) func(*pflag.FlagSet, serveSetting, *env) {
	return func(fl *pflag.FlagSet, s serveSetting, _ *env) {
		fl.StringVarP(dst, s.flag, s.short, "", s.help())
	}
}

// serveFlags are the settings of serve and worker.
type serveFlags struct {
	settings
	cfg service.Config
}

// table lists the settings of serve and worker, defaults from
// service.NewDefaultConfig; the Green API and storage settings are
// settingEnv's.
func (f *serveFlags) table() []serveSetting {
	c := &f.cfg
	h := &c.HTTP
	return []serveSetting{
		{"data", "", "MEDIAPREP_DATA_DIR", "data folder: embedded queue, local storage and inbox, temp files, the journal of sends not yet recorded (keep it on a persistent volume)", false, strVar(&c.DataDir)},
		// No default from the environment: --help would show a URL that
		// may hold credentials.
		{"nats", "", "MEDIAPREP_NATS_URL", "NATS server(s) to join instead of the embedded one, e.g. nats://10.0.0.5:4222", false, flagOnly(&c.NATSURL)},
		{"workers", "j", "MEDIAPREP_WORKERS", "jobs run at once by this process; serve --workers 0 only takes uploads and drops", false, numVar(&c.Workers)},
		{"timeout", "", "MEDIAPREP_FFMPEG_TIMEOUT", "deadline of one ffmpeg run", false, durVar(&c.Transcode.RunTimeout)},
		{"grace", "", "MEDIAPREP_SHUTDOWN_GRACE", "on SIGTERM, how long running jobs may go on before they are put back in the queue", false, durVar(&c.Grace)},
		{"ack-wait", "", "MEDIAPREP_QUEUE_ACK_WAIT", "a job whose worker stops answering for this long is given to another worker", false, durVar(&c.Queue.AckWait)},
		{"delivery-window", "", "MEDIAPREP_DELIVERY_WINDOW", "how long a posted status is looked for in getOutgoingStatuses before its delivery is not_confirmed; 0: not followed", false, durVar(&c.DeliveryWindow)},
		{"max-deliver", "", "MEDIAPREP_QUEUE_MAX_DELIVER", "deliveries of a job before it fails", false, numVar(&c.Queue.MaxDeliver)},
		{"replicas", "", "MEDIAPREP_QUEUE_REPLICAS", "copies of the queue's stream and buckets in a NATS cluster, 1 to 5; 0: 3 on a cluster that can place them, else 1; never scales down", false, replicasVar(&c.Queue.Replicas)},

		{"listen", "", "MEDIAPREP_LISTEN", "HTTP address of the API and /media/ links", true, strVar(&c.Listen)},
		{"nats-listen", "", "MEDIAPREP_NATS_LISTEN", "let the embedded NATS server listen here too, so workers and bucket events can join, e.g. 127.0.0.1:4222", true, strVar(&c.NATSListen)},
		{"max-upload", "", "MEDIAPREP_MAX_UPLOAD", "largest upload in bytes", true, sizeVar(&h.MaxUploadBytes)},
		{"max-uploads", "", "MEDIAPREP_MAX_UPLOADS", "uploads received at once; more answer 503", true, numVar(&h.MaxConcurrentUploads)},
		{"max-queued", "", "MEDIAPREP_MAX_QUEUED", "jobs waiting or running; more uploads answer 429", true, numVar(&h.MaxQueued)},
		{"inbox", "", "MEDIAPREP_INBOX_PREFIX", "prefix (or folder of the data dir) watched for dropped files", true, strVar(&c.Inbox.Layout.Inbox)},
		{"poll", "", "MEDIAPREP_INBOX_POLL", "time between two listings of the inbox (5m when --events-subject is set and --poll is not); 0: events only", true, durVar(&c.Inbox.Poll)},
		{"settle", "", "MEDIAPREP_INBOX_SETTLE", "a dropped file is taken once it is this old (a late sidecar is still honoured)", true, durVar(&c.Inbox.Settle)},
		{"events-subject", "", "MEDIAPREP_S3_EVENTS_SUBJECT", "NATS subject the bucket publishes its event notifications to, for instant pickup", true, strVar(&c.Inbox.EventSubject)},
		{"http-read-header-timeout", "", "MEDIAPREP_HTTP_READ_HEADER_TIMEOUT", "deadline of a request's headers", true, durVar(&h.HTTP.ReadHeaderTimeout)},
		{"http-idle-timeout", "", "MEDIAPREP_HTTP_IDLE_TIMEOUT", "a keep-alive connection without a request is closed after this", true, durVar(&h.HTTP.IdleTimeout)},
		{"http-read-timeout", "", "MEDIAPREP_HTTP_READ_TIMEOUT", "deadline of a whole request, uploads excepted", true, durVar(&h.HTTP.ReadTimeout)},
		{"http-write-timeout", "", "MEDIAPREP_HTTP_WRITE_TIMEOUT", "deadline of an answer, /media/ excepted", true, durVar(&h.HTTP.WriteTimeout)},
		{"http-min-rate", "", "MEDIAPREP_HTTP_MIN_RATE", "bytes an upload body or a /media/ answer must move every --http-min-rate-window, or it is cut (408 too_slow)", true, sizeVar(&h.HTTP.MinRate)},
		{"http-min-rate-window", "", "MEDIAPREP_HTTP_MIN_RATE_WINDOW", "window of --http-min-rate", true, durVar(&h.HTTP.MinRateWindow)},
		{"http-max-conns", "", "MEDIAPREP_HTTP_MAX_CONNS", "HTTP connections open at once; beyond, the longest idle one is closed", true, numVar(&h.HTTP.MaxConns)},
		{"max-form-fields", "", "MEDIAPREP_MAX_FORM_FIELDS", "fields of a form besides the file; more answer 400", true, numVar(&h.MaxFormFields)},
		{"max-participants", "", "MEDIAPREP_MAX_PARTICIPANTS", "participants of a status; more answer 400", true, numVar(&h.MaxParticipants)},
		{"min-free-disk", "", "MEDIAPREP_MIN_FREE_DISK", "below this free space in the data dir, /readyz fails and uploads answer 507", true, sizeVar(&h.MinFreeBytes)},
		{"max-schedule-ahead", "", "MEDIAPREP_MAX_SCHEDULE_AHEAD", "how far ahead a publishAt may be; later ones are refused", true, durVar(&h.Schedule.MaxAhead)},
	}
}

// add defines the flags of serve (withAPI) or worker.
func (f *serveFlags) add(fl *pflag.FlagSet, ev *env, withAPI bool) {
	f.cfg = service.NewDefaultConfig()
	addSettingFlags(fl, &f.settings, ev)
	fl.BoolVar(&f.cfg.DryRun, "dry-run", false, "never post: log the request each job would send (the default when no Green API credentials are set)")
	for _, s := range f.table() {
		if withAPI || !s.serveOnly {
			s.bind(fl, s, ev)
		}
	}
}

func newServeCmd(g *globalFlags, ev *env) *cobra.Command {
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
			return runService(cmd.Context(), g, cmd.Flags(), &f, ev, true)
		},
	}
	f.add(cmd.Flags(), ev, true)
	return cmd
}

func newWorkerCmd(g *globalFlags, ev *env) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run workers only, sharing the queue of an external NATS with other serve and worker processes",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runService(cmd.Context(), g, cmd.Flags(), &f, ev, false)
		},
	}
	f.add(cmd.Flags(), ev, false)
	return cmd
}

// runService runs serve (withAPI: the HTTP API and the inbox as well) or
// worker until ctx ends.
func runService(ctx context.Context, g *globalFlags, fl *pflag.FlagSet, f *serveFlags, ev *env, withAPI bool) error {
	log := g.logger()
	cfg, creds, err := f.config(fl, ev, withAPI)
	if err != nil {
		return usageError{err}
	}
	cfg.Logger = log
	if !creds {
		log.Warn("no Green API credentials (MEDIAPREP_GREENAPI_INSTANCE, MEDIAPREP_GREENAPI_TOKEN): dry run, nothing is posted")
	}
	err = service.Run(ctx, cfg)
	var se *service.SettingError
	switch {
	case errors.As(err, &se):
		return usageError{se.Err}
	case err != nil:
		return err
	case ctx.Err() != nil:
		return exitError{exitInterrupted}
	}
	return nil
}

// config completes the service's configuration from the flags and the
// environment, reporting every problem at once; creds tells whether Green
// API credentials are set (else a dry run).
func (f *serveFlags) config(fl *pflag.FlagSet, ev *env, withAPI bool) (_ service.Config, creds bool, _ error) {
	c := f.cfg
	c.API = withAPI
	errs := slices.Clone(ev.errs) // the values the flags' defaults came from
	if c.NATSURL == "" {
		c.NATSURL = ev.str("MEDIAPREP_NATS_URL", "")
	}
	if !withAPI && c.NATSURL == "" {
		errs = append(errs, errors.New("worker needs --nats (or MEDIAPREP_NATS_URL): the queue it shares with serve"))
	}
	c.NATSToken = ev.str("MEDIAPREP_NATS_TOKEN", "")
	// Loopback too: any local user could read the jobs (captions, numbers).
	if c.NATSListen != "" && c.NATSToken == "" {
		errs = append(errs, fmt.Errorf("--nats-listen %s needs a token: set MEDIAPREP_NATS_TOKEN (e.g. MEDIAPREP_NATS_TOKEN=$(openssl rand -hex 24)); every NATS client must give it, and workers join with nats://TOKEN@host:port", c.NATSListen))
	}
	if withAPI {
		pollSet := fl.Changed("poll") || ev.set("MEDIAPREP_INBOX_POLL")
		switch {
		case c.Inbox.Poll == 0 && c.Inbox.EventSubject == "":
			errs = append(errs, errors.New("--poll 0 turns polling off, and no --events-subject is set: nothing would ever be picked up from the inbox"))
		case c.Inbox.EventSubject != "" && !pollSet:
			c.Inbox.Poll = service.EventsPoll // events pick files up; the listing only reconciles
		case c.Inbox.Poll == 0:
			c.Inbox.Poll = -1 // events only
		}
	}
	least := 1
	if withAPI {
		least = 0 // serve may only take uploads and drops
	}
	if c.Workers < least {
		errs = append(errs, fmt.Errorf("--workers %d: need at least %d", c.Workers, least))
	}
	c.HTTP.Keys = apiKeys(ev.str("MEDIAPREP_API_KEYS", ""))
	c.HTTP.Web = web.Handler()

	// Links from Green API's uploadFile: asked for, or the default when
	// Green API credentials are set and nothing else could make a link
	// Green API can fetch (no bucket, no public address).
	creds = f.instance != "" || ev.set("MEDIAPREP_GREENAPI_TOKEN")
	c.GreenLinks = f.linkMode == linkGreenAPI ||
		(f.linkMode == "" && creds && !c.DryRun && f.bucket == "" && f.publicBaseURL == "")
	if c.GreenLinks && !creds {
		errs = append(errs, errors.New("link mode greenapi uploads with uploadFile: set MEDIAPREP_GREENAPI_INSTANCE and MEDIAPREP_GREENAPI_TOKEN"))
	}
	if f.bucket != "" {
		scfg, err := f.storageConfig()
		if err != nil {
			errs = append(errs, err)
		}
		c.Storage = &scfg
	}
	c.DirPrefix, c.PublicBaseURL = f.prefix, f.publicBaseURL
	// A dry run when asked or when no credentials are set.
	if creds {
		gcfg, err := f.greenConfig(ev)
		if err != nil {
			errs = append(errs, err)
		}
		c.Green = gcfg
	} else {
		c.Green = greenapi.Config{APIURL: f.greenURL, IDInstance: "0", Token: "dry-run"}
	}
	c.DryRun = c.DryRun || !creds
	if err := f.applyLimits(&c.Transcode); err != nil {
		errs = append(errs, err)
	}
	return c, creds, errors.Join(errs...)
}

// apiKeys splits MEDIAPREP_API_KEYS (comma or space separated).
func apiKeys(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}
