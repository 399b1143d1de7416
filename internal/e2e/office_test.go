package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sharedOffice holds real office documents (python-docx's, python-pptx's,
// excelize's test files), beside the repository.
const sharedOffice = "../../../shared/testdata/office"

// Office documents to PDF through fileconv up, once its LibreOffice has passed
// its self-test: a DOCX with send, a PPTX through the HTTP API.
func TestUpConvertsOfficeDocuments(t *testing.T) {
	if _, err := os.Stat("/usr/lib/libreoffice/program"); err != nil {
		t.Skip("no LibreOffice here (Debian libreoffice-core-nogui): office documents are not converted")
	}
	docx, err := os.ReadFile(filepath.Join(sharedOffice, "python-docx-tbl-having-tables.docx"))
	if err != nil {
		t.Skip("no ../shared/testdata/office")
	}
	pptx, err := os.ReadFile(filepath.Join(sharedOffice, "python-pptx-cht-chart-props.pptx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)
	waitOffers(t, api, "docx", "pdf")

	if err := os.WriteFile(filepath.Join(dir, "tables.docx"), docx, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "pdf", "tables.docx"); code != 0 {
		t.Fatalf("send a DOCX: exit %d\n%s", code, errOut)
	}
	if n := pdfPages(t, readFile(t, filepath.Join(dir, "tables.pdf"))); n < 1 {
		t.Errorf("the DOCX made %d pages", n)
	}
	resp, out := api.convert("to=pdf&name=chart.pptx", pptx)
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("a PPTX answered %s", ct)
	}
	want := sofficePages(t, pptx, "pptx")
	if n := pdfPages(t, out); want > 0 && n != want {
		t.Errorf("the PPTX made %d pages, soffice makes %d", n, want)
	}
}

// sofficePages is the page count of soffice --convert-to pdf of doc, or 0
// when soffice cannot be run here.
func sofficePages(t *testing.T, doc []byte, ext string) int {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "doc."+ext)
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("soffice", "-env:UserInstallation=file://"+dir+"/profile", "--headless", "--convert-to", "pdf", "--outdir", dir, in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("soffice: %v: %s", err, strings.TrimSpace(string(out)))
		return 0
	}
	return pdfPages(t, readFile(t, filepath.Join(dir, "doc.pdf")))
}
