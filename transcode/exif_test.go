package transcode

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"testing"
)

// exifJPEG returns a small JPEG with the APP1 segments segs inserted after
// its SOI marker.
func exifJPEG(t *testing.T, segs ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 8)), nil); err != nil {
		t.Fatal(err)
	}
	out := []byte{0xFF, 0xD8}
	for _, s := range segs {
		out = append(out, 0xFF, 0xE1)
		out = binary.BigEndian.AppendUint16(out, uint16(len(s)+2))
		out = append(out, s...)
	}
	return append(out, buf.Bytes()[2:]...)
}

// exifSegment is an APP1 "Exif" payload in byte order bo whose IFD0 holds
// the entries (tag, type, value) given, in that order.
func exifSegment(bo binary.AppendByteOrder, entries ...[3]uint16) []byte {
	tiff := []byte("MM")
	if bo == binary.AppendByteOrder(binary.LittleEndian) {
		tiff = []byte("II")
	}
	tiff = bo.AppendUint16(tiff, 42)
	tiff = bo.AppendUint32(tiff, 8)
	tiff = bo.AppendUint16(tiff, uint16(len(entries)))
	for _, e := range entries {
		tiff = bo.AppendUint16(tiff, e[0])
		tiff = bo.AppendUint16(tiff, e[1])
		tiff = bo.AppendUint32(tiff, 1)
		tiff = bo.AppendUint16(tiff, e[2])
		tiff = append(tiff, 0, 0)
	}
	tiff = bo.AppendUint32(tiff, 0) // no next IFD
	return append([]byte("Exif\x00\x00"), tiff...)
}

func TestJPEGOrientationTable(t *testing.T) {
	const short = 3
	type test struct {
		name string
		data []byte
		want int
	}
	var tests []test
	for o := uint16(1); o <= 8; o++ {
		for _, bo := range []binary.AppendByteOrder{binary.BigEndian, binary.LittleEndian} {
			tests = append(tests, test{
				name: bo.String() + "/" + string(rune('0'+o)),
				// The orientation after other tags, as cameras write it.
				data: exifJPEG(t, exifSegment(bo, [3]uint16{0x010F, 2, 0}, [3]uint16{0x0112, short, o}, [3]uint16{0x011A, 5, 0})),
				want: int(o),
			})
		}
	}
	xmp := append([]byte("http://ns.adobe.com/xap/1.0/\x00"), make([]byte, 100)...)
	tests = append(tests,
		test{"after an XMP APP1", exifJPEG(t, xmp, exifSegment(binary.BigEndian, [3]uint16{0x0112, short, 6})), 6},
		test{"no APP1", exifJPEG(t), 1},
		test{"no orientation tag", exifJPEG(t, exifSegment(binary.LittleEndian, [3]uint16{0x010F, 2, 0})), 1},
		test{"orientation 0", exifJPEG(t, exifSegment(binary.BigEndian, [3]uint16{0x0112, short, 0})), 1},
		test{"orientation 9", exifJPEG(t, exifSegment(binary.BigEndian, [3]uint16{0x0112, short, 9})), 1},
		test{"orientation as LONG", exifJPEG(t, exifSegment(binary.BigEndian, [3]uint16{0x0112, 4, 6})), 1},
		test{"entry count past the end", exifJPEG(t, []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff\x01\x12")), 1},
		test{"bad byte order", exifJPEG(t, []byte("Exif\x00\x00XX\x00\x2a\x00\x00\x00\x08\x00\x00")), 1},
		test{"bad magic", exifJPEG(t, []byte("Exif\x00\x00MM\x00\x2b\x00\x00\x00\x08\x00\x00")), 1},
		test{"empty APP1", exifJPEG(t, nil), 1},
		test{"not a JPEG", []byte("GIF89a"), 1},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(bytes.NewReader(tt.data)); got != tt.want {
				t.Fatalf("jpegOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}
