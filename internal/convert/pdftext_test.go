package convert

import (
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

// realPDFs is the shared corpus of PDFs written by common producers, each with
// the output of pdftotext as reference.
const realPDFs = "../../../shared/testdata/pdf"

func TestPDFRealDocuments(t *testing.T) {
	refs, _ := filepath.Glob(filepath.Join(realPDFs, "*.pdftotext.txt"))
	if len(refs) == 0 {
		t.Skipf("no reference PDFs in %s: the shared test data is not checked out", realPDFs)
	}
	c := converter(t)
	for _, ref := range refs {
		name := strings.TrimSuffix(filepath.Base(ref), ".pdftotext.txt")
		t.Run(name, func(t *testing.T) {
			pdf, err := os.ReadFile(filepath.Join(realPDFs, name+".pdf"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(ref)
			if err != nil {
				t.Fatal(err)
			}
			res := convertOK(t, c, wire.OpPDFToText, pdf)
			if res.Kind != KindPDF {
				t.Errorf("InputType = %v", res.Kind)
			}
			ws := words(string(want))
			if got := inOrder(ws, words(string(res.Output))); got < 0.98 {
				t.Errorf("%.2f%% of the %d reference words found in order, want at least 98%%", 100*got, len(ws))
			} else {
				t.Logf("%.2f%% of %d words in order", 100*got, len(ws))
			}
		})
	}
}

func TestPDFPagesInOrder(t *testing.T) {
	c := converter(t)
	pdf, err := testfiles.PDF(5)
	if err != nil {
		t.Fatal(err)
	}
	got := string(convertOK(t, c, wire.OpPDFToText, pdf).Output)
	var want []string
	for i := 1; i <= 5; i++ {
		want = append(want, words(testfiles.PageText(i))...)
	}
	if g := words(got); strings.Join(g, " ") != strings.Join(want, " ") {
		t.Errorf("extracted words differ from the pages' text: %.3f in order", inOrder(want, g))
	}
	// Pages are separated by a newline: each page's heading starts a line.
	for i := 2; i <= 5; i++ {
		if heading := fmt.Sprintf("\nPage %d heading", i); !strings.Contains(got, heading) {
			t.Errorf("no line starts with %q", heading[1:])
		}
	}
}

func TestPDFEncrypted(t *testing.T) {
	c := converter(t)
	pdf, err := testfiles.EncryptedPDF("secret")
	if err != nil {
		t.Fatal(err)
	}
	_, err = convertOp(c, context.Background(), wire.OpPDFToText, pdf)
	ce := wantError(t, err, fail.ConversionFailed)
	if want := "PDF is encrypted (password-protected): remove the password and send it again"; ce.Message != want {
		t.Errorf("message %q, want %q", ce.Message, want)
	}
}

func TestPDFPageLimit(t *testing.T) {
	c, err := New(Config{MaxPDFPages: 3})
	if err != nil {
		t.Fatal(err)
	}
	four, err := testfiles.PDF(4)
	if err != nil {
		t.Fatal(err)
	}
	_, err = convertOp(c, context.Background(), wire.OpPDFToText, four)
	wantError(t, err, fail.LimitExceeded, "PDF has 4 pages, over the limit of 3 pages (max-pdf-pages)")
	three, err := testfiles.PDF(3)
	if err != nil {
		t.Fatal(err)
	}
	convertOK(t, c, wire.OpPDFToText, three)
}

func TestPDFCorrupt(t *testing.T) {
	c := converter(t)
	good, err := testfiles.PDF(2)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"only the magic":     []byte("%PDF"),
		"header then text":   []byte("%PDF-1.7\nthis is not a PDF body at all\n"),
		"truncated at half":  good[:len(good)/2],
		"truncated at 10%":   good[:len(good)/10],
		"no trailer":         good[:len(good)-200],
		"garbage after head": append([]byte("%PDF-1.4\n"), make([]byte, 5000)...),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := convertOp(c, context.Background(), wire.OpPDFToText, in)
			if err == nil {
				// Poppler rebuilds a damaged cross-reference table when it
				// can; then the pages it found must come out.
				t.Logf("recovered %d bytes of text", len(res.Output))
				return
			}
			wantError(t, err, fail.ConversionFailed, "corrupt PDF: ")
		})
	}
}

func TestPDFCancelledBetweenPages(t *testing.T) {
	// In a PDF reader process the job is stopped by killing the reader
	// (pdfreader_test.go); in the process, between pages.
	c, err := New(Config{PDFInProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := testfiles.PDF(6)
	if err != nil {
		t.Fatal(err)
	}
	// One look before detection, then one before each page: stop at the third.
	_, err = convertOp(c, cancelAfter(3), wire.OpPDFToText, pdf)
	wantError(t, err, fail.Timeout, "conversion cancelled")
}

func TestPDFMinimalHandWritten(t *testing.T) {
	got := convertOK(t, converter(t), wire.OpPDFToText, minimalPDF).Output
	if strings.TrimSpace(string(got)) != "Hello fuzz" {
		t.Errorf("extracted %q, want %q", got, "Hello fuzz")
	}
}
