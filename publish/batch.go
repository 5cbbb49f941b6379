package publish

import (
	"context"
	"io"

	"github.com/mediaprep/mediaprep/batch"
	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// RunFiles posts files with the run's Prepare and Status (Run).
func (p *Runner) RunFiles(ctx context.Context, files []string, w io.Writer) error {
	stems := pipeline.Stems(files)
	jobs := make([]pipeline.Post, len(files))
	for i, src := range files {
		jobs[i] = pipeline.Post{Source: src, Stem: stems[i], Prepare: p.cfg.Prepare, Status: p.cfg.Status}
	}
	return p.Run(ctx, jobs, w)
}

// RunBatch posts the files of a batch (batch.Plan), each with the run's
// Prepare and Status under its own settings; an entry with an error fails with
// pipeline.CodeBadMetadata. force posts again what the ledger holds.
func (p *Runner) RunBatch(ctx context.Context, plan []batch.Entry, force bool, w io.Writer) error {
	files := make([]string, len(plan))
	for i, e := range plan {
		files[i] = e.File
	}
	stems := pipeline.Stems(files)
	jobs := make([]pipeline.Post, 0, len(plan))
	var bad []Result
	for i, e := range plan {
		if e.Err != nil {
			bad = append(bad, Result{Posted: pipeline.Posted{Prepared: pipeline.Prepared{Source: e.File}}, Error: badMetadata(e.Err)})
			continue
		}
		jobs = append(jobs, pipeline.Post{Source: e.File, Stem: stems[i], Prepare: e.Meta.Prepare(p.cfg.Prepare), Status: e.Meta.Apply(p.cfg.Status), Force: force})
	}
	return p.Run(ctx, jobs, w, bad...)
}

// ScheduleBatch hands the files of a batch (batch.Plan) to the service
// (Schedule), each with f under its own settings and publish time; an
// entry with an error fails with pipeline.CodeBadMetadata.
func (c *Service) ScheduleBatch(ctx context.Context, plan []batch.Entry, f Fields, asJSON bool, w io.Writer) error {
	var items []Item
	var bad []Scheduled
	for _, e := range plan {
		if e.Err != nil {
			bad = append(bad, Scheduled{Source: e.File, Error: badMetadata(e.Err)})
			continue
		}
		fe := f
		fe.Status, fe.PublishAt = e.Meta.Apply(f.Status), e.PublishAt()
		prep := e.Meta.Prepare(transcode.Options{Crop: transcode.CropMode(f.Crop), VideoFit: transcode.Fit(f.VideoFit)})
		fe.Crop, fe.VideoFit = string(prep.Crop), string(prep.VideoFit)
		items = append(items, fileItem(e.File, fe))
	}
	return c.Schedule(ctx, items, asJSON, w, bad...)
}

func badMetadata(err error) *Error {
	return &Error{Code: pipeline.CodeBadMetadata, Message: err.Error()}
}
