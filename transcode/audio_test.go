package transcode

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

func TestAudioArgs(t *testing.T) {
	args := audioArgs(input{path: "in.wav", demuxers: "wav"}, "out.tmp", 2)
	iT, iI := slices.Index(args, "-t"), slices.Index(args, "-i")
	if iT < 0 || iI < 0 || iT > iI || args[iT+1] != "60" {
		t.Fatalf("the 60 s trim must come before -i so ffmpeg stops reading: %v", args)
	}
	for _, want := range [][]string{
		{"-map", "0:a:0"}, {"-c:a", "libmp3lame"}, {"-map_metadata", "-1"},
		{"-id3v2_version", "0"}, {"-threads", "2"}, {"-f", "mp3"},
	} {
		if i := slices.Index(args, want[0]); i < 0 || args[i+1] != want[1] {
			t.Errorf("args lack %v: %v", want, args)
		}
	}
	if i := slices.Index(args, "-protocol_whitelist"); i < 0 || i > iI || args[i+1] != "file" || args[iI+1] != "file:in.wav" {
		t.Errorf("the input must be read through the file protocol only: %v", args)
	}
	if !slices.Contains(args, "-vn") {
		t.Errorf("cover art is not dropped (-vn): %v", args)
	}
	if args[len(args)-1] != "out.tmp" {
		t.Errorf("output must be the last argument: %v", args)
	}
	if slices.Contains(audioArgs(input{path: "a", demuxers: "wav"}, "b", 0), "-threads") {
		t.Error("-threads 0 must leave the choice to ffmpeg")
	}
}

// makeMedia runs ffmpeg to make a test input in dir.
func makeMedia(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	full := append([]string{"-nostdin", "-loglevel", "error", "-y"}, append(args, out)...)
	if b, err := exec.Command("ffmpeg", full...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", full, err, b)
	}
	return out
}

func TestPrepareAudio(t *testing.T) {
	testutil.NeedFFmpeg(t)
	tr := newTestTranscoder(t)
	dir := t.TempDir()
	long := makeMedia(t, dir, "long.wav", "-f", "lavfi", "-i", "sine=frequency=300:duration=90")
	// An MP3 with a big cover picture and tags, as music files come.
	cover := makeMedia(t, dir, "cover.png", "-f", "lavfi", "-i", "testsrc2=s=600x600", "-frames:v", "1")
	tagged := makeMedia(t, dir, "tagged.mp3", "-f", "lavfi", "-i", "sine=duration=3", "-i", cover,
		"-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "png", "-disposition:v", "attached_pic",
		"-metadata", "title=Song", "-id3v2_version", "3")
	samples := filepath.Join("..", "testdata", "samples")
	tests := []struct {
		src     string
		maxSecs float64
	}{
		{long, 60.1},
		{tagged, 3.2},
		{filepath.Join(samples, "sample-id3.mp3"), 2.2},
		{filepath.Join(samples, "sample-mpeg2.mp3"), 2.2},
		{filepath.Join(samples, "sample.m4a"), 2.2},
		{filepath.Join(samples, "sample.wav"), 1.2},
		{filepath.Join(samples, "sample.opus"), 2.2},
		{filepath.Join(samples, "sample.flac"), 1.2},
		{filepath.Join(samples, "sample.amr"), 2.2},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.src), func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out.mp3")
			res, err := tr.Prepare(t.Context(), tt.src, dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindAudio || res.ContentType != "audio/mpeg" || res.Ext != ".mp3" {
				t.Fatalf("result %+v", res)
			}
			p, err := tr.probe(t.Context(), dst, "mp3")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := p.Video(); ok || len(p.Streams) != 1 || p.Streams[0].Codec != "mp3" {
				t.Fatalf("streams %+v: want one mp3 stream and no picture", p.Streams)
			}
			if p.Duration <= 0.5 || p.Duration > tt.maxSecs {
				t.Fatalf("duration %.2f s, want within (0.5, %.1f]", p.Duration, tt.maxSecs)
			}
			head := make([]byte, 3)
			f, _ := os.Open(dst)
			if _, err := f.Read(head); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if bytes.Equal(head, []byte("ID3")) {
				t.Fatal("the prepared MP3 starts with an ID3 tag")
			}
		})
	}
}
