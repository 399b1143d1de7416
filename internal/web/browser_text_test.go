package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserTextWarning: a text holding a character no installed font has
// becomes a PDF, and the page says what was drawn as a box.
func TestBrowserTextWarning(t *testing.T) {
	chromiumPath(t)
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})
	in := t.TempDir()
	path := filepath.Join(in, "notes.txt")
	if err := os.WriteFile(path, []byte("東京 and a private character \U0010FFFD here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, t.TempDir())
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
		chromedp.SetUploadFiles(`#file-input`, []string{path}),
		chromedp.WaitReady(row("notes.txt")+` select.target option[value="pdf"]`),
		chromedp.SetValue(row("notes.txt")+` select.target`, "pdf"),
		chromedp.Click(`#convert-all`),
		chromedp.WaitReady(row("notes.txt")+`[data-status="done"]`),
	)
	if err != nil {
		t.Fatalf("convert on the page: %v", err)
	}
	if st := elementText(t, ctx, row("notes.txt")+` .state`); !strings.Contains(st, "with warnings") {
		t.Errorf("the row says %q", st)
	}
	if note := elementText(t, ctx, row("notes.txt")+` .note`); !strings.Contains(note, "U+10FFFD") || !strings.Contains(note, "no installed font draws") {
		t.Errorf("the row's note: %q", note)
	}
}
