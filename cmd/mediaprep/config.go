package main

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// settings are the Green API and storage settings of post and batch: read
// from the environment, then overridden by flags.
type settings struct {
	greenURL, instance string
	mediaURL           string
	greenTimeout       string
	endpoint, bucket   string
	region, prefix     string
	pathStyle          string
	linkMode, linkTTL  string
	publicBaseURL      string
	// Limits of the media a preparation accepts (transcode.Config).
	maxPixels, maxDecodedBytes, maxVideoPixels string
	maxFrameRate, maxDuration                  string
	maxAudioChannels, maxSampleRate            string
}

// env names, in the order README lists them.
var settingEnv = []struct {
	name, flag, usage string
	field             func(*settings) *string
}{
	{"MEDIAPREP_GREENAPI_URL", "greenapi-url", "Green API host (default " + greenapi.DefaultAPIURL + ")", func(s *settings) *string { return &s.greenURL }},
	{"MEDIAPREP_GREENAPI_MEDIA_URL", "greenapi-media-url", "Green API media host for uploadFile (default: from the API host, e.g. https://media.green-api.com)", func(s *settings) *string { return &s.mediaURL }},
	{"MEDIAPREP_GREENAPI_INSTANCE", "instance", "Green API idInstance", func(s *settings) *string { return &s.instance }},
	{"MEDIAPREP_GREENAPI_TIMEOUT", "greenapi-timeout", "deadline of one Green API request (default 30s)", func(s *settings) *string { return &s.greenTimeout }},
	{"MEDIAPREP_S3_ENDPOINT", "s3-endpoint", "S3 endpoint URL (empty: AWS S3)", func(s *settings) *string { return &s.endpoint }},
	{"MEDIAPREP_S3_BUCKET", "bucket", "bucket the prepared files go to", func(s *settings) *string { return &s.bucket }},
	{"MEDIAPREP_S3_REGION", "region", "S3 region (default us-east-1)", func(s *settings) *string { return &s.region }},
	{"MEDIAPREP_S3_PREFIX", "prefix", "key prefix (default statuses)", func(s *settings) *string { return &s.prefix }},
	{"MEDIAPREP_S3_PATH_STYLE", "path-style", "path-style S3 addressing: true for MinIO, versitygw, Ceph", func(s *settings) *string { return &s.pathStyle }},
	{"MEDIAPREP_LINK_MODE", "link-mode", "presign, public or greenapi (uploadFile); default presign with a bucket, else greenapi when Green API credentials are set", func(s *settings) *string { return &s.linkMode }},
	{"MEDIAPREP_LINK_TTL", "link-ttl", "life of a presigned link, more than 24h, at most 168h (default 72h)", func(s *settings) *string { return &s.linkTTL }},
	{"MEDIAPREP_PUBLIC_BASE_URL", "public-base-url", "base URL of public links (link mode public)", func(s *settings) *string { return &s.publicBaseURL }},
	{"MEDIAPREP_MAX_PIXELS", "max-pixels", "pictures with more pixels are refused before decoding (default 64000000)", func(s *settings) *string { return &s.maxPixels }},
	{"MEDIAPREP_MAX_DECODED_BYTES", "max-decoded-bytes", "pictures taking more memory decoded are refused, e.g. 256MiB (default 256MiB)", func(s *settings) *string { return &s.maxDecodedBytes }},
	{"MEDIAPREP_MAX_VIDEO_PIXELS", "max-video-pixels", "videos (animated GIFs) with larger frames are refused (default 35389440, 8192x4320)", func(s *settings) *string { return &s.maxVideoPixels }},
	{"MEDIAPREP_MAX_FRAME_RATE", "max-frame-rate", "videos declaring more frames a second are refused (default 480)", func(s *settings) *string { return &s.maxFrameRate }},
	{"MEDIAPREP_MAX_DURATION", "max-duration", "inputs declaring a longer duration are refused (default 4h)", func(s *settings) *string { return &s.maxDuration }},
	{"MEDIAPREP_MAX_AUDIO_CHANNELS", "max-audio-channels", "audio with more channels is refused (default 16)", func(s *settings) *string { return &s.maxAudioChannels }},
	{"MEDIAPREP_MAX_SAMPLE_RATE", "max-sample-rate", "audio with a higher sample rate (Hz) is refused (default 384000)", func(s *settings) *string { return &s.maxSampleRate }},
}

// limitEnv names the settings of media limits, for the commands that only
// prepare.
var limitEnv = []string{"MEDIAPREP_MAX_PIXELS", "MEDIAPREP_MAX_DECODED_BYTES", "MEDIAPREP_MAX_VIDEO_PIXELS",
	"MEDIAPREP_MAX_FRAME_RATE", "MEDIAPREP_MAX_DURATION", "MEDIAPREP_MAX_AUDIO_CHANNELS", "MEDIAPREP_MAX_SAMPLE_RATE"}

// applyLimits sets the media limits given into cfg; values that do not
// parse are reported all at once (ranges are transcode.Config.Validate's).
func (s *settings) applyLimits(cfg *transcode.Config) error {
	var errs []error
	bad := func(env, v, want string) {
		errs = append(errs, fmt.Errorf("transcode: %q is not %s (set %s)", v, want, env))
	}
	num := func(env, v string, dst *int64) {
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
	num("MEDIAPREP_MAX_PIXELS", s.maxPixels, &cfg.MaxPixels)
	num("MEDIAPREP_MAX_VIDEO_PIXELS", s.maxVideoPixels, &cfg.MaxVideoPixels)
	var ch, rate = int64(cfg.MaxAudioChannels), int64(cfg.MaxSampleRate)
	num("MEDIAPREP_MAX_AUDIO_CHANNELS", s.maxAudioChannels, &ch)
	num("MEDIAPREP_MAX_SAMPLE_RATE", s.maxSampleRate, &rate)
	cfg.MaxAudioChannels, cfg.MaxSampleRate = int(ch), int(rate)
	if s.maxDecodedBytes != "" {
		if n, err := parseSize(s.maxDecodedBytes); err != nil {
			bad("MEDIAPREP_MAX_DECODED_BYTES", s.maxDecodedBytes, "a size like 256MiB")
		} else {
			cfg.MaxDecodedBytes = n
		}
	}
	if s.maxFrameRate != "" {
		if f, err := strconv.ParseFloat(s.maxFrameRate, 64); err != nil {
			bad("MEDIAPREP_MAX_FRAME_RATE", s.maxFrameRate, "a number")
		} else {
			cfg.MaxFrameRate = f
		}
	}
	if s.maxDuration != "" {
		if d, err := time.ParseDuration(s.maxDuration); err != nil {
			bad("MEDIAPREP_MAX_DURATION", s.maxDuration, "a duration like 4h")
		} else {
			cfg.MaxDuration = d
		}
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// linkGreenAPI is the link mode whose links come from Green API's
// uploadFile (pipeline.UploadLinker) instead of the bucket.
const linkGreenAPI = "greenapi"

// addSettingFlags adds a flag per setting (only those whose variables are
// named in only, when given); its default is the environment variable's
// value. The token has no flag: a flag would show in ps.
func addSettingFlags(fl *pflag.FlagSet, s *settings, ev *env, only ...string) {
	for _, e := range settingEnv {
		if len(only) == 0 || slices.Contains(only, e.name) {
			fl.StringVar(e.field(s), e.flag, ev.str(e.name, ""), e.usage+" ["+e.name+"]")
		}
	}
}

// greenConfig returns the Green API configuration, token from the
// environment; a timeout that does not parse is returned as an error.
func (s *settings) greenConfig(ev *env) (greenapi.Config, error) {
	cfg := greenapi.Config{
		APIURL:     s.greenURL,
		MediaURL:   s.mediaURL,
		IDInstance: s.instance,
		Token:      ev.str("MEDIAPREP_GREENAPI_TOKEN", ""),
	}
	var errs []error
	if s.greenTimeout != "" {
		d, err := time.ParseDuration(s.greenTimeout)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("greenapi: timeout %q is not a positive duration like 30s (set MEDIAPREP_GREENAPI_TIMEOUT)", s.greenTimeout))
		} else {
			cfg.HTTPClient = &http.Client{Timeout: d}
		}
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// storageConfig returns the storage configuration; errors in values that do
// not parse are returned along with those of Validate.
func (s *settings) storageConfig() (storage.Config, error) {
	cfg := storage.NewDefaultConfig()
	var errs []error
	cfg.Endpoint, cfg.Bucket = s.endpoint, s.bucket
	if s.region != "" {
		cfg.Region = s.region
	}
	if s.prefix != "" {
		cfg.Prefix = s.prefix
	}
	if s.pathStyle != "" {
		b, err := strconv.ParseBool(s.pathStyle)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage: path style %q is not true or false (set MEDIAPREP_S3_PATH_STYLE)", s.pathStyle))
		}
		cfg.PathStyle = b
	}
	if s.linkMode != "" && s.linkMode != linkGreenAPI {
		cfg.LinkMode = storage.LinkMode(s.linkMode)
	}
	if s.linkTTL != "" {
		d, err := time.ParseDuration(s.linkTTL)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage: link TTL %q is not a duration like 72h (set MEDIAPREP_LINK_TTL)", s.linkTTL))
		} else {
			cfg.LinkTTL = d
		}
	}
	cfg.PublicBaseURL = s.publicBaseURL
	if len(errs) == 0 {
		return cfg, cfg.Validate()
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}
