package transcode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math"
	"os/exec"
	"path/filepath"
	"testing"
)

// box returns an ISO BMFF box of type typ holding payload.
func box(typ string, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(p)))
	return append(append(b, typ...), p...)
}

// fullBox is a box with version 0 and no flags.
func fullBox(typ string, payload ...[]byte) []byte {
	return box(typ, append([][]byte{{0, 0, 0, 0}}, payload...)...)
}

func ispeBox(w, h uint32) []byte {
	return fullBox("ispe", binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h))
}

// heifMeta is a 'meta' box whose ipco holds props.
func heifMeta(props ...[]byte) []byte {
	return fullBox("meta",
		fullBox("hdlr", make([]byte, 4), []byte("pict"), make([]byte, 13)),
		box("iprp", box("ipco", props...), fullBox("ipma", make([]byte, 4))))
}

var ftypHeic = box("ftyp", []byte("heic\x00\x00\x00\x00mif1heic"))

func TestIspe(t *testing.T) {
	pixi := fullBox("pixi", []byte{3, 8, 8, 8})
	// A 64-bit mdat: size 1, type, then the real size.
	big := make([]byte, 64)
	binary.BigEndian.PutUint32(big[0:], 1)
	copy(big[4:], "mdat")
	binary.BigEndian.PutUint64(big[8:], 64)
	// Bytes in mdat that look like an enormous ispe box.
	fake := box("mdat", ispeBox(100000, 100000))
	tests := []struct {
		name         string
		file         []byte
		wantW, wantH int
		wantErr      bool
	}{
		{"one picture", bytes.Join([][]byte{ftypHeic, heifMeta(box("hvcC", make([]byte, 30)), ispeBox(640, 480), pixi), box("mdat", make([]byte, 100))}, nil), 640, 480, false},
		{"grid: the largest wins", bytes.Join([][]byte{ftypHeic, heifMeta(ispeBox(512, 512), ispeBox(4032, 3024), ispeBox(512, 512))}, nil), 4032, 3024, false},
		{"meta after 2 MiB of mdat", bytes.Join([][]byte{ftypHeic, box("mdat", make([]byte, 2<<20)), heifMeta(ispeBox(8000, 6000))}, nil), 8000, 6000, false},
		{"meta after a 64-bit mdat", bytes.Join([][]byte{ftypHeic, big, heifMeta(ispeBox(300, 200))}, nil), 300, 200, false},
		{"ispe-like bytes in mdat do not count", bytes.Join([][]byte{ftypHeic, fake, heifMeta(ispeBox(64, 48))}, nil), 64, 48, false},
		{"zero size", bytes.Join([][]byte{ftypHeic, heifMeta(ispeBox(0, 0))}, nil), 0, 0, true},
		{"no ispe", bytes.Join([][]byte{ftypHeic, heifMeta(pixi)}, nil), 0, 0, true},
		{"no meta", bytes.Join([][]byte{ftypHeic, box("mdat", make([]byte, 10))}, nil), 0, 0, true},
		{"mdat to the end, meta never reached", append(append(ftypHeic, 0, 0, 0, 0, 'm', 'd', 'a', 't'), heifMeta(ispeBox(1, 1))...), 0, 0, true},
		{"truncated meta", bytes.Join([][]byte{ftypHeic, heifMeta(ispeBox(640, 480))}, nil)[:len(ftypHeic)+30], 0, 0, true},
		{"box shorter than its header", append(append([]byte{}, ftypHeic...), 0, 0, 0, 4, 'f', 'r', 'e', 'e'), 0, 0, true},
		{"ispe box cut short", bytes.Join([][]byte{ftypHeic, heifMeta(box("ispe", make([]byte, 6)))}, nil), 0, 0, true},
		{"empty", nil, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h, err := heifSize(bytes.NewReader(tt.file), int64(len(tt.file)))
			if (err != nil) != tt.wantErr {
				t.Fatalf("heifSize = %d×%d, %v; want error %v", w, h, err, tt.wantErr)
			}
			if w != tt.wantW || h != tt.wantH {
				t.Fatalf("heifSize = %d×%d, want %d×%d", w, h, tt.wantW, tt.wantH)
			}
		})
	}
	// rotated.heic's ispe says 64×64: the coded size (x265 pads to whole
	// blocks), which the picture's 64×48 fits in.
	for file, want := range map[string]image.Point{"sample.heic": {640, 480}, "rotated.heic": {64, 64}} {
		data := mustReadT(t, filepath.Join("..", "testdata", "samples", file))
		if w, h, err := heifSize(bytes.NewReader(data), int64(len(data))); err != nil || w != want.X || h != want.Y {
			t.Errorf("%s: heifSize = %d×%d, %v; want %v", file, w, h, err, want)
		}
	}
}

func needHeifConvert(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("heif-convert"); err != nil {
		t.Skip("heif-convert not installed (libheif-examples; the README's test command installs it)")
	}
}

// TestPrepareHEIF runs heif-convert for real.
func TestPrepareHEIF(t *testing.T) {
	needHeifConvert(t)
	samples := filepath.Join("..", "testdata", "samples")
	prepare := func(t *testing.T, tr *Transcoder, src string) (image.Image, error) {
		t.Helper()
		dst := filepath.Join(t.TempDir(), "out.jpg")
		res, err := tr.Prepare(t.Context(), src, dst, Options{})
		if err != nil {
			return nil, err
		}
		img := decodeOutput(t, dst)
		if b := img.Bounds(); b.Dx() != res.Width || b.Dy() != res.Height {
			t.Fatalf("output %v, result says %d×%d", b, res.Width, res.Height)
		}
		return img, nil
	}

	t.Run("same picture as the JPEG it was made from", func(t *testing.T) {
		tr := newTestTranscoder(t)
		fromHEIC, err := prepare(t, tr, filepath.Join(samples, "sample.heic"))
		if err != nil {
			t.Fatal(err)
		}
		fromJPEG, err := prepare(t, tr, filepath.Join(samples, "sample.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		if fromHEIC.Bounds() != fromJPEG.Bounds() {
			t.Fatalf("HEIC gave %v, JPEG %v", fromHEIC.Bounds(), fromJPEG.Bounds())
		}
		// testsrc2 is asymmetric: a turned or mirrored picture differs a
		// lot, a recompressed one a little.
		same := meanLumaDiff(fromHEIC, fromJPEG, false)
		mirrored := meanLumaDiff(fromHEIC, fromJPEG, true)
		t.Logf("mean luma difference %.1f, from the mirror image %.1f", same, mirrored)
		if same > 6 || mirrored < 3*same {
			t.Fatalf("mean luma difference %.1f from the JPEG's output, %.1f from its mirror image", same, mirrored)
		}
	})

	t.Run("irot applied once, EXIF orientation ignored", func(t *testing.T) {
		// Stored 64×48 sideways, irot turns it to 48×64 with red on top; the
		// EXIF block (orientation 6) comes through heif-convert unchanged.
		img, err := prepare(t, newTestTranscoder(t), filepath.Join(samples, "rotated.heic"))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 36 || b.Dy() != 64 {
			t.Fatalf("output %v, want 36×64", b)
		}
		if !isRed(img.At(18, 8)) || !isBlue(img.At(18, 56)) {
			t.Fatalf("top %v, bottom %v: want red over blue", img.At(18, 8), img.At(18, 56))
		}
	})

	t.Run("too many pixels: refused before heif-convert runs", func(t *testing.T) {
		cfg := NewDefaultConfig()
		cfg.MaxPixels = 1000
		cfg.HeifConvert = filepath.Join(t.TempDir(), "no-such-program")
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prepare(t, tr, filepath.Join(samples, "sample.heic")); !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("Prepare = %v, want ErrTooManyPixels", err)
		}
	})

	t.Run("truncated", func(t *testing.T) {
		data := mustReadT(t, filepath.Join(samples, "sample.heic"))
		src := writeFile(t, "cut.heic", data[:len(data)/2])
		if _, err := prepare(t, newTestTranscoder(t), src); !errors.Is(err, ErrCorruptMedia) {
			t.Fatalf("Prepare = %v, want ErrCorruptMedia", err)
		}
	})

	t.Run("heif-convert missing is not the file's fault", func(t *testing.T) {
		cfg := NewDefaultConfig()
		cfg.HeifConvert = filepath.Join(t.TempDir(), "no-such-program")
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prepare(t, tr, filepath.Join(samples, "sample.heic")); CodeOf(err) != CodeInternal {
			t.Fatalf("Prepare = %v (code %q), want internal", err, CodeOf(err))
		}
	})
}

// meanLumaDiff is the mean absolute difference of the luma of two pictures
// of the same size, b mirrored left to right when mirror is set.
func meanLumaDiff(a, b image.Image, mirror bool) float64 {
	r := a.Bounds()
	luma := func(img image.Image, x, y int) float64 {
		cr, cg, cb, _ := img.At(x, y).RGBA()
		return (0.299*float64(cr) + 0.587*float64(cg) + 0.114*float64(cb)) / 257
	}
	var sum float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			bx := x
			if mirror {
				bx = r.Max.X - 1 - (x - r.Min.X)
			}
			d := luma(a, x, y) - luma(b, bx, y)
			sum += max(d, -d)
		}
	}
	return sum / float64(r.Dx()*r.Dy())
}

// FuzzHEIFSize feeds arbitrary bytes to the 'ispe' reader: it must answer
// or fail, never panic.
func FuzzHEIFSize(f *testing.F) {
	for _, name := range []string{"sample.heic", "rotated.heic"} {
		f.Add(mustRead(f, filepath.Join("..", "testdata", "samples", name)))
	}
	f.Add(bytes.Join([][]byte{ftypHeic, heifMeta(ispeBox(512, 512), ispeBox(4032, 3024))}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, err := heifSize(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		// An answer is a size read from an ispe box that is in the input:
		// both sides are positive (a zero side would be a picture of no
		// pixels) and fit the uint32 fields they came from.
		if w <= 0 || h <= 0 || int64(w) > math.MaxUint32 || int64(h) > math.MaxUint32 {
			t.Fatalf("heifSize = %d×%d", w, h)
		}
		if !bytes.Contains(data, []byte("ispe")) {
			t.Fatalf("heifSize = %d×%d from input without an ispe box", w, h)
		}
	})
}
