package greenapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Per-instance limits of the methods other than the sends (Green API's
// documented rates).
const (
	deleteRate = 10.0
	getRate    = 1.0
)

// maxBody bounds how much of a response is read.
const maxBody = 16 << 20

// Client calls Green API's status methods for one instance. It is safe for
// concurrent use; its limiters are shared by all goroutines using it, so
// make one Client per instance.
type Client struct {
	cfg   Config
	base  string // APIURL + "/waInstance" + IDInstance
	media string // MediaURL + "/waInstance" + IDInstance
	log   *slog.Logger
	up    *http.Client // HTTPClient with UploadTimeout

	send, del, get *limiter // uploadFile has no documented limit, and none here

	// Retry timing; New sets the defaults, tests in this package shorten them.
	retryBase     time.Duration // first full-jitter backoff ceiling
	retryCap      time.Duration // largest backoff ceiling
	maxRetryAfter time.Duration // longest Retry-After honoured
}

// New validates cfg, fills in defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	up := *cfg.HTTPClient
	up.Timeout = cfg.UploadTimeout
	return &Client{
		cfg:           cfg,
		base:          cfg.APIURL + "/waInstance" + cfg.IDInstance,
		media:         cfg.MediaURL + "/waInstance" + cfg.IDInstance,
		log:           cfg.Logger,
		up:            &up,
		send:          newLimiter(cfg.RatePerSecond),
		del:           newLimiter(deleteRate),
		get:           newLimiter(getRate),
		retryBase:     500 * time.Millisecond,
		retryCap:      30 * time.Second,
		maxRetryAfter: 60 * time.Second,
	}, nil
}

// SendMediaStatus posts a picture or video status. It validates s first
// and never retries once the request may have reached Green API (see
// ErrOutcomeUnknown).
func (c *Client) SendMediaStatus(ctx context.Context, s MediaStatus) (Sent, error) {
	return c.sendStatus(ctx, s)
}

// SendVoiceStatus posts an audio status; see SendMediaStatus.
func (c *Client) SendVoiceStatus(ctx context.Context, s VoiceStatus) (Sent, error) {
	return c.sendStatus(ctx, s)
}

// SendTextStatus posts a text status; see SendMediaStatus.
func (c *Client) SendTextStatus(ctx context.Context, s TextStatus) (Sent, error) {
	return c.sendStatus(ctx, s)
}

func (c *Client) sendStatus(ctx context.Context, status any) (Sent, error) {
	method, body, err := sendBody(status)
	if err != nil {
		return Sent{}, c.redactInvalid(err)
	}
	var sent Sent
	err = c.do(ctx, call{
		method: method, httpMethod: http.MethodPost, body: body, lim: c.send, send: true, shared: c.cfg.SendLimiter,
		decode: func(b []byte) error {
			if err := json.Unmarshal(b, &sent); err != nil {
				return err
			}
			if sent.IDMessage == "" {
				return errors.New("no idMessage in the answer")
			}
			return nil
		},
	})
	return sent, err
}

// GetOutgoingStatuses lists the statuses the instance sent in the last
// minutes minutes (0: Green API's default, 1440). It is retried on
// timeouts like every GET.
func (c *Client) GetOutgoingStatuses(ctx context.Context, minutes int) ([]OutgoingStatus, error) {
	if minutes < 0 {
		return nil, invalid(MethodGetOutgoingStatuses, []problem{{"minutes", fmt.Sprintf("%d is negative", minutes)}})
	}
	var q url.Values
	if minutes > 0 {
		q = url.Values{"minutes": {strconv.Itoa(minutes)}}
	}
	var out []OutgoingStatus
	err := c.do(ctx, call{
		method: MethodGetOutgoingStatuses, httpMethod: http.MethodGet, query: q, lim: c.get, shared: c.cfg.GetLimiter,
		decode: func(b []byte) error { return json.Unmarshal(b, &out) },
	})
	return out, err
}

// GetStatusStatistic lists who received or saw the status idMessage.
func (c *Client) GetStatusStatistic(ctx context.Context, idMessage string) ([]StatusStatistic, error) {
	if err := checkID(MethodGetStatusStatistic, idMessage); err != nil {
		return nil, err
	}
	var out []StatusStatistic
	err := c.do(ctx, call{
		method: MethodGetStatusStatistic, httpMethod: http.MethodGet,
		query: url.Values{"idMessage": {idMessage}}, lim: c.get, shared: c.cfg.GetLimiter,
		decode: func(b []byte) error { return json.Unmarshal(b, &out) },
	})
	return out, err
}

// DeleteStatus deletes the status idMessage. Deleting is idempotent, so
// unlike the sends it is retried after a lost answer.
func (c *Client) DeleteStatus(ctx context.Context, idMessage string) error {
	if err := checkID(MethodDeleteStatus, idMessage); err != nil {
		return err
	}
	body, err := encode(struct {
		IDMessage string `json:"idMessage"`
	}{idMessage})
	if err != nil {
		return invalid(MethodDeleteStatus, []problem{{"idMessage", err.Error()}})
	}
	return c.do(ctx, call{
		method: MethodDeleteStatus, httpMethod: http.MethodPost, body: body, lim: c.del, shared: c.cfg.DeleteLimiter,
		decode: func([]byte) error { return nil },
	})
}

func checkID(method, id string) error {
	switch {
	case strings.TrimSpace(id) == "":
		return invalid(method, []problem{{"idMessage", "required"}})
	case strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return invalid(method, []problem{{"idMessage", "must not contain spaces or control characters"}})
	}
	return nil
}

// Request is what a call would send, for --dry-run output. Method is the
// HTTP method ("POST"); the Green API method is in URL, whose token is
// replaced by "<redacted>".
type Request struct {
	Method string          `json:"method"`
	URL    string          `json:"url"`
	Body   json.RawMessage `json:"body"`
}

// DryRun validates status like the real call and returns the request it
// would make, without sending anything. method is "sendMediaStatus",
// "sendVoiceStatus" or "sendTextStatus"; status the matching struct (or a
// pointer to it).
func (c *Client) DryRun(method string, status any) (Request, error) {
	m, body, err := sendBody(status)
	if m != method {
		return Request{}, &Error{Method: method, Code: CodeInvalidRequest, kind: ErrInvalid,
			Message: fmt.Sprintf("%T does not go with method %q", status, method)}
	}
	if err != nil {
		return Request{}, c.redactInvalid(err)
	}
	return Request{Method: http.MethodPost, URL: c.redact(c.url(method, nil)), Body: body}, nil
}

func (c *Client) url(method string, q url.Values) string {
	base := c.base
	if method == MethodUploadFile {
		base = c.media
	}
	u := base + "/" + method + "/" + url.PathEscape(c.cfg.Token)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (c *Client) redact(s string) string { return Redact(s, c.cfg.Token) }

// redactInvalid redacts a validation error's message: it quotes the
// caller's input, which could hold the token by mistake.
func (c *Client) redactInvalid(err error) error {
	if e := (*Error)(nil); errors.As(err, &e) {
		e.Message = c.redact(e.Message)
	}
	return err
}

// call describes one API call for do.
type call struct {
	method     string
	httpMethod string
	query      url.Values
	body       []byte
	lim        *limiter
	send       bool               // a status send: never retried once it may have reached the server
	decode     func([]byte) error // parses a 2xx body
	// stream, when set, is the body instead of body: opened afresh for
	// every attempt, size bytes, sent with header (Content-Type...).
	stream func() (io.ReadCloser, error)
	size   int64
	header http.Header
	shared Waiter // a limiter shared between processes, waited on too
}

// result is what one attempt got.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error // transport or body read error, raw (may hold the token)
	wrote  bool  // the whole request was written to the connection
}

// do runs k with retries. Every request, first or retry, waits for k.lim.
func (c *Client) do(ctx context.Context, k call) error {
	full := c.url(k.method, k.query)
	var last result
	for attempt := 1; ; attempt++ {
		if err := k.lim.wait(ctx); err != nil {
			return c.ctxError(ctx, k, last, attempt-1, false)
		}
		if k.shared != nil {
			if err := k.shared.Wait(ctx); err != nil {
				if ctx.Err() != nil {
					return c.ctxError(ctx, k, last, attempt-1, false)
				}
				// Nothing was sent: the shared limiter is unreachable.
				return &Error{Method: k.method, Code: CodeNetwork, Attempts: attempt - 1,
					Message: "shared rate limiter: " + c.redact(err.Error()), kind: ErrRetryExhausted, cause: redactErr(err, c.cfg.Token)}
			}
		}
		start := time.Now()
		r := c.attempt(ctx, k, full)
		c.logAttempt(ctx, k, full, r, attempt, time.Since(start))
		last = r

		var se *streamError
		if errors.As(r.err, &se) {
			return &Error{Method: k.method, Code: CodeInvalidRequest, Field: "file", Attempts: attempt - 1,
				Message: "reading the file: " + c.redact(se.err.Error()), kind: ErrInvalid, cause: redactErr(se.err, c.cfg.Token)}
		}
		switch {
		case r.err != nil:
			if ctx.Err() != nil {
				return c.ctxError(ctx, k, r, attempt, r.wrote)
			}
			if k.send && r.wrote {
				return &Error{Method: k.method, HTTPStatus: r.status, Code: CodeOutcomeUnknown, Attempts: attempt,
					Message: "the request reached Green API but no answer came back (" + c.redact(r.err.Error()) +
						"); the status may have been posted: check getOutgoingStatuses before sending it again",
					kind: ErrOutcomeUnknown, cause: redactErr(r.err, c.cfg.Token)}
			}
		case r.status/100 == 2:
			derr := k.decode(r.body)
			if derr == nil {
				return nil
			}
			e := &Error{Method: k.method, HTTPStatus: r.status, Attempts: attempt,
				cause: redactErr(derr, c.cfg.Token)}
			if k.send {
				e.Code, e.kind = CodeOutcomeUnknown, ErrOutcomeUnknown
				e.Message = "unreadable answer (" + c.redact(derr.Error()) + ": " + bodyText(r.body, c.cfg.Token) +
					"); the status may have been posted: check getOutgoingStatuses before sending it again"
			} else {
				e.Code, e.kind = CodeServerError, ErrPermanent
				e.Message = "unreadable answer (" + c.redact(derr.Error()) + "): " + bodyText(r.body, c.cfg.Token)
			}
			return e
		case k.send && r.status == http.StatusGatewayTimeout:
			// A gateway that timed out waiting for Green API: the request
			// went through, so the status may have been queued.
			return &Error{Method: k.method, HTTPStatus: r.status, Code: CodeOutcomeUnknown, Attempts: attempt,
				Message: "a gateway timed out waiting for Green API (HTTP 504); the status may have been posted: check getOutgoingStatuses before sending it again",
				kind:    ErrOutcomeUnknown}
		case !retryableStatus(r.status, r.body):
			return c.statusError(k.method, r, attempt, ErrPermanent)
		}

		if attempt >= c.cfg.MaxAttempts {
			return c.exhausted(k, r, attempt)
		}
		wait := c.backoff(attempt)
		if r.err == nil && (r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable) {
			if ra, ok := retryAfter(r.header.Get("Retry-After"), time.Now()); ok {
				wait = min(ra, c.maxRetryAfter)
			}
		}
		if err := sleep(ctx, wait); err != nil {
			return c.ctxError(ctx, k, r, attempt, false)
		}
	}
}

// attempt sends one request.
func (c *Client) attempt(ctx context.Context, k call, full string) result {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	}
	var body io.Reader
	if k.body != nil {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), k.httpMethod, full, body)
	if err != nil {
		return result{err: err}
	}
	if k.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.cfg.HTTPClient
	if k.stream != nil {
		// Streamed from the file, never held in memory; GetBody opens it
		// again if the transport must resend it.
		f, err := k.stream()
		if err != nil {
			return result{err: &streamError{err}}
		}
		req.Body, req.GetBody, req.ContentLength = f, k.stream, k.size // k.size > 0: UploadFile checked
		for name, vs := range k.header {
			req.Header[name] = vs
		}
		hc = c.up
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mediaprep-greenapi")
	resp, err := hc.Do(req)
	if err != nil {
		return result{err: err, wrote: wrote.Load()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err == nil && len(b) > maxBody {
		err = fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	// A response means the request was written, whatever the trace says.
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err, wrote: true}
}

func (c *Client) logAttempt(ctx context.Context, k call, full string, r result, attempt int, d time.Duration) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", k.method),
		slog.String("url", c.redact(full)),
		slog.Int("status", r.status),
		slog.Int("attempt", attempt),
		slog.Duration("duration", d),
	}
	if r.err != nil {
		attrs = append(attrs, slog.String("error", c.redact(r.err.Error())), slog.Bool("written", r.wrote))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "greenapi request", attrs...)
}

// retryableStatus reports whether an answer with this status is worth
// another attempt.
func retryableStatus(status int, body []byte) bool {
	switch status {
	case http.StatusTooManyRequests, 499, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusInternalServerError:
		return !bytes.Contains(bytes.ToLower(body), []byte("exceeded max upload size"))
	}
	return false
}

// statusError describes a non-2xx answer.
func (c *Client) statusError(method string, r result, attempts int, kind error) *Error {
	text := bodyText(r.body, c.cfg.Token)
	e := &Error{Method: method, HTTPStatus: r.status, Attempts: attempts, kind: kind}
	var msg string
	switch s := r.status; {
	case s == http.StatusBadRequest:
		e.Code, msg = CodeBadRequest, "Green API refused the request data (also answered while the instance is starting or not authorized)"
	case s == http.StatusUnauthorized:
		e.Code, msg = CodeUnauthorized, "apiTokenInstance rejected: check MEDIAPREP_GREENAPI_TOKEN"
	case s == http.StatusForbidden:
		e.Code, msg = CodeForbidden, "the instance has no access to the beta status methods (request it from Green API support), or idInstance is wrong (check MEDIAPREP_GREENAPI_INSTANCE)"
	case s == 466:
		e.Code, msg = CodeQuotaExceeded, "quota exceeded for the instance's plan"
		if d := quotaDescription(r.body); d != "" {
			msg += ": " + clip(c.redact(d), maxMessage)
			text = ""
		}
	case s == http.StatusTooManyRequests:
		e.Code, msg = CodeRateLimited, "too many requests"
	case s == http.StatusInternalServerError && !retryableStatus(s, r.body):
		e.Code, msg = CodeServerError, "the file at urlFile exceeds Green API's upload limit (100 MB)"
	case s == 499:
		e.Code, msg = CodeServerError, "Green API gave up on the request (499)"
	case s >= 500:
		e.Code, msg = CodeServerError, "Green API server error"
	default:
		e.Code, msg = CodeBadRequest, "unexpected answer"
	}
	if text != "" {
		msg += ": " + text
	}
	e.Message = msg
	return e
}

// exhausted is the error after the last retryable failure r.
func (c *Client) exhausted(k call, r result, attempts int) *Error {
	if r.err == nil {
		return c.statusError(k.method, r, attempts, ErrRetryExhausted)
	}
	e := &Error{Method: k.method, HTTPStatus: r.status, Attempts: attempts, kind: ErrRetryExhausted,
		Code: CodeNetwork, cause: redactErr(r.err, c.cfg.Token)}
	if isTimeout(r.err) {
		e.Code = CodeTimeout
		e.Message = "no answer in time: " + c.redact(r.err.Error())
	} else {
		e.Message = "cannot reach Green API: " + c.redact(r.err.Error())
	}
	return e
}

// ctxError is the error when ctx ended. mayBePosted: a send was written.
func (c *Client) ctxError(ctx context.Context, k call, r result, attempts int, mayBePosted bool) *Error {
	cerr := ctx.Err()
	e := &Error{Method: k.method, HTTPStatus: r.status, Attempts: attempts, kind: cerr,
		cause: redactErr(context.Cause(ctx), c.cfg.Token)}
	if errors.Is(cerr, context.DeadlineExceeded) {
		e.Code, e.Message = CodeTimeout, "deadline exceeded"
	} else {
		e.Code, e.Message = CodeCanceled, "canceled"
	}
	if k.send && mayBePosted {
		if e.Code == CodeTimeout {
			e.Code = CodeOutcomeUnknown
		}
		e.cause = errors.Join(ErrOutcomeUnknown, e.cause)
		e.Message += " after the request was sent; the status may have been posted: check getOutgoingStatuses before sending it again"
	} else if attempts > 0 && r.status != 0 {
		e.Message += fmt.Sprintf(" while retrying (last answer HTTP %d)", r.status)
	}
	return e
}

// backoff returns a full-jitter wait before attempt+1: uniform in
// [0, min(retryCap, retryBase·2^(attempt-1))].
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.retryCap
	if attempt-1 < 30 {
		ceil = min(c.retryCap, c.retryBase<<(attempt-1))
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil + 1)
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 24*3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// bodyText is a response body fit for an error message: trimmed, clipped,
// redacted, and empty for a body that says nothing.
func bodyText(b []byte, token string) string {
	s := strings.ToValidUTF8(string(b), "�")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return clip(Redact(s, token), maxMessage)
}

// quotaDescription extracts invokeStatus.description from a 466 body.
func quotaDescription(b []byte) string {
	var v struct {
		InvokeStatus struct {
			Method      string `json:"method"`
			Used        any    `json:"used"`
			Total       any    `json:"total"`
			Status      string `json:"status"`
			Description string `json:"description"`
		} `json:"invokeStatus"`
		Description string `json:"description"`
	}
	if json.Unmarshal(b, &v) != nil {
		return ""
	}
	is := v.InvokeStatus
	if is.Description == "" {
		return v.Description
	}
	if is.Used != nil && is.Total != nil {
		return fmt.Sprintf("%s (used %v of %v)", is.Description, is.Used, is.Total)
	}
	return is.Description
}
