package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sendCSV: send reads a .csv as a CSV table, says so on stderr, and --from
// text sends it as the text it is, as it says.
func sendCSV(t *testing.T, dir, addr string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "sales.csv"), []byte("region,units\nnorth,12\nsouth,7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "xlsx", "sales.csv")
	if code != 0 || !strings.Contains(errOut, "sales.csv is read as a CSV table, from its name (--from text sends it as plain text)") {
		t.Fatalf("send a CSV: exit %d\n%s", code, errOut)
	}
	if xlsx := readFile(t, filepath.Join(dir, "sales.xlsx")); !bytes.HasPrefix(xlsx, []byte("PK\x03\x04")) {
		t.Errorf("sales.xlsx is no workbook: %q", xlsx[:min(len(xlsx), 16)])
	}
	_, errOut, code = run(t, dir, "send", "--addr", addr, "--to", "pdf", "--from", "text", "sales.csv")
	if code != 0 || strings.Contains(errOut, "CSV") {
		t.Fatalf("send --from text a CSV: exit %d\n%s", code, errOut)
	}
	// Drawn as text, the commas stay; LibreOffice would have drawn cells.
	if text := pdfText(t, readFile(t, filepath.Join(dir, "sales.pdf"))); !strings.Contains(text, "region,units") {
		t.Errorf("the CSV sent as text reads %q", text)
	}
}
