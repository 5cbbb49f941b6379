package greenapi

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinels a caller can test with errors.Is. Every error a Client returns
// is an *Error that unwraps to exactly one of ErrInvalid, ErrPermanent,
// ErrRetryExhausted, ErrOutcomeUnknown, or a context error (context.Canceled,
// context.DeadlineExceeded).
var (
	// ErrInvalid: the request was refused before anything was sent
	// (Code "invalid_request"). Fix the input.
	ErrInvalid = errors.New("greenapi: invalid request")
	// ErrPermanent: Green API refused the request and sending it again
	// unchanged will fail again (400, 401, 403, 466, 500 "exceeded max
	// upload size", other 4xx/5xx).
	ErrPermanent = errors.New("greenapi: request refused")
	// ErrRetryExhausted: every attempt failed with a retryable failure
	// (429, 499, 500, 502, 503, 504, network errors, GET timeouts).
	ErrRetryExhausted = errors.New("greenapi: retries exhausted")
	// ErrOutcomeUnknown: a status send may have reached Green API but no
	// answer came back. It was not retried, to avoid posting the status
	// twice; check GetOutgoingStatuses before sending it again.
	ErrOutcomeUnknown = errors.New("greenapi: outcome unknown")
	// ErrConfig: Config.Validate found a problem.
	ErrConfig = errors.New("greenapi: bad config")
)

// Codes of Error.Code: stable, machine-readable, safe to show to users.
const (
	CodeInvalidRequest = "invalid_request" // refused before sending; see Error.Field
	CodeBadRequest     = "bad_request"     // HTTP 400 (and other 4xx not listed here)
	CodeUnauthorized   = "unauthorized"    // HTTP 401: apiTokenInstance rejected
	CodeForbidden      = "forbidden"       // HTTP 403: no access to the status methods, or wrong idInstance
	CodeQuotaExceeded  = "quota_exceeded"  // HTTP 466
	CodeRateLimited    = "rate_limited"    // HTTP 429 on every attempt
	CodeServerError    = "server_error"    // 5xx on every attempt, or a 5xx not worth retrying
	CodeTimeout        = "timeout"         // no answer in time on every attempt (GET), or the caller's deadline
	CodeNetwork        = "network_error"   // connection failures on every attempt
	CodeOutcomeUnknown = "outcome_unknown" // a send may have been accepted; not retried
	CodeCanceled       = "canceled"        // the caller's context was canceled
)

// maxMessage bounds Error.Message taken from a response body, in bytes.
const maxMessage = 300

// Error is the error every Client method returns. Its text never contains
// the API token.
type Error struct {
	Method     string // Green API method, e.g. "sendMediaStatus"
	HTTPStatus int    // status of the last response, 0 if none came
	Code       string // one of the Code* constants
	Field      string // for invalid_request: the first JSON field at fault
	Message    string // what went wrong; server text trimmed and redacted
	Attempts   int    // requests made, 0 when refused before sending

	kind  error // one of the sentinels
	cause error // underlying error, already redacted; may be nil
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("greenapi: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteString(": ")
	}
	b.WriteString(e.Code)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " [%d attempts]", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the sentinel for the error's kind and the redacted cause,
// so errors.Is works with the sentinels above and with context errors.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// CodeOf returns the Code of the first *Error in err's chain, or "" if
// there is none.
func CodeOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return ""
}

// invalid returns the invalid_request error for a method and its problems.
func invalid(method string, problems []problem) *Error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.field + ": " + p.msg
	}
	return &Error{
		Method:  method,
		Code:    CodeInvalidRequest,
		Field:   problems[0].field,
		Message: strings.Join(msgs, "; "),
		kind:    ErrInvalid,
	}
}

// clip trims s to at most n bytes on a rune boundary, adding "…" if cut.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactedError carries the redacted text of an error and keeps the
// original chain only for errors.Is/As against non-URL errors (timeouts,
// context errors). See redactErr.
type redactedError struct {
	text  string
	inner error // never an *url.Error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.inner }
