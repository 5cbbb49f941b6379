package transcode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Bounds on what heifSize reads of an untrusted file: real files have a
// handful of top-level boxes and a 'meta' box of a few KiB (tens with a
// large EXIF or XMP block).
const (
	heifMaxTopBoxes = 1024
	heifMaxMetaLen  = 16 << 20
)

// heifSize returns the largest width×height that the 'ispe' (image spatial
// extent) properties of a HEIF/AVIF file declare: a grid picture declares
// its full size next to its tiles'. It walks the top-level boxes to 'meta'
// wherever it is, then meta → iprp → ipco, and reads nothing else. A file
// without 'ispe' is not a valid HEIF (the property is mandatory) and fails.
func heifSize(r io.ReaderAt, size int64) (w, h int, err error) {
	off := int64(0)
	for range heifMaxTopBoxes {
		typ, hdr, n, err := boxHeader(r, off, size)
		if err != nil {
			return 0, 0, err
		}
		if typ == "meta" {
			if n-hdr > heifMaxMetaLen {
				return 0, 0, fmt.Errorf("meta box of %d bytes", n-hdr)
			}
			meta := make([]byte, n-hdr)
			if _, err := r.ReadAt(meta, off+hdr); err != nil {
				return 0, 0, fmt.Errorf("reading meta: %w", err)
			}
			return ispeSize(meta)
		}
		off += n
	}
	return 0, 0, errors.New("no meta box among the first top-level boxes")
}

// boxHeader reads the ISO BMFF box header at off in a file of size bytes
// and returns the box's type, header length and total length, which it
// checks against the file.
func boxHeader(r io.ReaderAt, off, size int64) (typ string, hdr, n int64, err error) {
	var b [16]byte
	if off+8 > size {
		return "", 0, 0, errors.New("no meta box")
	}
	if _, err := r.ReadAt(b[:8], off); err != nil {
		return "", 0, 0, err
	}
	typ, hdr, n = string(b[4:8]), 8, int64(binary.BigEndian.Uint32(b[:4]))
	switch n {
	case 0: // to the end of the file
		n = size - off
	case 1: // 64-bit size after the type
		if _, err := r.ReadAt(b[8:16], off+8); err != nil {
			return "", 0, 0, err
		}
		hdr, n = 16, int64(binary.BigEndian.Uint64(b[8:16]))
	}
	if n < hdr || n > size-off {
		return "", 0, 0, fmt.Errorf("box %q at %d claims %d bytes", typ, off, n)
	}
	return typ, hdr, n, nil
}

// ispeSize finds the largest 'ispe' in the payload of a 'meta' box.
func ispeSize(meta []byte) (w, h int, err error) {
	if len(meta) < 4 {
		return 0, 0, errors.New("meta box too short")
	}
	iprp, ok := childBox(meta[4:], "iprp") // meta is a full box: skip version and flags
	if !ok {
		return 0, 0, errors.New("no iprp box")
	}
	ipco, ok := childBox(iprp, "ipco")
	if !ok {
		return 0, 0, errors.New("no ipco box")
	}
	found := false
	var best int64
	for p := ipco; len(p) >= 8; {
		n := int(binary.BigEndian.Uint32(p[:4]))
		if n < 8 || n > len(p) {
			break
		}
		// ispe: version and flags, then width and height as uint32.
		if string(p[4:8]) == "ispe" && n >= 20 {
			bw, bh := binary.BigEndian.Uint32(p[12:16]), binary.BigEndian.Uint32(p[16:20])
			if bw == 0 || bh == 0 {
				return 0, 0, errors.New("ispe property of zero size")
			}
			if a := int64(bw) * int64(bh); !found || a > best {
				best, w, h, found = a, int(bw), int(bh), true
			}
		}
		p = p[n:]
	}
	if !found {
		return 0, 0, errors.New("no ispe property")
	}
	return w, h, nil
}

// childBox returns the payload of the first box named typ in p, a sequence
// of boxes with 32-bit sizes (all a 'meta' box holds in practice).
func childBox(p []byte, typ string) ([]byte, bool) {
	for len(p) >= 8 {
		n := int(binary.BigEndian.Uint32(p[:4]))
		if n < 8 || n > len(p) {
			return nil, false
		}
		if string(p[4:8]) == typ {
			return p[8:n], true
		}
		p = p[n:]
	}
	return nil, false
}

// decodeHEIF decodes a HEIC/HEIF/AVIF picture after checking the size its
// 'ispe' boxes declare: Go has no decoder, so libheif's heif-convert writes
// it as a JPEG into a temporary folder, and that is decoded (shrunk by what
// shrink allows, as decodeFile does). libheif applies the picture's
// rotation and mirroring (irot, imir) itself and copies the EXIF block
// unchanged, orientation tag included: the result must not be turned again.
func (t *Transcoder) decodeHEIF(ctx context.Context, path string, shrink func(w, h int) int) (decoded, error) {
	f, err := os.Open(path)
	if err != nil {
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	w, h, err := heifSize(f, fi.Size())
	f.Close()
	if err != nil {
		return decoded{}, fmt.Errorf("%w: %s: %w", ErrCorruptMedia, path, err)
	}
	if err := t.checkPixels(w, h); err != nil {
		return decoded{}, err
	}
	dir, err := os.MkdirTemp("", "mediaprep-heif-*")
	if err != nil {
		return decoded{}, fmt.Errorf("transcode: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "picture.jpg")
	err = t.exec(ctx, t.cfg.RunTimeout, nil, t.cfg.HeifConvert, "-q", "95", path, out)
	if err != nil {
		// heif-convert ran and failed (or crashed) on the file: the file
		// is at fault. A missing program, a timeout or a cancel keeps its
		// own code.
		if _, ok := errors.AsType[*exec.ExitError](err); ok && ctx.Err() == nil {
			return decoded{}, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
		}
		return decoded{}, fmt.Errorf("transcode: %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return decoded{}, err
	}
	// A file with several top-level pictures becomes picture-1.jpg,
	// picture-2.jpg...: take the first. (Auxiliary pictures such as depth
	// maps, written only on request, would have other names.)
	if _, err := os.Stat(out); err != nil {
		out = filepath.Join(dir, "picture-1.jpg")
		if _, err := os.Stat(out); err != nil {
			return decoded{}, fmt.Errorf("%w: heif-convert wrote no picture", ErrCorruptMedia)
		}
	}
	return t.decodeFile(out, false, shrink)
}
