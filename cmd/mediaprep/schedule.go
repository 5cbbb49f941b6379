package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/publish"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/transcode"
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

// scheduledResult is one line of the output of a handed-over status.
type scheduledResult = publish.Scheduled

// newServiceClient is the service MEDIAPREP_API_URL names; false when it
// is not set.
func newServiceClient(ev *config.Env) (*publish.Service, bool, error) {
	base := strings.TrimRight(strings.TrimSpace(ev.Str("MEDIAPREP_API_URL", "")), "/")
	if base == "" {
		return nil, false, nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false, fmt.Errorf("MEDIAPREP_API_URL %q: want http(s)://host:port", base)
	}
	return publish.NewService(base, ev.Str("MEDIAPREP_API_KEY", "")), true, nil
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
func deleteJobs(ctx context.Context, c *publish.Service, ids []string, jsonOut bool, stdout io.Writer) (rest []string, failed int) {
	for _, id := range ids {
		j, err := c.DeleteJob(ctx, id)
		var se *publish.ServiceError
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
func runPostScheduled(ctx context.Context, f *postFlags, ev *config.Env, files []string, stdout io.Writer) error {
	if err := checkPublishAt(f.PublishAt); err != nil {
		return err
	}
	if f.DryRun {
		return usagef("--dry-run and --publish-at: a dry run posts nothing, so there is nothing to schedule; give one")
	}
	c, ok, err := newServiceClient(ev)
	if err != nil {
		return usageError{err}
	}
	if !ok {
		return usageError{fmt.Errorf("--publish-at: %w", errNeedService)}
	}
	var items []publish.Item
	if f.text != "" {
		body := map[string]any{"text": f.text, "backgroundColor": f.BackgroundColor, "publishAt": f.PublishAt}
		if f.font != "" {
			body["font"] = f.font
		}
		if f.Account != "" {
			body["account"] = f.Account
		}
		if len(f.Participants) > 0 {
			body["participants"] = f.Participants
		}
		items = append(items, publish.Item{Text: body})
	}
	for _, file := range files {
		items = append(items, publish.Item{File: file,
			Fields: withAccount(publish.StatusFields(f.Caption, f.Participants, f.BackgroundColor, f.Crop, f.VideoFit, f.PublishAt), f.Account)})
	}
	return c.Schedule(ctx, items, f.JSON, stdout)
}

// runBatchScheduled hands a batch with publish times to the service; false
// when no file of the batch has one (batch then posts them itself).
func runBatchScheduled(ctx context.Context, f *batchFlags, ev *config.Env, args []string, stdout io.Writer) (bool, error) {
	files, manifests, err := batch.Collect(args, f.Out, f.manifest)
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
	timed := f.PublishAt != ""
	for _, src := range files {
		abs, _ := filepath.Abs(src)
		m := byFile[abs]
		side, err := batch.ReadSidecar(src + ".json")
		m = m.Merge(side)
		if err == nil {
			err = m.CheckAccount(f.Account)
		}
		if m.PublishAt == nil && f.PublishAt != "" {
			m.PublishAt = &f.PublishAt
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
	if err := checkPublishAt(f.PublishAt); err != nil {
		return true, err
	}
	if f.DryRun {
		return true, usagef("--dry-run and publish times: a dry run posts nothing, so there is nothing to schedule; leave one out")
	}
	c, ok, err := newServiceClient(ev)
	if err != nil {
		return true, usageError{err}
	}
	if !ok {
		return true, usageError{fmt.Errorf("publish times in batch: %w", errNeedService)}
	}
	var items []publish.Item
	bad := 0
	for _, p := range plan {
		if p.err != nil {
			bad++
			publish.PrintScheduled(stdout, publish.Scheduled{Source: p.file, Error: &publish.Error{Code: pipeline.CodeBadMetadata, Message: p.err.Error()}}, f.JSON)
			continue
		}
		st := p.m.Apply(pipeline.Status{Caption: f.Caption, Participants: f.Participants, BackgroundColor: f.BackgroundColor})
		at := ""
		if p.m.PublishAt != nil {
			at = *p.m.PublishAt
		}
		prep := p.m.Prepare(transcode.Options{Crop: transcode.CropMode(f.Crop), VideoFit: transcode.Fit(f.VideoFit)})
		items = append(items, publish.Item{File: p.file,
			Fields: withAccount(publish.StatusFields(st.Caption, st.Participants, st.BackgroundColor, string(prep.Crop), string(prep.VideoFit), at), f.Account)})
	}
	err = c.Schedule(ctx, items, f.JSON, stdout)
	if err == nil && bad > 0 {
		err = exitError{exitFailed}
	}
	return true, err
}

// runDeleteIDs is statuses --delete with job ids (MEDIAPREP_API_URL set)
// or several ids; false leaves one idMessage to runStatuses.
func runDeleteIDs(ctx context.Context, log *slog.Logger, f *statusesFlags, ev *config.Env, args []string, stdout io.Writer) (bool, error) {
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
		gcfg, err := f.GreenConfig(ev)
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

// withAccount adds --account to a handed-over file's fields: without it the
// service would post the status for its default account.
func withAccount(fields url.Values, account string) url.Values {
	if account != "" {
		fields.Set("account", account)
	}
	return fields
}
