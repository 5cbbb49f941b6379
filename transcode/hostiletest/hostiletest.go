// Package hostiletest writes the hostile inputs of issue 9 for tests and
// benchmarks: playlists and manifests that name another file (behind an
// ID3 tag, under media names), and files whose headers declare sizes,
// channel counts or decoded bytes far over mediaprep's limits. Each comes
// with the error code mediaprep must answer it with.
package hostiletest

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Case is one hostile file.
type Case struct {
	Name string // what it is, for test names
	Path string // the file, in the folder given to Write
	Code string // the error code mediaprep must fail it with
}

// Write writes the hostile files into dir. Those that name a file name
// target: by a path relative to dir, as a file:// URL and as an absolute
// path (target must be absolute). sampleMP4 is a small real MP4 whose track
// header is patched to claim 20000×20000. With big false, the 64 MP 16-bit
// PNG (which takes a second or two to compress) is left out.
func Write(dir, target, sampleMP4 string, big bool) ([]Case, error) {
	if !filepath.IsAbs(target) {
		return nil, fmt.Errorf("hostiletest: target %q is not absolute", target)
	}
	rel, err := filepath.Rel(dir, target)
	if err != nil {
		return nil, err
	}
	hls := func(ref string) string {
		return "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:3.0,\n" + ref + "\n#EXT-X-ENDLIST\n"
	}
	dash := `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT3S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
 <Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="100000" codecs="avc1.42c00d" width="320" height="240">
  <BaseURL>file://` + target + `</BaseURL><SegmentBase indexRange="0-0"/></Representation></AdaptationSet></Period>
</MPD>
`
	concat := "ffconcat version 1.0\nfile '" + target + "'\n"
	type text struct{ name, body, code string }
	texts := []text{
		{"id3-hls-relative.mp3", id3() + hls(rel), "unsupported_type"},
		{"id3-hls-fileurl.mp3", id3() + hls("file://"+target), "unsupported_type"},
		{"id3-hls-absolute.mp3", id3() + hls(target), "unsupported_type"},
		{"id3-padded-hls.mp3", id3Padded(300) + hls(target), "unsupported_type"},
		{"id3-bom-hls.mp3", id3() + "\xEF\xBB\xBF \n" + hls(target), "unsupported_type"},
		{"id3-dash.mp3", id3() + dash, "unsupported_type"},
		{"id3-ffconcat.mp3", id3() + concat, "unsupported_type"},
		{"dash.mpd", dash, "unsupported_type"},
		{"ffconcat.txt", concat, "unsupported_type"},
		{"m3u8-as.mp4", hls(target), "unsupported_type"},
		{"m3u8-as.mp3", "\xEF\xBB\xBF\r\n" + hls(target), "unsupported_type"},
		{"mpd-as.mp4", dash, "unsupported_type"},
		{"mpd-as.mp3", dash, "unsupported_type"},
	}
	var cases []Case
	for _, tx := range texts {
		p := filepath.Join(dir, tx.name)
		if err := os.WriteFile(p, []byte(tx.body), 0o644); err != nil {
			return nil, err
		}
		cases = append(cases, Case{tx.name, p, tx.code})
	}
	bins := []struct {
		name string
		data func() ([]byte, error)
		code string
	}{
		{"gif-screen-animated.gif", func() ([]byte, error) { return gif(16000, 16000, 2), nil }, "too_many_pixels"},
		{"gif-screen-still.gif", func() ([]byte, error) { return gif(16000, 16000, 1), nil }, "too_many_pixels"},
		{"tkhd-20000.mp4", func() ([]byte, error) { return patchTkhd(sampleMP4, 20000, 20000) }, "too_many_pixels"},
		{"jpeg-60000.jpg", func() ([]byte, error) { return jpegHeader(60000, 60000), nil }, "too_many_pixels"},
		{"wav-1000ch.wav", func() ([]byte, error) { return wav(1000, 44100), nil }, "over_limit"},
	}
	for _, b := range bins {
		data, err := b.data()
		if err != nil {
			return nil, fmt.Errorf("hostiletest: %s: %w", b.name, err)
		}
		p := filepath.Join(dir, b.name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
		cases = append(cases, Case{b.name, p, b.code})
	}
	if big {
		// Interlaced, so decoded whole: 512 MB. (A plain one is decoded
		// a strip at a time and costs little.)
		p := filepath.Join(dir, "png16-interlaced-8000.png")
		if err := writePNG(p, 8000, 8000, 16, true); err != nil {
			return nil, err
		}
		cases = append(cases, Case{"png16-interlaced-8000.png", p, "over_limit"})
	}
	return cases, nil
}

// id3 returns a minimal ID3v2.4 tag with no frames.
func id3() string { return "ID3\x04\x00\x00\x00\x00\x00\x00" }

// id3Padded returns an ID3v2.3 tag of n bytes of padding (a syncsafe size).
func id3Padded(n int) string {
	return "ID3\x03\x00\x00" + string([]byte{byte(n >> 21 & 0x7F), byte(n >> 14 & 0x7F), byte(n >> 7 & 0x7F), byte(n & 0x7F)}) + strings.Repeat("\x00", n)
}

// gif returns a GIF whose logical screen is w×h, with frames 1×1 frames.
func gif(w, h, frames int) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	b.Write(binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, uint16(w)), uint16(h)))
	b.Write([]byte{0x80, 0, 0}) // global colour table of 2 entries
	b.Write([]byte{0, 0, 0, 255, 255, 255})
	b.Write([]byte{0x21, 0xFF, 11}) // NETSCAPE2.0 loop extension
	b.WriteString("NETSCAPE2.0")
	b.Write([]byte{3, 1, 0, 0, 0})
	for range frames {
		b.Write([]byte{0x21, 0xF9, 4, 0, 10, 0, 0, 0})   // graphic control: 0.1 s
		b.Write([]byte{0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0}) // 1×1 at 0,0
		b.Write([]byte{2, 2, 0x4C, 0x01, 0})             // LZW: one pixel
	}
	b.WriteByte(0x3B)
	return b.Bytes()
}

// jpegHeader returns the start of a baseline JPEG whose frame header says
// w×h: enough for a decoder to read its size, nothing to decode.
func jpegHeader(w, h int) []byte {
	b := []byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // JFIF
		0xFF, 0xC0, 0, 17, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}
	return append(b, 0xFF, 0xD9)
}

// wav returns a PCM WAVE file whose format chunk says channels × rate,
// with a little silence.
func wav(channels, rate int) []byte {
	le := binary.LittleEndian
	fmtc := le.AppendUint16(nil, 1) // PCM
	fmtc = le.AppendUint16(fmtc, uint16(channels))
	fmtc = le.AppendUint32(fmtc, uint32(rate))
	fmtc = le.AppendUint32(fmtc, uint32(rate*channels*2)) // bytes a second
	fmtc = le.AppendUint16(fmtc, uint16(channels*2))      // block align
	fmtc = le.AppendUint16(fmtc, 16)                      // bits a sample
	data := make([]byte, channels*2*64)
	var body bytes.Buffer
	body.WriteString("WAVEfmt ")
	body.Write(le.AppendUint32(nil, uint32(len(fmtc))))
	body.Write(fmtc)
	body.WriteString("data")
	body.Write(le.AppendUint32(nil, uint32(len(data))))
	body.Write(data)
	var b bytes.Buffer
	b.WriteString("RIFF")
	b.Write(le.AppendUint32(nil, uint32(body.Len())))
	b.Write(body.Bytes())
	return b.Bytes()
}

// patchTkhd returns the MP4 at path with the width and height of every
// track header (tkhd) that has a size set to w×h.
func patchTkhd(path string, w, h int) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n := 0
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte("tkhd"))
		if j < 0 {
			break
		}
		box := i + j - 4
		size := int(binary.BigEndian.Uint32(data[box:]))
		end := box + size
		if size >= 92 && end <= len(data) && binary.BigEndian.Uint32(data[end-8:]) != 0 {
			binary.BigEndian.PutUint32(data[end-8:], uint32(w)<<16)
			binary.BigEndian.PutUint32(data[end-4:], uint32(h)<<16)
			n++
		}
		i += j + 4
	}
	if n == 0 {
		return nil, errors.New("no video track header")
	}
	return data, nil
}

// writePNG writes a complete w×h PNG of RGBA at depth bits a sample
// (8 or 16), all zero, streamed through zlib, Adam7-interlaced when
// interlaced is set: it compresses to well under a megabyte but would take
// w×h×depth/2 bytes to decode whole.
func writePNG(path string, w, h, depth int, interlaced bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f) // keeps the first write error for Flush
	_, _ = bw.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = byte(depth), 6 // RGBA
	passes := [][4]int{{0, 0, 1, 1}}
	if interlaced {
		ihdr[12] = 1
		passes = [][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	}
	writeChunk(bw, "IHDR", ihdr)
	var idat bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	for _, p := range passes {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue
		}
		row := make([]byte, 1+pw*depth/2) // filter byte 0, then the pixels
		for range ph {
			_, _ = zw.Write(row) // zlib keeps the first error for Close
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	writeChunk(bw, "IDAT", idat.Bytes())
	writeChunk(bw, "IEND", nil)
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeChunk writes one PNG chunk to w, a bufio.Writer whose Flush
// reports any write error.
func writeChunk(w *bufio.Writer, typ string, data []byte) {
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, typ...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	_, _ = w.Write(chunk)
}

// AtLimits writes files just within mediaprep's default limits, the
// costliest of each kind it still prepares: pictures of 64 MP (or as
// large as the decoded-bytes limit lets a kind be), an animated GIF whose
// logical screen is 8192×4316 and an 8K video. The pictures that are not
// all zero are made by ffmpeg (and the HEIC by heif-enc, left out when it
// is not installed). Their Code is empty: they must be prepared.
func AtLimits(ctx context.Context, dir string) ([]Case, error) {
	var cases []Case
	add := func(name string, write func(path string) error) error {
		p := filepath.Join(dir, name)
		if err := write(p); err != nil {
			return fmt.Errorf("hostiletest: %s: %w", name, err)
		}
		cases = append(cases, Case{name, p, ""})
		return nil
	}
	png := func(w, h, depth int, interlaced bool) func(string) error {
		return func(p string) error { return writePNG(p, w, h, depth, interlaced) }
	}
	// ffmpeg draws one frame of testsrc2 at w×h and encodes it with args.
	ff := func(w, h int, args ...string) func(string) error {
		return func(p string) error {
			a := append([]string{"-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
				"-i", fmt.Sprintf("testsrc2=s=%dx%d:r=30", w, h), "-frames:v", "1"}, args...)
			if out, err := exec.CommandContext(ctx, "ffmpeg", append(a, p)...).CombinedOutput(); err != nil {
				return fmt.Errorf("ffmpeg: %w: %s", err, out)
			}
			return nil
		}
	}
	steps := []struct {
		name  string
		write func(string) error
	}{
		{"png8-8000.png", png(8000, 8000, 8, false)},             // 64 MP, 256 MB decoded whole
		{"png16-8000.png", png(8000, 8000, 16, false)},           // 64 MP, 512 MB decoded whole
		{"png16-interlaced-4000.png", png(4000, 4000, 16, true)}, // decoded whole: 128 MB, and its passes
		{"jpeg-8000.jpg", ff(8000, 8000, "-q:v", "3")},           // 64 MP 4:2:0
		{"webp-8000.webp", ff(8000, 8000, "-quality", "80", "-compression_level", "0")},
		{"webp-lossless-7800.webp", ff(7800, 7800, "-lossless", "1", "-compression_level", "0")}, // 61 MP RGBA
		{"tiff-4000.tiff", ff(4000, 4000, "-pix_fmt", "rgba", "-compression_algo", "deflate")},   // one strip
		{"bmp-8000.bmp", ff(8000, 8000, "-pix_fmt", "bgr24")},
		{"gif-still-8000.gif", ff(8000, 8000, "-pix_fmt", "rgb8")},
		{"gif-8192x4316.gif", func(p string) error { return os.WriteFile(p, gif(8192, 4316, 2), 0o644) }},
		{"video-8192x4320.mp4", func(p string) error {
			a := []string{"-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=8192x4320:r=30",
				"-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", p}
			if out, err := exec.CommandContext(ctx, "ffmpeg", a...).CombinedOutput(); err != nil {
				return fmt.Errorf("ffmpeg: %w: %s", err, out)
			}
			return nil
		}},
	}
	if _, err := exec.LookPath("heif-enc"); err == nil {
		steps = append(steps, struct {
			name  string
			write func(string) error
		}{"heic-8064x6048.heic", func(p string) error {
			src := p + ".png"
			defer os.Remove(src)
			if err := ff(8064, 6048)(src); err != nil {
				return err
			}
			if out, err := exec.CommandContext(ctx, "heif-enc", "-q", "50", "-o", p, src).CombinedOutput(); err != nil {
				return fmt.Errorf("heif-enc: %w: %s", err, out)
			}
			return nil
		}})
	}
	for _, st := range steps {
		if err := add(st.name, st.write); err != nil {
			return nil, err
		}
	}
	return cases, nil
}
