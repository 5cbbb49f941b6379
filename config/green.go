package config

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mediaprep/mediaprep/accounts"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// LinkGreenAPI is the link mode whose links come from Green API's
// uploadFile (pipeline.UploadLinker) instead of the bucket.
const LinkGreenAPI = "greenapi"

// GreenConfig returns the Green API configuration, the token from the
// environment, the instance --account names if any; a timeout that does
// not parse is reported with Validate's errors.
func (s *Settings) GreenConfig(ev *Env) (greenapi.Config, error) {
	cfg := greenapi.Config{
		APIURL:     s.GreenURL,
		MediaURL:   s.MediaURL,
		IDInstance: s.Instance,
		Token:      ev.Str(GreenTokenEnv, ""),
	}
	var errs []error
	if err := s.applyAccount(&cfg, ev); err != nil {
		return cfg, err
	}
	var err error
	if cfg.HTTPClient, err = s.greenClient(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// greenClient is the HTTP client --greenapi-timeout asks for; nil (the
// client's default) when it is not set.
func (s *Settings) greenClient() (*http.Client, error) {
	if s.GreenTimeout == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(s.GreenTimeout)
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("greenapi: timeout %q is not a positive duration like 30s (set MEDIAPREP_GREENAPI_TIMEOUT)", s.GreenTimeout)
	}
	return &http.Client{Timeout: d}, nil
}

// StorageConfig returns the storage configuration; values that do not
// parse are reported with Validate's errors.
func (s *Settings) StorageConfig() (storage.Config, error) {
	cfg := storage.NewDefaultConfig()
	var errs []error
	cfg.Endpoint, cfg.Bucket = s.Endpoint, s.Bucket
	if s.Region != "" {
		cfg.Region = s.Region
	}
	if s.Prefix != "" {
		cfg.Prefix = s.Prefix
	}
	if s.PathStyle != "" {
		b, err := strconv.ParseBool(s.PathStyle)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage: path style %q is not true or false (set MEDIAPREP_S3_PATH_STYLE)", s.PathStyle))
		}
		cfg.PathStyle = b
	}
	if s.LinkMode != "" && s.LinkMode != LinkGreenAPI {
		cfg.LinkMode = storage.LinkMode(s.LinkMode)
	}
	if s.LinkTTL != "" {
		d, err := time.ParseDuration(s.LinkTTL)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage: link TTL %q is not a duration like 72h (set MEDIAPREP_LINK_TTL)", s.LinkTTL))
		} else {
			cfg.LinkTTL = d
		}
	}
	cfg.PublicBaseURL = s.PublicBaseURL
	if len(errs) == 0 {
		return cfg, cfg.Validate()
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// ApplyLimits sets the media limits given into cfg; values that do not
// parse are reported all at once (ranges are transcode.Config.Validate's).
func (s *Settings) ApplyLimits(cfg *transcode.Config) error {
	var errs []error
	bad := func(env, v, want string) {
		errs = append(errs, fmt.Errorf("transcode: %q is not %s (set %s)", v, want, env))
	}
	whole := func(env, v string, dst *int64) {
		if v == "" {
			return
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			bad(env, v, "a whole number")
			return
		}
		*dst = n
	}
	whole("MEDIAPREP_MAX_PIXELS", s.MaxPixels, &cfg.MaxPixels)
	whole("MEDIAPREP_MAX_VIDEO_PIXELS", s.MaxVideoPixels, &cfg.MaxVideoPixels)
	var ch, rate = int64(cfg.MaxAudioChannels), int64(cfg.MaxSampleRate)
	whole("MEDIAPREP_MAX_AUDIO_CHANNELS", s.MaxAudioChannels, &ch)
	whole("MEDIAPREP_MAX_SAMPLE_RATE", s.MaxSampleRate, &rate)
	cfg.MaxAudioChannels, cfg.MaxSampleRate = int(ch), int(rate)
	if s.MaxDecodedBytes != "" {
		if n, err := ParseSize(s.MaxDecodedBytes); err != nil {
			bad("MEDIAPREP_MAX_DECODED_BYTES", s.MaxDecodedBytes, "a size like 256MiB")
		} else {
			cfg.MaxDecodedBytes = n
		}
	}
	if s.MaxFrameRate != "" {
		if f, err := strconv.ParseFloat(s.MaxFrameRate, 64); err != nil {
			bad("MEDIAPREP_MAX_FRAME_RATE", s.MaxFrameRate, "a number")
		} else {
			cfg.MaxFrameRate = f
		}
	}
	if s.MaxDuration != "" {
		if d, err := time.ParseDuration(s.MaxDuration); err != nil {
			bad("MEDIAPREP_MAX_DURATION", s.MaxDuration, "a duration like 4h")
		} else {
			cfg.MaxDuration = d
		}
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// LoadAccounts reads the accounts file MEDIAPREP_ACCOUNTS_FILE names, with
// the single-instance settings as the account "default" when they are set;
// all problems at once. No file: nil.
func (s *Settings) LoadAccounts(ev *Env) (*accounts.Set, error) {
	if !ev.Set(AccountsFileEnv) {
		return nil, nil
	}
	return accounts.Load(accounts.Config{
		File: ev.Str(AccountsFileEnv, ""),
		Default: accounts.Account{APIURL: s.GreenURL, MediaURL: s.MediaURL, IDInstance: s.Instance,
			Token: ev.Str(GreenTokenEnv, "")},
		LookupEnv: func(name string) (string, bool) { return ev.Str(name, ""), ev.Set(name) },
	})
}

// applyAccount points cfg at --account's instance, when one other than
// "default" is given: an unknown name is an error listing the known ones.
func (s *Settings) applyAccount(cfg *greenapi.Config, ev *Env) error {
	if s.Account == "" || s.Account == accounts.Default {
		return nil
	}
	set, err := s.LoadAccounts(ev)
	switch {
	case err != nil:
		return err
	case set == nil:
		return fmt.Errorf("--account %s: set %s to the accounts file that names it", s.Account, AccountsFileEnv)
	}
	a, ok := set.Get(s.Account)
	if !ok {
		return fmt.Errorf("unknown_account: --account %s: %s names %v", s.Account, ev.Str(AccountsFileEnv, ""), set.Names())
	}
	cfg.APIURL, cfg.MediaURL, cfg.IDInstance, cfg.Token = a.APIURL, a.MediaURL, a.IDInstance, a.Token
	return nil
}
