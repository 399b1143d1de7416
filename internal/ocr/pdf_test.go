package ocr

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The text layer is a one-page PDF of the picture's size whose text is what
// Tesseract read, and it leaves nothing behind in the folders it used.
func TestReadPDF(t *testing.T) {
	skipWithoutTesseract(t)
	before, _ := filepath.Glob(filepath.Join(privateRoot(), "fileconv-ocr-*"))
	r, err := Get("eng")
	if err != nil {
		t.Fatal(err)
	}
	defer Put(r)
	img := textPicture(t)
	page, pdf, err := r.ReadPDF(img)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(strings.Fields(page.Text), " "), strings.Join(lines, " "); got != want {
		t.Errorf("read %q; want %q", got, want)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("/GlyphLessFont")) || bytes.Contains(pdf, []byte("/Subtype /Image")) {
		t.Errorf("not a text-only PDF: %.200q", pdf)
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		cmd := exec.Command("pdftotext", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		out, err := cmd.Output()
		if got := strings.Join(strings.Fields(string(out)), " "); err != nil || !strings.Contains(got, "quick brown fox") {
			t.Errorf("pdftotext of the layer: %q, %v", got, err)
		}
	}
	after, _ := filepath.Glob(filepath.Join(privateRoot(), "fileconv-ocr-*"))
	if len(after) > len(before) {
		t.Errorf("left behind: %q", after)
	}
	if _, _, err := r.ReadPDF(Gray{Pix: make([]byte, 10), Width: 20000, Height: 20000}); err == nil {
		t.Error("a picture over MaxPixels made a layer")
	}
}

// Readers make layers at once, each into its own memory.
func TestReadPDFParallel(t *testing.T) {
	skipWithoutTesseract(t)
	img := textPicture(t)
	onReaders(t, func(r *Reader) {
		page, pdf, err := r.ReadPDF(img)
		if err != nil || !strings.Contains(page.Text, "lazy dog") || len(pdf) < 1000 {
			t.Errorf("%q, %d bytes, %v", page.Text, len(pdf), err)
		}
	})
}
