package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaprep/mediaprep/config"
	"github.com/mediaprep/mediaprep/greenapi"
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
			if f.delete != "" {
				if done, err := runDeleteIDs(cmd.Context(), g.logger(), &f, ev, args, stdout); done {
					return err // job ids, or several ids (schedule.go)
				}
			}
			return runStatuses(cmd.Context(), g.logger(), &f, ev, stdout)
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

func runStatuses(ctx context.Context, log *slog.Logger, f *statusesFlags, ev *config.Env, stdout io.Writer) error {
	if f.stats != "" && f.delete != "" {
		return usagef("--stats and --delete: give one")
	}
	gcfg, err := f.GreenConfig(ev)
	if err != nil {
		return usageError{err}
	}
	gcfg.Logger = log
	client, err := greenapi.New(gcfg)
	if err != nil {
		return usageError{err}
	}
	var out any
	switch {
	case f.delete != "":
		if err = client.DeleteStatus(ctx, f.delete); err == nil {
			out = map[string]string{"deleted": f.delete}
			if !f.json {
				fmt.Fprintf(stdout, "deleted %s\n", f.delete)
			}
		}
	case f.stats != "":
		var st []greenapi.StatusStatistic
		if st, err = client.GetStatusStatistic(ctx, f.stats); err == nil {
			out = st
			if !f.json {
				for _, s := range st {
					fmt.Fprintf(stdout, "%s  %-10s %s\n", unixTime(s.Timestamp), s.Status, s.Participant)
				}
				fmt.Fprintf(stdout, "%d participants\n", len(st))
			}
		}
	default:
		var st []greenapi.OutgoingStatus
		if st, err = client.GetOutgoingStatuses(ctx, f.minutes); err == nil {
			out = st
			if !f.json {
				for _, s := range st {
					fmt.Fprintf(stdout, "%s  %s  %-19s %-9s %s\n", unixTime(s.Timestamp), s.IDMessage, s.TypeMessage, orDash(s.StatusMessage), describeStatus(s))
				}
				fmt.Fprintf(stdout, "%d statuses in the last %d minutes\n", len(st), f.minutes)
			}
		}
	}
	if err != nil {
		if f.json {
			line, _ := json.Marshal(map[string]*errorBody{"error": {greenapi.CodeOf(err), err.Error()}})
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			fmt.Fprintf(stdout, "FAIL  %s: %s\n", greenapi.CodeOf(err), err)
		}
		if ctx.Err() != nil {
			return exitError{exitInterrupted}
		}
		return exitError{exitFailed}
	}
	if f.json {
		line, _ := json.Marshal(out)
		fmt.Fprintf(stdout, "%s\n", line)
	}
	return nil
}

func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeStatus is a status's file name and caption, or its text,
// clipped, for one line of the list.
func describeStatus(s greenapi.OutgoingStatus) string {
	text := s.Caption
	if s.ExtendedTextMessage != nil {
		text = s.ExtendedTextMessage.Text
	}
	if r := []rune(strings.Join(strings.Fields(text), " ")); len(r) > 40 {
		text = string(r[:39]) + "…"
	} else {
		text = string(r)
	}
	switch {
	case s.FileName != "" && text != "":
		return s.FileName + " " + strconv.Quote(text)
	case text != "":
		return strconv.Quote(text)
	}
	return s.FileName
}
