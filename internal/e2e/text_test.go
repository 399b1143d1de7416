package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

// TXT → PDF in every script and encoding, end to end through fileconv up
// (issue 18): Japanese through send, with a character no installed font
// has, which comes back as a warning on stderr and in --json; Shift_JIS
// with layout=preserve and a font size through the HTTP API; the same
// character's warning in the API's header.
func TestUpConvertsTextInEveryScript(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext is not installed (Debian poppler-utils)")
	}
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)
	const tokyo = "東京は日本の首都です。"
	warning := "1 character no installed font draws (U+10FFFD) is drawn as boxes"

	t.Run("send", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "tokyo.txt"), []byte(tokyo+" \U0010FFFD\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "pdf", "tokyo.txt")
		if code != 0 {
			t.Fatalf("send: exit %d\n%s", code, errOut)
		}
		if want := "tokyo.txt -> tokyo.pdf: warning: " + warning; !strings.Contains(errOut, want) {
			t.Errorf("send did not print %q; stderr:\n%s", want, errOut)
		}
		pdf, err := os.ReadFile(filepath.Join(dir, "tokyo.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		if got := pdfText(t, pdf); !strings.Contains(got, tokyo) {
			t.Errorf("the PDF reads %q, want %q", got, tokyo)
		}
		out, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "pdf", "--force", "--json", "tokyo.txt")
		if code != 0 {
			t.Fatalf("send --json: exit %d\n%s", code, errOut)
		}
		var file struct {
			Warnings []string `json:"warnings"`
		}
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &file); err != nil || len(file.Warnings) != 1 || file.Warnings[0] != warning {
			t.Errorf("send --json: warnings %q (%v), want %q; output:\n%s", file.Warnings, err, warning, out)
		}
	})
	t.Run("API", func(t *testing.T) {
		sjis, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte("  " + tokyo + "\n\tインデント\n"))
		if err != nil {
			t.Fatal(err)
		}
		resp, out := api.convert("to=pdf&name=code.txt&layout=preserve&font_size=12", sjis)
		if w := resp.Header.Values("X-Fileconv-Warnings"); len(w) != 0 || resp.Header.Get("Content-Type") != "application/pdf" {
			t.Errorf("Shift_JIS: %s, warnings %q", resp.Header.Get("Content-Type"), w)
		}
		if got := pdfText(t, out); !strings.Contains(got, tokyo) || !strings.Contains(got, "インデント") {
			t.Errorf("the PDF of Shift_JIS reads %q", got)
		}
		resp, _ = api.convert("to=pdf&name=tokyo.txt", []byte(tokyo+" \U0010FFFD"))
		// The header's values are percent-encoded (internal/web).
		w := resp.Header.Values("X-Fileconv-Warnings")
		if len(w) != 1 {
			t.Fatalf("the API warned %q, want one warning", w)
		}
		if got, err := url.PathUnescape(w[0]); err != nil || got != warning {
			t.Errorf("the API warned %q (%v), want %q", got, err, warning)
		}
	})
}
