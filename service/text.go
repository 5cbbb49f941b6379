package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/queue"
)

// textRequest is the JSON body of a text status.
type textRequest struct {
	Text            string          `json:"text"`
	Font            string          `json:"font,omitempty"`
	BackgroundColor string          `json:"backgroundColor"`
	Participants    []string        `json:"participants,omitempty"`
	PublishAt       queue.PublishAt `json:"publishAt,omitzero"`
	Account         string          `json:"account,omitempty"`
}

// postText reads a text status from a JSON or urlencoded body.
func (a *API) postText(w http.ResponseWriter, r *http.Request, mediaType string) (queue.Job, *apiError) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTextBody)
	id := newJobID()
	info(r).jobID = id
	var opts queue.Request
	var at time.Time
	var account string
	if mediaType == "application/json" {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		var t textRequest
		if err := dec.Decode(&t); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return queue.Job{}, &apiError{status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("a text status body is at most %d bytes", maxTextBody)}
			}
			return queue.Job{}, invalidf("", "JSON body: %v", err)
		}
		if dec.More() {
			return queue.Job{}, invalidf("", "JSON body: one object expected")
		}
		opts = queue.Request{Text: t.Text, Font: t.Font, BackgroundColor: t.BackgroundColor, Participants: t.Participants}
		account = t.Account
		if aerr := a.checkParticipants(opts.Participants); aerr != nil {
			return queue.Job{}, aerr
		}
		var aerr *apiError
		if at, aerr = a.publishAt(string(t.PublishAt)); aerr != nil {
			return queue.Job{}, aerr
		}
	} else {
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return queue.Job{}, &apiError{status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("a text status body is at most %d bytes", maxTextBody)}
			}
			return queue.Job{}, invalidf("", "form body: %v", err)
		}
		n := 0
		for name, vs := range r.PostForm {
			if !formFields[name] {
				return queue.Job{}, invalidf(name, "unknown field %q; a text status has text, font, backgroundColor, participants, publishAt, account", name)
			}
			if n += len(vs); n > a.cfg.MaxFormFields {
				return queue.Job{}, a.tooManyFields(name)
			}
		}
		var aerr *apiError
		if opts, aerr = requestOf(r.PostForm, false); aerr == nil {
			aerr = a.checkParticipants(opts.Participants)
		}
		if aerr == nil {
			at, aerr = a.publishAt(r.PostForm.Get("publishAt"))
		}
		account = r.PostForm.Get("account")
		if aerr != nil {
			if aerr.Field == "file" {
				aerr = invalidf("text", "required")
			}
			return queue.Job{}, aerr
		}
	}
	if aerr := a.checkAccount(account); aerr != nil {
		return queue.Job{}, aerr
	}
	return a.enqueueText(r.Context(), id, opts, at, account)
}

// enqueueText checks a text status by sendTextStatus's rules and queues it.
func (a *API) enqueueText(ctx context.Context, id string, o queue.Request, at time.Time, account string) (queue.Job, *apiError) {
	st := greenapi.TextStatus{Message: o.Text, BackgroundColor: o.BackgroundColor, Font: o.Font, Participants: o.Participants}
	if err := st.Validate(); err != nil {
		return queue.Job{}, greenAPIInvalid(err)
	}
	job, err := a.jobs.Enqueue(ctx, queue.Job{ID: id, Origin: queue.OriginUpload, Request: o, PublishAt: at, Account: account})
	switch {
	case errors.Is(err, queue.ErrQueueFull):
		return queue.Job{}, queueFull(err)
	case err != nil:
		return queue.Job{}, unavailable("the queue", err)
	}
	return job, nil
}
