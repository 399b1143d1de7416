package convert

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// popplerText is pdftotext's text of pdf, the tool people search with.
// Tests compare it with -raw, in the order Tesseract read the words:
// pdftotext's own guess at columns parts a scan's lines wherever their words
// stand apart, as it does for the tesseract command's PDFs.
func popplerText(t testing.TB, pdf []byte, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is needed to check a searchable PDF (Debian poppler-utils; make test installs it)")
	}
	cmd := exec.Command(path, append(append([]string{"-q", "-enc", "UTF-8"}, args...), "-", "-")...)
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// wordLeft is where pdftotext finds word on page 1: its left edge, in points.
func wordLeft(t testing.TB, pdf []byte, word string) float64 {
	t.Helper()
	m := regexp.MustCompile(`xMin="([\d.]+)"[^>]*>` + word + `<`).FindStringSubmatch(popplerText(t, pdf, "-bbox", "-l", "1"))
	if m == nil {
		t.Fatalf("pdftotext -bbox finds no %q", word)
	}
	x, _ := strconv.ParseFloat(m[1], 64)
	return x
}

// pageSizes is each page's size in points, as poppler reads them.
func pageSizes(t testing.TB, pdf []byte) [][2]float64 {
	t.Helper()
	texts, err := pdfPageTexts(context.Background(), pdf)
	if err != nil {
		t.Fatal(err)
	}
	sizes := make([][2]float64, len(texts))
	for i, p := range texts {
		sizes[i] = [2]float64{p.width, p.height}
	}
	return sizes
}

// firstPage is page 1 of pdf rendered, as PDF → PNG renders it.
func firstPage(t testing.TB, c *Converter, pdf []byte) image.Image {
	t.Helper()
	res, err := c.Convert(context.Background(), "png", pdf, wire.Options{DPI: 72, Pages: "1"})
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, KindPNG, res.Output)
}

// sameLook fails unless two PDFs have the same pages and page 1 looks the
// same: the text layer is invisible.
func sameLook(t *testing.T, c *Converter, what string, before, after []byte) {
	t.Helper()
	if b, a := pageSizes(t, before), pageSizes(t, after); fmt.Sprint(b) != fmt.Sprint(a) {
		t.Errorf("%s: pages %v became %v", what, b, a)
	}
	b, a := firstPage(t, c, before), firstPage(t, c, after)
	if b.Bounds() != a.Bounds() {
		t.Fatalf("%s: page 1 rendered at %v, before at %v", what, a.Bounds(), b.Bounds())
	}
	if d := meanDiff(b, a); d > 0.5 {
		t.Errorf("%s: page 1 differs by %.2f levels on average", what, d)
	}
}

// turnedLeft is img turned a quarter anticlockwise: what a page turned a
// quarter clockwise (/Rotate 90) shows upright.
func turnedLeft(img *image.Gray) *image.Gray {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, h, w))
	for y := range h {
		for x := range w {
			out.SetGray(y, w-1-x, img.GrayAt(x, y))
		}
	}
	return out
}

// A scanned PDF becomes searchable: pdftotext finds its words, where the
// scan shows them, on pages of the same number and size that look the same.
func TestSearchablePDF(t *testing.T) {
	skipWithoutOCR(t)
	c := converter(t)
	ctx := context.Background()
	scanned, err := c.Convert(ctx, "pdf", scanOf(t, "Invoice number 4711", "Total due: 99 euros"), wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if text := popplerText(t, scanned.Output); strings.TrimSpace(text) != "" {
		t.Fatalf("the scan has text already: %q", text)
	}
	res, err := c.Convert(ctx, "pdf", scanned.Output, wire.Options{OCR: wire.OCRAlways})
	if err != nil {
		t.Fatal(err)
	}
	if got := spaced(popplerText(t, res.Output, "-raw")); got != "Invoice number 4711 Total due: 99 euros" || len(res.Warnings) != 0 {
		t.Errorf("pdftotext: %q, warnings %q", got, res.Warnings)
	}
	sameLook(t, c, "scanned PDF", scanned.Output, res.Output)
	// scanOf draws at one pixel a point, 100 pixels from the left.
	if x := wordLeft(t, res.Output, "Invoice"); x < 95 || x > 110 {
		t.Errorf("Invoice at %.1f pt from the left; the scan shows it at 100", x)
	}
	plain, err := c.Convert(ctx, "pdf", scanned.Output, wire.Options{})
	if err != nil || strings.TrimSpace(popplerText(t, plain.Output)) != "" {
		t.Errorf("without ocr=, OCR ran: %q, %v", popplerText(t, plain.Output), err)
	}
}

// A page turned by /Rotate is read as it is shown, and its layer lies over
// it the same way.
func TestSearchableTurnedPage(t *testing.T) {
	skipWithoutOCR(t)
	c := converter(t)
	ctx := context.Background()
	img, err := testfiles.TextImage(50, "Turned page 1234")
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := c.Convert(ctx, "pdf", mustEncode(t, turnedLeft(img), testfiles.PNG), wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The offsets move; qpdf and poppler find the objects all the same.
	turned := bytes.Replace(scanned.Output, []byte("<</Type /Page\n"), []byte("<</Type /Page /Rotate 90\n"), 1)
	res, err := c.Convert(ctx, "pdf", turned, wire.Options{OCR: wire.OCRAlways})
	if err != nil {
		t.Fatal(err)
	}
	if got := spaced(popplerText(t, res.Output, "-raw")); got != "Turned page 1234" {
		t.Errorf("pdftotext: %q", got)
	}
	sameLook(t, c, "a turned page", turned, res.Output)
	if x := wordLeft(t, res.Output, "Turned"); x < 95 || x > 110 {
		t.Errorf("Turned at %.1f pt from the left as shown; the scan shows it at 100", x)
	}
}

// ocr=auto reads the pages without text only; always reads every page, so
// a page's own text is then found twice.
func TestSearchablePDFAuto(t *testing.T) {
	skipWithoutOCR(t)
	c := converter(t)
	ctx := context.Background()
	scanned, err := c.Convert(ctx, "pdf", scanOf(t, "Scanned receipt 2024"), wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := c.Run(ctx, Job{Target: "pdf", Files: []File{{Name: "scan.pdf", Data: scanned.Output}, {Name: "notes.pdf", Data: mustPDF(t, "Typed notes")}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Convert(ctx, "pdf", mixed.Output, wire.Options{OCR: wire.OCRAuto})
	if err != nil {
		t.Fatal(err)
	}
	pages := strings.Split(popplerText(t, res.Output, "-raw"), "\f")
	if len(pages) != 3 || spaced(pages[0]) != "Scanned receipt 2024" || spaced(pages[1]) != "Typed notes" {
		t.Errorf("ocr=auto: %q", pages)
	}
	sameLook(t, c, "ocr=auto", mixed.Output, res.Output)
	res, err = c.Convert(ctx, "pdf", mixed.Output, wire.Options{OCR: wire.OCRAuto, Split: wire.SplitEach})
	if err != nil {
		t.Fatal(err)
	}
	parts := zipPages(t, res)
	if len(parts) != 2 || spaced(popplerText(t, parts[0].data, "-raw")) != "Scanned receipt 2024" {
		t.Fatalf("split=each: %d PDFs", len(parts))
	}
	res, err = c.Convert(ctx, "pdf", mixed.Output, wire.Options{OCR: wire.OCRAlways, Pages: "2"})
	if err != nil {
		t.Fatal(err)
	}
	if text := popplerText(t, res.Output); strings.Count(text, "Typed") != 2 || strings.Contains(text, "receipt") {
		t.Errorf("ocr=always, pages=2: %q", text)
	}
}

// An image becomes a searchable PDF: its words over its picture, within the
// margins of an A4 page too, and each page of a TIFF.
func TestSearchableImage(t *testing.T) {
	skipWithoutOCR(t)
	c := converter(t)
	ctx := context.Background()
	scan := scanOf(t, "Delivery note 815", "Signed by the driver")
	plain, err := c.Convert(ctx, "pdf", scan, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Convert(ctx, "pdf", scan, wire.Options{OCR: wire.OCRAlways})
	if err != nil {
		t.Fatal(err)
	}
	if got := spaced(popplerText(t, res.Output, "-raw")); got != "Delivery note 815 Signed by the driver" || len(res.Warnings) != 0 {
		t.Errorf("pdftotext: %q, warnings %q", got, res.Warnings)
	}
	sameLook(t, c, "PNG", plain.Output, res.Output)
	if x := wordLeft(t, res.Output, "Delivery"); x < 95 || x > 110 {
		t.Errorf("Delivery at %.1f pt from the left; the picture shows it at 100", x)
	}
	// On A4 the picture is scaled into the margins, and so is its text.
	a4 := wire.Options{OCR: wire.OCRAuto, PageSize: wire.PageSizeA4}
	plainA4, err := c.Convert(ctx, "pdf", scan, wire.Options{PageSize: wire.PageSizeA4})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Convert(ctx, "pdf", scan, a4)
	if err != nil {
		t.Fatal(err)
	}
	sameLook(t, c, "PNG on A4", plainA4.Output, res.Output)
	img := decode(t, KindPNG, scan)
	w, h := float64(img.Bounds().Dx()), float64(img.Bounds().Dy())
	scale := min((595.28-2*pdfPageMarginPt)/w, (841.89-2*pdfPageMarginPt)/h)
	if want, x := (595.28-w*scale)/2+100*scale, wordLeft(t, res.Output, "Delivery"); x < want-3 || x > want+10 {
		t.Errorf("Delivery at %.1f pt from the left on A4; the picture shows it at %.1f", x, want)
	}
	// A multi-page TIFF: a page each, each read. (Its pages are of one size:
	// PDF → TIFF stacks pages of different sizes into one.)
	second := scanOf(t, "Second sheet", "Signed by the driver")
	two, err := c.Run(ctx, Job{Target: "pdf", Files: []File{{Name: "1.png", Data: scan}, {Name: "2.png", Data: second}}})
	if err != nil {
		t.Fatal(err)
	}
	tiff, err := c.Convert(ctx, "tiff", two.Output, wire.Options{DPI: 72})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Convert(ctx, "pdf", tiff.Output, wire.Options{OCR: wire.OCRAlways})
	if err != nil {
		t.Fatal(err)
	}
	if pages := strings.Split(popplerText(t, res.Output, "-raw"), "\f"); len(pages) != 3 || spaced(pages[0]) != "Delivery note 815 Signed by the driver" || spaced(pages[1]) != "Second sheet Signed by the driver" {
		t.Errorf("a TIFF of two pages: %q", pages)
	}
}

// A language not installed, and a worker without OCR, are refused before
// any work; the deadline stops OCR; a page too large to render within
// max-pixels keeps no layer.
func TestSearchableErrors(t *testing.T) {
	skipWithoutOCR(t)
	c := converter(t)
	ctx := context.Background()
	scan := scanOf(t, "Word")
	scanned, err := c.Convert(ctx, "pdf", scan, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{scan, scanned.Output} {
		_, err := c.Convert(ctx, "pdf", in, wire.Options{OCR: wire.OCRAlways, Lang: "zzz"})
		wantError(t, err, fail.BadRequest, "lang=zzz: OCR reads only the languages installed on this worker")
	}
	noOCR := &Converter{cfg: Config{Engines: []string{"images", "pdf"}}.WithDefaults(), font: c.font}
	_, err = noOCR.Convert(ctx, "pdf", scanned.Output, wire.Options{OCR: wire.OCRAlways})
	wantError(t, err, fail.Unavailable, "no OCR (Tesseract) to make a searchable PDF (ocr=always)")
	// The deadline stops OCR in the middle: the reader is killed.
	lines := slices.Repeat([]string{"Lines enough to keep OCR busy for seconds"}, 20)
	img, err := testfiles.TextImage(20, lines...)
	if err != nil {
		t.Fatal(err)
	}
	page := File{Data: mustEncode(t, img, testfiles.PNG)}
	four, err := c.Run(ctx, Job{Target: "pdf", Files: []File{page, page, page, page}})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Convert(short, "pdf", four.Output, wire.Options{OCR: wire.OCRAlways})
	wantError(t, err, fail.Timeout, "deadline")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v", d)
	}
	// 200 inches square: 40 dpi within 64 megapixels.
	huge := pdfOfPage(14400, 14400)
	res, err := c.Convert(ctx, "pdf", huge, wire.Options{OCR: wire.OCRAlways})
	want := "page 1 not read by OCR: too large to render at 50 dpi or more within 64000000 pixels (max-pixels)"
	if err != nil || !slices.Contains(res.Warnings, want) {
		t.Fatalf("a huge page: %q, %v", res.Warnings, err)
	}
	if sizes := pageSizes(t, res.Output); len(sizes) != 1 || sizes[0] != [2]float64{14400, 14400} {
		t.Errorf("a huge page became %v", sizes)
	}
}

// max-pixels bounds the resolution a page is read at, and max-ocr-pages the
// pages read; a page with nothing legible gets no layer, and says so, by its
// number in the input.
func TestSearchableLimits(t *testing.T) {
	skipWithoutOCR(t)
	base := converter(t)
	ctx := context.Background()
	// Some 40 square inches: 300 dpi would be 3.6 megapixels.
	three := scanBlankScan(t, base, "Bounded resolution")
	c := &Converter{cfg: Config{MaxPixels: 1_000_000, MaxOCRPages: 2}.WithDefaults(), font: base.font}
	size := pageSizes(t, three)[0]
	if dpi := c.ocrDPIFor(pdfPageOCR{width: size[0], height: size[1]}); dpi >= 300 || dpi < 100 {
		t.Fatalf("the test's page would be read at %d dpi", dpi)
	}
	res, err := c.Convert(ctx, "pdf", three, wire.Options{OCR: wire.OCRAlways})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"page 3 not read by OCR: a job reads at most 2 pages so (max-ocr-pages)", "page 2 holds no legible text, even read by OCR: no text layer"}
	if text := popplerText(t, res.Output); strings.Count(spaced(text), "Bounded resolution") != 1 || fmt.Sprint(res.Warnings) != fmt.Sprint(want) {
		t.Errorf("%q, warnings %q", text, res.Warnings)
	}
	// Pages are named as the input numbers them, whatever pages= kept.
	res, err = c.Convert(ctx, "pdf", three, wire.Options{OCR: wire.OCRAlways, Pages: "2-3"})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"page 2 holds no legible text, even read by OCR: no text layer"}
	if text := popplerText(t, res.Output, "-raw"); spaced(text) != "Bounded resolution" || fmt.Sprint(res.Warnings) != fmt.Sprint(want) {
		t.Errorf("pages=2-3: %q, warnings %q", text, res.Warnings)
	}
}
