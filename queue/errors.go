package queue

import "errors"

var (
	// ErrNotFound: no job has that ID.
	ErrNotFound = errors.New("queue: no such job")
	// ErrQueueFull: the stream holds its maximum number of jobs; try later.
	ErrQueueFull = errors.New("queue: the queue is full")
)
