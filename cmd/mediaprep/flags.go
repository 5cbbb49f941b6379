package main

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// prepFlags are the preparation flags of prepare, post and batch.
type prepFlags struct {
	out            string
	json           bool
	jobs           int
	crop           string
	videoFit       string
	forceTranscode bool
	timeout        time.Duration
	limits         *settings // where the media limits were read into; nil: the defaults
}

// add adds the flags but --out, whose default differs per command.
func (f *prepFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.json, "json", false, "print one JSON object per file, in input order")
	fl.IntVarP(&f.jobs, "jobs", "j", runtime.NumCPU(), "files worked on at once")
	fl.StringVar(&f.crop, "crop", string(transcode.CropCenter), "how pictures become 9:16: center, smart or pad")
	fl.StringVar(&f.videoFit, "video-fit", string(transcode.FitKeep), "how videos are framed: keep, crop or pad (9:16)")
	fl.BoolVar(&f.forceTranscode, "force-transcode", false, "re-encode videos even when a stream copy would do")
	fl.DurationVar(&f.timeout, "timeout", transcode.NewDefaultConfig().RunTimeout, "deadline of one ffmpeg run")
}

// options returns the preparation options, or every problem with the flags.
func (f *prepFlags) options() (transcode.Options, error) {
	opts := transcode.Options{
		Crop:           transcode.CropMode(f.crop),
		VideoFit:       transcode.Fit(f.videoFit),
		ForceTranscode: f.forceTranscode,
	}
	var errs []error
	if err := opts.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.jobs < 1 {
		errs = append(errs, fmt.Errorf("-j %d: need at least one job", f.jobs))
	}
	return opts, errors.Join(errs...)
}

// pipeline returns a Pipeline preparing into f.out for a run over files
// files, the cores split between the jobs that run at once so that
// parallel ffmpeg runs don't fight over them (one file gets them all).
func (f *prepFlags) pipeline(log *slog.Logger, files int) (*pipeline.Pipeline, error) {
	tcfg := transcode.NewDefaultConfig()
	tcfg.RunTimeout = f.timeout
	tcfg.Logger = log
	tcfg.Threads = max(1, runtime.NumCPU()/max(1, min(f.jobs, files)))
	if f.limits != nil {
		if err := f.limits.applyLimits(&tcfg); err != nil {
			return nil, err
		}
	}
	tr, err := transcode.New(tcfg)
	if err != nil {
		return nil, err
	}
	pcfg := pipeline.NewDefaultConfig()
	pcfg.OutDir = f.out
	return pipeline.New(pcfg, tr)
}
