package transcode

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

// phoneProbe is what ffprobe says of a compliant portrait phone clip.
func phoneProbe() *Probe {
	return &Probe{
		FormatName: "mov,mp4,m4a,3gp,3g2,mj2", Duration: 30, Size: 10 << 20,
		Streams: []Stream{
			{Index: 0, Type: "video", Codec: "h264", PixFmt: "yuv420p", Width: 1920, Height: 1080, Rotation: 90},
			{Index: 1, Type: "audio", Codec: "aac", Profile: "LC"},
		},
	}
}

func TestPlanVideoFastPath(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Media, o *Options)
		copy   bool
	}{
		{"compliant phone clip", func(*Media, *Options) {}, true},
		{"forced transcode", func(_ *Media, o *Options) { o.ForceTranscode = true }, false},
		{"no audio", func(m *Media, _ *Options) { m.Probe.Streams = m.Probe.Streams[:1] }, true},
		{"hevc", func(m *Media, _ *Options) { m.Probe.Streams[0].Codec = "hevc" }, false},
		{"8-bit HLG", func(m *Media, _ *Options) { m.Probe.Streams[0].Transfer = "arib-std-b67" }, false},
		{"10-bit", func(m *Media, _ *Options) { m.Probe.Streams[0].PixFmt = "yuv420p10le" }, false},
		{"odd width", func(m *Media, _ *Options) { m.Probe.Streams[0].Width = 1919 }, false},
		{"mp3 audio", func(m *Media, _ *Options) { m.Probe.Streams[1].Codec = "mp3" }, false},
		{"HE-AAC", func(m *Media, _ *Options) { m.Probe.Streams[1].Profile = "HE-AAC" }, false},
		{"too long", func(m *Media, _ *Options) { m.Probe.Duration = 61 }, false},
		{"60.02 s is 60 s", func(m *Media, _ *Options) { m.Probe.Duration = 60.02 }, true},
		{"too big", func(m *Media, _ *Options) { m.Probe.Size = 17 << 20 }, false},
		{"4K", func(m *Media, _ *Options) { m.Probe.Streams[0].Width, m.Probe.Streams[0].Height = 3840, 2160 }, false},
		{"matroska", func(m *Media, _ *Options) { m.Probe.FormatName = "matroska,webm" }, false},
		{"animated gif", func(m *Media, _ *Options) { m.Format = "gif" }, false},
		{"crop asked, 16:9 shown as 9:16", func(_ *Media, o *Options) { o.VideoFit = FitCrop }, true},
		{"crop asked, landscape", func(m *Media, o *Options) { m.Probe.Streams[0].Rotation = 0; o.VideoFit = FitCrop }, false},
		{"pad asked, landscape", func(m *Media, o *Options) { m.Probe.Streams[0].Rotation = 0; o.VideoFit = FitPad }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Media{Kind: KindVideo, Format: "mov,mp4,m4a,3gp,3g2,mj2", Probe: phoneProbe()}
			o := Options{}.withDefaults()
			tt.change(&m, &o)
			p, err := planVideo(m, o)
			if err != nil {
				t.Fatal(err)
			}
			if p.copy != tt.copy {
				t.Fatalf("copy = %v, want %v", p.copy, tt.copy)
			}
			if _, hasAudio := m.Probe.Audio(); p.silent == hasAudio {
				t.Fatalf("silent = %v with audio %v", p.silent, hasAudio)
			}
		})
	}
}

func TestPlanVideoAsIs(t *testing.T) {
	m := Media{Kind: KindVideo, Format: "mov,mp4", Probe: phoneProbe()}
	if p, _ := planVideo(m, Options{}.withDefaults()); !p.asIs {
		t.Error("a compliant clip with one video and one audio stream is not served as it is")
	}
	m.Probe.Tags = map[string]string{"com.apple.quicktime.location.ISO6709": "+48.8577+002.295/"}
	if p, _ := planVideo(m, Options{}.withDefaults()); !p.copy || p.asIs {
		t.Errorf("a clip with a location tag: copy %v, asIs %v; want a remux that drops it", p.copy, p.asIs)
	}
	m = Media{Kind: KindVideo, Format: "mov,mp4", Probe: phoneProbe()}
	m.Probe.Streams = append(m.Probe.Streams, Stream{Index: 2, Type: "data", Codec: "bin_data"})
	if p, _ := planVideo(m, Options{}.withDefaults()); !p.copy || p.asIs {
		t.Errorf("a clip with a data track: copy %v, asIs %v; want a remux", p.copy, p.asIs)
	}
}

func TestServableAsIs(t *testing.T) {
	for file, want := range map[string]bool{
		"samples/sample.mp4": true,  // made with +faststart
		"samples/sample.mov": false, // QuickTime, not MP4
		"bad/truncated.mp4":  false, // moov at the end, cut off
		"samples/sample.jpg": false,
	} {
		got, err := servableAsIs(filepath.Join("..", "testdata", file))
		if err != nil || got != want {
			t.Errorf("servableAsIs(%s) = %v, %v; want %v", file, got, err, want)
		}
	}
}

func TestVideoFilter(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int
		fit          Fit
		wantW, wantH int
		wantSteps    string
	}{
		{"4K landscape", 3840, 2160, FitKeep, 1920, 1080, "scale=1920:1080"},
		{"portrait phone", 1080, 1920, FitKeep, 1080, 1920, "scale=1080:1920"},
		{"small stays small", 320, 240, FitKeep, 320, 240, "scale=320:240"},
		{"odd sides made even", 161, 121, FitKeep, 160, 120, "scale=160:120"},
		{"tall portrait 4K", 2160, 3840, FitKeep, 1080, 1920, "scale=1080:1920"},
		{"crop 1080p", 1920, 1080, FitCrop, 608, 1080, "crop=608:1080:656:0"},
		{"crop 4K", 3840, 2160, FitCrop, 1080, 1920, "crop=1215:2160:1312:0"},
		{"pad 1080p", 1920, 1080, FitPad, 1080, 1920, "pad=1080:1920:0:656"},
		{"pad small", 320, 240, FitPad, 320, 568, "pad=320:568:0:164"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, w, h := videoFilter(tt.w, tt.h, tt.fit, false)
			if w != tt.wantW || h != tt.wantH {
				t.Fatalf("size %d×%d, want %d×%d (filter %s)", w, h, tt.wantW, tt.wantH, f)
			}
			if w%2 != 0 || h%2 != 0 {
				t.Fatalf("odd output size %d×%d", w, h)
			}
			if !strings.Contains(f, tt.wantSteps) || !strings.HasSuffix(f, "format=yuv420p") {
				t.Fatalf("filter %q lacks %q or the yuv420p format", f, tt.wantSteps)
			}
			if tt.fit != FitKeep && !isStatusAspect(w, h) && !isStatusAspect(w+2, h) {
				t.Fatalf("%s output %d×%d is not 9:16", tt.fit, w, h)
			}
		})
	}
}

func TestVideoFilterHDR(t *testing.T) {
	for _, fit := range []Fit{FitKeep, FitCrop, FitPad} {
		f, _, _ := videoFilter(3840, 2160, fit, true)
		iScale, iTone := strings.Index(f, "scale="), strings.Index(f, "tonemap=")
		if iTone < 0 || iScale > iTone {
			t.Errorf("%s: HDR filter %q must tone-map, after scaling", fit, f)
		}
		if iPad := strings.Index(f, "pad="); iPad >= 0 && iPad < iTone {
			t.Errorf("%s: bars are padded before tone mapping: %q", fit, f)
		}
		if sdr, _, _ := videoFilter(3840, 2160, fit, false); strings.Contains(sdr, "tonemap") {
			t.Errorf("%s: SDR input is tone-mapped: %q", fit, sdr)
		}
	}
}

func TestVideoBitrateCap(t *testing.T) {
	for _, d := range []float64{1, 10, 30, 59.9, 60} {
		rate := videoBitrateCap(d)
		total := (float64(rate)*(d+1) + statusAudioRate*d) / 8
		if total > MaxVideoBytes {
			t.Errorf("%.0f s at %d bit/s makes %.0f bytes, over the cap", d, rate, total)
		}
		if rate <= 1_000_000 {
			t.Errorf("%.0f s: cap %d bit/s is too low for 1080p", d, rate)
		}
	}
	if videoBitrateCap(5) != videoMaxRate {
		t.Error("short clips should get the quality cap, not a huge rate")
	}
}

func TestVideoArgs(t *testing.T) {
	plan := videoPlan{silent: true, duration: 12.5, filter: "scale=320:240", maxRate: 2_000_000}
	args := videoArgs(plan, input{path: "in.mov", demuxers: "mov", force: "mov"}, "out.tmp", 1)
	joined := strings.Join(args, " ")
	if iT, iI := slices.Index(args, "-t"), slices.Index(args, "-i"); iT < 0 || iT > iI || args[iT+1] != "60" {
		t.Fatalf("the 60 s trim must come before the first -i: %v", args)
	}
	for _, want := range []string{
		"-i anullsrc", "-t 12.500 -i anullsrc", "-map 0:V:0", "-map 1:a:0", "-c:v libx264", "-maxrate 2000000",
		"-c:a aac", "-movflags +faststart", "-threads 1", "-f mp4 out.tmp",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("args lack %q: %s", want, joined)
		}
	}
	if args[len(args)-1] != "out.tmp" {
		t.Error("output must be the last argument")
	}
	cp := strings.Join(videoArgs(videoPlan{copy: true, duration: 10}, input{path: "in.mp4", demuxers: "mov"}, "out.tmp", 0), " ")
	for _, want := range []string{"-c:v copy", "-c:a copy", "-map 0:a:0", "+faststart"} {
		if !strings.Contains(cp, want) {
			t.Errorf("fast-path args lack %q: %s", want, cp)
		}
	}
	if strings.Contains(cp, "libx264") || strings.Contains(cp, "-vf") {
		t.Errorf("fast path re-encodes: %s", cp)
	}
}

// topLevelBoxes lists the box types at the top of an MP4 file.
func topLevelBoxes(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var boxes []string
	var hdr [16]byte
	for {
		if _, err := io.ReadFull(f, hdr[:8]); err != nil {
			return boxes
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		boxes = append(boxes, string(hdr[4:8]))
		skip := size - 8
		if size == 1 {
			if _, err := io.ReadFull(f, hdr[8:16]); err != nil {
				return boxes
			}
			skip = int64(binary.BigEndian.Uint64(hdr[8:16])) - 16
		}
		if size == 0 || skip < 0 {
			return boxes
		}
		if _, err := f.Seek(skip, io.SeekCurrent); err != nil {
			return boxes
		}
	}
}

func TestPrepareVideo(t *testing.T) {
	testutil.NeedFFmpeg(t)
	tr := newTestTranscoder(t)
	dir := t.TempDir()
	x264 := "-c:v libx264 -preset ultrafast -pix_fmt yuv420p"
	gen := func(name, args string) string { return makeMedia(t, dir, name, strings.Fields(args)...) }
	long := gen("long.mp4", "-f lavfi -i testsrc2=s=320x180:r=15:d=70 -f lavfi -i sine=duration=70 "+x264+" -c:a aac -shortest")
	fourK := gen("4k.mkv", "-f lavfi -i testsrc2=s=3840x2160:r=5:d=1 "+x264+" -an")
	mute := gen("mute.mp4", "-f lavfi -i testsrc2=s=320x240:r=15:d=2 "+x264)
	// A landscape-coded clip that phones show in portrait.
	coded := gen("coded.mp4", "-f lavfi -i testsrc2=s=640x360:r=15:d=2 -f lavfi -i sine=duration=2 "+x264+" -c:a aac -shortest")
	rotated := gen("rotated.mp4", "-i "+coded+" -c copy -metadata:s:v:0 rotate=90")
	hlg := gen("hlg.mp4", "-f lavfi -i testsrc2=s=640x360:r=15:d=1 -c:v libx265 -preset ultrafast -pix_fmt yuv420p10le"+
		" -color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc -tag:v hvc1 -x265-params log-level=error")
	samples := filepath.Join("..", "testdata", "samples")

	tests := []struct {
		name         string
		src          string
		opts         Options
		fast         bool
		wantW, wantH int
		maxSecs      float64
	}{
		{"70 s is cut to 60", long, Options{}, false, 320, 180, 60.1},
		{"4K scaled to 1080p, silent track", fourK, Options{}, false, 1920, 1080, 1.2},
		{"no audio gets silence", mute, Options{}, true, 320, 240, 2.2},
		{"rotated phone clip, fast path keeps rotation", rotated, Options{}, true, 360, 640, 2.2},
		{"rotated phone clip, transcoded upright", rotated, Options{ForceTranscode: true}, false, 360, 640, 2.2},
		{"crop to 9:16", coded, Options{VideoFit: FitCrop}, false, 202, 360, 2.2},
		{"pad to 9:16", coded, Options{VideoFit: FitPad}, false, 640, 1138, 2.2},
		{"webm", filepath.Join(samples, "sample.webm"), Options{}, false, 320, 240, 2.2},
		{"10-bit HLG HEVC tone-mapped", hlg, Options{}, false, 640, 360, 1.2},
		{"camera mts", filepath.Join(samples, "camera.mts"), Options{}, false, 320, 240, 1.2},
		{"animated gif", filepath.Join(samples, "animated.gif"), Options{}, false, 160, 120, 1.2},
		{"compliant mp4", filepath.Join(samples, "sample.mp4"), Options{}, true, 320, 240, 3.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out.mp4")
			res, err := tr.Prepare(t.Context(), tt.src, dst, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindVideo || res.ContentType != "video/mp4" || res.FastPath != tt.fast {
				t.Fatalf("result %+v, want a video with FastPath %v", res, tt.fast)
			}
			p, err := tr.probe(t.Context(), dst, "mp4")
			if err != nil {
				t.Fatal(err)
			}
			v, _ := p.Video()
			a, hasAudio := p.Audio()
			if v.Codec != "h264" || v.PixFmt != "yuv420p" || !hasAudio || a.Codec != "aac" || a.Profile != "LC" || len(p.Streams) != 2 {
				t.Fatalf("streams %+v: want h264 yuv420p + aac LC", p.Streams)
			}
			if w, h := v.DisplaySize(); w != tt.wantW || h != tt.wantH || res.Width != w || res.Height != h {
				t.Fatalf("displayed %d×%d (result %d×%d), want %d×%d", w, h, res.Width, res.Height, tt.wantW, tt.wantH)
			}
			if v.Width%2 != 0 || v.Height%2 != 0 {
				t.Fatalf("odd coded size %d×%d", v.Width, v.Height)
			}
			if v.HDR() {
				t.Fatalf("the output is still HDR (%s)", v.Transfer)
			}
			if p.Duration <= 0.5 || p.Duration > tt.maxSecs {
				t.Fatalf("duration %.2f, want within (0.5, %.1f]", p.Duration, tt.maxSecs)
			}
			if d := res.Duration - p.Duration; d > 0.1 || d < -0.1 {
				t.Fatalf("reported duration %.3f, ffprobe says %.3f", res.Duration, p.Duration)
			}
			boxes := topLevelBoxes(t, dst)
			if im, id := slices.Index(boxes, "moov"), slices.Index(boxes, "mdat"); im < 0 || im > id {
				t.Fatalf("top-level boxes %v: moov must come before mdat (faststart)", boxes)
			}
		})
	}
}

func TestPrepareVideoFailures(t *testing.T) {
	testutil.NeedFFmpeg(t)
	samples := filepath.Join("..", "testdata", "samples")
	t.Run("truncated with its index first", func(t *testing.T) {
		// An upload cut short: moov (at the front) promises more media
		// than the file holds. Neither the fast path nor a transcode may
		// turn it into a shorter status.
		data, err := os.ReadFile(filepath.Join(samples, "sample.mp4"))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "cut.mp4")
		if err := os.WriteFile(src, data[:len(data)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		tr := newTestTranscoder(t)
		for _, force := range []bool{false, true} {
			dst := filepath.Join(dir, "out.mp4")
			_, err := tr.Prepare(t.Context(), src, dst, Options{ForceTranscode: force})
			if !errors.Is(err, ErrCorruptMedia) {
				t.Fatalf("force %v: Prepare = %v, want ErrCorruptMedia", force, err)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Fatalf("force %v: a truncated input left an output", force)
			}
		}
	})
	t.Run("decodes much shorter than it claims", func(t *testing.T) {
		// A Matroska file cut short has no index to contradict: the
		// duration check catches it.
		tr := newTestTranscoder(t)
		dir := t.TempDir()
		long := makeMedia(t, dir, "long.mkv", strings.Fields("-f lavfi -i testsrc2=s=160x120:r=10:d=20 -c:v libx264 -preset ultrafast")...)
		m, err := tr.Sniff(t.Context(), long)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(long)
		if err := os.WriteFile(long, data[:len(data)/3], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = tr.PrepareMedia(t.Context(), long, m, filepath.Join(dir, "out.mp4"), Options{})
		if !errors.Is(err, ErrCorruptMedia) {
			t.Fatalf("Prepare = %v, want ErrCorruptMedia", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		cfg := NewDefaultConfig()
		cfg.RunTimeout = time.Millisecond
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		dst := filepath.Join(dir, "out.mp4")
		_, err = tr.Prepare(t.Context(), filepath.Join(samples, "sample.webm"), dst, Options{})
		if !errors.Is(err, ErrTimeout) || CodeOf(err) != CodeTimeout {
			t.Fatalf("Prepare = %v, want ErrTimeout", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a timed-out run left %v", entries)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		tr := newTestTranscoder(t)
		dir := t.TempDir()
		m, err := tr.Sniff(t.Context(), filepath.Join(samples, "sample.webm"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = tr.PrepareMedia(ctx, filepath.Join(samples, "sample.webm"), m, filepath.Join(dir, "out.mp4"), Options{})
		if CodeOf(err) != CodeCanceled {
			t.Fatalf("Prepare = %v, want canceled", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a canceled run left %v", entries)
		}
	})
}
