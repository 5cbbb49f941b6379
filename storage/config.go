package storage

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// LinkMode says how links to stored objects are made.
type LinkMode string

// Link modes.
const (
	LinkPresign LinkMode = "presign" // a presigned GET that expires after LinkTTL
	LinkPublic  LinkMode = "public"  // PublicBaseURL + "/" + key, for public buckets and CDNs
)

// Limits of a presigned link's life: it must outlive Green API's 24-hour
// queue, and S3 refuses more than seven days.
const (
	MinLinkTTL = 24 * time.Hour
	MaxLinkTTL = 7 * 24 * time.Hour
)

// Config configures a Store. The zero value is not usable: Bucket is
// required; NewDefaultConfig fills in the rest.
type Config struct {
	Endpoint      string        // S3 endpoint URL; empty means AWS S3 for Region
	Bucket        string        // required
	Region        string        // default "us-east-1"
	Prefix        string        // key prefix, default "statuses"
	PathStyle     bool          // path-style addressing (MinIO, versitygw, Ceph); default false
	LinkMode      LinkMode      // default LinkPresign
	LinkTTL       time.Duration // life of a presigned link; default 72 h, more than 24 h and at most 7 days
	PublicBaseURL string        // required with LinkPublic: the URL the bucket's objects are served under
	CacheControl  string        // default "public, max-age=604800, immutable" (keys are content-addressed)
	PartSize      int64         // multipart part size in bytes; default 8 MiB, at least 5 MiB
	Concurrency   int           // parts uploaded at once; default 4

	// Credentials overrides the standard AWS chain (environment, shared
	// files, instance roles) when set.
	Credentials aws.CredentialsProvider
}

// NewDefaultConfig returns the defaults; Bucket is still to be set.
func NewDefaultConfig() Config {
	return Config{
		Region:       "us-east-1",
		Prefix:       "statuses",
		LinkMode:     LinkPresign,
		LinkTTL:      72 * time.Hour,
		CacheControl: "public, max-age=604800, immutable",
		PartSize:     8 << 20,
		Concurrency:  4,
	}
}

// Validate reports every bad setting at once, each with the environment
// variable that sets it (package config reads them).
func (c Config) Validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("storage: %s (set %s)", fmt.Sprintf(format, args...), env))
	}
	if c.Bucket == "" {
		bad("MEDIAPREP_S3_BUCKET", "no bucket")
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("MEDIAPREP_S3_ENDPOINT", "endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	if c.Region == "" {
		bad("MEDIAPREP_S3_REGION", "no region")
	}
	if strings.Trim(c.Prefix, "/") != c.Prefix || !plainKey(c.Prefix) {
		bad("MEDIAPREP_S3_PREFIX", "prefix %q must be plain ASCII (letters, digits, - _ . /) without a leading or trailing slash", c.Prefix)
	}
	switch c.LinkMode {
	case LinkPresign:
		if c.LinkTTL <= MinLinkTTL || c.LinkTTL > MaxLinkTTL {
			bad("MEDIAPREP_LINK_TTL", "link TTL %s must be more than %s (Green API keeps statuses queued for 24 h) and at most %s (S3's limit)", c.LinkTTL, MinLinkTTL, MaxLinkTTL)
		}
	case LinkPublic:
		u, err := url.Parse(c.PublicBaseURL)
		if c.PublicBaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("MEDIAPREP_PUBLIC_BASE_URL", "public link mode needs an http(s) base URL without a query, got %q", c.PublicBaseURL)
		}
	default:
		bad("MEDIAPREP_LINK_MODE", "link mode %q is not presign or public", c.LinkMode)
	}
	if c.PartSize < 5<<20 {
		bad("MEDIAPREP_S3_PART_SIZE", "part size %d is below S3's 5 MiB minimum", c.PartSize)
	}
	if c.Concurrency < 1 {
		bad("MEDIAPREP_S3_CONCURRENCY", "concurrency %d is below 1", c.Concurrency)
	}
	return errors.Join(errs...)
}

// plainKey reports whether s holds only the characters Green API copes with
// in a link: ASCII letters, digits, '-', '_', '.', '/'.
func plainKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return !strings.Contains(s, "//") && !strings.Contains(s, "..")
}
