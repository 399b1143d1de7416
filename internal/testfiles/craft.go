package testfiles

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image/color"
)

// WithEXIF returns jpegFile with an EXIF segment inserted after its start marker:
// the given orientation (1–8; 6 means "rotate 90° clockwise to display") and a
// GPS position (latitude 48°51'30" N), the private detail a converter must strip.
func WithEXIF(jpegFile []byte, orientation int) ([]byte, error) {
	if !bytes.HasPrefix(jpegFile, []byte{0xFF, 0xD8}) {
		return nil, errors.New("with EXIF: not a JPEG file")
	}
	if orientation < 1 || orientation > 8 {
		return nil, fmt.Errorf("with EXIF: orientation %d is not 1 to 8", orientation)
	}
	le := binary.LittleEndian
	// A little-endian TIFF structure: IFD0 (orientation, pointer to the GPS IFD),
	// the GPS IFD (latitude reference and latitude), then the latitude's three
	// rationals. Offsets count from the start of the TIFF header.
	const (
		ifd0   = 8
		gpsIFD = ifd0 + 2 + 2*12 + 4
		latVal = gpsIFD + 2 + 2*12 + 4
		size   = latVal + 3*8
	)
	t := make([]byte, size)
	copy(t, "II*\x00")
	le.PutUint32(t[4:], ifd0)
	entry := func(at int, tag, typ uint16, count, value uint32) {
		le.PutUint16(t[at:], tag)
		le.PutUint16(t[at+2:], typ)
		le.PutUint32(t[at+4:], count)
		le.PutUint32(t[at+8:], value)
	}
	le.PutUint16(t[ifd0:], 2)
	entry(ifd0+2, 0x0112, 3, 1, uint32(orientation)) // Orientation, SHORT
	entry(ifd0+14, 0x8825, 4, 1, gpsIFD)             // GPSInfo IFD pointer, LONG
	le.PutUint16(t[gpsIFD:], 2)
	entry(gpsIFD+2, 0x0001, 2, 2, uint32('N'))     // GPSLatitudeRef, ASCII "N\0"
	entry(gpsIFD+14, 0x0002, 5, 3, uint32(latVal)) // GPSLatitude, 3 RATIONALs
	for i, v := range [3][2]uint32{{48, 1}, {51, 1}, {30, 1}} {
		le.PutUint32(t[latVal+8*i:], v[0])
		le.PutUint32(t[latVal+8*i+4:], v[1])
	}

	payload := append([]byte("Exif\x00\x00"), t...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(2+len(payload)))
	out := make([]byte, 0, len(jpegFile)+len(seg)+len(payload))
	out = append(out, jpegFile[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpegFile[2:]...), nil
}

// PNGBomb returns a valid w×h PNG (1-bit greyscale, all black) whose compressed
// data is tiny next to its decoded size: 50000×50000 is about 300 KB on disk and
// 2.5 gigapixels decoded.
func PNGBomb(w, h int) ([]byte, error) {
	if w <= 0 || h <= 0 || w > 1<<31-1 || h > 1<<31-1 {
		return nil, fmt.Errorf("PNG bomb: %d×%d is not a PNG size", w, h)
	}
	// Every row is a zero filter byte and zero bits, so the image data is
	// n zero bytes. Compressing 300 MB of zeros takes seconds; instead one
	// compressed chunk of zeros, ending byte-aligned (a sync flush) and
	// referring only to itself, is repeated, as deflate allows.
	n := int64(h) * int64(1+(w+7)/8)
	const chunk = 256 << 10
	full, err := deflateZeros(chunk)
	if err != nil {
		return nil, fmt.Errorf("PNG bomb: %w", err)
	}
	rest, err := deflateZeros(int(n % chunk))
	if err != nil {
		return nil, fmt.Errorf("PNG bomb: %w", err)
	}
	idat := []byte{0x78, 0xDA} // zlib header, best compression
	for i := int64(0); i < n/chunk; i++ {
		idat = append(idat, full...)
	}
	idat = append(idat, rest...)
	idat = append(idat, 0x01, 0x00, 0x00, 0xFF, 0xFF) // final, empty stored block
	// Adler-32 of n zero bytes: the byte sum stays 1, the running sum is n.
	idat = binary.BigEndian.AppendUint32(idat, uint32(n%65521)<<16|1)

	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 1, 0 // bit depth 1, greyscale
	out := []byte("\x89PNG\r\n\x1a\n")
	out = pngChunk(out, "IHDR", ihdr)
	out = pngChunk(out, "IDAT", idat)
	return pngChunk(out, "IEND", nil), nil
}

// deflateZeros returns raw deflate blocks for n zero bytes, not final and
// ending on a byte boundary.
func deflateZeros(n int) ([]byte, error) {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(make([]byte, n)); err != nil {
		return nil, err
	}
	if err := fw.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PNGHeader returns only the signature and IHDR of a w×h RGBA PNG: a file that
// declares its size and then stops, for tests that must refuse it by size alone.
func PNGHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8 bits, RGBA
	return pngChunk([]byte("\x89PNG\r\n\x1a\n"), "IHDR", ihdr)
}

func pngChunk(out []byte, typ string, data []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

// SolidWEBP returns a lossless WEBP of w×h pixels of colour c in a few dozen
// bytes: every prefix code has a single symbol, so a pixel costs zero bits. At
// 16383×16383 (the largest WEBP) it is a decompression bomb of 1 GB of RGBA.
func SolidWEBP(w, h int, c color.NRGBA) ([]byte, error) {
	if w < 1 || h < 1 || w > 16384 || h > 16384 {
		return nil, fmt.Errorf("solid WEBP: %d×%d is outside 1 to 16384", w, h)
	}
	var bw bitWriter
	bw.write(0x2f, 8) // VP8L signature
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	bw.write(1, 1) // alpha is used
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	// Green, red, blue and alpha: simple codes with one 8-bit symbol each, then
	// the distance code with the one symbol 0.
	for _, v := range []uint8{c.G, c.R, c.B, c.A} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // of 8 bits
		bw.write(uint32(v), 8)
	}
	bw.write(1, 1)
	bw.write(0, 1)
	bw.write(0, 1) // a 1-bit symbol
	bw.write(0, 1)
	data := bw.bytes()

	chunk := len(data) + len(data)%2
	out := make([]byte, 0, 20+chunk)
	out = append(out, "RIFF"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(4+8+chunk))
	out = append(out, "WEBPVP8L"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	if len(data)%2 == 1 {
		out = append(out, 0)
	}
	return out, nil
}

// bitWriter packs bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (b *bitWriter) write(v uint32, n uint) {
	b.acc |= uint64(v&(1<<n-1)) << b.nbits
	b.nbits += n
	for b.nbits >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.nbits -= 8
	}
}

func (b *bitWriter) bytes() []byte {
	if b.nbits > 0 {
		return append(b.buf, byte(b.acc))
	}
	return b.buf
}

// AnimatedWEBP returns a lossless animated WEBP of w×h pixels with one solid
// frame per colour, each shown for 100 ms.
func AnimatedWEBP(w, h int, frames ...color.NRGBA) ([]byte, error) {
	if len(frames) == 0 {
		return nil, errors.New("animated WEBP: no frames")
	}
	le24 := func(b []byte, v int) []byte { return append(b, byte(v), byte(v>>8), byte(v>>16)) }
	chunk := func(b []byte, id string, data []byte) []byte {
		b = append(b, id...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
		if len(data)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	vp8x := []byte{0x02 | 0x10, 0, 0, 0} // animation and alpha
	vp8x = le24(vp8x, w-1)
	vp8x = le24(vp8x, h-1)
	body := chunk([]byte("WEBP"), "VP8X", vp8x)
	body = chunk(body, "ANIM", []byte{255, 255, 255, 255, 0, 0}) // white background, loop forever
	for _, c := range frames {
		still, err := SolidWEBP(w, h, c)
		if err != nil {
			return nil, fmt.Errorf("animated WEBP: %w", err)
		}
		anmf := le24(le24(nil, 0), 0) // frame at (0, 0)
		anmf = le24(anmf, w-1)
		anmf = le24(anmf, h-1)
		anmf = le24(anmf, 100) // duration in ms
		anmf = append(anmf, 0x02)
		anmf = append(anmf, still[12:]...) // the VP8L chunk of the still image
		body = chunk(body, "ANMF", anmf)
	}
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	return append(out, body...), nil
}
