package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EventsConfig says where bucket event notifications arrive and how they
// are consumed. Every process consuming the same events must use the same
// one.
type EventsConfig struct {
	// Subject is the NATS subject the bucket publishes its events to
	// (MinIO and versitygw: a plain publish, or MinIO's JetStream mode).
	// Required.
	Subject string
	// Stream captures Subject when no stream covers it yet; default
	// "MEDIAPREP_EVENTS". A stream that covers Subject already (an
	// operator's, under any name) is used as it is.
	Stream string
	// Consumer is the durable consumer every process shares; default
	// "inbox".
	Consumer string
	// AckWait: an event whose handler stops answering for this long goes
	// to another process; default 30s.
	AckWait time.Duration
	// Concurrency is how many events this process handles at once;
	// default 8.
	Concurrency int
}

func (c EventsConfig) withDefaults() EventsConfig {
	c.Stream = cmp.Or(c.Stream, "MEDIAPREP_EVENTS")
	c.Consumer = cmp.Or(c.Consumer, "inbox")
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.Concurrency = cmp.Or(c.Concurrency, 8)
	return c
}

// Validate reports every bad setting at once.
func (c EventsConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Subject == "" {
		errs = append(errs, errors.New("queue: events need a Subject"))
	}
	for _, n := range []struct{ field, v string }{{"Stream", c.Stream}, {"Consumer", c.Consumer}} {
		if !validName.MatchString(n.v) {
			errs = append(errs, fmt.Errorf("queue: events %s %q: use only letters, digits, - and _", n.field, n.v))
		}
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("queue: events AckWait %s: must be at least 1s", c.AckWait))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("queue: events Concurrency %d: must be at least 1", c.Concurrency))
	}
	return errors.Join(errs...)
}

// EventHandler handles one event notification, delivered for the
// attempt-th time. nil: the event is done (acked, never delivered again);
// an error from RetryLater: deliver it again after the delay; any other
// error: the event cannot be handled (not JSON, say) and is dropped.
type EventHandler func(ctx context.Context, data []byte, attempt int) error

// eventsMaxAge bounds how long an event nobody could handle is kept; the
// inbox's reconciling listing finds its file anyway.
const eventsMaxAge = 7 * 24 * time.Hour

// eventsMaxMsgs bounds the events stream; the oldest go first.
const eventsMaxMsgs = 1_000_000

// ConsumeEvents runs h on the events of cfg.Subject until ctx ends, through
// a durable consumer that every process shares: an event is handled by
// one process, and one that no process could handle yet (the queue was
// down, a process died with it) is delivered again, however long it
// waits. The stream capturing the subject is created when none covers it,
// with as many copies as the queue's stream. When ctx ends, running
// handlers are waited for.
func (q *Queue) ConsumeEvents(ctx context.Context, cfg EventsConfig, h EventHandler) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	// The queue may be down as this process starts: wait for it.
	pause := newBackoff()
	var cons jetstream.Consumer
	for {
		var err error
		if cons, err = q.eventsConsumer(ctx, cfg); err == nil {
			break
		}
		if ctx.Err() != nil || errors.Is(err, ErrMismatch) || q.nc.IsClosed() {
			return err
		}
		d := pause.next()
		q.log.Warn("queue: cannot set up the bucket events consumer yet; trying again", "err", err, "in", d)
		sleep(ctx, d)
	}
	q.log.Info("queue: consuming bucket events", "subject", cfg.Subject, "stream", cons.CachedInfo().Stream, "consumer", cfg.Consumer)
	var running sync.WaitGroup
	err := q.pull(ctx, cons, cfg.Concurrency, func(msg jetstream.Msg) { q.handleEvent(ctx, cfg, msg, h) }, &running)
	running.Wait()
	return err
}

// eventsConsumer finds or makes the stream and the durable consumer.
func (q *Queue) eventsConsumer(ctx context.Context, cfg EventsConfig) (jetstream.Consumer, error) {
	name, err := q.js.StreamNameBySubject(ctx, cfg.Subject)
	switch {
	case err == nil && name != cfg.Stream:
		q.log.Info("queue: bucket events: using the stream that captures their subject", "stream", name, "subject", cfg.Subject)
	case err == nil || errors.Is(err, jetstream.ErrStreamNotFound):
		name = cfg.Stream
		_, err = q.ensureStream(ctx, jetstream.StreamConfig{
			Name:        cfg.Stream,
			Description: "bucket event notifications for the mediaprep inbox",
			Subjects:    []string{cfg.Subject},
			Retention:   jetstream.WorkQueuePolicy, // an event handled is gone
			Storage:     jetstream.FileStorage,
			MaxAge:      eventsMaxAge,
			MaxMsgs:     eventsMaxMsgs,
			Discard:     jetstream.DiscardOld,
			Replicas:    q.Replicas(),
		}, q.cfg.Replicas == 0, nil)
		if err != nil {
			return nil, fmt.Errorf("queue: creating stream %s for bucket events on %q: %w", cfg.Stream, cfg.Subject, err)
		}
	default:
		return nil, fmt.Errorf("queue: looking for the stream of bucket events on %q: %w", cfg.Subject, err)
	}
	ccfg := jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		Description:   "mediaprep inboxes",
		FilterSubject: cfg.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // until handled: the handler drops what it cannot use
		MaxAckPending: 1000,
	}
	cons, err := q.js.CreateConsumer(ctx, name, ccfg)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		cons, err = q.js.UpdateConsumer(ctx, name, ccfg)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: consumer %s of bucket events on stream %s: %w", cfg.Consumer, name, err)
	}
	return cons, nil
}

// handleEvent runs one event through h and settles it.
func (q *Queue) handleEvent(ctx context.Context, cfg EventsConfig, msg jetstream.Msg, h EventHandler) {
	log := q.log.With("subject", msg.Subject())
	attempt := 1
	if meta, err := msg.Metadata(); err == nil {
		attempt = int(meta.NumDelivered)
		log = log.With("seq", meta.Sequence.Stream)
	}
	stop := keepAlive(msg, cfg.AckWait/3, log)
	err := safeEvent(ctx, h, msg.Data(), attempt, log)
	stop()
	var retry *retryError
	switch {
	case err == nil:
		if err := msg.DoubleAck(context.WithoutCancel(ctx)); err != nil {
			log.Warn("queue: an event was handled but its ack was not confirmed; it may be handled again", "err", err)
		}
	case errors.As(err, &retry):
		if err := msg.NakWithDelay(retry.delay); err != nil {
			log.Warn("queue: handing back an event failed; it returns after AckWait", "err", err)
		}
	case ctx.Err() != nil:
		_ = msg.Nak()
	default:
		log.Warn("queue: dropping a bucket event that cannot be handled", "err", err)
		_ = msg.Term()
	}
}

// safeEvent runs h, turning a panic into an error.
func safeEvent(ctx context.Context, h EventHandler, data []byte, attempt int, log *slog.Logger) (err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("queue: the event handler panicked", "panic", fmt.Sprint(r))
			err = fmt.Errorf("internal error (a bug, please report it): %v", r)
		}
	}()
	return h(ctx, data, attempt)
}
