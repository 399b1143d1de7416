package htmlpdf

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newPool starts a pool for a test and closes it after.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("Chromium test skipped: %v", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = newPoolLogger(t)
	}
	p := New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func newPoolLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func convert(t testing.TB, p *Pool, job Job) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pdf, err := p.Convert(ctx, job)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 20)])
	}
	return pdf
}

// poppler runs a poppler-utils tool on the PDF.
func poppler(t testing.TB, tool string, pdf []byte, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not found (Debian package poppler-utils)", tool)
	}
	f := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, append(args, f, "-")[:len(args)+map[bool]int{true: 2, false: 1}[tool == "pdftotext"]]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return string(out)
}

func pdfText(t testing.TB, pdf []byte) string { return poppler(t, "pdftotext", pdf, "-enc", "UTF-8") }

// pageSize reads the first page's size in points and the page count from pdfinfo.
func pageSize(t testing.TB, pdf []byte) (w, h float64, pages int) {
	t.Helper()
	info := poppler(t, "pdfinfo", pdf)
	m := regexp.MustCompile(`Page size:\s+([\d.]+) x ([\d.]+) pts`).FindStringSubmatch(info)
	n := regexp.MustCompile(`Pages:\s+(\d+)`).FindStringSubmatch(info)
	if m == nil || n == nil {
		t.Fatalf("pdfinfo: no page size or count in\n%s", info)
	}
	w, _ = strconv.ParseFloat(m[1], 64)
	h, _ = strconv.ParseFloat(m[2], 64)
	pages, _ = strconv.Atoi(n[1])
	return w, h, pages
}
