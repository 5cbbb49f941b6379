package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/service"
)

// ServiceConfig completes the configuration of serve (withAPI: the HTTP
// API and the inbox as well) or worker from the flags parsed on fl and the
// environment, reporting every problem at once; creds tells whether Green
// API credentials are set (else a dry run).
func (s *Settings) ServiceConfig(fl *pflag.FlagSet, ev *Env, withAPI bool) (_ service.Config, creds bool, _ error) {
	c := s.Service
	c.API = withAPI
	errs := ev.Errs() // the values the flags' defaults came from
	if c.NATSURL == "" {
		c.NATSURL = ev.Str(NATSURLEnv, "")
	}
	if !withAPI && c.NATSURL == "" {
		errs = append(errs, errors.New("worker needs --nats (or MEDIAPREP_NATS_URL): the queue it shares with serve"))
	}
	c.NATSToken = ev.Str(NATSTokenEnv, "")
	// Loopback too: any local user could read the jobs (captions, numbers).
	if c.NATSListen != "" && c.NATSToken == "" {
		errs = append(errs, fmt.Errorf("--nats-listen %s needs a token: set MEDIAPREP_NATS_TOKEN (e.g. MEDIAPREP_NATS_TOKEN=$(openssl rand -hex 24)); every NATS client must give it, and workers join with nats://TOKEN@host:port", c.NATSListen))
	}
	if withAPI {
		pollSet := fl.Changed("poll") || ev.Set("MEDIAPREP_INBOX_POLL")
		switch {
		case c.Inbox.Poll == 0 && c.Inbox.EventSubject == "":
			errs = append(errs, errors.New("--poll 0 turns polling off, and no --events-subject is set: nothing would ever be picked up from the inbox"))
		case c.Inbox.EventSubject != "" && !pollSet:
			c.Inbox.Poll = service.EventsPoll // events pick files up; the listing only reconciles
		case c.Inbox.Poll == 0:
			c.Inbox.Poll = -1 // events only
		}
	}
	if withAPI && c.Inbox.MaxScan < 1 {
		errs = append(errs, fmt.Errorf("--inbox-max-scan %d: need at least 1", c.Inbox.MaxScan))
	}
	least := 1
	if withAPI {
		least = 0 // serve may only take uploads and drops
	}
	if c.Workers < least {
		errs = append(errs, fmt.Errorf("--workers %d: need at least %d", c.Workers, least))
	}
	c.HTTP.Keys = apiKeys(ev.Str(APIKeysEnv, ""))

	// Links from Green API's uploadFile: asked for, or the default when
	// Green API credentials are set and nothing else could make a link
	// Green API can fetch (no bucket, no public address).
	defaultCreds := s.Instance != "" || ev.Set(GreenTokenEnv)
	set, err := s.LoadAccounts(ev) // MEDIAPREP_ACCOUNTS_FILE: several instances
	if err != nil {
		errs = append(errs, err)
	}
	c.Accounts = set
	creds = defaultCreds || ev.Set(AccountsFileEnv)
	c.GreenLinks = s.LinkMode == LinkGreenAPI ||
		(s.LinkMode == "" && creds && !c.DryRun && s.Bucket == "" && s.PublicBaseURL == "")
	if c.GreenLinks && !creds {
		errs = append(errs, errors.New("link mode greenapi uploads with uploadFile: set MEDIAPREP_GREENAPI_INSTANCE and MEDIAPREP_GREENAPI_TOKEN"))
	}
	if s.Bucket != "" {
		scfg, err := s.StorageConfig()
		if err != nil {
			errs = append(errs, err)
		}
		c.Storage = &scfg
	}
	c.DirPrefix, c.PublicBaseURL = s.Prefix, s.PublicBaseURL
	// A dry run when asked or when no credentials are set. With an
	// accounts file but no single-instance settings there is no default
	// account: Green stays empty and no default client is made.
	switch {
	case defaultCreds:
		gcfg, err := s.GreenConfig(ev)
		if err != nil {
			errs = append(errs, err)
		}
		c.Green = gcfg
	case set == nil:
		// The dry run's client only builds the requests it logs.
		c.Green = greenapi.Config{APIURL: s.GreenURL, IDInstance: "0", Token: "dry-run"}
	default:
		// The accounts' clients take the timeout from here (buildAccounts).
		hc, err := s.greenClient()
		if err != nil {
			errs = append(errs, err)
		}
		c.Green = greenapi.Config{HTTPClient: hc}
	}
	c.DryRun = c.DryRun || !creds
	if err := s.ApplyLimits(&c.Transcode); err != nil {
		errs = append(errs, err)
	}
	return c, creds, errors.Join(errs...)
}

// apiKeys splits MEDIAPREP_API_KEYS (comma or space separated).
func apiKeys(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}
