package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mediaprep/mediaprep/greenapi"
)

// What `mediaprep statuses` does with the statuses already sent: list
// them, show who saw one, delete some (by job id at a service, or by
// idMessage at Green API). Each function prints a line per status (with
// asJSON: Green API's answer as one JSON line for the list and the
// statistic, a JSON object per id for deletes) and returns ErrFailed or
// ErrInterrupted like Runner.Run.

// StatusQuery is what `mediaprep statuses` is asked: to delete Delete
// (ids, comma-separated, and the ids in More), or to show the statistic
// of Stats, or else to list the statuses of the last Minutes.
type StatusQuery struct {
	Minutes int
	Stats   string
	Delete  string
	More    []string
}

// Statuses answers q. Several ids, or any with a service (svc not nil),
// go to deleteIDs; one idMessage to deleteStatus. green makes the Green API
// client, only when one is needed; its error is returned as it is (with
// deleteIDs, wrapped).
func Statuses(ctx context.Context, q StatusQuery, svc *Service, green func() (*greenapi.Client, error), asJSON bool, w io.Writer) error {
	if q.Delete != "" {
		var ids []string
		for _, s := range append(strings.Split(q.Delete, ","), q.More...) {
			if s = strings.TrimSpace(s); s != "" {
				ids = append(ids, s)
			}
		}
		if svc != nil || len(ids) > 1 {
			return deleteIDs(ctx, svc, ids, green, asJSON, w)
		}
	}
	client, err := green()
	if err != nil {
		return err
	}
	switch {
	case q.Delete != "":
		return deleteStatus(ctx, client, q.Delete, asJSON, w)
	case q.Stats != "":
		return statusStatistic(ctx, client, q.Stats, asJSON, w)
	}
	return listStatuses(ctx, client, q.Minutes, asJSON, w)
}

// listStatuses prints the statuses sent in the last minutes minutes, each
// with how far it got, its file and caption or text, then a count.
func listStatuses(ctx context.Context, c *greenapi.Client, minutes int, asJSON bool, w io.Writer) error {
	st, err := c.GetOutgoingStatuses(ctx, minutes)
	if err == nil && !asJSON {
		for _, s := range st {
			fmt.Fprintf(w, "%s  %s  %-19s %-9s %s\n", unixTime(s.Timestamp), s.IDMessage, s.TypeMessage, orDash(s.StatusMessage), describeStatus(s))
		}
		fmt.Fprintf(w, "%d statuses in the last %d minutes\n", len(st), minutes)
	}
	return printAnswer(ctx, st, err, asJSON, w)
}

// statusStatistic prints who the status idMessage reached and who saw it.
func statusStatistic(ctx context.Context, c *greenapi.Client, idMessage string, asJSON bool, w io.Writer) error {
	st, err := c.GetStatusStatistic(ctx, idMessage)
	if err == nil && !asJSON {
		for _, s := range st {
			fmt.Fprintf(w, "%s  %-10s %s\n", unixTime(s.Timestamp), s.Status, s.Participant)
		}
		fmt.Fprintf(w, "%d participants\n", len(st))
	}
	return printAnswer(ctx, st, err, asJSON, w)
}

// deleteStatus deletes the one status idMessage.
func deleteStatus(ctx context.Context, c *greenapi.Client, idMessage string, asJSON bool, w io.Writer) error {
	err := c.DeleteStatus(ctx, idMessage)
	if err == nil && !asJSON {
		fmt.Fprintf(w, "deleted %s\n", idMessage)
	}
	return printAnswer(ctx, map[string]string{"deleted": idMessage}, err, asJSON, w)
}

// printAnswer prints out as JSON (asJSON) or err as a FAIL line (a JSON
// {"error"} with asJSON), and returns the outcome.
func printAnswer(ctx context.Context, out any, err error, asJSON bool, w io.Writer) error {
	if err != nil {
		if asJSON {
			line, _ := json.Marshal(map[string]*Error{"error": {greenapi.CodeOf(err), err.Error()}})
			fmt.Fprintf(w, "%s\n", line)
		} else {
			fmt.Fprintf(w, "FAIL  %s: %s\n", greenapi.CodeOf(err), err)
		}
		if ctx.Err() != nil {
			return ErrInterrupted
		}
		return ErrFailed
	}
	if asJSON {
		line, _ := json.Marshal(out)
		fmt.Fprintf(w, "%s\n", line)
	}
	return nil
}

// deleteIDs deletes statuses by id. With a service (svc not nil) each id is
// first taken as one of its jobs: a job not yet posted is canceled, a
// posted one deleted. The ids left (all of them without a service) are
// idMessages, deleted with the Green API client green returns; green is
// called only then, and its error is returned wrapped (errors.As finds
// it). It prints a line per id (with asJSON, a JSON object naming the id
// as "job" or "idMessage", with "error" when it failed) and returns ErrInterrupted when ctx
// ended, ErrFailed when any id failed.
func deleteIDs(ctx context.Context, svc *Service, ids []string, green func() (*greenapi.Client, error), asJSON bool, w io.Writer) error {
	failed := 0
	if svc != nil {
		ids, failed = deleteJobs(ctx, svc, ids, asJSON, w)
	}
	if len(ids) > 0 {
		client, err := green()
		if err != nil {
			return fmt.Errorf("%s: not a job of the service; as idMessages they need Green API settings: %w", strings.Join(ids, ", "), err)
		}
		for _, id := range ids {
			if err := client.DeleteStatus(ctx, id); err != nil {
				failed++
				if asJSON {
					line, _ := json.Marshal(map[string]any{"idMessage": id, "error": Error{greenapi.CodeOf(err), err.Error()}})
					fmt.Fprintf(w, "%s\n", line)
				} else {
					fmt.Fprintf(w, "FAIL  %s: %s\n", greenapi.CodeOf(err), err)
				}
				continue
			}
			if asJSON {
				line, _ := json.Marshal(map[string]string{"deleted": id})
				fmt.Fprintf(w, "%s\n", line)
			} else {
				fmt.Fprintf(w, "deleted %s\n", id)
			}
		}
	}
	switch {
	case ctx.Err() != nil:
		return ErrInterrupted
	case failed > 0:
		return ErrFailed
	}
	return nil
}

// deleteJobs cancels or deletes jobs by id at the service; an id the
// service does not know is left in rest (an idMessage, perhaps).
func deleteJobs(ctx context.Context, c *Service, ids []string, asJSON bool, w io.Writer) (rest []string, failed int) {
	for _, id := range ids {
		j, err := c.DeleteJob(ctx, id)
		var se *ServiceError
		switch {
		case errors.As(err, &se) && se.Status == http.StatusNotFound:
			rest = append(rest, id)
			continue
		case err != nil:
			failed++
			e := Error{"unavailable", err.Error()}
			if se != nil {
				e = Error{se.Code, se.Message}
			}
			if asJSON {
				line, _ := json.Marshal(map[string]any{"job": id, "error": e})
				fmt.Fprintf(w, "%s\n", line)
			} else {
				fmt.Fprintf(w, "FAIL  %s: %s: %s\n", id, e.Code, e.Message)
			}
			continue
		}
		if asJSON {
			line, _ := json.Marshal(map[string]any{"job": id, "state": j.State, "idMessage": j.IDMessage})
			fmt.Fprintf(w, "%s\n", line)
		} else {
			fmt.Fprintf(w, "%s %s\n", j.State, id)
		}
	}
	return rest, failed
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
