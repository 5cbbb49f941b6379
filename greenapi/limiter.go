package greenapi

import (
	"context"
	"sync"
	"time"
)

// jitterMargin widens every limiter window so that requests granted exactly
// one window apart cannot arrive closer together than the window after
// scheduling and network jitter.
const jitterMargin = 50 * time.Millisecond

// limiter grants at most n requests in any window (a sliding window, not a
// token bucket: a bucket of burst n refilled at n per second can let n+1
// requests through within one second). Waiters are served in arrival order.
type limiter struct {
	mu     sync.Mutex
	window time.Duration
	grants []time.Time // ring of the last n grant times
	next   int         // index of the oldest grant
}

// newLimiter returns a limiter for rate requests per second: n = ⌊rate⌋
// per n/rate seconds for rate ≥ 1, else one per 1/rate seconds.
func newLimiter(rate float64) *limiter {
	n := 1
	window := time.Duration(float64(time.Second) / rate)
	if rate >= 1 {
		n = int(rate)
		window = time.Duration(float64(n) / rate * float64(time.Second))
	}
	return &limiter{window: window + jitterMargin, grants: make([]time.Time, n)}
}

// wait blocks until the caller may send, or ctx ends. A slot reserved by a
// waiter whose ctx ends stays used, which only makes the limiter stricter.
func (l *limiter) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil || l == nil {
		return err
	}
	l.mu.Lock()
	at := time.Now()
	if oldest := l.grants[l.next]; !oldest.IsZero() {
		if t := oldest.Add(l.window); t.After(at) {
			at = t
		}
	}
	l.grants[l.next] = at
	l.next = (l.next + 1) % len(l.grants)
	l.mu.Unlock()

	if d := time.Until(at); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}
