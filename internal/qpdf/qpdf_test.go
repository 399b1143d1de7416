package qpdf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
)

func TestVersion(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "11.") {
		t.Errorf("qpdf %q; the binding is written for qpdf 11", v)
	}
}

// TestPagesOfRealPDFs: qpdf counts the pages pdftotext finds in every real
// PDF (a form feed after each page of the reference text).
func TestPagesOfRealPDFs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(realPDFs, "*.pdf"))
	if len(files) == 0 {
		t.Skip("no PDFs in " + realPDFs)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := os.ReadFile(strings.TrimSuffix(f, ".pdf") + ".pdftotext.txt")
		if err != nil {
			t.Fatal(err)
		}
		n, err := Pages(Input{PDF: in})
		if want := bytes.Count(ref, []byte("\f")); err != nil || n != want {
			t.Errorf("%s: %d pages, %v; want %d", filepath.Base(f), n, err, want)
		}
	}
}

// TestMergeThenSplit: merging real PDFs keeps every page and the text of each
// input in order; splitting the result at the inputs' boundaries gives back
// each input's pages and text.
func TestMergeThenSplit(t *testing.T) {
	inputs := [][]byte{
		realPDF(t, "libreoffice-28pages.pdf"),
		realPDF(t, "reportlab-unicode.pdf"),
		generated(t, 3),
	}
	var want strings.Builder
	var ranges []Range
	total := 0
	for _, in := range inputs {
		want.WriteString(pdftotext(t, in))
		n, err := Pages(Input{PDF: in})
		if err != nil {
			t.Fatal(err)
		}
		ranges = append(ranges, Range{First: total + 1, Last: total + n})
		total += n
	}
	merged, err := Merge([]Input{{PDF: inputs[0]}, {PDF: inputs[1]}, {PDF: inputs[2]}})
	if err != nil {
		t.Fatal(err)
	}
	if merged.Repaired {
		t.Errorf("merging sound files repaired something: %q", merged.Warnings)
	}
	checkClean(t, merged.PDF)
	if n, err := Pages(Input{PDF: merged.PDF}); err != nil || n != total {
		t.Errorf("merged: %d pages, %v; want %d", n, err, total)
	}
	if got := pdftotext(t, merged.PDF); got != want.String() {
		t.Errorf("merged text differs from the inputs' text in order:\n%.300q\nwant\n%.300q", got, want.String())
	}
	parts, err := Split(Input{PDF: merged.PDF}, ranges)
	if err != nil {
		t.Fatal(err)
	}
	for i, part := range parts {
		checkClean(t, part.PDF)
		r := ranges[i]
		if n := pdftotextPages(t, part.PDF); n != r.Last-r.First+1 {
			t.Errorf("part %d: %d pages; want %d", i+1, n, r.Last-r.First+1)
		}
		if got, want := pdftotext(t, part.PDF), pdftotext(t, inputs[i]); got != want {
			t.Errorf("part %d: text differs from input %d's:\n%.300q\nwant\n%.300q", i+1, i+1, got, want)
		}
	}
}

// TestSplitRanges: ranges to the end, single pages, overlapping and
// reordered ranges each give their own PDF; ranges outside the document are
// ErrRange before any work.
func TestSplitRanges(t *testing.T) {
	in := Input{PDF: generated(t, 5)}
	parts, err := Split(in, []Range{{4, 0}, {2, 2}, {1, 3}, {3, 5}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{4, 5}, {2}, {1, 2, 3}, {3, 4, 5}}
	for i, part := range parts {
		text := pdftotext(t, part.PDF)
		if n := strings.Count(text, "\f"); n != len(want[i]) {
			t.Errorf("part %d: %d pages; want %d", i+1, n, len(want[i]))
		}
		for _, p := range want[i] {
			if !strings.Contains(text, testfiles.PageText(p)[:15]) {
				t.Errorf("part %d lacks page %d's heading", i+1, p)
			}
		}
	}
	for _, bad := range [][]Range{nil, {{0, 1}}, {{1, 6}}, {{6, 0}}, {{3, 2}}, {{1, -1}}} {
		if _, err := Split(in, bad); !errors.Is(err, ErrRange) {
			t.Errorf("Split(%v): %v; want ErrRange", bad, err)
		}
	}
}

// TestDeterministic: the same input gives the same bytes.
func TestDeterministic(t *testing.T) {
	a, b := realPDF(t, "libreoffice-unicode.pdf"), realPDF(t, "fpdf-unicode.pdf")
	for name, run := range map[string]func() (Output, error){
		"rewrite": func() (Output, error) { return Rewrite(Input{PDF: a}) },
		"merge":   func() (Output, error) { return Merge([]Input{{PDF: a}, {PDF: b}}) },
	} {
		first, err := run()
		if err != nil {
			t.Fatal(err)
		}
		second, err := run()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.PDF, second.PDF) {
			t.Errorf("%s: two runs gave different bytes", name)
		}
	}
}

// TestRewriteRealPDFs: the rewritten file is clean, has the same text, and
// declares at least the input's PDF version.
func TestRewriteRealPDFs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(realPDFs, "*.pdf"))
	if len(files) == 0 {
		t.Skip("no PDFs in " + realPDFs)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Rewrite(Input{PDF: in})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		checkClean(t, out.PDF)
		if got, want := pdftotext(t, out.PDF), pdftotext(t, in); got != want {
			t.Errorf("%s: rewritten text differs", filepath.Base(f))
		}
		t.Logf("%s: %d bytes rewritten to %d (%s → %s)", filepath.Base(f), len(in), len(out.PDF), in[:8], out.PDF[:8])
	}
}

// TestMergeKeepsInputVersion: a merge declares the highest version of its
// inputs, not the 1.3 of the empty file it starts from.
func TestMergeKeepsInputVersion(t *testing.T) {
	in := realPDF(t, "libreoffice-unicode.pdf") // PDF 1.6 (Writer)
	out, err := Merge([]Input{{PDF: zeroPagePDF()}, {PDF: in}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.PDF, in[:8]) {
		t.Errorf("merged header %q; want the input's %q", out.PDF[:8], in[:8])
	}
}

// TestZeroPages: a document without pages counts 0, adds nothing to a merge,
// rewrites, and has no range to split.
func TestZeroPages(t *testing.T) {
	empty := Input{PDF: zeroPagePDF()}
	if n, err := Pages(empty); n != 0 || err != nil {
		t.Errorf("Pages: %d, %v; want 0", n, err)
	}
	out, err := Merge([]Input{empty, {PDF: generated(t, 2)}, empty})
	if err != nil {
		t.Fatal(err)
	}
	if n := pdftotextPages(t, out.PDF); n != 2 {
		t.Errorf("merge: %d pages; want 2", n)
	}
	if out, err = Merge([]Input{empty}); err != nil {
		t.Fatal(err)
	}
	if n, err := Pages(Input{PDF: out.PDF}); n != 0 || err != nil {
		t.Errorf("merge of an empty document: %d pages, %v; want 0", n, err)
	}
	if _, err := Rewrite(empty); err != nil {
		t.Errorf("Rewrite: %v", err)
	}
	if _, err := Split(empty, []Range{{1, 0}}); !errors.Is(err, ErrRange) {
		t.Errorf("Split: %v; want ErrRange", err)
	}
	if _, err := Merge(nil); err == nil {
		t.Error("a merge of nothing succeeded")
	}
}

// TestPageAddedTwice: the same input merged twice, the same page split into
// two ranges, and a page tree that lists one page twice all give as many
// pages as asked for, each page its own object.
func TestPageAddedTwice(t *testing.T) {
	one := Input{PDF: generated(t, 1)}
	out, err := Merge([]Input{one, one})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, out.PDF)
	if n := pdftotextPages(t, out.PDF); n != 2 {
		t.Errorf("the same input twice: %d pages; want 2", n)
	}
	dup := Input{PDF: duplicatePagePDF()}
	n, err := Pages(dup)
	if err != nil || n != 2 {
		t.Errorf("a page tree listing a page twice: %d pages, %v; want 2", n, err)
	}
	out, err = Merge([]Input{dup, dup})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, out.PDF)
	if text := pdftotext(t, out.PDF); strings.Count(text, "Twice on the page tree") != 4 {
		t.Errorf("merge of a page listed twice, twice: text %q; want the page 4 times", text)
	}
	t.Logf("warnings on a page listed twice: %q", out.Warnings)
	parts, err := Split(dup, []Range{{1, 2}, {2, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if n := pdftotextPages(t, parts[0].PDF); n != 2 {
		t.Errorf("split 1-2 of a page listed twice: %d pages; want 2", n)
	}
}

// TestMergeKeepsAnnotations: a page's link and form field come along into a
// merge (qpdf copies what a page refers to), with the field's value.
func TestMergeKeepsAnnotations(t *testing.T) {
	out, err := Merge([]Input{{PDF: generated(t, 1)}, {PDF: formPDF()}})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, out.PDF)
	// qdf mode writes every object uncompressed, as text to search.
	code, text := qpdfCLI(t, out.PDF, "--qdf", "--object-streams=disable", "-")
	if code != 0 {
		t.Fatalf("qpdf --qdf exits %d", code)
	}
	for _, want := range []string{"/URI (https://example.org/linked)", "/Subtype /Widget", "/V (Ada Lovelace)"} {
		if !strings.Contains(text, want) {
			t.Errorf("merged file lacks %s", want)
		}
	}
	if text := pdftotext(t, out.PDF); !strings.Contains(text, "A page with a form") {
		t.Errorf("merged text %q lacks the form page's", text)
	}
}

// TestLeftBehind: a merge and a split say which inputs had an outline or a
// form's fields, which copying pages leaves behind; an empty outline and a
// form without fields are nothing lost.
func TestLeftBehind(t *testing.T) {
	outlined := rawPDF(
		"<< /Type /Catalog /Pages 2 0 R /Outlines 5 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "+helvetica+" /Contents 4 0 R >>",
		textContent("A page with a bookmark"),
		"<< /Type /Outlines /First 6 0 R /Last 6 0 R /Count 1 >>",
		"<< /Title (Chapter 1) /Parent 5 0 R /Dest [3 0 R /Fit] >>",
	)
	hollow := rawPDF(
		"<< /Type /Catalog /Pages 2 0 R /Outlines << /Type /Outlines /Count 0 >> /AcroForm << /Fields [] >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
	)
	out, err := Merge([]Input{{PDF: generated(t, 1)}, {PDF: outlined}, {PDF: hollow}, {PDF: formPDF()}})
	if err != nil {
		t.Fatal(err)
	}
	want := []LeftBehind{{Input: 1, Part: Outline}, {Input: 3, Part: Form}}
	if !slices.Equal(out.Left, want) {
		t.Errorf("merge left %v behind; want %v", out.Left, want)
	}
	parts, err := Split(Input{PDF: outlined}, []Range{{First: 1, Last: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []LeftBehind{{Part: Outline}}; !slices.Equal(parts[0].Left, want) {
		t.Errorf("split left %v behind; want %v", parts[0].Left, want)
	}
	if out, err := Rewrite(Input{PDF: outlined}); err != nil || len(out.Left) != 0 {
		t.Errorf("a rewrite keeps the whole document: %v, %v", out.Left, err)
	}
}

// TestConcurrent: calls running at once give what they give one at a time.
func TestConcurrent(t *testing.T) {
	inputs := [][]byte{realPDF(t, "libreoffice-unicode.pdf"), realPDF(t, "fpdf-unicode.pdf"), generated(t, 4), formPDF()}
	want := make([][]byte, len(inputs))
	for i, in := range inputs {
		out, err := Rewrite(Input{PDF: in})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = out.PDF
	}
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				out, err := Rewrite(Input{PDF: in})
				if err != nil || !bytes.Equal(out.PDF, want[i]) {
					t.Errorf("input %d at the same time as others: %v, or other bytes", i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkMerge10Pages(b *testing.B) {
	one, two := Input{PDF: generated(b, 10)}, Input{PDF: generated(b, 10)}
	b.SetBytes(int64(len(one.PDF) + len(two.PDF)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge([]Input{one, two}); err != nil {
			b.Fatal(err)
		}
	}
}
