package pipeline

import (
	"context"
	"log/slog"

	"github.com/mediaprep/mediaprep/greenapi"
)

// DryRunSender stands in for Green API when nothing may be posted: it
// checks each status as the real call would and posts nothing. Logger,
// when set, gets the request each would send (the token redacted); a
// Publisher in a dry run gives it in Posted.Request.
type DryRunSender struct {
	Client *greenapi.Client // builds the requests; its token is never shown
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

// SendMediaStatus checks s and logs the sendMediaStatus request it would make.
func (d *DryRunSender) SendMediaStatus(ctx context.Context, s greenapi.MediaStatus) (greenapi.Sent, error) {
	return d.keep(ctx, greenapi.MethodSendMediaStatus, s)
}

// SendVoiceStatus checks s and logs the sendVoiceStatus request it would make.
func (d *DryRunSender) SendVoiceStatus(ctx context.Context, s greenapi.VoiceStatus) (greenapi.Sent, error) {
	return d.keep(ctx, greenapi.MethodSendVoiceStatus, s)
}

// SendTextStatus checks s and logs the sendTextStatus request it would make.
func (d *DryRunSender) SendTextStatus(ctx context.Context, s greenapi.TextStatus) (greenapi.Sent, error) {
	return d.keep(ctx, greenapi.MethodSendTextStatus, s)
}
