package e2e

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// OCR through fileconv up: a picture's text by the HTTP API, a scanned PDF's
// by send, the warning of ocr=never, and a language no worker reads.
func TestUpReadsScans(t *testing.T) {
	if err := ocr.Available(); err != nil {
		t.Skipf("no OCR here (Debian tesseract-ocr-eng): %v", err)
	}
	scan, err := testfiles.TextPNG(50, "Quarterly statement", "Account 12345")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)
	waitOffers(t, api, "png", "txt")

	_, out := api.convert("to=txt&name=scan.png", scan)
	if got := strings.Join(strings.Fields(string(out)), " "); got != "Quarterly statement Account 12345" {
		t.Errorf("the picture's text: %q", got)
	}
	_, pdf := api.convert("to=pdf&name=scan.png", scan)
	if err := os.WriteFile(filepath.Join(dir, "scan.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "txt", "scan.pdf"); code != 0 {
		t.Fatalf("send a scanned PDF: exit %d\n%s", code, errOut)
	}
	if text := string(readFile(t, filepath.Join(dir, "scan.txt"))); !strings.Contains(text, "Account 12345") {
		t.Errorf("the scanned PDF's text: %q", text)
	}
	resp, out := api.convert("to=txt&ocr=never", pdf)
	warning, _ := url.PathUnescape(resp.Header.Get("X-Fileconv-Warnings"))
	if strings.TrimSpace(string(out)) != "" || warning != "page 1 has no text layer, and ocr=never was asked: it is empty in the text" {
		t.Errorf("ocr=never: %q, warning %q", out, warning)
	}
	resp2, body, err := api.try("to=txt&lang=zzz", "", scan)
	if err != nil || resp2.StatusCode/100 != 4 || !strings.Contains(string(body), "no worker here reads lang=zzz by OCR: the workers' OCR reads eng") {
		t.Errorf("lang=zzz: %v %s", err, body)
	}
}
