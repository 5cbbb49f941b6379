package transcode

import (
	"bytes"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// TestLimits runs real files through Sniff and Prepare with one limit
// lowered at a time: each is refused with its code, before decoding.
func TestLimits(t *testing.T) {
	testutil.NeedFFmpeg(t)
	dir := t.TempDir()
	samples := filepath.Join("..", "testdata", "samples")
	fast := makeMedia(t, dir, "fast.mp4", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=1000:d=0.05", "-c:v", "libx264", "-preset", "ultrafast")
	hires := makeMedia(t, dir, "hires.wav", "-f", "lavfi", "-i", "sine=sample_rate=96000:duration=0.2")
	tests := []struct {
		name string
		file string
		set  func(*Config)
		code Code
	}{
		{"video frame pixels", filepath.Join(samples, "sample.mp4"), func(c *Config) { c.MaxVideoPixels = 320*240 - 1 }, CodeTooManyPixels},
		{"video frame pixels, not mp4", filepath.Join(samples, "sample.webm"), func(c *Config) { c.MaxVideoPixels = 320*240 - 1 }, CodeTooManyPixels},
		{"gif logical screen", filepath.Join(samples, "animated.gif"), func(c *Config) { c.MaxVideoPixels = 160*120 - 1 }, CodeTooManyPixels},
		{"frame rate", fast, func(c *Config) {}, CodeOverLimit},
		{"duration", filepath.Join(samples, "sample.mp4"), func(c *Config) { c.MaxDuration = 2 * time.Second }, CodeOverLimit},
		{"sample rate", hires, func(c *Config) { c.MaxSampleRate = 48000 }, CodeOverLimit},
		{"channels", filepath.Join(samples, "sample.m4a"), func(c *Config) { c.MaxAudioChannels = 0 }, CodeOverLimit},
		{"within every limit", filepath.Join(samples, "png16.png"), func(c *Config) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewDefaultConfig()
			tt.set(&cfg)
			tr := &Transcoder{cfg: cfg} // New would refuse a zero limit
			dst := filepath.Join(t.TempDir(), "out")
			_, err := tr.Prepare(t.Context(), tt.file, dst, Options{})
			if CodeOf(err) != tt.code {
				t.Fatalf("Prepare = %v (code %q), want code %q", err, CodeOf(err), tt.code)
			}
			if _, serr := os.Stat(dst); (serr == nil) != (tt.code == "") {
				t.Fatalf("output exists: %v, want %v", serr == nil, tt.code == "")
			}
		})
	}
}

func TestConfigValidateLimits(t *testing.T) {
	for _, set := range []func(*Config){
		func(c *Config) { c.MaxDecodedBytes = 0 },
		func(c *Config) { c.MaxVideoPixels = -1 },
		func(c *Config) { c.MaxVideoPixels = 1 << 31 },
		func(c *Config) { c.MaxFrameRate = 0 },
		func(c *Config) { c.MaxDuration = 0 },
		func(c *Config) { c.MaxAudioChannels = 0 },
		func(c *Config) { c.MaxSampleRate = 0 },
	} {
		cfg := NewDefaultConfig()
		set(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("New accepted %+v", cfg)
		}
	}
}

func TestBytesPerPixel(t *testing.T) {
	for _, tt := range []struct {
		m    color.Model
		want int64
	}{
		{color.GrayModel, 1}, {color.Gray16Model, 2}, {color.YCbCrModel, 3},
		{color.NRGBAModel, 4}, {color.CMYKModel, 4}, {color.NRGBA64Model, 8}, {color.RGBA64Model, 8},
		{color.Palette{color.Black, color.White}, 1},
		{color.ModelFunc(func(c color.Color) color.Color { return c }), 8},
	} {
		if got := bytesPerPixel(tt.m); got != tt.want {
			t.Errorf("bytesPerPixel(%T) = %d, want %d", tt.m, got, tt.want)
		}
	}
}

func TestWAVFormat(t *testing.T) {
	head, err := os.ReadFile(filepath.Join("..", "testdata", "samples", "sample.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if ch, rate, ok := wavFormat(head[:64]); !ok || ch != 1 || rate != 16000 {
		t.Errorf("wavFormat = %d, %d, %v; want 1, 16000, true", ch, rate, ok)
	}
	for _, bad := range [][]byte{nil, head[:20], []byte("RIFF\x00\x00\x00\x00WAVEdata\xFF\xFF\xFF\x7F")} {
		if _, _, ok := wavFormat(bad); ok {
			t.Errorf("wavFormat(%q) found a format", bad)
		}
	}
}

func TestISOBMFFTrackSize(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "testdata", "samples", "sample.mov"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if w, h := isobmffTrackSize(f, st.Size()); w != 240 || h != 320 {
		t.Errorf("track size %d×%d, want 240×320", w, h)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, bytes.Repeat([]byte{0xFF}, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	g, _ := os.Open(junk)
	defer g.Close()
	if w, h := isobmffTrackSize(g, 100); w != 0 || h != 0 {
		t.Errorf("junk has a track size %d×%d", w, h)
	}
}

// TestLargeFramesDecodeOnOneThread: a video whose frames are over
// bigFrame is decoded on one thread (-threads 1 before -i), so that
// frame threads do not each hold 8K frames; smaller ones let ffmpeg
// choose.
func TestLargeFramesDecodeOnOneThread(t *testing.T) {
	tr := newTestTranscoder(t)
	for _, tt := range []struct {
		w, h int
		want bool
	}{{8192, 4320, true}, {3840, 2160, true}, {1920, 1080, false}, {2560, 1600, false}} {
		m := Media{Kind: KindVideo, Probe: &Probe{FormatName: "mov,mp4", Streams: []Stream{{Type: "video", Width: tt.w, Height: tt.h}}}}
		in, err := tr.mediaInput("in.mp4", m)
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Join(in.args(), " ")
		before, _, _ := strings.Cut(args, " -i ")
		if got := strings.Contains(before, "-threads 1"); got != tt.want {
			t.Errorf("%d×%d: input options %q, want -threads 1: %v", tt.w, tt.h, before, tt.want)
		}
	}
}
