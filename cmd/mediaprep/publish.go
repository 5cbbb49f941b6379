package main

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/publish"
)

// newRunner builds the runner of post and batch from their checked
// settings, for a run over files files, with its ledger at ledgerPath
// ("": none). Bad settings are usage errors.
func newRunner(ctx context.Context, log *slog.Logger, s *config.Settings, c config.Checked, files int, ledgerPath string) (*publish.Runner, error) {
	cfg, err := s.PublishConfig(log, c, files, ledgerPath)
	if err != nil {
		return nil, usageError{err}
	}
	r, err := publish.New(ctx, cfg)
	if errors.Is(err, publish.ErrSettings) {
		return nil, usageError{err}
	}
	return r, err
}

// runLogger is the logger of post and batch: on a terminal with bars, info
// lines would tear the bars, so only warnings and errors are logged unless
// -v asks for everything.
func runLogger(g *globalFlags, asJSON bool, stdout io.Writer) *slog.Logger {
	if !asJSON && !g.verbose && publish.IsTerminal(stdout) {
		return g.loggerAt(slog.LevelWarn)
	}
	return g.logger()
}
