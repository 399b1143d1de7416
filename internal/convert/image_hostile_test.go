package convert

// Hostile images: bombs made by patching the header of real small files, so
// that both the Go header readers (imagehead.go) and the decoders behind
// libvips see a file that is valid but for the size it declares.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// imageFixture reads a file of testdata/images.
func imageFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	return mustReadFile(tb, filepath.Join("testdata/images", name))
}

// patched returns a copy of b with fn applied, failing tb where fn cannot
// find what it patches.
func patched(tb testing.TB, b []byte, fn func([]byte) error) []byte {
	tb.Helper()
	b = bytes.Clone(b)
	if err := fn(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// withPNGSize sets the size in IHDR and its checksum.
func withPNGSize(w, h uint32) func([]byte) error {
	return func(b []byte) error {
		if len(b) < 33 || string(b[12:16]) != "IHDR" {
			return fmt.Errorf("no IHDR at the start of the PNG")
		}
		binary.BigEndian.PutUint32(b[16:], w)
		binary.BigEndian.PutUint32(b[20:], h)
		binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
		return nil
	}
}

// withJPEGSize sets the size in the first frame header.
func withJPEGSize(w, h uint32) func([]byte) error {
	return func(b []byte) error {
		for i := 2; i+9 < len(b); {
			if b[i] != 0xFF {
				return fmt.Errorf("no marker at offset %d of the JPEG", i)
			}
			if isJPEGFrame(b[i+1]) {
				binary.BigEndian.PutUint16(b[i+5:], uint16(h))
				binary.BigEndian.PutUint16(b[i+7:], uint16(w))
				return nil
			}
			i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
		}
		return fmt.Errorf("no frame header in the JPEG")
	}
}

// withWEBPSize sets the size of a simple lossy WEBP (VP8 chunk first) or the
// canvas of an extended one (VP8X).
func withWEBPSize(w, h uint32) func([]byte) error {
	return func(b []byte) error {
		switch string(b[12:16]) {
		case "VP8 ": // 14 bits of each side after the frame tag and start code
			binary.LittleEndian.PutUint16(b[26:], uint16(w))
			binary.LittleEndian.PutUint16(b[28:], uint16(h))
		case "VP8X": // 24 bits of each side less one
			put24 := func(at int, v uint32) { b[at], b[at+1], b[at+2] = byte(v), byte(v>>8), byte(v>>16) }
			put24(24, w-1)
			put24(27, h-1)
		default:
			return fmt.Errorf("WEBP chunk %q: neither VP8 nor VP8X", b[12:16])
		}
		return nil
	}
}

// withGIFScreen sets the logical screen of a GIF.
func withGIFScreen(w, h uint32) func([]byte) error {
	return putLE(6, uint16(w), uint16(h))
}

// withTIFFSize sets ImageWidth and ImageLength of the first IFD of a classic
// TIFF, as LONG values.
func withTIFFSize(w, h uint32) func([]byte) error {
	return func(b []byte) error {
		var order binary.ByteOrder = binary.LittleEndian
		if string(b[:2]) == "MM" {
			order = binary.BigEndian
		}
		ifd := int(order.Uint32(b[4:]))
		found := 0
		for i := range int(order.Uint16(b[ifd:])) {
			e := b[ifd+2+12*i:]
			v := map[uint16]uint32{256: w, 257: h}
			if val, ok := v[order.Uint16(e)]; ok {
				order.PutUint16(e[2:], 4)
				order.PutUint32(e[4:], 1)
				order.PutUint32(e[8:], val)
				found++
			}
		}
		if found != 2 {
			return fmt.Errorf("the first IFD has %d size tags", found)
		}
		return nil
	}
}

// withISPE sets the first ispe property of a HEIF or AVIF file: in the
// fixtures, that of the coded image.
func withISPE(w, h uint32) func([]byte) error {
	return func(b []byte) error {
		i := bytes.Index(b, []byte("ispe"))
		if i < 0 {
			return fmt.Errorf("no ispe box")
		}
		return putBE32(i+8, w, h)(b)
	}
}

// withJP2Size sets the size in the ihdr box and in the codestream's SIZ
// marker, with one tile: OpenJPEG allocates a structure per tile when it reads
// the header, and the tiles of the real file would number in millions.
func withJP2Size(w, h uint32) func([]byte) error {
	return func(b []byte) error {
		ihdr := bytes.Index(b, []byte("ihdr"))
		siz := bytes.Index(b, []byte{0xFF, 0x4F, 0xFF, 0x51})
		if ihdr < 0 || siz < 0 {
			return fmt.Errorf("no ihdr box or SIZ marker in the JPEG 2000 file")
		}
		binary.BigEndian.PutUint32(b[ihdr+4:], h)
		binary.BigEndian.PutUint32(b[ihdr+8:], w)
		f := b[siz+8:] // Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz
		for i, v := range []uint32{w, h, 0, 0, w, h, 0, 0} {
			binary.BigEndian.PutUint32(f[4*i:], v)
		}
		return nil
	}
}

// jxlWithSize rewrites the SizeHeader of a bare JPEG XL codestream. The
// header is bit-packed and what follows it is aligned to bytes further on, so
// the new header takes as many bits as the old one, modulo 8, for the rest
// to move by whole bytes.
func jxlWithSize(tb testing.TB, b []byte, w, h uint32) []byte {
	tb.Helper()
	if !bytes.HasPrefix(b, []byte{0xFF, 0x0A}) {
		tb.Fatal("not a bare JPEG XL codestream")
	}
	r := bitReader{b: b[2:]}
	r.jxlSize()
	rest := r.pos
	widths := []uint{9, 13, 18, 30} // U32 selectors of a side that is not small
	for sh, hw := range widths {
		for sw, ww := range widths {
			if uint64(h-1)>>hw != 0 || uint64(w-1)>>ww != 0 || (1+2+hw+3+2+ww)%8 != uint(rest%8) {
				continue
			}
			var bw testBitWriter
			bw.write(0, 1) // not small
			bw.write(uint64(sh), 2)
			bw.write(uint64(h-1), hw)
			bw.write(0, 3) // no ratio: the width follows
			bw.write(uint64(sw), 2)
			bw.write(uint64(w-1), ww)
			for r.pos = rest; r.pos < 8*uint64(len(r.b)); {
				bw.write(r.bits(1), 1)
			}
			return cat([]byte{0xFF, 0x0A}, bw.b)
		}
	}
	tb.Fatalf("no SizeHeader for %d×%d takes %d bits modulo 8", w, h, rest%8)
	return nil
}

// pnmWithSize replaces the size line "old" of a PNM header by size.
func pnmWithSize(tb testing.TB, b []byte, old, size string) []byte {
	tb.Helper()
	line := []byte("\n" + old + "\n")
	if !bytes.Contains(b, line) {
		tb.Fatalf("no size line %q in the PNM", old)
	}
	return bytes.Replace(b, line, []byte("\n"+size+"\n"), 1)
}

// putLE writes little-endian values of the given widths at off.
func putLE(off int, values ...any) func([]byte) error {
	return func(b []byte) error {
		for _, v := range values {
			switch v := v.(type) {
			case uint16:
				binary.LittleEndian.PutUint16(b[off:], v)
				off += 2
			case uint32:
				binary.LittleEndian.PutUint32(b[off:], v)
				off += 4
			case byte:
				b[off] = v
				off++
			}
		}
		return nil
	}
}

// putBE32 writes big-endian 32-bit values at off.
func putBE32(off int, values ...uint32) func([]byte) error {
	return func(b []byte) error {
		for i, v := range values {
			binary.BigEndian.PutUint32(b[off+4*i:], v)
		}
		return nil
	}
}

// hostileBomb is a file that declares an image over the default limits.
type hostileBomb struct {
	name string
	in   []byte
	// want is in the refusal message: the numbers the file declares.
	want string
}

// sizeBomb builds a real file declaring any size: at its own size (w0×h0)
// it converts, at w×h it is over the default limit of 64 megapixels.
type sizeBomb struct {
	name   string
	build  func(tb testing.TB, w, h uint32) []byte
	w0, h0 uint32
	w, h   uint32
}

// want is the refusal message of the bomb.
func (b sizeBomb) want() string {
	return fmt.Sprintf("image is %d×%d (%d pixels), over the limit of 64000000 pixels (max-pixels)", b.w, b.h, uint64(b.w)*uint64(b.h))
}

// patchFixture builds from a file of testdata/images by patch.
func patchFixture(name string, patch func(w, h uint32) func([]byte) error) func(testing.TB, uint32, uint32) []byte {
	return func(tb testing.TB, w, h uint32) []byte {
		return patched(tb, imageFixture(tb, name), patch(w, h))
	}
}

// patchEncoded builds from a 64×48 photo encoded by libvips in format f.
func patchEncoded(f testfiles.Format, patch func(w, h uint32) func([]byte) error) func(testing.TB, uint32, uint32) []byte {
	return func(tb testing.TB, w, h uint32) []byte {
		return patched(tb, mustEncode(tb, testfiles.Photo(64, 48), f), patch(w, h))
	}
}

func svgOfSize(_ testing.TB, w, h uint32) []byte {
	return fmt.Appendf(nil, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d"><rect width="10" height="10" fill="red"/></svg>`, w, h)
}

// sizeBombs covers every image kind: each declares too many pixels in the
// header its decoder reads.
var sizeBombs = []sizeBomb{
	{"AVIF", patchFixture("photo.avif", withISPE), 29, 44, 17000, 17000},
	// x265 coded 64×64 and a clap property crops to 29×44.
	{"HEIC", patchFixture("photo.heic", withISPE), 64, 64, 17000, 17000},
	{"GIF", patchFixture("anim.gif", withGIFScreen), 85, 77, 65535, 65535},
	{"TIFF", patchFixture("cogs-pages.tif", withTIFFSize), 85, 77, 100000, 100000},
	{"SVG", svgOfSize, 30, 20, 100000, 100000},
	{"PNG", patchEncoded(testfiles.PNG, withPNGSize), 64, 48, 100000, 100000},
	{"JPEG", patchEncoded(testfiles.JPEG, withJPEGSize), 64, 48, 65535, 65535},
	{"WEBP", patchEncoded(testfiles.WEBP, withWEBPSize), 64, 48, 16383, 16383},
	{"animated WEBP", patchFixture("anim.webp", withWEBPSize), 85, 77, 16383, 16383},
	// 8192² is just over the limit: a side of 16000 would need a SizeHeader
	// whose length differs from the fixture's by bits, not bytes.
	{"JPEG XL", func(tb testing.TB, w, h uint32) []byte { return jxlWithSize(tb, imageFixture(tb, "photo.jxl"), w, h) }, 29, 44, 8192, 8192},
	{"JPEG 2000", patchFixture("photo.jp2", withJP2Size), 29, 44, 20000, 20000},
	{"PSD", patchFixture("photo.psd", func(w, h uint32) func([]byte) error { return putBE32(14, h, w) }), 29, 44, 30000, 30000},
	{"BMP", patchFixture("photo.bmp", func(w, h uint32) func([]byte) error { return putLE(18, w, h) }), 29, 44, 100000, 100000},
	{"TGA", patchFixture("photo.tga", func(w, h uint32) func([]byte) error { return putLE(12, uint16(w), uint16(h)) }), 29, 44, 65535, 65535},
	{"PNM", func(tb testing.TB, w, h uint32) []byte {
		return pnmWithSize(tb, imageFixture(tb, "photo.ppm"), "29 44", fmt.Sprintf("%d %d", w, h))
	}, 29, 44, 100000, 100000},
	// The directory entry says 256×256 (0) and the bitmap is w wide and 2h
	// high: colour and transparency masks, stacked.
	{"ICO of a bitmap", patchFixture("icon.ico", func(w, h uint32) func([]byte) error {
		return func(b []byte) error {
			if w > 255 {
				b[6], b[7] = 0, 0
			}
			return putLE(22+4, w, 2*h)(b)
		}
	}), 32, 32, 100000, 100000},
	{"ICO of a PNG", func(tb testing.TB, w, h uint32) []byte {
		return icoBytes(1, []byte{0, 0}, patchEncoded(testfiles.PNG, withPNGSize)(tb, w, h))
	}, 64, 48, 100000, 100000},
}

// hostileConfigs are the two ways an image is converted: by default, the
// decoders and encoders that are not hardened run in a reader process
// (needsReader); PDFInProcess runs everything in this process.
var hostileConfigs = []struct {
	name string
	cfg  Config
}{
	{"readers", Config{}},
	{"in process", Config{PDFInProcess: true}},
}

func mustConverter(tb testing.TB, cfg Config) *Converter {
	tb.Helper()
	c, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// frameBombs declare more frames or pages than the default max-frames.
func frameBombs(tb testing.TB) []hostileBomb {
	colours := make([]color.NRGBA, 1001)
	for i := range colours {
		colours[i] = color.NRGBA{uint8(i), uint8(i >> 8), 0, 255}
	}
	anim, err := testfiles.AnimatedWEBP(1, 1, colours...)
	if err != nil {
		tb.Fatal(err)
	}
	return []hostileBomb{
		{"GIF of 10 000 frames", gifBytes(1, 1, 10000, 0, 0, 1, 1), "the GIF has 10000 frames or pages, over the limit of 1000 (max-frames)"},
		{"WEBP of 1001 frames", anim, "the WEBP has 1001 frames or pages, over the limit of 1000 (max-frames)"},
		{"TIFF of 2000 pages", tiffBytes(binary.LittleEndian, -1, repeatIFD(2000, tiffSize(3, 1, 1))...), "the TIFF has 2000 frames or pages, over the limit of 1000 (max-frames)"},
		{"AVIF sequence of 5000 frames", avisBytes(5000), "the AVIF has 5000 frames or pages, over the limit of 1000 (max-frames)"},
	}
}

// peakDuring runs fn and returns the peak RSS of this process during fn, how
// much it grew over the RSS before, and the peak RSS of the reader process
// that ran the job, 0 if none did. Memory is released first (idle readers
// stopped included), so that the peak is this job's rather than what earlier
// tests left, and a reader fn uses is new: its peak is this job's, its start
// included.
func peakDuring(t *testing.T, fn func()) (peak, grew, reader int64) {
	t.Helper()
	ReleaseMemory()
	resetPeakRSS(t)
	before := peakRSS(t)
	fn()
	peak = peakRSS(t)
	readers.mu.Lock()
	defer readers.mu.Unlock()
	for _, r := range readers.idle {
		reader = max(reader, processPeakRSS(fmt.Sprint(r.cmd.Process.Pid)))
	}
	return peak, peak - before, reader
}

// Memory bounds of the hostile image tests: the peak RSS of this process (a
// worker) and of a reader process, which starts the Go runtime and libvips
// (about 100 MiB under the race detector), and what the worker may grow by
// while it refuses a file.
const (
	maxHostileRSS    = 300 << 20
	maxHostileGrowth = 64 << 20
)

func checkPeaks(t *testing.T, peak, grew, reader int64) {
	t.Helper()
	t.Logf("peak RSS: this process %d MiB (grew by %d MiB), reader %d MiB", peak>>20, grew>>20, reader>>20)
	if peak > maxHostileRSS || reader > maxHostileRSS {
		t.Errorf("peak RSS over %d MiB", maxHostileRSS>>20)
	}
	if grew > maxHostileGrowth {
		t.Errorf("peak RSS grew by %d MiB, want at most %d MiB", grew>>20, maxHostileGrowth>>20)
	}
}

// TestHostileImageBombs: a file of a few kilobytes declaring billions of
// pixels or thousands of frames is refused, with the numbers it declares,
// before any decoder allocates for them, in this process or in a reader.
// SVG has no Go header reader: the reader (or this process) reads its size
// with librsvg, which does not allocate the raster for it.
func TestHostileImageBombs(t *testing.T) {
	inFreshProcess(t)
	bombs := frameBombs(t)
	for _, b := range sizeBombs {
		bombs = append(bombs, hostileBomb{fmt.Sprintf("%s %d×%d", b.name, b.w, b.h), b.build(t, b.w, b.h), b.want()})
	}
	for _, hc := range hostileConfigs {
		c := mustConverter(t, hc.cfg)
		for _, b := range bombs {
			t.Run(hc.name+"/"+b.name, func(t *testing.T) {
				start := time.Now()
				peak, grew, reader := peakDuring(t, func() {
					_, err := c.Convert(context.Background(), "png", b.in, wire.Options{})
					wantError(t, err, fail.LimitExceeded, b.want)
				})
				// Generous for a loaded machine: the refusals take milliseconds.
				if elapsed := time.Since(start); elapsed > 10*time.Second {
					t.Errorf("refusing took %v", elapsed)
				}
				checkPeaks(t, peak, grew, reader)
			})
		}
	}
}

// TestHostileImageBombControls: each bomb's builder, given the size of the
// file it patches, makes a file that converts, so a bomb is refused for its
// size and not for damage.
func TestHostileImageBombControls(t *testing.T) {
	c := converter(t)
	for _, b := range sizeBombs {
		t.Run(b.name, func(t *testing.T) {
			if _, err := c.Convert(context.Background(), "png", b.build(t, b.w0, b.h0), wire.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHostileImageBombsInLibvips: libvips, reading each bomb's header itself,
// refuses it too (an error, or a size over the limit), so that a file the Go
// header reader failed to parse would still not be decoded. Two decoders read
// a smaller size than the Go reader and so decode what they say, not the
// bomb: libnsgif takes a GIF screen over 2048 pixels for a broken one and
// sizes its canvas from the frames, and ImageMagick sizes an icon from its
// directory entry (at most 256×256), not from its bitmap's header.
func TestHostileImageBombsInLibvips(t *testing.T) {
	c := converter(t)
	smaller := map[string][2]int{"GIF": {85, 77}, "ICO of a bitmap": {256, 256}}
	for _, b := range sizeBombs {
		t.Run(b.name, func(t *testing.T) {
			in := b.build(t, b.w, b.h)
			img, err := libvips.Load(in, "")
			if err != nil {
				t.Logf("libvips refuses it: %v", vipsError(err))
				return
			}
			defer img.Close()
			w, h := img.Width(), img.PageHeight()
			if want, ok := smaller[b.name]; ok {
				if w != want[0] || h != want[1] {
					t.Errorf("libvips reads %d×%d, want %d×%d", w, h, want[0], want[1])
				}
				return
			}
			err = c.checkImageSize(Detect(in), w, h, max(img.Pages(), 1), false)
			wantError(t, err, fail.LimitExceeded, b.want())
		})
	}
}

// TestHostileImageFramesTogether: 1000 frames of 2000×2000 are each within
// max-pixels and max-frames, but 4 gigapixels together: an animated target
// refuses them, a still target converts the first frame, and page=N makes
// the animated target a still. The frames are 1×1 pixel on a 2000×2000
// screen, which libnsgif composes into 2000×2000 frames.
func TestHostileImageFramesTogether(t *testing.T) {
	inFreshProcess(t)
	c := converter(t)
	in := gifBytes(2000, 2000, 1000, 0, 0, 1, 1)
	const want = "the GIF has 1000 frames of 2000×2000, 4000000000 pixels in all, over the limit of 256000000 pixels for all frames together (4 × max-pixels); choose one frame with page=N"
	for _, target := range []string{"webp", "gif"} {
		t.Run(target, func(t *testing.T) {
			peak, grew, reader := peakDuring(t, func() {
				_, err := c.Convert(context.Background(), target, in, wire.Options{})
				wantError(t, err, fail.LimitExceeded, want)
			})
			checkPeaks(t, peak, grew, reader)
		})
	}
	for _, tt := range []struct {
		target string
		page   int
		kind   Kind
		warn   string
	}{
		{"png", 0, KindPNG, "the GIF has 1000 frames; the PNG holds the first (choose another with page=N)"},
		{"webp", 3, KindWEBP, ""},
	} {
		t.Run(fmt.Sprintf("%s page %d", tt.target, tt.page), func(t *testing.T) {
			res, err := c.Convert(context.Background(), tt.target, in, wire.Options{Page: tt.page})
			if err != nil {
				t.Fatal(err)
			}
			if head, err := readImageHead(tt.kind, res.Output); err != nil || head != (imageHead{2000, 2000, 1}) {
				t.Errorf("output is %+v (%v), want one 2000×2000 frame", head, err)
			}
			if tt.warn != "" && !slices.Contains(res.Warnings, tt.warn) {
				t.Errorf("warnings %q, want %q", res.Warnings, tt.warn)
			}
		})
	}
}

// redPNG is a 20×20 PNG of pure red, what an SVG would show of a reference
// that was followed.
func redPNG(tb testing.TB) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.NRGBA{255, 0, 0, 255}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Files an SVG may refer to, each of which paints the picture red.
const (
	redSVG      = `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect id="r" width="20" height="20" fill="red"/><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></svg>`
	redCSS      = `rect { fill: red }`
	redFragment = `<rect xmlns="http://www.w3.org/2000/svg" width="20" height="20" fill="red"/>`
)

// svgReferences are SVGs that refer to another file in every way librsvg
// knows, or libxml2 does for it, written with {} for the base of the URL.
// Each makes a 20×20 picture red if the reference is followed.
var svgReferences = map[string]string{
	"image":              `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><image href="{}/red.png" width="20" height="20"/></svg>`,
	"image xlink":        `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="20" height="20"><image xlink:href="{}/red.png" width="20" height="20"/></svg>`,
	"use":                `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><use href="{}/red.svg#r"/></svg>`,
	"paint server":       `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20" fill="url({}/red.svg#g)"/></svg>`,
	"feImage":            `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><filter id="f" x="0" y="0" width="1" height="1"><feImage href="{}/red.png" width="20" height="20"/></filter><rect width="20" height="20" filter="url(#f)"/></svg>`,
	"CSS import":         `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><style>@import url("{}/red.css");</style><rect width="20" height="20" fill="white"/></svg>`,
	"xml-stylesheet":     `<?xml-stylesheet type="text/css" href="{}/red.css"?><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><rect width="20" height="20" fill="white"/></svg>`,
	"XInclude":           `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" width="20" height="20"><xi:include href="{}/red.svg" parse="xml"/></svg>`,
	"XInclude text":      `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" width="20" height="20"><text y="10"><xi:include href="{}/passwd" parse="text"/></text></svg>`,
	"external entity":    `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY ext SYSTEM "{}/fragment.xml">]><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">&ext;</svg>`,
	"external DTD":       `<?xml version="1.0"?><!DOCTYPE svg SYSTEM "{}/svg.dtd"><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"/>`,
	"parameter entity":   `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY % ext SYSTEM "{}/svg.dtd"> %ext;]><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"/>`,
	"relative reference": `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><image href="red.png" width="20" height="20"/></svg>`,
}

// svgReferenceFiles are the files svgReferences refer to.
func svgReferenceFiles(tb testing.TB) map[string][]byte {
	return map[string][]byte{
		"/red.png": redPNG(tb), "/red.svg": []byte(redSVG), "/red.css": []byte(redCSS),
		"/fragment.xml": []byte(redFragment), "/passwd": []byte("root:x:0:0"), "/svg.dtd": []byte(`<!ENTITY x "y">`),
	}
}

// TestHostileSVGExternalReferences: librsvg reads no file and makes no
// request for an SVG, whatever the reference: libvips gives it the SVG's
// bytes without a base URL, and librsvg 2.54 then resolves nothing but data:
// URLs; libxml2 is not asked to load DTDs or external entities, and
// XML_PARSE_NONET forbids the network in any case. The references point to a
// directory of red files and to an HTTP server that counts its requests; a
// conversion may fail or show the picture without the reference, but never
// red, and the server must hear nothing. A data: URL, which SVG embeds, shows
// that the test sees a reference followed.
func TestHostileSVGExternalReferences(t *testing.T) {
	files := svgReferenceFiles(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		t.Errorf("librsvg requested %s", r.URL)
		w.Write(files[r.URL.Path])
	}))
	defer srv.Close()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(dir+name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, hc := range hostileConfigs {
		c := mustConverter(t, hc.cfg)
		for name, svg := range svgReferences {
			for _, base := range []string{"file://" + dir, srv.URL} {
				in := strings.ReplaceAll(svg, "{}", base)
				t.Run(fmt.Sprintf("%s/%s/%s", hc.name, name, strings.SplitN(base, ":", 2)[0]), func(t *testing.T) {
					wantNoReference(t, c, []byte(in))
				})
			}
		}
		t.Run(hc.name+"/data URL", func(t *testing.T) {
			in := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><image href="data:image/png;base64,%s" width="20" height="20"/></svg>`,
				base64.StdEncoding.EncodeToString(files["/red.png"]))
			res, err := c.Convert(context.Background(), "png", []byte(in), wire.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !isRed(decode(t, KindPNG, res.Output).At(10, 10)) {
				t.Error("the data: URL image is not shown: the test cannot see a reference followed")
			}
		})
	}
	if n := requests.Load(); n > 0 {
		t.Errorf("the HTTP server got %d requests", n)
	}
}

// wantNoReference converts an SVG referring to red files and wants an image
// that is not red, or a client error.
func wantNoReference(t *testing.T, c *Converter, in []byte) {
	t.Helper()
	res, err := c.Convert(context.Background(), "png", in, wire.Options{})
	if err != nil {
		ce := wantError(t, err, fail.ConversionFailed, "SVG")
		t.Logf("refused: %s", ce.Message)
		return
	}
	if isRed(decode(t, KindPNG, res.Output).At(10, 10)) {
		t.Errorf("the reference was followed: the picture is red")
	}
}

func isRed(c color.Color) bool {
	r, g, b, a := c.RGBA()
	return r > 0xC000 && g < 0x4000 && b < 0x4000 && a > 0xC000
}

// billionLaughs is an SVG of entities nested ten deep, ten references each:
// 3 GB of text once expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY lol0 "lol">`)
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, `<!ENTITY lol%d "%s">`, i, strings.Repeat(fmt.Sprintf("&lol%d;", i-1), 10))
	}
	b.WriteString(`]><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><text y="10">&lol9;</text></svg>`)
	return b.String()
}

// quadraticBlowup is an SVG of one 4 KB entity referred to 100 000 times:
// 400 MB of text once expanded, from a file of 400 KB. The entity is small
// enough for the DOCTYPE to be within what Detect reads.
func quadraticBlowup() string {
	return `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "` + strings.Repeat("a", 4<<10) + `">]>` +
		`<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><text y="10">` + strings.Repeat("&a;", 100000) + `</text></svg>`
}

// TestHostileSVGEntities: libxml2 stops the billion laughs itself ("entity
// reference loop"), but not one large entity named many times, which librsvg
// expands and lays out: 400 MB of text from 400 KB took 15 GB and 4 minutes
// in process, and a reader to its memory limit. checkSVG refuses both
// before librsvg parses them, in the worker and again in the reader.
func TestHostileSVGEntities(t *testing.T) {
	inFreshProcess(t)
	const want = "the SVG's entities (<!ENTITY> in its DOCTYPE) expand to more than 1048576 bytes of text, over the limit of the file's size (at least 1 MiB)"
	bombs := map[string][]byte{
		"billion laughs":        []byte(billionLaughs()),
		"quadratic blowup":      []byte(quadraticBlowup()),
		"quadratic blowup SVGZ": gzipped(t, []byte(quadraticBlowup())),
	}
	for name, in := range bombs {
		// Unguarded, a bomb takes gigabytes of this process: make sure first.
		if err := checkSVG(Detect(in), in); err == nil {
			t.Fatalf("%s: checkSVG lets it through", name)
		}
	}
	for _, hc := range hostileConfigs {
		c := mustConverter(t, hc.cfg)
		for name, in := range bombs {
			t.Run(hc.name+"/"+name, func(t *testing.T) {
				peak, grew, reader := peakDuring(t, func() {
					_, err := c.Convert(context.Background(), "png", in, wire.Options{})
					wantError(t, err, fail.LimitExceeded, want)
				})
				checkPeaks(t, peak, grew, reader)
			})
		}
	}
}

// gzipBomb is a gzip stream that inflates to prefix and n spaces: one
// compressed chunk repeated, as deflate allows. Its trailer is zeros: what
// stops at a limit does not read that far.
func gzipBomb(prefix string, n int64) []byte {
	chunk := deflateFlushed(bytes.Repeat([]byte(" "), 256<<10))
	out := append([]byte{0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF}, deflateFlushed([]byte(prefix))...)
	for range n / (256 << 10) {
		out = append(out, chunk...)
	}
	return append(out, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0)
}

// TestHostileSVGZ: librsvg 2.54 inflates an SVGZ through GLib, which spins
// for ever on any byte after the gzip stream, a second gzip member included
// (measured: a 130-byte file kept vipsheader at 100 % CPU until killed).
// checkSVG inflates it first, to its end: damage and anything after the end
// are refused, and so is an SVGZ inflating past 256 MiB.
func TestHostileSVGZ(t *testing.T) {
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="12" height="8"><rect width="3" height="4" fill="red"/></svg>`)
	z := gzipped(t, svg)
	for _, hc := range hostileConfigs {
		c := mustConverter(t, hc.cfg)
		t.Run(hc.name+"/whole", func(t *testing.T) {
			if _, err := c.Convert(context.Background(), "png", z, wire.Options{}); err != nil {
				t.Fatal(err)
			}
		})
		for _, tt := range []struct {
			name string
			in   []byte
			code fail.Code
			want string
		}{
			{"garbage after", append(bytes.Clone(z), "garbage"...), fail.ConversionFailed, "corrupt SVG image: 7 bytes follow the end of its gzip compression"},
			{"two members", append(gzipped(t, svg[:30]), gzipped(t, svg[30:])...), fail.ConversionFailed, "bytes follow the end of its gzip compression"},
			{"cut", z[:len(z)-4], fail.ConversionFailed, "corrupt SVG image: the file is truncated or damaged"},
			{"bad checksum", append(bytes.Clone(z[:len(z)-8]), 0, 0, 0, 0, 0, 0, 0, 0), fail.ConversionFailed, "corrupt SVG image: its gzip compression is damaged (gzip: invalid checksum)"},
			{"bomb", gzipBomb(string(svg[:len(svg)-6]), 300<<20), fail.LimitExceeded, "the SVGZ inflates to more than 256 MiB, over the limit"},
		} {
			t.Run(hc.name+"/"+tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				_, err := c.Convert(ctx, "png", tt.in, wire.Options{})
				wantError(t, err, tt.code, tt.want)
			})
		}
	}
}

// TestSVGEntitiesAllowed: the entities real SVGs declare convert.
func TestSVGEntitiesAllowed(t *testing.T) {
	c := converter(t)
	illustrator := `<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 24.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
	<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">
	<!ENTITY ns_svg "http://www.w3.org/2000/svg">
	<!ENTITY ns_xlink "http://www.w3.org/1999/xlink">
	<!ENTITY st0 "fill:#FF0000;">
]>
<svg version="1.1" xmlns:x="&ns_extend;" xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;" width="20" height="20">
<rect width="20" height="20" style="&st0;"/>
</svg>`
	// 400 KB of text from a 6 KB file: within the least limit, 1 MiB. In
	// lines of 4000 characters: one line of 400 000 made librsvg ask for
	// 1.2 GB to lay it out, which only the reader's memory limit stops.
	many := `<!DOCTYPE svg [<!ENTITY a "` + strings.Repeat("a", 4000) + `">]><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">` +
		strings.Repeat(`<text y="10">&a;</text>`, 100) + `</svg>`
	for name, in := range map[string][]byte{"Illustrator": []byte(illustrator), "within the limit": []byte(many)} {
		t.Run(name, func(t *testing.T) {
			if got := Detect(in); got != KindSVG {
				t.Fatalf("detected as %s", got)
			}
			res, err := c.Convert(context.Background(), "png", in, wire.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if name == "Illustrator" && !isRed(decode(t, KindPNG, res.Output).At(10, 10)) {
				t.Error("the style given by an entity is lost")
			}
		})
	}
	loop := []byte(`<!DOCTYPE svg [<!ENTITY a "&b;"><!ENTITY b "&a;">]><svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><text>&a;</text></svg>`)
	_, err := c.Convert(context.Background(), "png", loop, wire.Options{})
	wantError(t, err, fail.ConversionFailed, "corrupt SVG image: the entity", "refers to itself")
}

func gzipped(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write(b)
	if err := z.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestHostileSVGSize: an SVG's size comes from its width and height, in any
// unit, or its viewBox, or, with neither, what it draws; libvips renders at
// 72 dpi. Any of them over max-pixels is refused before librsvg renders.
func TestHostileSVGSize(t *testing.T) {
	inFreshProcess(t)
	const rect = `<rect width="10" height="10"/></svg>`
	for _, hc := range hostileConfigs {
		c := mustConverter(t, hc.cfg)
		for _, tt := range []struct{ name, in, want string }{
			{"width and height", `<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000">` + rect, "image is 100000×100000 (10000000000 pixels)"},
			{"viewBox", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100000 100000">` + rect, "image is 100000×100000 (10000000000 pixels)"},
			{"inches", `<svg xmlns="http://www.w3.org/2000/svg" width="1000in" height="1000in">` + rect, "image is 72000×72000 (5184000000 pixels)"},
			{"what it draws", `<svg xmlns="http://www.w3.org/2000/svg"><rect width="100000" height="100000"/></svg>`, "image is 100000×100000 (10000000000 pixels)"},
		} {
			t.Run(hc.name+"/"+tt.name, func(t *testing.T) {
				peak, grew, reader := peakDuring(t, func() {
					_, err := c.Convert(context.Background(), "png", []byte(tt.in), wire.Options{})
					wantError(t, err, fail.LimitExceeded, tt.want, "over the limit of 64000000 pixels (max-pixels)")
				})
				checkPeaks(t, peak, grew, reader)
			})
		}
		// libvips cannot take a side over 10 000 000 pixels: it keeps the
		// 1×1 it started from and renders that.
		t.Run(hc.name+"/beyond libvips", func(t *testing.T) {
			in := `<svg xmlns="http://www.w3.org/2000/svg" width="1e9" height="1e9">` + rect
			res, err := c.Convert(context.Background(), "png", []byte(in), wire.Options{})
			if err != nil {
				wantError(t, err, fail.LimitExceeded)
				return
			}
			if head, err := readImageHead(KindPNG, res.Output); err != nil || head.Width*head.Height > 100 {
				t.Errorf("output is %+v (%v)", head, err)
			}
		})
	}
}

// imageCorpus reads every image of testdata/images and, where it is,
// shared/testdata/images.
func imageCorpus(tb testing.TB) map[string][]byte {
	files := map[string][]byte{}
	for _, dir := range []string{"testdata/images", sharedImages} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			tb.Logf("no images in %s: %v", dir, err)
			continue
		}
		for _, e := range entries {
			b := mustReadFile(tb, filepath.Join(dir, e.Name()))
			if Detect(b).IsImage() {
				files[e.Name()] = b
			}
		}
	}
	return files
}

// damaged is a file cut or flipped: truncated says it was cut.
type damaged struct {
	name      string
	in        []byte
	truncated bool
}

// damagesOf cuts a file after its first bytes, at half and before its last
// 10 bytes, and inverts 16 bytes in its middle.
func damagesOf(good []byte) []damaged {
	flipped := bytes.Clone(good)
	for i := len(good) / 2; i < min(len(good), len(good)/2+16); i++ {
		flipped[i] ^= 0xFF
	}
	return []damaged{
		{"first 64 bytes", good[:min(64, len(good))], true},
		{"half", good[:len(good)/2], true},
		{"all but 10 bytes", good[:len(good)-10], true},
		{"16 bytes inverted", flipped, false},
	}
}

// TestHostileImageDamage: a truncated or corrupt file of any format is an
// error that names the format, or, where its decoder makes up for the damage,
// an image; never a crash, an internal error or a hang. The decoders that run
// in this process must survive (a crash would end the test), in process all
// of them; a reader process may die, which is a clean error too.
func TestHostileImageDamage(t *testing.T) {
	files := imageCorpus(t)
	for _, hc := range hostileConfigs {
		c := mustConverter(t, hc.cfg)
		var recovered []string
		for name, good := range files {
			for _, d := range damagesOf(good) {
				t.Run(hc.name+"/"+name+"/"+d.name, func(t *testing.T) {
					if wantDamageError(t, c, Detect(good), d) {
						recovered = append(recovered, name+" "+d.name)
					}
				})
			}
		}
		slices.Sort(recovered)
		t.Logf("%s, converted despite the damage: %s", hc.name, strings.Join(recovered, ", "))
	}
}

// wantDamageError converts a damaged file of kind and wants a client error
// naming the kind, if the file was cut, or an image; it reports an image.
func wantDamageError(t *testing.T, c *Converter, kind Kind, d damaged) (converted bool) {
	t.Helper()
	// A deadline far past any decode, so that a hang fails the test rather
	// than stalls it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := c.Convert(ctx, "png", d.in, wire.Options{})
	if err == nil {
		decode(t, KindPNG, res.Output)
		return true
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not an *Error: %v", err, err)
	}
	if ce.Code == fail.Internal || ce.Code == fail.Timeout {
		t.Fatalf("code %s: %s", ce.Code, ce.Message)
	}
	if short := kind.Info().Short; d.truncated && Detect(d.in) == kind && !strings.Contains(ce.Message, short) {
		t.Errorf("message %q does not name %s", ce.Message, short)
	}
	t.Logf("%s: %s", ce.Code, ce.Message)
	return false
}

// TestVipsErrorLines: the line of libvips' error buffer that says what is
// wrong with a damaged file, as libraries write it.
func TestVipsErrorLines(t *testing.T) {
	for raw, want := range map[string]string{
		"source: bad seek to 1432\nheif: Invalid input: Unexpected end of file: Extent in iloc box references data outside of file bounds (points to file position 1415)\n (2.100)\n": "heif: Invalid input: Unexpected end of file: Extent in iloc box references data outside of file bounds (points to file position 1415) (2.100)",
		"glib: XML parse error: Error domain 1 code 9 on line 29 column 1628 of data: Input is not proper UTF-8, indicate encoding !\nBytes: 0xC9 0xDF 0xCF 0xD1\n":                   "glib: XML parse error: Error domain 1 code 9 on line 29 column 1628 of data: Input is not proper UTF-8, indicate encoding ! Bytes: 0xC9 0xDF 0xCF 0xD1",
		"magick2vips: libMagick error: unable to read image data `' @ error/tga.c/ReadTGAImage/504\nmagick2vips: unable to read buffer\n":                                             "unable to read image data",
		"magick2vips: unable to read buffer\n":                                         "unable to read buffer",
		"VipsJpeg: Premature end of input file\nvips2png: unable to write to target\n": "Premature end of input file",
	} {
		if got := vipsError(errors.New(raw)).Error(); got != want {
			t.Errorf("vipsError(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestHostileReaderWarnings: a HEIC whose second ispe property disagrees with
// its picture makes libheif fail on every tile, and libvips warn about each
// from its worker threads. In a reader, whose jobs run inside an init
// function, a warning handed to Go used to wait for ever, and the job ended
// only at its deadline; now it fails at once.
func TestHostileReaderWarnings(t *testing.T) {
	in := patched(t, imageFixture(t, "photo.heic"), func(b []byte) error {
		return putBE32(bytes.LastIndex(b, []byte("ispe"))+8, 64, 64)(b)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := converter(t).Convert(ctx, "png", in, wire.Options{})
	wantError(t, err, fail.ConversionFailed, "corrupt HEIC image: ", "bad image dimensions on decode")
}

// TestDetectImageFixtures: every image file of the header tests is detected
// as its kind: a TGA is not a cursor, a BigTIFF is a TIFF.
func TestDetectImageFixtures(t *testing.T) {
	for _, fx := range ownHeadFixtures {
		if got := Detect(imageFixture(t, fx.file)); got != fx.kind {
			t.Errorf("%s detected as %s, want %s", fx.file, got, fx.kind)
		}
	}
	for _, fx := range sharedHeadFixtures {
		b, err := os.ReadFile(filepath.Join(sharedImages, fx.file))
		if err != nil {
			t.Logf("skipped: %v", err)
			continue
		}
		if got := Detect(b); got != fx.kind {
			t.Errorf("%s detected as %s, want %s", fx.file, got, fx.kind)
		}
	}
}

// freshEnv marks a test process started by inFreshProcess.
const freshEnv = "FILECONV_TEST_FRESH_PROCESS"

// inFreshProcess runs the calling test again in a new test process and ends
// it here with that process's verdict, so that its peak memory is measured
// from a worker's start: in a process that has run the other tests (a 12 MP
// photo converted in it, say) the heap it has kept is above the limit before
// the test begins.
func inFreshProcess(t *testing.T) {
	if os.Getenv(freshEnv) != "" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), freshEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a fresh process:\n%s", out)
	if err != nil {
		t.Fatalf("the fresh process failed: %v", err)
	}
	t.SkipNow()
}
