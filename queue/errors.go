package queue

import "errors"

var (
	// ErrNotFound: no job has that ID.
	ErrNotFound = errors.New("queue: no such job")
	// ErrExists: Enqueue was given the id of a job that exists already.
	ErrExists = errors.New("queue: a job with that id exists")
	// ErrQueueFull: the stream holds its maximum number of jobs; try later.
	ErrQueueFull = errors.New("queue: the queue is full")
)
