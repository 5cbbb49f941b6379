package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/transcode"
)

// publish fetches the source (a text status has none) and runs the job
// through a Publisher of its own, whose ledger is the job record: a status
// is posted at most once per job.
func (w *Worker) publish(ctx context.Context, job queue.Job, send *guardedSender, log *slog.Logger, storeOnly bool) (queue.Job, error) {
	dir, err := os.MkdirTemp(w.cfg.TempDir, "job-"+job.ID+"-")
	if err != nil {
		return job, fmt.Errorf("%w: temp folder: %w", storage.ErrFailed, err)
	}
	defer os.RemoveAll(dir)
	text := job.Request.Text != ""
	src := filepath.Join(dir, sourceName(job))
	switch {
	case text:
		src = ""
	case w.local(job, src):
		log.Debug("source taken from this process's upload", "source", job.Source)
	default:
		if _, err := w.cfg.Bucket.Download(ctx, job.Source, src); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return job, &jobError{code: codeSourceMissing, msg: fmt.Sprintf("the source %s is gone from the bucket", job.Source)}
			}
			return job, err
		}
	}
	pl, err := pipeline.New(pipeline.Config{OutDir: filepath.Join(dir, "out")}, w.cfg.Prep)
	if err != nil {
		return job, err
	}
	ledger := &jobLedger{w: w, life: send.life, id: job.ID, log: log}
	pub := pipeline.NewPublisher(pl, w.cfg.Bucket, w.cfg.Check, send,
		pipeline.PublisherConfig{Ledger: ledger, DryRun: w.cfg.DryRun, Logger: log, Linker: w.cfg.Linker})

	stage := newStageClock(w.cfg.Metrics)
	pj := pipeline.Post{
		Source: src, Label: job.Source, // logs name the key, not the temp file
		Text: job.Request.Text, Font: job.Request.Font,
		// Scheduled: linked and posted at its time (schedule.go).
		StoreOnly: storeOnly,
		Prepare: transcode.Options{
			Crop:     transcode.CropMode(job.Request.Crop),
			VideoFit: transcode.Fit(job.Request.VideoFit),
		},
		Status: pipeline.Status{
			Caption: job.Request.Caption, Participants: job.Request.Participants,
			BackgroundColor: job.Request.BackgroundColor,
		},
		Progress: func(s pipeline.Stage) {
			state := stateOf(s)
			stage.enter(string(s))
			if state == "" {
				return
			}
			w.update(ctx, job.ID, log, func(j *queue.Job) error {
				if j.State.Final() || othersPosting(j, send.token) {
					return queue.ErrFinal
				}
				j.State = state
				return nil
			})
			w.cfg.Metrics.JobState(state)
		},
	}
	if text {
		pj.Progress = nil // nothing to prepare or store: its only stage is the send
	} else {
		pj.Stem = pipeline.Stems([]string{src})[0]
	}
	out, err := pub.Publish(ctx, pj)
	if !text {
		err = renamed(err, src, job.Source)
	}
	prepDur := stage.done()
	if out.Kind == transcode.KindVideo || out.Kind == transcode.KindAudio {
		if out.Stored {
			w.cfg.Metrics.FFmpeg(prepDur)
		}
	}
	if err != nil {
		if out.IDMessage != "" {
			// Posted, but the job record could not be written: keep
			// what we know so the retry only records it.
			job.IDMessage = out.IDMessage
			if _, uerr := w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error {
				setPosted(j, out)
				return nil
			}); uerr == nil {
				return w.reload(ctx, job)
			}
			return job, fmt.Errorf("%w: posted as %s, recording it failed: %w", errQueue, out.IDMessage, err)
		}
		return job, err
	}
	if out.Skipped {
		log.Info("already posted", "idMessage", out.IDMessage)
	}
	job, err = w.cfg.Jobs.Update(ctx, job.ID, func(j *queue.Job) error {
		setPosted(j, out)
		return nil
	})
	if err != nil {
		return job, fmt.Errorf("%w: %w", errQueue, err)
	}
	return job, nil
}

// local moves the upload this process kept for job to src, if it has it.
func (w *Worker) local(job queue.Job, src string) bool {
	if w.cfg.LocalSources == "" || job.Origin != queue.OriginUpload {
		return false
	}
	kept := filepath.Join(w.cfg.LocalSources, job.ID)
	st, err := os.Stat(kept)
	if err != nil || st.Size() != job.Size {
		return false
	}
	return os.Rename(kept, src) == nil
}

func (w *Worker) reload(ctx context.Context, job queue.Job) (queue.Job, error) {
	j, err := w.cfg.Jobs.Get(ctx, job.ID)
	if err != nil {
		return job, fmt.Errorf("%w: %w", errQueue, err)
	}
	return j, nil
}

// setPosted copies what Green API answered (or, in a dry run, would have
// been sent) into the job.
func setPosted(j *queue.Job, out pipeline.Posted) {
	j.Key, j.URL, j.LinkExpires = out.Key, out.URL, out.LinkExpires
	j.Method, j.IDMessage, j.DryRun = string(out.Method), out.IDMessage, out.DryRun
	j.OutcomeUnknown = out.OutcomeUnknown
	if !out.PostedAt.IsZero() {
		j.PostedAt = out.PostedAt
	}
}

// sourceName is the file name the source is fetched as: the
// pipeline.DisplayName of its own name, so that the prepared key's slug
// and the name a browser shows keep it. A name starting with a dot gets
// "source" before it, as it always has: prepared keys are named after it.
func sourceName(job queue.Job) string {
	name := job.Name
	if name == "" {
		name = path.Base(job.Source)
	}
	name = cmp.Or(pipeline.DisplayName(name), "source")
	if strings.HasPrefix(name, ".") {
		name = "source" + name
	}
	return name
}

// stateOf maps a pipeline stage to the job state it shows; the link check
// is part of storing, and posting is set by guardedSender as it sends.
func stateOf(s pipeline.Stage) queue.State {
	switch s {
	case pipeline.StagePreparing:
		return queue.StatePreparing
	case pipeline.StageStoring:
		return queue.StateStoring
	}
	return ""
}
