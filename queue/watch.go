package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Change is a job record as one write left it. Rev grows with every write
// to any job, so a watcher can resume after the last Rev it saw.
type Change struct {
	Rev uint64
	Job Job
}

// WatchOptions choose which writes Watch reports.
type WatchOptions struct {
	// IDs limits the watch to these jobs; empty watches every job.
	IDs []string
	// After resumes after this revision: the latest record of each job
	// written since comes first (in revision order), then writes as they
	// happen. Zero: with IDs, the current record of each job first;
	// without IDs, new writes only.
	After uint64
}

// Watch reports writes to job records until ctx ends, then closes the
// channel. A deleted record (a job past its age) is not reported. The
// caller must keep reading until the channel closes.
func (q *Queue) Watch(ctx context.Context, o WatchOptions) (<-chan Change, error) {
	keys := make([]string, 0, len(o.IDs))
	for _, id := range o.IDs {
		if !validID.MatchString(id) {
			return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		keys = append(keys, id)
	}
	opts := []jetstream.WatchOpt{jetstream.IgnoreDeletes()}
	switch {
	case o.After > 0:
		opts = append(opts, jetstream.ResumeFromRevision(o.After+1))
	case len(keys) == 0:
		opts = append(opts, jetstream.UpdatesOnly())
	}
	w, err := q.jobs.WatchFiltered(ctx, keys, opts...)
	if err != nil {
		return nil, fmt.Errorf("queue: watching jobs: %w", err)
	}
	out := make(chan Change)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }() // the watch is over: nothing to undo if unsubscribing fails
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // the end of the current records
					continue
				}
				var j Job
				if err := json.Unmarshal(e.Value(), &j); err != nil {
					q.log.Warn("queue: watch: broken job record", "job", e.Key(), "err", err)
					continue
				}
				select {
				case out <- Change{Rev: e.Revision(), Job: j}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
