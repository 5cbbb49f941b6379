package storage

import (
	"errors"
	"fmt"
)

// Stable codes of storage failures, as CodeOf reports them.
const (
	CodeFailed       = "storage_failed" // the object store refused or could not be reached
	CodeLinkRejected = "link_rejected"  // the link would not be delivered by Green API
	CodeNotFound     = "not_found"      // no object at the key
	CodeBadKey       = "bad_key"        // the key is not allowed (a Dir refuses keys that leave its folder)
)

// Sentinel errors; match them with errors.Is.
var (
	ErrFailed       = errors.New("storage: object store failed")
	ErrLinkRejected = errors.New("storage: link is not a direct media link")
	ErrNotFound     = errors.New("storage: no such object")
	ErrBadKey       = errors.New("storage: key not allowed")
)

// CodeOf returns the stable code of a storage error, or "" when err is not
// one.
func CodeOf(err error) string {
	switch {
	case errors.Is(err, ErrLinkRejected):
		return CodeLinkRejected
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrBadKey):
		return CodeBadKey
	case errors.Is(err, ErrFailed):
		return CodeFailed
	}
	return ""
}

// opError wraps a failure of the object store with the operation and key.
func opError(op, key string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrFailed, op, key, err)
}

// notFound is the error of an operation on a key that holds no object.
func notFound(op, key string) error {
	return fmt.Errorf("%w: %s %s", ErrNotFound, op, key)
}
