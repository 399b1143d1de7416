package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// The header readers below exist so that no decoder ever sees a decompression
// bomb: libvips and the libraries under it allocate from the size a file
// declares, so that size is read here first, in Go, and checked against the
// limits. Every reader trusts nothing: it allocates nothing in proportion to a
// declared size, bounds every loop by the bytes it is given, and reads each byte
// a bounded number of times, so a hostile file costs time linear in its length.
//
// Where a file is damaged after the fields that declare its size (a GIF cut in
// its third frame, a TIFF whose last IFD points past the end), the reader
// returns what it has read: the decoder cannot reach past the damage either, and
// the strict decode that follows reports it. Damage before those fields is an
// error.

// imageHead is what an image's header declares.
type imageHead struct {
	Width, Height int // of one frame/page (the largest page for multi-page formats where pages differ)
	Frames        int // frames of an animation or pages of a multi-page file; 1 for a still image
}

// errNoHeadReader is returned for kinds that have no reader here (SVG, whose
// size librsvg computes from CSS units and viewBoxes); the size libvips reads
// from the header is then the only check.
var errNoHeadReader = errors.New("no header reader for this kind of image")

// errTruncated is the damage most often found; callers can tell it from other
// damage with errors.Is.
var errTruncated = errors.New("the file is truncated")

func cutShort(what string) error {
	return fmt.Errorf("%w: %s is cut short", errTruncated, what)
}

// maxHeadSide is the largest width or height a reader returns. No decoder
// behind libvips goes near it (libvips itself stops at 10 000 000), and it keeps
// width × height within an int64 even where int is 32 bits.
const maxHeadSide = math.MaxInt32

// headReaders holds a reader for each kind; the kinds named by string are
// those the kinds table may not list yet.
var headReaders = map[Kind]func([]byte) (imageHead, error){
	KindJPEG: jpegHead,
	KindPNG:  pngHead,
	KindWEBP: webpHead,
	"gif":    gifHead,
	"tiff":   tiffHead,
	"bmp":    bmpHead,
	"ico":    icoHead,
	"tga":    tgaHead,
	"psd":    psdHead,
	"pnm":    pnmHead,
	"heic":   heifHead,
	"avif":   heifHead,
	"jp2":    jp2Head,
	"jxl":    jxlHead,
}

// readImageHead reads k's header. Errors are plain errors describing the damage ("the file is truncated", "IHDR missing"...).
// errNoHeadReader (a sentinel) for kinds where no pure-Go reader exists (then libvips's own header read is the check).
func readImageHead(k Kind, b []byte) (imageHead, error) {
	read, ok := headReaders[k]
	if !ok {
		return imageHead{}, errNoHeadReader
	}
	return read(b)
}

// newHead checks what a header declares: sides beyond maxHeadSide are refused
// as damage rather than passed on, since no decoder would take them and their
// product could overflow. Frame counts saturate instead, for the same reason,
// which changes nothing for a caller comparing them with a limit.
func newHead(w, h, frames uint64) (imageHead, error) {
	if w > maxHeadSide || h > maxHeadSide {
		return imageHead{}, fmt.Errorf("it declares %d×%d pixels, more than any decoder accepts", w, h)
	}
	return imageHead{Width: int(w), Height: int(h), Frames: int(min(frames, math.MaxInt32))}, nil
}

// larger reports whether w1×h1 has more pixels than w2×h2, without overflow.
func larger(w1, h1, w2, h2 uint64) bool {
	hi1, lo1 := bits.Mul64(w1, h1)
	hi2, lo2 := bits.Mul64(w2, h2)
	return hi1 > hi2 || hi1 == hi2 && lo1 > lo2
}

// headFields reads big- or little-endian unsigned fields of any width up to 8
// bytes. The first overrun sticks, so that a parser can read a whole structure
// and check once.
type headFields struct {
	b     []byte
	order binary.ByteOrder
	what  string // named in the error if the structure is cut short
	err   error
}

func (f *headFields) take(n uint64) []byte {
	if f.err != nil {
		return nil
	}
	if n > uint64(len(f.b)) {
		f.err = cutShort(f.what)
		f.b = nil
		return nil
	}
	p := f.b[:n]
	f.b = f.b[n:]
	return p
}

func (f *headFields) uint(n int) uint64 {
	p := f.take(uint64(n))
	var v uint64
	for i := range p {
		if f.order == binary.LittleEndian {
			v |= uint64(p[i]) << (8 * i)
		} else {
			v = v<<8 | uint64(p[i])
		}
	}
	return v
}

func (f *headFields) u8() uint64  { return f.uint(1) }
func (f *headFields) u16() uint64 { return f.uint(2) }
func (f *headFields) u32() uint64 { return f.uint(4) }

func beFields(b []byte, what string) *headFields {
	return &headFields{b: b, order: binary.BigEndian, what: what}
}
func leFields(b []byte, what string) *headFields {
	return &headFields{b: b, order: binary.LittleEndian, what: what}
}

// --- JPEG

// jpegHead walks the marker segments to the first frame header, as libjpeg
// does. Go's image/jpeg would also do, but it refuses frames libjpeg decodes
// (arithmetic coding, 12 bits), and a refusal here must mean damage.
func jpegHead(b []byte) (imageHead, error) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return imageHead{}, errors.New("no start-of-image marker")
	}
	for i := 2; ; {
		// libjpeg skips stray bytes before a marker, with a warning, and so
		// does this; a run of FF is fill before the marker code.
		for i < len(b) && b[i] != 0xFF {
			i++
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return imageHead{}, cutShort("the header before the frame header")
		}
		m := b[i]
		i++
		switch {
		case m == 0x00 || m == 0x01 || m >= 0xD0 && m <= 0xD8:
			continue // markers without a segment
		case m == 0xD9:
			return imageHead{}, errors.New("the image ends before its frame header")
		case m == 0xDA:
			return imageHead{}, errors.New("a scan starts before the frame header")
		}
		if i+2 > len(b) {
			return imageHead{}, cutShort("a marker segment")
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 {
			return imageHead{}, fmt.Errorf("a marker segment declares a length of %d bytes", n)
		}
		if isJPEGFrame(m) {
			f := beFields(b[i:], "the frame header")
			_, _, height, width := f.u16(), f.u8(), f.u16(), f.u16()
			if f.err != nil {
				return imageHead{}, f.err
			}
			return newHead(width, height, 1)
		}
		i += n
	}
}

// isJPEGFrame tells the start-of-frame markers (SOF0 to SOF15) from the three
// markers that share their range: DHT, JPG and DAC.
func isJPEGFrame(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// --- PNG

const pngSignature = "\x89PNG\r\n\x1a\n"

// pngHead reads IHDR directly rather than through image/png, which refuses
// sizes it considers overflowing: a PNG claiming 2³⁰×2³⁰ pixels is too large,
// not corrupt.
func pngHead(b []byte) (imageHead, error) {
	if !bytes.HasPrefix(b, []byte(pngSignature)) {
		return imageHead{}, errors.New("no PNG signature")
	}
	if len(b) < 24 {
		return imageHead{}, cutShort("the IHDR chunk")
	}
	if string(b[12:16]) != "IHDR" {
		return imageHead{}, fmt.Errorf("IHDR missing: the first chunk is %q", b[12:16])
	}
	w := uint64(binary.BigEndian.Uint32(b[16:]))
	h := uint64(binary.BigEndian.Uint32(b[20:]))
	return newHead(w, h, apngFrames(b[8:]))
}

// apngFrames returns the frame count of an animated PNG's acTL chunk, which
// the APNG specification places before the first IDAT, so the walk stops there.
func apngFrames(b []byte) uint64 {
	for len(b) >= 12 {
		n := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		if typ == "acTL" && n >= 8 && len(b) >= 16 {
			return max(uint64(binary.BigEndian.Uint32(b[8:])), 1)
		}
		if typ == "IDAT" || typ == "IEND" || n > uint64(len(b)-12) {
			break
		}
		b = b[12+n:]
	}
	return 1
}

// --- WEBP

// webpHead walks the RIFF chunks: the canvas of VP8X, or the size of a simple
// file's bitstream, and the frames of an animation, whose rectangles libwebp
// keeps within the canvas but are counted in the size all the same.
func webpHead(b []byte) (imageHead, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return imageHead{}, errors.New("no RIFF WEBP header")
	}
	body := b[12:]
	if n := uint64(binary.LittleEndian.Uint32(b[4:])); n >= 4 && n-4 < uint64(len(body)) {
		body = body[:n-4] // what follows the RIFF is not part of the image
	}
	if len(body) < 8 {
		return imageHead{}, cutShort("the first chunk")
	}
	var w, h, frames uint64
	for len(body) >= 8 {
		typ, n := string(body[:4]), uint64(binary.LittleEndian.Uint32(body[4:]))
		data := body[8:]
		clipped := n > uint64(len(data))
		if !clipped {
			data = data[:n]
		}
		cw, ch, err := webpChunkSize(typ, data)
		if err != nil && clipped && (w > 0 || h > 0) {
			break // a later frame cut short: libwebp stops there too
		}
		if err != nil {
			return imageHead{}, err
		}
		w, h = max(w, cw), max(h, ch)
		if typ == "ANMF" {
			frames++
		}
		if clipped || n+n&1 >= uint64(len(body)-8) {
			break
		}
		body = body[8+n+n&1:]
	}
	if w == 0 && h == 0 {
		return imageHead{}, errors.New("no VP8, VP8L or VP8X chunk")
	}
	return newHead(w, h, max(frames, 1))
}

// webpChunkSize returns the extent of the image a chunk declares, or zeros for
// the chunks that declare none.
func webpChunkSize(typ string, d []byte) (w, h uint64, err error) {
	f := leFields(d, "")
	switch typ {
	case "VP8X":
		f.what = "the VP8X chunk"
		f.take(4) // flags
		w, h = f.uint(3)+1, f.uint(3)+1
	case "ANMF":
		f.what = "an ANMF chunk"
		x, y := 2*f.uint(3), 2*f.uint(3)
		w, h = x+f.uint(3)+1, y+f.uint(3)+1
	case "VP8L":
		f.what = "the VP8L chunk"
		if f.u8() != 0x2F && f.err == nil {
			return 0, 0, errors.New("the VP8L chunk lacks its signature")
		}
		v := f.u32()
		w, h = v&0x3FFF+1, v>>14&0x3FFF+1
	case "VP8 ":
		f.what = "the VP8 chunk"
		tag, start := f.uint(3), f.uint(3)
		if f.err == nil && (tag&1 != 0 || start != 0x2A019D) {
			return 0, 0, errors.New("the VP8 chunk does not start with a key frame")
		}
		w, h = f.u16()&0x3FFF, f.u16()&0x3FFF
	}
	return w, h, f.err
}

// --- GIF

// gifHead counts the frames by walking the blocks, skipping every sub-block
// unread. A frame may reach beyond the logical screen, and a decoder may then
// grow its canvas (libnsgif does for the first frame), so the size is the
// largest extent.
func gifHead(b []byte) (imageHead, error) {
	if !bytes.HasPrefix(b, []byte("GIF87a")) && !bytes.HasPrefix(b, []byte("GIF89a")) {
		return imageHead{}, errors.New("no GIF signature")
	}
	if len(b) < 13 {
		return imageHead{}, cutShort("the logical screen descriptor")
	}
	w, h := uint64(binary.LittleEndian.Uint16(b[6:])), uint64(binary.LittleEndian.Uint16(b[8:]))
	i := 13 + gifColorTable(b[10])
	var frames uint64
walk:
	for i < len(b) {
		switch b[i] {
		case 0x3B:
			break walk
		case 0x21:
			i = skipSubBlocks(b, i+2)
		case 0x2C:
			if len(b)-i < 10 {
				if frames == 0 {
					return imageHead{}, cutShort("the first image descriptor")
				}
				break walk
			}
			f := leFields(b[i+1:i+10], "an image descriptor")
			left, top, fw, fh, packed := f.u16(), f.u16(), f.u16(), f.u16(), f.u8()
			w, h = max(w, left+fw), max(h, top+fh)
			frames++
			// Skip the local colour table and the LZW minimum code size.
			i = skipSubBlocks(b, i+10+gifColorTable(byte(packed))+1)
		default:
			// Decoders stop at a block they do not know, so frames after it
			// are never decoded.
			if frames > 0 {
				break walk
			}
			return imageHead{}, fmt.Errorf("an unknown block (%#02x) comes before the first image", b[i])
		}
	}
	if frames == 0 {
		if i >= len(b) {
			return imageHead{}, cutShort("the first image")
		}
		return imageHead{}, errors.New("it holds no image")
	}
	return newHead(w, h, frames)
}

// gifColorTable returns the length of the colour table a packed field announces.
func gifColorTable(packed byte) int {
	if packed&0x80 == 0 {
		return 0
	}
	return 3 << (packed&7 + 1)
}

// skipSubBlocks returns the index after the block terminator of the sub-blocks
// starting at i, or len(b) when they run past the end.
func skipSubBlocks(b []byte, i int) int {
	for i < len(b) {
		n := int(b[i])
		i += 1 + n
		if n == 0 {
			return i
		}
	}
	return len(b)
}

// --- TIFF

// tiffFile is a TIFF (classic or BigTIFF) being walked.
type tiffFile struct {
	b     []byte
	order binary.ByteOrder
	big   bool // BigTIFF: 8-byte counts and offsets
}

// errOutsideFile marks an IFD that lies (partly) outside the file, which ends
// the chain of pages: libtiff cannot read it either.
var errOutsideFile = fmt.Errorf("%w: an IFD lies past the end", errTruncated)

// tiffHead counts the pages of the main IFD chain (the pages libvips loads;
// SubIFDs are reduced copies it leaves alone) and takes the largest.
func tiffHead(b []byte) (imageHead, error) {
	if len(b) < 8 {
		return imageHead{}, cutShort("the TIFF header")
	}
	t := tiffFile{b: b}
	switch string(b[:2]) {
	case "II":
		t.order = binary.LittleEndian
	case "MM":
		t.order = binary.BigEndian
	default:
		return imageHead{}, errors.New("no TIFF byte-order mark")
	}
	var first uint64
	switch magic := t.order.Uint16(b[2:]); magic {
	case 42:
		first = uint64(t.order.Uint32(b[4:]))
	case 43:
		if len(b) < 16 {
			return imageHead{}, cutShort("the BigTIFF header")
		}
		if n := t.order.Uint16(b[4:]); n != 8 {
			return imageHead{}, fmt.Errorf("BigTIFF offsets of %d bytes", n)
		}
		first, t.big = t.order.Uint64(b[8:]), true
	default:
		return imageHead{}, fmt.Errorf("the TIFF version number is %d, not 42", magic)
	}
	return t.pages(first)
}

func (t *tiffFile) entrySize() uint64 {
	if t.big {
		return 20
	}
	return 12
}

// pages walks the IFD chain from off. A chain that comes back on itself is
// found with Brent's algorithm, in constant memory: the walk remembers the IFD
// at each power of two steps and stops when it meets it again. IFDs that
// overlap one another could make the walk read the same entries over and over,
// so the entries read are bounded by twice what the file can hold side by side.
func (t *tiffFile) pages(off uint64) (imageHead, error) {
	budget := 2*uint64(len(t.b))/t.entrySize() + 64
	var w, h, pages uint64
	var saved uint64 // 0 is never an IFD: it ends the chain
	steps, power := uint64(0), uint64(1)
	for off != 0 {
		if off == saved {
			return imageHead{}, fmt.Errorf("the chain of IFDs loops back on itself after %d pages", pages)
		}
		pw, ph, next, err := t.ifd(off, &budget)
		if errors.Is(err, errOutsideFile) && pages > 0 {
			break
		}
		if err != nil {
			return imageHead{}, fmt.Errorf("IFD %d: %w", pages+1, err)
		}
		w, h = max(w, pw), max(h, ph)
		pages++
		if steps++; steps == power {
			saved, power, steps = off, 2*power, 0
		}
		off = next
	}
	if pages == 0 {
		return imageHead{}, errors.New("it declares no IFD")
	}
	return newHead(w, h, pages)
}

// ifd reads the size of the page whose IFD is at off and the offset of the
// next IFD. Duplicate size tags are all taken into account, as it is unclear
// which one a decoder will use.
func (t *tiffFile) ifd(off uint64, budget *uint64) (w, h, next uint64, err error) {
	countSize := uint64(2)
	if t.big {
		countSize = 8
	}
	size := uint64(len(t.b))
	if off > size || size-off < countSize {
		return 0, 0, 0, errOutsideFile
	}
	f := &headFields{b: t.b[off:], order: t.order, what: "the IFD"}
	count := f.uint(int(countSize))
	if count > uint64(len(f.b))/t.entrySize() {
		return 0, 0, 0, errOutsideFile
	}
	if count+1 > *budget {
		return 0, 0, 0, errors.New("the IFDs overlap one another")
	}
	*budget -= count + 1
	var haveW, haveH bool
	for range count {
		e := f.take(t.entrySize())
		tag := t.order.Uint16(e)
		if tag != 256 && tag != 257 {
			continue
		}
		v, err := t.value(e)
		if err != nil {
			return 0, 0, 0, err
		}
		if tag == 256 {
			w, haveW = max(w, v), true
		} else {
			h, haveH = max(h, v), true
		}
	}
	if !haveW || !haveH {
		return 0, 0, 0, errors.New("ImageWidth or ImageLength missing")
	}
	// A missing next-IFD offset ends the chain, as in libtiff.
	next = f.uint(t.offsetSize())
	if f.err != nil {
		next = 0
	}
	return w, h, next, nil
}

func (t *tiffFile) offsetSize() int {
	if t.big {
		return 8
	}
	return 4
}

// tiffIntSizes holds the integer types libtiff converts for a size tag, with
// their sizes; it refuses the others, and negative values.
var tiffIntSizes = map[uint16]uint64{1: 1, 3: 2, 4: 4, 6: 1, 8: 2, 9: 4, 13: 4, 16: 8, 17: 8, 18: 8}

// value reads the single integer of the IFD entry e.
func (t *tiffFile) value(e []byte) (uint64, error) {
	name := "ImageWidth"
	if t.order.Uint16(e) == 257 {
		name = "ImageLength"
	}
	typ := t.order.Uint16(e[2:])
	size, ok := tiffIntSizes[typ]
	if !ok {
		return 0, fmt.Errorf("%s has type %d, not an integer", name, typ)
	}
	f := &headFields{b: e[4:], order: t.order, what: name}
	if n := f.uint(t.offsetSize()); n != 1 {
		return 0, fmt.Errorf("%s has %d values", name, n)
	}
	// The value is in the entry if it fits, else at the offset the entry holds.
	field := f.b
	if size > uint64(len(field)) {
		off := (&headFields{b: field, order: t.order}).uint(len(field))
		if off > uint64(len(t.b)) || uint64(len(t.b))-off < size {
			return 0, cutShort(name)
		}
		field = t.b[off:]
	}
	v := (&headFields{b: field, order: t.order}).uint(int(size))
	if signed := typ == 6 || typ == 8 || typ == 9 || typ == 17; signed && v>>(8*size-1) != 0 {
		return 0, fmt.Errorf("%s is negative", name)
	}
	return v, nil
}

// --- BMP and ICO

func bmpHead(b []byte) (imageHead, error) {
	if !bytes.HasPrefix(b, []byte("BM")) {
		return imageHead{}, errors.New("no BMP signature")
	}
	if len(b) < 14 {
		return imageHead{}, cutShort("the file header")
	}
	return dibHead(b[14:], 1)
}

// dibHead reads the header of a device-independent bitmap. An icon's bitmap
// declares the height of its colour and transparency masks stacked, which
// heightScale 2 undoes.
func dibHead(b []byte, heightScale uint64) (imageHead, error) {
	f := leFields(b, "the bitmap header")
	var w, h uint64
	switch n := f.u32(); {
	case f.err != nil:
		return imageHead{}, f.err
	case n == 12: // BITMAPCOREHEADER, of OS/2 1.x
		w, h = f.u16(), f.u16()
	case n >= 16: // BITMAPINFOHEADER and its successors
		sw, sh := int64(int32(f.u32())), int64(int32(f.u32()))
		if sw < 0 {
			return imageHead{}, fmt.Errorf("the bitmap header declares a width of %d", sw)
		}
		// A negative height marks a top-down bitmap.
		w, h = uint64(sw), uint64(max(sh, -sh))
	default:
		return imageHead{}, fmt.Errorf("unknown bitmap header of %d bytes", n)
	}
	if f.err != nil {
		return imageHead{}, f.err
	}
	return newHead(w, h/heightScale, 1)
}

// icoHead returns the largest icon of an ICO or CUR file. Frames is 1, as
// libvips loads one icon.
func icoHead(b []byte) (imageHead, error) {
	f := leFields(b, "the icon directory")
	reserved, typ, count := f.u16(), f.u16(), f.u16()
	if f.err != nil {
		return imageHead{}, f.err
	}
	if reserved != 0 || typ != 1 && typ != 2 {
		return imageHead{}, errors.New("not an icon or cursor directory")
	}
	if count == 0 {
		return imageHead{}, errors.New("the icon directory is empty")
	}
	var w, h uint64
	for i := range count {
		e := f.take(16)
		if f.err != nil {
			return imageHead{}, f.err
		}
		ew, eh, err := icoEntrySize(b, e)
		if err != nil {
			return imageHead{}, fmt.Errorf("icon %d: %w", i+1, err)
		}
		if larger(ew, eh, w, h) {
			w, h = ew, eh
		}
	}
	return newHead(w, h, 1)
}

// icoEntrySize returns the size of the icon of directory entry e: that of its
// PNG when it embeds one, which is decoded as any PNG, else the larger of what
// the entry and the bitmap header say, as ImageMagick reads both.
func icoEntrySize(file, e []byte) (w, h uint64, err error) {
	w, h = uint64(e[0]), uint64(e[1])
	if w == 0 {
		w = 256
	}
	if h == 0 {
		h = 256
	}
	off := uint64(binary.LittleEndian.Uint32(e[12:]))
	if off >= uint64(len(file)) {
		return 0, 0, fmt.Errorf("%w: its image lies past the end", errTruncated)
	}
	img := file[off:]
	if bytes.HasPrefix(img, []byte(pngSignature)) {
		ph, err := pngHead(img)
		return uint64(ph.Width), uint64(ph.Height), err
	}
	// A bitmap header that does not parse leaves the entry's size, which is
	// all ImageMagick goes by then.
	if dh, err := dibHead(img, 2); err == nil {
		w, h = max(w, uint64(dh.Width)), max(h, uint64(dh.Height))
	}
	return w, h, nil
}

// --- TGA and PSD

func tgaHead(b []byte) (imageHead, error) {
	if len(b) < 18 {
		return imageHead{}, cutShort("the TGA header")
	}
	if b[1] > 1 {
		return imageHead{}, fmt.Errorf("unknown colour map type %d", b[1])
	}
	switch b[2] {
	case 1, 2, 3, 9, 10, 11: // colour-mapped, true-colour, grey; raw or run-length encoded
	default:
		return imageHead{}, fmt.Errorf("unknown TGA image type %d", b[2])
	}
	w, h := binary.LittleEndian.Uint16(b[12:]), binary.LittleEndian.Uint16(b[14:])
	return newHead(uint64(w), uint64(h), 1)
}

// psdHead reads a Photoshop header: version 1 is PSD, version 2 PSB (sides up
// to 300 000). Frames is 1, the composite image libvips loads.
func psdHead(b []byte) (imageHead, error) {
	f := beFields(b, "the PSD header")
	sig := f.take(4)
	if f.err == nil && string(sig) != "8BPS" {
		return imageHead{}, errors.New("no PSD signature")
	}
	version := f.u16()
	f.take(8) // reserved, channels
	h, w := f.u32(), f.u32()
	if f.err != nil {
		return imageHead{}, f.err
	}
	if version != 1 && version != 2 {
		return imageHead{}, fmt.Errorf("unknown PSD version %d", version)
	}
	return newHead(w, h, 1)
}

// --- PNM

// pnmHead reads the ASCII header of the Netpbm formats: P1 to P6, P7 (PAM)
// and the PF/Pf float maps. Frames is 1: decoders read the first image of a
// file that concatenates several.
func pnmHead(b []byte) (imageHead, error) {
	if len(b) < 2 || b[0] != 'P' {
		return imageHead{}, errors.New("no PNM magic number")
	}
	p := pnmScanner{b: b, i: 2}
	switch b[1] {
	case '1', '2', '3', '4', '5', '6', 'F', 'f':
		w, err := p.number("width")
		if err != nil {
			return imageHead{}, err
		}
		h, err := p.number("height")
		if err != nil {
			return imageHead{}, err
		}
		return newHead(w, h, 1)
	case '7':
		return p.pam()
	}
	return imageHead{}, fmt.Errorf("unknown PNM magic number %q", b[:2])
}

type pnmScanner struct {
	b []byte
	i int
}

// skip passes white space and comments, which run from # to the end of a line.
func (p *pnmScanner) skip() {
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '#':
			for p.i < len(p.b) && p.b[p.i] != '\n' && p.b[p.i] != '\r' {
				p.i++
			}
		case c == ' ' || c >= '\t' && c <= '\r':
			p.i++
		default:
			return
		}
	}
}

// number reads a decimal number. It saturates far above maxHeadSide, so
// that any number of digits is read without overflow and refused by newHead.
func (p *pnmScanner) number(what string) (uint64, error) {
	p.skip()
	start := p.i
	var v uint64
	for ; p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		v = min(v*10+uint64(p.b[p.i]-'0'), 1<<40)
	}
	switch {
	case p.i >= len(p.b): // even after digits: the number may go on
		return 0, cutShort("the header")
	case p.i > start:
		return v, nil
	}
	return 0, fmt.Errorf("the %s is not a number", what)
}

// word reads a token of a PAM header.
func (p *pnmScanner) word() string {
	p.skip()
	start := p.i
	for p.i < len(p.b) && p.b[p.i] > ' ' {
		p.i++
	}
	return string(p.b[start:p.i])
}

// pam reads the header lines of a PAM file up to ENDHDR.
func (p *pnmScanner) pam() (imageHead, error) {
	var w, h uint64
	var haveW, haveH bool
	for {
		var err error
		switch tok := p.word(); tok {
		case "":
			if p.i < len(p.b) {
				return imageHead{}, fmt.Errorf("the PAM header holds a byte %#02x", p.b[p.i])
			}
			return imageHead{}, cutShort("the PAM header")
		case "ENDHDR":
			if !haveW || !haveH {
				return imageHead{}, errors.New("the PAM header lacks WIDTH or HEIGHT")
			}
			return newHead(w, h, 1)
		case "WIDTH":
			w, err = p.number("width")
			haveW = true
		case "HEIGHT":
			h, err = p.number("height")
			haveH = true
		default: // DEPTH, MAXVAL, TUPLTYPE: the rest of the line
			for p.i < len(p.b) && p.b[p.i] != '\n' {
				p.i++
			}
		}
		if err != nil {
			return imageHead{}, err
		}
	}
}

// --- ISO base media boxes (HEIF, AVIF, JPEG 2000, JPEG XL)

// nextBox splits b into its first box and the rest. A box that runs past the
// end comes back clipped, with an error wrapping errTruncated, for callers
// that need only its start; a box too short for its own header comes back
// without a body.
func nextBox(b []byte) (typ string, body, rest []byte, err error) {
	if len(b) < 8 {
		return "", nil, nil, cutShort("a box header")
	}
	size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
	typ = string(b[4:8])
	switch size {
	case 0: // the box runs to the end of its container
		size = uint64(len(b))
	case 1: // a 64-bit size follows the type
		if len(b) < 16 {
			return typ, nil, nil, cutShort(fmt.Sprintf("the header of box %q", typ))
		}
		size, hdr = binary.BigEndian.Uint64(b[8:]), 16
	}
	if size < hdr {
		return typ, nil, nil, fmt.Errorf("box %q declares a size of %d bytes", typ, size)
	}
	if size > uint64(len(b)) {
		return typ, b[hdr:], nil, cutShort(fmt.Sprintf("box %q", typ))
	}
	return typ, b[hdr:size], b[size:], nil
}

// eachBox calls fn with every box of b. Within metadata, which decoders read
// whole, any damage is an error.
func eachBox(b []byte, fn func(typ string, body []byte) error) error {
	for len(b) > 0 {
		typ, body, rest, err := nextBox(b)
		if err != nil {
			return err
		}
		if err := fn(typ, body); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// findBox returns the body of the first box of b along path, or nil.
func findBox(b []byte, path ...string) ([]byte, error) {
	for _, want := range path {
		var found []byte
		err := eachBox(b, func(typ string, body []byte) error {
			if typ == want && found == nil {
				found = body
			}
			return nil
		})
		if err != nil || found == nil {
			return nil, err
		}
		b = found
	}
	return b, nil
}

// fullBox splits the version and flags from the body of a full box.
func fullBox(body []byte, typ string) (version byte, flags uint32, rest []byte, err error) {
	if len(body) < 4 {
		return 0, 0, nil, cutShort(fmt.Sprintf("box %q", typ))
	}
	return body[0], uint32(body[1])<<16 | uint32(body[2])<<8 | uint32(body[3]), body[4:], nil
}

// --- HEIF and AVIF

// heifScan gathers what a HEIF file declares: the largest image, and the
// pages libvips would load with n=-1.
type heifScan struct {
	file   []byte
	w, h   uint64
	frames uint64
}

func (s *heifScan) offer(w, h uint64) {
	if larger(w, h, s.w, s.h) {
		s.w, s.h = w, h
	}
}

// heifItems is what the items of a meta box say about pages and sizes. Item
// IDs are kept in slices of at most heifItemCap: a file can declare millions
// of items in a few bytes each, and past that many pages it is refused by any
// frame limit, so the count needs no more precision than that.
type heifItems struct {
	pages     []uint32 // visible image items
	pagesLost int      // visible image items past heifItemCap
	secondary []uint32 // thumbnails and auxiliary images (alpha, depth) of others
	lost      bool     // secondary items past heifItemCap
	derived   map[uint32]string
}

const (
	heifItemCap    = 1 << 20
	heifDerivedCap = 1 << 10 // grids and overlays: one or two in real files
)

// count returns the number of top-level images: visible images that are not
// thumbnails or auxiliary images. Over the caps it counts every visible image,
// which can only overstate the pages.
func (it *heifItems) count() uint64 {
	if it.pagesLost > 0 || it.lost {
		return uint64(len(it.pages) + it.pagesLost)
	}
	slices.Sort(it.pages)
	slices.Sort(it.secondary)
	var n uint64
	for _, id := range slices.Compact(it.pages) {
		if _, found := slices.BinarySearch(it.secondary, id); !found {
			n++
		}
	}
	return n
}

// heifImageTypes are the item types libheif decodes as images (and a few it
// may in later versions: counting one too many is the safe side).
var heifImageTypes = map[string]bool{
	"hvc1": true, "av01": true, "grid": true, "iden": true, "iovl": true, "tili": true,
	"avc1": true, "vvc1": true, "unci": true, "jpeg": true, "j2k1": true, "tmap": true,
}

// heifHead takes the largest image any item declares: the ispe property of
// each, and the canvas of grid and overlay items, which libheif takes from the
// item's data rather than from its ispe. Frames counts the top-level images,
// as libheif does (what libvips calls pages), or the samples of a picture
// track if there are more.
func heifHead(b []byte) (imageHead, error) {
	var meta, moov []byte
	for rest := b; len(rest) > 0; {
		typ, body, next, err := nextBox(rest)
		if err != nil {
			if meta != nil || moov != nil {
				break // typically the media data, cut short
			}
			return imageHead{}, err
		}
		if typ == "meta" && meta == nil {
			meta = body
		} else if typ == "moov" && moov == nil {
			moov = body
		}
		rest = next
	}
	if meta == nil && moov == nil {
		return imageHead{}, errors.New("no meta box")
	}
	s := heifScan{file: b}
	if meta != nil {
		if err := s.meta(meta); err != nil {
			return imageHead{}, fmt.Errorf("meta box: %w", err)
		}
	}
	if moov != nil {
		if err := s.moov(moov); err != nil {
			return imageHead{}, fmt.Errorf("moov box: %w", err)
		}
	}
	if s.frames == 0 {
		return imageHead{}, errors.New("no image item")
	}
	if s.w == 0 && s.h == 0 {
		return imageHead{}, errors.New("no image declares its size (ispe)")
	}
	return newHead(s.w, s.h, s.frames)
}

func (s *heifScan) meta(body []byte) error {
	_, _, rest, err := fullBox(body, "meta")
	if err != nil {
		return err
	}
	var iinf, iref, iloc, idat []byte
	err = eachBox(rest, func(typ string, b []byte) error {
		// libheif reads the first box of each type.
		for _, c := range []struct {
			typ string
			to  *[]byte
		}{{"iinf", &iinf}, {"iref", &iref}, {"iloc", &iloc}, {"idat", &idat}} {
			if typ == c.typ && *c.to == nil {
				*c.to = b
			}
		}
		if typ == "iprp" {
			return s.properties(b) // every one, as each may declare sizes
		}
		return nil
	})
	if err != nil {
		return err
	}
	items, err := readHeifItems(iinf)
	if err != nil {
		return err
	}
	if err := items.references(iref); err != nil {
		return err
	}
	s.frames = items.count()
	return s.canvases(items, iloc, idat)
}

// readHeifItems reads the items' types and hidden flags from iinf.
func readHeifItems(iinf []byte) (*heifItems, error) {
	items := &heifItems{derived: map[uint32]string{}}
	if iinf == nil {
		return items, nil
	}
	v, _, rest, err := fullBox(iinf, "iinf")
	if err != nil {
		return nil, err
	}
	n := 2 // the entry count, which the boxes that follow make redundant
	if v > 0 {
		n = 4
	}
	if len(rest) < n {
		return nil, cutShort(`box "iinf"`)
	}
	err = eachBox(rest[n:], func(typ string, b []byte) error {
		if typ != "infe" {
			return nil
		}
		v, flags, rest, err := fullBox(b, "infe")
		if err != nil || v < 2 {
			return err // versions 0 and 1 have no item type: not images
		}
		f := beFields(rest, `box "infe"`)
		id := f.u16()
		if v > 2 {
			id = id<<16 | f.u16()
		}
		f.u16() // protection index
		itemType := f.take(4)
		if f.err != nil {
			return f.err
		}
		return items.add(uint32(id), itemType, flags&1 != 0)
	})
	return items, err
}

func (it *heifItems) add(id uint32, typ []byte, hidden bool) error {
	switch {
	case !heifImageTypes[string(typ)] || hidden:
	case len(it.pages) < heifItemCap:
		it.pages = append(it.pages, id)
	default:
		it.pagesLost++
	}
	// Hidden grids count too: sizes are all taken, page or not.
	if t := string(typ); t == "grid" || t == "iovl" {
		if len(it.derived) >= heifDerivedCap {
			return fmt.Errorf("more than %d grid and overlay images", heifDerivedCap)
		}
		it.derived[id] = t
	}
	return nil
}

// references finds the thumbnails and auxiliary images, which libheif
// attaches to their main image instead of listing them as pages.
func (it *heifItems) references(iref []byte) error {
	if iref == nil {
		return nil
	}
	v, _, rest, err := fullBox(iref, "iref")
	if err != nil {
		return err
	}
	idSize := 2
	if v > 0 {
		idSize = 4
	}
	return eachBox(rest, func(typ string, b []byte) error {
		if typ != "thmb" && typ != "auxl" {
			return nil
		}
		f := beFields(b, "an item reference")
		from := f.uint(idSize)
		switch {
		case f.err != nil:
		case len(it.secondary) < heifItemCap:
			it.secondary = append(it.secondary, uint32(from))
		default:
			it.lost = true
		}
		return f.err
	})
}

// properties offers the size of every ispe property in iprp.
func (s *heifScan) properties(iprp []byte) error {
	return eachBox(iprp, func(typ string, ipco []byte) error {
		if typ != "ipco" {
			return nil
		}
		return eachBox(ipco, func(typ string, b []byte) error {
			if typ != "ispe" {
				return nil
			}
			_, _, rest, err := fullBox(b, "ispe")
			if err != nil {
				return err
			}
			f := beFields(rest, `property "ispe"`)
			w, h := f.u32(), f.u32()
			if f.err == nil {
				s.offer(w, h)
			}
			return f.err
		})
	})
}

// canvases offers the canvas of each grid and overlay item, read from the
// item's data, which iloc locates in the file or in idat.
func (s *heifScan) canvases(items *heifItems, iloc, idat []byte) error {
	want := items.derived
	if len(want) == 0 {
		return nil
	}
	if iloc == nil {
		return errors.New("no iloc box locates the grid")
	}
	return s.itemData(iloc, idat, want, func(id uint32, data []byte) error {
		f := beFields(data, fmt.Sprintf("the data of %s item %d", want[id], id))
		f.u8() // version
		flags := f.u8()
		if want[id] == "grid" {
			f.take(2) // rows and columns
		} else {
			f.take(8) // canvas fill colour
		}
		n := 2
		if flags&1 != 0 {
			n = 4
		}
		w, h := f.uint(n), f.uint(n)
		if f.err == nil {
			s.offer(w, h)
		}
		return f.err
	})
}

// itemData calls fn with the first bytes of the data of each item of want,
// as iloc locates them, and fails if one has no location. want is emptied.
func (s *heifScan) itemData(iloc, idat []byte, want map[uint32]string, fn func(id uint32, data []byte) error) error {
	v, _, rest, err := fullBox(iloc, "iloc")
	if err != nil {
		return err
	}
	if v > 2 {
		return fmt.Errorf("unknown iloc version %d", v)
	}
	f := beFields(rest, `box "iloc"`)
	sizes := f.u16()
	offSize, lenSize, baseSize, idxSize := int(sizes>>12), int(sizes>>8&15), int(sizes>>4&15), int(sizes&15)
	if v == 0 {
		idxSize = 0
	}
	for _, n := range []int{offSize, lenSize, baseSize, idxSize} {
		if n != 0 && n != 4 && n != 8 {
			return fmt.Errorf("iloc declares fields of %d bytes", n)
		}
	}
	idSize := 2 + 2*int(v/2) // 4 bytes from version 2
	count := f.uint(idSize)
	for i := uint64(0); i < count && f.err == nil && len(want) > 0; i++ {
		id := uint32(f.uint(idSize))
		method := uint64(0)
		if v > 0 {
			method = f.u16() & 15
		}
		f.u16() // data reference index
		base := f.uint(baseSize)
		extents := f.u16()
		if idxSize+offSize+lenSize == 0 {
			extents = min(extents, 1) // every extent would read nothing and be the same
		}
		_, wanted := want[id]
		var data []byte
		for range extents {
			f.uint(idxSize)
			off, n := f.uint(offSize), f.uint(lenSize)
			if wanted && len(data) < 32 {
				data = append(data, s.extent(method, idat, base, off, n)...)
			}
		}
		if wanted && f.err == nil {
			if err := fn(id, data); err != nil {
				return err
			}
			delete(want, id)
		}
	}
	if f.err != nil {
		return f.err
	}
	var missing uint32 = math.MaxUint32
	for id := range want {
		missing = min(missing, id)
	}
	if len(want) > 0 {
		return fmt.Errorf("%s item %d has no location in iloc", want[missing], missing)
	}
	return nil
}

// extent returns the first bytes of an item's extent: in the file for
// construction method 0, in idat for method 1. Method 2 (data from another
// item) is not read, nor by libheif 1.15: it yields nothing.
func (s *heifScan) extent(method uint64, idat []byte, base, off, n uint64) []byte {
	var src []byte
	switch method {
	case 0:
		src = s.file
	case 1:
		src = idat
	}
	start := base + off
	if start < base || start > uint64(len(src)) {
		return nil
	}
	src = src[start:]
	if n != 0 && n < uint64(len(src)) {
		src = src[:n] // a length of 0 means to the end
	}
	return src[:min(len(src), 32)]
}

// moov reads the picture tracks of an image sequence (AVIS, HEIF sequences).
// libheif 1.15 decodes no track, but later versions do.
func (s *heifScan) moov(body []byte) error {
	return eachBox(body, func(typ string, trak []byte) error {
		if typ != "trak" {
			return nil
		}
		return s.track(trak)
	})
}

// track offers the size the sample entries of a picture track declare and
// counts its samples as frames.
func (s *heifScan) track(trak []byte) error {
	hdlr, err := findBox(trak, "mdia", "hdlr")
	if err != nil || hdlr == nil {
		return err
	}
	_, _, rest, err := fullBox(hdlr, "hdlr")
	if err != nil {
		return err
	}
	if len(rest) < 8 {
		return cutShort(`box "hdlr"`)
	}
	if h := string(rest[4:8]); h != "pict" && h != "vide" {
		return nil
	}
	stbl, err := findBox(trak, "mdia", "minf", "stbl")
	if err != nil || stbl == nil {
		return err
	}
	return eachBox(stbl, func(typ string, b []byte) error {
		if typ != "stsd" && typ != "stsz" && typ != "stz2" {
			return nil
		}
		_, _, rest, err := fullBox(b, typ)
		if err != nil {
			return err
		}
		f := beFields(rest, fmt.Sprintf("box %q", typ))
		switch typ {
		case "stsd":
			f.u32() // entry count
			if f.err != nil {
				return f.err
			}
			return eachBox(f.b, func(typ string, entry []byte) error {
				// A visual sample entry has 24 bytes before its width and height.
				e := beFields(entry, "a sample entry")
				e.take(24)
				w, h := e.u16(), e.u16()
				s.offer(w, h)
				return e.err
			})
		case "stsz", "stz2":
			f.u32() // sample size, or field size
			s.frames = max(s.frames, f.u32())
		}
		return f.err
	})
}

// --- JPEG 2000

// jp2Head reads both the ihdr box and the codestream's SIZ marker and takes
// the larger of each side, as they should agree and OpenJPEG allocates from
// the codestream. A raw J2K codestream has only SIZ. Frames is 1: libvips's
// pages of a JPEG 2000 file are its reduced resolutions.
func jp2Head(b []byte) (imageHead, error) {
	if bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51}) {
		w, h, err := j2kSize(b)
		if err != nil {
			return imageHead{}, err
		}
		return newHead(w, h, 1)
	}
	var w, h uint64
	var codestream bool
	for rest := b; len(rest) > 0 && !codestream; {
		typ, body, next, err := nextBox(rest)
		if body == nil {
			if w > 0 || h > 0 {
				break // trailing bytes after the header
			}
			return imageHead{}, err
		}
		var bw, bh uint64
		var berr error
		switch typ {
		case "jp2h":
			bw, bh, berr = jp2Header(body)
		case "jp2c": // OpenJPEG decodes the first codestream only
			bw, bh, berr = j2kSize(body)
			codestream = true
		}
		if berr != nil {
			return imageHead{}, berr
		}
		w, h = max(w, bw), max(h, bh)
		if err != nil {
			break // the box was cut short, but its start was enough
		}
		rest = next
	}
	if w == 0 && h == 0 {
		return imageHead{}, errors.New("no ihdr box nor codestream")
	}
	return newHead(w, h, 1)
}

// jp2Header reads the ihdr box in jp2h, which declares the height first.
func jp2Header(jp2h []byte) (w, h uint64, err error) {
	ihdr, err := findBox(jp2h, "ihdr")
	if err != nil {
		return 0, 0, err
	}
	if ihdr == nil {
		return 0, 0, errors.New("ihdr missing")
	}
	f := beFields(ihdr, `box "ihdr"`)
	h, w = f.u32(), f.u32()
	return w, h, f.err
}

// j2kSize reads the SIZ marker, which must follow the codestream's SOC marker:
// the size is the reference grid less its offset.
func j2kSize(cs []byte) (w, h uint64, err error) {
	f := beFields(cs, "the SIZ marker")
	soc, siz := f.u16(), f.u16()
	if f.err == nil && (soc != 0xFF4F || siz != 0xFF51) {
		return 0, 0, errors.New("the codestream does not start with SOC and SIZ markers")
	}
	f.take(4) // Lsiz, Rsiz
	x1, y1, x0, y0 := f.u32(), f.u32(), f.u32(), f.u32()
	if f.err != nil {
		return 0, 0, f.err
	}
	if x0 >= x1 || y0 >= y1 {
		return 0, 0, fmt.Errorf("the SIZ marker declares an image offset beyond its grid (%d,%d to %d,%d)", x0, y0, x1, y1)
	}
	return x1 - x0, y1 - y0, nil
}

// --- JPEG XL

const jxlSignatureBox = "\x00\x00\x00\x0CJXL \x0D\x0A\x87\x0A"

// jxlHead reads the SizeHeader at the start of the codestream, naked or in
// its container. Frames is 1: the frames of an animation are only known by
// parsing every frame header, and libvips 8.14 loads the first frame only.
func jxlHead(b []byte) (imageHead, error) {
	cs := b
	if bytes.HasPrefix(b, []byte(jxlSignatureBox)) {
		var err error
		if cs, err = jxlCodestream(b); err != nil {
			return imageHead{}, err
		}
	}
	if len(cs) < 2 || cs[0] != 0xFF || cs[1] != 0x0A {
		return imageHead{}, errors.New("no JPEG XL codestream signature")
	}
	r := bitReader{b: cs[2:]}
	w, h := r.jxlSize()
	if r.short {
		return imageHead{}, cutShort("the size header")
	}
	return newHead(w, h, 1)
}

// jxlCodestream returns the start of the codestream of a JPEG XL container:
// the jxlc box, or the first bytes of the jxlp boxes that split it.
func jxlCodestream(b []byte) ([]byte, error) {
	var cs []byte
	for rest := b; len(rest) > 0 && len(cs) < 32; {
		typ, body, next, err := nextBox(rest)
		switch {
		case body == nil:
			return nil, err
		case typ == "jxlc":
			return body, nil
		case typ == "jxlp" && len(body) >= 4: // after a 4-byte part number
			cs = append(cs, body[4:min(len(body), 36)]...)
		}
		if err != nil {
			break
		}
		rest = next
	}
	if len(cs) == 0 {
		return nil, errors.New("no codestream box (jxlc or jxlp)")
	}
	return cs, nil
}

// bitReader reads the bit-packed fields of a JPEG XL header, least
// significant bit first. Reading past the end yields zeros and sets short.
type bitReader struct {
	b     []byte
	pos   uint64
	short bool
}

func (r *bitReader) bits(n int) uint64 {
	var v uint64
	for i := range n {
		if r.pos>>3 >= uint64(len(r.b)) {
			r.short = true
			return 0
		}
		v |= uint64(r.b[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v
}

// jxlDimension reads a side of a SizeHeader that is not a multiple of 8:
// U32(1 + u(9), 1 + u(13), 1 + u(18), 1 + u(30)).
func (r *bitReader) jxlDimension() uint64 {
	return 1 + r.bits([]int{9, 13, 18, 30}[r.bits(2)])
}

// jxlRatios are the aspect ratios a SizeHeader can give the width by, as
// numerator and denominator over the height.
var jxlRatios = [8][2]uint64{1: {1, 1}, 2: {12, 10}, 3: {4, 3}, 4: {3, 2}, 5: {16, 9}, 6: {5, 4}, 7: {2, 1}}

// jxlSize reads a SizeHeader (ISO/IEC 18181-1, D.2).
func (r *bitReader) jxlSize() (w, h uint64) {
	small := r.bits(1) == 1 // both sides are multiples of 8, up to 256
	if small {
		h = 8 * (r.bits(5) + 1)
	} else {
		h = r.jxlDimension()
	}
	ratio := r.bits(3)
	switch {
	case ratio != 0:
		w = h * jxlRatios[ratio][0] / jxlRatios[ratio][1]
	case small:
		w = 8 * (r.bits(5) + 1)
	default:
		w = r.jxlDimension()
	}
	return w, h
}
