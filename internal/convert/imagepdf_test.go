package convert

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"os"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// TestImageToPDF: a page per image or frame, at the image's size; a JPEG
// kept byte for byte; PNG → PDF → PNG gives back the pixels.
func TestImageToPDF(t *testing.T) {
	src := testfiles.Photo(64, 48)
	png := mustEncode(t, src, testfiles.PNG)
	pdf := convertWith(t, "pdf", png, wire.Options{}).Output
	back, err := decodeWithVips(convertWith(t, "png", pdf, wire.Options{DPI: 72}).Output)
	if err != nil {
		t.Fatal(err)
	}
	if back.Bounds().Dx() != 64 || back.Bounds().Dy() != 48 {
		t.Fatalf("the page is %v at 72 dpi, want the image's 64x48", back.Bounds().Size())
	}
	if x, y, ok := samePixels(src, back); !ok {
		t.Errorf("PNG → PDF → PNG: pixel (%d,%d) differs", x, y)
	}

	jpg := mustEncode(t, src, testfiles.JPEG)
	if pdf := convertWith(t, "pdf", jpg, wire.Options{}).Output; !bytes.Contains(pdf, jpg[2:]) {
		t.Error("the PDF does not hold the JPEG's bytes as they were")
	}

	anim := convertWith(t, "pdf", fixture(t, "anim.gif"), wire.Options{}).Output
	if frames, w, h := framesOf(t, convertWith(t, "tiff", anim, wire.Options{DPI: 72}).Output); frames != 5 || w != 85 || h != 77 {
		t.Errorf("the GIF's PDF has %d pages of %dx%d, want 5 of 85x77", frames, w, h)
	}

	// page=N makes a PDF of that frame alone.
	third := convertWith(t, "pdf", fixture(t, "anim.gif"), wire.Options{Page: 3}).Output
	if frames, _, _ := framesOf(t, convertWith(t, "tiff", third, wire.Options{DPI: 72}).Output); frames != 1 {
		t.Errorf("page=3: the PDF has %d pages", frames)
	}
	// The second image of a HEIC is not a page: left out, and said so.
	if heic, err := os.ReadFile("../../../shared/testdata/images/libheif-example.heic"); err == nil {
		res := convertWith(t, "pdf", heic, wire.Options{})
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "the HEIC has 2 images; the PDF holds the first") {
			t.Errorf("a HEIC of two images to PDF: warnings %q", res.Warnings)
		}
	}

	a4 := convertWith(t, "pdf", png, wire.Options{PageSize: wire.PageSizeA4}).Output
	if _, w, h := framesOf(t, convertWith(t, "png", a4, wire.Options{DPI: 72}).Output); w != 595 || h != 842 {
		t.Errorf("page_size=A4: the page is %dx%d points", w, h)
	}
	// A margin around a page of the picture's size: 0.5in is 36 points.
	framed := convertWith(t, "pdf", png, wire.Options{Margin: "0.5in"}).Output
	if _, w, h := framesOf(t, convertWith(t, "png", framed, wire.Options{DPI: 72}).Output); w != 64+72 || h != 48+72 {
		t.Errorf("margin=0.5in: the page is %dx%d points, want %dx%d", w, h, 64+72, 48+72)
	}
	// No margin on A4: the picture spans the page's width.
	full := convertWith(t, "pdf", png, wire.Options{PageSize: wire.PageSizeA4, Margin: "0"}).Output
	page, err := decodeWithVips(convertWith(t, "png", full, wire.Options{DPI: 72}).Output)
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := rgb8(page, 0, page.Bounds().Dy()/2); r == 255 && g == 255 && b == 255 {
		t.Error("margin=0 on A4: the left edge is white")
	}
}

// TestImageToPDFBombs: an image too large for the pixel limit is refused from
// its header, whether it would be embedded as it is (JPEG) or go through the
// pipeline (PNG), and so is an animation of too many frames.
func TestImageToPDFBombs(t *testing.T) {
	c := converter(t)
	_, err := c.Convert(context.Background(), "pdf", mustPNGBomb(t, 50000, 50000), wire.Options{})
	wantError(t, err, fail.LimitExceeded, "50000×50000", "max-pixels")
	jpg := mustEncode(t, testfiles.Photo(64, 48), testfiles.JPEG)
	small := &Converter{cfg: Config{MaxPixels: 1000}.WithDefaults(), font: c.font}
	_, err = small.Convert(context.Background(), "pdf", jpg, wire.Options{})
	wantError(t, err, fail.LimitExceeded, "64×48", "max-pixels")
	few := &Converter{cfg: Config{MaxFrames: 3}.WithDefaults(), font: c.font}
	_, err = few.Convert(context.Background(), "pdf", fixture(t, "anim.gif"), wire.Options{})
	wantError(t, err, fail.LimitExceeded, "5 frames", "max-frames")
}

// BenchmarkAnimationToPDF: an animation's frames are decoded once, so the
// time per frame stays the same however many frames there are (it grew with
// their number when each frame was decoded on its own).
//
//	go test -run='^$' -bench=BenchmarkAnimationToPDF ./internal/convert/
func BenchmarkAnimationToPDF(b *testing.B) {
	for _, frames := range []int{25, 100, 400} {
		anim := &gif.GIF{}
		for i := range frames {
			frame := image.NewPaletted(image.Rect(0, 0, 160, 120), palette.Plan9)
			draw.Draw(frame, frame.Bounds(), testfiles.Photo(160+i%7, 120), image.Point{}, draw.Src)
			anim.Image, anim.Delay = append(anim.Image, frame), append(anim.Delay, 4)
		}
		var buf bytes.Buffer
		if err := gif.EncodeAll(&buf, anim); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%d frames", frames), func(b *testing.B) {
			for b.Loop() {
				convertWith(b, "pdf", buf.Bytes(), wire.Options{})
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*frames), "ms/frame")
		})
	}
}
