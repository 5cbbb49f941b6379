package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

func TestConfigValidate(t *testing.T) {
	good := storage.NewDefaultConfig()
	good.Bucket = "media"
	tests := []struct {
		name string
		edit func(*storage.Config)
		want []string // substrings of the error; none means valid
	}{
		{"defaults with a bucket", func(*storage.Config) {}, nil},
		{"no bucket", func(c *storage.Config) { c.Bucket = "" }, []string{"MEDIAPREP_S3_BUCKET"}},
		{"ttl of exactly 24h", func(c *storage.Config) { c.LinkTTL = 24 * time.Hour }, []string{"MEDIAPREP_LINK_TTL"}},
		{"ttl over 7 days", func(c *storage.Config) { c.LinkTTL = 8 * 24 * time.Hour }, []string{"MEDIAPREP_LINK_TTL"}},
		{"ttl of 7 days", func(c *storage.Config) { c.LinkTTL = 7 * 24 * time.Hour }, nil},
		{"public without base", func(c *storage.Config) { c.LinkMode = storage.LinkPublic }, []string{"MEDIAPREP_PUBLIC_BASE_URL"}},
		{"public with base", func(c *storage.Config) {
			c.LinkMode = storage.LinkPublic
			c.PublicBaseURL = "https://cdn.example.com/m"
		}, nil},
		{"unknown mode", func(c *storage.Config) { c.LinkMode = "signed" }, []string{"MEDIAPREP_LINK_MODE"}},
		{"prefix with space", func(c *storage.Config) { c.Prefix = "my statuses" }, []string{"MEDIAPREP_S3_PREFIX"}},
		{"endpoint not a URL", func(c *storage.Config) { c.Endpoint = "localhost:9000" }, []string{"MEDIAPREP_S3_ENDPOINT"}},
		{"every problem at once", func(c *storage.Config) {
			c.Bucket, c.Endpoint, c.LinkTTL = "", "ftp://x", time.Hour
		}, []string{"MEDIAPREP_S3_BUCKET", "MEDIAPREP_S3_ENDPOINT", "MEDIAPREP_LINK_TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.edit(&cfg)
			testutil.WantErrorMentions(t, cfg.Validate(), tt.want...)
		})
	}
}

func TestPutLookupLink(t *testing.T) {
	st, srv := newStore(t)
	if err := st.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		size  int
		ctype string
		file  string
		size0 bool // upload with an unknown size
	}{
		{"small picture", 40 << 10, "image/jpeg", "пляж.jpg", false},
		{"multipart video", 17<<20 + 123, "video/mp4", "clip.mp4", false},
		{"multipart of unknown size", 11 << 20, "audio/mpeg", "song.mp3", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := make([]byte, tt.size)
			rand.Read(data)
			sum := sha256.Sum256(data)
			key := st.Key(hexOf(sum[:]), "x", ".bin")
			if _, ok, err := st.Lookup(t.Context(), key); err != nil || ok {
				t.Fatalf("Lookup before Put = %v, %v; want absent", ok, err)
			}
			size := int64(tt.size)
			if tt.size0 {
				size = -1
			}
			// A plain reader (not a file or bytes.Reader): the upload must stream.
			body := io.MultiReader(bytes.NewReader(data))
			if _, err := st.Put(t.Context(), key, body, storage.Object{
				ContentType: tt.ctype, Size: size, FileName: tt.file,
				Metadata: map[string]string{"kind": "test"},
			}); err != nil {
				t.Fatal(err)
			}
			obj, ok, err := st.Lookup(t.Context(), key)
			if err != nil || !ok {
				t.Fatalf("Lookup after Put = %v, %v", ok, err)
			}
			if obj.ContentType != tt.ctype || obj.Size != int64(tt.size) || obj.Metadata["kind"] != "test" || obj.FileName != tt.file {
				t.Errorf("Lookup = %+v", obj)
			}

			link, err := st.Link(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(link.URL)
			if got := u.Query().Get("X-Amz-Expires"); got != "259200" {
				t.Errorf("presigned for %s seconds, want 259200 (72 h)", got)
			}
			if d := time.Until(link.Expires); d < 71*time.Hour || d > 73*time.Hour {
				t.Errorf("Expires in %s", d)
			}
			resp, err := http.Get(link.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || sha256.Sum256(got) != sum {
				t.Fatalf("GET = %s, %d bytes, content equal %v", resp.Status, len(got), sha256.Sum256(got) == sum)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type = %q", ct)
			}
			if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") {
				t.Errorf("Content-Disposition = %q", cd)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != srv.Config().CacheControl {
				t.Errorf("Cache-Control = %q", cc)
			}
			if err := (storage.Checker{}).CheckLink(t.Context(), link.URL, tt.ctype); err != nil {
				t.Errorf("CheckLink: %v", err)
			}
			if err := (storage.Checker{}).CheckLink(t.Context(), link.URL, "video/quicktime"); !errors.Is(err, storage.ErrLinkRejected) {
				t.Errorf("CheckLink with the wrong type = %v", err)
			}
		})
	}
}

// errReader fails after n bytes, like a client that drops its upload.
type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("client went away")
	}
	p = p[:min(len(p), r.n)]
	clear(p)
	r.n -= len(p)
	return len(p), nil
}

func TestPutFailureLeavesNothing(t *testing.T) {
	st, _ := newStore(t)
	for _, n := range []int{1 << 20, 12 << 20} { // in the first part; after two parts
		key := st.Key("0123456789abcdef", "broken", ".mp4")
		_, err := st.Put(t.Context(), key, &errReader{n: n}, storage.Object{ContentType: "video/mp4", Size: -1})
		if err == nil || storage.CodeOf(err) != storage.CodeFailed {
			t.Fatalf("Put of a failing reader (%d bytes) = %v, code %q", n, err, storage.CodeOf(err))
		}
		if _, ok, err := st.Lookup(t.Context(), key); ok || err != nil {
			t.Errorf("after a failed Put of %d bytes: Lookup = %v, %v", n, ok, err)
		}
	}
}

func TestStorageDown(t *testing.T) {
	srv := s3test.Start(t)
	st, err := storage.New(t.Context(), srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	err = st.Ping(t.Context())
	if storage.CodeOf(err) != storage.CodeFailed {
		t.Fatalf("Ping with the server down = %v", err)
	}
	srv.Restart()
	if err := st.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
}

func TestPublicLink(t *testing.T) {
	cfg := storage.NewDefaultConfig()
	cfg.Bucket = "media"
	cfg.LinkMode = storage.LinkPublic
	cfg.PublicBaseURL = "https://cdn.example.com/m/"
	st, err := storage.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := st.Key("0123456789abcdef0123", "beach", ".jpg")
	if key != "statuses/0123456789abcdef-beach.jpg" {
		t.Errorf("Key = %q", key)
	}
	link, err := st.Link(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if link.URL != "https://cdn.example.com/m/statuses/0123456789abcdef-beach.jpg" || !link.Expires.IsZero() {
		t.Errorf("Link = %+v", link)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// expiring are credentials that expire at a set time, like those of an
// instance role or an SSO session.
type expiring time.Duration

func (e expiring) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "k", SecretAccessKey: "s", CanExpire: true, Expires: time.Now().Add(time.Duration(e))}, nil
}

func TestPresignWithExpiringCredentials(t *testing.T) {
	for _, tc := range []struct {
		life    time.Duration
		refused bool
	}{
		{time.Hour, true},       // dies inside Green API's 24 h queue
		{48 * time.Hour, false}, // outlives the queue: the link's expiry is cut to it
		{30 * 24 * time.Hour, false},
	} {
		cfg := storage.NewDefaultConfig()
		cfg.Bucket, cfg.Endpoint, cfg.PathStyle = "media", "http://127.0.0.1:1", true
		cfg.Credentials = expiring(tc.life)
		st, err := storage.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		link, err := st.Link(t.Context(), "statuses/x.jpg")
		if tc.refused {
			if storage.CodeOf(err) != storage.CodeFailed || !strings.Contains(fmt.Sprint(err), "24-hour") {
				t.Errorf("credentials living %s: Link = %+v, %v; want refused", tc.life, link, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("credentials living %s: %v", tc.life, err)
		}
		want := min(tc.life, cfg.LinkTTL)
		if d := time.Until(link.Expires); d > want || d < want-time.Minute {
			t.Errorf("credentials living %s: link expires in %s, want %s", tc.life, d, want)
		}
	}
}
