package transcode

import (
	"bytes"
	"fmt"
	"image"
	"testing"
)

// TestResampleYCbCr: every chroma layout a JPEG may have comes out as a
// 4:2:0 picture of the asked size, a flat colour staying that colour, and a
// left/right colour split staying where it was.
func TestResampleYCbCr(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	sizes := []struct{ sw, sh, w, h int }{
		{640, 480, 90, 160},    // shrink a lot
		{333, 251, 101, 57},    // odd everywhere
		{64, 48, 64, 48},       // same size
		{5, 3, 2, 1},           // tiny
		{4032, 3024, 270, 480}, // camera size
	}
	for _, ratio := range ratios {
		for _, s := range sizes {
			t.Run(fmt.Sprintf("%v/%dx%d->%dx%d", ratio, s.sw, s.sh, s.w, s.h), func(t *testing.T) {
				src := image.NewYCbCr(image.Rect(0, 0, s.sw, s.sh), ratio)
				// Left half (in chroma samples) Cb 60, right half Cb 200.
				for y := range s.sh {
					for x := range s.sw {
						src.Y[src.YOffset(x, y)] = 123
						c := src.COffset(x, y)
						src.Cr[c] = 140
						if x < s.sw/2 {
							src.Cb[c] = 60
						} else {
							src.Cb[c] = 200
						}
					}
				}
				dst := resampleYCbCr(src, rect{0, 0, float64(s.sw), float64(s.sh)}, s.w, s.h)
				if dst.Rect != image.Rect(0, 0, s.w, s.h) || dst.SubsampleRatio != image.YCbCrSubsampleRatio420 {
					t.Fatalf("got %v %v, want %d×%d 4:2:0", dst.Rect, dst.SubsampleRatio, s.w, s.h)
				}
				cw, ch := (s.w+1)/2, (s.h+1)/2
				if len(dst.Cb) < cw*ch || dst.CStride < cw {
					t.Fatalf("chroma planes %d bytes, stride %d, for %d×%d", len(dst.Cb), dst.CStride, cw, ch)
				}
				for y := range s.h {
					for x := range s.w {
						if v := dst.Y[dst.YOffset(x, y)]; v != 123 {
							t.Fatalf("Y(%d,%d) = %d, want 123", x, y, v)
						}
						if v := dst.Cr[dst.COffset(x, y)]; v != 140 {
							t.Fatalf("Cr(%d,%d) = %d, want 140", x, y, v)
						}
					}
				}
				if s.w < 8 {
					return
				}
				if l, r := dst.Cb[dst.COffset(0, s.h/2)], dst.Cb[dst.COffset(s.w-1, s.h/2)]; l > 70 || r < 190 {
					t.Fatalf("Cb left %d, right %d: want about 60 and 200", l, r)
				}
			})
		}
	}
}

// TestOrientPlane checks orientPlane against the definition of the EXIF
// orientations on a 3×2 plane: where the stored top-left pixel ends up.
func TestOrientPlane(t *testing.T) {
	// Stored:  1 2 3
	//          4 5 6
	src := plane{Pix: []uint8{1, 2, 3, 4, 5, 6}, Stride: 3, W: 3, H: 2}
	want := map[int][]uint8{
		1: {1, 2, 3, 4, 5, 6},
		2: {3, 2, 1, 6, 5, 4}, // mirrored
		3: {6, 5, 4, 3, 2, 1}, // turned 180°
		4: {4, 5, 6, 1, 2, 3}, // flipped
		5: {1, 4, 2, 5, 3, 6}, // transposed
		6: {4, 1, 5, 2, 6, 3}, // turned 90° clockwise
		7: {6, 3, 5, 2, 4, 1}, // transversed
		8: {3, 6, 2, 5, 1, 4}, // turned 90° anticlockwise
	}
	for o := 1; o <= 8; o++ {
		got := orientPlane(src, o)
		if !bytes.Equal(got.Pix[:got.W*got.H], want[o]) {
			t.Errorf("orientation %d: %v, want %v", o, got.Pix, want[o])
		}
		if o >= 5 && (got.W != 2 || got.H != 3) || o < 5 && (got.W != 3 || got.H != 2) {
			t.Errorf("orientation %d: %d×%d", o, got.W, got.H)
		}
	}
}
