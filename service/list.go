package service

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/queue"
)

// JobLister lists jobs newest first, a page at a time; *queue.Index is
// the implementation.
type JobLister interface {
	List(ctx context.Context, o queue.ListOptions) (queue.Page, error)
}

var _ JobLister = (*queue.Index)(nil)

// codeUnknownAccount: a request or a job names an account this service
// does not post for.
const codeUnknownAccount = "unknown_account"

// listParams are the query parameters of GET /v1/statuses.
var listParams = []string{"state", "account", "origin", "since", "limit", "cursor"}

// listStates are the states a list may be filtered by.
var listStates = []queue.State{
	queue.StateQueued, queue.StatePreparing, queue.StateStoring, queue.StatePosting, queue.StatePosted, queue.StateFailed,
	queue.StateScheduled, queue.StateCanceled, queue.StateDeleted,
}

// routeList adds GET /v1/statuses when the API has a JobLister.
func (a *API) routeList(mux *http.ServeMux) {
	if a.cfg.List == nil {
		return
	}
	mux.Handle("GET /v1/statuses", a.requireKey(http.HandlerFunc(a.listStatuses)))
}

// listStatuses is GET /v1/statuses: {"jobs": [...], "next": cursor},
// newest first.
func (a *API) listStatuses(w http.ResponseWriter, r *http.Request) {
	o, aerr := a.listOptions(r.URL.Query())
	if aerr != nil {
		a.fail(w, r, aerr)
		return
	}
	p, err := a.cfg.List.List(r.Context(), o)
	switch {
	case errors.Is(err, queue.ErrBadCursor):
		a.fail(w, r, invalidf("cursor", "not a cursor of this list; start again without one"))
	case err != nil:
		a.fail(w, r, unavailable("the job list", err))
	default:
		writeJSON(w, http.StatusOK, p)
	}
}

// listOptions reads and checks the query of a list request.
func (a *API) listOptions(q url.Values) (queue.ListOptions, *apiError) {
	var o queue.ListOptions
	for name, vs := range q {
		if !slices.Contains(listParams, name) {
			return o, invalidf(name, "unknown parameter %q; a list takes %s", name, strings.Join(listParams, ", "))
		}
		if len(vs) > 1 {
			return o, invalidf(name, "given %d times", len(vs))
		}
	}
	if v := q.Get("state"); v != "" {
		for s := range strings.SplitSeq(v, ",") {
			st := queue.State(strings.TrimSpace(s))
			if !slices.Contains(listStates, st) {
				return o, invalidf("state", "%q is not a state; use one or more of %s, separated by commas", st, joinStates(listStates))
			}
			o.States = append(o.States, st)
		}
	}
	if v := q.Get("account"); v != "" {
		if !a.knownAccount(v) && v != defaultAccount { // default: the jobs naming none
			return o, unknownAccount(v, a.cfg.Accounts)
		}
		o.Account = v
	}
	switch v := queue.Origin(q.Get("origin")); v {
	case "", queue.OriginUpload, queue.OriginInbox:
		o.Origin = v
	default:
		return o, invalidf("origin", "%q is not an origin; use upload or inbox", v)
	}
	if v := q.Get("since"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return o, invalidf("since", "%q: use an RFC 3339 time with its offset (2026-05-01T09:00:00+02:00) or Unix seconds", v)
		}
		o.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > queue.MaxListLimit {
			return o, invalidf("limit", "%q: use 1 to %d (default %d)", v, queue.MaxListLimit, queue.DefaultListLimit)
		}
		o.Limit = n
	}
	o.Cursor = q.Get("cursor")
	return o, nil
}

// parseTime reads an RFC 3339 time with offset, or Unix seconds.
func parseTime(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339, v)
}

func joinStates(states []queue.State) string {
	s := make([]string, len(states))
	for i, st := range states {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// knownAccount tells whether name is an account of this service: one of
// APIConfig.Accounts, or "default" when none are configured.
func (a *API) knownAccount(name string) bool {
	if len(a.cfg.Accounts) == 0 {
		return name == defaultAccount
	}
	return slices.Contains(a.cfg.Accounts, name)
}

// defaultAccount is accounts.Default.
const defaultAccount = "default"

func unknownAccount(name string, known []string) *apiError {
	if len(known) == 0 {
		known = []string{defaultAccount}
	}
	return &apiError{status: http.StatusBadRequest, Code: codeUnknownAccount, Field: "account",
		Message: "no account is called " + strconv.Quote(name) + "; this server posts for " + strings.Join(known, ", ")}
}

// checkAccount checks the account field of a new job: an account of this
// service, or empty for the default account (when there is one).
func (a *API) checkAccount(name string) *apiError {
	if name == "" && (len(a.cfg.Accounts) == 0 || a.knownAccount(defaultAccount)) || name != "" && a.knownAccount(name) {
		return nil
	}
	if name == "" {
		return &apiError{status: http.StatusBadRequest, Code: codeUnknownAccount, Field: "account",
			Message: "this server has no default account (MEDIAPREP_GREENAPI_INSTANCE is not set); name one of " + strings.Join(a.cfg.Accounts, ", ")}
	}
	return unknownAccount(name, a.cfg.Accounts)
}

// deleterOf is the client that deletes job's posted status: its
// account's when the service has accounts (nil for an unknown one),
// else Schedule.Deleter.
func (a *API) deleterOf(job queue.Job) StatusDeleter {
	if a.cfg.Deleters == nil {
		return a.cfg.Schedule.Deleter
	}
	name := job.Account
	if name == "" {
		name = defaultAccount
	}
	if d, ok := a.cfg.Deleters[name]; ok {
		return d
	}
	return nil
}

// onAccount names job's account in a message, when it has one.
func onAccount(job queue.Job) string {
	if job.Account == "" {
		return ""
	}
	return " for the account " + strconv.Quote(job.Account)
}
