package greenapi

import "time"

// SetRetryTiming shortens c's backoff for tests.
func SetRetryTiming(c *Client, base, ceiling, maxRetryAfter time.Duration) {
	c.retryBase, c.retryCap, c.maxRetryAfter = base, ceiling, maxRetryAfter
}

// SetLimits replaces c's limiters (requests per second) for tests.
func SetLimits(c *Client, send, del, get float64) {
	c.send, c.del, c.get = newLimiter(send), newLimiter(del), newLimiter(get)
}
