package qpdf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
)

// realPDFs holds PDFs from real producers (see its README).
const realPDFs = "../../../shared/testdata/pdf"

func realPDF(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(realPDFs, name))
	if err != nil {
		t.Skipf("no %s in %s: %v", name, realPDFs, err)
	}
	return b
}

func generated(t testing.TB, pages int) []byte {
	t.Helper()
	b, err := testfiles.PDF(pages)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tool returns the path of a command the tests check qpdf's output with.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check PDFs: install the Debian package %s (make test does)", name, pkg)
	}
	return p
}

// pdftotext is poppler's text of pdf, a form feed after each page.
func pdftotext(t testing.TB, pdf []byte) string {
	t.Helper()
	cmd := exec.Command(tool(t, "pdftotext", "poppler-utils"), "-q", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// pdftotextPages is the number of pages pdftotext finds.
func pdftotextPages(t testing.TB, pdf []byte) int {
	return strings.Count(pdftotext(t, pdf), "\f")
}

// qpdfCLI runs the qpdf command on pdf, written to a file since qpdf reads
// no standard input, and returns its exit code and output.
func qpdfCLI(t testing.TB, pdf []byte, args ...string) (int, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, "qpdf", "qpdf"), append([]string{in}, args...)...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("qpdf %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// checkClean fails unless qpdf --check finds pdf free of errors and warnings
// and not encrypted.
func checkClean(t testing.TB, pdf []byte) {
	t.Helper()
	if code, out := qpdfCLI(t, pdf, "--check"); code != 0 {
		t.Errorf("qpdf --check exits %d:\n%s", code, out)
	}
	if code, _ := qpdfCLI(t, pdf, "--is-encrypted"); code != 2 {
		t.Errorf("qpdf --is-encrypted exits %d; want 2, not encrypted", code)
	}
}

// encrypt returns pdf encrypted by the qpdf command with AES-256.
func encrypt(t testing.TB, pdf []byte, user, owner string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, "qpdf", "qpdf"), "--encrypt", user, owner, "256", "--", in, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qpdf --encrypt: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawPDF assembles a PDF by hand from the bodies of objects 1, 2, … (1 is the
// catalog) with a correct cross-reference table, for structures no producer
// makes on purpose.
func rawPDF(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// stream is the body of a stream object holding data.
func stream(dict, data string) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// textContent draws text in Helvetica at the top of a page.
func textContent(text string) string {
	return stream("", fmt.Sprintf("BT /F1 24 Tf 72 720 Td (%s) Tj ET", text))
}

const helvetica = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"

// zeroPagePDF is a document whose page tree is empty.
func zeroPagePDF() []byte {
	return rawPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>")
}

// duplicatePagePDF lists one page object twice in its page tree.
func duplicatePagePDF() []byte {
	return rawPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 3 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "+helvetica+" /Contents 4 0 R >>",
		textContent("Twice on the page tree"),
	)
}

// formPDF has a page with a link and a filled text field.
func formPDF() []byte {
	return rawPDF(
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] /NeedAppearances false >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "+helvetica+
			" /Contents 4 0 R /Annots [5 0 R 6 0 R] >>",
		textContent("A page with a form"),
		"<< /Type /Annot /Subtype /Link /Rect [72 700 300 730] /Border [0 0 0]"+
			" /A << /S /URI /URI (https://example.org/linked) >> >>",
		"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /V (Ada Lovelace) /Rect [72 600 300 630]"+
			" /P 3 0 R /AP << /N 7 0 R >> >>",
		stream("/Type /XObject /Subtype /Form /BBox [0 0 228 30] /Resources "+helvetica,
			"BT /F1 12 Tf 2 10 Td (Ada Lovelace) Tj ET"),
	)
}
