package transcode

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mediaprep/mediaprep/internal/testutil"
	"github.com/mediaprep/mediaprep/transcode/hostiletest"
)

// hostileSetup is hostiletest.Setup with the sample MP4 of testdata.
func hostileSetup(t *testing.T, big bool) ([]hostiletest.Case, *hostiletest.Watch) {
	t.Helper()
	return hostiletest.Setup(t, filepath.Join("..", "testdata", "samples", "sample.mp4"), big)
}

// TestPrepareHostile runs every hostile input through Prepare with real
// ffmpeg: each fails with its code, leaves no output, and the file a
// playlist names is never opened.
func TestPrepareHostile(t *testing.T) {
	testutil.NeedFFmpeg(t)
	cases, watch := hostileSetup(t, !testing.Short())
	tr := newTestTranscoder(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			out := t.TempDir()
			for _, force := range []bool{false, true} {
				dst := filepath.Join(out, "status.out")
				_, err := tr.Prepare(t.Context(), c.Path, dst, Options{ForceTranscode: force})
				if got := string(CodeOf(err)); got != c.Code {
					t.Errorf("force %v: Prepare = %v (code %q), want code %q", force, err, got, c.Code)
				}
				if watch.Touched(t) {
					t.Errorf("force %v: the file the input names was opened", force)
				}
			}
			if left, _ := os.ReadDir(out); len(left) > 0 {
				t.Errorf("left %v in the output folder", left)
			}
		})
	}
}

// TestSniffMP3BehindID3 checks that real MP3s behind tags of any size
// still sniff as audio, and that a tag followed by anything but audio
// frames does not.
func TestSniffMP3BehindID3(t *testing.T) {
	testutil.NeedFFmpeg(t)
	dir := t.TempDir()
	cover := makeMedia(t, dir, "cover.png", "-f", "lavfi", "-i", "testsrc2=s=600x600", "-frames:v", "1")
	tagged := makeMedia(t, dir, "tagged.mp3", "-f", "lavfi", "-i", "sine=duration=2", "-i", cover,
		"-map", "0:a", "-map", "1:v", "-c:v", "png", "-disposition:v", "attached_pic", "-id3v2_version", "3",
		"-metadata", "title=a title")
	mp3, err := os.ReadFile(filepath.Join("..", "testdata", "samples", "sample-id3.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	garbage := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x10"), make([]byte, 16)...)
	garbage = append(garbage, "not audio at all, just text that goes on for a while"...)
	double := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), mp3...) // two tags in a row
	tr := newTestTranscoder(t)
	for _, tt := range []struct {
		name string
		data []byte
		kind Kind
		code Code
	}{
		{"cover art tag", nil, KindAudio, ""},
		{"two tags", double, KindAudio, ""},
		{"tag then text", garbage, "", CodeUnsupportedType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := tagged
			if tt.data != nil {
				path = filepath.Join(dir, "x.mp3")
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, err := tr.Sniff(t.Context(), path)
			if CodeOf(err) != tt.code || m.Kind != tt.kind {
				t.Fatalf("Sniff = %v, %v; want kind %q code %q", m.Kind, err, tt.kind, tt.code)
			}
		})
	}
}

// TestHostileBehindTheSniffer checks the second line: were the sniffer
// fooled, ffprobe and ffmpeg still read a playlist only with the demuxer
// of the type it was taken for, and never open what it names.
func TestHostileBehindTheSniffer(t *testing.T) {
	testutil.NeedFFmpeg(t)
	cases, watch := hostileSetup(t, false)
	tr := newTestTranscoder(t)
	for _, c := range cases {
		if c.Code != "unsupported_type" { // the playlists and manifests
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			for _, format := range []string{"mp3", "isobmff", "mpegts"} {
				if _, err := tr.probe(t.Context(), c.Path, format); err == nil {
					t.Errorf("probe as %s succeeded", format)
				}
				if watch.Touched(t) {
					t.Fatalf("probe as %s opened the file the input names", format)
				}
			}
			for _, formatName := range []string{"mov,mp4,m4a,3gp,3g2,mj2", "mp3", "hls", "dash", "concat"} {
				m := Media{Kind: KindVideo, Format: "mp4", Probe: &Probe{
					FormatName: formatName, Duration: 3, Size: 1000,
					Streams: []Stream{{Type: "video", Codec: "h264", PixFmt: "yuv420p", Width: 320, Height: 240}},
				}}
				dst := filepath.Join(t.TempDir(), "out.mp4")
				_, err := tr.PrepareMedia(t.Context(), c.Path, m, dst, Options{ForceTranscode: true})
				if err == nil {
					t.Errorf("PrepareMedia as %s succeeded", formatName)
				}
				if watch.Touched(t) {
					t.Fatalf("ffmpeg reading it as %s opened the file the input names", formatName)
				}
			}
		})
	}
}
