package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Claim takes key (an object key, any characters) for the caller: it
// returns true the first time key is claimed by any process, false when it
// was claimed before. A claim lasts 7 days, or until Unclaim.
func (q *Queue) Claim(ctx context.Context, key string) (bool, error) {
	_, err := q.claims.Create(ctx, kvKey(key), []byte(key))
	switch {
	case err == nil:
		return true, nil
	case isConflict(err):
		return false, nil
	default:
		return false, fmt.Errorf("queue: claiming %q: %w", key, err)
	}
}

// Unclaim forgets a claim, so that the next Claim of key returns true.
func (q *Queue) Unclaim(ctx context.Context, key string) error {
	err := q.claims.Delete(ctx, kvKey(key))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("queue: unclaiming %q: %w", key, err)
	}
	return nil
}

// kvKey turns any string into a valid key-value key: the hex SHA-256 of it.
func kvKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
