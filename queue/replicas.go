package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// autoReplicas is the number of copies to ask for when Config.Replicas is
// 0: 3 when the server the connection reached belongs to a cluster (its
// INFO names one), else 1. Whether the cluster can really place 3 copies
// (3 JetStream servers up) only its meta leader knows: ensureStream asks
// it by creating, and settles for 1 when it answers that it cannot.
// Counting the servers in INFO's connect_urls would be wrong both ways:
// servers without JetStream are listed, and a cluster set to not
// advertise lists none.
func autoReplicas(nc *nats.Conn) int {
	if nc.ConnectedClusterName() != "" {
		return 3
	}
	return 1
}

// ErrMismatch: a stream or bucket exists with a setting mediaprep cannot
// work with and will not rewrite.
var ErrMismatch = errors.New("queue: existing stream does not fit")

// ensureStream creates the stream of scfg, or brings the existing one to
// scfg, changing only what differs. Replicas only ever grow: a stream an
// operator made bigger keeps its copies. With auto set, a cluster that
// cannot place scfg.Replicas copies gets what it has (1) and a warning,
// instead of an error. fit, when set, checks an existing stream's config
// for what cannot be changed (its retention, say).
func (q *Queue) ensureStream(ctx context.Context, scfg jetstream.StreamConfig, auto bool, fit func(have jetstream.StreamConfig) error) (jetstream.Stream, error) {
	s, err := q.js.Stream(ctx, scfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = q.js.CreateStream(ctx, scfg)
		// A cluster that has just formed may not know all its peers yet.
		for try := 0; auto && scfg.Replicas > 1 && noPeers(err) && try < placeTries; try++ {
			sleep(ctx, placePause)
			s, err = q.js.CreateStream(ctx, scfg)
		}
		if auto && scfg.Replicas > 1 && noPeers(err) {
			q.log.Warn("queue: the NATS cluster cannot place the copies asked for; using 1 (the next start scales it up when it can)",
				"stream", scfg.Name, "replicas", scfg.Replicas, "err", err)
			scfg.Replicas = 1
			s, err = q.js.CreateStream(ctx, scfg)
		}
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, err
		}
		// Made by another process just now: bring it to scfg below.
		s, err = q.js.Stream(ctx, scfg.Name)
	}
	if err != nil {
		return nil, err
	}
	have := s.CachedInfo().Config
	if fit != nil {
		if err := fit(have); err != nil {
			return nil, err
		}
	}
	if have.Replicas > scfg.Replicas {
		q.log.Info("queue: stream has more copies than asked; keeping them", "stream", scfg.Name,
			"replicas", have.Replicas, "asked", scfg.Replicas)
		scfg.Replicas = have.Replicas
	}
	// Creating what exists with the same config changes nothing, while
	// concurrent updates from processes starting together race inside
	// nats-server 2.15.2 (its file store's UpdateConfig against
	// ConsumerStore): update only when something differs.
	s, err = q.js.CreateStream(ctx, scfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = q.js.UpdateStream(ctx, scfg)
		if auto && scfg.Replicas > have.Replicas && noPeers(err) {
			q.log.Warn("queue: the NATS cluster cannot place more copies of the stream now; keeping its copies",
				"stream", scfg.Name, "replicas", have.Replicas, "asked", scfg.Replicas, "err", err)
			scfg.Replicas = have.Replicas
			if s, err = q.js.CreateStream(ctx, scfg); errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				s, err = q.js.UpdateStream(ctx, scfg)
			}
		}
	}
	return s, err
}

// ensureBucket is ensureStream for a key-value bucket: the bucket's stream
// keeps its copies when it has more; auto falls back like ensureStream.
func (q *Queue) ensureBucket(ctx context.Context, kcfg jetstream.KeyValueConfig, auto bool) (jetstream.KeyValue, error) {
	s, err := q.js.Stream(ctx, "KV_"+kcfg.Bucket)
	switch {
	case err == nil:
		if have := s.CachedInfo().Config.Replicas; have > kcfg.Replicas {
			q.log.Info("queue: bucket has more copies than asked; keeping them", "bucket", kcfg.Bucket,
				"replicas", have, "asked", kcfg.Replicas)
			kcfg.Replicas = have
		}
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, err
	}
	create := func() (jetstream.KeyValue, error) {
		kv, err := q.js.CreateKeyValue(ctx, kcfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = q.js.UpdateKeyValue(ctx, kcfg)
		}
		return kv, err
	}
	kv, err := create()
	for try := 0; s == nil && auto && kcfg.Replicas > 1 && noPeers(err) && try < placeTries; try++ {
		sleep(ctx, placePause) // a new cluster may not know all its peers yet
		kv, err = create()
	}
	if auto && kcfg.Replicas > 1 && noPeers(err) {
		have := 1
		if s != nil {
			have = s.CachedInfo().Config.Replicas
		}
		q.log.Warn("queue: the NATS cluster cannot place the copies asked for; keeping fewer (the next start scales it up when it can)",
			"bucket", kcfg.Bucket, "replicas", have, "asked", kcfg.Replicas, "err", err)
		kcfg.Replicas = have
		kv, err = create()
	}
	return kv, err
}

// A new stream that the cluster cannot place is tried again placeTries
// times, placePause apart, before automatic replicas settle for fewer: a
// cluster that has just formed may not know all its peers yet.
const (
	placeTries = 10
	placePause = 500 * time.Millisecond
)

// noPeers tells an answer saying the cluster has not enough JetStream
// servers for the copies asked.
func noPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jsErrClusterNoPeers ||
		apiErr.ErrorCode == jsErrInsufficientResources || apiErr.ErrorCode == jsErrReplicasNotSupported)
}

// Server error codes (nats-server's jetstream_errors_generated.go).
const (
	jsErrClusterNoPeers        jetstream.ErrorCode = 10005
	jsErrInsufficientResources jetstream.ErrorCode = 10023
	jsErrReplicasNotSupported  jetstream.ErrorCode = 10074
)

// workQueueFit refuses an existing jobs stream that is not a file-backed
// work queue: neither can be changed in place, and rewriting an
// operator's stream is not mediaprep's call.
func workQueueFit(have jetstream.StreamConfig) error {
	if have.Retention != jetstream.WorkQueuePolicy || have.Storage != jetstream.FileStorage {
		return fmt.Errorf("%w: stream %s has retention %s and storage %s; mediaprep needs a workqueue on file storage: delete the stream or name another (queue Config Stream)",
			ErrMismatch, have.Name, have.Retention, have.Storage)
	}
	return nil
}

// Replicas is the number of copies the queue's stream keeps.
func (q *Queue) Replicas() int { return q.stream.CachedInfo().Config.Replicas }
