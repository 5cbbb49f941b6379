package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// Outcomes of a run, returned by Runner.Run and Tally.Err.
var (
	ErrFailed      = errors.New("publish: at least one file failed")
	ErrInterrupted = errors.New("publish: interrupted")
)

// Tally counts the outcomes of a run for its summary and exit status.
type Tally struct {
	start                 time.Time
	done, skipped, failed int
	codes                 map[string]int
}

// NewTally starts counting; the summary's time runs from now.
func NewTally() *Tally { return &Tally{start: time.Now(), codes: map[string]int{}} }

// Add counts one file: failed with code, skipped, or done.
func (t *Tally) Add(code string, skipped bool) {
	switch {
	case code != "":
		t.failed++
		t.codes[code]++
	case skipped:
		t.skipped++
	default:
		t.done++
	}
}

// Summary prints "N <done>, [M skipped (posted before), ]K failed in X s (codes)".
func (t *Tally) Summary(w io.Writer, done string, withSkipped bool) {
	fmt.Fprintf(w, "%d %s, ", t.done, done)
	if withSkipped {
		fmt.Fprintf(w, "%d skipped (posted before), ", t.skipped)
	}
	fmt.Fprintf(w, "%d failed in %.1f s", t.failed, time.Since(t.start).Seconds())
	if t.failed > 0 {
		fmt.Fprintf(w, " (%s)", formatCodes(t.codes))
	}
	fmt.Fprintln(w)
}

// Err is the run's outcome: ErrInterrupted when ctx ended, ErrFailed when
// any file failed, else nil.
func (t *Tally) Err(ctx context.Context) error {
	switch {
	case ctx.Err() != nil:
		return ErrInterrupted
	case t.failed > 0:
		return ErrFailed
	}
	return nil
}

func formatCodes(codes map[string]int) string {
	var s string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d", c, codes[c])
	}
	return s
}
