package e2e

import (
	"archive/zip"
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
)

// A PDF's pages as pictures, end to end through fileconv up: send writes a
// folder of pages or, with --zip, the ZIP; the HTTP API answers the ZIP, or
// one picture for one page.
func TestUpConvertsPDFPages(t *testing.T) {
	dir := t.TempDir()
	addr, webAddr := freeAddr(t), freeAddr(t)
	up := start(t, dir, "up", "--listen", addr, "--workers", "2", "--admin", "off", "--web", webAddr)
	m := tokenLine.FindStringSubmatch(waitBanner(t, up))
	if m == nil {
		t.Fatalf("no token in the banner:\n%s", up.out())
	}
	api := apiCaller{t: t, base: "http://" + webAddr + "/api/v1/convert", token: m[1]}
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
