package convert

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func FuzzDetect(f *testing.F) {
	for _, seed := range []string{"", "%PDF-1.7", "\xff\xd8\xff\xe0", "\x89PNG\r\n\x1a\n", "RIFF\x00\x00\x00\x00WEBPVP8 ", "plain text", "h\xe9llo", "a\x00b"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ := Detect(b)
		switch typ {
		case KindText:
			if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
				t.Fatalf("%q detected as text", b)
			}
		case KindPDF:
			if !bytes.HasPrefix(b, []byte("%PDF")) {
				t.Fatalf("%q detected as PDF", b)
			}
		case KindUnknown:
			if len(b) > 0 && utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
				t.Fatalf("valid text %q not detected", b)
			}
			// notText must explain every unknown input without failing.
			if len(b) > 0 && notText(b).Message == "" {
				t.Fatal("empty explanation")
			}
		}
		if typ.IsImage() && len(b) < 3 {
			t.Fatalf("%d bytes detected as %v", len(b), typ)
		}
	})
}

// fuzzConverter keeps each fuzz run small: images over a megapixel are refused
// from their header, as a production limit would refuse larger ones.
func fuzzConverter(tb testing.TB) *Converter {
	c, err := New(Config{MaxPixels: 1 << 20, MaxPDFPages: 50})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// checkFuzzResult accepts a conversion or a client error; anything else (an
// internal error, a message carrying a Go stack, a wrong output type) fails.
func checkFuzzResult(t *testing.T, op wire.Operation, res Result, err error) {
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("%v: error %T is not an *Error: %v", op, err, err)
		}
		if ce.Code == fail.Internal || ce.Code == fail.Timeout {
			t.Fatalf("%v: unexpected code %s: %v", op, ce.Code, err)
		}
		if ce.Message == "" || strings.Contains(ce.Error(), "goroutine ") || !utf8.ValidString(ce.Message) {
			t.Fatalf("%v: bad message %q", op, ce.Error())
		}
		return
	}
	want := targetType(op)
	if op == wire.OpPDFToText {
		return // any text, even none
	}
	if got := Detect(res.Output); got != want {
		t.Fatalf("%v: output detected as %v", op, got)
	}
	if want.IsImage() {
		decode(t, want, res.Output)
	}
}

func FuzzConvertImage(f *testing.F) {
	photo := testfiles.Photo(24, 16)
	for _, format := range []testfiles.Format{testfiles.JPEG, testfiles.PNG, testfiles.WEBP} {
		f.Add(mustEncode(f, photo, format), uint8(0))
	}
	f.Add(mustEncode(f, testfiles.Transparent(8, 8), testfiles.PNG), uint8(0))
	f.Add(mustEncode(f, testfiles.Gray(8, 8), testfiles.JPEG), uint8(1))
	f.Add(mustSolidWEBP(f, 5, 3, color.NRGBA{9, 8, 7, 128}), uint8(2))
	exif, err := testfiles.WithEXIF(mustEncode(f, photo, testfiles.JPEG), 6)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(exif, uint8(1))
	anim, err := testfiles.AnimatedWEBP(4, 4, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 255})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(anim, uint8(2))
	f.Add(testfiles.PNGHeader(4000, 4000), uint8(0))
	c := fuzzConverter(f)
	f.Fuzz(func(t *testing.T, in []byte, opSeed uint8) {
		op := imageOps[int(opSeed)%len(imageOps)]
		res, err := convertOp(c, context.Background(), op, in)
		checkFuzzResult(t, op, res, err)
	})
}

func FuzzConvertText(f *testing.F) {
	for _, seed := range []string{
		"Hello\nworld\n\nNew paragraph.",
		"\uFEFFtabs\tand\x07controls\r\n\r\nCR\rlines",
		"漢字 😀 é ж λ \u2028 \u2029",
		strings.Repeat("x", 3000),
		"h\xe9llo",
	} {
		f.Add([]byte(seed))
	}
	c := fuzzConverter(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := convertOp(c, context.Background(), wire.OpTextToPDF, in)
		checkFuzzResult(t, wire.OpTextToPDF, res, err)
	})
}

func FuzzConvertPDF(f *testing.F) {
	one, err := testfiles.PDF(1)
	if err != nil {
		f.Fatal(err)
	}
	two, err := testfiles.TextPDF("first page", "second page é ж")
	if err != nil {
		f.Fatal(err)
	}
	enc, err := testfiles.EncryptedPDF("pw")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(one)
	f.Add(two)
	f.Add(enc)
	f.Add(minimalPDF)
	c := fuzzConverter(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		// Keep the magic so that mutations reach poppler rather than Detect.
		if !bytes.HasPrefix(in, []byte("%PDF")) {
			in = append([]byte("%PDF-"), in...)
		}
		res, err := convertOp(c, context.Background(), wire.OpPDFToText, in)
		checkFuzzResult(t, wire.OpPDFToText, res, err)
	})
}

// minimalPDF is a hand-written one-page PDF, small enough for the fuzzer to
// mutate its structure rather than its fonts.
var minimalPDF = []byte(`%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj
4 0 obj << /Length 44 >> stream
BT /F1 12 Tf 20 100 Td (Hello fuzz) Tj ET
endstream endobj
5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
trailer << /Root 1 0 R >>
%%EOF
`)

// FuzzPDFGuard: the look before poppler must end, quickly and in bounded
// memory, on any bytes, with nil or a client error.
func FuzzPDFGuard(f *testing.F) {
	one, err := testfiles.PDF(1)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(one)
	f.Add(minimalPDF)
	f.Add(onePagePDF("/Deep [[[1]]] /D << /A << /B 2 >> >>", zlibOf([]byte("q /P <</MCID 0>> BDC "+hostileText+" EMC Q BI /W 2 /H 1 /BPC 8 /CS /G ID \x00[( EI Q")), "/Filter /FlateDecode"))
	f.Add(onePagePDF("", []byte("48656c6c6f>"), "/Filter [/AHx /Fl] /DecodeParms [null << /Predictor 12 >>]"))
	f.Add(onePagePDF("", []byte("87cURD]i,\"Ebo80~>"), "/Filter /A85"))
	f.Add(onePagePDF("", []byte{2, 'q', ' ', 'Q', 253, ' ', 128}, "/Filter /RunLengthDecode"))
	f.Add(onePagePDF("", []byte{0x80, 0x0b, 0x60, 0x50, 0x22, 0x0c, 0x0c, 0x85, 0x01}, "/Filter /LZWDecode /DecodeParms << /EarlyChange 0 >>"))
	f.Add(objectStreamPDF("[<< /Type /Pages >>]"))
	f.Add(repeatedContents(3, []byte("q q "), ""))
	f.Add(kidsChain(3))
	c, err := New(Config{MaxPDFInflate: 1 << 20, MaxPDFNesting: 16, MaxPDFPages: 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		err := c.checkPDF(context.Background(), in)
		if err == nil {
			return
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not an *Error: %v", err, err)
		}
		if ce.Code != fail.LimitExceeded && ce.Code != fail.ConversionFailed {
			t.Fatalf("unexpected code %s: %v", ce.Code, err)
		}
		if ce.Message == "" || !utf8.ValidString(ce.Message) {
			t.Fatalf("bad message %q", ce.Message)
		}
	})
}

// anyImageSeeds is a small file (under 5 KB) of every image kind.
func anyImageSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"anim.gif", "bigtiff.tif", "cogs-pages.tif", "icon.ico", "photo-ascii.pgm", "photo.avif",
		"photo.bmp", "photo.heic", "photo.jp2", "photo.jxl", "photo.ppm", "photo.tga", "ratio.jxl"} {
		seeds = append(seeds, imageFixture(tb, name))
	}
	photo := testfiles.Photo(8, 6)
	for _, f := range []testfiles.Format{testfiles.JPEG, testfiles.PNG, testfiles.WEBP} {
		seeds = append(seeds, mustEncode(tb, photo, f))
	}
	anim, err := testfiles.AnimatedWEBP(4, 4, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 128})
	if err != nil {
		tb.Fatal(err)
	}
	pfm, err := decodeWithVipsTo(mustEncode(tb, photo, testfiles.PNG), ".pfm")
	if err != nil {
		tb.Fatal(err)
	}
	svg := []byte(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY c "red">]><svg xmlns="http://www.w3.org/2000/svg" width="12" height="8" viewBox="0 0 6 4"><rect width="3" height="4" fill="&c;"/><circle cx="4" cy="2" r="1" fill-opacity="0.5"/></svg>`)
	return append(seeds, anim, pfm, tinyPSD(), svg, gzipped(tb, svg), gifBytes(2000, 2000, 3, 0, 0, 1, 1))
}

// decodeWithVipsTo converts b with libvips to the format of suffix, for the
// formats Go does not write.
func decodeWithVipsTo(b []byte, suffix string) ([]byte, error) {
	v, err := libvips.Load(b, "")
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Save(suffix)
}

// tinyPSD is a 2×2 RGB Photoshop file: no colour mode data, resources or
// layers, raw image data.
func tinyPSD() []byte {
	return cat(psdBytes(1, 2, 2), make([]byte, 12), u16be(0), []byte{255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255})
}

// FuzzConvertAnyImage converts every image kind to PNG with every decoder in
// this process (PDFInProcess), so that a crash ends the fuzzer where a reader
// process would fail one job quietly.
func FuzzConvertAnyImage(f *testing.F) {
	for _, seed := range anyImageSeeds(f) {
		f.Add(seed)
	}
	c, err := New(Config{MaxPixels: 1 << 20, MaxPDFPages: 50, PDFInProcess: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := convertOp(c, context.Background(), wire.OpToPNG, in)
		checkFuzzResult(t, wire.OpToPNG, res, err)
	})
}

// FuzzDetectHead: the sniffers of the kinds without a plain magic number
// (isSVG, isTGA, isPNM, isICO) and the SVG entity check take any bytes;
// Detect is deterministic and is DetectHead of a whole file; and an image
// kind detected from the head of a file is the file's kind (a text's head
// may be UTF-8 where the rest is not, so text is left out).
func FuzzDetectHead(f *testing.F) {
	for _, seed := range anyImageSeeds(f) {
		f.Add(seed[:min(len(seed), 512)])
	}
	for _, seed := range []string{
		"P6\n", "P7\nWIDTH 1\n", "Pf 1 1 -1\n", "\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01\x00\x18\x00",
		"\x00\x00\x01\x00\x01\x00", `<!DOCTYPE svg [<!ENTITY a "]>"><!-- > -->]><svg>`, "\xEF\xBB\xBF<?xml?><svg:svg ",
		`<!DOCTYPE svg [<!ENTITY a "&b;"><!ENTITY b "&a;">]><svg>&a;</svg>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		isSVG(b)
		isTGA(b)
		isPNM(b)
		isICO(b)
		if err := checkSVG(KindSVG, b); err != nil {
			if ce := AsError(err); ce.Code != fail.LimitExceeded && ce.Code != fail.ConversionFailed {
				t.Fatalf("checkSVG: %v", err)
			}
		}
		k := Detect(b)
		if again := Detect(b); again != k {
			t.Fatalf("Detect gave %s, then %s", k, again)
		}
		if whole := DetectHead(b, true); whole != k {
			t.Fatalf("DetectHead(b, true) = %s, Detect = %s", whole, k)
		}
		for _, n := range []int{len(b) / 2, len(b) - 1} {
			if n <= 0 {
				continue
			}
			if head := DetectHead(b[:n], false); head.IsImage() && head != k {
				t.Fatalf("the first %d bytes are %s, the file %s", n, head, k)
			}
		}
	})
}
