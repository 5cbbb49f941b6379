package service

import (
	"context"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/queue"
	"github.com/mediaprep/mediaprep/storage"
)

// Bucket is where sources and prepared files live: *storage.Store (S3) or
// *storage.Dir (a folder in the data directory).
type Bucket interface {
	pipeline.Store
	// Ping checks that the bucket is reachable.
	Ping(ctx context.Context) error
	// List returns every complete object under prefix, in key order.
	List(ctx context.Context, prefix string) ([]storage.Object, error)
	// Download writes the object at key to the file dst (created or
	// truncated; removed on error) and returns its metadata.
	Download(ctx context.Context, key, dst string) (storage.Object, error)
	// PutFile stores the file at path under key; on error nothing is left
	// under key.
	PutFile(ctx context.Context, key, path string, obj storage.Object) (storage.Object, error)
	// Move renames from to to (copy then delete for S3).
	Move(ctx context.Context, from, to string) error
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Jobs is the job queue as the HTTP API and the inbox see it; *queue.Queue
// is the implementation.
type Jobs interface {
	// Enqueue stores j as queued (giving it an ID when it has none) and
	// queues it. It returns queue.ErrQueueFull when the queue is full.
	Enqueue(ctx context.Context, j queue.Job) (queue.Job, error)
	// Get returns the job with id, or queue.ErrNotFound.
	Get(ctx context.Context, id string) (queue.Job, error)
	// Depth is the number of jobs queued or running.
	Depth(ctx context.Context) (int, error)
	// Ping checks that the queue is reachable.
	Ping(ctx context.Context) error
}
