package transcode

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"slices"
)

// A PNG is decoded a strip of rows at a time, so that a large one never
// exists whole in memory, decoded or converted: only the picture shrunk
// for the output does. The rows are inflated and unfiltered here; each
// strip is then wrapped as a small PNG of its own (unfiltered rows,
// stored without compression) and decoded by image/png, so that pixels
// come out exactly as image/png makes them, whatever the colour type, bit
// depth or transparency. Interlaced PNGs (Adam7 spreads each row over
// seven passes) are decoded whole, as before.

// pngStripBytes is about how many bytes of decoded pixels a strip holds.
const pngStripBytes = 4 << 20

// pngHeader is what IHDR says about a PNG.
type pngHeader struct {
	w, h       int
	depth      int // bits a sample
	colorType  int
	interlaced bool
}

// bitsPerPixel is the size of a pixel in the file's rows.
func (p pngHeader) bitsPerPixel() int {
	channels := map[int]int{0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[p.colorType]
	return channels * p.depth
}

// rowBytes is the size of one row of pixels in the file, without its
// filter byte.
func (p pngHeader) rowBytes() int { return (p.w*p.bitsPerPixel() + 7) / 8 }

// stripRows is how many rows a strip holds when shrinking s times: a
// multiple of s, so that every strip fills whole rows of the output.
func (p pngHeader) stripRows(s int) int {
	decodedRow := 8 * p.w // the widest a decoded row gets (16-bit RGBA)
	blocks := max(1, pngStripBytes/(s*max(decodedRow, 1)))
	return s * min(blocks, ceilDiv(max(p.h, 1), s))
}

// stripCost bounds the memory strips take: the inflated rows, their
// compressed and wrapped copies and their decoded pixels, with the rows
// being unfiltered.
func (p pngHeader) stripCost(s int) int64 {
	k := int64(p.stripRows(s))
	row := int64(p.rowBytes() + 1)
	return k*row*3 + k*8*int64(p.w) + 2*row
}

// readPNGHeader reads the IHDR of a PNG from its first 33 bytes.
func readPNGHeader(r io.ReaderAt) (pngHeader, error) {
	var b [33]byte
	if _, err := r.ReadAt(b[:], 0); err != nil {
		return pngHeader{}, err
	}
	if string(b[:8]) != "\x89PNG\r\n\x1a\n" || string(b[12:16]) != "IHDR" {
		return pngHeader{}, errors.New("png: no IHDR")
	}
	return parseIHDR(b[16:29])
}

// parseIHDR reads the 13 bytes of an IHDR chunk, refusing combinations of
// colour type and bit depth that PNG does not have.
func parseIHDR(b []byte) (pngHeader, error) {
	be := binary.BigEndian
	h := pngHeader{
		w: int(be.Uint32(b[0:])), h: int(be.Uint32(b[4:])),
		depth: int(b[8]), colorType: int(b[9]), interlaced: b[12] == 1,
	}
	depths := map[int][]int{0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}[h.colorType]
	if !slices.Contains(depths, h.depth) || b[10] != 0 || b[11] != 0 || b[12] > 1 {
		return pngHeader{}, fmt.Errorf("png: colour type %d at %d bits, compression %d, filter %d, interlace %d", b[9], b[8], b[10], b[11], b[12])
	}
	if h.w <= 0 || h.h <= 0 || h.w > 0x7fffffff || h.h > 0x7fffffff {
		return pngHeader{}, fmt.Errorf("png: %d×%d pixels", h.w, h.h)
	}
	return h, nil
}

// pngChunks reads the chunks of a PNG, checking each one's CRC.
type pngChunks struct {
	r   *bufio.Reader
	crc hash.Hash32
	typ string
	n   int64 // bytes of the current chunk's data not yet read
}

// next reads the header of the next chunk, after the rest of the current
// one and its CRC.
func (c *pngChunks) next() error {
	if err := c.finish(); err != nil {
		return err
	}
	var h [8]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n > 0x7fffffff {
		return errors.New("png: chunk too long")
	}
	c.typ, c.n = string(h[4:]), int64(n)
	c.crc = crc32.NewIEEE()
	c.crc.Write(h[4:])
	return nil
}

// finish skips what is left of the current chunk and checks its CRC.
func (c *pngChunks) finish() error {
	if c.crc == nil {
		return nil
	}
	if _, err := io.CopyN(c.crc, c.r, c.n); err != nil {
		return err
	}
	c.n = 0
	var b [4]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(b[:]) != c.crc.Sum32() {
		return errors.New("png: invalid checksum")
	}
	c.crc = nil
	return nil
}

// data reads the whole data of the current chunk (a small one).
func (c *pngChunks) data() ([]byte, error) {
	if c.n > 1<<10 {
		return nil, fmt.Errorf("png: %s chunk of %d bytes", c.typ, c.n)
	}
	b := make([]byte, c.n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, err
	}
	c.crc.Write(b)
	c.n = 0
	return b, nil
}

// Read reads the data of consecutive IDAT chunks as one stream.
func (c *pngChunks) Read(p []byte) (int, error) {
	for c.n == 0 || c.typ != "IDAT" {
		if c.typ != "IDAT" {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			return 0, noEOF(err)
		}
	}
	n, err := c.r.Read(p[:min(int64(len(p)), c.n)])
	c.crc.Write(p[:n])
	c.n -= int64(n)
	return n, err
}

// decodePNGShrunk decodes the non-interlaced PNG r, whose header is hdr,
// into a 4:4:4 picture shrunk s times, transparency flattened onto bg, k
// rows at a time (a multiple of s; hdr.stripRows(s)).
func decodePNGShrunk(r io.Reader, hdr pngHeader, bg color.NRGBA, s, k int) (*image.YCbCr, error) {
	c := &pngChunks{r: bufio.NewReaderSize(r, 64<<10)}
	var sig [8]byte
	if _, err := io.ReadFull(c.r, sig[:]); err != nil {
		return nil, err
	}
	var ihdr, plte, trns []byte
	for c.typ != "IDAT" {
		if err := c.next(); err != nil {
			return nil, noEOF(err)
		}
		if (c.typ == "IHDR") != (ihdr == nil) {
			return nil, errors.New("png: IHDR is not the first chunk, or not the only one")
		}
		var err error
		switch c.typ {
		case "IHDR":
			if ihdr, err = c.data(); err == nil {
				err = sameIHDR(ihdr, hdr)
			}
		case "PLTE":
			plte, err = c.data()
		case "tRNS":
			trns, err = c.data()
		case "IEND":
			return nil, errors.New("png: no image data")
		}
		if err != nil {
			return nil, err
		}
	}
	zr, err := zlib.NewReader(c)
	if err != nil {
		return nil, err
	}
	out := image.NewYCbCr(image.Rect(0, 0, ceilDiv(hdr.w, s), ceilDiv(hdr.h, s)), image.YCbCrSubsampleRatio444)
	rowBytes := hdr.rowBytes()
	bpp := max(1, hdr.bitsPerPixel()/8) // what filters count back by
	cur, prev := make([]byte, rowBytes+1), make([]byte, rowBytes+1)
	var raw, z, stored bytes.Buffer
	for y0 := 0; y0 < hdr.h; y0 += k {
		n := min(k, hdr.h-y0)
		raw.Reset()
		for range n {
			if _, err := io.ReadFull(zr, cur); err != nil {
				return nil, fmt.Errorf("png: %w", noEOF(err))
			}
			if err := unfilter(cur[0], cur[1:], prev[1:], bpp); err != nil {
				return nil, err
			}
			raw.WriteByte(0)
			raw.Write(cur[1:])
			cur, prev = prev, cur
		}
		stored.Reset()
		writeStripPNG(&stored, &z, ihdr, n, plte, trns, raw.Bytes())
		img, err := png.Decode(&stored)
		if err != nil {
			return nil, err
		}
		convertInto(out, y0/s, img, bg, s)
	}
	// The end of the zlib stream (its checksum is checked there), as
	// image/png does, then the chunks after the image data, up to IEND.
	if n, err := zr.Read(cur[:1]); n > 0 || !errors.Is(err, io.EOF) {
		if err == nil || errors.Is(err, io.EOF) {
			err = errors.New("too much pixel data")
		}
		return nil, fmt.Errorf("png: %w", err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		return nil, err
	}
	for c.typ != "IEND" {
		if err := c.next(); err != nil {
			return nil, fmt.Errorf("png: %w", noEOF(err))
		}
	}
	if err := c.finish(); err != nil {
		return nil, noEOF(err)
	}
	return out, nil
}

// sameIHDR checks that an IHDR chunk's data says what hdr, read before,
// says.
func sameIHDR(data []byte, hdr pngHeader) error {
	if len(data) != 13 {
		return errors.New("png: bad IHDR length")
	}
	h, err := parseIHDR(data)
	if err != nil {
		return err
	}
	if h != hdr {
		return errors.New("png: IHDR is not the one read first")
	}
	return nil
}

// noEOF turns an end of file in the middle of a PNG into an unexpected one.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// unfilter undoes the filter ft of row cur, whose previous row is prev, in
// place; bpp is the number of bytes a pixel (at least 1).
func unfilter(ft byte, cur, prev []byte, bpp int) error {
	switch ft {
	case 0:
	case 1: // sub
		for i := bpp; i < len(cur); i++ {
			cur[i] += cur[i-bpp]
		}
	case 2: // up
		for i, p := range prev {
			cur[i] += p
		}
	case 3: // average
		for i := range bpp {
			cur[i] += prev[i] / 2
		}
		for i := bpp; i < len(cur); i++ {
			cur[i] += uint8((int(cur[i-bpp]) + int(prev[i])) / 2)
		}
	case 4: // Paeth
		for i := range cur {
			var a, c int
			if i >= bpp {
				a, c = int(cur[i-bpp]), int(prev[i-bpp])
			}
			b := int(prev[i])
			p := a + b - c
			pa, pb, pc := abs32(p-a), abs32(p-b), abs32(p-c)
			switch {
			case pa <= pb && pa <= pc:
				cur[i] += uint8(a)
			case pb <= pc:
				cur[i] += uint8(b)
			default:
				cur[i] += uint8(c)
			}
		}
	default:
		return errors.New("png: bad filter type")
	}
	return nil
}

func abs32(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// writeStripPNG writes a PNG of rows unfiltered rows (each after its
// filter byte 0), with the header of the whole picture but rows high and
// the same palette and transparency, its data stored uncompressed (in z,
// a buffer to reuse).
func writeStripPNG(w, z *bytes.Buffer, ihdr []byte, rows int, plte, trns, raw []byte) {
	w.WriteString("\x89PNG\r\n\x1a\n")
	h := bytes.Clone(ihdr)
	binary.BigEndian.PutUint32(h[4:], uint32(rows))
	h[12] = 0 // not interlaced
	pngChunk(w, "IHDR", h)
	if plte != nil {
		pngChunk(w, "PLTE", plte)
	}
	if trns != nil {
		pngChunk(w, "tRNS", trns)
	}
	z.Reset()
	zw, _ := zlib.NewWriterLevel(z, zlib.NoCompression) // the level is valid
	_, _ = zw.Write(raw)                                // a bytes.Buffer does not fail
	_ = zw.Close()
	pngChunk(w, "IDAT", z.Bytes())
	pngChunk(w, "IEND", nil)
}

// pngChunk writes one chunk.
func pngChunk(w *bytes.Buffer, typ string, data []byte) {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(len(data)))
	copy(b[4:], typ)
	w.Write(b[:])
	w.Write(data)
	crc := crc32.NewIEEE()
	crc.Write(b[4:])
	crc.Write(data)
	w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
}
