package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A job whose message was delivered MaxDeliver times without an answer
// (each worker died, or each asked to retry) is never delivered again, but
// a work-queue stream keeps its message and the job would stay in whatever
// state the last worker left. The server announces such a message in an
// advisory; Work listens for it, marks the job failed and deletes the
// message. The advisory is sent only while someone listens, so Work also
// sweeps now and then for messages the consumer has left behind.

// maxDeliveriesAdvisory is the part of the server's advisory we read.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// opTimeout bounds the bookkeeping of one exhausted message.
const opTimeout = 30 * time.Second

// watchMaxDeliveries handles the advisories and sweeps until stop is called.
func (q *Queue) watchMaxDeliveries(ctx context.Context) (stop func(), err error) {
	subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", q.cfg.Stream, q.cfg.Consumer)
	sub, err := q.nc.Subscribe(subject, func(m *nats.Msg) {
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
			q.log.Warn("queue: unreadable max-deliveries advisory", "err", err, "data", string(m.Data))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		q.exhausted(ctx, adv.StreamSeq, adv.Deliveries)
	})
	if err != nil {
		return nil, fmt.Errorf("queue: subscribing to %s: %w", subject, err)
	}

	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if err := call(sctx, q.sweep); err != nil && sctx.Err() == nil {
				q.log.Warn("queue: looking for jobs delivered too often failed", "err", err)
			}
			sleep(sctx, sweepEvery)
			if sctx.Err() != nil {
				return
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		_ = sub.Unsubscribe()
	}, nil
}

// sweep handles the messages the consumer is done with that are still in
// the stream: a work-queue stream removes acked and terminated messages,
// so those left were delivered too often. Done are the messages at or
// below the ack floor, and, while none is pending, every message
// delivered. (The floor alone lags: the server moves it past a message
// it gave up on only at the next ack.)
func (q *Queue) sweep(ctx context.Context) error {
	info, err := q.cons.Info(ctx)
	if err != nil {
		return err
	}
	done := info.AckFloor.Stream
	if info.NumAckPending == 0 {
		done = max(done, info.Delivered.Stream)
	}
	for seq := uint64(1); seq <= done; seq++ {
		m, err := q.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(q.cfg.Subject+".*"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if m.Sequence > done {
			return nil
		}
		q.exhausted(ctx, m.Sequence, q.cfg.MaxDeliver)
		seq = m.Sequence
	}
	return nil
}

// exhausted marks the job of the message at seq failed, unless it is
// final, and deletes the message.
func (q *Queue) exhausted(ctx context.Context, seq uint64, deliveries int) {
	m, err := q.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return // handled by another process
	}
	if err != nil {
		q.log.Error("queue: reading a message delivered too often", "seq", seq, "err", err)
		return
	}
	id := string(m.Data)
	log := q.log.With("job", id)
	_, err = q.Update(ctx, id, func(j *Job) error {
		if j.State.Final() {
			return ErrFinal
		}
		msg := fmt.Sprintf("delivered %d times without finishing (the worker stopped or asked to retry each time)", deliveries)
		if j.Error != "" {
			msg += "; last error: " + j.Error
		}
		if j.IDMessage != "" {
			// The status went out; only what came after (moving the
			// source) did not finish. It is posted, with the reason.
			j.State, j.ErrorCode, j.Error = StatePosted, CodeMaxDeliveries, "posted, but then "+msg
			return nil
		}
		j.State, j.ErrorCode, j.Error = StateFailed, CodeMaxDeliveries, msg
		return nil
	})
	switch {
	case err == nil:
		log.Error("queue: job failed: delivered too often", "deliveries", deliveries)
	case errors.Is(err, ErrFinal), errors.Is(err, ErrNotFound):
	default:
		log.Error("queue: marking a job delivered too often as failed; trying again later", "err", err)
		return // keep the message for the next sweep
	}
	if err := q.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		log.Warn("queue: deleting the message of a job delivered too often", "seq", seq, "err", err)
	}
}
