package transcode

import (
	"image"
	"math"
)

// The aspect ratio of a full-screen status: 9 wide, 16 high.
const (
	aspectW = 9
	aspectH = 16
)

// centerCrop returns the largest rectangle of aspect aw:ah centred in a
// w×h picture. Its sides are rounded to whole pixels, so its ratio is aw:ah
// within a pixel.
func centerCrop(w, h, aw, ah int) image.Rectangle {
	cw, ch := w, h
	if w*ah > h*aw { // too wide: keep the height
		cw = max(1, int(math.Round(float64(h)*float64(aw)/float64(ah))))
	} else { // too high: keep the width
		ch = max(1, int(math.Round(float64(w)*float64(ah)/float64(aw))))
	}
	x := (w - cw) / 2
	y := (h - ch) / 2
	return image.Rect(x, y, x+cw, y+ch)
}

// fitWithin returns w×h scaled down, keeping its aspect ratio, to fit within
// maxW×maxH. It never scales up: a size that already fits is returned as is.
func fitWithin(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	s := math.Min(float64(maxW)/float64(w), float64(maxH)/float64(h))
	return max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
}

// statusBox is the largest frame of a status in the orientation of a w×h
// picture: 1080×1920 for portrait (and square), 1920×1080 for landscape.
func statusBox(w, h int) (int, int) {
	if w > h {
		return TargetLong, TargetShort
	}
	return TargetShort, TargetLong
}

// even rounds n down to an even number, at least 2: H.264 in yuv420p needs
// even sides.
func even(n int) int {
	return max(2, n&^1)
}
