package service

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/mediaprep/mediaprep/queue"
)

func (a *API) getStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validJobID(id) {
		a.fail(w, r, &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: "no job has this id"})
		return
	}
	info(r).jobID = id
	job, err := a.jobs.Get(r.Context(), id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		a.fail(w, r, &apiError{status: http.StatusNotFound, Code: codeNotFound, Message: "no job has this id"})
	case err != nil:
		a.fail(w, r, unavailable("the queue", err))
	default:
		writeJSON(w, http.StatusOK, job)
	}
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
