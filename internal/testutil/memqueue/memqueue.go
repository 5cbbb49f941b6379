// Package memqueue is the queue's job records in memory, for the tests of
// the parts that use the queue (the service's API, inbox and worker): the
// methods of *queue.Queue they call, with ways to make them fail.
package memqueue

import (
	"context"
	"sync"
	"time"

	"github.com/mediaprep/mediaprep/queue"
)

// Jobs holds job records like the queue's key-value bucket: Enqueue takes
// each id once. It is safe for concurrent use; set the fields before it
// is used.
type Jobs struct {
	EnqueueErr error // Enqueue's answer, when set
	PingErr    error // Ping's answer
	QueueDepth int   // Depth's answer, with DepthErr
	DepthErr   error
	// FailUpdate, when set, is asked after an Update's fn changed a
	// record from before to after: an error fails the Update, and the
	// record stays as it was.
	FailUpdate func(before, after queue.Job) error

	mu       sync.Mutex
	jobs     map[string]queue.Job
	order    []string // enqueued ids, in order
	requeues int
}

// New returns an empty Jobs.
func New() *Jobs { return &Jobs{jobs: map[string]queue.Job{}} }

// Set stores j under id as it is (no message is queued).
func (m *Jobs) Set(id string, j queue.Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[id] = j
}

// Peek returns the record under id, the zero Job when there is none.
func (m *Jobs) Peek(id string) queue.Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jobs[id]
}

// Enqueue stores j as queued; queue.ErrExists when its id is taken.
func (m *Jobs) Enqueue(_ context.Context, j queue.Job) (queue.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.EnqueueErr != nil {
		return queue.Job{}, m.EnqueueErr
	}
	if _, ok := m.jobs[j.ID]; ok {
		return queue.Job{}, queue.ErrExists
	}
	j.State = queue.StateQueued
	m.jobs[j.ID] = j
	m.order = append(m.order, j.ID)
	return j, nil
}

// Enqueued returns the records of the enqueued jobs as they are now, in
// the order they were enqueued.
func (m *Jobs) Enqueued() []queue.Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]queue.Job, 0, len(m.order))
	for _, id := range m.order {
		out = append(out, m.jobs[id])
	}
	return out
}

// Get returns the record under id, or queue.ErrNotFound.
func (m *Jobs) Get(_ context.Context, id string) (queue.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return queue.Job{}, queue.ErrNotFound
	}
	return j, nil
}

// Update changes the record under id through fn (see FailUpdate).
func (m *Jobs) Update(_ context.Context, id string, fn func(*queue.Job) error) (queue.Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	before, ok := m.jobs[id]
	if !ok {
		return queue.Job{}, queue.ErrNotFound
	}
	j := before
	if err := fn(&j); err != nil {
		return queue.Job{}, err
	}
	if m.FailUpdate != nil {
		if err := m.FailUpdate(before, j); err != nil {
			return queue.Job{}, err
		}
	}
	j.Updated = time.Now()
	m.jobs[id] = j
	return j, nil
}

// Requeue counts its calls and queues nothing (the queue's own is tested
// in package queue).
func (m *Jobs) Requeue(context.Context, string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requeues++
	return false, nil
}

// Requeues is how many times Requeue was called.
func (m *Jobs) Requeues() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requeues
}

// Depth answers QueueDepth and DepthErr.
func (m *Jobs) Depth(context.Context) (int, error) { return m.QueueDepth, m.DepthErr }

// Ping answers PingErr.
func (m *Jobs) Ping(context.Context) error { return m.PingErr }
