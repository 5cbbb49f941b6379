package service

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/mediaprep/mediaprep/queue"
)

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathJobID(w, r)
	if !ok {
		return
	}
	job, err := a.jobs.Get(r.Context(), id)
	if err != nil {
		a.failQueue(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// pathJobID is the job id in the request's path, noted for the access log.
// An id no job can have is answered 404 and ok is false.
func (a *API) pathJobID(w http.ResponseWriter, r *http.Request) (id string, ok bool) {
	id = r.PathValue("id")
	if !validJobID(id) {
		a.fail(w, r, errNoJob())
		return "", false
	}
	info(r).jobID = id
	return id, true
}

// failQueue answers err from reading or updating a job in the queue: 404
// for a job that is not there, 503 for anything else.
func (a *API) failQueue(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, queue.ErrNotFound) {
		a.fail(w, r, errNoJob())
		return
	}
	a.fail(w, r, unavailable("the queue", err))
}

// errNoJob is the answer about a job id the queue does not have.
func errNoJob() *apiError {
	return &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: "no job has this id"}
}

// validJobID accepts the ids jobs can have (ours are 16 hex digits; the
// queue may give others), so nothing odd reaches the queue's keys.
func validJobID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newJobID is 16 random lowercase hex digits: job ids, delivery tokens.
func newJobID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
