package transcode

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mediaprep/mediaprep/internal/testutil"
)

func ftyp(major string, compat ...string) []byte {
	b := []byte{0, 0, 0, 0}
	b = append(b, "ftyp"+major+"\x00\x00\x00\x00"...)
	for _, c := range compat {
		b = append(b, c...)
	}
	n := len(b)
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return append(b, make([]byte, 16)...)
}

func tsPackets(off, size int) []byte {
	b := make([]byte, off+4*size)
	for i := off; i < len(b); i += size {
		b[i] = 0x47
	}
	return b
}

// mpegFramesOf returns n MPEG audio frames with header hdr and zero
// payloads.
func mpegFramesOf(hdr string, n int) []byte {
	size, ok := mpegAudioFrame([]byte(hdr))
	if !ok {
		panic("bad frame header")
	}
	frame := append([]byte(hdr), make([]byte, size-4)...)
	return bytes.Repeat(frame, n)
}

func TestMPEGAudioFrame(t *testing.T) {
	for _, tt := range []struct {
		name string
		hdr  string
		len  int
		ok   bool
	}{
		{"mpeg-1 layer III 128k 44.1k", "\xFF\xFB\x90\x64", 417, true},
		{"mpeg-1 layer III 128k 44.1k padded", "\xFF\xFB\x92\x64", 418, true},
		{"mpeg-2 layer III 24k 16k", "\xFF\xF3\x38\xC4", 108, true},
		{"mpeg-1 layer I 32k 32k", "\xFF\xFF\x18\x00", 48, true},
		{"mpeg-1 layer II 384k 48k", "\xFF\xFD\xE4\x00", 1152, true},
		{"reserved version", "\xFF\xEB\x90\x64", 0, false},
		{"reserved layer", "\xFF\xF9\x90\x64", 0, false},
		{"free format", "\xFF\xFB\x00\x64", 0, false},
		{"bad bitrate", "\xFF\xFB\xF0\x64", 0, false},
		{"bad sample rate", "\xFF\xFB\x9C\x64", 0, false},
		{"no sync", "\xFF\x1B\x90\x64", 0, false},
		{"short", "\xFF\xFB", 0, false},
	} {
		n, ok := mpegAudioFrame([]byte(tt.hdr))
		if n != tt.len || ok != tt.ok {
			t.Errorf("%s: mpegAudioFrame = %d, %v; want %d, %v", tt.name, n, ok, tt.len, tt.ok)
		}
	}
}

func TestSniffBytes(t *testing.T) {
	tests := []struct {
		name   string
		head   []byte
		class  class
		format string
	}{
		{"jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), classImage, "jpeg"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), classImage, "png"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), classImage, "gif"},
		{"heic major brand", ftyp("heic", "mif1", "heic"), classImage, "heif"},
		{"heic under mif1", ftyp("mif1", "mif1", "heic"), classImage, "heif"},
		{"avif", ftyp("avif", "avif", "mif1"), classImage, "heif"},
		// filetype calls these video/mp4 or flips MOV/MP4: ffprobe decides.
		{"m4a with isom brand", ftyp("M4A ", "M4A ", "isom"), classAV, "isobmff"},
		{"mp4 isom", ftyp("isom", "isom", "avc1"), classAV, "isobmff"},
		{"quicktime", ftyp("qt  ", "qt  "), classAV, "isobmff"},
		{"20-byte ftyp", ftyp("mp42")[:20], classAV, "isobmff"},
		// filetype misses MPEG-2 layer III without ID3, and ADTS AAC.
		{"mpeg-2 mp3 no id3", []byte("\xFF\xF3\x48\xC4\x00\x00\x00\x00"), classAV, "mpeg-audio"},
		{"mpeg-2.5 mp3", []byte("\xFF\xE3\x18\xC4\x00\x00\x00\x00"), classAV, "mpeg-audio"},
		{"mpeg-1 mp3", []byte("\xFF\xFB\x90\x64\x00\x00\x00\x00"), classAV, "mp3"},
		{"adts aac", []byte("\xFF\xF1\x50\x80\x02\x1F\xFC\x00"), classAV, "aac"},
		{"adts aac mpeg-2 protected", []byte("\xFF\xF8\x50\x80\x02\x1F\xFC\x00"), classAV, "mpeg-audio"},
		// An ID3 tag that runs to the end of the head: Sniff reads on.
		{"id3", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), classAV, "mp3"},
		{"id3 then mpeg-1 frames", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), mpegFramesOf("\xFF\xFB\x90\x64", 3)...), classAV, "mp3"},
		{"id3 then mpeg-2 frames", append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), mpegFramesOf("\xFF\xF3\x48\xC4", 3)...), classAV, "mp3"},
		{"id3, padding, frames", append([]byte("ID3\x03\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00"), mpegFramesOf("\xFF\xFB\x90\x64", 2)...), classAV, "mp3"},
		{"id3 then one frame header and text", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xFF\xFB\x90\x64"), bytes.Repeat([]byte("text"), 200)...), classUnsupported, "id3"},
		{"id3 then hls", []byte("ID3\x04\x00\x00\x00\x00\x00\x00#EXTM3U\n#EXTINF:2,\n../x.mp4\n"), classUnsupported, "hls"},
		{"id3 with footer then hls", []byte("ID3\x04\x00\x10\x00\x00\x00\x00" + "3DI\x04\x00\x10\x00\x00\x00\x00" + "#EXTM3U\n"), classUnsupported, "hls"},
		{"id3 then dash", []byte("ID3\x04\x00\x00\x00\x00\x00\x00<?xml version=\"1.0\"?>\n<MPD>"), classUnsupported, "dash"},
		{"id3 then ffconcat", []byte("ID3\x04\x00\x00\x00\x00\x00\x00ffconcat version 1.0\nfile a.mp4\n"), classUnsupported, "ffconcat"},
		{"id3 then flac", []byte("ID3\x04\x00\x00\x00\x00\x00\x00fLaC\x00\x00\x00\x22"), classAV, "flac"},
		{"bad id3 header", []byte("ID3\x09\x00\x00\x00\x00\x00\x00\xFF\xFB\x90\x64"), classUnsupported, "id3"},
		{"bom and blanks then hls", []byte("\xEF\xBB\xBF \r\n#EXTM3U\n"), classUnsupported, "hls"},
		{"hls", []byte("#EXTM3U\n#EXTINF:2,\nfile:///etc/passwd\n"), classUnsupported, "hls"},
		{"wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), classAV, "wav"},
		{"ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), classAV, "ogg"},
		{"flac", []byte("fLaC\x00\x00\x00\x22"), classAV, "flac"},
		{"amr", []byte("#!AMR\n\x3C\x00\x00\x00\x00\x00\x00"), classAV, "amr"},
		{"matroska", []byte("\x1A\x45\xDF\xA3\x01\x00\x00\x00\x00\x00\x00\x1F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82\x88matroska"), classAV, "mkv"},
		{"mpeg-ts", tsPackets(0, 188), classAV, "mpegts"},
		{"m2ts", tsPackets(4, 192), classAV, "mpegts"},
		{"one ts sync byte", []byte("G\x40\x00\x10"), classUnsupported, ""},
		{"pdf", []byte("%PDF-1.4\n"), classUnsupported, "pdf"},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), classUnsupported, "zip"},
		{"text", []byte("hello, this is text\n"), classUnsupported, ""},
		{"ff sync with bad bitrate", []byte("\xFF\xF3\xF0\x00"), classUnsupported, ""},
		{"one byte", []byte{0xFF}, classUnsupported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := sniffBytes(tt.head)
			if c != tt.class || f != tt.format {
				t.Fatalf("sniffBytes = (%v, %q), want (%v, %q)", c, f, tt.class, tt.format)
			}
		})
	}
}

func TestGIFFrames(t *testing.T) {
	for name, want := range map[string]int{"static.gif": 1, "animated.gif": 2} {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := gifFrames(bufio.NewReader(bytes.NewReader(data)), 2)
		if got != want {
			t.Errorf("gifFrames(%s) = %d, want %d", name, got, want)
		}
	}
	if _, err := gifFrames(bufio.NewReader(bytes.NewReader([]byte("GIF89a\x01"))), 2); err == nil {
		t.Error("a truncated GIF header gave no error")
	}
}

func newTestTranscoder(t testing.TB) *Transcoder {
	t.Helper()
	tr, err := New(NewDefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestSniffFiles runs the whole sniffer, ffprobe included, on the fixtures.
func TestSniffFiles(t *testing.T) {
	testutil.NeedFFmpeg(t)
	tr := newTestTranscoder(t)
	tests := []struct {
		file string
		kind Kind
		code Code
	}{
		{"samples/sample.mp4", KindVideo, ""},
		{"samples/sample.mov", KindVideo, ""},
		{"samples/sample.webm", KindVideo, ""},
		{"samples/camera.mts", KindVideo, ""},
		{"samples/animated.gif", KindVideo, ""},
		{"samples/sample.m4a", KindAudio, ""}, // filetype says video/mp4
		{"samples/sample-id3.mp3", KindAudio, ""},
		{"samples/sample-mpeg2.mp3", KindAudio, ""}, // filetype says unknown
		{"samples/sample.wav", KindAudio, ""},
		{"samples/sample.opus", KindAudio, ""},
		{"samples/sample.flac", KindAudio, ""},
		{"samples/sample.amr", KindAudio, ""},
		{"samples/sample.jpg", KindImage, ""},
		{"samples/alpha.png", KindImage, ""},
		{"samples/static.gif", KindImage, ""},
		{"samples/sample.webp", KindImage, ""},
		{"samples/sample.bmp", KindImage, ""},
		{"samples/sample.tiff", KindImage, ""},
		{"bad/empty.mp4", "", CodeEmptyFile},
		{"bad/text.mp4", "", CodeUnsupportedType},
		{"bad/random.bin", "", CodeUnsupportedType},
		{"bad/doc.pdf", "", CodeUnsupportedType},
		{"bad/archive.zip", "", CodeUnsupportedType},
		{"bad/truncated.mp4", "", CodeCorruptMedia},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := tr.Sniff(t.Context(), filepath.Join("..", "testdata", tt.file))
			if got := CodeOf(err); got != tt.code {
				t.Fatalf("Sniff error = %v (code %q), want code %q", err, got, tt.code)
			}
			if m.Kind != tt.kind {
				t.Fatalf("Sniff kind = %q, want %q", m.Kind, tt.kind)
			}
			if (tt.kind == KindVideo || tt.kind == KindAudio) && m.Probe == nil {
				t.Fatal("no probe facts for a video or audio file")
			}
		})
	}
}

func TestSniffTooLarge(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.MaxInputBytes = 100
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Sniff(t.Context(), filepath.Join("..", "testdata", "samples", "sample.jpg"))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Sniff of a file over MaxInputBytes = %v, want ErrTooLarge", err)
	}
}

// FuzzSniffBytes checks that no prefix makes the signature table panic, and
// that whatever it calls a picture is one of the formats the picture path
// decodes.
func FuzzSniffBytes(f *testing.F) {
	for _, dir := range []string{"samples", "bad"} {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", dir, "*"))
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data[:min(len(data), sniffLen)])
		}
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		c, format := sniffBytes(head)
		if c == classImage {
			switch format {
			case "jpeg", "png", "gif", "webp", "bmp", "tiff", "heif":
			default:
				t.Fatalf("picture of unknown format %q", format)
			}
		}
		if c == classAV && format == "" {
			t.Fatal("audio/video class without a format name")
		}
		_, _ = gifFrames(bufio.NewReader(bytes.NewReader(head)), 3) // any answer will do for random bytes: only that it returns
	})
}

// FuzzSniffID3 feeds arbitrary bytes behind an ID3 tag to the sniffer's
// ID3 and MPEG frame path: it must not panic, must never take a playlist
// for audio, and what it calls MP3 must start with a valid frame.
func FuzzSniffID3(f *testing.F) {
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00#EXTM3U\n#EXTINF:2,\n../../processed/other-team.mp4\n#EXT-X-ENDLIST\n"))
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xEF\xBB\xBF<?xml version=\"1.0\"?><MPD><BaseURL>file:///etc/passwd</BaseURL></MPD>"))
	for _, name := range []string{"sample-id3.mp3", "sample-mpeg2.mp3"} {
		f.Add(mustRead(f, filepath.Join("..", "testdata", "samples", name))[:sniffLen])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		head := data[:min(len(data), sniffLen)]
		c, format := sniffBytes(head)
		end, err := skipID3(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("skipID3: %v", err)
		}
		if end > int64(len(data)) {
			end = int64(len(data))
		}
		after := data[end:min(int64(len(data)), end+sniffLen)]
		ac, aformat := afterID3(after)
		if textFormat(bytes.TrimLeft(after, "\x00")) != "" && ac != classUnsupported {
			t.Fatalf("a playlist behind a tag sniffed as %q", aformat)
		}
		if ac == classAV && aformat == "mp3" {
			if _, ok := mpegAudioFrame(bytes.TrimLeft(after, "\x00")); !ok {
				t.Fatal("MP3 without a valid first frame")
			}
		}
		if c == classAV && textFormat(head) != "" {
			t.Fatalf("text format %q sniffed as audio/video %q", textFormat(head), format)
		}
	})
}
