package e2e

import (
	"archive/zip"
	"bytes"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// A PDF's pages as pictures, end to end through fileconv up: send writes a
// folder of pages or, with --zip, the ZIP; the HTTP API answers the ZIP, or
// one picture for one page.
func TestUpConvertsPDFPages(t *testing.T) {
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)
	pdf, err := testfiles.PDF(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("send writes a folder of pages", func(t *testing.T) {
		_, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "png", "--width", "60", "report.pdf")
		if code != 0 {
			t.Fatalf("send: exit %d\n%s", code, errOut)
		}
		names := listDir(t, filepath.Join(dir, "report"))
		if want := []string{"report-p001.png", "report-p002.png", "report-p003.png"}; !slices.Equal(names, want) {
			t.Errorf("report/ holds %q, want %q", names, want)
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(readFile(t, filepath.Join(dir, "report", "report-p002.png")))); err != nil || cfg.Width != 60 {
			t.Errorf("page 2 is %d wide (%v), want 60", cfg.Width, err)
		}
		_, errOut, code = run(t, dir, "send", "--addr", addr, "--to", "png", "report.pdf")
		if code == 0 || !strings.Contains(errOut, "--zip") {
			t.Errorf("a second send into report/ exited %d:\n%s", code, errOut)
		}
	})
	t.Run("send --zip keeps the ZIP", func(t *testing.T) {
		_, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "jpg", "--zip", "--pages", "2-", "report.pdf")
		if code != 0 {
			t.Fatalf("send --zip: exit %d\n%s", code, errOut)
		}
		if names := zipNames(t, readFile(t, filepath.Join(dir, "report.zip"))); !slices.Equal(names, []string{"report-p002.jpg", "report-p003.jpg"}) {
			t.Errorf("report.zip holds %q", names)
		}
	})
	t.Run("the API answers a ZIP, or one picture", func(t *testing.T) {
		resp, out := api.convert("to=webp&name=report.pdf&dpi=30", pdf)
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/zip" || !strings.Contains(cd, "report.zip") {
			t.Errorf("three pages answered %s, %s", ct, cd)
		}
		if names := zipNames(t, out); len(names) != 3 || names[0] != "report-p001.webp" {
			t.Errorf("the ZIP holds %q", names)
		}
		resp, out = api.convert("to=png&name=report.pdf&pages=1&width=300", pdf)
		if cfg, err := png.DecodeConfig(bytes.NewReader(out)); resp.Header.Get("Content-Type") != "image/png" || err != nil || cfg.Width != 300 {
			t.Errorf("pages=1&width=300 answered %s, %d wide (%v)", resp.Header.Get("Content-Type"), cfg.Width, err)
		}
	})
	mergeThroughUp(t, dir, addr, api, pdf)
}

// mergeThroughUp merges files with send --merge and through an API form,
// and splits a PDF through the API.
func mergeThroughUp(t *testing.T, dir, addr string, api apiCaller, pdf []byte) {
	jpg := new(bytes.Buffer)
	if err := jpeg.Encode(jpg, testfiles.Photo(80, 60), nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "photo.jpg"), jpg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("gamma notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("send --merge makes one PDF", func(t *testing.T) {
		_, errOut, code := run(t, dir, "send", "--addr", addr, "--merge", "-o", "book.pdf", "photo.jpg", "report.pdf", "notes.txt")
		if code != 0 {
			t.Fatalf("send --merge: exit %d\n%s", code, errOut)
		}
		if n := pdfPages(t, readFile(t, filepath.Join(dir, "book.pdf"))); n != 5 {
			t.Errorf("book.pdf has %d pages, want 1 + 3 + 1", n)
		}
	})
	t.Run("the API merges the files of a form and splits a PDF", func(t *testing.T) {
		resp, out := api.form(map[string]string{"to": "pdf", "page_size": "A4"},
			upload{"photo.jpg", jpg.Bytes()}, upload{"report.pdf", pdf})
		if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/pdf" || !strings.Contains(cd, "combined.pdf") {
			t.Errorf("a form of two files answered %s, %s", ct, cd)
		}
		if n := pdfPages(t, out); n != 4 {
			t.Errorf("the combined PDF has %d pages, want 4", n)
		}
		resp, out = api.convert("to=pdf&name=report.pdf&split=each", pdf)
		if names := zipNames(t, out); resp.Header.Get("Content-Type") != "application/zip" || !slices.Equal(names, []string{"report-p001.pdf", "report-p002.pdf", "report-p003.pdf"}) {
			t.Errorf("split=each answered %s holding %q", resp.Header.Get("Content-Type"), names)
		}
	})
}

func pdfPages(t *testing.T, b []byte) int {
	t.Helper()
	n, err := qpdf.Pages(qpdf.Input{PDF: b})
	if err != nil {
		t.Fatalf("not a PDF: %v", err)
	}
	return n
}

// upload is a file part of a form.
type upload struct {
	name string
	data []byte
}

// form posts a multipart form of fields and files, in that order.
func (a apiCaller) form(fields map[string]string, files ...upload) (*http.Response, []byte) {
	a.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			a.t.Fatal(err)
		}
	}
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f.name)
		if err == nil {
			_, err = w.Write(f.data)
		}
		if err != nil {
			a.t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		a.t.Fatal(err)
	}
	return a.post("", mw.FormDataContentType(), body.Bytes())
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func zipNames(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}
