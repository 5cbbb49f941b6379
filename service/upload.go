package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// postStatus takes a file upload (multipart) or a text status (multipart,
// urlencoded or JSON) and queues it.
func (a *API) postStatus(w http.ResponseWriter, r *http.Request) {
	var size int64
	defer func() {
		code := info(r).code
		if code == "" {
			code = "accepted"
		}
		a.cfg.Metrics.Upload(code, size)
	}()
	if r.ContentLength > a.cfg.MaxUploadBytes+maxTextBody {
		a.fail(w, r, tooLarge(a.cfg.MaxUploadBytes))
		return
	}
	if err := a.checkDisk(r.Context()); err != nil {
		a.fail(w, r, noSpace(err))
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		a.fail(w, r, invalidf("", "Content-Type: %v", err))
		return
	}
	var job queue.Job
	var aerr *apiError
	switch mediaType {
	case "multipart/form-data":
		select {
		case a.uploads <- struct{}{}:
			defer func() { <-a.uploads }()
		default:
			a.fail(w, r, &apiError{status: http.StatusServiceUnavailable, Code: codeBusy, Message: "too many uploads at once; try again shortly", retryAfter: retryBusy})
			return
		}
		if aerr = a.checkDepth(r.Context()); aerr == nil {
			job, aerr = a.postMultipart(r)
		}
	case "application/json", "application/x-www-form-urlencoded":
		if aerr = a.checkDepth(r.Context()); aerr == nil {
			job, aerr = a.postText(w, r, mediaType)
		}
	default:
		aerr = &apiError{status: http.StatusUnsupportedMediaType, Code: codeUnsupportedType,
			Message: "Content-Type must be multipart/form-data (a file), application/json or application/x-www-form-urlencoded (a text status)"}
	}
	if aerr != nil {
		a.fail(w, r, aerr)
		return
	}
	size = job.Size
	a.cfg.Metrics.JobState(queue.StateQueued)
	state := job.State
	if state == "" {
		state = queue.StateQueued
	}
	w.Header().Set("Location", "/v1/statuses/"+job.ID)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": job.ID, "state": string(state)})
}

// JobCounter counts the jobs in a state.
type JobCounter interface {
	Count(s queue.State) int
}

var _ JobCounter = (*queue.Index)(nil)

// checkDepth refuses new jobs while the queue holds MaxQueued or more to
// run now: scheduled jobs wait in the queue too, but for their publish
// time, and a week of them must not hold uploads back (Counts).
func (a *API) checkDepth(ctx context.Context) *apiError {
	n, err := a.jobs.Depth(ctx)
	if err != nil {
		return unavailable("the queue", err)
	}
	if a.cfg.Counts != nil {
		n -= a.cfg.Counts.Count(queue.StateScheduled)
	}
	if n >= a.cfg.MaxQueued {
		return queueFull(nil)
	}
	return nil
}

func queueFull(cause error) *apiError {
	return &apiError{status: http.StatusTooManyRequests, Code: codeQueueFull, Message: "the queue is full; try again later", retryAfter: retryQueueFull, cause: cause}
}

func tooLarge(limit int64) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Field: "file", Message: fmt.Sprintf("the file is larger than %d bytes", limit)}
}

// bodyError maps an error reading the request body.
func (a *API) bodyError(err error) *apiError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge(a.cfg.MaxUploadBytes)
	}
	if errors.Is(err, errTooSlow) {
		return &apiError{status: http.StatusRequestTimeout, Code: codeTooSlow,
			Message: fmt.Sprintf("the body came slower than %d bytes in %s; send it again on a faster link", a.cfg.HTTP.MinRate, a.cfg.HTTP.MinRateWindow), cause: err}
	}
	return &apiError{status: http.StatusBadRequest, Code: codeInvalidRequest, Message: "reading the request body failed", cause: err}
}

// The form fields a POST takes besides file; participants may repeat.
var formFields = map[string]bool{
	"caption": true, "participants": true, "backgroundColor": true, "crop": true, "videoFit": true,
	"text": true, "font": true,
	"publishAt": true, // schedule.go
	"account":   true, // accounts.go
}

// spooled is an uploaded file in SpoolDir.
type spooled struct {
	path string
	name string // the file's own name, cleaned
	size int64
}

// postMultipart streams the parts of a multipart body: fields are read
// into memory (64 KiB each), the file goes to SpoolDir after its first
// bytes passed the sniff. Then the options are checked, the file stored
// and the job queued.
func (a *API) postMultipart(r *http.Request) (queue.Job, *apiError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return queue.Job{}, invalidf("", "multipart body: %v", err)
	}
	id := newJobID()
	info(r).jobID = id
	fields := url.Values{}
	fieldBytes, nfields := 0, 0
	var file *spooled
	defer func() {
		if file != nil {
			os.Remove(file.path)
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return queue.Job{}, a.bodyError(err)
		}
		name := part.FormName()
		switch {
		case name == "file":
			if file != nil {
				return queue.Job{}, invalidf("file", "one file per status")
			}
			var aerr *apiError
			if file, aerr = a.spool(part); aerr != nil {
				return queue.Job{}, aerr
			}
		case formFields[name]:
			// Counted too: empty fields cost memory but no bytes.
			if nfields++; nfields > a.cfg.MaxFormFields {
				return queue.Job{}, a.tooManyFields(name)
			}
			v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return queue.Job{}, a.bodyError(err)
			}
			if len(v) > maxFieldBytes {
				return queue.Job{}, invalidf(name, "longer than %d bytes", maxFieldBytes)
			}
			// All fields together are bounded too (participants repeat).
			if fieldBytes += len(v); fieldBytes > maxTextBody {
				return queue.Job{}, invalidf(name, "the fields are longer than %d bytes in all", maxTextBody)
			}
			fields.Add(name, string(v))
		default:
			return queue.Job{}, invalidf(name, "unknown field %q; fields are file, caption, participants, backgroundColor, crop, videoFit, text, font, publishAt, account", name)
		}
		part.Close()
	}
	opts, aerr := requestOf(fields, file != nil)
	if aerr == nil {
		aerr = a.checkParticipants(opts.Participants)
	}
	at, perr := a.publishAt(fields.Get("publishAt"))
	if aerr == nil {
		aerr = perr
	}
	if aerr == nil {
		aerr = a.checkAccount(fields.Get("account"))
	}
	if aerr != nil {
		return queue.Job{}, aerr
	}
	if file == nil {
		return a.enqueueText(r.Context(), id, opts, at, fields.Get("account"))
	}
	if aerr := checkFileRequest(opts); aerr != nil {
		return queue.Job{}, aerr
	}

	// The source is raw bytes until the worker sniffs and prepares it;
	// the bucket needs a content type all the same.
	key := a.cfg.UploadPrefix + id + "/" + pipeline.SlugName(file.name)
	if _, err := a.bucket.PutFile(r.Context(), key, file.path, storage.Object{Size: file.size, FileName: file.name, ContentType: "application/octet-stream"}); err != nil {
		if isNoSpace(err) {
			return queue.Job{}, noSpace(err)
		}
		return queue.Job{}, unavailable("storage", err)
	}
	keptForWorker := false
	if a.cfg.KeepDir != "" {
		// Kept before the job is queued, so a worker here finds it.
		kept := filepath.Join(a.cfg.KeepDir, id)
		if err := os.Rename(file.path, kept); err == nil {
			file.path, keptForWorker = kept, true
		}
	}
	job, err := a.jobs.Enqueue(r.Context(), queue.Job{
		ID: id, Origin: queue.OriginUpload, Source: key, Name: file.name, Size: file.size, Request: opts, PublishAt: at,
		Account: fields.Get("account"),
	})
	if err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), cleanupTimeout)
		defer cancel()
		if derr := a.bucket.Delete(ctx, key); derr != nil {
			err = errors.Join(err, fmt.Errorf("the upload stays at %s: %w", key, derr))
		}
		if errors.Is(err, queue.ErrQueueFull) {
			return queue.Job{}, queueFull(err)
		}
		return queue.Job{}, unavailable("the queue", err)
	}
	if keptForWorker {
		file = nil // the worker's now
	}
	return job, nil
}

// requestOf reads the form fields into a queue.Request and checks what
// can be checked before the kind of the file is known.
func requestOf(f url.Values, hasFile bool) (queue.Request, *apiError) {
	for name, vs := range f {
		if name != "participants" && len(vs) > 1 {
			return queue.Request{}, invalidf(name, "given %d times", len(vs))
		}
	}
	o := queue.Request{
		Caption:         f.Get("caption"),
		BackgroundColor: f.Get("backgroundColor"),
		Crop:            f.Get("crop"),
		VideoFit:        f.Get("videoFit"),
		Text:            f.Get("text"),
		Font:            f.Get("font"),
	}
	for _, v := range f["participants"] {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.Participants = append(o.Participants, p)
			}
		}
	}
	if hasFile {
		for _, name := range []string{"text", "font"} {
			if f.Has(name) {
				return o, invalidf(name, "a status is a file or a text, not both: %s goes with text statuses only", name)
			}
		}
		return o, nil
	}
	if !f.Has("text") {
		return o, invalidf("file", "a file (or a text) is required")
	}
	for _, name := range []string{"caption", "crop", "videoFit"} {
		if f.Has(name) {
			return o, invalidf(name, "%s goes with file uploads only, not with text statuses", name)
		}
	}
	return o, nil
}

// checkFileRequest checks what was asked for a file: the caption and
// participants by sendMediaStatus's rules, the color by sendVoiceStatus's
// (the kind is not known yet), crop and videoFit by transcode's.
func checkFileRequest(o queue.Request) *apiError {
	if err := (transcode.Options{Crop: transcode.CropMode(o.Crop)}).Validate(); err != nil {
		return invalidf("crop", "%q is not one of center, smart, pad", o.Crop)
	}
	if err := (transcode.Options{VideoFit: transcode.Fit(o.VideoFit)}).Validate(); err != nil {
		return invalidf("videoFit", "%q is not one of keep, crop, pad", o.VideoFit)
	}
	const link = "https://example.com/status"
	if err := (greenapi.MediaStatus{URLFile: link, FileName: "status.jpg", Caption: o.Caption, Participants: o.Participants}).Validate(); err != nil {
		return greenAPIInvalid(err)
	}
	if o.BackgroundColor != "" {
		if err := (greenapi.VoiceStatus{URLFile: link, FileName: "status.mp3", BackgroundColor: o.BackgroundColor}).Validate(); err != nil {
			return greenAPIInvalid(err)
		}
	}
	return nil
}

// greenAPIInvalid turns a greenapi validation error into a 400 naming the
// field; the field names of Green API and of this API are the same.
func greenAPIInvalid(err error) *apiError {
	e, ok := errors.AsType[*greenapi.Error](err)
	if !ok {
		return invalidf("", "%v", err)
	}
	field := e.Field
	if field == "message" {
		field = "text"
	}
	msg := e.Message
	if field == "text" {
		msg = strings.ReplaceAll(msg, "message: ", "text: ")
	}
	return invalidf(field, "%s", msg)
}
