package service

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// ErrNoKeys is returned by CheckListen for an address other machines can
// reach when no API keys are set.
var ErrNoKeys = errors.New("service: no API keys")

// CheckListen returns an error when addr is not a loopback address
// (127.0.0.0/8, ::1, "localhost") and keys is empty: the API must not be
// open to the network without keys. ":8080" and "0.0.0.0:8080" listen on
// every interface, so they count as non-loopback.
func CheckListen(addr string, keys []string) error {
	if len(keys) > 0 {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("service: listen address %q: %w", addr, err)
	}
	if Loopback(addr) {
		return nil
	}
	return fmt.Errorf("%w: %s is reachable from other machines; set MEDIAPREP_API_KEYS or listen on 127.0.0.1", ErrNoKeys, addr)
}

// Loopback reports whether addr (host:port) listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	host, _, _ = strings.Cut(host, "%") // zone of a link-local IPv6 address
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// keyring checks bearer keys. It holds their SHA-256 digests and compares
// a request's against every one in constant time, so neither a key's
// length nor which key matched shows in the time taken.
type keyring struct {
	digests [][sha256.Size]byte
}

func newKeyring(keys []string) keyring {
	k := keyring{digests: make([][sha256.Size]byte, len(keys))}
	for i, key := range keys {
		k.digests[i] = sha256.Sum256([]byte(key))
	}
	return k
}

// enabled reports whether requests need a key at all.
func (k keyring) enabled() bool { return len(k.digests) > 0 }

// check reports whether the Authorization header carries one of the keys;
// given says whether it carried a bearer token at all.
func (k keyring) check(authorization string) (ok, given bool) {
	token, given := bearerToken(authorization)
	d := sha256.Sum256([]byte(token))
	match := 0
	for i := range k.digests {
		match |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return given && match == 1, given
}

// bearerToken returns the token of "Bearer <token>" (the scheme is
// case-insensitive), and false when the header is anything else.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// requireKey wraps next so that it runs only for requests with a valid
// key; others get 401 with WWW-Authenticate. Without keys it is next.
func (a *API) requireKey(next http.Handler) http.Handler {
	if !a.keys.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, given := a.keys.check(r.Header.Get("Authorization"))
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		challenge := `Bearer realm="mediaprep"`
		msg := "an API key is required: Authorization: Bearer <key>"
		if given {
			challenge += `, error="invalid_token"`
			msg = "the API key is not valid"
		}
		w.Header().Set("WWW-Authenticate", challenge)
		a.fail(w, r, &apiError{status: http.StatusUnauthorized, Code: codeUnauthorized, Message: msg})
	})
}
