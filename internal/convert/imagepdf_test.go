package convert

import (
	"bytes"
	"testing"

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

	a4 := convertWith(t, "pdf", png, wire.Options{PageSize: wire.PageSizeA4}).Output
	if _, w, h := framesOf(t, convertWith(t, "png", a4, wire.Options{DPI: 72}).Output); w != 595 || h != 842 {
		t.Errorf("page_size=A4: the page is %dx%d points", w, h)
	}
}
