package convert

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// pageTexts is the text of each page of pdf, as PDF → TXT reads it.
func pageTexts(tb testing.TB, pdf []byte) []string {
	tb.Helper()
	n, err := qpdf.Pages(qpdf.Input{PDF: pdf})
	if err != nil {
		tb.Fatalf("count the result's pages: %v", err)
	}
	texts := make([]string, n)
	for i := range texts {
		res, err := converter(tb).Convert(context.Background(), "txt", pdf, wire.Options{Pages: fmt.Sprint(i + 1)})
		if err != nil {
			tb.Fatalf("PDF → TXT of page %d of the result: %v", i+1, err)
		}
		texts[i] = strings.TrimSpace(string(res.Output))
	}
	return texts
}

func mustPDF(tb testing.TB, pages ...string) []byte {
	tb.Helper()
	pdf, err := testfiles.TextPDF(pages...)
	if err != nil {
		tb.Fatal(err)
	}
	return pdf
}

// TestMergeFiles: a JPEG, a PDF and a text become one PDF, in their order;
// the JPEG is in it byte for byte; splitting it at the inputs' bounds gives
// back each input's pages.
func TestMergeFiles(t *testing.T) {
	jpg := mustEncode(t, testfiles.Photo(64, 48), testfiles.JPEG)
	pdf := mustPDF(t, "alpha page", "beta page")
	text := []byte("gamma text\n")
	files := []File{{Name: "photo.jpg", Data: jpg}, {Name: "two.pdf", Data: pdf}, {Name: "notes.txt", Data: text}}
	res, err := converter(t).Run(context.Background(), Job{Target: "pdf", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != KindFiles || len(res.Warnings) != 0 {
		t.Errorf("kind %s, warnings %q", res.Kind, res.Warnings)
	}
	if !bytes.Contains(res.Output, jpg[2:]) {
		t.Error("the merged PDF does not hold the JPEG's bytes as they were")
	}
	texts := pageTexts(t, res.Output)
	if len(texts) != 4 || !strings.Contains(texts[1], "alpha") || !strings.Contains(texts[2], "beta") || !strings.Contains(texts[3], "gamma") {
		t.Fatalf("pages %q, want the photo's, alpha, beta, gamma", texts)
	}
	split, err := converter(t).Run(context.Background(), Job{Target: "pdf", Name: "book.pdf", Input: res.Output, Options: wire.Options{Split: "1,2-3,4"}})
	if err != nil {
		t.Fatal(err)
	}
	parts := zipPages(t, split)
	var names []string
	for _, p := range parts {
		names = append(names, p.name)
	}
	if want := []string{"book-p001.pdf", "book-p002-003.pdf", "book-p004.pdf"}; !slices.Equal(names, want) {
		t.Fatalf("split into %q, want %q", names, want)
	}
	if got := pageTexts(t, parts[1].data); !slices.Equal(got, pageTexts(t, pdf)) {
		t.Errorf("pages 2-3 read %q, the PDF merged read %q", got, pageTexts(t, pdf))
	}
	if got := pageTexts(t, parts[2].data); len(got) != 1 || !strings.Contains(got[0], "gamma") {
		t.Errorf("page 4 reads %q", got)
	}
}

// TestLeftBehindWarnings: merging, splitting and picking pages keep pages,
// not a document's bookmarks, and the result says so, naming the file.
func TestLeftBehindWarnings(t *testing.T) {
	outlined, err := testfiles.OutlinedPDF("first page", "second page")
	if err != nil {
		t.Fatal(err)
	}
	plain := mustPDF(t, "plain page")
	c := converter(t)
	files := []File{{Name: "plain.pdf", Data: plain}, {Name: "book.pdf", Data: outlined}}
	res, err := c.Run(context.Background(), Job{Target: "pdf", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"file 2 (book.pdf): its bookmarks (outline) are not in the merged PDF"}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("merge: warnings %q; want %q", res.Warnings, want)
	}
	want = []string{"the PDF's bookmarks (outline) are not in the pages taken from it"}
	for _, opts := range []wire.Options{{Pages: "2"}, {Pages: "1,2"}, {Split: wire.SplitEach}} {
		res, err := c.Run(context.Background(), Job{Target: "pdf", Input: outlined, Options: opts})
		if err != nil || !slices.Equal(res.Warnings, want) {
			t.Errorf("%+v: warnings %q, %v; want %q", opts, res.Warnings, err, want)
		}
	}
	if res, err := c.Run(context.Background(), Job{Target: "pdf", Input: outlined}); err != nil || len(res.Warnings) != 0 {
		t.Errorf("a rewrite keeps the outline, yet warns %q (%v)", res.Warnings, err)
	}
}

// TestSplitAndPick: split=each, and pages= picking pages into one PDF.
func TestSplitAndPick(t *testing.T) {
	pdf, err := testfiles.PDF(5)
	if err != nil {
		t.Fatal(err)
	}
	c := converter(t)
	res, err := c.Run(context.Background(), Job{Target: "pdf", Input: pdf, Options: wire.Options{Split: wire.SplitEach}})
	if err != nil {
		t.Fatal(err)
	}
	parts := zipPages(t, res)
	if len(parts) != 5 || parts[4].name != "page-p005.pdf" {
		t.Fatalf("split=each gave %d parts, the last %q", len(parts), parts[len(parts)-1].name)
	}
	picked := convertWith(t, "pdf", pdf, wire.Options{Pages: "2,4-"})
	all := pageTexts(t, pdf)
	if got := pageTexts(t, picked.Output); !slices.Equal(got, []string{all[1], all[3], all[4]}) {
		t.Errorf("pages=2,4- read %q", got)
	}
	_, err = c.Convert(context.Background(), "pdf", pdf, wire.Options{Split: "7-"})
	wantError(t, err, fail.BadRequest, "only 5 pages")
}

// TestEncryptedPDFs: without its password an encrypted PDF is refused in
// words that say what to do, a wrong one too; with it, the PDF comes out
// decrypted, alone or merged, and a part that fails is named.
func TestEncryptedPDFs(t *testing.T) {
	enc, err := testfiles.EncryptedPDF("secret")
	if err != nil {
		t.Fatal(err)
	}
	c := converter(t)
	_, err = c.Convert(context.Background(), "pdf", enc, wire.Options{})
	wantError(t, err, fail.BadRequest, "encrypted", "option password")
	_, err = c.Convert(context.Background(), "pdf", enc, wire.Options{Password: "wrong"})
	wantError(t, err, fail.BadRequest, "does not open")
	res := convertWith(t, "pdf", enc, wire.Options{Password: "secret"})
	if bytes.Contains(res.Output, []byte("/Encrypt")) {
		t.Error("the decrypted PDF still has /Encrypt")
	}
	if texts := pageTexts(t, res.Output); len(texts) != 1 || !strings.Contains(texts[0], strings.Fields(testfiles.PageText(1))[0]) {
		t.Errorf("the decrypted PDF reads %q", texts)
	}
	files := []File{{Name: "open.pdf", Data: mustPDF(t, "open")}, {Name: "locked.pdf", Data: enc}}
	_, err = c.Run(context.Background(), Job{Target: "pdf", Files: files})
	wantError(t, err, fail.BadRequest, "file 2 (locked.pdf) is encrypted")
	if _, err := c.Run(context.Background(), Job{Target: "pdf", Files: files, Options: wire.Options{Password: "secret"}}); err != nil {
		t.Errorf("merge with the password: %v", err)
	}
}

// TestHostilePDFTools: a damaged PDF is repaired with a warning or refused;
// garbage, too many files and a file that converts to no PDF are refused,
// each naming what is wrong.
func TestHostilePDFTools(t *testing.T) {
	c := converter(t)
	pdf := mustPDF(t, "repair me")
	// Cut the cross-reference table off: qpdf rebuilds it.
	cut := pdf[:bytes.LastIndex(pdf, []byte("xref"))]
	res := convertWith(t, "pdf", cut, wire.Options{})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "damaged and has been repaired") {
		t.Errorf("a PDF without its xref: warnings %q", res.Warnings)
	}
	_, err := c.Convert(context.Background(), "pdf", []byte("%PDF-1.7\n"+strings.Repeat("garbage ", 100)), wire.Options{})
	wantError(t, err, fail.ConversionFailed, "corrupt PDF")
	few := &Converter{cfg: Config{MaxFiles: 2}.WithDefaults(), font: c.font}
	three := []File{{Data: pdf}, {Data: pdf}, {Data: pdf}}
	_, err = few.Run(context.Background(), Job{Target: "pdf", Files: three})
	wantError(t, err, fail.LimitExceeded, "3 files", "max-files")
	zip := []byte("PK\x03\x04" + strings.Repeat("\x00", 40))
	_, err = c.Run(context.Background(), Job{Target: "pdf", Files: []File{{Name: "a.pdf", Data: pdf}, {Name: "b.zip", Data: zip}}})
	wantError(t, err, fail.TypeMismatch, "file 2 (b.zip)")
	if shared, err := os.ReadFile("../../../shared/testdata/pdf/libreoffice-28pages.pdf"); err == nil {
		res := convertWith(t, "pdf", shared, wire.Options{Pages: "28"})
		if texts := pageTexts(t, res.Output); len(texts) != 1 {
			t.Errorf("pages=28 of a real PDF: %d pages", len(texts))
		}
	}
}

func TestFileLabel(t *testing.T) {
	if got := fileLabel(1, "a\nb.pdf"); got != fmt.Sprintf("file 2 (%s)", wire.Printable("a\nb.pdf")) {
		t.Errorf("fileLabel: %q", got)
	}
}

// TestHundredThousandPages: a PDF of 100 000 (empty) pages is refused from
// the count of its page tree, whatever it is converted to, before any page
// is read.
func TestHundredThousandPages(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Count 100000 /Kids [")
	for i := range 100_000 {
		fmt.Fprintf(&b, "%d 0 R ", i+3)
	}
	b.WriteString("] >> endobj\n")
	for i := range 100_000 {
		fmt.Fprintf(&b, "%d 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >> endobj\n", i+3)
	}
	b.WriteString("trailer << /Root 1 0 R >>\n%%EOF\n")
	c := converter(t)
	for _, to := range []string{"png", "tiff", "pdf", "txt"} {
		_, err := c.Convert(context.Background(), to, b.Bytes(), wire.Options{})
		wantError(t, err, fail.LimitExceeded, "PDF has 100000 pages", "max-pdf-pages")
	}
}
