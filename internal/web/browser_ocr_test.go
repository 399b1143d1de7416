package web

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// TestBrowserOCR: a photo of text dropped on the page becomes its text; a
// picture with none comes back empty, and the page says why.
func TestBrowserOCR(t *testing.T) {
	chromiumPath(t)
	if err := ocr.Available(); err != nil {
		t.Skipf("no OCR here (Debian tesseract-ocr-eng): %v", err)
	}
	scan, err := testfiles.TextPNG(50, "Meeting at noon", "Room 204")
	if err != nil {
		t.Fatal(err)
	}
	blank, err := testfiles.TextPNG(50) // a sheet with nothing on it
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})
	waitConverts(t, s, "png", "txt")
	paths := uploads(t, t.TempDir(), map[string][]byte{"blank.png": blank, "note.png": scan})
	downloads := t.TempDir()
	ctx := newBrowser(t, downloads)
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
		chromedp.SetUploadFiles(`#file-input`, paths),
		chromedp.WaitReady(row("note.png")+` select.target option[value="txt"]`),
		chromedp.WaitReady(row("blank.png")+` select.target option[value="txt"]`),
		chromedp.SetValue(row("note.png")+` select.target`, "txt"),
		chromedp.SetValue(row("blank.png")+` select.target`, "txt"),
		chromedp.Click(`#convert-all`),
		chromedp.WaitReady(row("note.png")+`[data-status="done"]`),
		chromedp.WaitReady(row("blank.png")+`[data-status="done"]`),
		chromedp.Click(row("note.png")+` a.download`),
	)
	if err != nil {
		t.Fatalf("convert on the page: %v", err)
	}
	text := string(waitFile(t, filepath.Join(downloads, "note.txt")))
	if got := strings.Join(strings.Fields(text), " "); got != "Meeting at noon Room 204" {
		t.Errorf("the picture's text: %q", got)
	}
	if st := elementText(t, ctx, row("blank.png")+` .state`); !strings.Contains(st, "with warnings") {
		t.Errorf("the blank picture's row says %q", st)
	}
	if note := elementText(t, ctx, row("blank.png")+` .note`); !strings.Contains(note, "OCR found no legible text in the picture") {
		t.Errorf("the blank picture's note: %q", note)
	}
}
