package greenapi

import (
	"errors"
	"net/url"
	"strings"
)

// redacted replaces the token wherever it would appear.
const redacted = "<redacted>"

// Redact returns s with every occurrence of token, raw or URL-escaped,
// replaced by "<redacted>". Use it on anything that may hold a request URL
// before it is logged or shown. An empty token leaves s unchanged.
func Redact(s string, token string) string {
	if token == "" {
		return s
	}
	// Longer forms first, so a raw token inside its escaped form cannot
	// leave escape residue behind.
	forms := []string{url.QueryEscape(token), url.PathEscape(token), token}
	for _, f := range forms {
		if len(f) > len(token) {
			s = strings.ReplaceAll(s, f, redacted)
		}
	}
	return strings.ReplaceAll(s, token, redacted)
}

// redactErr returns an error whose text is err's text redacted. It keeps
// err's chain for errors.Is/As except *url.Error (net/http puts the whole
// request URL, token included, in it) and anything else whose text holds
// the token.
func redactErr(err error, token string) error {
	if err == nil {
		return nil
	}
	inner := err
	for {
		if ue, ok := inner.(*url.Error); ok { //nolint:errorlint // unwraps url.Error layers one at a time, by design
			inner = ue.Err
			continue
		}
		break
	}
	if inner != nil && token != "" && strings.Contains(inner.Error(), token) {
		inner = nil
	}
	if inner != nil {
		// Drop any *url.Error deeper in the chain too.
		if _, ok := errors.AsType[*url.Error](inner); ok {
			inner = nil
		}
	}
	return &redactedError{text: Redact(err.Error(), token), inner: inner}
}
