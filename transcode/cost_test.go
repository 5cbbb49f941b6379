package transcode

import (
	"bufio"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestDecodeCostLimit: every kind of picture is refused with over_limit
// when MaxDecodedBytes is one byte under what decoding it costs, and
// prepared when the limit is that cost; the cost counts what each
// decoder really holds (see decodeCost).
func TestDecodeCostLimit(t *testing.T) {
	samples := filepath.Join("..", "testdata", "samples")
	interlaced := filepath.Join(t.TempDir(), "interlaced16.png")
	rng := rand.New(rand.NewPCG(7, 8))
	if err := os.WriteFile(interlaced, testPNG{w: 300, h: 200, depth: 16, colorType: 6, interlaced: true}.encode(rng), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		want func(w, h int, shrunk, size int64) int64 // the cost, worked out by hand; nil: not checked
	}{
		{filepath.Join(samples, "png16.png"), nil}, // strips: see TestPNGCostIsSmall
		{interlaced, func(w, h int, shrunk, _ int64) int64 { return 2*8*int64(w*h) + shrunk }},
		{filepath.Join(samples, "sample.tiff"), func(w, h int, shrunk, _ int64) int64 { return 4*4*int64(w*h) + shrunk }},
		{filepath.Join(samples, "sample.bmp"), func(w, h int, shrunk, _ int64) int64 { return 4*int64(w*h) + shrunk }},
		{filepath.Join(samples, "sample.webp"), func(w, h int, _, size int64) int64 { return 3*int64(w*h) + size }},
		{filepath.Join(samples, "alpha.webp"), nil},
		{filepath.Join(samples, "sample.jpg"), func(w, h int, _, size int64) int64 { return 3*int64(w*h) + size }},
		{filepath.Join(samples, "cmyk.jpg"), func(w, h int, shrunk, size int64) int64 { return 4*int64(w*h) + shrunk + size }},
		{filepath.Join(samples, "static.gif"), func(w, h int, shrunk, _ int64) int64 { return int64(w*h) + shrunk }},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			cost, w, h, s, size := costOf(t, tt.file)
			if tt.want != nil {
				shrunk := 3 * int64(ceilDiv(w, s)) * int64(ceilDiv(h, s))
				if want := tt.want(w, h, shrunk, size); cost != want {
					t.Errorf("cost of %d×%d (shrink %d) = %d, want %d", w, h, s, cost, want)
				}
			}
			for _, limit := range []int64{cost - 1, cost} {
				cfg := NewDefaultConfig()
				cfg.MaxDecodedBytes = limit
				tr := &Transcoder{cfg: cfg}
				dst := filepath.Join(t.TempDir(), "out.jpg")
				_, err := tr.Prepare(t.Context(), tt.file, dst, Options{})
				if over := limit < cost; over != (CodeOf(err) == CodeOverLimit) || !over && err != nil {
					t.Fatalf("limit %d for a cost of %d: %v (code %q)", limit, cost, err, CodeOf(err))
				}
				if _, serr := os.Stat(dst); (serr == nil) == (limit < cost) {
					t.Errorf("limit %d: output exists: %v", limit, serr == nil)
				}
			}
		})
	}
}

// costOf works out, as decodeFile does, what decoding path costs with the
// default crop, and returns it with the picture's size, its shrink and
// the file's size.
func costOf(t *testing.T, path string) (cost int64, w, h, s int, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	shrink := shrinkFor(Options{}.Crop)
	s = shrink(cfg.Width, cfg.Height)
	var strips *pngHeader
	interlaced := false
	switch format {
	case "jpeg":
		s = min(s, shrink(cfg.Height, cfg.Width))
	case "png":
		h, err := readPNGHeader(f)
		if err != nil {
			t.Fatal(err)
		}
		if interlaced = h.interlaced; !interlaced {
			strips = &h
		}
	}
	return decodeCost(cfg, format, s, fi.Size(), strips, interlaced).bytes, cfg.Width, cfg.Height, s, fi.Size()
}

// TestPNGCostIsSmall: a PNG decoded in strips costs its shrunk copy and a
// few megabytes, whatever its bit depth: a 64 MP 16-bit RGBA one (512 MB
// decoded whole) fits the default limit many times over.
func TestPNGCostIsSmall(t *testing.T) {
	hdr := pngHeader{w: 8000, h: 8000, depth: 16, colorType: 6}
	s := shrinkFor(CropCenter)(8000, 8000)
	c := decodeCost(image.Config{Width: 8000, Height: 8000, ColorModel: color.NRGBA64Model}, "png", s, 1<<20, &hdr, false)
	if c.bytes > 32<<20 {
		t.Errorf("64 MP 16-bit PNG in strips costs %d bytes (%s), want under 32 MiB", c.bytes, c.why)
	}
	whole := decodeCost(image.Config{Width: 8000, Height: 8000, ColorModel: color.NRGBA64Model}, "png", s, 1<<20, nil, true)
	if whole.bytes < 2*8*8000*8000 {
		t.Errorf("64 MP 16-bit interlaced PNG costs %d bytes, want at least 16 a pixel", whole.bytes)
	}
	if err := newTestTranscoder(t).checkDecodeCost(whole); CodeOf(err) != CodeOverLimit {
		t.Errorf("decoded whole: %v, want over_limit", err)
	}
}
