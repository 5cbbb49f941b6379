//go:build cgo && !purego

package transcode

// JPEG through libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev):
// SIMD decoding straight into YCbCr planes, with DCT-domain scaling (1/2,
// 1/4, 1/8) when the output is that much smaller, and encoding from planes.
// Go's image/jpeg does the same work about three times slower; builds
// without cgo (or with -tags purego) use it instead, see jpeg_std.go.

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>

static int mp_decode(tjhandle h, const unsigned char *buf, unsigned long size,
		unsigned char *y, unsigned char *u, unsigned char *v,
		int width, int ystride, int cstride, int height) {
	unsigned char *planes[3] = {y, u, v};
	int strides[3] = {ystride, cstride, cstride};
	return tjDecompressToYUVPlanes(h, buf, size, planes, width, strides, height, 0);
}

static int mp_encode(tjhandle h, const unsigned char *y, const unsigned char *u, const unsigned char *v,
		int width, int ystride, int cstride, int height,
		unsigned char **out, unsigned long *outSize, int quality) {
	const unsigned char *planes[3] = {y, u, v};
	int strides[3] = {ystride, cstride, cstride};
	return tjCompressFromYUVPlanes(h, planes, width, strides, height, TJSAMP_420, out, outSize, quality, 0);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"unsafe"
)

// turboSubsampling maps TurboJPEG's subsampling to Go's.
var turboSubsampling = map[C.int]image.YCbCrSubsampleRatio{
	C.TJSAMP_444: image.YCbCrSubsampleRatio444,
	C.TJSAMP_422: image.YCbCrSubsampleRatio422,
	C.TJSAMP_420: image.YCbCrSubsampleRatio420,
	C.TJSAMP_440: image.YCbCrSubsampleRatio440,
	C.TJSAMP_411: image.YCbCrSubsampleRatio411,
}

func turboError(h C.tjhandle) error {
	return errors.New(C.GoString(C.tjGetErrorStr2(h)))
}

// decodeJPEGFast decodes data at 1/shrink of its size (shrink is 1, 2, 4
// or 8) into YCbCr planes. ok is false when the picture is not YCbCr (grey,
// CMYK): the caller then uses image/jpeg.
func decodeJPEGFast(data []byte, shrink int) (m *image.YCbCr, ok bool, err error) {
	if len(data) == 0 {
		return nil, false, nil
	}
	h := C.tjInitDecompress()
	if h == nil {
		return nil, false, nil
	}
	defer C.tjDestroy(h)
	buf := (*C.uchar)(unsafe.Pointer(&data[0]))
	var w, ht, subsamp, cs C.int
	if C.tjDecompressHeader3(h, buf, C.ulong(len(data)), &w, &ht, &subsamp, &cs) != 0 {
		return nil, false, turboError(h)
	}
	ratio, known := turboSubsampling[subsamp]
	if !known || cs != C.TJCS_YCbCr {
		return nil, false, nil
	}
	sw := (int(w) + shrink - 1) / shrink
	sh := (int(ht) + shrink - 1) / shrink
	// TurboJPEG's plane sizes may be padded beyond Go's; allocate for both.
	yw, yh := int(C.tjPlaneWidth(0, C.int(sw), subsamp)), int(C.tjPlaneHeight(0, C.int(sh), subsamp))
	cw, ch := int(C.tjPlaneWidth(1, C.int(sw), subsamp)), int(C.tjPlaneHeight(1, C.int(sh), subsamp))
	m = &image.YCbCr{
		Y:              make([]uint8, yw*yh),
		Cb:             make([]uint8, cw*ch),
		Cr:             make([]uint8, cw*ch),
		YStride:        yw,
		CStride:        cw,
		SubsampleRatio: ratio,
		Rect:           image.Rect(0, 0, sw, sh),
	}
	if C.mp_decode(h, buf, C.ulong(len(data)),
		(*C.uchar)(&m.Y[0]), (*C.uchar)(&m.Cb[0]), (*C.uchar)(&m.Cr[0]),
		C.int(sw), C.int(yw), C.int(cw), C.int(sh)) != 0 {
		// Warnings about stray bytes are common in camera files and
		// harmless; a premature end (a truncated file) is not: a status
		// must not show half a picture.
		err := turboError(h)
		if C.tjGetErrorCode(h) != C.TJERR_WARNING || strings.Contains(err.Error(), "remature end") {
			return nil, false, err
		}
	}
	return m, true, nil
}

// encodeJPEGFast writes a 4:2:0 m as JPEG to w. ok is false for any other
// layout: the caller then uses image/jpeg.
func encodeJPEGFast(w io.Writer, m *image.YCbCr, quality int) (ok bool, err error) {
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 || m.Rect.Min != (image.Point{}) || m.Rect.Empty() {
		return false, nil
	}
	h := C.tjInitCompress()
	if h == nil {
		return false, nil
	}
	defer C.tjDestroy(h)
	var out *C.uchar
	var size C.ulong
	if C.mp_encode(h, (*C.uchar)(&m.Y[0]), (*C.uchar)(&m.Cb[0]), (*C.uchar)(&m.Cr[0]),
		C.int(m.Rect.Dx()), C.int(m.YStride), C.int(m.CStride), C.int(m.Rect.Dy()),
		&out, &size, C.int(quality)) != 0 { //nolint:gocritic // a false positive in the code cgo generates for this call
		return true, fmt.Errorf("transcode: jpeg encode: %w", turboError(h))
	}
	defer C.tjFree(out)
	_, err = w.Write(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(size)))
	return true, err
}
