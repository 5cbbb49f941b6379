package batch

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlan: a file's sidecar wins over its manifest entry, --publish-at
// fills in where neither sets a time; a broken sidecar or a bad publishAt
// is that file's error, not the plan's; timed tells whether anything has
// a publish time.
func TestPlan(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jpg"), "a")
	write(t, filepath.Join(dir, "a.jpg.json"), `{"caption": "sidecar", "publishAt": "2030-01-02T03:04:05Z"}`)
	write(t, filepath.Join(dir, "b.jpg"), "b")
	write(t, filepath.Join(dir, "c.jpg"), "c")
	write(t, filepath.Join(dir, "c.jpg.json"), `{"caption": `)
	write(t, filepath.Join(dir, "d.jpg"), "d")
	write(t, filepath.Join(dir, "d.jpg.json"), `{"publishAt": "tomorrow"}`)
	write(t, filepath.Join(dir, "manifest.json"), `[{"file": "a.jpg", "caption": "manifest", "backgroundColor": "#112233"}, {"file": "b.jpg", "caption": "manifest b"}]`)

	plan, timed, err := Plan([]string{dir}, filepath.Join(dir, "out"), "", "", "")
	if err != nil || !timed || len(plan) != 4 {
		t.Fatalf("Plan = %d entries, timed %v, %v; want 4, timed (a.jpg's sidecar)", len(plan), timed, err)
	}
	a, b, c, d := plan[0], plan[1], plan[2], plan[3]
	if a.Err != nil || *a.Meta.Caption != "sidecar" || *a.Meta.BackgroundColor != "#112233" || a.PublishAt() != "2030-01-02T03:04:05Z" {
		t.Errorf("a.jpg: %+v, want the sidecar's caption and time over the manifest's background", a)
	}
	if b.Err != nil || *b.Meta.Caption != "manifest b" || b.PublishAt() != "" {
		t.Errorf("b.jpg: %+v, want the manifest's caption, no time", b)
	}
	if c.Err == nil || !strings.Contains(c.Err.Error(), "c.jpg.json") {
		t.Errorf("c.jpg: %v, want the broken sidecar's error", c.Err)
	}
	if d.Err == nil || !strings.HasPrefix(d.Err.Error(), filepath.Join(dir, "d.jpg")+": ") {
		t.Errorf("d.jpg: %v, want the bad publishAt named with its file", d.Err)
	}

	plan, timed, err = Plan([]string{filepath.Join(dir, "b.jpg")}, filepath.Join(dir, "out"), "", "", "")
	if err != nil || timed || len(plan) != 1 {
		t.Errorf("Plan(b.jpg) = %+v, timed %v, %v; want one entry, not timed", plan, timed, err)
	}
	plan, timed, err = Plan([]string{filepath.Join(dir, "b.jpg")}, filepath.Join(dir, "out"), "", "1893553445", "")
	if err != nil || !timed || plan[0].PublishAt() != "1893553445" {
		t.Errorf("Plan(b.jpg, --publish-at) = %+v, timed %v, %v; want the flag's time", plan, timed, err)
	}
}

// TestPlanErrors: a missing argument and a manifest naming no file are the
// plan's errors; no file at all is ErrNoFiles (unless a publish time
// makes it an empty schedule), even with a bad manifest.
func TestPlanErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if _, timed, err := Plan([]string{filepath.Join(dir, "missing")}, out, "", "1893553445", ""); err == nil || errors.Is(err, ErrNoFiles) || timed {
		t.Errorf("Plan(missing) = timed %v, %v; want Collect's error", timed, err)
	}
	if _, _, err := Plan([]string{dir}, out, "", "", ""); !errors.Is(err, ErrNoFiles) {
		t.Errorf("Plan(empty folder) = %v, want ErrNoFiles", err)
	}
	if plan, timed, err := Plan([]string{dir}, out, "", "1893553445", ""); err != nil || !timed || len(plan) != 0 {
		t.Errorf("Plan(empty folder, --publish-at) = %v, timed %v, %v; want an empty schedule", plan, timed, err)
	}
	write(t, filepath.Join(dir, "manifest.json"), `[{"file": "gone.jpg"}]`)
	if _, _, err := Plan([]string{dir}, out, "", "1893553445", ""); !errors.Is(err, ErrNoFiles) {
		t.Errorf("Plan(no file, bad manifest) = %v, want ErrNoFiles", err)
	}
	write(t, filepath.Join(dir, "a.jpg"), "a")
	if _, timed, err := Plan([]string{dir}, out, "", "1893553445", ""); err == nil || !strings.Contains(err.Error(), "gone.jpg") || timed {
		t.Errorf("Plan(bad manifest) = timed %v, %v; want the manifest's error", timed, err)
	}
}
