package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mediaprep/mediaprep/delivery"
	"github.com/mediaprep/mediaprep/greenapi"
	"github.com/mediaprep/mediaprep/pipeline"
)

// PostText posts st with client (a dry run prints its request instead),
// follows it for cfg.Delivery (0: not), and prints its line (or a JSON
// object with cfg.JSON). Of cfg only DryRun, Delivery, JSON and Logger
// count. It returns ErrFailed when the post failed, ErrInterrupted when
// ctx ended too.
func PostText(ctx context.Context, client *greenapi.Client, st greenapi.TextStatus, cfg Config, stdout io.Writer) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	type textResult struct {
		Method    string            `json:"method"`
		IDMessage string            `json:"idMessage,omitempty"`
		Delivery  string            `json:"delivery,omitempty"`
		Note      string            `json:"deliveryNote,omitempty"`
		Request   *greenapi.Request `json:"request,omitempty"`
		Error     *Error            `json:"error,omitempty"`
	}
	r := textResult{Method: string(pipeline.MethodTextStatus)}
	// The recipe of every status; a text status needs only the sender.
	var send pipeline.Sender = client
	if cfg.DryRun {
		send = &pipeline.DryRunSender{Client: client}
	}
	pub := pipeline.NewPublisher(nil, nil, nil, send, pipeline.PublisherConfig{DryRun: cfg.DryRun, Logger: log})
	start := time.Now()
	out, err := pub.Publish(ctx, pipeline.Post{Text: st.Message, Font: st.Font,
		Status: pipeline.Status{BackgroundColor: st.BackgroundColor, Participants: st.Participants}})
	switch {
	case err != nil:
		r.Error = &Error{greenapi.CodeOf(err), err.Error()}
	case cfg.DryRun:
		r.Request = out.Request
	}
	r.IDMessage = out.IDMessage
	if err == nil && !cfg.DryRun && cfg.Delivery > 0 {
		d := waitDelivery(ctx, client, cfg.Delivery, log, delivery.Watch{IDMessage: out.IDMessage, SentAt: start})
		r.Delivery, r.Note = d.State, d.Note
	}
	switch {
	case cfg.JSON:
		line, _ := json.Marshal(r)
		fmt.Fprintf(stdout, "%s\n", line)
	case r.Error != nil:
		fmt.Fprintf(stdout, "FAIL  text: %s: %s\n", r.Error.Code, r.Error.Message)
	case r.Request != nil:
		body, _ := json.Marshal(r.Request.Body)
		fmt.Fprintf(stdout, "dry   text: would POST %s %s\n", r.Request.URL, body)
	default:
		seen := ""
		if r.Delivery != "" {
			seen = " (delivery " + r.Delivery + ")"
		}
		fmt.Fprintf(stdout, "ok    text -> %s %s%s\n", r.Method, r.IDMessage, seen)
	}
	switch {
	case r.Error != nil && ctx.Err() != nil:
		return ErrInterrupted
	case r.Error != nil:
		return ErrFailed
	}
	return nil
}

// waitDelivery follows one status until it shows in getOutgoingStatuses or
// window ends (pending if ctx ends first).
func waitDelivery(ctx context.Context, client *greenapi.Client, window time.Duration, log *slog.Logger, w delivery.Watch) delivery.Result {
	tr := delivery.New(client, delivery.Config{Window: window, First: time.Second, Logger: log})
	ch := make(chan delivery.Result, 1)
	w.Done = func(r delivery.Result) { ch <- r }
	tr.Follow(w)
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go tr.Run(tctx)
	return <-ch
}
