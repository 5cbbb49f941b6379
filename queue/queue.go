package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Queue is a job queue on one NATS connection. It is safe for concurrent
// use; many Queues in many processes may share the same stream.
type Queue struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer
	jobs   jetstream.KeyValue
	limits jetstream.KeyValue
}

// Open creates the stream, the consumer and the buckets cfg names, or
// updates them to cfg (only what differs; copies never shrink), and
// returns the queue on nc. Many processes may
// call it at once. The caller closes nc after the last use of the Queue.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, nc: nc, js: js}

	auto, replicas := cfg.Replicas == 0, cfg.Replicas
	if auto {
		replicas = autoReplicas(nc)
	}
	scfg := jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "mediaprep jobs waiting for a worker (payload: job id)",
		Subjects:    []string{cfg.Subject + ".*"}, // one subject per job: Requeue can tell whether its message is there
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxMsgs:     cfg.MaxQueued,
		Discard:     jetstream.DiscardNew,
		Replicas:    replicas,
	}
	q.stream, err = q.ensureStream(ctx, scfg, auto, workQueueFit)
	if err != nil {
		return nil, fmt.Errorf("queue: creating stream %s: %w", cfg.Stream, err)
	}
	ccfg := jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		Description:   "mediaprep workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: -1, // the stream's MaxMsgs bounds it
		// Replicas 0: as many copies as its stream, now and after the
		// stream grows (a number here could, in a race with a process
		// scaling the stream, exceed it: the server refuses that).
	}
	q.cons, err = js.CreateConsumer(ctx, cfg.Stream, ccfg)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		q.cons, err = js.UpdateConsumer(ctx, cfg.Stream, ccfg)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: creating consumer %s on stream %s: %w", cfg.Consumer, cfg.Stream, err)
	}
	buckets := []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&q.jobs, jetstream.KeyValueConfig{Bucket: cfg.JobsBucket, Description: "mediaprep job records", TTL: jobsMaxAge}},
		{&q.limits, jetstream.KeyValueConfig{Bucket: cfg.LimitsBucket, Description: "mediaprep shared rate limits"}},
	}
	for _, b := range buckets {
		b.cfg.Storage, b.cfg.Replicas = jetstream.FileStorage, replicas
		*b.kv, err = q.ensureBucket(ctx, b.cfg, auto)
		if err != nil {
			return nil, fmt.Errorf("queue: creating key-value bucket %s: %w", b.cfg.Bucket, err)
		}
	}
	return q, nil
}

// validID is what a job ID may look like: it is a key in the jobs bucket
// and a path segment in the HTTP API.
var validID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Enqueue stores j as queued and puts it on the queue. A job without an
// ID gets a random one; an ID already used is an error. When the queue
// holds MaxQueued jobs it returns an error wrapping ErrQueueFull and
// stores nothing.
func (q *Queue) Enqueue(ctx context.Context, j Job) (Job, error) {
	if j.ID == "" {
		j.ID = newID()
	}
	if !validID.MatchString(j.ID) {
		return Job{}, fmt.Errorf("queue: job id %q: use 1 to 128 letters, digits, - and _", j.ID)
	}
	now := time.Now().UTC()
	j.State, j.Created, j.Updated = StateQueued, now, now
	data, err := json.Marshal(j)
	if err != nil {
		return Job{}, fmt.Errorf("queue: job %s: %w", j.ID, err)
	}
	var rev uint64
	if err := call(ctx, func(ctx context.Context) (err error) { rev, err = q.jobs.Create(ctx, j.ID, data); return err }); err != nil {
		if isConflict(err) {
			return Job{}, fmt.Errorf("%w: %s; enqueue it under another id", ErrExists, j.ID)
		}
		return Job{}, fmt.Errorf("queue: storing job %s: %w", j.ID, err)
	}
	if err := call(ctx, func(ctx context.Context) error {
		_, err := q.js.Publish(ctx, q.subject(j.ID), []byte(j.ID), jetstream.WithMsgID(msgID(j.ID, rev)))
		return err
	}); err != nil {
		// Without its message nobody would run the job: take the record
		// back. (Should the publish have been stored after all, a worker
		// finds no record and drops the message.)
		if derr := call(context.WithoutCancel(ctx), func(ctx context.Context) error { return q.jobs.Delete(ctx, j.ID) }); derr != nil {
			q.log.Error("queue: removing the record of a job that was not queued", "job", j.ID, "err", derr)
		}
		if isFull(err) {
			return Job{}, fmt.Errorf("%w (%d jobs waiting); try again later: %w", ErrQueueFull, q.cfg.MaxQueued, err)
		}
		return Job{}, fmt.Errorf("queue: queueing job %s: %w", j.ID, err)
	}
	return j, nil
}

// subject is the subject of a job's message.
func (q *Queue) subject(id string) string { return q.cfg.Subject + "." + id }

// msgID is the message id (for the server's duplicate detection) of the
// message queueing revision rev of job id's record. The revision is in it
// so that a job enqueued again under the same id (its first record taken
// back after a publish whose answer was lost, its message then dropped by
// a worker finding no record) is not taken for a duplicate of that
// dropped message and left without one.
func msgID(id string, rev uint64) string { return id + "." + strconv.FormatUint(rev, 10) }

// Requeue queues the job with id again when its record says it is not
// finished but the stream holds no message for it (its process died
// between storing the record and queueing it); it reports whether it did.
func (q *Queue) Requeue(ctx context.Context, id string) (bool, error) {
	j, rev, err := q.get(ctx, id)
	if err != nil {
		return false, err
	}
	if j.State.Final() {
		return false, nil
	}
	err = call(ctx, func(ctx context.Context) error {
		_, err := q.stream.GetLastMsgForSubject(ctx, q.subject(id))
		return err
	})
	switch {
	case err == nil:
		return false, nil // waiting or running
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return false, fmt.Errorf("queue: looking for the message of job %s: %w", id, err)
	}
	// The same message id as Enqueue's (the record unchanged since it
	// was stored): should that publish be in flight right now, the server
	// keeps one of the two.
	var ack *jetstream.PubAck
	err = call(ctx, func(ctx context.Context) error {
		ack, err = q.js.Publish(ctx, q.subject(id), []byte(id), jetstream.WithMsgID(msgID(id, rev)))
		return err
	})
	if err != nil {
		if isFull(err) {
			return false, fmt.Errorf("%w: %w", ErrQueueFull, err)
		}
		return false, fmt.Errorf("queue: requeueing job %s: %w", id, err)
	}
	if ack.Duplicate {
		return false, nil // published within the server's duplicate window; look again later
	}
	q.log.Warn("queue: job had a record but no message; queued it again", "job", id)
	return true, nil
}

// Get returns the job with id, or an error wrapping ErrNotFound.
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	j, _, err := q.get(ctx, id)
	return j, err
}

func (q *Queue) get(ctx context.Context, id string) (Job, uint64, error) {
	if !validID.MatchString(id) {
		return Job{}, 0, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	var e jetstream.KeyValueEntry
	err := call(ctx, func(ctx context.Context) (err error) { e, err = q.jobs.Get(ctx, id); return err })
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Job{}, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, 0, fmt.Errorf("queue: reading job %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return Job{}, 0, fmt.Errorf("queue: job %s: broken record: %w", id, err)
	}
	return j, e.Revision(), nil
}

// Update applies fn to the job with id and stores the result, with
// Updated set to now. When another process changed the job in between,
// it reads it again and calls fn again. When fn returns an error, nothing
// is written and Update returns that error as it is.
func (q *Queue) Update(ctx context.Context, id string, fn func(*Job) error) (Job, error) {
	for {
		j, rev, err := q.get(ctx, id)
		if err != nil {
			return Job{}, err
		}
		if err := fn(&j); err != nil {
			return Job{}, err
		}
		j.ID = id
		j.Updated = time.Now().UTC()
		data, err := json.Marshal(j)
		if err != nil {
			return Job{}, fmt.Errorf("queue: job %s: %w", id, err)
		}
		err = call(ctx, func(ctx context.Context) error { _, err := q.jobs.Update(ctx, id, data, rev); return err })
		switch {
		case err == nil:
			return j, nil
		case isConflict(err):
			continue
		default:
			return Job{}, fmt.Errorf("queue: writing job %s: %w", id, err)
		}
	}
}

// Depth is the number of jobs waiting or running.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	// A work-queue stream holds exactly the messages not acked yet:
	// waiting and running. (The consumer's pending counts lag behind.)
	var info *jetstream.StreamInfo
	err := call(ctx, func(ctx context.Context) (err error) { info, err = q.stream.Info(ctx); return err })
	if err != nil {
		return 0, fmt.Errorf("queue: stream %s: %w", q.cfg.Stream, err)
	}
	return int(info.State.Msgs), nil
}

// Ping checks that the stream answers.
func (q *Queue) Ping(ctx context.Context) error {
	if err := call(ctx, func(ctx context.Context) error { _, err := q.stream.Info(ctx); return err }); err != nil {
		return fmt.Errorf("queue: stream %s: %w", q.cfg.Stream, err)
	}
	return nil
}

// newID is 16 random lowercase hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// isConflict tells a key-value write refused because the key's revision
// was not the one given (or the key exists, for Create).
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// isFull tells a publish refused because the stream holds MaxMsgs (with
// DiscardNew, the server answers 10077 "maximum messages exceeded").
func isFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrStoreFailed &&
		strings.Contains(apiErr.Description, "maximum messages")
}

// jsErrStoreFailed is the server's JSStreamStoreFailedF error code.
const jsErrStoreFailed jetstream.ErrorCode = 10077

// callTimeout bounds one request to the server (nats.go's own default for
// requests without a deadline). A caller's context may allow minutes (a
// job's), but a request whose server went down mid-request gets no answer
// at all: it is given up on after this, and retried by the caller, which
// reaches another node.
const callTimeout = 5 * time.Second

// call runs f with ctx bounded by callTimeout.
func call(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return f(ctx)
}
