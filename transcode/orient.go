package transcode

import (
	"image"
	"image/color"
)

// storedRect maps a rectangle in displayed coordinates to the stored
// picture's coordinates, for EXIF orientation o of a stored sw×sh picture.
func storedRect(r rect, o, sw, sh int) rect {
	W, H := float64(sw), float64(sh)
	pt := func(x, y float64) (float64, float64) {
		switch o {
		case 2:
			return W - x, y
		case 3:
			return W - x, H - y
		case 4:
			return x, H - y
		case 5:
			return y, x
		case 6:
			return y, H - x
		case 7:
			return W - y, H - x
		case 8:
			return W - y, x
		}
		return x, y
	}
	x0, y0 := pt(r.x, r.y)
	x1, y1 := pt(r.x+r.w, r.y+r.h)
	return rect{min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// orientPlane returns p as displayed under EXIF orientation o.
func orientPlane(p plane, o int) plane {
	if o == 1 {
		return p
	}
	W, H := p.W, p.H
	dw, dh := W, H
	if o >= 5 {
		dw, dh = H, W
	}
	out := plane{Pix: make([]uint8, dw*dh), Stride: dw, W: dw, H: dh}
	at := func(x, y int) uint8 { return p.Pix[y*p.Stride+x] }
	parallel(dh, func(a, b int) {
		for y := a; y < b; y++ {
			row := out.Pix[y*dw : (y+1)*dw]
			for x := range row {
				var v uint8
				switch o {
				case 2:
					v = at(W-1-x, y)
				case 3:
					v = at(W-1-x, H-1-y)
				case 4:
					v = at(x, H-1-y)
				case 5:
					v = at(y, x)
				case 6:
					v = at(y, H-1-x)
				case 7:
					v = at(W-1-y, H-1-x)
				case 8:
					v = at(W-1-y, x)
				}
				row[x] = v
			}
		}
	})
	return out
}

// orientYCbCr returns the 4:2:0 picture m as displayed under orientation o.
func orientYCbCr(m *image.YCbCr, o int) *image.YCbCr {
	if o == 1 {
		return m
	}
	y, cb, cr, _, _ := yPlanes(m)
	y, cb, cr = orientPlane(y, o), orientPlane(cb, o), orientPlane(cr, o)
	return &image.YCbCr{
		Y: y.Pix, Cb: cb.Pix, Cr: cr.Pix,
		YStride: y.Stride, CStride: cb.Stride,
		SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect:           image.Rect(0, 0, y.W, y.H),
	}
}

// toYCbCr returns img as a YCbCr picture: JPEG's own planes as they are,
// grey as its luma plane with neutral chroma, anything else converted to
// 4:4:4 with transparency flattened onto bg.
func toYCbCr(img image.Image, bg color.NRGBA) *image.YCbCr {
	switch m := img.(type) {
	case *image.YCbCr:
		return m
	case *image.Gray:
		return grayToYCbCr(m)
	}
	b := img.Bounds()
	out := image.NewYCbCr(image.Rect(0, 0, b.Dx(), b.Dy()), image.YCbCrSubsampleRatio444)
	// rgbAt returns the pixel at (x, y) of img (relative to its bounds),
	// over bg, as 8-bit RGB.
	var rgbAt func(x, y int) (r, g, b uint8)
	if n, ok := img.(*image.NRGBA); ok { // PNG's common case, without the interface call per pixel
		rgbAt = func(x, y int) (uint8, uint8, uint8) {
			i := n.PixOffset(b.Min.X+x, b.Min.Y+y)
			p := n.Pix[i : i+4 : i+4]
			a := uint32(p[3])
			over := func(c, bgc uint8) uint8 { return uint8((uint32(c)*a + uint32(bgc)*(255-a) + 127) / 255) }
			return over(p[0], bg.R), over(p[1], bg.G), over(p[2], bg.B)
		}
	} else {
		rgbAt = func(x, y int) (uint8, uint8, uint8) {
			// Premultiplied 16-bit: over the background is c + bg·(1−a).
			r, g, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			over := func(c uint32, bgc uint8) uint8 { return uint8(min((c+uint32(bgc)*0x101*(0xffff-a)/0xffff)>>8, 255)) }
			return over(r, bg.R), over(g, bg.G), over(bl, bg.B)
		}
	}
	parallel(b.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			for x := range b.Dx() {
				i := y*out.YStride + x
				out.Y[i], out.Cb[i], out.Cr[i] = color.RGBToYCbCr(rgbAt(x, y))
			}
		}
	})
	return out
}

// grayToYCbCr wraps a grey picture's pixels as the luma of a 4:2:0 picture.
func grayToYCbCr(g *image.Gray) *image.YCbCr {
	b := g.Bounds()
	out := image.NewYCbCr(image.Rect(0, 0, b.Dx(), b.Dy()), image.YCbCrSubsampleRatio420)
	for y := range b.Dy() {
		copy(out.Y[y*out.YStride:y*out.YStride+b.Dx()], g.Pix[g.PixOffset(b.Min.X, b.Min.Y+y):])
	}
	for i := range out.Cb {
		out.Cb[i], out.Cr[i] = 128, 128
	}
	return out
}
