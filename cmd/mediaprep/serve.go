package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/service"
	"github.com/mediaprep/mediaprep/web"
)

func newServeCmd(g *globalFlags, ev *config.Env) *cobra.Command {
	s := config.New()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the service: HTTP uploads, the inbox and the workers, on an embedded or shared queue",
		Long: `serve accepts uploads on POST /v1/statuses, picks up files dropped into the
inbox (a folder of the data dir, or a prefix of the bucket), and posts them
through a durable JetStream queue. With no configuration everything is
embedded: the queue, storage in the data dir, links served under /media/,
and Green API in dry-run until MEDIAPREP_GREENAPI_INSTANCE and
MEDIAPREP_GREENAPI_TOKEN are set. See README for the HTTP API.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runService(cmd, g, s, ev, true)
		},
	}
	s.AddFlags(cmd.Flags(), ev, config.Serve)
	return cmd
}

func newWorkerCmd(g *globalFlags, ev *config.Env) *cobra.Command {
	s := config.New()
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run workers only, sharing the queue of an external NATS with other serve and worker processes",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runService(cmd, g, s, ev, false)
		},
	}
	s.AddFlags(cmd.Flags(), ev, config.Worker)
	return cmd
}

// runService runs serve (withAPI: the HTTP API and the inbox as well) or
// worker until the command's context ends.
func runService(cmd *cobra.Command, g *globalFlags, s *config.Settings, ev *config.Env, withAPI bool) error {
	ctx := cmd.Context()
	log := g.logger()
	cfg, creds, err := s.ServiceConfig(cmd.Flags(), ev, withAPI)
	if err != nil {
		return usageError{err}
	}
	cfg.Logger, cfg.HTTP.Web = log, web.Handler()
	if !creds {
		log.Warn("no Green API credentials (MEDIAPREP_GREENAPI_INSTANCE, MEDIAPREP_GREENAPI_TOKEN): dry run, nothing is posted")
	}
	err = service.Run(ctx, cfg)
	var se *service.SettingError
	switch {
	case errors.As(err, &se):
		return usageError{se.Err}
	case err != nil:
		return err
	case ctx.Err() != nil:
		return exitError{exitInterrupted}
	}
	return nil
}
