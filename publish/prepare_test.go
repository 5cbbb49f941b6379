package publish

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mediaprep/mediaprep/pipeline"
	"github.com/mediaprep/mediaprep/transcode"
)

// fakePreparer takes files named *.jpg as pictures (1080x1920, 2 KiB) and
// refuses every other file as unsupported, without ffmpeg.
type fakePreparer struct{}

func (fakePreparer) Sniff(_ context.Context, path string) (transcode.Media, error) {
	if !strings.HasSuffix(path, ".jpg") {
		return transcode.Media{}, transcode.ErrUnsupportedType
	}
	return transcode.Media{Kind: transcode.KindImage, Format: "jpeg"}, nil
}

func (fakePreparer) PrepareMedia(_ context.Context, _ string, m transcode.Media, dst string, _ transcode.Options) (transcode.Result, error) {
	if err := os.WriteFile(dst, []byte("prepared"), 0o644); err != nil {
		return transcode.Result{}, err
	}
	return transcode.Result{Kind: m.Kind, ContentType: "image/jpeg", Ext: ".jpg", Width: 1080, Height: 1920, Size: 2048}, nil
}

// TestPrepare: each file gets its line in input order (a FAIL line with
// its code for a file that cannot be prepared) and the run a summary;
// with asJSON a JSON object each, a failed one as {source, error} only.
// A failure ends the run in ErrFailed, a canceled one in ErrInterrupted.
func TestPrepare(t *testing.T) {
	out := t.TempDir()
	pl, err := pipeline.New(pipeline.Config{OutDir: out}, fakePreparer{})
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"in/a.jpg", "in/notes.txt", "in/b.jpg"}
	var b bytes.Buffer
	err = Prepare(t.Context(), pl, transcode.Options{}, files, 2, false, &b)
	if !errors.Is(err, ErrFailed) {
		t.Errorf("Prepare = %v, want ErrFailed", err)
	}
	want := regexp.MustCompile(`^ok    image in/a\.jpg -> ` + regexp.QuoteMeta(filepath.Join(out, "a.jpg")) + `  1080x1920 2\.0 KiB sendMediaStatus\n` +
		`FAIL  in/notes\.txt: unsupported_type: transcode: unsupported media type\n` +
		`ok    image in/b\.jpg -> .*\n` +
		`2 prepared, 1 failed in [0-9.]+ s \(unsupported_type: 1\)\n$`)
	if !want.MatchString(b.String()) {
		t.Errorf("output:\n%s", b.String())
	}

	b.Reset()
	_ = Prepare(t.Context(), pl, transcode.Options{}, files[:2], 1, true, &b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"source":"in/a.jpg","kind":"image",`) ||
		lines[1] != `{"source":"in/notes.txt","error":{"code":"unsupported_type","message":"in/notes.txt: transcode: unsupported media type"}}` {
		t.Errorf("JSON output:\n%s", b.String())
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b.Reset()
	if err := Prepare(ctx, pl, transcode.Options{}, files[:1], 1, true, &b); !errors.Is(err, ErrInterrupted) || !strings.Contains(b.String(), `"code":"canceled"`) {
		t.Errorf("Prepare(canceled) = %v, printed %q; want ErrInterrupted and a canceled line", err, b.String())
	}
}

// TestHumanBytes: sizes read in B, KiB or MiB with one decimal.
func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
