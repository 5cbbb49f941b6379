package transcode

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// heifHeadLen bounds how much of a HEIF file is searched for its 'ispe'
// (image spatial extent) boxes; they sit in the 'meta' box at the front.
const heifHeadLen = 1 << 20

// heifSize returns the largest width×height that the 'ispe' properties in
// head declare (a grid picture declares its full size next to its tiles'),
// and false when there is none.
func heifSize(head []byte) (w, h int, ok bool) {
	var best int64
	for i := 4; i+16 <= len(head); i++ {
		if head[i] != 'i' || string(head[i:i+4]) != "ispe" {
			continue
		}
		if binary.BigEndian.Uint32(head[i-4:i]) != 20 { // size of an ispe box
			continue
		}
		bw := binary.BigEndian.Uint32(head[i+8 : i+12])
		bh := binary.BigEndian.Uint32(head[i+12 : i+16])
		if a := int64(bw) * int64(bh); a > best {
			best, w, h, ok = a, int(bw), int(bh), true
		}
	}
	return w, h, ok
}

// decodeHEIF decodes a HEIC/HEIF/AVIF picture: Go has no decoder, so
// libheif's heif-convert writes it as a JPEG into a temporary folder, and
// that is decoded. libheif applies the picture's rotation and mirroring
// itself: the result needs no EXIF orientation.
func (t *Transcoder) decodeHEIF(ctx context.Context, path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	head, err := io.ReadAll(io.LimitReader(f, heifHeadLen))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("transcode: %s: %w", path, err)
	}
	if w, h, ok := heifSize(head); ok {
		if err := t.checkPixels(w, h); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "mediaprep-heif-*")
	if err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	defer os.RemoveAll(dir)
	err = t.exec(ctx, t.cfg.RunTimeout, nil, t.cfg.HeifConvert, "-q", "95", path, filepath.Join(dir, "picture.jpg"))
	if err != nil {
		if CodeOf(err) == CodeInternal && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: %w", ErrCorruptMedia, err)
		}
		return nil, err
	}
	// A file with several top-level pictures becomes picture-1.jpg,
	// picture-2.jpg...: take the first.
	outs, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if len(outs) == 0 {
		return nil, fmt.Errorf("%w: heif-convert wrote no picture", ErrCorruptMedia)
	}
	slices.Sort(outs)
	img, _, err := t.decodeFile(outs[0], false, nil)
	return img, err
}
