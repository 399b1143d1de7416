package convert

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func skipWithoutOCR(t testing.TB) {
	t.Helper()
	if err := ocr.Available(); err != nil {
		t.Skipf("no OCR here (Debian tesseract-ocr-eng): %v", err)
	}
}

// scanOf is a PNG of lines of text as a 300 dpi scan shows them.
func scanOf(t testing.TB, lines ...string) []byte {
	t.Helper()
	img, err := testfiles.TextImage(50, lines...)
	if err != nil {
		t.Fatal(err)
	}
	return mustEncode(t, img, testfiles.PNG)
}

// scanBlankScan is a PDF of three pages made by c from pictures: a scan
// reading text, a blank picture, the scan again.
func scanBlankScan(t *testing.T, c *Converter, text string) []byte {
	t.Helper()
	ctx := context.Background()
	scan, err := c.Convert(ctx, "pdf", scanOf(t, text), wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blank, err := c.Convert(ctx, "pdf", mustEncode(t, testfiles.Photo(8, 8), testfiles.PNG), wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	three, err := c.Run(ctx, Job{Target: "pdf", Files: []File{{Data: scan.Output}, {Data: blank.Output}, {Data: scan.Output}}})
	if err != nil {
		t.Fatal(err)
	}
	return three.Output
}

func spaced(s string) string { return strings.Join(strings.Fields(s), " ") }

// A picture's text, and a PDF's pages without text, are read by OCR;
// ocr=never and a worker without OCR say what is missing instead.
func TestOCR(t *testing.T) {
	skipWithoutOCR(t)
	c := converter(t)
	ctx := context.Background()
	scan := scanOf(t, "Invoice number 4711", "Total due: 99 euros")
	res, err := c.Convert(ctx, "txt", scan, wire.Options{})
	if err != nil || spaced(string(res.Output)) != "Invoice number 4711 Total due: 99 euros" {
		t.Fatalf("PNG to text: %q, %v", res.Output, err)
	}
	// A scanned PDF: the PNG as a page, then a text page after it.
	scanned, err := c.Convert(ctx, "pdf", scan, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := c.Run(ctx, Job{Target: "pdf", Files: []File{{Name: "scan.pdf", Data: scanned.Output}, {Name: "notes.txt", Data: []byte("typed notes\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Convert(ctx, "txt", mixed.Output, wire.Options{})
	if err != nil || !strings.Contains(spaced(string(res.Output)), "Invoice number 4711 Total due: 99 euros") || !strings.Contains(string(res.Output), "typed notes") || len(res.Warnings) != 0 {
		t.Errorf("a scanned page and a text page: %q %q, %v", res.Output, res.Warnings, err)
	}
	res, err = c.Convert(ctx, "txt", mixed.Output, wire.Options{OCR: wire.OCRNever})
	want := []string{"page 1 has no text layer, and ocr=never was asked: it is empty in the text"}
	if err != nil || strings.Contains(string(res.Output), "Invoice") || !slices.Equal(res.Warnings, want) {
		t.Errorf("ocr=never: %q %q, %v", res.Output, res.Warnings, err)
	}
	res, err = c.Convert(ctx, "txt", mixed.Output, wire.Options{OCR: wire.OCRAlways})
	if err != nil || !strings.Contains(string(res.Output), "Invoice") || !strings.Contains(string(res.Output), "typed notes") {
		t.Errorf("ocr=always: %q, %v", res.Output, err)
	}
	_, err = c.Convert(ctx, "txt", scan, wire.Options{Lang: "zzz"})
	wantError(t, err, fail.BadRequest, "lang=zzz: OCR reads only the languages installed on this worker: eng")
	// A worker whose engines leave OCR out.
	noOCR := &Converter{cfg: Config{Engines: []string{"images", "pdf"}}.WithDefaults(), font: c.font}
	res, err = noOCR.Convert(ctx, "txt", mixed.Output, wire.Options{})
	want = []string{"page 1 has no text layer, and this worker has no OCR (Tesseract) to read it: it is empty in the text"}
	if err != nil || !slices.Equal(res.Warnings, want) {
		t.Errorf("without OCR: %q, %v", res.Warnings, err)
	}
	_, err = noOCR.Convert(ctx, "txt", scan, wire.Options{})
	wantError(t, err, fail.UnsupportedOperation, "PNG image to txt", "--engines")
}

// Past max-ocr-pages the pages stay unread, and the result says which; a
// blank page is named as holding nothing legible.
func TestOCRLimits(t *testing.T) {
	skipWithoutOCR(t)
	ctx := context.Background()
	base := converter(t)
	c := &Converter{cfg: Config{MaxOCRPages: 2}.WithDefaults(), font: base.font}
	res, err := c.Convert(ctx, "txt", scanBlankScan(t, base, "Page of a scan"), wire.Options{})
	want := []string{"page 3 not read by OCR: a job reads at most 2 pages so (max-ocr-pages)", "page 2 holds no legible text, even read by OCR"}
	if err != nil || !slices.Equal(res.Warnings, want) || strings.Count(string(res.Output), "Page of a scan") != 1 {
		t.Errorf("%q %q, %v", res.Output, res.Warnings, err)
	}
}

func TestPageRuns(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want string
	}{{[]int{1}, "page 1"}, {[]int{1, 2, 3, 7}, "pages 1–3, 7"}, {[]int{2, 4, 5}, "pages 2, 4–5"}} {
		if got := pagesWord(tt.in); got != tt.want {
			t.Errorf("%v: %q", tt.in, got)
		}
	}
}

// A scanned PDF's pages are read on two threads at once in a reader that
// has never rendered anything: libvips must be started before them (it was
// not, once, and half the fresh readers crashed or found no PDF loader).
// Each converter gets its own reader: readers are kept by memory limit.
func TestOCRFreshReaders(t *testing.T) {
	skipWithoutOCR(t)
	ctx := context.Background()
	base := converter(t)
	scan, err := base.Convert(ctx, "pdf", scanOf(t, "Page of a scan"), wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := base.Run(ctx, Job{Target: "pdf", Files: []File{{Data: scan.Output}, {Data: scan.Output}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		c, err := New(Config{MaxPDFMemory: base.cfg.MaxPDFMemory + int64(i+1)<<20})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Convert(ctx, "txt", two.Output, wire.Options{})
		if err != nil || strings.Count(string(res.Output), "Page of a scan") != 2 {
			t.Errorf("fresh reader %d: %q %q, %v", i, res.Output, res.Warnings, err)
		}
	}
}

// A page too large for 300 dpi within the pixel limits is read at less.
func TestOCRDPIFor(t *testing.T) {
	c := converter(t)
	if dpi := c.ocrDPIFor(pdfPageOCR{width: 595, height: 842}); dpi != ocrDPI {
		t.Errorf("A4: %d dpi", dpi)
	}
	huge := pdfPageOCR{width: 14400, height: 14400} // 200 inches square, PDF's largest
	dpi := c.ocrDPIFor(huge)
	if px := float64(dpi) * 200 * float64(dpi) * 200; dpi < 1 || px > float64(min(c.cfg.MaxPixels, ocr.MaxPixels)) {
		t.Errorf("a 200-inch page: %d dpi, %.0f pixels", dpi, px)
	}
}
