package transcode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/mediaprep/mediaprep/internal/testutil"
)

// withOrientation returns a JPEG of img carrying EXIF orientation o.
func withOrientation(t *testing.T, img image.Image, o int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	// APP1: "Exif\0\0", big-endian TIFF header, IFD0 with one SHORT entry.
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.BigEndian.PutUint16(tiff[18:20], uint16(o))
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	data := buf.Bytes()
	return append(append(append([]byte{}, data[:2]...), append(app1, seg...)...), data[2:]...)
}

// quadrants is a 9:16 picture with a red top-left quadrant and the rest
// blue: any rotation or mirroring moves the red.
func quadrants(w, h int) *image.NRGBA {
	img := imaging.New(w, h, color.NRGBA{0, 0, 255, 255})
	for y := range h / 2 {
		for x := range w / 2 {
			img.SetNRGBA(x, y, color.NRGBA{255, 0, 0, 255})
		}
	}
	return img
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 > 200 && g>>8 < 60 && b>>8 < 60
}

func isBlue(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 < 60 && g>>8 < 60 && b>>8 > 200
}

func decodeOutput(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("the output is not a JPEG: %v", err)
	}
	return img
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEXIFOrientation stores a picture as a camera would for each EXIF
// orientation (using imaging's transforms, which the code under test does
// not use) and checks that the prepared picture is upright.
func TestEXIFOrientation(t *testing.T) {
	tr := newTestTranscoder(t)
	display := quadrants(180, 320)
	// stored[o] shows as display once orientation o is applied.
	stored := map[int]image.Image{
		1: display,
		2: imaging.FlipH(display),
		3: imaging.Rotate180(display),
		4: imaging.FlipV(display),
		5: imaging.Transpose(display),
		6: imaging.Rotate90(display),
		7: imaging.Transverse(display),
		8: imaging.Rotate270(display),
	}
	for o := 1; o <= 8; o++ {
		t.Run(string(rune('0'+o)), func(t *testing.T) {
			data := withOrientation(t, stored[o], o)
			if got := jpegOrientation(bytes.NewReader(data)); got != o {
				t.Fatalf("jpegOrientation = %d, want %d", got, o)
			}
			src := writeFile(t, "in.jpg", data)
			// The picture is 9:16 already: every crop mode keeps all of it.
			for _, mode := range []CropMode{CropCenter, CropSmart, CropPad} {
				dst := filepath.Join(t.TempDir(), "out.jpg")
				res, err := tr.Prepare(t.Context(), src, dst, Options{Crop: mode})
				if err != nil {
					t.Fatal(err)
				}
				img := decodeOutput(t, dst)
				if b := img.Bounds(); b.Dx() != 180 || b.Dy() != 320 || res.Width != 180 || res.Height != 320 {
					t.Fatalf("%s: output %v (result %d×%d), want 180×320", mode, b, res.Width, res.Height)
				}
				if !isRed(img.At(45, 80)) || !isBlue(img.At(135, 80)) || !isBlue(img.At(45, 240)) {
					t.Fatalf("%s: output is not upright: top-left %v, top-right %v, bottom-left %v", mode, img.At(45, 80), img.At(135, 80), img.At(45, 240))
				}
			}
		})
	}
}

func TestJPEGOrientationGarbage(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":         nil,
		"not jpeg":      []byte("hello"),
		"truncated app": {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x40, 'E', 'x'},
		"bad length":    {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01},
		"no exif":       {0xFF, 0xD8, 0xFF, 0xDA},
	} {
		if got := jpegOrientation(bytes.NewReader(data)); got != 1 {
			t.Errorf("%s: orientation %d, want 1", name, got)
		}
	}
	if _, ok := exifOrientation([]byte("Exif\x00\x00II\x2a\x00\xff\xff\xff\x7f")); ok {
		t.Error("an IFD offset past the end was followed")
	}
}

func TestPrepareImageFormats(t *testing.T) {
	testutil.NeedFFmpeg(t) // heif-convert comes with the same install step
	tr := newTestTranscoder(t)
	samples := filepath.Join("..", "testdata", "samples")
	tests := []struct {
		file         string
		wantW, wantH int
	}{
		{"sample.jpg", 270, 480},
		{"progressive.jpg", 270, 480},
		{"cmyk.jpg", 270, 480},
		{"gray.jpg", 270, 480},
		{"sample.heic", 270, 480},
		{"sample.avif", 270, 480},
		{"alpha.png", 56, 100},
		{"png16.png", 180, 320},
		{"static.gif", 51, 90}, // 90×90: cut to 9:16, never scaled up
		{"sample.webp", 113, 200},
		{"alpha.webp", 90, 160},
		{"yuv444.jpg", 68, 120},
		{"yuv422.jpg", 68, 120},
		{"rotated.heic", 36, 64},
		{"sample.bmp", 51, 90},
		{"sample.tiff", 51, 90},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out.jpg")
			res, err := tr.Prepare(t.Context(), filepath.Join(samples, tt.file), dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != KindImage || res.ContentType != "image/jpeg" || res.Ext != ".jpg" {
				t.Fatalf("result %+v", res)
			}
			b := decodeOutput(t, dst).Bounds()
			if b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Fatalf("output %d×%d, want %d×%d", b.Dx(), b.Dy(), tt.wantW, tt.wantH)
			}
			if !isStatusAspect(b.Dx(), b.Dy()) {
				t.Fatalf("output %d×%d is not 9:16 within a pixel", b.Dx(), b.Dy())
			}
		})
	}
}

func TestPrepareImageAlphaOnWhite(t *testing.T) {
	tr := newTestTranscoder(t)
	img := image.NewNRGBA(image.Rect(0, 0, 90, 160)) // fully transparent
	for x := range 45 {
		for y := range 160 {
			img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255}) // left half opaque black
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out.jpg")
	if _, err := tr.Prepare(t.Context(), writeFile(t, "in.png", buf.Bytes()), dst, Options{}); err != nil {
		t.Fatal(err)
	}
	out := decodeOutput(t, dst)
	if r, g, b, _ := out.At(70, 80).RGBA(); r>>8 < 240 || g>>8 < 240 || b>>8 < 240 {
		t.Fatalf("transparent area became %v, want white", out.At(70, 80))
	}
	if r, _, _, _ := out.At(20, 80).RGBA(); r>>8 > 20 {
		t.Fatalf("opaque black became %v", out.At(20, 80))
	}
}

func TestPrepareImageLarge(t *testing.T) {
	tr := newTestTranscoder(t)
	for _, c := range []struct {
		name         string
		w, h         int
		wantW, wantH int
	}{
		{"landscape 12MP-like", 2016, 1512, 851, 1512}, // 9:16 cut 851×1512 is under 1080×1920: kept
		{"portrait big", 2400, 4800, 1080, 1920},
		{"panorama", 6000, 1000, 563, 1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, quadrants(c.w, c.h), &jpeg.Options{Quality: 80}); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "out.jpg")
			res, err := tr.Prepare(t.Context(), writeFile(t, "in.jpg", buf.Bytes()), dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			b := decodeOutput(t, dst).Bounds()
			if b.Dx() != c.wantW || b.Dy() != c.wantH || res.Width != c.wantW {
				t.Fatalf("output %v, want %d×%d", b, c.wantW, c.wantH)
			}
		})
	}
}

func TestPrepareImagePad(t *testing.T) {
	tr := newTestTranscoder(t)
	// A wide red picture: padding keeps all of it, centred on a 9:16 frame.
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, imaging.New(800, 200, color.NRGBA{255, 0, 0, 255}), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out.jpg")
	res, err := tr.Prepare(t.Context(), writeFile(t, "in.jpg", buf.Bytes()), dst, Options{Crop: CropPad})
	if err != nil {
		t.Fatal(err)
	}
	out := decodeOutput(t, dst)
	b := out.Bounds()
	if b.Dx() != 800 || b.Dy() != 1422 || res.Height != 1422 {
		t.Fatalf("padded output %v, want 800×1422", b)
	}
	// The whole picture is there: left and right ends of the middle band.
	for _, x := range []int{5, 400, 795} {
		if !isRed(out.At(x, 711)) {
			t.Fatalf("pixel (%d, 711) is %v: part of the picture was cut", x, out.At(x, 711))
		}
	}
	// Above and below: the blurred, darkened copy, not plain white or black.
	if r, g, _, _ := out.At(400, 100).RGBA(); r>>8 < 60 || r>>8 > 250 || g>>8 > 80 {
		t.Fatalf("background %v is not a darkened red blur", out.At(400, 100))
	}
}

func TestPrepareImageSmart(t *testing.T) {
	tr := newTestTranscoder(t)
	// Grey landscape with a saturated, detailed patch near the right edge:
	// the center cut misses it, the smart cut must not.
	img := imaging.New(1600, 900, color.NRGBA{128, 128, 128, 255})
	for y := 300; y < 600; y++ {
		for x := 1250; x < 1550; x++ {
			c := color.NRGBA{230, 30, 30, 255}
			if (x/10+y/10)%2 == 0 {
				c = color.NRGBA{250, 220, 40, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, "in.jpg", buf.Bytes())
	hasPatch := func(out image.Image) bool {
		b := out.Bounds()
		for x := b.Min.X; x < b.Max.X; x += 4 {
			if r, g, bl, _ := out.At(x, b.Dy()/2).RGBA(); r>>8 > 200 && bl>>8 < 80 && g>>8 < 240 {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		mode  CropMode
		patch bool
	}{{CropCenter, false}, {CropSmart, true}} {
		dst := filepath.Join(t.TempDir(), "out.jpg")
		if _, err := tr.Prepare(t.Context(), src, dst, Options{Crop: c.mode}); err != nil {
			t.Fatal(err)
		}
		out := decodeOutput(t, dst)
		if b := out.Bounds(); b.Dx() != 506 || b.Dy() != 900 {
			t.Fatalf("%s: output %v, want 506×900", c.mode, b)
		}
		if got := hasPatch(out); got != c.patch {
			t.Errorf("%s crop shows the patch: %v, want %v", c.mode, got, c.patch)
		}
	}
}

func TestPrepareImageErrors(t *testing.T) {
	tr := newTestTranscoder(t)
	bad := filepath.Join("..", "testdata", "bad")
	// A JPEG whose header claims 60000×60000.
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	bomb := buf.Bytes()
	i := bytes.Index(bomb, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(bomb[i+5:], 60000)
	binary.BigEndian.PutUint16(bomb[i+7:], 60000)
	for _, tt := range []struct {
		name string
		src  string
		want error
	}{
		{"png bomb", filepath.Join(bad, "bomb.png"), ErrTooManyPixels},
		{"jpeg bomb", writeFile(t, "bomb.jpg", bomb), ErrTooManyPixels},
		{"truncated jpeg", filepath.Join(bad, "truncated.jpg"), ErrCorruptMedia},
		{"png header only", writeFile(t, "head.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")), ErrCorruptMedia},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := tr.Prepare(t.Context(), tt.src, filepath.Join(dir, "out.jpg"), Options{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Prepare = %v, want %v", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a failed picture left %v", entries)
			}
		})
	}
}

// scanFlood returns a progressive JPEG with far more scans than a picture
// needs: the first scan repeated.
func scanFlood(t *testing.T) []byte {
	data := mustReadT(t, filepath.Join("..", "testdata", "samples", "progressive.jpg"))
	sos := bytes.Index(data, []byte{0xFF, 0xDA})
	next := sos + 2 + bytes.Index(data[sos+2:], []byte{0xFF, 0xDA})
	scan := data[sos:next]
	out := append([]byte{}, data[:next]...)
	for range 2 * maxJPEGScans {
		out = append(out, scan...)
	}
	return append(out, data[next:]...)
}

func TestPrepareImageScanFlood(t *testing.T) {
	tr := newTestTranscoder(t)
	_, err := tr.Prepare(t.Context(), writeFile(t, "scans.jpg", scanFlood(t)), filepath.Join(t.TempDir(), "out.jpg"), Options{})
	if !errors.Is(err, ErrCorruptMedia) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("Prepare = %v, want corrupt_media for too many scans", err)
	}
}

func TestResample(t *testing.T) {
	flat := plane{Pix: bytes.Repeat([]byte{77}, 300*200), Stride: 300, W: 300, H: 200}
	out := plane{Pix: make([]byte, 70*90), Stride: 70, W: 70, H: 90}
	resample(out, flat, rect{10, 20, 200, 150})
	for i, v := range out.Pix {
		if v != 77 {
			t.Fatalf("a flat plane resampled to %d at %d", v, i)
		}
	}
	// A horizontal ramp stays a non-decreasing ramp, at any ratio.
	ramp := plane{Pix: make([]byte, 256*4), Stride: 256, W: 256, H: 4}
	for y := range 4 {
		for x := range 256 {
			ramp.Pix[y*256+x] = byte(x)
		}
	}
	for _, w := range []int{1, 3, 100, 255, 256} {
		out := plane{Pix: make([]byte, w*2), Stride: w, W: w, H: 2}
		resample(out, ramp, rect{0, 0, 256, 4})
		for x := 1; x < w; x++ {
			if out.Pix[x] < out.Pix[x-1] {
				t.Fatalf("width %d: ramp not monotonic at %d: %v", w, x, out.Pix[:w])
			}
		}
		if w >= 100 && (out.Pix[0] > 10 || out.Pix[w-1] < 245) {
			t.Fatalf("width %d: ramp ends %d..%d, want about 0..255", w, out.Pix[0], out.Pix[w-1])
		}
	}
	// Tiny sources (fewer samples than taps) work too.
	one := plane{Pix: []byte{200}, Stride: 1, W: 1, H: 1}
	o := plane{Pix: make([]byte, 1), Stride: 1, W: 1, H: 1}
	resample(o, one, rect{0, 0, 1, 1})
	if o.Pix[0] != 200 {
		t.Fatalf("1×1 resampled to %d", o.Pix[0])
	}
}

func TestShrinkFor(t *testing.T) {
	for _, c := range []struct {
		mode CropMode
		w, h int
		want int
	}{
		{CropCenter, 4032, 3024, 1}, // cut 1701×3024 → 1080×1920: under 2×
		{CropCenter, 3024, 4032, 2}, // cut 2268×4032 → 1080×1920
		{CropCenter, 9000, 16000, 8},
		{CropPad, 4032, 3024, 2}, // the whole picture, fitted in 1080 wide
		{CropCenter, 640, 480, 1},
	} {
		if got := shrinkFor(c.mode)(c.w, c.h); got != c.want {
			t.Errorf("shrinkFor(%s)(%d, %d) = %d, want %d", c.mode, c.w, c.h, got, c.want)
		}
	}
}

// FuzzDecodeImage feeds arbitrary bytes to the picture path: size check,
// decoding and preparing must fail cleanly, never panic or hang.
func FuzzDecodeImage(f *testing.F) {
	for _, dir := range []string{"samples", "bad"} {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", dir, "*"))
		for _, p := range files {
			if c, _ := sniffBytes(mustRead(f, p)); c == classImage {
				f.Add(mustRead(f, p))
			}
		}
	}
	cfg := NewDefaultConfig()
	cfg.MaxPixels = 4_000_000 // keep the fuzzer's memory bounded
	tr, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, format := sniffBytes(data)
		if c != classImage || format == "heif" {
			return
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "in")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "out.jpg")
		_, err := tr.PrepareMedia(t.Context(), src, Media{Kind: KindImage, Format: format}, dst, Options{})
		if err != nil {
			if code := CodeOf(err); code != CodeCorruptMedia && code != CodeTooManyPixels {
				t.Fatalf("error %v has code %q", err, code)
			}
			if _, statErr := os.Stat(dst); statErr == nil {
				t.Fatal("a failed picture left its output")
			}
		}
	})
}

func mustRead(f *testing.F, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// TestPrepareImageStrayBytes: stray bytes before a marker (common in camera
// files) are tolerated; only a truncated picture is refused.
func TestPrepareImageStrayBytes(t *testing.T) {
	tr := newTestTranscoder(t)
	data := mustReadT(t, filepath.Join("..", "testdata", "samples", "sample.jpg"))
	eoi := bytes.LastIndex(data, []byte{0xFF, 0xD9})
	stray := append(append(append([]byte{}, data[:eoi]...), 0, 0), data[eoi:]...)
	dst := filepath.Join(t.TempDir(), "out.jpg")
	if _, err := tr.Prepare(t.Context(), writeFile(t, "stray.jpg", stray), dst, Options{}); err != nil {
		t.Fatalf("Prepare = %v, want the picture", err)
	}
	if b := decodeOutput(t, dst).Bounds(); b.Dx() != 270 || b.Dy() != 480 {
		t.Fatalf("output %v", b)
	}
}

func mustReadT(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPrepareImageTransparency: every format that carries transparency,
// and the grey ones, come out with the left half black and the (formerly
// transparent or white) right half white.
func TestPrepareImageTransparency(t *testing.T) {
	const w, h = 90, 160
	left := func(x int) bool { return x < w/2 }
	encPNG := func(img image.Image) []byte {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	paletted := func(p color.Palette, in, out uint8) *image.Paletted {
		img := image.NewPaletted(image.Rect(0, 0, w, h), p)
		for y := range h {
			for x := range w {
				img.Pix[y*img.Stride+x] = out
				if left(x) {
					img.Pix[y*img.Stride+x] = in
				}
			}
		}
		return img
	}
	twoColours := color.Palette{color.NRGBA{0, 0, 0, 255}, color.NRGBA{0, 0, 0, 0}}
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, w, h)) // transparent
	gray := image.NewGray(image.Rect(0, 0, w, h))
	gray16 := image.NewGray16(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if left(x) {
				nrgba64.SetNRGBA64(x, y, color.NRGBA64{0, 0, 0, 0xffff})
				gray16.SetGray16(x, y, color.Gray16{0})
			} else {
				gray.SetGray(x, y, color.Gray{255})
				gray16.SetGray16(x, y, color.Gray16{0xffff})
			}
		}
	}
	// A transparent index in a full palette, as GIF encoders write it.
	gifPalette := append(color.Palette{color.NRGBA{0, 0, 0, 0}}, palette.Plan9[1:]...)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, paletted(gifPalette, 0 /* placeholder */, 0), nil); err != nil {
		t.Fatal(err)
	}
	gifBuf.Reset()
	black := uint8(gifPalette.Index(color.NRGBA{0, 0, 0, 255}))
	if err := gif.Encode(&gifBuf, paletted(gifPalette, black, 0), &gif.Options{NumColors: 256}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"png palette with a transparent entry", encPNG(paletted(twoColours, 0, 1))},
		{"png 16-bit with alpha", encPNG(nrgba64)},
		{"png grey", encPNG(gray)},
		{"png grey 16-bit", encPNG(gray16)},
		{"gif transparent index", gifBuf.Bytes()},
		{"webp with alpha", mustReadT(t, filepath.Join("..", "testdata", "samples", "alpha.webp"))},
	}
	tr := newTestTranscoder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out.jpg")
			res, err := tr.Prepare(t.Context(), writeFile(t, "in", tt.data), dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := decodeOutput(t, dst)
			if b := out.Bounds(); b.Dx() != w || b.Dy() != h || res.Width != w || res.Height != h {
				t.Fatalf("output %v, result %d×%d, want %d×%d", b, res.Width, res.Height, w, h)
			}
			for y := 10; y < h; y += 30 {
				if r, g, b, _ := out.At(w-10, y).RGBA(); r>>8 < 240 || g>>8 < 240 || b>>8 < 240 {
					t.Fatalf("right half (%d, %d) is %v, want white", w-10, y, out.At(w-10, y))
				}
				if r, g, b, _ := out.At(10, y).RGBA(); r>>8 > 20 || g>>8 > 20 || b>>8 > 20 {
					t.Fatalf("left half (10, %d) is %v, want black", y, out.At(10, y))
				}
			}
		})
	}
}

// TestPrepareImageOrientedLarge: camera-sized pictures with odd sides,
// stored sideways or upside down, go through the shrinking JPEG decoder
// and the resampler at full output size and come out upright.
func TestPrepareImageOrientedLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes 10 MP pictures")
	}
	display := quadrants(2401, 4001) // red top-left quadrant, the rest blue
	tr := newTestTranscoder(t)
	for _, c := range []struct {
		o      int
		stored image.Image
	}{
		{6, imaging.Rotate90(display)},
		{8, imaging.Rotate270(display)},
		{3, imaging.Rotate180(display)},
	} {
		t.Run(string(rune('0'+c.o)), func(t *testing.T) {
			src := writeFile(t, "in.jpg", withOrientation(t, c.stored, c.o))
			dst := filepath.Join(t.TempDir(), "out.jpg")
			res, err := tr.Prepare(t.Context(), src, dst, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := decodeOutput(t, dst)
			if b := out.Bounds(); b.Dx() != 1080 || b.Dy() != 1920 || res.Width != 1080 || res.Height != 1920 {
				t.Fatalf("output %v, result %d×%d, want 1080×1920", b, res.Width, res.Height)
			}
			// The 9:16 cut of 2401×4001 is 2250 wide from x=75: the red
			// quadrant ends at 1200, that is at x≈524 of the output.
			for _, p := range []struct {
				x, y int
				red  bool
			}{{100, 100, true}, {480, 900, true}, {580, 100, false}, {100, 1000, false}, {1000, 1800, false}} {
				if got := out.At(p.x, p.y); isRed(got) != p.red || !p.red && !isBlue(got) {
					t.Fatalf("(%d, %d) is %v, want red %v", p.x, p.y, got, p.red)
				}
			}
		})
	}
}

func TestJPEGComplete(t *testing.T) {
	files, _ := filepath.Glob("../testdata/samples/*.jpg")
	gen, _ := filepath.Glob("../testdata/gen/*.jpg")
	for _, f := range append(files, gen...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !jpegComplete(data) {
			t.Errorf("%s: complete file reported truncated", f)
		}
		if !jpegComplete(append(data, "vendor trailer \xff\xda\x00\x04xx"...)) {
			t.Errorf("%s: data after the end made it truncated", f)
		}
		end := bytes.LastIndex(data, []byte{0xFF, 0xD9})
		for _, cut := range []int{2, 100, len(data) / 2, end, end + 1} {
			if cut >= 0 && cut < len(data) && jpegComplete(data[:cut]) {
				t.Errorf("%s cut at %d of %d: reported complete", f, cut, len(data))
			}
		}
	}
	if bad, _ := os.ReadFile("../testdata/bad/truncated.jpg"); jpegComplete(bad) {
		t.Error("testdata/bad/truncated.jpg reported complete")
	}
}
