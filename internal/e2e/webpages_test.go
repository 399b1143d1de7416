package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Web pages and Markdown to PDF through fileconv up, once its Chromium has
// passed its self-test: the HTTP API prints a page that asks for a picture
// on this machine (no request reaches it), send prints a Markdown file named
// with --from, and again without, read as its name proposes.
func TestUpConvertsWebPages(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("no Chromium here (Debian chromium): web pages are not converted")
	}
	var requests atomic.Int32
	watched := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { requests.Add(1) }))
	defer watched.Close()
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)
	waitOffers(t, api, "html", "pdf")

	page := `<!DOCTYPE html><html><body><h1>Quarterly report</h1><img src="` + watched.URL + `/spy.png"><p>Ελληνικά 日本語</p></body></html>`
	resp, out := api.convert("to=pdf&name=report.html", []byte(page))
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("a web page answered %s", ct)
	}
	if text := pdfText(t, out); !strings.Contains(text, "Quarterly report") || !strings.Contains(text, "Ελληνικά") {
		t.Errorf("the PDF reads %q", text)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("printing the page made %d requests to a server on this machine", n)
	}
	// The picture is missing from the PDF, and the answer says so.
	warning, _ := url.PathUnescape(resp.Header.Get("X-Fileconv-Warnings"))
	if !strings.Contains(warning, "the page names 1 picture to load ("+watched.URL+"/spy.png)") {
		t.Errorf("the answer's warning: %q", warning)
	}

	md := "# Notes\n\n| fruit | count |\n|---|---|\n| apples | 3 |\n\n```\ncode block\n```\n"
	if err := os.WriteFile(filepath.Join(dir, "notes.md"), []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "pdf", "--from", "markdown", "notes.md"); code != 0 {
		t.Fatalf("send --from markdown: exit %d\n%s", code, errOut)
	}
	if text := pdfText(t, readFile(t, filepath.Join(dir, "notes.pdf"))); !strings.Contains(text, "apples") || !strings.Contains(text, "code block") || strings.Contains(text, "|---|") {
		t.Errorf("the Markdown's PDF reads %q", text)
	}
	// Without --from, the name proposes Markdown, and send says so.
	_, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "pdf", "--force", "notes.md")
	if code != 0 || !strings.Contains(errOut, "notes.md is read as Markdown, from its name (--from text sends it as plain text)") {
		t.Fatalf("send notes.md: exit %d\n%s", code, errOut)
	}
	if text := pdfText(t, readFile(t, filepath.Join(dir, "notes.pdf"))); strings.Contains(text, "|---|") {
		t.Errorf("notes.md, read as Markdown from its name, reads %q", text)
	}
}

// waitOffers waits until a worker announces kind → target in the master's
// status (through the web tier's /api/v1/status): here, once an engine has
// passed its self-test.
func waitOffers(t *testing.T, api apiCaller, kind, target string) {
	t.Helper()
	url := strings.Replace(api.base, "/convert", "/status", 1)
	for deadline := time.Now().Add(90 * time.Second); ; {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Master struct {
				Workers []struct {
					Converts map[string][]string `json:"converts"`
				} `json:"workers"`
			} `json:"master"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range st.Master.Workers {
			if slices.Contains(w.Converts[kind], target) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s no worker converts %s to %s: %+v", kind, target, st.Master.Workers)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pdfText is the text of a PDF as pdftotext (poppler-utils) reads it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	cmd := exec.Command("pdftotext", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = strings.NewReader(string(pdf))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
