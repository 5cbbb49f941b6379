package greenapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by New for zero Config fields.
const (
	DefaultAPIURL        = "https://api.green-api.com"
	DefaultTimeout       = 30 * time.Second
	DefaultMaxAttempts   = 5
	DefaultRatePerSecond = 5.0
	// DefaultUploadTimeout bounds one uploadFile attempt: 100 MB at about
	// 1.4 Mbit/s.
	DefaultUploadTimeout = 10 * time.Minute
)

// Config configures a Client. The zero value of every optional field means
// its default. Only cmd/ reads the environment; the names mentioned in
// Validate's messages are the ones it uses.
type Config struct {
	APIURL string // Green API host; default DefaultAPIURL ("https://api.green-api.com")
	// MediaURL is the host of uploadFile (the instance's mediaUrl in the
	// console). Default: derived from APIURL, see DefaultMediaURL.
	MediaURL   string
	IDInstance string // idInstance, digits; required
	Token      string // apiTokenInstance; required; never logged or printed
	// HTTPClient sends the requests; default &http.Client{Timeout: 30 * time.Second}.
	// Its Timeout bounds one attempt.
	HTTPClient *http.Client
	// MaxAttempts is the number of requests made for one call when the
	// failures are retryable; default 5. 1 means no retries.
	MaxAttempts int
	// RatePerSecond caps the three status send methods together, per
	// instance (one Client per instance); default 5, Green API's limit.
	RatePerSecond float64
	// SendLimiter, when set, is waited on as well before every send
	// request: a limiter shared by every process posting for the same
	// instance (queue.Limiter), so that many workers together keep to
	// RatePerSecond too.
	SendLimiter Waiter
	// GetLimiter, when set, is waited on as well before every
	// getOutgoingStatuses and getStatusStatistic request: the instance's
	// 1 request/second shared by every process reading its statuses.
	GetLimiter Waiter
	// DeleteLimiter, when set, is waited on as well before every
	// deleteStatus request: the instance's 10 requests/second shared by
	// every process deleting statuses (DELETE /v1/statuses/{id} on any
	// node).
	DeleteLimiter Waiter
	// UploadTimeout bounds one uploadFile attempt (the whole file is
	// sent in it); default DefaultUploadTimeout (10 min).
	UploadTimeout time.Duration
	Logger        *slog.Logger // debug lines per request; default discards
}

// Waiter grants permission to send; Wait blocks until the caller may, or
// returns ctx's error.
type Waiter interface {
	Wait(ctx context.Context) error
}

// String prints the Config with the token redacted, so %v and %+v are safe.
func (c Config) String() string {
	tok := ""
	if c.Token != "" {
		tok = redacted
	}
	return fmt.Sprintf("{APIURL:%s MediaURL:%s IDInstance:%s Token:%s MaxAttempts:%d RatePerSecond:%g}",
		Redact(c.APIURL, c.Token), Redact(c.MediaURL, c.Token), c.IDInstance, tok, c.MaxAttempts, c.RatePerSecond)
}

// GoString is like String, for %#v.
func (c Config) GoString() string { return "greenapi.Config" + c.String() }

// LogValue keeps the token out of slog output.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("api_url", Redact(c.APIURL, c.Token)),
		slog.String("media_url", Redact(c.MediaURL, c.Token)),
		slog.String("id_instance", c.IDInstance),
	)
}

// Validate reports every problem in c at once (errors.Join), each wrapping
// ErrConfig and saying what to set. Zero optional fields are fine.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("APIURL %q is not an absolute http(s) URL; set MEDIAPREP_GREENAPI_URL (default %s)",
				Redact(c.APIURL, c.Token), DefaultAPIURL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad("APIURL %q must not have a query, fragment or user info; set MEDIAPREP_GREENAPI_URL",
				Redact(u.Redacted(), c.Token))
		}
	}
	if c.MediaURL != "" {
		u, err := url.Parse(c.MediaURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("MediaURL %q is not an absolute http(s) URL; set MEDIAPREP_GREENAPI_MEDIA_URL (default: from the API URL)",
				Redact(c.MediaURL, c.Token))
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad("MediaURL %q must not have a query, fragment or user info; set MEDIAPREP_GREENAPI_MEDIA_URL",
				Redact(u.Redacted(), c.Token))
		}
	}
	if c.UploadTimeout < 0 {
		bad("UploadTimeout %s is negative; use 0 for the default (%s)", c.UploadTimeout, DefaultUploadTimeout)
	}
	switch {
	case c.IDInstance == "":
		bad("IDInstance is empty; set MEDIAPREP_GREENAPI_INSTANCE to the instance's idInstance")
	case !isDigits(c.IDInstance):
		bad("IDInstance %q must be digits only; set MEDIAPREP_GREENAPI_INSTANCE", Redact(c.IDInstance, c.Token))
	}
	switch {
	case c.Token == "":
		bad("Token is empty; set MEDIAPREP_GREENAPI_TOKEN to the instance's apiTokenInstance")
	case strings.ContainsAny(c.Token, "/?#% \t\r\n"):
		bad("Token contains a character an apiTokenInstance never has (/?#%% or space); check MEDIAPREP_GREENAPI_TOKEN")
	}
	if c.MaxAttempts < 0 {
		bad("MaxAttempts %d is negative; use 0 for the default (%d) or 1 for no retries", c.MaxAttempts, DefaultMaxAttempts)
	}
	if c.RatePerSecond < 0 || math.IsNaN(c.RatePerSecond) || math.IsInf(c.RatePerSecond, 0) {
		bad("RatePerSecond %v must be a positive number; use 0 for the default (%g)", c.RatePerSecond, DefaultRatePerSecond)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero fields filled in.
func (c Config) withDefaults() Config {
	c.APIURL = strings.TrimRight(cmp.Or(c.APIURL, DefaultAPIURL), "/")
	c.MediaURL = strings.TrimRight(cmp.Or(c.MediaURL, DefaultMediaURL(c.APIURL)), "/")
	c.UploadTimeout = cmp.Or(c.UploadTimeout, DefaultUploadTimeout)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.RatePerSecond = cmp.Or(c.RatePerSecond, DefaultRatePerSecond)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultMediaURL is the uploadFile host that goes with apiURL, following
// the pattern of the hosts Green API's console gives an instance:
// https://api.green-api.com → https://media.green-api.com, and
// https://1101.api.green-api.com → https://1101.media.green-api.com. Any
// other host (a proxy, a stand-in) is its own media host. Set
// MEDIAPREP_GREENAPI_MEDIA_URL to the console's mediaUrl when it differs.
func DefaultMediaURL(apiURL string) string {
	u, err := url.Parse(strings.TrimRight(apiURL, "/"))
	if err != nil || u.Host == "" {
		return apiURL
	}
	host := u.Hostname()
	switch {
	case host == "api.green-api.com":
		host = "media.green-api.com"
	case strings.HasSuffix(host, ".api.green-api.com"):
		host = strings.TrimSuffix(host, ".api.green-api.com") + ".media.green-api.com"
	default:
		return u.String()
	}
	if p := u.Port(); p != "" {
		host += ":" + p
	}
	u.Host = host
	return u.String()
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
