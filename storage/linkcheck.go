package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Checker fetches links the way Green API will before a status is posted.
// The zero value uses a client with a 20-second timeout.
type Checker struct {
	Client *http.Client
}

// CheckLink fetches link with GET and "Range: bytes=0-0" (falling back to
// HEAD when the server refuses that) and returns an error wrapping
// ErrLinkRejected unless it answers 200 or 206 with contentType (parameters
// ignored) and no "attachment" disposition. Green API accepts a download
// link with HTTP 200 and then never delivers the status, so such a link
// must not be posted. (The HEAD fallback is for public links: a presigned
// GET link's signature covers the method, so HEAD never passes there.)
func (c Checker) CheckLink(ctx context.Context, link, contentType string) error {
	hc := c.Client
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	where := redactQuery(link)
	resp, err := fetch(ctx, hc, http.MethodGet, link)
	if err == nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented ||
		resp.StatusCode == http.StatusRequestedRangeNotSatisfiable) {
		resp, err = fetch(ctx, hc, http.MethodHead, link)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return unreachable{fmt.Errorf("%w: %s: %s", ErrLinkRejected, where, stripURL(err, link, where))}
	}
	if resp.StatusCode >= 500 {
		return unreachable{fmt.Errorf("%w: %s answers %s", ErrLinkRejected, where, resp.Status)}
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("%w: %s answers %s", ErrLinkRejected, where, resp.Status)
	}
	got := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(got)
	want, _, _ := mime.ParseMediaType(contentType)
	if mt == "" || mt != want || mt == "application/octet-stream" || mt == "binary/octet-stream" {
		why := ""
		if mt == "application/octet-stream" || mt == "binary/octet-stream" {
			why = " (a download link: Green API accepts it and never delivers the status)"
		}
		return fmt.Errorf("%w: %s is served as %q, want %q%s", ErrLinkRejected, where, got, contentType, why)
	}
	if d, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); d == "attachment" {
		return fmt.Errorf("%w: %s is served with Content-Disposition: attachment (a download link: Green API accepts it and never delivers the status)", ErrLinkRejected, where)
	}
	return nil
}

// answer is what CheckLink reads of a response: fetch has drained and
// closed its body.
type answer struct {
	StatusCode int
	Status     string
	Header     http.Header
}

func fetch(ctx context.Context, hc *http.Client, method, link string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, link, nil)
	if err != nil {
		return answer{}, err
	}
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-0")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // a drained body keeps the connection reusable
	resp.Body.Close()
	return answer{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header}, nil
}

// redactQuery drops the query of a link (a presigned link's signature) for
// messages.
func redactQuery(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return "link"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// stripURL returns err's text with the full link replaced by its redacted
// form (net/http quotes the whole URL in its errors).
func stripURL(err error, link, redacted string) string {
	s := err.Error()
	s = strings.ReplaceAll(s, link, redacted)
	s = strings.ReplaceAll(s, fmt.Sprintf("%q", link), redacted)
	return s
}

// ErrLinkUnreachable marks a link check that failed because the server
// could not be reached or answered 5xx: worth trying again later, unlike
// a wrong type or a download link. Such errors are ErrLinkRejected too.
var ErrLinkUnreachable = errors.New("storage: link unreachable")

type unreachable struct{ error }

func (u unreachable) Unwrap() error        { return u.error }
func (u unreachable) Is(target error) bool { return target == ErrLinkUnreachable }
