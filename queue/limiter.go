package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Limiter grants at most n permissions in any window of time, counted
// together by every process on the same NATS. It keeps the times of the
// last n grants under one key, changed with compare-and-set. Clocks of the
// processes are trusted to agree.
type Limiter struct {
	kv     jetstream.KeyValue
	name   string
	key    string
	n      int
	window time.Duration
}

// Limiter returns the limiter called name: at most n grants in any window.
// With n or window 0 or less, Wait never waits.
func (q *Queue) Limiter(name string, n int, window time.Duration) *Limiter {
	return &Limiter{kv: q.limits, name: name, key: kvKey(name), n: n, window: window}
}

// Wait blocks until the caller may go on, or returns ctx's error. A Wait
// canceled while it sleeps still used up its grant.
func (l *Limiter) Wait(ctx context.Context) error {
	_, err := l.wait(ctx)
	return err
}

// wait is Wait, returning the time it was granted.
func (l *Limiter) wait(ctx context.Context) (time.Time, error) {
	at, err := l.reserve(ctx)
	if err != nil {
		return time.Time{}, err
	}
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-t.C:
		return at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// reserve books the next grant and returns its time: now, or when the
// oldest of the last n grants leaves the window.
func (l *Limiter) reserve(ctx context.Context) (time.Time, error) {
	if l.n <= 0 || l.window <= 0 {
		return time.Now(), nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		var grants []int64 // unix nanoseconds, ascending
		var rev uint64
		var e jetstream.KeyValueEntry
		err := call(ctx, func(ctx context.Context) (err error) { e, err = l.kv.Get(ctx, l.key); return err })
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
		case err != nil:
			return time.Time{}, fmt.Errorf("queue: limiter %s: %w", l.name, err)
		default:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &grants); err != nil {
				grants = nil // broken: start again
			}
			slices.Sort(grants)
		}

		at := time.Now().UnixNano()
		if len(grants) >= l.n {
			grants = grants[len(grants)-l.n:] // n may have been larger before
			at = max(at, grants[0]+int64(l.window))
			grants = grants[1:]
		}
		grants = append(grants, at)
		data, _ := json.Marshal(grants)

		if rev == 0 {
			err = call(ctx, func(ctx context.Context) error { _, err := l.kv.Create(ctx, l.key, data); return err })
		} else {
			err = call(ctx, func(ctx context.Context) error { _, err := l.kv.Update(ctx, l.key, data, rev); return err })
		}
		switch {
		case err == nil:
			return time.Unix(0, at), nil
		case isConflict(err):
			continue // another process granted in between
		default:
			return time.Time{}, fmt.Errorf("queue: limiter %s: %w", l.name, err)
		}
	}
}

// kvKey turns any string into a valid key-value key: the hex SHA-256 of it.
func kvKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
