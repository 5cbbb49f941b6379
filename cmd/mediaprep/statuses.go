package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/publish"
)

type statusesFlags struct {
	*config.Settings
	minutes int
	stats   string
	delete  string
	json    bool
}

func newStatusesCmd(g *globalFlags, stdout io.Writer, ev *config.Env) *cobra.Command {
	f := statusesFlags{Settings: config.New()}
	cmd := &cobra.Command{
		Use:   "statuses [--minutes N] | --stats ID | --delete ID...",
		Short: "List the statuses the instance sent, show who saw one, or delete one",
		Long: `statuses lists the statuses the instance sent in the last --minutes
(getOutgoingStatuses), each with how far it got (statusMessage: sent,
delivered, read), its file and caption or text: the place to look after an
outcome_unknown or a not_confirmed delivery, before posting a file again. --stats ID shows who a status reached and saw it
(getStatusStatistic); --delete ID deletes it (deleteStatus).

--delete takes several ids (comma-separated, or more arguments). With
MEDIAPREP_API_URL (and MEDIAPREP_API_KEY) set, each is first taken as a job
id of that service: a job not yet posted is canceled, a posted one deleted
(DELETE /v1/statuses/{id}); ids the service does not know are idMessages,
deleted with deleteStatus directly.

Green API settings as for post.`,
		Args: usageArgs(func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && f.delete == "" {
				return fmt.Errorf("unexpected arguments %v: only --delete takes more ids", args)
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatuses(cmd.Context(), g.logger(), &f, ev, args, stdout)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.minutes, "minutes", 1440, "how far back to list")
	fl.StringVar(&f.stats, "stats", "", "show the statistic of the status with this idMessage")
	fl.StringVar(&f.delete, "delete", "", "delete the status with this idMessage")
	fl.BoolVar(&f.json, "json", false, "print JSON")
	f.AddFlags(fl, ev, config.Statuses)
	return cmd
}

func runStatuses(ctx context.Context, log *slog.Logger, f *statusesFlags, ev *config.Env, args []string, stdout io.Writer) error {
	if f.stats != "" && f.delete != "" {
		return usagef("--stats and --delete: give one")
	}
	var svc *publish.Service // ids are job ids of the service first
	if f.delete != "" {
		var err error
		if svc, err = newServiceClient(ev); err != nil {
			return usageError{err}
		}
	}
	q := publish.StatusQuery{Minutes: f.minutes, Stats: f.stats, Delete: f.delete, More: args}
	green := func() (*greenapi.Client, error) { return greenClient(log, f.Settings, ev) }
	return publish.Statuses(ctx, q, svc, green, f.json, stdout)
}

// greenClient is the Green API client of the settings; errors are usage
// errors.
func greenClient(log *slog.Logger, s *config.Settings, ev *config.Env) (*greenapi.Client, error) {
	gcfg, err := s.GreenConfig(ev)
	var c *greenapi.Client
	if err == nil {
		gcfg.Logger = log
		c, err = greenapi.New(gcfg)
	}
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}
