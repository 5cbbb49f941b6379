package publish

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/pipeline"
)

// TestValidate: the defaults with a pipeline pass; each bad setting is
// reported, all at once.
func TestValidate(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.Pipeline = &pipeline.Pipeline{}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := NewDefaultConfig()
	bad.Jobs, bad.Delivery = 0, -1
	err := bad.Validate()
	for _, want := range []string{"no pipeline", "0 jobs", "delivery window -1ns"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
}

// TestNewBadSettings: a bad setting makes New fail with ErrSettings, the
// message the setting's own.
func TestNewBadSettings(t *testing.T) {
	_, err := New(t.Context(), Config{Jobs: 1})
	if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), "no pipeline") {
		t.Fatalf("New(no pipeline) = %v, want ErrSettings saying so", err)
	}
	cfg := NewDefaultConfig()
	cfg.Pipeline = &pipeline.Pipeline{}
	_, err = New(t.Context(), cfg) // no bucket
	if !errors.Is(err, ErrSettings) || strings.HasPrefix(err.Error(), "publish:") {
		t.Fatalf("New(no bucket) = %v, want ErrSettings with storage's message", err)
	}
}

// TestTally: the summary counts each outcome and its codes; Err tells an
// interrupted run from a failed one.
func TestTally(t *testing.T) {
	tl := NewTally()
	tl.Add("", false)
	tl.Add("", true)
	tl.Add("unsupported_format", false)
	tl.Add("bad_metadata", false)
	tl.Add("unsupported_format", false)
	var b bytes.Buffer
	tl.Summary(&b, "posted", true)
	want := regexp.MustCompile(`^1 posted, 1 skipped \(posted before\), 3 failed in [0-9]+\.[0-9] s \(bad_metadata: 1, unsupported_format: 2\)\n$`)
	if !want.MatchString(b.String()) {
		t.Errorf("summary %q", b.String())
	}
	if err := tl.Err(t.Context()); !errors.Is(err, ErrFailed) {
		t.Errorf("Err = %v, want ErrFailed", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := tl.Err(ctx); !errors.Is(err, ErrInterrupted) {
		t.Errorf("Err(canceled) = %v, want ErrInterrupted", err)
	}
	if err := NewTally().Err(t.Context()); err != nil {
		t.Errorf("Err(nothing failed) = %v", err)
	}
}

// TestPrintPosted: a failed, skipped and posted file each get their line.
func TestPrintPosted(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Posted: pipeline.Posted{Prepared: pipeline.Prepared{Source: "a.jpg"}}, Error: &Error{"bad_metadata", "a.jpg: broken"}},
			"FAIL  a.jpg: bad_metadata: broken\n"},
		{Result{Posted: pipeline.Posted{Prepared: pipeline.Prepared{Source: "b.jpg"}, IDMessage: "X1", Skipped: true}},
			"skip  b.jpg: posted before as X1 (--force posts it again)\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		printPosted(&b, tt.r)
		if b.String() != tt.want {
			t.Errorf("printPosted = %q, want %q", b.String(), tt.want)
		}
	}
}
