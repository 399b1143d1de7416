package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

var imageOps = []wire.Operation{wire.OpToJPEG, wire.OpToPNG, wire.OpToWEBP}

// TestImageConversions converts photo-like and noise images in every input
// format to every output format, checking that the output is a decodable file
// of the target type with the same dimensions and, for photos, the same look.
func TestImageConversions(t *testing.T) {
	c := converter(t)
	sources := []struct {
		name  string
		img   image.Image
		lossy bool // compare pixels only when the content survives lossy coding
	}{
		{"photo", testfiles.Photo(320, 240), true},
		{"noise", testfiles.Noise(97, 61, 7), false},
		{"grey", testfiles.Gray(120, 80), true},
	}
	for _, src := range sources {
		for _, from := range []testfiles.Format{testfiles.JPEG, testfiles.PNG, testfiles.WEBP} {
			in := mustEncode(t, src.img, from)
			for _, op := range imageOps {
				t.Run(src.name+"/"+from.String()+"/"+op.String(), func(t *testing.T) {
					res := convertOK(t, c, op, in)
					if res.Kind.Info().Short != from.String() {
						t.Errorf("InputType = %v, want %v", res.Kind, from)
					}
					out := decode(t, targetType(op), res.Output)
					if got, want := out.Bounds().Size(), src.img.Bounds().Size(); got != want {
						t.Fatalf("output is %v, want %v", got, want)
					}
					if src.lossy {
						if d := meanDiff(src.img, out); d > 10 {
							t.Errorf("output differs from the input by %.1f levels per channel on average", d)
						}
					}
				})
			}
		}
	}
}

// TestUnusualColour covers inputs that are not 8-bit sRGB: CMYK JPEG, a JPEG in
// Display P3 with its ICC profile, 16-bit PNG. The output must look like the
// original photo, which it only does if the colours were converted to sRGB.
func TestUnusualColour(t *testing.T) {
	c := converter(t)
	photo := testfiles.Photo(160, 120)
	cmyk, err := testfiles.CMYKJPEG(photo)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := testfiles.ProfiledJPEG(photo)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"CMYK JPEG":   cmyk,
		"P3 JPEG":     p3,
		"16-bit PNG":  mustEncode(t, testfiles.Deep(160, 120), testfiles.PNG),
		"RGBA PNG":    mustEncode(t, testfiles.Transparent(160, 120), testfiles.PNG),
		"1-bit PNG":   mustPNGBomb(t, 2100, 1000),
		"solid WEBP":  mustSolidWEBP(t, 40, 30, color.NRGBA{10, 200, 30, 255}),
		"alpha WEBP":  mustSolidWEBP(t, 40, 30, color.NRGBA{10, 200, 30, 100}),
		"photo WEBP":  mustEncode(t, testfiles.Transparent(160, 120), testfiles.WEBP),
		"grey JPEG":   mustEncode(t, testfiles.Gray(160, 120), testfiles.JPEG),
		"noise JPEG":  mustEncode(t, testfiles.Noise(160, 120, 1), testfiles.JPEG),
		"tiny PNG":    mustEncode(t, testfiles.Photo(1, 1), testfiles.PNG),
		"narrow JPEG": mustEncode(t, testfiles.Photo(3000, 2), testfiles.JPEG),
	}
	for name, in := range inputs {
		for _, op := range imageOps {
			t.Run(name+"/"+op.String(), func(t *testing.T) {
				res := convertOK(t, c, op, in)
				out := decode(t, targetType(op), res.Output)
				head, err := readImageHead(Detect(in), in)
				if err != nil {
					t.Fatal(err)
				}
				w, h := head.Width, head.Height
				if got := out.Bounds().Size(); got != image.Pt(w, h) {
					t.Fatalf("output is %v, want %dx%d", got, w, h)
				}
				// Without a colour conversion the difference is 30 to 100 levels;
				// CMYK cannot hold all of the sky's blue, hence its margin.
				if limit := map[string]float64{"CMYK JPEG": 20, "P3 JPEG": 10}[name]; limit > 0 {
					if d := meanDiff(photo, out); d > limit {
						t.Errorf("output differs from the sRGB original by %.1f levels per channel on average", d)
					}
				}
			})
		}
	}
}

// TestFlattenOnWhite: JPEG has no alpha, so transparency becomes white, not the
// black colour values under the transparent pixels; PNG and WEBP keep alpha.
func TestFlattenOnWhite(t *testing.T) {
	c := converter(t)
	src := testfiles.Transparent(200, 100)
	for _, from := range []testfiles.Format{testfiles.PNG, testfiles.WEBP} {
		in := mustEncode(t, src, from)
		t.Run(from.String()+"/to JPEG", func(t *testing.T) {
			out := decode(t, KindJPEG, convertOK(t, c, wire.OpToJPEG, in).Output)
			if r, g, b, _ := rgb8(out, 10, 10); r < 245 || g < 245 || b < 245 {
				t.Errorf("transparent pixel became (%d, %d, %d), want white", r, g, b)
			}
			// A half-transparent pixel is blended with white: lighter than the
			// original, never darker.
			x, y := 190, 90
			r0, g0, b0, _ := rgb8(src, x, y)
			if r, g, b, _ := rgb8(out, x, y); int(r)+int(g)+int(b) < int(r0)+int(g0)+int(b0) {
				t.Errorf("half-transparent pixel (%d, %d, %d) is darker than its colour (%d, %d, %d)", r, g, b, r0, g0, b0)
			}
		})
		for _, op := range []wire.Operation{wire.OpToPNG, wire.OpToWEBP} {
			t.Run(from.String()+"/"+op.String(), func(t *testing.T) {
				out := decode(t, targetType(op), convertOK(t, c, op, in).Output)
				if _, _, _, a := rgb8(out, 10, 10); a > 8 {
					t.Errorf("transparent pixel has alpha %d, want 0", a)
				}
				if _, _, _, a := rgb8(out, 10, 90); a < 240 {
					t.Errorf("opaque pixel has alpha %d, want 255", a)
				}
			})
		}
	}
}

// TestEXIFOrientation: a JPEG stored 300×200 with orientation 6 ("rotate 90°
// clockwise") is 200×300 once displayed; every output is the displayed image,
// and none keeps the EXIF block with its GPS position.
func TestEXIFOrientation(t *testing.T) {
	c := converter(t)
	jpg := mustEncode(t, testfiles.Photo(300, 200), testfiles.JPEG)
	in, err := testfiles.WithEXIF(jpg, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range imageOps {
		t.Run(op.String(), func(t *testing.T) {
			res := convertOK(t, c, op, in)
			out := decode(t, targetType(op), res.Output)
			if got := out.Bounds().Size(); got != image.Pt(200, 300) {
				t.Fatalf("output is %v, want 200x300 (rotated)", got)
			}
			// The red block at the stored top-left is at the top-right once
			// rotated clockwise.
			if r, g, b, _ := rgb8(out, 200-4, 4); r < 180 || g > 80 || b > 80 {
				t.Errorf("top-right pixel is (%d, %d, %d), want the red marker", r, g, b)
			}
			if exifHasGPS(t, res.Output) {
				t.Error("output still holds the GPS position")
			}
			markers := []string{"ICCP", "iCCP", "XMP", "xmp"}
			if op != wire.OpToWEBP {
				// libvips 8.14's WEBP writer always adds an EXIF block rebuilt
				// from the header (orientation 1 and resolution); the others
				// write none.
				markers = append(markers, "Exif\x00\x00", "eXIf")
			}
			for _, marker := range markers {
				if bytes.Contains(res.Output, []byte(marker)) {
					t.Errorf("output still holds %q: metadata not stripped", marker)
				}
			}
		})
	}
}

func TestAnimatedWEBPFirstFrame(t *testing.T) {
	c := converter(t)
	in, err := testfiles.AnimatedWEBP(60, 40, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255})
	if err != nil {
		t.Fatal(err)
	}
	// WEBP to WEBP keeps the animation; a still target holds the first frame
	// and says so.
	if frames, w, h := framesOf(t, convertOK(t, c, wire.OpToWEBP, in).Output); frames != 2 || w != 60 || h != 40 {
		t.Errorf("WEBP to WEBP: %d frames of %dx%d, want 2 of 60x40", frames, w, h)
	}
	for _, op := range []wire.Operation{wire.OpToJPEG, wire.OpToPNG} {
		if res := convertOK(t, c, op, in); len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "has 2 frames") {
			t.Errorf("%v: warnings %q, want one saying the WEBP has 2 frames", op, res.Warnings)
		}
		out := decode(t, targetType(op), convertOK(t, c, op, in).Output)
		if got := out.Bounds().Size(); got != image.Pt(60, 40) {
			t.Fatalf("%v: output is %v, want one 60x40 frame", op, got)
		}
		if r, _, b, _ := rgb8(out, 30, 20); r < 200 || b > 60 {
			t.Errorf("%v: pixel is not the first frame's red", op)
		}
	}
}

// TestPixelLimit proves that decompression bombs are refused from their header:
// a valid 50000×50000 PNG and a 16383×16383 WEBP of a few dozen bytes. Decoding
// either would take seconds and gigabytes; the refusal takes microseconds.
func TestPixelLimit(t *testing.T) {
	c := converter(t)
	pngBomb := mustPNGBomb(t, 50000, 50000)
	webpBomb := mustSolidWEBP(t, 16383, 16383, color.NRGBA{1, 2, 3, 255})
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"PNG bomb", pngBomb, "image is 50000×50000 (2500000000 pixels), over the limit of 64000000 pixels (max-pixels)"},
		{"PNG header only", testfiles.PNGHeader(50000, 50000), "image is 50000×50000 (2500000000 pixels), over the limit of 64000000 pixels (max-pixels)"},
		{"WEBP bomb", webpBomb, "image is 16383×16383 (268402689 pixels), over the limit of 64000000 pixels (max-pixels)"},
		{"largest PNG", testfiles.PNGHeader(1<<31-1, 1<<31-1), "over the limit of 64000000 pixels"},
	}
	for _, tt := range tests {
		for _, op := range imageOps {
			t.Run(tt.name+"/"+op.String(), func(t *testing.T) {
				start := time.Now()
				_, err := convertOp(c, context.Background(), op, tt.in)
				elapsed := time.Since(start)
				wantError(t, err, fail.LimitExceeded, tt.want)
				if elapsed > 500*time.Millisecond {
					t.Errorf("refusing took %v: the pixels were decoded", elapsed)
				}
			})
		}
	}

	// A lower limit applies to ordinary images too, exactly at the boundary.
	small, err := New(Config{MaxPixels: 200 * 100})
	if err != nil {
		t.Fatal(err)
	}
	ok := mustEncode(t, testfiles.Photo(200, 100), testfiles.JPEG)
	convertOK(t, small, wire.OpToPNG, ok)
	over := mustEncode(t, testfiles.Photo(201, 100), testfiles.WEBP)
	_, err = convertOp(small, context.Background(), wire.OpToPNG, over)
	wantError(t, err, fail.LimitExceeded, "image is 201×100 (20100 pixels), over the limit of 20000 pixels (max-pixels)")
}

// TestCorruptImages: damaged files of each type give fail.ConversionFailed with a message
// naming the type, never a crash or a half-grey image.
func TestCorruptImages(t *testing.T) {
	c := converter(t)
	photo := testfiles.Photo(400, 300)
	for _, f := range []testfiles.Format{testfiles.JPEG, testfiles.PNG, testfiles.WEBP} {
		good := mustEncode(t, photo, f)
		magic := good[:4]
		if f == testfiles.WEBP {
			magic = good[:12]
		}
		cases := map[string][]byte{
			"truncated at half":     good[:len(good)/2],
			"truncated at 90%":      good[:len(good)*9/10],
			"only the magic":        magic,
			"magic then garbage":    append(bytes.Clone(magic), bytes.Repeat([]byte("garbage!"), 64)...),
			"header then zeros":     append(bytes.Clone(good[:min(len(good), 200)]), make([]byte, 4096)...),
			"truncated to 40 bytes": good[:40],
		}
		for name, in := range cases {
			for _, op := range imageOps {
				t.Run(f.String()+"/"+name+"/"+op.String(), func(t *testing.T) {
					_, err := convertOp(c, context.Background(), op, in)
					ce := wantError(t, err, fail.ConversionFailed, "corrupt "+f.String()+" image: ")
					if bytes.Contains([]byte(ce.Error()), []byte("goroutine")) {
						t.Errorf("error carries a Go stack: %q", ce.Error())
					}
				})
			}
		}
	}
}

func TestImageCancelled(t *testing.T) {
	c := converter(t)
	in := mustEncode(t, testfiles.Photo(64, 48), testfiles.PNG)
	// Convert looks at ctx once before detection; the image path looks again
	// before loading and before the export. Cancel at each of those.
	for n := 1; n <= 2; n++ {
		_, err := convertOp(c, cancelAfter(n), wire.OpToJPEG, in)
		wantError(t, err, fail.Timeout, "conversion cancelled")
	}
	convertOK(t, c, wire.OpToJPEG, in) // and the converter still works
}

func mustPNGBomb(tb testing.TB, w, h int) []byte {
	tb.Helper()
	b, err := testfiles.PNGBomb(w, h)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustSolidWEBP(tb testing.TB, w, h int, c color.NRGBA) []byte {
	tb.Helper()
	b, err := testfiles.SolidWEBP(w, h, c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// exifHasGPS reports whether an EXIF block in b points to a GPS IFD (tag 0x8825
// in IFD0).
func exifHasGPS(tb testing.TB, b []byte) bool {
	tb.Helper()
	i := bytes.Index(b, []byte("Exif\x00\x00"))
	if i < 0 {
		return false
	}
	tiff := b[i+6:]
	if len(tiff) < 8 {
		tb.Fatalf("EXIF block of %d bytes", len(tiff))
	}
	var order binary.ByteOrder = binary.LittleEndian
	if string(tiff[:2]) == "MM" {
		order = binary.BigEndian
	}
	ifd := int(order.Uint32(tiff[4:8]))
	if ifd+2 > len(tiff) {
		tb.Fatalf("EXIF IFD0 at %d is outside the block", ifd)
	}
	n := int(order.Uint16(tiff[ifd:]))
	for k := 0; k < n && ifd+2+12*k+2 <= len(tiff); k++ {
		if order.Uint16(tiff[ifd+2+12*k:]) == 0x8825 {
			return true
		}
	}
	return false
}

// TestJPEGFlaws: a complete JPEG with flaws that every viewer accepts converts;
// a JPEG cut short does not, even when its cut happens to leave a clean end.
func TestJPEGFlaws(t *testing.T) {
	c := converter(t)
	jpg := mustEncode(t, testfiles.Photo(64, 48), testfiles.JPEG)
	sos := bytes.Index(jpg, []byte{0xFF, 0xDA})
	accepted := map[string][]byte{
		"stray bytes before a marker": append(append(bytes.Clone(jpg[:sos]), 0x00, 0x00), jpg[sos:]...),
		"data after the end":          append(bytes.Clone(jpg), "trailing data"...),
	}
	for name, in := range accepted {
		out := decode(t, KindPNG, convertOK(t, c, wire.OpToPNG, in).Output)
		if out.Bounds().Size() != image.Pt(64, 48) {
			t.Errorf("%s: output is %v", name, out.Bounds().Size())
		}
	}
	refused := map[string][]byte{
		"no end marker":  jpg[:len(jpg)-2],
		"cut mid-scan":   jpg[:sos+(len(jpg)-sos)/2],
		"cut, then junk": append(bytes.Clone(jpg[:sos+(len(jpg)-sos)/2]), "junk"...),
	}
	for name, in := range refused {
		_, err := convertOp(c, context.Background(), wire.OpToPNG, in)
		t.Run(name, func(t *testing.T) { wantError(t, err, fail.ConversionFailed, "corrupt JPEG image: ") })
	}
}
