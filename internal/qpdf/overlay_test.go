package qpdf

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// layerPDF is a one-page PDF of w×h points with word near its top left
// corner, as a text layer is.
func layerPDF(w, h float64, word string) []byte {
	return rawPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources %s /Contents 4 0 R >>", w, h, helvetica),
		stream("", fmt.Sprintf("BT /F1 12 Tf 10 %g Td (%s) Tj ET", h-30, word)),
	)
}

// twoPages has an upright page and a page turned a quarter, cropped, both
// sharing one resource dictionary.
func twoPages() []byte {
	return rawPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 5 0 R /Contents 6 0 R >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /CropBox [12 20 600 780] /Rotate 90 /Resources 5 0 R /Contents 7 0 R >>",
		helvetica,
		// A content that leaves its state changed: the layer must not follow.
		stream("", "2 0 0 2 0 0 cm BT /F1 24 Tf 72 300 Td (First page) Tj ET"),
		textContent("Second page"),
	)
}

// wordBox is where pdftotext finds word on page (from 1): its corners, in
// points from the top left of the page as shown (of its media box, turned).
func wordBox(t *testing.T, pdf []byte, page int, word string) (x0, y0, x1, y1 float64) {
	t.Helper()
	cmd := exec.Command(tool(t, "pdftotext", "poppler-utils"), "-q", "-bbox", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext -bbox: %v", err)
	}
	m := regexp.MustCompile(`xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">` + word).FindSubmatch(out)
	if m == nil {
		t.Fatalf("page %d: no %s in\n%s", page, word, out)
	}
	var f [4]float64
	for i := range f {
		f[i], _ = strconv.ParseFloat(string(m[i+1]), 64)
	}
	return f[0], f[1], f[2], f[3]
}

// A layer lies over its page, upright as the page is shown and filling the
// crop box, whatever the page's own content does; the other pages and the
// shared resources keep as they were.
func TestOverlay(t *testing.T) {
	doc := twoPages()
	out, err := Overlay(doc, []Layer{{Page: 1, PDF: layerPDF(306, 396, "Upright")}, {Page: 2, PDF: layerPDF(760, 588, "Turned")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, out)
	text := pdftotext(t, out)
	if pages := strings.Split(text, "\f"); len(pages) != 3 || !strings.Contains(pages[0], "First page") || !strings.Contains(pages[0], "Upright") ||
		!strings.Contains(pages[1], "Second page") || !strings.Contains(pages[1], "Turned") {
		t.Fatalf("pages: %q", pages)
	}
	// Half the page's size, so twice as large: 20 in, its top 43 down.
	if x0, y0, x1, y1 := wordBox(t, out, 1, "Upright"); x0 < 15 || x0 > 25 || y0 < 35 || y0 > 55 || x1-x0 < 2*(y1-y0) {
		t.Errorf("page 1: Upright at %g, %g – %g, %g", x0, y0, x1, y1)
	}
	// At its own size, upright, from the crop box's corner (20 in).
	if x0, y0, x1, y1 := wordBox(t, out, 2, "Turned"); x0 < 25 || x0 > 35 || y0 > 45 || x1-x0 < 2*(y1-y0) {
		t.Errorf("page 2: Turned at %g, %g – %g, %g", x0, y0, x1, y1)
	}
	if n, err := Pages(Input{PDF: out}); err != nil || n != 2 {
		t.Errorf("%d pages, %v", n, err)
	}
}

// inset leaves a margin round the layer; a layer for a page the document
// lacks, or one that is no PDF, is an error.
func TestOverlayInsetAndErrors(t *testing.T) {
	doc := twoPages()
	out, err := Overlay(doc, []Layer{{Page: 1, PDF: layerPDF(512, 692, "Inside")}}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if x0, y0, _, _ := wordBox(t, out, 1, "Inside"); x0 < 59 || x0 > 61 || y0 < 50 || y0 > 80 {
		t.Errorf("Inside at %g, %g", x0, y0)
	}
	for _, bad := range [][]Layer{{{Page: 3, PDF: layerPDF(10, 10, "x")}}, {{Page: 1, PDF: []byte("not a PDF")}}, {{Page: 1}}} {
		if _, err := Overlay(doc, bad, 0); err == nil {
			t.Errorf("page %d, %q: no error", bad[0].Page, bad[0].PDF)
		}
	}
	if _, err := Overlay([]byte("%PDF-1.4 nothing"), nil, 0); err == nil {
		t.Error("a damaged document: no error")
	}
}
