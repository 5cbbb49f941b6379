package config

import (
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/service"
	"github.com/mediaprep/mediaprep/transcode"
)

// Command is a set of mediaprep's commands, one bit each: the commands
// that take a setting.
type Command uint

// The commands that take settings.
const (
	Prepare Command = 1 << iota
	Post
	Batch
	Statuses
	Serve
	Worker
	Healthcheck
)

// Settings are the values of a command's settings: New fills in the
// defaults, AddFlags binds the flags to the fields, which hold the values
// given once the command line is parsed.
type Settings struct {
	// Green API, storage and link settings of post, batch, statuses,
	// serve and worker, as given: GreenConfig and StorageConfig read them.
	GreenURL, MediaURL, Instance, GreenTimeout  string
	Endpoint, Bucket, Region, Prefix, PathStyle string
	LinkMode, LinkTTL, PublicBaseURL            string
	Account                                     string // --account of post, batch and statuses

	// Limits of the media a preparation accepts (transcode.Config), as
	// given: ApplyLimits reads them.
	MaxPixels, MaxDecodedBytes, MaxVideoPixels string
	MaxFrameRate, MaxDuration                  string
	MaxAudioChannels, MaxSampleRate            string

	// Preparation flags of prepare, post and batch.
	Out            string // --out: its default and text differ per command, which binds it
	JSON           bool
	Jobs           int
	Crop, VideoFit string
	ForceTranscode bool
	Timeout        time.Duration

	// Post and batch.
	DryRun          bool
	Caption         string
	Participants    []string
	BackgroundColor string
	DeliveryWindow  string // parsed by Delivery
	PublishAt       string // --publish-at: hand the statuses to a service

	// Service is the configuration of serve and worker (and the address
	// healthcheck asks); ServiceConfig completes it.
	Service service.Config
}

// New returns the settings with their defaults, taken from the packages
// that own them.
func New() *Settings {
	return &Settings{
		Jobs:     runtime.NumCPU(),
		Crop:     string(transcode.CropCenter),
		VideoFit: string(transcode.FitKeep),
		Timeout:  transcode.NewDefaultConfig().RunTimeout,
		Service:  service.NewDefaultConfig(),
	}
}

// Setting is one setting: its flag, the environment variable that sets the
// flag's default (none: Env is empty), its usage and the commands taking
// it.
type Setting struct {
	Flag, Short, Env, Usage string
	In                      Command
	bind                    binder
}

// help is the flag's usage with its variable.
func (s Setting) help() string {
	if s.Env == "" {
		return s.Usage
	}
	return s.Usage + " [" + s.Env + "]"
}

// binder defines a setting's flag on fl, bound to a field of Settings whose
// value is the default unless the setting's variable is set.
type binder func(fl *pflag.FlagSet, s Setting, ev *Env)

func str(dst *string) binder {
	return func(fl *pflag.FlagSet, s Setting, ev *Env) {
		fl.StringVarP(dst, s.Flag, s.Short, ev.Str(s.Env, *dst), s.help())
	}
}

// flagOnly is a string flag whose variable does not set its default, so
// that --help never shows its value (ServiceConfig reads the variable when
// the flag is not given).
func flagOnly(dst *string) binder {
	return func(fl *pflag.FlagSet, s Setting, _ *Env) {
		fl.StringVarP(dst, s.Flag, s.Short, *dst, s.help())
	}
}

// typed binds a flag defined by define (a pflag.FlagSet method) whose
// default is its variable's value read by read (an Env method).
func typed[T any](dst *T, define func(*pflag.FlagSet, *T, string, string, T, string), read func(*Env, string, T) T) binder {
	return func(fl *pflag.FlagSet, s Setting, ev *Env) {
		define(fl, dst, s.Flag, s.Short, read(ev, s.Env, *dst), s.help())
	}
}

func dur(dst *time.Duration) binder {
	return typed(dst, (*pflag.FlagSet).DurationVarP, (*Env).dur)
}

func num(dst *int) binder { return typed(dst, (*pflag.FlagSet).IntVarP, (*Env).num) }

func size(dst *int64) binder { return typed(dst, (*pflag.FlagSet).Int64VarP, (*Env).size) }

func replicas(dst *int) binder { return typed(dst, (*pflag.FlagSet).IntVarP, (*Env).replicas) }

func boolean(dst *bool) binder {
	return func(fl *pflag.FlagSet, s Setting, _ *Env) {
		fl.BoolVarP(dst, s.Flag, s.Short, *dst, s.help())
	}
}

func list(dst *[]string) binder {
	return func(fl *pflag.FlagSet, s Setting, _ *Env) {
		fl.StringSliceVarP(dst, s.Flag, s.Short, *dst, s.help())
	}
}

// The commands sharing groups of settings.
const (
	sends    = Post | Batch     // prepare, store and post
	services = Serve | Worker   // run jobs off the queue
	green    = sends | services // post through Green API
)

// Table lists every setting of every command, bound to s's fields. Media
// limits, the Green API timeout and the link TTL are string flags parsed
// late (GreenConfig, StorageConfig, ApplyLimits) so that their --help
// shows a default in words, and the default of the owning package when
// unset.
func (s *Settings) Table() []Setting {
	c := &s.Service
	h := &c.HTTP
	return []Setting{
		// Green API, storage and links, in the order README lists them.
		{"greenapi-url", "", "MEDIAPREP_GREENAPI_URL", "Green API host (default " + greenapi.DefaultAPIURL + ")", green | Statuses, str(&s.GreenURL)},
		{"greenapi-media-url", "", "MEDIAPREP_GREENAPI_MEDIA_URL", "Green API media host for uploadFile (default: from the API host, e.g. https://media.green-api.com)", green, str(&s.MediaURL)},
		{"instance", "", "MEDIAPREP_GREENAPI_INSTANCE", "Green API idInstance", green | Statuses, str(&s.Instance)},
		{"greenapi-timeout", "", "MEDIAPREP_GREENAPI_TIMEOUT", "deadline of one Green API request (default 30s)", green | Statuses, str(&s.GreenTimeout)},
		{"s3-endpoint", "", "MEDIAPREP_S3_ENDPOINT", "S3 endpoint URL (empty: AWS S3)", green, str(&s.Endpoint)},
		{"bucket", "", "MEDIAPREP_S3_BUCKET", "bucket the prepared files go to", green, str(&s.Bucket)},
		{"region", "", "MEDIAPREP_S3_REGION", "S3 region (default us-east-1)", green, str(&s.Region)},
		{"prefix", "", "MEDIAPREP_S3_PREFIX", "key prefix (default statuses)", green, str(&s.Prefix)},
		{"path-style", "", "MEDIAPREP_S3_PATH_STYLE", "path-style S3 addressing: true for MinIO, versitygw, Ceph", green, str(&s.PathStyle)},
		{"link-mode", "", "MEDIAPREP_LINK_MODE", "presign, public or greenapi (uploadFile); default presign with a bucket, else greenapi when Green API credentials are set", green, str(&s.LinkMode)},
		{"link-ttl", "", "MEDIAPREP_LINK_TTL", "life of a presigned link, more than 24h, at most 168h (default 72h)", green, str(&s.LinkTTL)},
		{"public-base-url", "", "MEDIAPREP_PUBLIC_BASE_URL", "base URL of public links (link mode public)", green, str(&s.PublicBaseURL)},
		{"account", "", "", "post for this account of " + AccountsFileEnv + " instead of the MEDIAPREP_GREENAPI_* instance (\"default\")", sends | Statuses, str(&s.Account)},

		// Media limits.
		{"max-pixels", "", "MEDIAPREP_MAX_PIXELS", "pictures with more pixels are refused before decoding (default 64000000)", green | Prepare, str(&s.MaxPixels)},
		{"max-decoded-bytes", "", "MEDIAPREP_MAX_DECODED_BYTES", "pictures taking more memory decoded are refused, e.g. 256MiB (default 256MiB)", green | Prepare, str(&s.MaxDecodedBytes)},
		{"max-video-pixels", "", "MEDIAPREP_MAX_VIDEO_PIXELS", "videos (animated GIFs) with larger frames are refused (default 35389440, 8192x4320)", green | Prepare, str(&s.MaxVideoPixels)},
		{"max-frame-rate", "", "MEDIAPREP_MAX_FRAME_RATE", "videos declaring more frames a second are refused (default 480)", green | Prepare, str(&s.MaxFrameRate)},
		{"max-duration", "", "MEDIAPREP_MAX_DURATION", "inputs declaring a longer duration are refused (default 4h)", green | Prepare, str(&s.MaxDuration)},
		{"max-audio-channels", "", "MEDIAPREP_MAX_AUDIO_CHANNELS", "audio with more channels is refused (default 16)", green | Prepare, str(&s.MaxAudioChannels)},
		{"max-sample-rate", "", "MEDIAPREP_MAX_SAMPLE_RATE", "audio with a higher sample rate (Hz) is refused (default 384000)", green | Prepare, str(&s.MaxSampleRate)},

		// Preparation: prepare, post and batch.
		{"json", "", "", "print one JSON object per file, in input order", Prepare | sends, boolean(&s.JSON)},
		{"jobs", "j", "", "files worked on at once", Prepare | sends, num(&s.Jobs)},
		{"crop", "", "", "how pictures become 9:16: center, smart or pad", Prepare | sends, str(&s.Crop)},
		{"video-fit", "", "", "how videos are framed: keep, crop or pad (9:16)", Prepare | sends, str(&s.VideoFit)},
		{"force-transcode", "", "", "re-encode videos even when a stream copy would do", Prepare | sends, boolean(&s.ForceTranscode)},
		{"timeout", "", "", "deadline of one ffmpeg run", Prepare | sends, dur(&s.Timeout)},

		// Post and batch.
		{"dry-run", "", "", "prepare, store and check the link, then print the request instead of posting (token redacted)", sends, boolean(&s.DryRun)},
		{"caption", "", "", "caption of picture and video statuses (at most 1024 characters)", sends, str(&s.Caption)},
		{"participants", "", "", "chat ids that may see the status, e.g. 79001234567@c.us (default: all contacts)", sends, list(&s.Participants)},
		{"background-color", "", "", "background of voice and text statuses, #RRGGBB", sends, str(&s.BackgroundColor)},
		{"delivery-window", "", "MEDIAPREP_DELIVERY_WINDOW", "at the end, wait up to this long for each posted status to show as sent in getOutgoingStatuses (default 10m; 0: do not wait, no delivery is reported)", sends, str(&s.DeliveryWindow)},
		{"publish-at", "", "", "post at this time (RFC 3339 with offset, or Unix seconds): hands the statuses to the service at MEDIAPREP_API_URL, whose queue holds them until then", sends, str(&s.PublishAt)},

		// Serve and worker, defaults from service.NewDefaultConfig.
		{"dry-run", "", "", "never post: log the request each job would send (the default when no Green API credentials are set)", services, boolean(&c.DryRun)},
		{"data", "", "MEDIAPREP_DATA_DIR", "data folder: embedded queue, local storage and inbox, temp files, the journal of sends not yet recorded (keep it on a persistent volume)", services, str(&c.DataDir)},
		// No default from the environment: --help would show a URL that
		// may hold credentials.
		{"nats", "", NATSURLEnv, "NATS server(s) to join instead of the embedded one, e.g. nats://10.0.0.5:4222", services, flagOnly(&c.NATSURL)},
		{"workers", "j", "MEDIAPREP_WORKERS", "jobs run at once by this process; serve --workers 0 only takes uploads and drops", services, num(&c.Workers)},
		{"timeout", "", "MEDIAPREP_FFMPEG_TIMEOUT", "deadline of one ffmpeg run", services, dur(&c.Transcode.RunTimeout)},
		{"grace", "", "MEDIAPREP_SHUTDOWN_GRACE", "on SIGTERM, how long running jobs may go on before they are put back in the queue", services, dur(&c.Grace)},
		{"ack-wait", "", "MEDIAPREP_QUEUE_ACK_WAIT", "a job whose worker stops answering for this long is given to another worker", services, dur(&c.Queue.AckWait)},
		{"delivery-window", "", "MEDIAPREP_DELIVERY_WINDOW", "how long a posted status is looked for in getOutgoingStatuses before its delivery is not_confirmed; 0: not followed", services, dur(&c.DeliveryWindow)},
		{"max-deliver", "", "MEDIAPREP_QUEUE_MAX_DELIVER", "deliveries of a job before it fails", services, num(&c.Queue.MaxDeliver)},
		{"replicas", "", "MEDIAPREP_QUEUE_REPLICAS", "copies of the queue's stream and buckets in a NATS cluster, 1 to 5; 0: 3 on a cluster that can place them, else 1; never scales down", services, replicas(&c.Queue.Replicas)},

		// Serve only: the HTTP API and the inbox.
		{"listen", "", "MEDIAPREP_LISTEN", "HTTP address of the API and /media/ links", Serve, str(&c.Listen)},
		{"nats-listen", "", "MEDIAPREP_NATS_LISTEN", "let the embedded NATS server listen here too, so workers and bucket events can join, e.g. 127.0.0.1:4222", Serve, str(&c.NATSListen)},
		{"max-upload", "", "MEDIAPREP_MAX_UPLOAD", "largest upload in bytes", Serve, size(&h.MaxUploadBytes)},
		{"max-uploads", "", "MEDIAPREP_MAX_UPLOADS", "uploads received at once; more answer 503", Serve, num(&h.MaxConcurrentUploads)},
		{"max-queued", "", "MEDIAPREP_MAX_QUEUED", "jobs waiting or running, scheduled ones not counted; more uploads answer 429", Serve, num(&h.MaxQueued)},
		{"inbox", "", "MEDIAPREP_INBOX_PREFIX", "prefix (or folder of the data dir) watched for dropped files", Serve, str(&c.Inbox.Layout.Inbox)},
		{"poll", "", "MEDIAPREP_INBOX_POLL", "time between two listings of the inbox (5m when --events-subject is set and --poll is not); 0: events only", Serve, dur(&c.Inbox.Poll)},
		{"settle", "", "MEDIAPREP_INBOX_SETTLE", "a dropped file is taken once it is this old (a late sidecar is still honoured)", Serve, dur(&c.Inbox.Settle)},
		{"inbox-max-scan", "", "MEDIAPREP_INBOX_MAX_SCAN", "objects one listing of the inbox looks at; the next listing goes on from there", Serve, num(&c.Inbox.MaxScan)},
		{"events-subject", "", "MEDIAPREP_S3_EVENTS_SUBJECT", "NATS subject the bucket publishes its event notifications to, for instant pickup", Serve, str(&c.Inbox.EventSubject)},
		{"http-read-header-timeout", "", "MEDIAPREP_HTTP_READ_HEADER_TIMEOUT", "deadline of a request's headers", Serve, dur(&h.HTTP.ReadHeaderTimeout)},
		{"http-idle-timeout", "", "MEDIAPREP_HTTP_IDLE_TIMEOUT", "a keep-alive connection without a request is closed after this", Serve, dur(&h.HTTP.IdleTimeout)},
		{"http-read-timeout", "", "MEDIAPREP_HTTP_READ_TIMEOUT", "deadline of a whole request, uploads excepted", Serve, dur(&h.HTTP.ReadTimeout)},
		{"http-write-timeout", "", "MEDIAPREP_HTTP_WRITE_TIMEOUT", "deadline of an answer, /media/ excepted", Serve, dur(&h.HTTP.WriteTimeout)},
		{"http-min-rate", "", "MEDIAPREP_HTTP_MIN_RATE", "bytes an upload body or a /media/ answer must move every --http-min-rate-window, or it is cut (408 too_slow)", Serve, size(&h.HTTP.MinRate)},
		{"http-min-rate-window", "", "MEDIAPREP_HTTP_MIN_RATE_WINDOW", "window of --http-min-rate", Serve, dur(&h.HTTP.MinRateWindow)},
		{"http-max-conns", "", "MEDIAPREP_HTTP_MAX_CONNS", "HTTP connections open at once; beyond, the longest idle one is closed", Serve, num(&h.HTTP.MaxConns)},
		{"max-form-fields", "", "MEDIAPREP_MAX_FORM_FIELDS", "fields of a form besides the file; more answer 400", Serve, num(&h.MaxFormFields)},
		{"max-participants", "", "MEDIAPREP_MAX_PARTICIPANTS", "participants of a status; more answer 400", Serve, num(&h.MaxParticipants)},
		{"min-free-disk", "", "MEDIAPREP_MIN_FREE_DISK", "below this free space in the data dir, /readyz fails and uploads answer 507", Serve, size(&h.MinFreeBytes)},
		{"max-schedule-ahead", "", "MEDIAPREP_MAX_SCHEDULE_AHEAD", "how far ahead a publishAt may be; later ones are refused", Serve, dur(&h.Schedule.MaxAhead)},

		{"listen", "", "MEDIAPREP_LISTEN", "address serve listens on", Healthcheck, str(&c.Listen)},
	}
}

// AddFlags defines on fl the flags of the settings cmd takes (Table),
// their defaults from ev.
func (s *Settings) AddFlags(fl *pflag.FlagSet, ev *Env, cmd Command) {
	for _, row := range s.Table() {
		if row.In&cmd != 0 {
			row.bind(fl, row, ev)
		}
	}
}

// Variables read from the environment only, without a flag: secrets never
// shown in ps or --help, and the accounts file.
const (
	GreenTokenEnv   = "MEDIAPREP_GREENAPI_TOKEN"
	NATSTokenEnv    = "MEDIAPREP_NATS_TOKEN"
	APIKeysEnv      = "MEDIAPREP_API_KEYS" // keys serve accepts
	APIURLEnv       = "MEDIAPREP_API_URL"  // the service post, batch and statuses hand scheduled statuses to
	APIKeyEnv       = "MEDIAPREP_API_KEY"  // the key they give it
	AccountsFileEnv = "MEDIAPREP_ACCOUNTS_FILE"
	NATSURLEnv      = "MEDIAPREP_NATS_URL" // also the default of --nats, read late
)

// EnvOnly lists the variables read without a flag of their own.
func EnvOnly() []string {
	return []string{GreenTokenEnv, NATSTokenEnv, APIKeysEnv, APIURLEnv, APIKeyEnv, AccountsFileEnv}
}
