package convert

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// textRoundTrip converts text to PDF and back, returning the extracted text.
func textRoundTrip(tb testing.TB, text string) (string, Result) {
	tb.Helper()
	c := converter(tb)
	res := convertOK(tb, c, wire.OpTextToPDF, []byte(text))
	if Detect(res.Output) != KindPDF {
		tb.Fatalf("output starts %q, not a PDF", res.Output[:min(len(res.Output), 16)])
	}
	back := convertOK(tb, c, wire.OpPDFToText, res.Output)
	return string(back.Output), res
}

// nonEmptyLines returns the lines of s that hold text, trimmed.
func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestTextRoundTripKeepsWords(t *testing.T) {
	text := testfiles.Paragraphs(30_000)
	got, res := textRoundTrip(t, text)
	if w, h := firstPagePt(t, res.Output); w != 595 || h != 842 {
		t.Errorf("the pages are %d×%d pt, not A4", w, h)
	}
	if res.Replaced != 0 {
		t.Errorf("Replaced = %d, want 0: DejaVu Sans draws Latin, Greek and Cyrillic", res.Replaced)
	}
	want := words(text)
	if g := words(got); strings.Join(g, " ") != strings.Join(want, " ") {
		t.Errorf("words differ after TXT → PDF → TXT: %.4f of %d in order", inOrder(want, g), len(want))
	}
}

func TestTextParagraphRule(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // the lines of the extracted text
	}{
		{"lines joined, blank line separates",
			"alpha beta\ngamma\n\ndelta\nepsilon\n",
			[]string{"alpha beta gamma", "delta epsilon"}},
		{"whitespace-only line separates",
			"one\n  \t \ntwo\n",
			[]string{"one", "two"}},
		{"indentation and trailing spaces trimmed",
			"   first line   \n\tsecond line\n",
			[]string{"first line second line"}},
		// Poppler joins a line of one-letter words as if letter-spaced ("a b"
		// comes back "ab"), so the words here are longer.
		{"CR LF and CR line ends",
			"aa\r\nbb\r\n\r\ncc\rdd\r\ree",
			[]string{"aa bb", "cc dd", "ee"}},
		{"several blank lines are one break",
			"x\n\n\n\n\ny",
			[]string{"x", "y"}},
		{"paragraph separator",
			"p one\u2029p two",
			[]string{"p one", "p two"}},
		{"BOM stripped",
			"\uFEFFBOM text",
			[]string{"BOM text"}},
		// A tab becomes four spaces, a gap poppler reads as a column break.
		{"control characters dropped, tab is spaces",
			"bell\x07ed\tand\x1b escaped\x7f",
			[]string{"belled", "and escaped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := textRoundTrip(t, tt.in)
			lines := nonEmptyLines(got)
			// Extraction may render runs of spaces as one; compare words per line.
			var norm []string
			for _, l := range lines {
				norm = append(norm, strings.Join(strings.Fields(l), " "))
			}
			if strings.Join(norm, "|") != strings.Join(tt.want, "|") {
				t.Errorf("extracted lines %q, want %q", norm, tt.want)
			}
		})
	}
}

// TestTextRewrap: a paragraph written as many short lines is set as full lines,
// and a long one wraps within the margins onto more pages.
func TestTextRewrap(t *testing.T) {
	short := strings.Repeat("two words\n", 40)
	got, _ := textRoundTrip(t, short)
	if n := len(nonEmptyLines(got)); n > 6 {
		t.Errorf("40 short lines of one paragraph came out as %d lines, want them joined into a few full ones", n)
	}
	if w := words(got); len(w) != 80 {
		t.Errorf("got %d words, want 80", len(w))
	}
}

// TestTextV1DrawsWhatDejaVuCannot: a protocol v1.0 client's CJK and emoji,
// which the original drew as boxes and the fast path as U+FFFD, are typeset
// with the fonts that have them.
func TestTextV1DrawsWhatDejaVuCannot(t *testing.T) {
	text := "漢字 and emoji 😀 and 🇫🇷 and ok é ж λ"
	got, res := textRoundTrip(t, text)
	if res.Replaced != 0 {
		t.Errorf("Replaced = %d, want 0", res.Replaced)
	}
	if g := strings.Join(words(got), " "); g != text {
		t.Errorf("extracted %q, want %q", g, text)
	}
}

func TestTextLongLineWithoutSpaces(t *testing.T) {
	long := strings.Repeat("abcdefghijklmnopqrstuvwxyzαβγδεζηθικλμνξοπρστυφχψω", 4000) // 200 000 letters
	got, res := textRoundTrip(t, long)
	if n := pdfPages(t, res.Output); n < 10 {
		t.Errorf("200 000 letters fit on %d pages", n)
	}
	if g := strings.Join(strings.Fields(got), ""); g != long {
		t.Errorf("a word broken across lines lost or gained letters: %d letters back, want %d", len([]rune(g)), len([]rune(long)))
	}
}

// TestTextLinearTime guards against a quadratic layout: four times the text
// must not cost much more than four times the time.
func TestTextLinearTime(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	c := converter(t)
	measure := func(n int) time.Duration {
		in := bytes.Repeat([]byte("x"), n)
		best := time.Duration(1 << 62)
		for i := 0; i < 3; i++ {
			start := time.Now()
			convertOK(t, c, wire.OpTextToPDF, in)
			best = min(best, time.Since(start))
		}
		return best
	}
	small, large := measure(256<<10), measure(1<<20)
	if ratio := float64(large) / float64(small); ratio > 10 {
		t.Errorf("1 MiB took %v, 256 KiB %v: %.1f× for 4× the text", large, small, ratio)
	}
}

func TestTextDeterministic(t *testing.T) {
	c := converter(t)
	in := []byte(testfiles.Paragraphs(5000))
	a := convertOK(t, c, wire.OpTextToPDF, in).Output
	time.Sleep(1100 * time.Millisecond) // a timestamp would now differ
	b := convertOK(t, c, wire.OpTextToPDF, in).Output
	if !bytes.Equal(a, b) {
		t.Error("the same text gave different PDFs")
	}
}

func TestTextWhitespaceOnly(t *testing.T) {
	got, res := textRoundTrip(t, " \n\t\n \r\n")
	if strings.TrimSpace(got) != "" {
		t.Errorf("extracted %q from a blank document", got)
	}
	if !bytes.HasPrefix(res.Output, []byte("%PDF-")) {
		t.Error("no PDF for a whitespace-only text")
	}
}

func TestTextCancelled(t *testing.T) {
	c := converter(t)
	in := []byte(testfiles.Paragraphs(50_000))
	// One look before detection, then one per paragraph: stop at the tenth.
	_, err := convertOp(c, cancelAfter(10), wire.OpTextToPDF, in)
	wantError(t, err, fail.Timeout, "conversion cancelled")

	// Inside one huge paragraph, ctx is looked at every few hundred lines.
	long := bytes.Repeat([]byte("word "), 400_000)
	_, err = convertOp(c, cancelAfter(2), wire.OpTextToPDF, long)
	wantError(t, err, fail.Timeout, "conversion cancelled")
}

func TestFontCoverage(t *testing.T) {
	f, err := loadTextFont()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "aZé€ßŁΩжЖ—“”…\uFFFD" {
		if !f.has(r) {
			t.Errorf("DejaVu Sans should draw %q (U+%04X)", r, r)
		}
	}
	for _, r := range "漢字かな한\U0001F600\x00\x1f\u0085" {
		if f.has(r) {
			t.Errorf("%q (U+%04X) should count as not drawable", r, r)
		}
	}
	if f.replacement != '\uFFFD' {
		t.Errorf("replacement = %q, want U+FFFD", f.replacement)
	}
	if f.widths['M'] == 0 || f.widths['i'] >= f.widths['M'] {
		t.Errorf("widths look wrong: M=%d i=%d", f.widths['M'], f.widths['i'])
	}
}

// pdfPages reads the page count of a PDF written by fpdf.
func pdfPages(tb testing.TB, pdf []byte) int {
	tb.Helper()
	n, err := qpdf.Pages(qpdf.Input{PDF: pdf})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// firstPagePt is the size of pdf's first page in points, as poppler renders
// it at 72 dpi.
func firstPagePt(tb testing.TB, pdf []byte) (w, h int) {
	tb.Helper()
	img, err := libvips.Load(pdf, "page=0")
	if err != nil {
		tb.Fatal(err)
	}
	defer img.Close()
	return img.Width(), img.Height()
}
