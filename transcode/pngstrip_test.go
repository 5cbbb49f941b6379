package transcode

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"
)

// testPNG is a PNG to write: its header, palette and transparency as they
// go into PLTE and tRNS (nil for none).
type testPNG struct {
	w, h, depth, colorType int
	interlaced             bool
	plte, trns             []byte
}

// encode writes p with random pixels drawn mostly from a few values (so
// that a tRNS colour turns up), each row filtered with the next of PNG's
// five filters.
func (p testPNG) encode(rng *rand.Rand) []byte {
	hdr := pngHeader{w: p.w, h: p.h, depth: p.depth, colorType: p.colorType}
	bpp := max(1, hdr.bitsPerPixel()/8)
	var raw bytes.Buffer
	ft := 0
	rows := func(w, h int) {
		hdr.w = w
		n := hdr.rowBytes()
		prev := make([]byte, n)
		for range h {
			cur := make([]byte, n)
			for i := range cur {
				cur[i] = []byte{0, 0x11, 0x55, 0xAA, 0xFF, byte(rng.IntN(256))}[rng.IntN(6)]
			}
			raw.WriteByte(byte(ft))
			raw.Write(filterRow(byte(ft), cur, prev, bpp))
			prev, ft = cur, (ft+1)%5
		}
	}
	if !p.interlaced {
		rows(p.w, p.h)
	} else {
		for _, a := range [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
			pw, ph := ceilDiv(max(p.w-a[0], 0), a[2]), ceilDiv(max(p.h-a[1], 0), a[3])
			if pw > 0 && ph > 0 {
				rows(pw, ph)
			}
		}
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(raw.Bytes()) // a bytes.Buffer does not fail
	zw.Close()
	ihdr := []byte{0, 0, 0, 0, 0, 0, 0, 0, byte(p.depth), byte(p.colorType), 0, 0, 0}
	ihdr[0], ihdr[1], ihdr[2], ihdr[3] = byte(p.w>>24), byte(p.w>>16), byte(p.w>>8), byte(p.w)
	ihdr[4], ihdr[5], ihdr[6], ihdr[7] = byte(p.h>>24), byte(p.h>>16), byte(p.h>>8), byte(p.h)
	if p.interlaced {
		ihdr[12] = 1
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	pngChunk(&out, "IHDR", ihdr)
	pngChunk(&out, "tEXt", []byte("Comment\x00before the data"))
	if p.plte != nil {
		pngChunk(&out, "PLTE", p.plte)
	}
	if p.trns != nil {
		pngChunk(&out, "tRNS", p.trns)
	}
	// The data split over several IDAT chunks, one of them empty.
	d := z.Bytes()
	pngChunk(&out, "IDAT", d[:len(d)/3])
	pngChunk(&out, "IDAT", nil)
	pngChunk(&out, "IDAT", d[len(d)/3:])
	pngChunk(&out, "tEXt", []byte("Comment\x00after the data"))
	pngChunk(&out, "IEND", nil)
	return out.Bytes()
}

// filterRow returns row cur filtered with filter ft (the inverse of
// unfilter).
func filterRow(ft byte, cur, prev []byte, bpp int) []byte {
	out := make([]byte, len(cur))
	for i := range cur {
		var a, c int
		if i >= bpp {
			a, c = int(cur[i-bpp]), int(prev[i-bpp])
		}
		b := int(prev[i])
		var pred int
		switch ft {
		case 1:
			pred = a
		case 2:
			pred = b
		case 3:
			pred = (a + b) / 2
		case 4:
			p := a + b - c
			pa, pb, pc := abs32(p-a), abs32(p-b), abs32(p-c)
			switch {
			case pa <= pb && pa <= pc:
				pred = a
			case pb <= pc:
				pred = b
			default:
				pred = c
			}
		}
		out[i] = cur[i] - byte(pred)
	}
	return out
}

// pngVariants lists every colour type and bit depth PNG has, with and
// without transparency, at an odd size.
func pngVariants(rng *rand.Rand, w, h int) []testPNG {
	var ps []testPNG
	add := func(p testPNG) { p.w, p.h = w, h; ps = append(ps, p) }
	for _, d := range []int{1, 2, 4, 8, 16} {
		add(testPNG{depth: d, colorType: 0})
		max := 1<<d - 1
		add(testPNG{depth: d, colorType: 0, trns: []byte{byte(max >> 8 & 0xFF * (d / 16)), byte(max)}})
	}
	for _, d := range []int{8, 16} {
		add(testPNG{depth: d, colorType: 2})
		add(testPNG{depth: d, colorType: 2, trns: []byte{0, 0x55, 0, 0x55, 0, 0x55}})
		add(testPNG{depth: d, colorType: 4})
		add(testPNG{depth: d, colorType: 6})
	}
	for _, d := range []int{1, 2, 4, 8} {
		n := min(1<<d, 200) // an 8-bit picture whose palette is short
		plte := make([]byte, 3*n)
		for i := range plte {
			plte[i] = byte(rng.IntN(256))
		}
		add(testPNG{depth: d, colorType: 3, plte: plte})
		trns := make([]byte, n/2+1)
		for i := range trns {
			trns[i] = byte(rng.IntN(256))
		}
		add(testPNG{depth: d, colorType: 3, plte: plte, trns: trns})
	}
	return ps
}

// TestPNGStripsMatchImagePNG: decoding a PNG in strips of rows gives the
// pixels image/png gives, converted and shrunk the same way, for every
// colour type and bit depth, with and without transparency, with strips
// that end anywhere in the picture and with every shrink.
func TestPNGStripsMatchImagePNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bg := color.NRGBA{10, 200, 30, 255}
	for _, p := range pngVariants(rng, 37, 29) {
		data := p.encode(rng)
		want, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%+v: image/png: %v", p, err)
		}
		hdr, err := readPNGHeader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		for _, s := range []int{1, 2, 4, 8} {
			for _, k := range []int{s, 3 * s, hdr.stripRows(s)} {
				name := fmt.Sprintf("type %d, %d bits, tRNS %v, shrink %d, strips of %d rows", p.colorType, p.depth, p.trns != nil, s, k)
				got, err := decodePNGShrunk(bytes.NewReader(data), hdr, bg, s, k)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if d := ycbcrDiff(got, toYCbCr(want, bg, s)); d != "" {
					t.Errorf("%s: %s", name, d)
				}
			}
		}
	}
}

// ycbcrDiff describes the first pixel where a and b differ.
func ycbcrDiff(a, b *image.YCbCr) string {
	if a.Rect != b.Rect {
		return fmt.Sprintf("size %v, want %v", a.Rect, b.Rect)
	}
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			if ca, cb := a.YCbCrAt(x, y), b.YCbCrAt(x, y); ca != cb {
				return fmt.Sprintf("pixel %d,%d is %v, want %v", x, y, ca, cb)
			}
		}
	}
	return ""
}

// TestPNGStripsRefuse: broken files fail with an error, never a picture.
func TestPNGStripsRefuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := testPNG{w: 20, h: 10, depth: 8, colorType: 6}.encode(rng)
	hdr, err := readPNGHeader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	iend := bytes.Index(good, []byte("IEND")) - 4
	idat := bytes.Index(good, []byte("IDAT")) + 4
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0xFF; return b }
	taller := bytes.Clone(good)
	taller[23] = 11 // IHDR says 11 rows: the checksum no longer matches
	// 11 rows of data under a header that says 10 (checksums right).
	long := testPNG{w: 20, h: 11, depth: 8, colorType: 6}.encode(rng)
	img, err := png.Decode(bytes.NewReader(long))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	for y := range 11 {
		raw.WriteByte(0)
		raw.Write(img.(*image.NRGBA).Pix[y*80 : y*80+80])
	}
	z := zlibBytes(raw.Bytes())
	if _, err := decodePNGShrunk(bytes.NewReader(pngWith(good[16:29], zlibBytes(raw.Bytes()[:10*81]))), hdr, color.NRGBA{A: 255}, 1, 4); err != nil {
		t.Fatalf("10 rows under a header that says 10: %v", err)
	}
	badSum := bytes.Clone(zlibBytes(raw.Bytes()[:10*81]))
	badSum[len(badSum)-1] ^= 1 // the zlib stream's Adler-32
	for name, data := range map[string][]byte{
		"too much pixel data":    pngWith(good[16:29], z),
		"zlib checksum":          pngWith(good[16:29], badSum),
		"truncated in the data":  good[:idat+20],
		"no IEND":                good[:iend],
		"a checksum":             flip(idat + 2),
		"IHDR changed":           taller,
		"bad filter type (data)": filterByte(t, good, 7),
	} {
		if _, err := decodePNGShrunk(bytes.NewReader(data), hdr, color.NRGBA{A: 255}, 1, 4); err == nil {
			t.Errorf("%s: decoded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// zlibBytes compresses b.
func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(b) // a bytes.Buffer does not fail
	_ = zw.Close()
	return z.Bytes()
}

// pngWith returns a PNG of the IHDR data ihdr and the image data z.
func pngWith(ihdr, z []byte) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	pngChunk(&out, "IHDR", ihdr)
	pngChunk(&out, "IDAT", z)
	pngChunk(&out, "IEND", nil)
	return out.Bytes()
}

// filterByte returns good (a 20-pixel-wide RGBA PNG) with the filter byte
// of its first row set to ft, recompressed.
func filterByte(t *testing.T, good []byte, ft byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	var raw bytes.Buffer
	for y := range b.Dy() {
		raw.WriteByte(map[bool]byte{true: ft, false: 0}[y == 0])
		raw.Write(img.(*image.NRGBA).Pix[y*img.(*image.NRGBA).Stride:][:4*b.Dx()])
	}
	return pngWith(good[16:29], zlibBytes(raw.Bytes()))
}

// FuzzPNGStrips: whatever a non-interlaced PNG holds, the strip decoder
// never panics, and where image/png decodes it, gives the same pixels.
func FuzzPNGStrips(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range pngVariants(rng, 9, 7) {
		f.Add(p.encode(rng), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, shrink uint8) {
		hdr, err := readPNGHeader(bytes.NewReader(data))
		if err != nil || hdr.interlaced || int64(hdr.w)*int64(hdr.h) > 1<<20 {
			return
		}
		s := []int{1, 2, 4, 8}[shrink%4]
		bg := color.NRGBA{1, 2, 3, 255}
		got, err := decodePNGShrunk(bytes.NewReader(data), hdr, bg, s, hdr.stripRows(s))
		want, werr := png.Decode(bytes.NewReader(data))
		if werr != nil {
			return
		}
		if err != nil {
			t.Fatalf("image/png decodes it, the strips fail: %v", err)
		}
		if d := ycbcrDiff(got, toYCbCr(want, bg, s)); d != "" {
			t.Fatal(d)
		}
	})
}

// TestToYCbCrShrinks: shrunk s times, each pixel is the rounded mean of
// its s×s block, fewer at the right and bottom edges.
func TestToYCbCrShrinks(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 3, 3))
	copy(g.Pix, []byte{
		10, 20, 200,
		30, 41, 100,
		7, 9, 255,
	})
	for _, img := range []image.Image{g, toNRGBA(g)} {
		got := toYCbCr(img, color.NRGBA{A: 255}, 2)
		if got.Rect != image.Rect(0, 0, 2, 2) {
			t.Fatalf("%T: size %v, want 2×2", img, got.Rect)
		}
		want := [][]byte{{25, 150}, {8, 255}} // (10+20+30+41)/4 = 25.25; (200+100)/2; (7+9)/2; 255
		for y := range 2 {
			for x := range 2 {
				if c := got.YCbCrAt(x, y); c.Y != want[y][x] || c.Cb != 128 || c.Cr != 128 {
					t.Errorf("%T: pixel %d,%d = %v, want Y %d", img, x, y, c, want[y][x])
				}
			}
		}
	}
}

func toNRGBA(g *image.Gray) *image.NRGBA {
	n := image.NewNRGBA(g.Bounds())
	for y := range g.Bounds().Dy() {
		for x := range g.Bounds().Dx() {
			n.Set(x, y, g.At(x, y))
		}
	}
	return n
}
