package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Scheduled jobs wait in JetStream itself: the handler of a job whose
// publish time has not come answers WaitUntil, and Work hands the message
// back with NakWithDelay. The server keeps the delay in the consumer's
// state (it survives restarts of every process, the server's too) and
// delivers the message again when it ends, to whichever worker asks.
//
// (nats-server 2.12+ also schedules messages itself, ADR-51's
// Nats-Schedule header, and nats.go 1.55 can set it; but the server
// refuses it on a stream with DiscardNew, which the jobs stream needs to
// answer "queue full", and a schedule's target must be in its own stream.)
//
// A wait costs a delivery. So that waits never count against MaxDeliver, a
// wait that would use the last deliveries puts a fresh message for the job
// on the stream instead and acks the old one; and one wait lasts at most
// MaxWait, so that the job's record is touched (and kept from expiring)
// at least that often.

// MaxWait is the longest one wait of a scheduled job lasts before its
// message comes back and waits again.
const MaxWait = 24 * time.Hour

// DefaultMaxScheduleAhead is how far ahead a publish time may be, by
// default (MEDIAPREP_MAX_SCHEDULE_AHEAD).
const DefaultMaxScheduleAhead = 30 * 24 * time.Hour

// ErrTooFarAhead is a publish time later than the limit allows.
var ErrTooFarAhead = errors.New("queue: publish time too far ahead")

// CodeTooFarAhead is the error code of a publish time too far ahead.
const CodeTooFarAhead = "publish_at_too_far"

// ParsePublishAt reads a publish time: RFC 3339 with an offset
// ("2026-12-01T09:00:00+01:00", "…Z") or Unix seconds ("1796112000").
// The empty string is the zero time (at once).
func ParsePublishAt(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("publishAt %q: Unix seconds out of range", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("publishAt %q: use RFC 3339 with an offset (2026-12-01T09:00:00+01:00) or Unix seconds", s)
	}
	return t.UTC(), nil
}

// PublishAt is a publish time as written in JSON (a service's text body,
// a sidecar, a batch manifest): a string (RFC 3339 or Unix seconds) or a
// number (Unix seconds), kept as text for ParsePublishAt. JSON null is "".
type PublishAt string

// UnmarshalJSON reads a string or a number; anything else is refused.
func (p *PublishAt) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = PublishAt(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("publishAt: want an RFC 3339 string or Unix seconds")
	}
	*p = PublishAt(n.String())
	return nil
}

// CheckPublishAt returns an error wrapping ErrTooFarAhead when t is more
// than ahead after now. A zero t or one in the past is fine (at once).
func CheckPublishAt(t, now time.Time, ahead time.Duration) error {
	if ahead <= 0 {
		ahead = DefaultMaxScheduleAhead
	}
	if !t.IsZero() && t.Sub(now) > ahead {
		return fmt.Errorf("%w: %s is more than %s from now; the limit is MEDIAPREP_MAX_SCHEDULE_AHEAD", ErrTooFarAhead,
			t.Format(time.RFC3339), ahead)
	}
	return nil
}

// WaitUntil is what a Handler returns for a job that must wait until t:
// Work delivers it again then (or after MaxWait, whichever comes first),
// without counting the wait against MaxDeliver.
func WaitUntil(t time.Time) error {
	d := min(max(time.Until(t), 0), MaxWait)
	return &retryError{err: errWaiting, delay: d, wait: true}
}

var errWaiting = errors.New("queue: waiting for the publish time")

// IsWait reports whether err came from WaitUntil.
func IsWait(err error) bool {
	var r *retryError
	return errors.As(err, &r) && r.wait
}

// wait hands msg back for a WaitUntil: delivered again after delay, or,
// when this delivery is one of the last MaxDeliver allows, replaced by a
// fresh message (delivered at once, to wait again from delivery 1). The
// last two deliveries are kept for the work after the wait (a retry);
// with MaxDeliver 2 only the last, and with MaxDeliver 1 a wait is always
// a delivery too many: the job fails with max_deliveries at its time.
func (q *Queue) wait(ctx context.Context, msg jetstream.Msg, id string, attempt int, delay time.Duration, log *slog.Logger) {
	renewAt := q.cfg.MaxDeliver - 1
	if q.cfg.MaxDeliver <= 2 {
		renewAt = q.cfg.MaxDeliver
	}
	if attempt < renewAt || q.cfg.MaxDeliver == 1 {
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("queue: handing back a waiting job failed; it returns after AckWait", "err", err)
		}
		return
	}
	// A new message first, then the ack: should this process die in
	// between, the job has two messages, and its handler's guard keeps it
	// from being sent twice.
	err := call(ctx, func(ctx context.Context) error {
		_, err := q.js.Publish(ctx, q.subject(id), []byte(id))
		return err
	})
	if err != nil {
		log.Warn("queue: renewing the message of a waiting job failed; it waits on the old one", "err", err)
		_ = msg.NakWithDelay(delay)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		log.Warn("queue: acking the old message of a waiting job", "err", err)
	}
}

// Wake puts a message for the job with id on the stream now, whatever its
// state, so that a worker looks at it at once (a canceled job's source is
// moved away then, not at its publish time). Its other messages, if any,
// come as they would; the handler finds the job final and drops them.
func (q *Queue) Wake(ctx context.Context, id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	err := call(ctx, func(ctx context.Context) error {
		_, err := q.js.Publish(ctx, q.subject(id), []byte(id))
		return err
	})
	if err != nil {
		if isFull(err) {
			return fmt.Errorf("%w: %w", ErrQueueFull, err)
		}
		return fmt.Errorf("queue: waking job %s: %w", id, err)
	}
	return nil
}
