package transcode

import (
	"bufio"
	"encoding/binary"
	"io"
)

// jpegOrientation returns the EXIF orientation (1..8) of a JPEG stream, or 1
// when there is none or it cannot be read. It reads the markers up to the
// first scan and nothing after, and trusts no length it finds.
func jpegOrientation(r io.Reader) int {
	br := bufio.NewReader(r)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xFF, 0xD8} {
		return 1
	}
	for {
		var m [4]byte
		if _, err := io.ReadFull(br, m[:2]); err != nil || m[0] != 0xFF {
			return 1
		}
		marker := m[1]
		if marker == 0xFF { // fill byte
			_ = br.UnreadByte() // cannot fail right after a ReadFull
			continue
		}
		if marker == 0xD9 || marker == 0xDA { // end of image, start of scan
			return 1
		}
		if marker >= 0xD0 && marker <= 0xD7 || marker == 0x01 { // no length
			continue
		}
		if _, err := io.ReadFull(br, m[2:4]); err != nil {
			return 1
		}
		n := int(binary.BigEndian.Uint16(m[2:4])) - 2
		if n < 0 {
			return 1
		}
		if marker != 0xE1 {
			if _, err := br.Discard(n); err != nil {
				return 1
			}
			continue
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(br, seg); err != nil {
			return 1
		}
		if o, ok := exifOrientation(seg); ok {
			return o
		}
	}
}

// exifOrientation reads tag 0x0112 from IFD0 of an APP1 "Exif" segment.
func exifOrientation(seg []byte) (int, bool) {
	if len(seg) < 14 || string(seg[:6]) != "Exif\x00\x00" {
		return 0, false
	}
	tiff := seg[6:]
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, false
	}
	if bo.Uint16(tiff[2:4]) != 42 {
		return 0, false
	}
	ifd := int64(bo.Uint32(tiff[4:8]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 0, false
	}
	count := int64(bo.Uint16(tiff[ifd : ifd+2]))
	for i := range count {
		e := ifd + 2 + i*12
		if e+12 > int64(len(tiff)) {
			return 0, false
		}
		if bo.Uint16(tiff[e:e+2]) != 0x0112 {
			continue
		}
		// SHORT, count 1: the value sits in the first two bytes of the
		// value field.
		if bo.Uint16(tiff[e+2:e+4]) != 3 {
			return 0, false
		}
		o := int(bo.Uint16(tiff[e+8 : e+10]))
		if o < 1 || o > 8 {
			return 0, false
		}
		return o, true
	}
	return 0, false
}
