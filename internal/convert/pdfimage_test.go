package convert

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// pdfOfPage is minimalPDF with its one page w × h points large.
func pdfOfPage(w, h int) []byte {
	return bytes.Replace(minimalPDF, []byte("/MediaBox [0 0 200 200]"), fmt.Appendf(nil, "/MediaBox [0 0 %d %d]", w, h), 1)
}

// TestPDFToImages: a page at the resolution asked for, in every target.
func TestPDFToImages(t *testing.T) {
	for _, tt := range []struct {
		dpi  int
		size int
	}{{72, 200}, {0, 417}, {300, 833}} {
		res := convertWith(t, "png", minimalPDF, wire.Options{DPI: tt.dpi})
		if frames, w, h := framesOf(t, res.Output); frames != 1 || w != tt.size || h != tt.size {
			t.Errorf("dpi %d: %d pages of %dx%d, want one of %dx%[4]d", tt.dpi, frames, w, h, tt.size)
		}
		if len(res.Warnings) != 0 {
			t.Errorf("dpi %d: warnings %q for a one-page PDF", tt.dpi, res.Warnings)
		}
	}
	for _, target := range []string{"jpg", "webp", "tiff", "avif"} {
		res := convertWith(t, target, minimalPDF, wire.Options{Width: 100})
		if _, w, h := framesOf(t, res.Output); w != 100 || h != 100 {
			t.Errorf("to %s at width 100: %dx%d", target, w, h)
		}
	}
}

// TestPDFPagesToImages: every real PDF's first page renders at 72 dpi at its
// size in points, and the answer says how many pages it has, as pdftotext
// counts them (a form feed after each page); page=N picks another.
func TestPDFPagesToImages(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/pdf/*.pdf")
	if len(files) == 0 {
		t.Skip("no PDFs in ../shared/testdata/pdf")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := os.ReadFile(strings.TrimSuffix(f, ".pdf") + ".pdftotext.txt")
			if err != nil {
				t.Fatal(err)
			}
			pages := bytes.Count(ref, []byte("\f"))
			res := convertWith(t, "png", in, wire.Options{DPI: 72})
			_, w, h := framesOf(t, res.Output)
			a4, letter := w == 595 && h == 842, w == 612 && h == 792
			if !a4 && !letter {
				t.Errorf("page 1 is %dx%d at 72 dpi, neither A4 nor Letter", w, h)
			}
			want := fmt.Sprintf("the PDF has %d pages; the PNG holds the first", pages)
			if pages == 1 && len(res.Warnings) != 0 || pages > 1 && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], want)) {
				t.Errorf("warnings %q, want %q", res.Warnings, want)
			}
			if pages > 1 {
				last := convertWith(t, "jpg", in, wire.Options{Page: pages, Width: 50})
				if len(last.Warnings) != 0 {
					t.Errorf("page=%d: warnings %q", pages, last.Warnings)
				}
			}
		})
	}
}

// TestPDFToTIFF: every page of a PDF goes into one multi-page TIFF, at the
// size of the largest; page=N makes a TIFF of one page.
func TestPDFToTIFF(t *testing.T) {
	in, err := os.ReadFile("../../../shared/testdata/pdf/libreoffice-28pages.pdf")
	if err != nil {
		t.Skip("no ../shared/testdata/pdf/libreoffice-28pages.pdf")
	}
	res := convertWith(t, "tiff", in, wire.Options{DPI: 36})
	if frames, w, h := framesOf(t, res.Output); frames != 28 || w != 298 || h != 421 {
		t.Errorf("%d pages of %dx%d, want 28 of 298x421", frames, w, h)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q", res.Warnings)
	}
	if frames, _, _ := framesOf(t, convertWith(t, "tiff", in, wire.Options{DPI: 36, Page: 3}).Output); frames != 1 {
		t.Errorf("page=3: %d pages", frames)
	}
	_, err = converter(t).Convert(context.Background(), "tiff", in, wire.Options{DPI: 600})
	wantError(t, err, fail.LimitExceeded, "28 pages at 600 dpi", "4 × max-pixels", "page=N")
}

// TestPDFToImageLimits: a page too large at the resolution asked for is
// refused before rendering, with its numbers; so is a resolution over the
// server's and a page the PDF does not have.
func TestPDFToImageLimits(t *testing.T) {
	c := converter(t)
	_, err := c.Convert(context.Background(), "png", pdfOfPage(14400, 14400), wire.Options{DPI: 600})
	wantError(t, err, fail.LimitExceeded, "page 1 of the PDF is 200.0 × 200.0 in", "120000×120000", "600 dpi", "max-pixels")
	_, err = c.Convert(context.Background(), "png", minimalPDF, wire.Options{DPI: 1200})
	wantError(t, err, fail.BadRequest, "dpi 1200", "max-pdf-dpi")
	_, err = c.Convert(context.Background(), "png", minimalPDF, wire.Options{Page: 2})
	wantError(t, err, fail.BadRequest, "page 2", "1 page")
	// dpi means nothing to an image.
	_, err = c.Convert(context.Background(), "png", mustEncode(t, testfiles.Photo(16, 16), testfiles.PNG), wire.Options{DPI: 100})
	wantError(t, err, fail.BadRequest, "options.dpi does not apply")
}
