package service

import (
	"context"
	"log/slog"

	"github.com/mediaprep/mediaprep/greenapi"
)

// DryRunSender stands in for Green API when no credentials are set: it
// validates each status like the real call, logs the request it would
// send (the token redacted) and posts nothing.
type DryRunSender struct {
	Client *greenapi.Client // builds the request; its token is never shown
	Logger *slog.Logger
}

var _ Sender = (*DryRunSender)(nil)

func (d *DryRunSender) keep(ctx context.Context, method string, status any) (greenapi.Sent, error) {
	req, err := d.Client.DryRun(method, status)
	if err != nil {
		return greenapi.Sent{}, err
	}
	if d.Logger != nil {
		d.Logger.InfoContext(ctx, "dry run: would send", "method", method, "url", req.URL, "body", string(req.Body))
	}
	return greenapi.Sent{}, nil
}

// SendMediaStatus logs the sendMediaStatus request s would make.
func (d *DryRunSender) SendMediaStatus(ctx context.Context, s greenapi.MediaStatus) (greenapi.Sent, error) {
	return d.keep(ctx, greenapi.MethodSendMediaStatus, s)
}

// SendVoiceStatus logs the sendVoiceStatus request s would make.
func (d *DryRunSender) SendVoiceStatus(ctx context.Context, s greenapi.VoiceStatus) (greenapi.Sent, error) {
	return d.keep(ctx, greenapi.MethodSendVoiceStatus, s)
}

// SendTextStatus logs the sendTextStatus request s would make.
func (d *DryRunSender) SendTextStatus(ctx context.Context, s greenapi.TextStatus) (greenapi.Sent, error) {
	return d.keep(ctx, greenapi.MethodSendTextStatus, s)
}
