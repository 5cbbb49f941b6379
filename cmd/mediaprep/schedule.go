package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
)

// Scheduled statuses wait in a running service's queue, where the wait
// survives restarts: post and batch cannot hold them themselves. With
// --publish-at (or a publishAt in a batch sidecar or manifest) they hand
// the statuses to the service named by MEDIAPREP_API_URL (key:
// MEDIAPREP_API_KEY) over its HTTP API, wait until each is prepared and
// stored there (a broken file fails now, not at its time), and print the
// job ids; `mediaprep statuses --delete JOB` cancels one.

// errNeedService is the usage error of a schedule without a service.
var errNeedService = errors.New("a status posted later waits in a running service's queue (mediaprep serve), where the wait survives restarts: " +
	"set MEDIAPREP_API_URL (e.g. http://127.0.0.1:8080) and MEDIAPREP_API_KEY to hand it to one, or leave out the publish time to post now")

// serviceClient speaks to a running mediaprep serve over its HTTP API.
type serviceClient struct {
	base string
	key  string
	hc   *http.Client
}

// newServiceClient is the service MEDIAPREP_API_URL names; false when it
// is not set.
func newServiceClient(ev *env) (*serviceClient, bool, error) {
	base := strings.TrimRight(strings.TrimSpace(ev.str("MEDIAPREP_API_URL", "")), "/")
	if base == "" {
		return nil, false, nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false, fmt.Errorf("MEDIAPREP_API_URL %q: want http(s)://host:port", base)
	}
	return &serviceClient{base: base, key: ev.str("MEDIAPREP_API_KEY", ""), hc: &http.Client{Timeout: 10 * time.Minute}}, true, nil
}

// serviceError is an error answer of the service.
type serviceError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *serviceError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// do makes one request and decodes a 2xx JSON answer into out.
func (c *serviceClient) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) error {
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
			Error serviceError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			e.Error = serviceError{Code: "unavailable", Message: strings.TrimSpace(string(b))}
		}
		e.Error.Status = resp.StatusCode
		return &e.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// submitFile uploads file with fields (streamed) and returns the job id.
func (c *serviceClient) submitFile(ctx context.Context, file string, fields url.Values) (string, error) {
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

// submitText queues a text status and returns the job id.
func (c *serviceClient) submitText(ctx context.Context, body map[string]any) (string, error) {
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

// job reads a job.
func (c *serviceClient) job(ctx context.Context, id string) (queue.Job, error) {
	var j queue.Job
	err := c.do(ctx, http.MethodGet, "/v1/statuses/"+url.PathEscape(id), "", nil, &j)
	return j, err
}

// deleteJob cancels a job not yet posted, or deletes a posted one.
func (c *serviceClient) deleteJob(ctx context.Context, id string) (queue.Job, error) {
	var j queue.Job
	err := c.do(ctx, http.MethodDelete, "/v1/statuses/"+url.PathEscape(id), "", nil, &j)
	return j, err
}

// settled waits until the job is prepared and stored (scheduled), or done.
func (c *serviceClient) settled(ctx context.Context, id string) (queue.Job, error) {
	for {
		j, err := c.job(ctx, id)
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

// scheduledItem is one status handed to the service.
type scheduledItem struct {
	file   string         // a file, or
	text   map[string]any // a text status's JSON body
	fields url.Values     // a file's form fields
}

// scheduledResult is one line of the output of a handed-over status.
type scheduledResult struct {
	Source    string     `json:"source,omitempty"`
	Job       string     `json:"job,omitempty"`
	State     string     `json:"state,omitempty"`
	PublishAt string     `json:"publishAt,omitempty"`
	Key       string     `json:"key,omitempty"`
	Error     *errorBody `json:"error,omitempty"`
}

// scheduleAll hands items to the service one after the other, waits for
// each to be prepared and stored (or to fail), and prints a line each.
// It fails (exit 1) when any failed.
func scheduleAll(ctx context.Context, c *serviceClient, items []scheduledItem, jsonOut bool, stdout io.Writer) error {
	failed := 0
	for _, it := range items {
		r := scheduledResult{Source: it.file}
		var err error
		if it.text != nil {
			r.Source = "text"
			r.Job, err = c.submitText(ctx, it.text)
		} else {
			r.Job, err = c.submitFile(ctx, it.file, it.fields)
		}
		var j queue.Job
		if err == nil {
			j, err = c.settled(ctx, r.Job)
		}
		switch {
		case err != nil:
			var se *serviceError
			if errors.As(err, &se) {
				r.Error = &errorBody{se.Code, se.Message}
			} else {
				r.Error = &errorBody{"unavailable", err.Error()}
			}
		case j.State == queue.StateFailed || j.State == queue.StateCanceled:
			r.State, r.Error = string(j.State), &errorBody{j.ErrorCode, j.Error}
		default:
			r.State, r.Key = string(j.State), j.Key
			if !j.PublishAt.IsZero() {
				r.PublishAt = j.PublishAt.Format(time.RFC3339)
			}
		}
		if r.Error != nil {
			failed++
		}
		printScheduled(stdout, r, jsonOut)
		if ctx.Err() != nil {
			return exitError{exitInterrupted}
		}
	}
	if failed > 0 {
		return exitError{exitFailed}
	}
	return nil
}

func printScheduled(w io.Writer, r scheduledResult, jsonOut bool) {
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

// statusFields are the form fields of a file handed to the service.
func statusFields(caption string, participants []string, bg, crop, videoFit, publishAt string) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("caption", caption)
	set("backgroundColor", bg)
	set("crop", crop)
	set("videoFit", videoFit)
	set("publishAt", publishAt)
	for _, p := range participants {
		v.Add("participants", p)
	}
	return v
}

// checkPublishAt checks a --publish-at (or a sidecar's publishAt) before
// anything is sent; the service checks it again against its own limit.
func checkPublishAt(v string) error {
	if _, err := queue.ParsePublishAt(v); err != nil {
		return usageError{err}
	}
	return nil
}

// deleteJobs cancels or deletes jobs by id at the service; an id the
// service does not know is left in rest (an idMessage, perhaps).
func deleteJobs(ctx context.Context, c *serviceClient, ids []string, jsonOut bool, stdout io.Writer) (rest []string, failed int) {
	for _, id := range ids {
		j, err := c.deleteJob(ctx, id)
		var se *serviceError
		switch {
		case errors.As(err, &se) && se.Status == http.StatusNotFound:
			rest = append(rest, id)
			continue
		case err != nil:
			failed++
			code, msg := "unavailable", err.Error()
			if se != nil {
				code, msg = se.Code, se.Message
			}
			if jsonOut {
				line, _ := json.Marshal(map[string]any{"job": id, "error": errorBody{code, msg}})
				fmt.Fprintf(stdout, "%s\n", line)
			} else {
				fmt.Fprintf(stdout, "FAIL  %s: %s: %s\n", id, code, msg)
			}
			continue
		}
		if jsonOut {
			line, _ := json.Marshal(map[string]any{"job": id, "state": j.State, "idMessage": j.IDMessage})
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			fmt.Fprintf(stdout, "%s %s\n", j.State, id)
		}
	}
	return rest, failed
}

// runPostScheduled is post --publish-at: the files (or the text) go to the
// service, to be posted at that time.
func runPostScheduled(ctx context.Context, f *postFlags, ev *env, files []string, stdout io.Writer) error {
	if err := checkPublishAt(f.publishAt); err != nil {
		return err
	}
	if f.dryRun {
		return usagef("--dry-run and --publish-at: a dry run posts nothing, so there is nothing to schedule; give one")
	}
	c, ok, err := newServiceClient(ev)
	if err != nil {
		return usageError{err}
	}
	if !ok {
		return usageError{fmt.Errorf("--publish-at: %w", errNeedService)}
	}
	var items []scheduledItem
	if f.text != "" {
		body := map[string]any{"text": f.text, "backgroundColor": f.backgroundColor, "publishAt": f.publishAt}
		if f.font != "" {
			body["font"] = f.font
		}
		if len(f.participants) > 0 {
			body["participants"] = f.participants
		}
		items = append(items, scheduledItem{text: body})
	}
	for _, file := range files {
		items = append(items, scheduledItem{file: file,
			fields: statusFields(f.caption, f.participants, f.backgroundColor, f.crop, f.videoFit, f.publishAt)})
	}
	return scheduleAll(ctx, c, items, f.json, stdout)
}

// runBatchScheduled hands a batch with publish times to the service; false
// when no file of the batch has one (batch then posts them itself).
func runBatchScheduled(ctx context.Context, f *batchFlags, ev *env, args []string, stdout io.Writer) (bool, error) {
	files, manifests, err := batch.Collect(args, f.out, f.manifest)
	if err != nil {
		return false, nil // runBatch reports it
	}
	byFile, err := batch.ReadManifests(manifests, files)
	if err != nil {
		return false, nil
	}
	type planned struct {
		file string
		m    batch.Meta
		err  error
	}
	var plan []planned
	timed := f.publishAt != ""
	for _, src := range files {
		abs, _ := filepath.Abs(src)
		m := byFile[abs]
		side, err := batch.ReadSidecar(src + ".json")
		m = m.Merge(side)
		if m.PublishAt == nil && f.publishAt != "" {
			m.PublishAt = &f.publishAt
		}
		if m.PublishAt != nil {
			timed = true
			if _, perr := queue.ParsePublishAt(*m.PublishAt); perr != nil && err == nil {
				err = fmt.Errorf("%s: %w", src, perr)
			}
		}
		plan = append(plan, planned{file: src, m: m, err: err})
	}
	if !timed {
		return false, nil
	}
	if err := checkPublishAt(f.publishAt); err != nil {
		return true, err
	}
	if f.dryRun {
		return true, usagef("--dry-run and publish times: a dry run posts nothing, so there is nothing to schedule; leave one out")
	}
	c, ok, err := newServiceClient(ev)
	if err != nil {
		return true, usageError{err}
	}
	if !ok {
		return true, usageError{fmt.Errorf("publish times in batch: %w", errNeedService)}
	}
	var items []scheduledItem
	bad := 0
	for _, p := range plan {
		if p.err != nil {
			bad++
			printScheduled(stdout, scheduledResult{Source: p.file, Error: &errorBody{pipeline.CodeBadMetadata, p.err.Error()}}, f.json)
			continue
		}
		st := p.m.Apply(pipeline.Status{Caption: f.caption, Participants: f.participants, BackgroundColor: f.backgroundColor})
		at := ""
		if p.m.PublishAt != nil {
			at = *p.m.PublishAt
		}
		items = append(items, scheduledItem{file: p.file,
			fields: statusFields(st.Caption, st.Participants, st.BackgroundColor, f.crop, f.videoFit, at)})
	}
	err = scheduleAll(ctx, c, items, f.json, stdout)
	if err == nil && bad > 0 {
		err = exitError{exitFailed}
	}
	return true, err
}

// runDeleteIDs is statuses --delete with job ids (MEDIAPREP_API_URL set)
// or several ids; false leaves one idMessage to runStatuses.
func runDeleteIDs(ctx context.Context, log *slog.Logger, f *statusesFlags, ev *env, args []string, stdout io.Writer) (bool, error) {
	if f.stats != "" {
		return true, usagef("--stats and --delete: give one")
	}
	var ids []string
	for _, s := range append(strings.Split(f.delete, ","), args...) {
		if s = strings.TrimSpace(s); s != "" {
			ids = append(ids, s)
		}
	}
	c, ok, err := newServiceClient(ev)
	if err != nil {
		return true, usageError{err}
	}
	if !ok && len(ids) <= 1 {
		return false, nil
	}
	failed := 0
	if ok {
		ids, failed = deleteJobs(ctx, c, ids, f.json, stdout)
	}
	if len(ids) > 0 {
		gcfg, err := f.greenConfig(ev)
		if err != nil {
			return true, usageError{fmt.Errorf("%s: not a job of the service; as idMessages they need Green API settings: %w", strings.Join(ids, ", "), err)}
		}
		gcfg.Logger = log
		client, err := greenapi.New(gcfg)
		if err != nil {
			return true, usageError{err}
		}
		for _, id := range ids {
			if err := client.DeleteStatus(ctx, id); err != nil {
				failed++
				fmt.Fprintf(stdout, "FAIL  %s: %s\n", greenapi.CodeOf(err), err)
				continue
			}
			if f.json {
				line, _ := json.Marshal(map[string]string{"deleted": id})
				fmt.Fprintf(stdout, "%s\n", line)
			} else {
				fmt.Fprintf(stdout, "deleted %s\n", id)
			}
		}
	}
	switch {
	case ctx.Err() != nil:
		return true, exitError{exitInterrupted}
	case failed > 0:
		return true, exitError{exitFailed}
	}
	return true, nil
}
