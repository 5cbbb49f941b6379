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
// 4:4:4 with transparency flattened onto bg and shrunk s times (each
// output pixel the mean of an s×s block), so that the copy is s² times
// smaller than the decoded picture.
func toYCbCr(img image.Image, bg color.NRGBA, s int) *image.YCbCr {
	switch m := img.(type) {
	case *image.YCbCr:
		return m
	case *image.Gray:
		if s <= 1 {
			return grayToYCbCr(m)
		}
	}
	s = max(s, 1)
	b := img.Bounds()
	out := image.NewYCbCr(image.Rect(0, 0, ceilDiv(b.Dx(), s), ceilDiv(b.Dy(), s)), image.YCbCrSubsampleRatio444)
	convertInto(out, 0, img, bg, s)
	return out
}

// ceilDiv is a/b rounded up.
func ceilDiv(a, b int) int { return (a + b - 1) / b }

// convertInto converts img, flattened onto bg, into the 4:4:4 picture out
// from its row oy on, shrunk s times: each pixel of out is the mean of an
// s×s block of img (fewer at the right and bottom edges).
func convertInto(out *image.YCbCr, oy int, img image.Image, bg color.NRGBA, s int) {
	b := img.Bounds()
	rgbAt := rgbFunc(img, bg)
	ow, oh := ceilDiv(b.Dx(), s), ceilDiv(b.Dy(), s)
	parallel(oh, func(y0, y1 int) {
		sums := make([]uint32, 3*ow)
		for y := y0; y < y1; y++ {
			clear(sums)
			rows := min(s, b.Dy()-y*s)
			for sy := y * s; sy < y*s+rows; sy++ {
				for x := range b.Dx() {
					yy, cb, cr := color.RGBToYCbCr(rgbAt(x, sy))
					p := sums[3*(x/s) : 3*(x/s)+3 : 3*(x/s)+3]
					p[0] += uint32(yy)
					p[1] += uint32(cb)
					p[2] += uint32(cr)
				}
			}
			i := (oy+y)*out.YStride + out.Rect.Min.X
			for x := range ow {
				n := uint32(rows * min(s, b.Dx()-x*s))
				p := sums[3*x : 3*x+3 : 3*x+3]
				out.Y[i+x] = uint8((p[0] + n/2) / n)
				out.Cb[i+x] = uint8((p[1] + n/2) / n)
				out.Cr[i+x] = uint8((p[2] + n/2) / n)
			}
		}
	})
}

// rgbFunc returns a function giving the pixel at (x, y) of img (relative to
// its bounds), over bg, as 8-bit RGB. The common decoded types are read
// without an interface call a pixel; all give what the generic
// premultiplied 16-bit path gives.
func rgbFunc(img image.Image, bg color.NRGBA) func(x, y int) (r, g, b uint8) {
	b := img.Bounds()
	// Premultiplied 16-bit: over the background is c + bg·(1−a).
	over16 := func(r, g, bl, a uint32) (uint8, uint8, uint8) {
		over := func(c uint32, bgc uint8) uint8 { return uint8(min((c+uint32(bgc)*0x101*(0xffff-a)/0xffff)>>8, 255)) }
		return over(r, bg.R), over(g, bg.G), over(bl, bg.B)
	}
	switch m := img.(type) {
	case *image.NRGBA: // PNG's common case
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(b.Min.X+x, b.Min.Y+y)
			p := m.Pix[i : i+4 : i+4]
			a := uint32(p[3])
			over := func(c, bgc uint8) uint8 { return uint8((uint32(c)*a + uint32(bgc)*(255-a) + 127) / 255) }
			return over(p[0], bg.R), over(p[1], bg.G), over(p[2], bg.B)
		}
	case *image.RGBA:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(b.Min.X+x, b.Min.Y+y)
			p := m.Pix[i : i+4 : i+4]
			return over16(color.RGBA{p[0], p[1], p[2], p[3]}.RGBA())
		}
	case *image.NRGBA64:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(b.Min.X+x, b.Min.Y+y)
			p := m.Pix[i : i+8 : i+8]
			return over16(color.NRGBA64{
				uint16(p[0])<<8 | uint16(p[1]), uint16(p[2])<<8 | uint16(p[3]),
				uint16(p[4])<<8 | uint16(p[5]), uint16(p[6])<<8 | uint16(p[7]),
			}.RGBA())
		}
	case *image.RGBA64:
		return func(x, y int) (uint8, uint8, uint8) {
			i := m.PixOffset(b.Min.X+x, b.Min.Y+y)
			p := m.Pix[i : i+8 : i+8]
			return over16(color.RGBA64{
				uint16(p[0])<<8 | uint16(p[1]), uint16(p[2])<<8 | uint16(p[3]),
				uint16(p[4])<<8 | uint16(p[5]), uint16(p[6])<<8 | uint16(p[7]),
			}.RGBA())
		}
	case *image.Gray:
		return func(x, y int) (uint8, uint8, uint8) {
			v := m.Pix[m.PixOffset(b.Min.X+x, b.Min.Y+y)]
			return v, v, v
		}
	case *image.Paletted:
		// Each palette entry once, not once a pixel.
		pal := make([][3]uint8, 256)
		for i := range pal {
			c := color.Color(color.RGBA{0, 0, 0, 0xff})
			if i < len(m.Palette) {
				c = m.Palette[i]
			}
			r, g, bl := over16(c.RGBA())
			pal[i] = [3]uint8{r, g, bl}
		}
		return func(x, y int) (uint8, uint8, uint8) {
			p := pal[m.Pix[m.PixOffset(b.Min.X+x, b.Min.Y+y)]]
			return p[0], p[1], p[2]
		}
	}
	return func(x, y int) (uint8, uint8, uint8) {
		return over16(img.At(b.Min.X+x, b.Min.Y+y).RGBA())
	}
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
