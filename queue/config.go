package queue

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Config names the queue's stream, consumer and buckets, and sets how
// deliveries behave. Zero fields take their defaults. Every process
// sharing a queue must use the same Config: Open writes it to the server.
type Config struct {
	Stream       string        // default "MEDIAPREP_JOBS"
	Subject      string        // default "mediaprep.jobs"
	Consumer     string        // default "workers": one durable pull consumer shared by every worker
	JobsBucket   string        // key-value bucket of job records, default "mediaprep_jobs"; a record is kept 30 days after its last change
	LimitsBucket string        // key-value bucket of Limiter, default "mediaprep_limits"
	AckWait      time.Duration // a delivery without news for this long goes to another worker; default 30s
	MaxDeliver   int           // deliveries of a job before it fails with "max_deliveries"; default 10
	MaxQueued    int64         // messages the stream holds at most; Enqueue then fails with ErrQueueFull; default 10000
	// Replicas is how many copies of the stream and buckets a NATS
	// cluster keeps, 1 to 5. 0 (the default): 3 when the server belongs
	// to a cluster that can place 3 copies, else 1. A stream or bucket
	// that has more copies already keeps them.
	Replicas int
	Logger   *slog.Logger // default discards
}

// Defaults of Config.
const (
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 10
)

// jobsMaxAge is how long a job record is kept after its last change, so
// that the bucket does not grow forever.
const jobsMaxAge = 30 * 24 * time.Hour

var (
	// Stream and consumer names: no spaces, dots, wildcards or slashes.
	validName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	// Subjects: dot-separated tokens without wildcards.
	validSubject = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

func (c Config) withDefaults() Config {
	c.Stream = cmp.Or(c.Stream, "MEDIAPREP_JOBS")
	c.Subject = cmp.Or(c.Subject, "mediaprep.jobs")
	c.Consumer = cmp.Or(c.Consumer, "workers")
	c.JobsBucket = cmp.Or(c.JobsBucket, "mediaprep_jobs")
	c.LimitsBucket = cmp.Or(c.LimitsBucket, "mediaprep_limits")
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.MaxDeliver = cmp.Or(c.MaxDeliver, DefaultMaxDeliver)
	c.MaxQueued = cmp.Or(c.MaxQueued, 10000)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	for _, n := range []struct{ field, v string }{
		{"Stream", c.Stream}, {"Consumer", c.Consumer},
		{"JobsBucket", c.JobsBucket}, {"LimitsBucket", c.LimitsBucket},
	} {
		if !validName.MatchString(n.v) {
			errs = append(errs, fmt.Errorf("queue: %s %q: use only letters, digits, - and _", n.field, n.v))
		}
	}
	if !validSubject.MatchString(c.Subject) {
		errs = append(errs, fmt.Errorf("queue: Subject %q: use dot-separated words of letters, digits, - and _ (no wildcards)", c.Subject))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("queue: AckWait %s: must be at least 1s", c.AckWait))
	}
	if c.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("queue: MaxDeliver %d: must be at least 1", c.MaxDeliver))
	}
	if c.MaxQueued < 1 {
		errs = append(errs, fmt.Errorf("queue: MaxQueued %d: must be at least 1", c.MaxQueued))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("queue: Replicas %d: must be 1 to 5, or 0 for automatic", c.Replicas))
	}
	return errors.Join(errs...)
}
