package config

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// Options returns the preparation options of prepare, post and batch, or
// every problem with their flags.
func (s *Settings) Options() (transcode.Options, error) {
	opts := transcode.Options{
		Crop:           transcode.CropMode(s.Crop),
		VideoFit:       transcode.Fit(s.VideoFit),
		ForceTranscode: s.ForceTranscode,
	}
	var errs []error
	if err := opts.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.Jobs < 1 {
		errs = append(errs, fmt.Errorf("-j %d: need at least one job", s.Jobs))
	}
	return opts, errors.Join(errs...)
}

// Pipeline returns a Pipeline preparing into s.Out for a run over files
// files, within the media limits given, the cores split between the jobs
// that run at once so that parallel ffmpeg runs don't fight over them
// (one file gets them all).
func (s *Settings) Pipeline(log *slog.Logger, files int) (*pipeline.Pipeline, error) {
	tcfg := transcode.NewDefaultConfig()
	tcfg.RunTimeout = s.Timeout
	tcfg.Logger = log
	tcfg.Threads = max(1, runtime.NumCPU()/max(1, min(s.Jobs, files)))
	if err := s.ApplyLimits(&tcfg); err != nil {
		return nil, err
	}
	tr, err := transcode.New(tcfg)
	if err != nil {
		return nil, err
	}
	pcfg := pipeline.NewDefaultConfig()
	pcfg.OutDir = s.Out
	return pipeline.New(pcfg, tr)
}
