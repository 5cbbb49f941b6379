package transcode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/h2non/filetype"
	"github.com/h2non/filetype/matchers"
	"github.com/h2non/filetype/types"
)

// sniffLen is how many leading bytes the signature table looks at; like
// net/http's sniffLen it bounds the work done on untrusted input.
const sniffLen = 4096

// Media is what Sniff found out about a file.
type Media struct {
	Kind   Kind
	Format string // for pictures "jpeg", "png", "gif", "webp", "bmp", "tiff" or "heif"; for video and audio ffprobe's format name; "gif" for an animated GIF
	Probe  *Probe // ffprobe's facts for video and audio; nil for pictures
}

// Sniff tells what the file at path is from its content alone: a bounded
// prefix goes through a signature table (h2non/filetype and the gaps it is
// known to have), and containers that can hold audio, video or both are
// probed with ffprobe to see which streams they really have.
func (t *Transcoder) Sniff(ctx context.Context, path string) (Media, error) {
	f, err := os.Open(path)
	if err != nil {
		return Media{}, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Media{}, fmt.Errorf("transcode: %w", err)
	}
	switch {
	case !st.Mode().IsRegular():
		return Media{}, fmt.Errorf("%w: %s is not a regular file", ErrUnsupportedType, path)
	case st.Size() == 0:
		return Media{}, ErrEmptyFile
	case st.Size() > t.cfg.MaxInputBytes:
		return Media{}, fmt.Errorf("%w: %d bytes, over the %d byte limit", ErrTooLarge, st.Size(), t.cfg.MaxInputBytes)
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Media{}, fmt.Errorf("transcode: %s: %w", path, err)
	}
	head = head[:n]

	class, format := sniffBytes(head)
	if bytes.HasPrefix(head, []byte("ID3")) && class != classUnsupported {
		// The tag may be longer than head: classify what follows it
		// from the file.
		if class, format, err = sniffAfterID3(f, st.Size()); err != nil {
			return Media{}, err
		}
		if class == classUnsupported {
			return Media{}, id3Error(format)
		}
	}
	switch class {
	case classImage:
		if format == "gif" {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return Media{}, fmt.Errorf("transcode: %w", err)
			}
			if frames, _ := gifFrames(bufio.NewReader(f), 2); frames > 1 {
				// An animated GIF becomes a video status: its logical
				// screen is the size of every decoded frame.
				w, h := gifScreen(head)
				if err := t.checkVideoPixels(w, h); err != nil {
					return Media{}, err
				}
				p, err := t.probe(ctx, path, "gif")
				if err != nil {
					return Media{}, err
				}
				if err := t.checkLimits(p); err != nil {
					return Media{}, err
				}
				return Media{Kind: KindVideo, Format: "gif", Probe: p}, nil
			}
		}
		return Media{Kind: KindImage, Format: format}, nil
	case classAV:
		if format == "wav" {
			// ffprobe refuses a huge channel count only as undecodable.
			if ch, rate, ok := wavFormat(head); ok {
				if err := t.checkAudio(ch, rate); err != nil {
					return Media{}, err
				}
			}
		}
		if format == "isobmff" {
			// ffprobe decodes a few frames: refuse a huge declared
			// frame size before it runs.
			if w, h := isobmffTrackSize(f, st.Size()); w > 0 && h > 0 {
				if err := t.checkVideoPixels(w, h); err != nil {
					return Media{}, err
				}
			}
		}
		p, err := t.probe(ctx, path, format)
		if err != nil {
			return Media{}, err
		}
		if err := t.checkLimits(p); err != nil {
			return Media{}, err
		}
		if _, ok := p.Video(); ok {
			return Media{Kind: KindVideo, Format: p.FormatName, Probe: p}, nil
		}
		if _, ok := p.Audio(); ok {
			return Media{Kind: KindAudio, Format: p.FormatName, Probe: p}, nil
		}
		return Media{}, fmt.Errorf("%w: %s container has no audio or video stream", ErrCorruptMedia, format)
	}
	if format != "" {
		return Media{}, fmt.Errorf("%w: %s", ErrUnsupportedType, format)
	}
	return Media{}, ErrUnsupportedType
}

type class int

const (
	classUnsupported class = iota
	classImage             // a picture Go or heif-convert decodes
	classAV                // a container of audio and/or video: ffprobe tells which
)

// imageFormats maps filetype's picture types to the format names of Media.
var imageFormats = map[types.Type]string{
	matchers.TypeJpeg: "jpeg",
	matchers.TypePng:  "png",
	matchers.TypeGif:  "gif",
	matchers.TypeWebp: "webp",
	matchers.TypeBmp:  "bmp",
	matchers.TypeTiff: "tiff",
	matchers.TypeHeif: "heif",
}

// avFormats are filetype's types whose streams ffprobe must tell. Audio and
// video are one class on purpose: filetype calls an audio-only M4A
// video/mp4, and an Ogg or Matroska file may hold either.
var avFormats = map[types.Type]bool{
	matchers.TypeMp4:  true,
	matchers.TypeM4v:  true,
	matchers.TypeMov:  true,
	matchers.TypeMkv:  true,
	matchers.TypeWebm: true,
	matchers.TypeAvi:  true,
	matchers.TypeWmv:  true,
	matchers.TypeMpeg: true,
	matchers.TypeFlv:  true,
	matchers.Type3gp:  true,
	matchers.TypeMp3:  true,
	matchers.TypeM4a:  true,
	matchers.TypeOgg:  true,
	matchers.TypeFlac: true,
	matchers.TypeWav:  true,
	matchers.TypeAmr:  true,
	matchers.TypeAac:  true,
	matchers.TypeAiff: true,
}

// heifBrands are the ftyp brands of HEIF pictures (HEIC, AVIF). filetype
// knows some of them; AVIF it does not know at all.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true,
	"hevc": true, "hevx": true, "mif1": true, "msf1": true,
	"avif": true, "avis": true,
}

// sniffBytes classifies a file by its first bytes. format names what was
// recognised, also for unsupported types ("pdf", "zip"), and is empty when
// nothing was.
func sniffBytes(head []byte) (class, string) {
	// Playlists and manifests make ffmpeg open the files they name: they
	// are refused by any name, behind a byte-order mark or white space.
	if f := textFormat(head); f != "" {
		return classUnsupported, f
	}
	// filetype calls anything that starts with "ID3" an MP3: look behind
	// the tag. A tag that runs past head is left to Sniff, which reads
	// what follows it from the file.
	if bytes.HasPrefix(head, []byte("ID3")) {
		end := 0
		for range maxID3Tags {
			n, ok := id3Len(head[end:])
			if !ok {
				break
			}
			if int64(end)+n >= int64(len(head)) {
				return classAV, "mp3"
			}
			end += int(n)
		}
		if end == 0 {
			return classUnsupported, "id3"
		}
		return afterID3(head[end:])
	}
	// ISO BMFF (MP4, MOV, M4A, 3GP, HEIF): decide by the brands ourselves.
	// filetype calls any 20-byte ftyp box MOV and flips between MOV and MP4.
	if len(head) >= 12 && string(head[4:8]) == "ftyp" {
		if isHEIF(head) {
			return classImage, "heif"
		}
		return classAV, "isobmff"
	}
	kind, _ := filetype.Match(head)
	if f, ok := imageFormats[kind]; ok {
		return classImage, f
	}
	if avFormats[kind] {
		return classAV, kind.Extension
	}
	// filetype finds MP3 only by "ID3" or an MPEG-1 layer III frame: MPEG-2
	// and 2.5 MP3 (FF F3, FF E3...) and raw AAC in ADTS are unknown to it.
	if isMPEGAudioSync(head) {
		return classAV, "mpeg-audio"
	}
	// Nor does it know MPEG transport streams: .MTS/.M2TS from cameras.
	if isMPEGTS(head) {
		return classAV, "mpegts"
	}
	if kind != filetype.Unknown {
		return classUnsupported, kind.Extension
	}
	return classUnsupported, ""
}

// isHEIF reports whether an ftyp box names a HEIF picture brand, as the
// major brand or a compatible one, and no video brand comes first.
func isHEIF(head []byte) bool {
	size := int(head[0])<<24 | int(head[1])<<16 | int(head[2])<<8 | int(head[3])
	if size < 16 || size > len(head) {
		size = min(len(head), 64)
	}
	if heifBrands[string(head[8:12])] {
		return true
	}
	// Compatible brands start after major brand and minor version.
	for i := 16; i+4 <= size; i += 4 {
		b := string(head[i : i+4])
		if b == "heic" || b == "avif" {
			return string(head[8:12]) == "mif1" || string(head[8:12]) == "msf1"
		}
	}
	return false
}

// isMPEGAudioSync reports whether head starts with an MPEG audio frame
// header (MP1/2/3 of any MPEG version) or an ADTS (AAC) header.
func isMPEGAudioSync(head []byte) bool {
	if len(head) < 4 || head[0] != 0xFF || head[1]&0xE0 != 0xE0 {
		return false
	}
	version := head[1] >> 3 & 3
	layer := head[1] >> 1 & 3
	if layer == 0 { // ADTS: 1111 1111 1111 x00x
		return version&2 == 2 && head[1]&0x06 == 0
	}
	bitrate := head[2] >> 4
	rate := head[2] >> 2 & 3
	return version != 1 && bitrate != 0 && bitrate != 15 && rate != 3
}

// isMPEGTS reports whether head holds transport stream packets: a 0x47 sync
// byte every 188 bytes, or every 192 bytes after a 4-byte timecode (M2TS).
func isMPEGTS(head []byte) bool {
	for _, p := range []struct{ off, size int }{{0, 188}, {4, 192}} {
		n := 0
		for i := p.off; i < len(head) && head[i] == 0x47; i += p.size {
			n++
		}
		if n >= 3 {
			return true
		}
	}
	return false
}

// gifFrames counts the image descriptors of a GIF stream, stopping at limit.
// It walks the block structure without decoding pixels.
func gifFrames(r *bufio.Reader, limit int) (int, error) {
	var hdr [13]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(hdr[:], []byte("GIF8")) {
		return 0, errors.New("not a GIF")
	}
	if hdr[10]&0x80 != 0 { // global colour table
		if _, err := r.Discard(3 << (hdr[10]&7 + 1)); err != nil {
			return 0, err
		}
	}
	frames := 0
	for frames < limit {
		b, err := r.ReadByte()
		if err != nil {
			return frames, err
		}
		switch b {
		case 0x2C: // image descriptor
			frames++
			var d [9]byte
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return frames, err
			}
			if d[8]&0x80 != 0 { // local colour table
				if _, err := r.Discard(3 << (d[8]&7 + 1)); err != nil {
					return frames, err
				}
			}
			if _, err := r.ReadByte(); err != nil { // LZW minimum code size
				return frames, err
			}
			if err := skipSubBlocks(r); err != nil {
				return frames, err
			}
		case 0x21: // extension
			if _, err := r.ReadByte(); err != nil {
				return frames, err
			}
			if err := skipSubBlocks(r); err != nil {
				return frames, err
			}
		case 0x3B: // trailer
			return frames, nil
		default:
			return frames, fmt.Errorf("gif: unknown block 0x%02x", b)
		}
	}
	return frames, nil
}

func skipSubBlocks(r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return err
		}
	}
}

// SniffHeaderLen is how many leading bytes SniffHeader wants.
const SniffHeaderLen = sniffLen

// SniffHeader tells from a file's first bytes (up to SniffHeaderLen) whether
// Sniff could accept it: false means Sniff refuses the file whatever
// follows, with format naming what it is when known ("pdf", "zip"). true
// only means the file is worth reading further; its content is checked later.
func SniffHeader(head []byte) (ok bool, format string) {
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	class, format := sniffBytes(head)
	return class != classUnsupported, format
}
