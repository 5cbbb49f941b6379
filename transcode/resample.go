package transcode

import (
	"image"
	"math"
	"runtime"
	"sync"
)

// The picture hot path works on the Y, Cb and Cr planes of a YCbCr image as
// the JPEG decoder hands them over: no conversion to RGBA, the crop is only
// coordinates, and each plane is resampled once in two separable passes
// with fixed-point weights. imaging.Fill does the same crop-and-scale on
// NRGBA (four channels, float weights) and measures about 2× slower here;
// see README, Performance.

// plane is one 8-bit channel: Pix[y*Stride+x] for 0 ≤ x < W, 0 ≤ y < H.
type plane struct {
	Pix    []uint8
	Stride int
	W, H   int
}

// weightBits is the precision of the fixed-point filter weights.
const weightBits = 14

// filterTaps holds, for every output index, the first source index and the
// weights of the source samples from there on.
type filterTaps struct {
	start   []int
	n       int     // taps per output sample
	weights []int32 // len(start)*n
}

// catmullRom is the Catmull-Rom cubic (B=0, C=0.5): sharp, no ringing worth
// the name at these ratios, support 2.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// makeTaps computes the weights that map the source span [off, off+span) of
// a line of srcLen samples onto outLen samples. When shrinking, the filter
// is widened by the ratio so that it averages (antialiases) instead of
// skipping samples. Samples outside the line repeat its edge.
func makeTaps(srcLen int, off, span float64, outLen int) filterTaps {
	scale := span / float64(outLen)
	support := 2 * max(scale, 1)
	n := int(math.Ceil(support))*2 + 1
	ft := filterTaps{start: make([]int, outLen), n: n, weights: make([]int32, outLen*n)}
	fw := make([]float64, n)
	for i := range outLen {
		center := off + (float64(i)+0.5)*scale - 0.5
		first := int(math.Floor(center - support + 1))
		var sum float64
		for k := range n {
			fw[k] = catmullRom((float64(first+k) - center) / max(scale, 1))
			sum += fw[k]
		}
		// Fold the taps that fall outside the line onto its edge samples,
		// so that start..start+n stays inside it.
		start := min(max(first, 0), max(srcLen-n, 0))
		w := ft.weights[i*n : (i+1)*n]
		clear(w)
		var total int32
		for k := range n {
			j := min(max(first+k, 0), srcLen-1) - start
			if j < 0 || j >= n {
				j = min(max(j, 0), n-1)
			}
			q := int32(math.Round(fw[k] / sum * (1 << weightBits)))
			w[j] += q
			total += q
		}
		// Put the rounding error on the biggest weight: a flat area stays
		// exactly flat.
		big := 0
		for k := range w {
			if w[k] > w[big] {
				big = k
			}
		}
		w[big] += 1<<weightBits - total
		ft.start[i] = start
	}
	return ft
}

func clampByte(v int32) uint8 {
	v = (v + 1<<(weightBits-1)) >> weightBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resample scales the region r (in src's coordinates, fractional) of src
// into all of dst. Work is split across the CPUs by rows.
func resample(dst, src plane, r rect) {
	// Source rows the vertical filter will read.
	vt := makeTaps(src.H, r.y, r.h, dst.H)
	ht := makeTaps(src.W, r.x, r.w, dst.W)
	y0 := vt.start[0]
	y1 := vt.start[dst.H-1] + vt.n
	y1 = min(y1, src.H)
	// Pass 1: every needed source row, horizontally, into tmp.
	tmp := plane{Pix: make([]uint8, (y1-y0)*dst.W), Stride: dst.W, W: dst.W, H: y1 - y0}
	parallel(y1-y0, func(a, b int) {
		for y := a; y < b; y++ {
			row := src.Pix[(y0+y)*src.Stride : (y0+y)*src.Stride+src.W]
			out := tmp.Pix[y*tmp.Stride : y*tmp.Stride+dst.W]
			for x := range out {
				start := ht.start[x]
				s := row[start:min(start+ht.n, len(row))]
				w := ht.weights[x*ht.n : x*ht.n+len(s)]
				var acc int32
				for k, v := range s {
					acc += w[k] * int32(v)
				}
				out[x] = clampByte(acc)
			}
		}
	})
	// Pass 2: vertically, from tmp into dst.
	parallel(dst.H, func(a, b int) {
		acc := make([]int32, dst.W)
		for y := a; y < b; y++ {
			clear(acc)
			w := vt.weights[y*vt.n : (y+1)*vt.n]
			for k, wk := range w {
				sy := vt.start[y] + k - y0
				if wk == 0 || sy >= tmp.H {
					continue
				}
				row := tmp.Pix[sy*tmp.Stride : sy*tmp.Stride+dst.W]
				for x, v := range row {
					acc[x] += wk * int32(v)
				}
			}
			out := dst.Pix[y*dst.Stride : y*dst.Stride+dst.W]
			for x := range out {
				out[x] = clampByte(acc[x])
			}
		}
	})
}

// rect is a region with fractional coordinates.
type rect struct{ x, y, w, h float64 }

func rectOf(r image.Rectangle) rect {
	return rect{float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy())}
}

// parallel calls fn on contiguous chunks of [0, n), one per CPU.
func parallel(n int, fn func(a, b int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/16))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for a := 0; a < n; a += chunk {
		wg.Go(func() { fn(a, min(a+chunk, n)) })
	}
	wg.Wait()
}

// yPlanes returns the Y, Cb and Cr planes of m and the factors that map
// luma coordinates to chroma ones.
func yPlanes(m *image.YCbCr) (y, cb, cr plane, fx, fy float64) {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw, ch := chromaSize(w, h, m.SubsampleRatio)
	y = plane{Pix: m.Y[m.YOffset(m.Rect.Min.X, m.Rect.Min.Y):], Stride: m.YStride, W: w, H: h}
	off := m.COffset(m.Rect.Min.X, m.Rect.Min.Y)
	cb = plane{Pix: m.Cb[off:], Stride: m.CStride, W: cw, H: ch}
	cr = plane{Pix: m.Cr[off:], Stride: m.CStride, W: cw, H: ch}
	return y, cb, cr, float64(cw) / float64(w), float64(ch) / float64(h)
}

// chromaSize is the size of the chroma planes of a w×h image.
func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// resampleYCbCr scales region r (luma coordinates) of src into a new 4:2:0
// image of w×h.
func resampleYCbCr(src *image.YCbCr, r rect, w, h int) *image.YCbCr {
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	sy, scb, scr, fx, fy := yPlanes(src)
	dy, dcb, dcr, _, _ := yPlanes(dst)
	cr := rect{r.x * fx, r.y * fy, r.w * fx, r.h * fy}
	var wg sync.WaitGroup
	wg.Go(func() { resample(dy, sy, r) })
	resample(dcb, scb, cr)
	resample(dcr, scr, cr)
	wg.Wait()
	return dst
}
