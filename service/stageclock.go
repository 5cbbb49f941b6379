package service

import (
	"time"

	"github.com/mediaprep/mediaprep/pipeline"
)

// stageClock times the stages of one job for the metrics.
type stageClock struct {
	m       *Metrics
	name    string
	start   time.Time
	prepDur time.Duration
}

func newStageClock(m *Metrics) *stageClock { return &stageClock{m: m} }

func (c *stageClock) enter(name string) {
	now := time.Now()
	if c.name != "" {
		d := now.Sub(c.start)
		c.m.Stage(c.name, d)
		if c.name == string(pipeline.StagePreparing) {
			c.prepDur = d
		}
	}
	c.name, c.start = name, now
}

// done closes the last stage and returns the time spent preparing.
func (c *stageClock) done() time.Duration {
	c.enter("")
	return c.prepDur
}
