package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/publish"
	"github.com/mediaprep/mediaprep/queue"
)

// Scheduled statuses wait in a running service's queue, where the wait
// survives restarts: post and batch cannot hold them themselves. With
// --publish-at (or a publishAt in a batch sidecar or manifest) they hand
// the statuses to the service named by MEDIAPREP_API_URL (key:
// MEDIAPREP_API_KEY) over its HTTP API (publish.Service), and
// `mediaprep statuses --delete JOB` cancels one.

// errNeedService is the usage error of a schedule without a service.
var errNeedService = errors.New("a status posted later waits in a running service's queue (mediaprep serve), where the wait survives restarts: " +
	"set MEDIAPREP_API_URL (e.g. http://127.0.0.1:8080) and MEDIAPREP_API_KEY to hand it to one, or leave out the publish time to post now")

// newServiceClient is the service MEDIAPREP_API_URL names; nil when it is
// not set.
func newServiceClient(ev *config.Env) (*publish.Service, error) {
	base := ev.Str(config.APIURLEnv, "")
	if strings.TrimSpace(base) == "" {
		return nil, nil
	}
	c, err := publish.NewService(base, ev.Str(config.APIKeyEnv, ""))
	if err != nil {
		return nil, fmt.Errorf("%s %w", config.APIURLEnv, err)
	}
	return c, nil
}

// scheduleService is the service a schedule goes to, after the checks
// every schedule passes; what names what is scheduled in its errors.
func scheduleService(f *config.Settings, ev *config.Env, what, dryRunErr string) (*publish.Service, error) {
	// Checked before anything is sent; the service checks it again
	// against its own limit.
	if _, err := queue.ParsePublishAt(f.PublishAt); err != nil {
		return nil, usageError{err}
	}
	if f.DryRun {
		return nil, usagef("%s", dryRunErr)
	}
	c, err := newServiceClient(ev)
	if err == nil && c == nil {
		err = fmt.Errorf("%s: %w", what, errNeedService)
	}
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// fields are the fields of the statuses post and batch hand over.
func fields(f *config.Settings) publish.Fields {
	return publish.Fields{Status: pipeline.Status{Caption: f.Caption, Participants: f.Participants, BackgroundColor: f.BackgroundColor},
		Crop: f.Crop, VideoFit: f.VideoFit, PublishAt: f.PublishAt, Account: f.Account}
}

// runPostScheduled is post --publish-at: the files (or the text) go to the
// service, to be posted at that time.
func runPostScheduled(ctx context.Context, f *postFlags, ev *config.Env, files []string, stdout io.Writer) error {
	c, err := scheduleService(f.Settings, ev, "--publish-at",
		"--dry-run and --publish-at: a dry run posts nothing, so there is nothing to schedule; give one")
	if err != nil {
		return err
	}
	return c.SchedulePost(ctx, f.text, f.font, files, fields(f.Settings), f.JSON, stdout)
}

// runBatchScheduled hands a batch with publish times (batch.Plan) to the
// service.
func runBatchScheduled(ctx context.Context, f *batchFlags, ev *config.Env, plan []batch.Entry, stdout io.Writer) error {
	c, err := scheduleService(f.Settings, ev, "publish times in batch",
		"--dry-run and publish times: a dry run posts nothing, so there is nothing to schedule; leave one out")
	if err != nil {
		return err
	}
	return c.ScheduleBatch(ctx, plan, fields(f.Settings), f.JSON, stdout)
}
