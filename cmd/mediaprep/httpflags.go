package main

import (
	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/service"
)

// httpFlags are serve's limits on HTTP clients (see service.HTTPConfig)
// and on forms and the disk.
type httpFlags struct {
	cfg             service.HTTPConfig
	maxFormFields   int
	maxParticipants int
	minFree         int64
}

func (f *httpFlags) add(fl *pflag.FlagSet, e *serveEnv) {
	c := &f.cfg
	fl.DurationVar(&c.ReadHeaderTimeout, "http-read-header-timeout", e.dur("MEDIAPREP_HTTP_READ_HEADER_TIMEOUT", service.DefaultReadHeaderTimeout), "deadline of a request's headers [MEDIAPREP_HTTP_READ_HEADER_TIMEOUT]")
	fl.DurationVar(&c.IdleTimeout, "http-idle-timeout", e.dur("MEDIAPREP_HTTP_IDLE_TIMEOUT", service.DefaultIdleTimeout), "a keep-alive connection without a request is closed after this [MEDIAPREP_HTTP_IDLE_TIMEOUT]")
	fl.DurationVar(&c.ReadTimeout, "http-read-timeout", e.dur("MEDIAPREP_HTTP_READ_TIMEOUT", service.DefaultReadTimeout), "deadline of a whole request, uploads excepted [MEDIAPREP_HTTP_READ_TIMEOUT]")
	fl.DurationVar(&c.WriteTimeout, "http-write-timeout", e.dur("MEDIAPREP_HTTP_WRITE_TIMEOUT", service.DefaultWriteTimeout), "deadline of an answer, /media/ excepted [MEDIAPREP_HTTP_WRITE_TIMEOUT]")
	fl.Int64Var(&c.MinRate, "http-min-rate", e.size("MEDIAPREP_HTTP_MIN_RATE", service.DefaultMinRate), "bytes an upload body or a /media/ answer must move every --http-min-rate-window, or it is cut (408 too_slow) [MEDIAPREP_HTTP_MIN_RATE]")
	fl.DurationVar(&c.MinRateWindow, "http-min-rate-window", e.dur("MEDIAPREP_HTTP_MIN_RATE_WINDOW", service.DefaultMinRateWindow), "window of --http-min-rate [MEDIAPREP_HTTP_MIN_RATE_WINDOW]")
	fl.IntVar(&c.MaxConns, "http-max-conns", e.num("MEDIAPREP_HTTP_MAX_CONNS", service.DefaultMaxConns), "HTTP connections open at once; beyond, the longest idle one is closed [MEDIAPREP_HTTP_MAX_CONNS]")
	fl.IntVar(&f.maxFormFields, "max-form-fields", e.num("MEDIAPREP_MAX_FORM_FIELDS", service.DefaultMaxFormFields), "fields of a form besides the file; more answer 400 [MEDIAPREP_MAX_FORM_FIELDS]")
	fl.IntVar(&f.maxParticipants, "max-participants", e.num("MEDIAPREP_MAX_PARTICIPANTS", service.DefaultMaxParticipants), "participants of a status; more answer 400 [MEDIAPREP_MAX_PARTICIPANTS]")
	fl.Int64Var(&f.minFree, "min-free-disk", e.size("MEDIAPREP_MIN_FREE_DISK", service.DefaultMinFreeBytes), "below this free space in the data dir, /readyz fails and uploads answer 507 [MEDIAPREP_MIN_FREE_DISK]")
}

// apply sets the limits in cfg.
func (f *httpFlags) apply(cfg *service.APIConfig) {
	cfg.HTTP, cfg.MaxFormFields, cfg.MaxParticipants, cfg.MinFreeBytes = f.cfg, f.maxFormFields, f.maxParticipants, f.minFree
}
