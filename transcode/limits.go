package transcode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// avDemuxers maps the sniffed format of an audio or video file to the
// ffmpeg demuxers allowed to read it (a -format_whitelist). Nothing else
// may: not HLS, DASH, concat, image sequences or any other demuxer that
// opens files an input names.
var avDemuxers = map[string]string{
	"isobmff": "mov", "mp4": "mov", "m4v": "mov", "mov": "mov", "3gp": "mov", "m4a": "mov",
	"mkv": "matroska", "webm": "matroska",
	"avi": "avi", "wmv": "asf", "mpg": "mpeg,mpegvideo", "flv": "flv",
	"mp3": "mp3", "mpeg-audio": "mp3,aac", "aac": "aac",
	"ogg": "ogg", "flac": "flac", "wav": "wav", "amr": "amr", "aiff": "aiff",
	"mpegts": "mpegts", "gif": "gif",
}

// allowedDemuxer reports whether ffprobe's format_name (e.g.
// "mov,mp4,m4a,3gp,3g2,mj2") names a demuxer of the allow-list.
func allowedDemuxer(formatName string) bool {
	first, _, _ := strings.Cut(formatName, ",")
	for _, list := range avDemuxers {
		for _, d := range strings.Split(list, ",") {
			if d == first {
				return true
			}
		}
	}
	return false
}

// input is an untrusted file as ffmpeg and ffprobe are told to read it:
// through the file protocol only, with only the demuxers allowed for its
// sniffed type, its decoders refusing frames over the pixel limit.
type input struct {
	path      string
	demuxers  string // -format_whitelist, e.g. "mov" or "mp3,aac"
	force     string // -f: the demuxer the probe found; empty while probing
	maxPixels int64
	threads   int // decoder threads (-threads before -i); 0 lets ffmpeg choose
}

// bigFrame is the frame size (pixels) above which a video is decoded on
// one thread: each frame thread of ffmpeg's decoders holds frames of its
// own, 53 MB each at 8K, and by default ffmpeg starts one a core and one
// more (an 8K H.264 file took 614 MB to prepare on 2 cores, 426 MB on one
// decoder thread, and a little more time: the encoder has the cores).
const bigFrame = 2560 * 1600

// args returns the input options and the input, ending with -i.
func (in input) args() []string {
	args := []string{"-protocol_whitelist", "file", "-format_whitelist", in.demuxers}
	if in.force != "" {
		args = append(args, "-f", in.force)
	}
	if in.maxPixels > 0 {
		args = append(args, "-max_pixels", strconv.FormatInt(min(in.maxPixels, 1<<31-1), 10))
	}
	if in.threads > 0 {
		args = append(args, "-threads", strconv.Itoa(in.threads))
	}
	// "file:" so that no part of the path is read as a protocol
	// ("concat:", "subfile:"...).
	return append(args, "-i", "file:"+in.path)
}

// mediaInput returns how ffmpeg reads src, which Sniff found to be m: with
// the demuxer ffprobe found, which Sniff checked against the allow-list.
func (t *Transcoder) mediaInput(src string, m Media) (input, error) {
	if m.Probe == nil || !allowedDemuxer(m.Probe.FormatName) {
		name := ""
		if m.Probe != nil {
			name = m.Probe.FormatName
		}
		return input{}, fmt.Errorf("%w: container %q is not one mediaprep reads", ErrUnsupportedType, name)
	}
	first, _, _ := strings.Cut(m.Probe.FormatName, ",")
	in := input{path: src, demuxers: first, force: first, maxPixels: t.cfg.MaxVideoPixels}
	if v, ok := m.Probe.Video(); ok && int64(v.Width)*int64(v.Height) > bigFrame {
		in.threads = 1
	}
	return in, nil
}

// checkVideoPixels refuses a video whose frames would have more pixels
// than the limit, before any of it is decoded.
func (t *Transcoder) checkVideoPixels(w, h int) error {
	if int64(w)*int64(h) > t.cfg.MaxVideoPixels {
		return fmt.Errorf("%w: video frames of %d×%d are %d pixels, over the limit of %d", ErrTooManyPixels, w, h, int64(w)*int64(h), t.cfg.MaxVideoPixels)
	}
	return nil
}

// checkLimits refuses, before any decoding, a probed file whose container
// is not allowed or whose streams declare more than the limits allow:
// frame size and rate, duration, audio channels and sample rate.
func (t *Transcoder) checkLimits(p *Probe) error {
	if !allowedDemuxer(p.FormatName) {
		return fmt.Errorf("%w: container %q is not one mediaprep reads", ErrUnsupportedType, p.FormatName)
	}
	if d := time.Duration(p.Duration * float64(time.Second)); p.Duration > t.cfg.MaxDuration.Seconds() {
		return fmt.Errorf("%w: declared duration %s is over the limit of %s", ErrOverLimit, d.Round(time.Second), t.cfg.MaxDuration)
	}
	for _, s := range p.Streams {
		switch s.Type {
		case "video":
			if err := t.checkVideoPixels(s.Width, s.Height); err != nil {
				return err
			}
			// Cover art has no rate of its own (ffprobe says 90000).
			if !s.AttachedPic && s.FrameRate > t.cfg.MaxFrameRate {
				return fmt.Errorf("%w: frame rate %.0f/s is over the limit of %.0f", ErrOverLimit, s.FrameRate, t.cfg.MaxFrameRate)
			}
		case "audio":
			if err := t.checkAudio(s.Channels, s.SampleRate); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkAudio refuses audio with more channels or a higher sample rate than
// the limits.
func (t *Transcoder) checkAudio(channels, rate int) error {
	if channels > t.cfg.MaxAudioChannels {
		return fmt.Errorf("%w: %d audio channels, over the limit of %d", ErrOverLimit, channels, t.cfg.MaxAudioChannels)
	}
	if rate > t.cfg.MaxSampleRate {
		return fmt.Errorf("%w: sample rate %d Hz is over the limit of %d", ErrOverLimit, rate, t.cfg.MaxSampleRate)
	}
	return nil
}

// wavFormat reads the channel count and sample rate from the fmt chunk of
// a RIFF WAVE file, when head holds it.
func wavFormat(head []byte) (channels, rate int, ok bool) {
	if len(head) < 12 || string(head[:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return 0, 0, false
	}
	for off := 12; off+8 <= len(head); {
		id, size := string(head[off:off+4]), int(binary.LittleEndian.Uint32(head[off+4:off+8]))
		if id == "fmt " {
			if off+16 > len(head) || size < 8 {
				return 0, 0, false
			}
			p := head[off+8:]
			return int(binary.LittleEndian.Uint16(p[2:4])), int(binary.LittleEndian.Uint32(p[4:8])), true
		}
		if size < 0 || size > len(head) {
			return 0, 0, false
		}
		off += 8 + size + size&1
	}
	return 0, 0, false
}

// checkDecodeCost refuses a picture whose decoding would take more memory
// than the limit (cost, from decodeCost), before any of it is decoded.
func (t *Transcoder) checkDecodeCost(c pictureCost) error {
	if c.bytes > t.cfg.MaxDecodedBytes {
		return fmt.Errorf("%w: a %d×%d picture takes %d bytes to decode (%s), over the limit of %d", ErrOverLimit, c.w, c.h, c.bytes, c.why, t.cfg.MaxDecodedBytes)
	}
	return nil
}

// pictureCost is the memory decoding a picture takes, and what it is made
// of, for the error message.
type pictureCost struct {
	w, h  int
	bytes int64
	why   string
}

// decodeCost is the memory that decoding a picture of cfg in format (a
// file of fileSize bytes) takes, up to the YCbCr copy the output is cut
// from, shrunk s times:
//   - a PNG decoded in strips (strips non-nil): the strips and the shrunk copy;
//   - otherwise the decoded pixels, at the bytes a pixel of their colour
//     model takes (8 for 16-bit RGBA), and the shrunk copy unless they
//     are YCbCr already (JPEG, lossy WebP);
//   - JPEG and WebP are read whole: their file counts too;
//   - x/image/tiff reads a strip, which may be the whole picture, into a
//     buffer that grows by doubling: a TIFF's pixels count four times;
//   - image/png decodes each pass of an interlaced PNG (the last is half
//     the picture) before it merges them: its pixels count twice.
//
// These factors were measured (peak RSS of prepare, README Performance).
func decodeCost(cfg image.Config, format string, s int, fileSize int64, strips *pngHeader, interlaced bool) pictureCost {
	c := pictureCost{w: cfg.Width, h: cfg.Height}
	s = max(s, 1)
	shrunk := int64(ceilDiv(cfg.Width, s)) * int64(ceilDiv(cfg.Height, s)) * 3
	if strips != nil {
		c.bytes = strips.stripCost(s) + shrunk
		c.why = fmt.Sprintf("strips of rows and a copy shrunk %d times", s)
		return c
	}
	bpp := bytesPerPixel(cfg.ColorModel)
	pixels := int64(cfg.Width) * int64(cfg.Height) * bpp
	c.bytes, c.why = pixels, fmt.Sprintf("%d bytes a pixel", bpp)
	switch {
	case format == "tiff":
		c.bytes += 3 * pixels
		c.why += ", four times for TIFF's strip buffer"
	case interlaced:
		c.bytes += pixels
		c.why += ", twice for the passes of an interlaced PNG"
	}
	if cfg.ColorModel != color.YCbCrModel {
		c.bytes += shrunk
		c.why += fmt.Sprintf(", a copy shrunk %d times", s)
	}
	if format == "jpeg" || format == "webp" {
		c.bytes += fileSize
		c.why += ", the file"
	}
	return c
}

// bytesPerPixel is the size of a decoded pixel of color model m; unknown
// models count as 16-bit RGBA, the largest the standard decoders make.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel: // at most 4:4:4
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// gifScreen returns the logical screen size of a GIF from its header.
func gifScreen(head []byte) (w, h int) {
	if len(head) < 10 {
		return 0, 0
	}
	return int(binary.LittleEndian.Uint16(head[6:8])), int(binary.LittleEndian.Uint16(head[8:10]))
}

// Bounds on what isobmffTrackSize reads.
const (
	maxTopBoxes   = 1024
	maxTrackBoxes = 64
)

// isobmffTrackSize returns the largest width×height that the track
// headers (tkhd) of an MP4/MOV file declare, reading only box headers and
// the tkhd boxes; 0, 0 when it finds none.
func isobmffTrackSize(f *os.File, size int64) (w, h int) {
	moov, moovEnd := int64(-1), int64(0)
	off := int64(0)
	for range maxTopBoxes {
		typ, hdr, n, err := boxHeader(f, off, size)
		if err != nil {
			break
		}
		if typ == "moov" {
			moov, moovEnd = off+hdr, off+n
			break
		}
		off += n
	}
	if moov < 0 {
		return 0, 0
	}
	off = moov
	for range maxTrackBoxes {
		typ, hdr, n, err := boxHeader(f, off, moovEnd)
		if err != nil {
			break
		}
		if typ == "trak" {
			if tw, th := tkhdSize(f, off+hdr, off+n); int64(tw)*int64(th) > int64(w)*int64(h) {
				w, h = tw, th
			}
		}
		off += n
	}
	return w, h
}

// tkhdSize reads the width and height (16.16 fixed point, the last eight
// bytes of the box) of the tkhd box among the children of a trak box.
func tkhdSize(r io.ReaderAt, off, end int64) (w, h int) {
	for range maxTrackBoxes {
		typ, hdr, n, err := boxHeader(r, off, end)
		if err != nil {
			return 0, 0
		}
		if typ == "tkhd" {
			if n-hdr < 84 {
				return 0, 0
			}
			var b [8]byte
			if _, err := r.ReadAt(b[:], off+n-8); err != nil {
				return 0, 0
			}
			return int(binary.BigEndian.Uint32(b[:4]) >> 16), int(binary.BigEndian.Uint32(b[4:]) >> 16)
		}
		off += n
	}
	return 0, 0
}

// sniffAfterID3 classifies what follows the ID3v2 tags at the start of f.
func sniffAfterID3(f io.ReaderAt, size int64) (class, string, error) {
	off, err := skipID3(f, size)
	if err != nil {
		return classUnsupported, "", fmt.Errorf("transcode: %w", err)
	}
	b := make([]byte, sniffLen)
	n, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return classUnsupported, "", fmt.Errorf("transcode: %w", err)
	}
	c, format := afterID3(b[:n])
	return c, format, nil
}
