package qpdf

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
)

// TestEncrypted: an AES-256 file made by the qpdf command opens only with its
// user or owner password, and Rewrite decrypts it; a file with an empty user
// password (only an owner password) opens without one.
func TestEncrypted(t *testing.T) {
	plain := realPDF(t, "libreoffice-unicode.pdf")
	want := pdftotext(t, plain)
	locked := encrypt(t, plain, "user-pw", "owner-pw")
	for _, pw := range []string{"", "wrong", "user-pw\x00"} {
		if _, err := Rewrite(Input{PDF: locked, Password: pw}); !errors.Is(err, ErrPassword) {
			t.Errorf("password %q: %v; want ErrPassword", pw, err)
		}
	}
	_, err := Merge([]Input{{PDF: plain}, {PDF: locked, Password: "wrong"}})
	if !errors.Is(err, ErrPassword) || !strings.Contains(err.Error(), "input 2") {
		t.Errorf("merge with a wrong password for input 2: %v; want ErrPassword naming input 2", err)
	}
	for _, pw := range []string{"user-pw", "owner-pw"} {
		out, err := Rewrite(Input{PDF: locked, Password: pw})
		if err != nil {
			t.Fatalf("password %q: %v", pw, err)
		}
		checkClean(t, out.PDF)
		if got := pdftotext(t, out.PDF); got != want {
			t.Errorf("password %q: decrypted text %.200q; want %.200q", pw, got, want)
		}
	}
	ownerOnly := encrypt(t, plain, "", "owner-pw")
	out, err := Rewrite(Input{PDF: ownerOnly})
	if err != nil {
		t.Fatalf("owner password only, none given: %v", err)
	}
	checkClean(t, out.PDF)
	if got := pdftotext(t, out.PDF); got != want {
		t.Errorf("owner password only: text %.200q; want %.200q", got, want)
	}
}

// TestEncryptedRC4: fpdf's 40-bit RC4 encryption, as in PDFs from older tools.
func TestEncryptedRC4(t *testing.T) {
	locked, err := testfiles.EncryptedPDF("secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pages(Input{PDF: locked}); !errors.Is(err, ErrPassword) {
		t.Errorf("no password: %v; want ErrPassword", err)
	}
	parts, err := Split(Input{PDF: locked, Password: "secret"}, []Range{{1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, parts[0].PDF)
	if text := pdftotext(t, parts[0].PDF); !strings.Contains(text, "Page 1 heading") {
		t.Errorf("decrypted page: %q", text)
	}
}

// damagedOK accepts the two outcomes a damaged file may have: qpdf repaired
// it (and said so), and the result is a clean PDF that pdftotext reads with
// minPages pages at least; or ErrDamaged. Nothing else.
func damagedOK(t *testing.T, name string, in []byte, minPages int) (repaired bool) {
	t.Helper()
	out, err := Rewrite(Input{PDF: in})
	if err != nil {
		if !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: %v; want a repair or ErrDamaged", name, err)
		}
		t.Logf("%s: %v", name, err)
		return false
	}
	if !out.Repaired || len(out.Warnings) == 0 {
		t.Errorf("%s: rewritten without a word of repair", name)
	}
	checkClean(t, out.PDF)
	if n := pdftotextPages(t, out.PDF); n < minPages {
		t.Errorf("%s: repaired to %d pages; want %d at least", name, n, minPages)
	}
	t.Logf("%s: repaired (%d bytes), warnings %q", name, len(out.PDF), out.Warnings)
	return true
}

// TestTruncated: a real PDF cut at 80% loses its cross-reference table and
// trailer, which LibreOffice writes at the end.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"libreoffice-28pages.pdf", "pdftex-r-intro.pdf", "reportlab-unicode.pdf"} {
		in := realPDF(t, name)
		damagedOK(t, name+" cut at 80%", in[:len(in)*8/10], 1)
	}
	in := generated(t, 3)
	damagedOK(t, "fpdf PDF cut at 80%", in[:len(in)*8/10], 1)
}

// xrefTable matches a classic cross-reference table's entries.
var xrefTable = regexp.MustCompile(`(?s)\nxref\n.*?trailer`)

// TestXrefDamaged: without its cross-reference table, or with the table's
// offsets garbled, or with startxref pointing nowhere, qpdf rebuilds the
// table by scanning the objects: a repair, every page kept.
func TestXrefDamaged(t *testing.T) {
	in := generated(t, 3)
	loc := xrefTable.FindIndex(in)
	if loc == nil {
		t.Fatal("no xref table in fpdf's output")
	}
	removed := bytes.Clone(in)
	for i := loc[0] + 1; i < loc[1]-len("trailer"); i++ {
		removed[i] = ' '
	}
	garbled := bytes.Clone(in)
	for i := loc[0] + len("\nxref\n"); i < loc[1]-len("trailer"); i++ {
		if garbled[i] >= '0' && garbled[i] <= '9' {
			garbled[i] = '0' + byte(i*7%10)
		}
	}
	startxref := regexp.MustCompile(`startxref\s+\d+`).ReplaceAll(bytes.Clone(in), []byte("startxref\n12"))
	for name, damaged := range map[string][]byte{"removed": removed, "garbled": garbled, "startxref": startxref} {
		if !damagedOK(t, "xref "+name, damaged, 3) {
			t.Errorf("xref %s: qpdf's repair of a lost xref table failed", name)
		}
	}
}

// TestNotPDF: garbage, empty input and a header alone are ErrDamaged.
func TestNotPDF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 10000)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	for name, in := range map[string][]byte{
		"garbage":         garbage,
		"header, garbage": append([]byte("%PDF-1.7\n"), garbage...),
		"header":          []byte("%PDF-1.7\n"),
		"empty":           {},
		"nil":             nil,
		"text":            []byte("hello, world\n"),
	} {
		if _, err := Rewrite(Input{PDF: in}); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Rewrite: %v; want ErrDamaged", name, err)
		}
		if _, err := Pages(Input{PDF: in}); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Pages: %v; want ErrDamaged", name, err)
		}
		if _, err := Merge([]Input{{PDF: generated(t, 1)}, {PDF: in}}); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Merge: %v; want ErrDamaged", name, err)
		}
	}
}

// TestTrailerWithoutSize: qpdf 11.3 writes the real /Size only where the
// input's trailer has one; the binding adds it, so that the output of a file
// without it (which FuzzRewrite found) can be read again.
func TestTrailerWithoutSize(t *testing.T) {
	in := bytes.Replace(formPDF(), []byte("<< /Size 8 /Root"), []byte("<< /Root"), 1)
	for name, in := range map[string][]byte{
		"xref table": in,
		"no xref":    []byte(" 1 0 obj<<0>>\ntrailer<</Root 1 0 R>>"),
	} {
		out, err := Rewrite(Input{PDF: in})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Pages(Input{PDF: out.PDF}); err != nil {
			t.Errorf("%s: qpdf cannot read what it wrote: %v", name, err)
		}
		if !bytes.Contains(out.PDF, []byte("/Size ")) {
			t.Errorf("%s: written without /Size", name)
		}
	}
}

// TestBrokenPageTree: page trees that loop, lie about their count, hold
// things that are not pages or are missing give ErrDamaged or a merge that
// qpdf reads back with as many pages. qpdf 11.3 counts anything in /Kids as a
// page ("/Type key should be /Page but is not; overriding"): a string and a
// content stream there make 3 pages where viewers show 1.
func TestBrokenPageTree(t *testing.T) {
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources " + helvetica + " /Contents 4 0 R >>"
	content := textContent("A page of a broken tree")
	for name, in := range map[string][]byte{
		"loop":       rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>", page, content),
		"count lies": rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>", page, content),
		"not a page": rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R (text) 4 0 R] /Count 3 >>", page, content),
		"no pages":   rawPDF("<< /Type /Catalog >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, content),
		"page root":  rawPDF("<< /Type /Catalog /Pages 3 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, content),
	} {
		n, err := Pages(Input{PDF: in})
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("%s: %v; want a repair or ErrDamaged", name, err)
			}
			t.Logf("%s: %v", name, err)
			continue
		}
		out, err := Merge([]Input{{PDF: in}})
		if err != nil {
			t.Errorf("%s: %d pages, but no merge: %v", name, n, err)
			continue
		}
		if m, err := Pages(Input{PDF: out.PDF}); m != n || err != nil {
			t.Errorf("%s: %d pages, merged to %d, %v", name, n, m, err)
		}
		t.Logf("%s: %d pages, warnings %q", name, n, out.Warnings)
	}
}

// TestHeaderVersionOverflow: a version in the header too large for an int
// made qpdf 11.3 throw out of its C API, which aborts the process, when a
// merge passed it on as the least version of the output.
func TestHeaderVersionOverflow(t *testing.T) {
	huge := bytes.Replace(formPDF(), []byte("%PDF-1.4"), []byte("%PDF-99999999999.4"), 1)
	for _, inputs := range [][]Input{{{PDF: formPDF()}, {PDF: huge}}, {{PDF: huge}, {PDF: huge}}} {
		out, err := Merge(inputs)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := Pages(Input{PDF: out.PDF}); n != 2 || err != nil {
			t.Errorf("%d pages, %v; want 2", n, err)
		}
	}
	if _, err := Rewrite(Input{PDF: huge}); err != nil && !errors.Is(err, ErrDamaged) {
		t.Errorf("Rewrite: %v", err)
	}
}

// FuzzRewrite: no input crashes the process; every error is a password or
// an unreadable file; what Rewrite writes, qpdf reads back with the same
// number of pages; and the input's pages copy into a merge, which reads
// objects through another path (qpdf's copying of foreign objects).
func FuzzRewrite(f *testing.F) {
	for _, pages := range []int{1, 2} {
		f.Add(generated(f, pages))
	}
	f.Add(zeroPagePDF())
	f.Add(duplicatePagePDF())
	f.Add(formPDF())
	if locked, err := testfiles.EncryptedPDF("pw"); err == nil {
		f.Add(locked)
	}
	// Real producers' structures, where present: ReportLab's classic xref
	// table, LibreOffice's fonts and PDF 1.6.
	for _, name := range []string{"reportlab-unicode.pdf", "libreoffice-unicode.pdf"} {
		if b, err := os.ReadFile(filepath.Join(realPDFs, name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Rewrite(Input{PDF: in})
		if err != nil {
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrPassword) {
				t.Fatalf("an error neither ErrDamaged nor ErrPassword: %v", err)
			}
			return
		}
		n, err := Pages(Input{PDF: out.PDF})
		if err != nil {
			t.Fatalf("qpdf cannot read what it wrote: %v", err)
		}
		if want, err := Pages(Input{PDF: in}); err == nil && n != want {
			t.Fatalf("rewritten with %d pages; the input has %d", n, want)
		}
		merged, err := Merge([]Input{{PDF: in}, {PDF: in}})
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("merge: an error other than ErrDamaged: %v", err)
			}
			return
		}
		if m, err := Pages(Input{PDF: merged.PDF}); err != nil || m != 2*n {
			t.Fatalf("merged twice: %d pages, %v; want %d", m, err, 2*n)
		}
	})
}
