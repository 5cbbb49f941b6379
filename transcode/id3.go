package transcode

import (
	"bytes"
	"fmt"
	"io"
)

// maxID3Tags bounds how many ID3v2 tags in a row the sniffer skips (some
// taggers leave two).
const maxID3Tags = 4

// id3Len returns the length of the ID3v2 tag whose 10-byte header starts
// hdr: header, body (a syncsafe size) and the footer when its flag is set.
// ok is false when hdr is not a valid ID3v2 header.
func id3Len(hdr []byte) (n int64, ok bool) {
	if len(hdr) < 10 || string(hdr[:3]) != "ID3" {
		return 0, false
	}
	major, rev, flags := hdr[3], hdr[4], hdr[5]
	if major < 2 || major > 4 || rev == 0xFF {
		return 0, false
	}
	var size int64
	for _, b := range hdr[6:10] {
		if b&0x80 != 0 { // syncsafe: seven bits a byte
			return 0, false
		}
		size = size<<7 | int64(b)
	}
	n = 10 + size
	if major == 4 && flags&0x10 != 0 { // footer present
		n += 10
	}
	return n, true
}

// skipID3 returns the offset past the ID3v2 tags that start r (0 when
// there are none). It reads only their headers.
func skipID3(r io.ReaderAt, size int64) (int64, error) {
	var off int64
	var hdr [10]byte
	for range maxID3Tags {
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			if err == io.EOF {
				return off, nil
			}
			return 0, err
		}
		n, ok := id3Len(hdr[:])
		if !ok {
			break
		}
		off += n
		if off >= size {
			break
		}
	}
	return off, nil
}

// afterID3 classifies the bytes that follow an ID3v2 tag. A tag alone does
// not make an MP3: what follows must be MPEG audio frames, ADTS (AAC)
// frames or FLAC; a playlist behind a tag (which ffmpeg's HLS demuxer
// would follow) is refused. Padding zeros after the tag are skipped.
func afterID3(b []byte) (class, string) {
	b = bytes.TrimLeft(b, "\x00")
	if f := textFormat(b); f != "" {
		return classUnsupported, f
	}
	switch {
	case bytes.HasPrefix(b, []byte("fLaC")):
		return classAV, "flac"
	case isADTS(b) && adtsFrames(b):
		return classAV, "aac"
	case mpegFrames(b):
		return classAV, "mp3"
	}
	return classUnsupported, "id3"
}

// mpegAudioFrame decodes an MPEG audio (layer I, II or III; MPEG-1, 2 or
// 2.5) frame header and returns the frame's length in bytes; ok is false
// when h is not a valid header (sync, version, layer, bitrate index,
// sample rate index). Free-format frames (bitrate index 0) are refused:
// their length cannot be known from the header.
func mpegAudioFrame(h []byte) (length int, ok bool) {
	if len(h) < 4 || h[0] != 0xFF || h[1]&0xE0 != 0xE0 {
		return 0, false
	}
	version := h[1] >> 3 & 3 // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
	layer := h[1] >> 1 & 3   // 1: III, 2: II, 3: I
	bitrateIdx := h[2] >> 4
	rateIdx := h[2] >> 2 & 3
	padding := int(h[2] >> 1 & 1)
	if version == 1 || layer == 0 || bitrateIdx == 0 || bitrateIdx == 15 || rateIdx == 3 {
		return 0, false
	}
	rate := [3]int{44100, 48000, 32000}[rateIdx]
	switch version {
	case 2:
		rate /= 2
	case 0:
		rate /= 4
	}
	var kbps int
	switch {
	case version == 3:
		kbps = mpeg1Bitrates[3-layer][bitrateIdx]
	case layer == 3:
		kbps = mpeg2Bitrates[1][bitrateIdx]
	default:
		kbps = mpeg2Bitrates[0][bitrateIdx]
	}
	bps := kbps * 1000
	switch {
	case layer == 3: // layer I: 4-byte slots
		return (12*bps/rate + padding) * 4, true
	case layer == 1 && version != 3: // layer III of MPEG-2 and 2.5: 576 samples
		return 72*bps/rate + padding, true
	}
	return 144*bps/rate + padding, true
}

// Bitrates in kbit/s by bitrate index: MPEG-1 layers I, II, III; MPEG-2
// and 2.5 layers II and III, then layer I.
var (
	mpeg1Bitrates = [3][15]int{
		{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
	}
	mpeg2Bitrates = [2][15]int{
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
	}
)

// mpegFrames reports whether b starts with an MPEG audio frame followed by
// a second one of the same version, layer and sample rate. When b ends
// before the second frame would start, one frame is enough: the file (or
// the prefix looked at) is that short.
func mpegFrames(b []byte) bool {
	n, ok := mpegAudioFrame(b)
	if !ok {
		return false
	}
	if len(b) < n+4 {
		return true
	}
	m, ok := mpegAudioFrame(b[n:])
	// Same version, layer and sample rate index.
	return ok && m > 0 && b[n+1]&0xFE == b[1]&0xFE && b[n+2]&0x0C == b[2]&0x0C
}

// isADTS reports whether b starts with an ADTS (AAC) header.
func isADTS(b []byte) bool {
	return len(b) >= 7 && b[0] == 0xFF && b[1]&0xF6 == 0xF0
}

// adtsFrames reports whether b starts with an ADTS frame followed by a
// second one (or b ends before it would start).
func adtsFrames(b []byte) bool {
	n := int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5])>>5
	if n < 7 {
		return false
	}
	if len(b) < n+7 {
		return true
	}
	return isADTS(b[n:])
}

// textFormat names the playlist, manifest or other text format that b
// starts with, behind a byte-order mark and white space, or returns "". These
// are formats whose ffmpeg demuxers open the files they name: HLS, DASH,
// ffconcat, and the like.
func textFormat(b []byte) string {
	for _, bom := range []string{"\xEF\xBB\xBF", "\xFE\xFF", "\xFF\xFE"} {
		b = bytes.TrimPrefix(b, []byte(bom))
	}
	b = bytes.TrimLeft(b, " \t\r\n\x00")
	lower := bytes.ToLower(b[:min(len(b), 64)])
	for _, t := range []struct{ prefix, format string }{
		{"#extm3u", "hls"}, {"#ext-x-", "hls"}, {"#extinf", "hls"},
		{"ffconcat", "ffconcat"}, {"[playlist]", "pls"},
		{"<mpd", "dash"}, {"<smil", "smil"},
	} {
		if bytes.HasPrefix(lower, []byte(t.prefix)) {
			return t.format
		}
	}
	if bytes.HasPrefix(lower, []byte("<?xml")) {
		if bytes.Contains(b[:min(len(b), sniffLen)], []byte("<MPD")) {
			return "dash"
		}
		return "xml"
	}
	return ""
}

// id3Error is what Sniff says of an ID3 tag that no audio follows.
func id3Error(format string) error {
	if format == "id3" {
		return fmt.Errorf("%w: an ID3 tag not followed by MPEG audio frames", ErrUnsupportedType)
	}
	return fmt.Errorf("%w: %s behind an ID3 tag", ErrUnsupportedType, format)
}
