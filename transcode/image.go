package transcode

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registered for image.Decode
	"image/jpeg"
	_ "image/png" // registered for image.Decode
	"io"
	"os"

	"github.com/disintegration/imaging"
	"github.com/muesli/smartcrop"
	_ "golang.org/x/image/bmp" // registered for image.Decode
	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp" // registered for image.Decode
)

// prepareImage writes src, sniffed as a picture, to dst as a 9:16 JPEG.
func (t *Transcoder) prepareImage(ctx context.Context, src, dst string, m Media, opts Options) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	var d decoded
	var err error
	if m.Format == "heif" {
		d, err = t.decodeHEIF(ctx, src, shrinkFor(opts.Crop))
	} else {
		d, err = t.decodeFile(src, true, shrinkFor(opts.Crop))
	}
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	pic := newOriented(d, t.cfg.Background)
	var out image.Image
	switch opts.Crop {
	case CropPad:
		out = pic.pad()
	case CropSmart:
		out = pic.cropScale(pic.smartCrop())
	default:
		out = pic.cropScale(centerCrop(pic.w, pic.h, aspectW, aspectH))
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if err := writeJPEG(dst, out, t.cfg.JPEGQuality); err != nil {
		return Result{}, err
	}
	b := out.Bounds()
	return Result{ContentType: ContentTypeFor(KindImage), Width: b.Dx(), Height: b.Dy()}, nil
}

// maxJPEGScans bounds the scans of a JPEG (libjpeg-turbo's djpeg suggests
// limits of this order against scan-flooding files).
const maxJPEGScans = 100

// checkPixels refuses a picture whose declared size is over the limit,
// before any of it is decoded.
func (t *Transcoder) checkPixels(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: picture declares %d×%d pixels", ErrCorruptMedia, w, h)
	}
	if int64(w)*int64(h) > t.cfg.MaxPixels {
		return fmt.Errorf("%w: %d×%d is %d pixels, over the limit of %d", ErrTooManyPixels, w, h, int64(w)*int64(h), t.cfg.MaxPixels)
	}
	return nil
}

// decoded is a picture as decoded: maybe shrunk by the JPEG decoder or
// the PNG strip decoder, with the size it has in the file, the EXIF
// orientation it is shown in and how much it may be shrunk while it is
// converted to YCbCr.
type decoded struct {
	img    image.Image
	stored image.Point // size in the file, before any shrink
	orient int         // EXIF orientation, 1..8
	shrink int         // 1, 2, 4 or 8
}

// decodeFile decodes the picture at path after checking its declared size,
// with its EXIF orientation when exif is set (JPEG), else 1. A JPEG goes
// through libjpeg-turbo where available, shrunk in the DCT domain by what
// shrink (given the displayed size) allows.
func (t *Transcoder) decodeFile(path string, exif bool, shrink func(w, h int) int) (decoded, error) {
	f, err := os.Open(path)
	if err != nil {
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return decoded{}, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
	}
	if err := t.checkPixels(cfg.Width, cfg.Height); err != nil {
		return decoded{}, err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	d := decoded{stored: image.Pt(cfg.Width, cfg.Height), orient: 1, shrink: 1}
	if format != "jpeg" {
		if shrink != nil {
			d.shrink = shrink(cfg.Width, cfg.Height)
		}
		return t.decodeOther(f, cfg, format, d)
	}
	// JPEG: whole in memory (counted in its cost), as TurboJPEG wants.
	// The orientation is not read yet: count the smaller shrink of the two.
	fi, err := f.Stat()
	if err != nil {
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	s0 := 1
	if shrink != nil {
		s0 = min(shrink(cfg.Width, cfg.Height), shrink(cfg.Height, cfg.Width))
	}
	if err := t.checkDecodeCost(decodeCost(cfg, format, s0, fi.Size(), nil, false)); err != nil {
		return decoded{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return decoded{}, fmt.Errorf("transcode: %s: %w", path, err)
	}
	// A progressive JPEG may hold any number of scans, each a pass over
	// the whole picture: thousands make a tiny file decode for minutes.
	// Real files have about ten.
	if n := bytes.Count(data, []byte{0xFF, 0xDA}); n > maxJPEGScans {
		return decoded{}, fmt.Errorf("%w: %d scans, more than the %d a picture needs", ErrCorruptMedia, n, maxJPEGScans)
	}
	// A truncated file has no end-of-image marker after its last scan.
	// libjpeg-turbo 2.1 reports the premature end only most of the time
	// (3 decodes in 300 of the same truncated file came back clean here),
	// so the bytes are checked first.
	if !jpegComplete(data) {
		return decoded{}, fmt.Errorf("%w: truncated: no end-of-image marker after the last scan", ErrCorruptMedia)
	}
	if exif {
		d.orient = jpegOrientation(bytes.NewReader(data))
	}
	s := 1
	if shrink != nil {
		dw, dh := cfg.Width, cfg.Height
		if d.orient >= 5 {
			dw, dh = dh, dw
		}
		s = shrink(dw, dh)
	}
	d.shrink = s
	if m, ok, err := decodeJPEGFast(data, s); ok || err != nil {
		if err != nil {
			return decoded{}, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
		}
		d.img = m
		return d, nil
	}
	if d.img, err = jpeg.Decode(bytes.NewReader(data)); err != nil {
		return decoded{}, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
	}
	return d, nil
}

// decodeOther decodes f, a picture of cfg in format other than JPEG, after
// checking what that costs. A non-interlaced PNG is decoded a strip at a
// time straight into its shrunk copy; a TIFF reads f where it needs
// (x/image/tiff would otherwise hold the whole file).
func (t *Transcoder) decodeOther(f *os.File, cfg image.Config, format string, d decoded) (decoded, error) {
	var fi os.FileInfo
	var err error
	if fi, err = f.Stat(); err != nil {
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	var strips *pngHeader
	interlaced := false
	if format == "png" {
		h, err := readPNGHeader(f)
		if err != nil {
			return decoded{}, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
		}
		if interlaced = h.interlaced; !interlaced {
			strips = &h
		}
	}
	if err := t.checkDecodeCost(decodeCost(cfg, format, d.shrink, fi.Size(), strips, interlaced)); err != nil {
		return decoded{}, err
	}
	switch {
	case strips != nil:
		d.img, err = decodePNGShrunk(f, *strips, t.cfg.Background, d.shrink, strips.stripRows(d.shrink))
	case format == "tiff":
		d.img, err = tiff.Decode(f)
	default:
		d.img, _, err = image.Decode(bufio.NewReaderSize(f, 64<<10))
	}
	if err != nil {
		return decoded{}, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
	}
	return d, nil
}

// jpegComplete reports whether a JPEG's marker structure runs from its
// start to an end-of-image marker: segments are skipped by their lengths,
// the entropy-coded data after each start-of-scan up to the next marker (in
// it an FF byte is followed by 00 or a restart marker). Data after the end
// (a second image, vendor trailers) is not looked at.
func jpegComplete(data []byte) bool {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return false
	}
	isRST := func(m byte) bool { return m >= 0xD0 && m <= 0xD7 }
	for i := 2; i+1 < len(data); {
		if data[i] != 0xFF {
			return false
		}
		m := data[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD9: // end of image
			return true
		case m == 0x01 || isRST(m): // no length
			i += 2
			continue
		}
		if i+3 >= len(data) {
			return false
		}
		i += 2 + (int(data[i+2])<<8 | int(data[i+3]))
		if m == 0xDA { // entropy-coded data up to the next marker
			for i+1 < len(data) && !(data[i] == 0xFF && data[i+1] != 0x00 && !isRST(data[i+1])) {
				i++
			}
		}
	}
	return false
}

// shrinkFor returns how much a picture displayed at w×h may be shrunk while
// decoding (1, 2, 4 or 8) and still give the output crop mode makes at
// full quality.
func shrinkFor(mode CropMode) func(w, h int) int {
	return func(w, h int) int {
		src := image.Rect(0, 0, w, h) // what the output is cut from
		if mode != CropPad {
			src = centerCrop(w, h, aspectW, aspectH)
		}
		ow, oh := fitWithin(src.Dx(), src.Dy(), TargetShort, TargetLong)
		for _, s := range []int{8, 4, 2} {
			if src.Dx() >= s*ow && src.Dy() >= s*oh {
				return s
			}
		}
		return 1
	}
}

func writeJPEG(path string, img image.Image, quality int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	done := false
	if m, ok := img.(*image.YCbCr); ok {
		done, err = encodeJPEGFast(w, m, quality)
	}
	if !done {
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: quality})
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("transcode: writing %s: %w", path, err)
	}
	return nil
}

// oriented is a decoded picture and the EXIF orientation it is shown in.
// Crops are given in displayed coordinates of the picture at the size it
// has in the file, whatever the decoder shrank it to: output sizes do not
// depend on the shrink. The pixels stay as stored until the output is
// small.
type oriented struct {
	src    *image.YCbCr
	orient int
	stored image.Point // size in the file
	w, h   int         // displayed size
}

// newOriented converts d to YCbCr, transparency flattened onto bg.
func newOriented(d decoded, bg color.NRGBA) oriented {
	src := toYCbCr(d.img, bg, d.shrink)
	orient := d.orient
	if orient < 1 || orient > 8 {
		orient = 1
	}
	stored := d.stored
	if stored.X <= 0 || stored.Y <= 0 {
		stored = src.Rect.Size()
	}
	w, h := stored.X, stored.Y
	if orient >= 5 {
		w, h = h, w
	}
	return oriented{src: src, orient: orient, stored: stored, w: w, h: h}
}

// cropScale cuts the displayed region r out and scales it down (never up)
// to fit the status frame.
func (p oriented) cropScale(r image.Rectangle) *image.YCbCr {
	w, h := fitWithin(r.Dx(), r.Dy(), TargetShort, TargetLong)
	return p.scaled(r, w, h)
}

// scaled returns the displayed region r scaled to w×h, upright.
func (p oriented) scaled(r image.Rectangle, w, h int) *image.YCbCr {
	sr := storedRect(rectOf(r), p.orient, p.stored.X, p.stored.Y)
	// From the size in the file to the size decoded.
	fx := float64(p.src.Rect.Dx()) / float64(p.stored.X)
	fy := float64(p.src.Rect.Dy()) / float64(p.stored.Y)
	sr = rect{sr.x * fx, sr.y * fy, sr.w * fx, sr.h * fy}
	tw, th := w, h
	if p.orient >= 5 {
		tw, th = h, w
	}
	return orientYCbCr(resampleYCbCr(p.src, sr, tw, th), p.orient)
}

// smartCrop finds the most interesting part of the picture on a small copy
// (muesli/smartcrop) and returns the largest 9:16 rectangle centred on it.
func (p oriented) smartCrop() image.Rectangle {
	full := centerCrop(p.w, p.h, aspectW, aspectH)
	pw, ph := fitWithin(p.w, p.h, 400, 400)
	preview := p.scaled(image.Rect(0, 0, p.w, p.h), pw, ph)
	best, err := smartcrop.NewAnalyzer(imagingResizer{}).FindBestCrop(preview, aspectW, aspectH)
	if err != nil || best.Empty() {
		return full
	}
	// The centre of the interesting part, in displayed coordinates.
	cx := (float64(best.Min.X+best.Max.X) / 2) * float64(p.w) / float64(pw)
	cy := (float64(best.Min.Y+best.Max.Y) / 2) * float64(p.h) / float64(ph)
	x := min(max(int(cx)-full.Dx()/2, 0), p.w-full.Dx())
	y := min(max(int(cy)-full.Dy()/2, 0), p.h-full.Dy())
	return image.Rect(x, y, x+full.Dx(), y+full.Dy())
}

// imagingResizer lets smartcrop scale with imaging.
type imagingResizer struct{}

func (imagingResizer) Resize(img image.Image, width, height uint) image.Image {
	return imaging.Resize(img, int(width), int(height), imaging.Linear)
}

// pad fits the whole picture into a 9:16 frame over a blurred, zoomed,
// slightly darkened copy of itself, so nothing is cut off. The blur works
// on a copy at an eighth of the frame's size.
func (p oriented) pad() *image.NRGBA {
	fw, fh := fitWithin(p.w, p.h, TargetShort, TargetLong)
	W, H := fw, fh
	if fw*aspectH > fh*aspectW {
		H = (fw*aspectH + aspectW/2) / aspectW
	} else {
		W = (fh*aspectW + aspectH/2) / aspectH
	}
	fg := p.scaled(image.Rect(0, 0, p.w, p.h), fw, fh)
	small := p.scaled(centerCrop(p.w, p.h, aspectW, aspectH), max(1, W/8), max(1, H/8))
	bg := imaging.Resize(imaging.Blur(small, 3), W, H, imaging.Linear)
	bg = imaging.AdjustBrightness(bg, -20)
	return imaging.Paste(bg, fg, image.Pt((W-fw)/2, (H-fh)/2))
}
