package convert

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func TestNewValidatesAndFillsDefaults(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		MaxPixels:        DefaultMaxPixels,
		MaxFrames:        DefaultMaxFrames,
		MaxPDFPages:      DefaultMaxPDFPages,
		MaxOCRPages:      DefaultMaxOCRPages,
		MaxFiles:         DefaultMaxFiles,
		MaxOfficeInflate: DefaultMaxOfficeInflate,
		MaxPDFInflate:    DefaultMaxPDFInflate,
		MaxPDFNesting:    DefaultMaxPDFNesting,
		MaxTextPages:     DefaultMaxTextPages,
		MaxPDFMemory:     DefaultMaxPDFMemory,
		MaxImageMemory:   DefaultMaxImageMemory,
		MaxPDFDPI:        DefaultMaxPDFDPI,
		JPEGQuality:      DefaultJPEGQuality,
		WEBPQuality:      DefaultWEBPQuality,
		WEBPEffort:       DefaultWEBPEffort,
		PNGCompression:   DefaultPNGCompression,
	}
	if got := c.Config(); !reflect.DeepEqual(got, want) {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	for _, bad := range []Config{
		{MaxPixels: -1},
		{MaxPDFPages: -1},
		{MaxFrames: -1},
		{MaxPDFInflate: -1},
		{MaxPDFNesting: -1},
		{MaxPDFNesting: 501},
		{MaxTextPages: -1},
		{MaxPDFMemory: 1 << 20},
		{JPEGQuality: 101},
		{WEBPQuality: -5},
		{WEBPEffort: 7},
		{PNGCompression: 10},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v): no error", bad)
		}
	}
}

func TestEmptyInput(t *testing.T) {
	c := converter(t)
	for _, op := range wire.Operations {
		_, err := convertOp(c, context.Background(), op, nil)
		wantError(t, err, fail.BadRequest, "empty input: the file has 0 bytes")
	}
}

func TestUnknownTarget(t *testing.T) {
	c := converter(t)
	for _, to := range []string{"", "gif2", "exe"} {
		_, err := c.Convert(context.Background(), to, []byte("hello"), wire.Options{})
		wantError(t, err, fail.UnsupportedOperation, fmt.Sprintf("%q is not a format fileconv makes; use jpg, png, webp, gif, tiff, avif, heic, jxl, pdf, txt, docx, odt, xlsx, ods, pptx or odp", to))
	}
}

// TestTypeMismatch covers every detected type against every operation it does
// not fit, with the message the client sees.
func TestTypeMismatch(t *testing.T) {
	c := converter(t)
	photo := testfiles.Photo(32, 24)
	jpg := mustEncode(t, photo, testfiles.JPEG)
	pngFile := mustEncode(t, photo, testfiles.PNG)
	webpFile, err := testfiles.SolidWEBP(8, 8, color.NRGBA{R: 200, A: 255})
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := testfiles.PDF(1)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("Hello, world.\n")
	const (
		useImage = "use operation 1, 2, 3 or 4 (to JPEG, PNG, WEBP or PDF)"
		usePDF   = "PDF detected: use operation 1, 2, 3 or 5 (to JPEG, PNG, WEBP or TXT)"
		useText  = "text detected: use operation 4 (to PDF)"
	)
	tests := []struct {
		name string
		op   wire.Operation
		in   []byte
		want string
	}{
		{"PDF to PDF", wire.OpTextToPDF, pdf, usePDF},
		{"text to JPEG", wire.OpToJPEG, text, useText},
		{"text to PNG", wire.OpToPNG, text, useText},
		{"text to WEBP", wire.OpToWEBP, text, useText},
		{"text to TXT", wire.OpPDFToText, text, useText},
		{"JPEG to TXT", wire.OpPDFToText, jpg, "JPEG image detected: " + useImage},
		{"PNG to TXT", wire.OpPDFToText, pngFile, "PNG image detected: " + useImage},
		{"WEBP to TXT", wire.OpPDFToText, webpFile, "WEBP image detected: " + useImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := convertOp(c, context.Background(), tt.op, tt.in)
			ce := wantError(t, err, fail.TypeMismatch)
			if ce.TextV1() != tt.want {
				t.Errorf("v1.0 message %q, want %q", ce.TextV1(), tt.want)
			}
			// Past v1.0, messages name what was detected and what it can become.
			kind, targets := Detect(tt.in), TargetsFrom(Detect(tt.in))
			if want := kind.Label() + ": it converts to " + JoinWords(targets, "or") + ", not " + tt.op.Target(); ce.Message != want {
				t.Errorf("message %q, want %q", ce.Message, want)
			}
			if res.Kind != Detect(tt.in) {
				t.Errorf("InputType = %v, want %v", res.Kind, Detect(tt.in))
			}
		})
	}
}

func TestUnknownInput(t *testing.T) {
	c := converter(t)
	// A ZIP that is no Office document: a kind fileconv tells apart but
	// converts nothing from.
	gif := []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00")
	for _, op := range []wire.Operation{wire.OpToJPEG, wire.OpToPNG, wire.OpToWEBP, wire.OpPDFToText} {
		_, err := convertOp(c, context.Background(), op, gif)
		ce := wantError(t, err, fail.TypeMismatch)
		if want := "unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF"; ce.TextV1() != want {
			t.Errorf("%v: v1.0 message %q, want %q", op, ce.TextV1(), want)
		}
		if want := "ZIP archive: this cluster does not convert ZIP; it converts PDF, web page (HTML), text, office documents (DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS, PPT, RTF) and images (JPEG, PNG, WEBP, GIF, TIFF, BMP, ICO, HEIC, AVIF, JPEG XL, JPEG 2000, PSD, PNM, SVG, TGA)"; ce.Message != want {
			t.Errorf("%v: message %q, want %q", op, ce.Message, want)
		}
	}
	// To v1.0's operation 4, a ZIP is a text that is not UTF-8, as it always was.
	_, err := convertOp(c, context.Background(), wire.OpTextToPDF, gif)
	if ce := wantError(t, err, fail.TypeMismatch); ce.TextV1() != "input is not valid UTF-8 text (NUL byte at offset 5)" {
		t.Errorf("ZIP to PDF in v1.0: %q", ce.TextV1())
	}
}

// TestNotText covers operation 4 on bytes that are not UTF-8 text: the message
// names the offset of the first bad byte.
func TestNotText(t *testing.T) {
	c := converter(t)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"invalid byte", "abc\xffdef", "input is not valid UTF-8 text (first invalid byte at offset 3)"},
		{"invalid first byte", "\x80abc", "input is not valid UTF-8 text (first invalid byte at offset 0)"},
		{"cut sequence", "héllo wörld \xc3", "input is not valid UTF-8 text (first invalid byte at offset 14)"},
		{"overlong", "ok \xc0\xaf", "input is not valid UTF-8 text (first invalid byte at offset 3)"},
		{"NUL", "ab\x00c", "input is not valid UTF-8 text (NUL byte at offset 2)"},
		{"UTF-16", "\xff\xfeh\x00i\x00", "input is UTF-16 text, not UTF-8: save it as UTF-8 and send it again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := convertOp(c, context.Background(), wire.OpTextToPDF, []byte(tt.in))
			ce := wantError(t, err, fail.TypeMismatch)
			if ce.TextV1() != tt.want {
				t.Errorf("message %q, want %q", ce.TextV1(), tt.want)
			}
		})
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	c := converter(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pdf, err := testfiles.PDF(1)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[wire.Operation][]byte{
		wire.OpToJPEG:    mustEncode(t, testfiles.Photo(16, 16), testfiles.PNG),
		wire.OpToPNG:     mustEncode(t, testfiles.Photo(16, 16), testfiles.JPEG),
		wire.OpToWEBP:    mustEncode(t, testfiles.Photo(16, 16), testfiles.JPEG),
		wire.OpTextToPDF: []byte("text"),
		wire.OpPDFToText: pdf,
	}
	for op, in := range inputs {
		_, err := convertOp(c, ctx, op, in)
		ce := wantError(t, err, fail.Timeout, "conversion cancelled")
		if !errors.Is(ce, context.Canceled) {
			t.Errorf("%v: error does not wrap context.Canceled", op)
		}
	}

	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	_, err = convertOp(c, dctx, wire.OpTextToPDF, []byte("text"))
	ce := wantError(t, err, fail.Timeout, "deadline")
	if !errors.Is(ce, context.DeadlineExceeded) {
		t.Errorf("error does not wrap context.DeadlineExceeded")
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("premature end")
	e := &Error{Code: fail.ConversionFailed, Message: "corrupt JPEG image: premature end", Cause: cause}
	if got := e.Error(); got != "corrupt JPEG image: premature end" {
		t.Errorf("Error() = %q: the cause is repeated", got)
	}
	e = &Error{Code: fail.Internal, Message: "conversion failed", Cause: cause}
	if got := e.Error(); got != "conversion failed: premature end" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, cause) {
		t.Error("Error does not unwrap to its cause")
	}
}

// TestConcurrent runs every family at once, for the race detector and for
// libvips and poppler used from several threads.
func TestConcurrent(t *testing.T) {
	c := converter(t)
	pdf, err := testfiles.PDF(2)
	if err != nil {
		t.Fatal(err)
	}
	jobs := []struct {
		op wire.Operation
		in []byte
	}{
		{wire.OpToWEBP, mustEncode(t, testfiles.Photo(200, 150), testfiles.JPEG)},
		{wire.OpToJPEG, mustEncode(t, testfiles.Transparent(200, 150), testfiles.PNG)},
		{wire.OpToPNG, mustEncode(t, testfiles.Photo(200, 150), testfiles.WEBP)},
		{wire.OpTextToPDF, []byte(testfiles.Paragraphs(20_000))},
		{wire.OpPDFToText, pdf},
		{wire.OpToPNG, mustEncode(t, testfiles.Photo(200, 150), testfiles.JPEG)[:3000]}, // corrupt
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		for _, j := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := convertOp(c, context.Background(), j.op, j.in)
				if err != nil && AsError(err).Code != fail.ConversionFailed {
					t.Errorf("%v: %v", j.op, err)
				}
			}()
		}
	}
	wg.Wait()
}
