package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// Scheduled statuses wait in a running service's queue, where the wait
// survives restarts: post and batch hand them to it over its HTTP API
// (Service.Schedule), wait until each is prepared and stored there (a
// broken file fails now, not at its time), and print the job ids.

// NewService is the service at base (http(s)://host:port; spaces and
// trailing slashes are dropped), called with the API key key ("": none).
// A base that is no such URL is an error naming it, for the caller to say
// where it came from.
func NewService(base, key string) (*Service, error) {
	base = strings.TrimRight(strings.TrimSpace(base), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want http(s)://host:port", base)
	}
	return &Service{base: base, key: key, hc: &http.Client{Timeout: 10 * time.Minute}}, nil
}

// Service speaks to a running mediaprep serve over its HTTP API.
type Service struct {
	base string
	key  string
	hc   *http.Client
}

// ServiceError is an error answer of the service.
type ServiceError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// do makes one request and decodes a 2xx JSON answer into out.
func (c *Service) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the service at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("the service at %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error ServiceError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			e.Error = ServiceError{Code: "unavailable", Message: strings.TrimSpace(string(b))}
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// SubmitFile uploads file with fields (streamed) and returns the job id.
func (c *Service) SubmitFile(ctx context.Context, file string, fields url.Values) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for k, vs := range fields {
				for _, v := range vs {
					if err := mw.WriteField(k, v); err != nil {
						return err
					}
				}
			}
			fw, err := mw.CreateFormFile("file", filepath.Base(file))
			if err != nil {
				return err
			}
			if _, err := io.Copy(fw, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var acc struct {
		ID string `json:"id"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/statuses", mw.FormDataContentType(), pr, &acc)
	pr.CloseWithError(errors.New("request done")) // unblock the writer if the server answered early
	return acc.ID, err
}

// SubmitText queues a text status and returns the job id.
func (c *Service) SubmitText(ctx context.Context, body map[string]any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	var acc struct {
		ID string `json:"id"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/statuses", "application/json", strings.NewReader(string(b)), &acc)
	return acc.ID, err
}

// Job reads a job.
func (c *Service) Job(ctx context.Context, id string) (queue.Job, error) {
	var j queue.Job
	err := c.do(ctx, http.MethodGet, "/v1/statuses/"+url.PathEscape(id), "", nil, &j)
	return j, err
}

// DeleteJob cancels a job not yet posted, or deletes a posted one.
func (c *Service) DeleteJob(ctx context.Context, id string) (queue.Job, error) {
	var j queue.Job
	err := c.do(ctx, http.MethodDelete, "/v1/statuses/"+url.PathEscape(id), "", nil, &j)
	return j, err
}

// Settled waits until the job is prepared and stored (scheduled), or done.
func (c *Service) Settled(ctx context.Context, id string) (queue.Job, error) {
	for {
		j, err := c.Job(ctx, id)
		if err != nil {
			return j, err
		}
		if j.State == queue.StateScheduled || j.State.Final() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Item is one status handed to the service.
type Item struct {
	File   string         // a file, or
	Text   map[string]any // a text status's JSON body
	Fields url.Values     // a file's form fields
}

// Scheduled is one line of the output of a handed-over status.
type Scheduled struct {
	Source    string `json:"source,omitempty"`
	Job       string `json:"job,omitempty"`
	State     string `json:"state,omitempty"`
	PublishAt string `json:"publishAt,omitempty"`
	Key       string `json:"key,omitempty"`
	Error     *Error `json:"error,omitempty"`
}

// Schedule hands items to the service one after the other, waits for
// each to be prepared and stored (or to fail), and prints a line each.
// failed are statuses that failed before they became items (a bad
// sidecar): they are printed first and counted. It returns ErrFailed when
// any failed, ErrInterrupted when ctx ended.
func (c *Service) Schedule(ctx context.Context, items []Item, jsonOut bool, stdout io.Writer, failed ...Scheduled) error {
	for _, r := range failed {
		printScheduled(stdout, r, jsonOut)
	}
	bad := len(failed)
	for _, it := range items {
		r := Scheduled{Source: it.File}
		var err error
		if it.Text != nil {
			r.Source = "text"
			r.Job, err = c.SubmitText(ctx, it.Text)
		} else {
			r.Job, err = c.SubmitFile(ctx, it.File, it.Fields)
		}
		var j queue.Job
		if err == nil {
			j, err = c.Settled(ctx, r.Job)
		}
		switch {
		case err != nil:
			var se *ServiceError
			if errors.As(err, &se) {
				r.Error = &Error{se.Code, se.Message}
			} else {
				r.Error = &Error{"unavailable", err.Error()}
			}
		case j.State == queue.StateFailed || j.State == queue.StateCanceled:
			r.State, r.Error = string(j.State), &Error{j.ErrorCode, j.Error}
		default:
			r.State, r.Key = string(j.State), j.Key
			if !j.PublishAt.IsZero() {
				r.PublishAt = j.PublishAt.Format(time.RFC3339)
			}
		}
		if r.Error != nil {
			bad++
		}
		printScheduled(stdout, r, jsonOut)
		if ctx.Err() != nil {
			return ErrInterrupted
		}
	}
	if bad > 0 {
		return ErrFailed
	}
	return nil
}

// printScheduled prints r as a JSON line or a readable line.
func printScheduled(w io.Writer, r Scheduled, jsonOut bool) {
	if jsonOut {
		line, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", line)
		return
	}
	switch {
	case r.Error != nil:
		fmt.Fprintf(w, "FAIL  %s: %s: %s\n", r.Source, r.Error.Code, r.Error.Message)
	case r.State == string(queue.StateScheduled):
		fmt.Fprintf(w, "scheduled  %s  job %s  at %s\n", r.Source, r.Job, r.PublishAt)
	default:
		fmt.Fprintf(w, "%s  %s  job %s\n", r.State, r.Source, r.Job)
	}
}

// Fields are what a status handed to the service carries besides its
// file or text.
type Fields struct {
	Status    pipeline.Status // caption (files), participants, background color
	Crop      string          // files: --crop ("": the service's default)
	VideoFit  string          // files: --video-fit
	PublishAt string          // when to post it (RFC 3339 or Unix seconds)
	Account   string          // the account to post it for ("": the service's default)
}

// fileItem is file handed to the service with f as its form fields.
func fileItem(file string, f Fields) Item {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("caption", f.Status.Caption)
	set("backgroundColor", f.Status.BackgroundColor)
	set("crop", f.Crop)
	set("videoFit", f.VideoFit)
	set("publishAt", f.PublishAt)
	for _, p := range f.Status.Participants {
		v.Add("participants", p)
	}
	set("account", f.Account)
	return Item{File: file, Fields: v}
}

// textItem is the text status text (font "": the default) handed to the
// service; f's Crop and VideoFit do not apply.
func textItem(text, font string, f Fields) Item {
	body := map[string]any{"text": text, "backgroundColor": f.Status.BackgroundColor, "publishAt": f.PublishAt}
	if font != "" {
		body["font"] = font
	}
	if f.Account != "" {
		body["account"] = f.Account
	}
	if len(f.Status.Participants) > 0 {
		body["participants"] = f.Status.Participants
	}
	return Item{Text: body}
}

// SchedulePost hands the statuses of post --publish-at to the service
// (Schedule): the text status text (if not ""; font "": the default) and
// the files, each with f.
func (c *Service) SchedulePost(ctx context.Context, text, font string, files []string, f Fields, asJSON bool, w io.Writer) error {
	var items []Item
	if text != "" {
		items = append(items, textItem(text, font, f))
	}
	for _, file := range files {
		items = append(items, fileItem(file, f))
	}
	return c.Schedule(ctx, items, asJSON, w)
}
