package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mediaprep/mediaprep/transcode"
)

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"IMG_0001":                  "img_0001",
		"My Holiday Video (1)":      "my-holiday-video-1",
		"  --weird~$%#?!name--  ":   "weird-name",
		"Отпуск 2026":               "2026",
		"Отпуск":                    "status",
		"":                          "status",
		"café au lait":              "caf-au-lait",
		string(make([]byte, 0)):     "status",
		"a/b\\c":                    "a-b-c",
		"x" + string(rune(0x1F600)): "x",
	}
	for in, want := range tests {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	long := Slug(fmt.Sprintf("%0100d", 7))
	if len(long) > 64 {
		t.Errorf("Slug of 100 digits is %d bytes, want at most 64", len(long))
	}
}

func TestMethodFor(t *testing.T) {
	for k, want := range map[transcode.Kind]Method{
		transcode.KindImage: MethodMediaStatus,
		transcode.KindVideo: MethodMediaStatus,
		transcode.KindAudio: MethodVoiceStatus,
	} {
		if got := MethodFor(k); got != want {
			t.Errorf("MethodFor(%s) = %s, want %s", k, got, want)
		}
	}
}

// fakePreparer sniffs every file as kind and writes a few bytes, or fails
// with err.
type fakePreparer struct {
	kind transcode.Kind
	err  error
}

func (f fakePreparer) Sniff(ctx context.Context, path string) (transcode.Media, error) {
	return transcode.Media{Kind: f.kind}, nil
}

func (f fakePreparer) PrepareMedia(ctx context.Context, src string, m transcode.Media, dst string, opts transcode.Options) (transcode.Result, error) {
	if f.err != nil {
		return transcode.Result{}, f.err
	}
	if err := os.WriteFile(dst, []byte("prepared"), 0o644); err != nil {
		return transcode.Result{}, err
	}
	return transcode.Result{Kind: m.Kind, Ext: transcode.ExtFor(m.Kind), ContentType: "audio/mpeg", Size: 8}, nil
}

func TestStems(t *testing.T) {
	got := Stems([]string{"a/Voice Note.wav", "b/Voice Note.m4a", "c/voice-note.ogg", "d/voice-note-2.mp3", "Clip.MOV", "x/clip.mov", "y/clip.mov", "noext", "noext"})
	want := []string{"voice-note", "voice-note-m4a", "voice-note-ogg", "voice-note-2", "clip", "clip-mov", "clip-2", "noext", "noext-2"}
	if !slices.Equal(got, want) {
		t.Fatalf("Stems = %v, want %v", got, want)
	}
}

func TestPrepareNamesOutputs(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Config{OutDir: dir}, fakePreparer{kind: transcode.KindAudio})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Prepare(t.Context(), "in/Voice Note.wav", "voice-note", transcode.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != MethodVoiceStatus || got.FileName != "voice-note.mp3" || got.Output != filepath.Join(dir, "voice-note.mp3") {
		t.Errorf("prepared %+v: want sendVoiceStatus and voice-note.mp3", got)
	}
	if _, err := os.Stat(got.Output); err != nil {
		t.Errorf("output %s: %v", got.Output, err)
	}
}

func TestPrepareErrorKeepsCode(t *testing.T) {
	dir := t.TempDir()
	p, err := New(Config{OutDir: dir}, fakePreparer{kind: transcode.KindVideo, err: fmt.Errorf("%w: bad frame", transcode.ErrCorruptMedia)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Prepare(t.Context(), "in/clip.mov", "clip", transcode.Options{})
	if code := CodeOf(err); code != "corrupt_media" {
		t.Fatalf("CodeOf(%v) = %q, want corrupt_media", err, code)
	}
	if !errors.Is(err, transcode.ErrCorruptMedia) {
		t.Fatal("the error does not wrap transcode.ErrCorruptMedia")
	}
}

// TestFailedPrepareLeavesNoFiles runs the real transcoder on broken media
// that ffmpeg starts to read (and may start to write) before it fails: the
// output folder must stay empty, whatever stage the failure came from.
func TestFailedPrepareLeavesNoFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs ffmpeg")
	}
	tc, err := transcode.New(transcode.NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"truncated.mp4", "truncated-faststart.mp4", "truncated.jpg", "text.mp4", "empty.mp4"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := New(Config{OutDir: dir}, tc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Prepare(t.Context(), filepath.Join("..", "testdata", "bad", name), "out", transcode.Options{})
			if err == nil {
				t.Fatal("broken media prepared without an error")
			}
			if CodeOf(err) == "" {
				t.Errorf("%v: no error code", err)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("a failed prepare left %s in the output folder", e.Name())
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{}, fakePreparer{}); err == nil {
		t.Fatal("New accepted an empty OutDir")
	}
}
