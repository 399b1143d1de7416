package convert

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

var (
	sharedOnce sync.Once
	shared     *Converter
	sharedErr  error
)

// converter returns a Converter with the default Config, shared by the tests.
func converter(tb testing.TB) *Converter {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New(Config{}) })
	if sharedErr != nil {
		tb.Fatalf("New: %v", sharedErr)
	}
	return shared
}

// convertOp converts to the target of a v1.0 operation, as most tests here
// were written against operations.
func convertOp(c *Converter, ctx context.Context, op wire.Operation, in []byte) (Result, error) {
	return c.Run(ctx, Job{Target: op.Target(), Input: in, V1: true})
}

func convertOK(tb testing.TB, c *Converter, op wire.Operation, in []byte) Result {
	tb.Helper()
	res, err := convertOp(c, context.Background(), op, in)
	if err != nil {
		tb.Fatalf("Convert(%v, %d bytes): %v", op, len(in), err)
	}
	if len(res.Output) == 0 && op != wire.OpPDFToText {
		tb.Fatalf("Convert(%v): empty output", op)
	}
	return res
}

// wantError checks that err is an *Error of kind with a Message containing
// every part.
func wantError(tb testing.TB, err error, kind fail.Code, parts ...string) *Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want code %s %q", kind, parts)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		tb.Fatalf("error %T %q is not an *Error", err, err)
	}
	if ce.Code != kind {
		tb.Errorf("code = %s, want %s (message %q)", ce.Code, kind, ce.Message)
	}
	for _, p := range parts {
		if !strings.Contains(ce.Message, p) {
			tb.Errorf("message %q does not contain %q", ce.Message, p)
		}
	}
	return ce
}

// decode decodes an output with Go's decoders, checking it is of type want.
func decode(tb testing.TB, want Kind, b []byte) image.Image {
	tb.Helper()
	if got := Detect(b); got != want {
		tb.Fatalf("output detected as %v, want %v", got, want)
	}
	var (
		img image.Image
		err error
	)
	switch want {
	case KindJPEG:
		img, err = jpeg.Decode(bytes.NewReader(b))
	case KindPNG:
		img, err = png.Decode(bytes.NewReader(b))
	default:
		if !want.IsImage() {
			tb.Fatalf("decode: %v is not an image type", want)
		}
		// Go reads neither animated WEBP nor the newer formats; libvips
		// reads them all, and its first frame goes through PNG.
		img, err = decodeWithVips(b)
	}
	if err != nil {
		tb.Fatalf("decode %v output: %v", want, err)
	}
	return img
}

func mustEncode(tb testing.TB, img image.Image, f testfiles.Format) []byte {
	tb.Helper()
	b, err := testfiles.Encode(img, f)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func targetType(op wire.Operation) Kind {
	switch op {
	case wire.OpToJPEG:
		return KindJPEG
	case wire.OpToPNG:
		return KindPNG
	case wire.OpToWEBP:
		return KindWEBP
	case wire.OpTextToPDF:
		return KindPDF
	}
	return KindText
}

// rgb8 is the 8-bit colour of a pixel, alpha ignored.
func rgb8(img image.Image, x, y int) (r, g, b, a uint8) {
	R, G, B, A := img.At(x, y).RGBA()
	return uint8(R >> 8), uint8(G >> 8), uint8(B >> 8), uint8(A >> 8)
}

// meanDiff is the mean absolute difference per channel of two images of the same
// size, over their colour channels (premultiplied, 8-bit).
func meanDiff(a, b image.Image) float64 {
	var sum, n float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			r1, g1, b1, _ := rgb8(a, x, y)
			r2, g2, b2, _ := rgb8(b, x, y)
			sum += absf(float64(r1)-float64(r2)) + absf(float64(g1)-float64(g2)) + absf(float64(b1)-float64(b2))
			n += 3
		}
	}
	return sum / n
}

func absf(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// words splits text into words for comparing extractions: whitespace and
// layout are not compared, only the sequence of words.
func words(s string) []string { return strings.Fields(s) }

// inOrder returns the fraction of ref's words found in got in the same order. It
// walks both sequences together; where they differ it looks a bounded distance
// ahead in got for the place where the next three words of ref occur, so that a
// common word like "the" found out of place cannot pull the walk off course,
// and a missing or split word costs only itself.
func inOrder(ref, got []string) float64 {
	if len(ref) == 0 {
		return 1
	}
	const window, anchor = 200, 3
	found, j := 0, 0
	for i := range ref {
		if j < len(got) && got[j] == ref[i] {
			found++
			j++
			continue
		}
		n := min(anchor, len(ref)-i)
		for k := j + 1; k < len(got) && k < j+window; k++ {
			if k+n <= len(got) && slices.Equal(got[k:k+n], ref[i:i+n]) {
				found++
				j = k + 1
				break
			}
		}
	}
	return float64(found) / float64(len(ref))
}

// countdownCtx is a context whose Err turns to Canceled after n calls, to stop a
// conversion at an exact point between its steps.
type countdownCtx struct {
	context.Context
	left atomic.Int64
}

func cancelAfter(n int) *countdownCtx {
	c := &countdownCtx{Context: context.Background()}
	c.left.Store(int64(n))
	return c
}

func (c *countdownCtx) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// decodeWithVips decodes the first frame of any image libvips reads.
func decodeWithVips(b []byte) (image.Image, error) {
	v, err := libvips.Load(b, "fail=true")
	if err != nil {
		return nil, err
	}
	defer v.Close()
	out, err := v.Save(".png")
	if err != nil {
		return nil, err
	}
	return png.Decode(bytes.NewReader(out))
}

// framesOf reads the frame count and the frame size of an image with libvips.
func framesOf(tb testing.TB, b []byte) (frames, w, h int) {
	tb.Helper()
	v, err := libvips.Load(b, "n=-1")
	if err != nil {
		// Formats without pages refuse n.
		if v, err = libvips.Load(b, ""); err != nil {
			tb.Fatalf("load the output: %v", err)
		}
	}
	defer v.Close()
	return v.LoadedPages(), v.Width(), v.PageHeight()
}
