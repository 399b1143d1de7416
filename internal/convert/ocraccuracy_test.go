package convert

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/fileconv/fileconv/internal/wire"
)

// Issue 17's proof of accuracy: pages of the real text PDFs, rendered as a
// scanner would deliver them, read back by OCR through the converter, and
// judged by the recall of pdftotext's words for the original page.

// ocrSample is a page of a PDF of ../shared/testdata/pdf and the words
// recall its OCR must reach.
type ocrSample struct {
	pdf  string
	page int
	// min is the recall required at 200 and at 300 dpi.
	min float64
	// ascii judges only the reference's words of ASCII letters and digits:
	// the page's other scripts are beyond the one language model installed
	// (eng), so their words cannot be read, and how the eng model spells
	// "ł" or "ß" (it has no such letters) is no measure of fileconv.
	ascii bool
}

// ocrSamples are a sample, not every page: a page costs four OCR runs (two
// resolutions, as PNG and as an image-only PDF) of 1 to 3 s each on one
// core, and the test should stay within about a minute on 2 cores with the
// race detector. Measured with the tesseract command over every fifth page
// of libreoffice-28pages and every tenth of pdftex-r-intro, the prose pages
// read at 99–100 % and the code-heavy ones at 97–99 %; the sample takes one
// of each kind and the one kind of page that falls below 95 %.
var ocrSamples = []ocrSample{
	// LibreOffice prose (the GPL): the first page, and the last, with its
	// short lines and "CC0".
	{pdf: "libreoffice-28pages.pdf", page: 1, min: 0.95},
	{pdf: "libreoffice-28pages.pdf", page: 28, min: 0.95},
	// TeX: prose with inline maths, and a page mostly of R code in a
	// typewriter face.
	{pdf: "pdftex-r-intro.pdf", page: 15, min: 0.95},
	{pdf: "pdftex-r-intro.pdf", page: 55, min: 0.95},
	// A page with a plot: pdftotext finds its 16 axis tick labels ("4.0",
	// "−2"), set in about 4 pt and, on the vertical axis, turned 90°;
	// Tesseract does not read them at 200, 300 or 400 dpi, or in any page
	// segmentation mode but the sparse-text one (the tesseract command gets
	// 93 % here as fileconv does). The text around the plot is read whole,
	// so the bar is what the page allows, not 95 %.
	{pdf: "pdftex-r-intro.pdf", page: 45, min: 0.90},
	// The same multi-script text from three producers: only its ASCII words
	// (about a fifth) count, see ascii; the recall of all its words, about
	// 23 %, is logged.
	{pdf: "fpdf-unicode.pdf", page: 1, min: 0.95, ascii: true},
	{pdf: "libreoffice-unicode.pdf", page: 1, min: 0.95, ascii: true},
	{pdf: "reportlab-unicode.pdf", page: 1, min: 0.95, ascii: true},
}

// TestOCRAccuracy renders each sample page at 200 and 300 dpi to PNG (the
// converter's PDF to png), makes an image-only PDF of each PNG (png to pdf),
// reads both by OCR (to txt) and compares their words with pdftotext's.
func TestOCRAccuracy(t *testing.T) {
	skipWithoutOCR(t)
	if testing.Short() {
		t.Skip("reads 32 pictures by OCR, about a minute: not in -short")
	}
	if _, err := os.Stat(realPDFs); err != nil {
		t.Skipf("no %s: the shared test data is not checked out", realPDFs)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("no pdftotext (Debian poppler-utils) to give the reference text")
	}
	c := converter(t)
	for _, s := range ocrSamples {
		t.Run(fmt.Sprintf("%s/p%d", strings.TrimSuffix(s.pdf, ".pdf"), s.page), func(t *testing.T) {
			t.Parallel() // the two cores: each case reads on one
			pdf, err := os.ReadFile(filepath.Join(realPDFs, s.pdf))
			if err != nil {
				t.Fatal(err)
			}
			ref := pdftotextPage(t, filepath.Join(realPDFs, s.pdf), s.page)
			for _, dpi := range []int{200, 300} {
				for _, form := range []string{"png", "pdf"} {
					checkOCRRecall(t, c, pdf, s, dpi, form, ref)
				}
			}
		})
	}
}

// checkOCRRecall reads page s of pdf, rendered at dpi, as a PNG (form "png")
// or as an image-only PDF of that PNG (form "pdf"), and checks the recall of
// the words of refText, pdftotext's text of the page.
func checkOCRRecall(t *testing.T, c *Converter, pdf []byte, s ocrSample, dpi int, form, refText string) {
	t.Helper()
	ctx := context.Background()
	png, err := c.Convert(ctx, "png", pdf, wire.Options{DPI: dpi, Pages: fmt.Sprint(s.page)})
	if err != nil {
		t.Fatalf("render at %d dpi: %v", dpi, err)
	}
	scan := png.Output
	if form == "pdf" {
		res, err := c.Convert(ctx, "pdf", png.Output, wire.Options{})
		if err != nil {
			t.Fatalf("PNG of %d dpi to PDF: %v", dpi, err)
		}
		scan = res.Output
		// A scan has no text layer: what follows is OCR's alone.
		never, err := c.Convert(ctx, "txt", scan, wire.Options{OCR: wire.OCRNever})
		if err != nil || strings.TrimSpace(string(never.Output)) != "" {
			t.Fatalf("the image-only PDF has text without OCR: %q, %v", never.Output, err)
		}
	}
	start := time.Now()
	res, err := c.Convert(ctx, "txt", scan, wire.Options{})
	if err != nil {
		t.Fatalf("%s of %d dpi to txt: %v", form, dpi, err)
	}
	took := time.Since(start)
	got := ocrWords(string(res.Output), false)
	ref := ocrWords(refText, s.ascii)
	recall, missing := wordsRecall(ref, got)
	msg := fmt.Sprintf("%3d dpi %s: recall %5.1f%% of %d words (%v); missing %q",
		dpi, form, 100*recall, total(ref), took.Round(10*time.Millisecond), firstN(missing, 20))
	if s.ascii {
		// The words beyond eng, not judged, but not hidden either.
		all := ocrWords(refText, false)
		allRecall, _ := wordsRecall(all, got)
		msg += fmt.Sprintf("; of all %d words, every script: %.1f%%", total(all), 100*allRecall)
	}
	if recall < s.min {
		t.Errorf("%s, want at least %.0f%%", msg, 100*s.min)
		return
	}
	t.Log(msg)
}

// pdftotextPage is poppler's pdftotext of one page of the PDF at path.
func pdftotextPage(t *testing.T, path string, page int) string {
	t.Helper()
	n := fmt.Sprint(page)
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", "-f", n, "-l", n, path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext -f %d %s: %v", page, path, err)
	}
	return string(out)
}

// ligatures are the letters pdfTeX and LibreOffice may leave as one code
// point that OCR reads as two or three.
var ligatures = strings.NewReplacer("ﬀ", "ff", "ﬁ", "fi", "ﬂ", "fl", "ﬃ", "ffi", "ﬄ", "ffl", "ﬅ", "st", "ﬆ", "st")

// ocrWords counts the words of s as OCR is judged: in lower case, split at
// everything that is neither a letter nor a digit, so that punctuation,
// quotes, dashes, hyphenation and line breaks, which pdftotext and OCR
// render differently, cost nothing; only ASCII words when ascii.
func ocrWords(s string, ascii bool) map[string]int {
	s = strings.ToLower(ligatures.Replace(s))
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if ascii && !isASCII(w) {
			continue
		}
		counts[w]++
	}
	return counts
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// wordsRecall is the fraction of ref's words (a multiset) found in got, and
// the words not found, sorted.
func wordsRecall(ref, got map[string]int) (float64, []string) {
	found := 0
	var missing []string
	for _, w := range slices.Sorted(maps.Keys(ref)) {
		n := ref[w]
		found += min(n, got[w])
		for range n - min(n, got[w]) {
			missing = append(missing, w)
		}
	}
	if total(ref) == 0 {
		return 1, nil
	}
	return float64(found) / float64(total(ref)), missing
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func firstN(s []string, n int) []string { return s[:min(n, len(s))] }

// The words judged: case, punctuation and ligatures do not count, repeated
// words count as often as they occur.
func TestOCRWords(t *testing.T) {
	ref := ocrWords("The ﬁrst “office”—of the\nwell-known Łódź office.", false)
	got := ocrWords("the first office of The well known Lodz", false)
	recall, missing := wordsRecall(ref, got)
	if want := []string{"office", "łódź"}; recall != 7.0/9 || !slices.Equal(missing, want) {
		t.Errorf("recall %v, missing %q; want 7/9, %q", recall, missing, want)
	}
	if ascii := ocrWords("Zażółć gęślą jaźń: Łódź, Kraków 2024", true); !maps.Equal(ascii, map[string]int{"2024": 1}) {
		t.Errorf("ASCII words: %v", ascii)
	}
}
