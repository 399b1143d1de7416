package web

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fileconv/fileconv/internal/convert"
)

// sharedOffice holds real office documents (excelize's, python-docx's…),
// beside the repository.
const sharedOffice = "../../../shared/testdata/office"

// TestBrowserOffice drives the page against a worker running LibreOffice
// and Chromium, the only web test that starts them: an XLSX dropped on the
// page downloads as a PDF; a .csv is proposed, visibly, as a CSV table and
// becomes an XLSX; a .md is proposed as Markdown and becomes a PDF; and
// read as plain text a .csv offers what a text becomes.
func TestBrowserOffice(t *testing.T) {
	chromiumPath(t)
	popplerUtils(t)
	xlsx, err := os.ReadFile(filepath.Join(sharedOffice, "excelize-Book1.xlsx"))
	if err != nil {
		t.Skipf("skipped: no real office documents beside the repository (%s): %v", sharedOffice, err)
	}
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }, engines: []string{"office", "html"}})
	waitConverts(t, s, "xlsx", "pdf", "csv", "xlsx", "markdown", "pdf")
	paths := uploads(t, t.TempDir(), map[string][]byte{
		"book.xlsx": xlsx,
		"sales.csv": []byte("region,units\nnorth,12\nsouth,7\n"),
		"notes.md":  []byte("# Shopping\n\n- apples\n- pears\n"),
	})
	downloads := t.TempDir()
	ctx := newBrowser(t, downloads)
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
		chromedp.SetUploadFiles(`#file-input`, paths),
		chromedp.WaitReady(row("book.xlsx")+` option[value="pdf"]`),
		chromedp.WaitReady(row("sales.csv")+` select.target option[value="xlsx"]`),
		chromedp.WaitReady(row("notes.md")+` select.target option[value="pdf"]`),
	)
	if err != nil {
		t.Fatalf("load the page and add files: %v", err)
	}
	checkReadAs(t, ctx)
	err = chromedp.Do(ctx,
		chromedp.SetValue(row("book.xlsx")+` select.target`, "pdf"),
		chromedp.SetValue(row("sales.csv")+` select.target`, "xlsx"),
		chromedp.SetValue(row("notes.md")+` select.target`, "pdf"),
		chromedp.Click(`#convert-all`),
	)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	for _, name := range []string{"book.xlsx", "sales.csv", "notes.md"} {
		if err := chromedp.Do(ctx, chromedp.WaitReady(row(name)+`:is([data-status="done"], [data-status="failed"])`)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st := elementText(t, ctx, row(name)+` .state`); !strings.HasPrefix(st, "Done: ") {
			t.Fatalf("%s: %s", name, st)
		}
		if err := chromedp.Do(ctx, chromedp.Click(row(name)+` a.download`)); err != nil {
			t.Fatal(err)
		}
	}
	if n := pdfPages(t, waitFile(t, filepath.Join(downloads, "book.pdf"))); n < 1 {
		t.Errorf("the XLSX became a PDF of %d pages", n)
	}
	if k := convert.Detect(waitFile(t, filepath.Join(downloads, "sales.xlsx"))); k != convert.KindXLSX {
		t.Errorf("the CSV read as a table became %s, not an Excel workbook", k.Label())
	}
	md := waitFile(t, filepath.Join(downloads, "notes.pdf"))
	if text := pdfText(t, md); !strings.Contains(text, "apples") || strings.Contains(text, "# Shopping") {
		t.Errorf("the Markdown's PDF reads %q: not Markdown rendered", text)
	}
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(t.ArtifactDir(), "office.png"), shot, 0o644)
	}
	checkReadAsPlain(t, ctx)
	// A phone-sized screen: the reading's line wraps rather than widen the page.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || overflow {
		t.Errorf("on a 390 px wide screen the page with a reading to choose scrolls sideways (%v)", err)
	}
}

// checkReadAs: the page shows what it reads the .csv and the .md as, and
// that the name suggested it, and offers a CSV table's targets; an office
// document gets no such choice.
func checkReadAs(t *testing.T, ctx context.Context) {
	t.Helper()
	visible := func(sel string) bool {
		t.Helper()
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return !!e && e.offsetParent !== null; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return shown
	}
	chosen := func(name string) string {
		t.Helper()
		return evalString(t, ctx, `(() => { const s = document.querySelector('li[data-name="`+name+`"] .read-as-select'); return s.options[s.selectedIndex].textContent; })()`)
	}
	for name, want := range map[string]string{"sales.csv": "CSV table", "notes.md": "Markdown"} {
		if !visible(row(name) + ` .read-as`) {
			t.Errorf("the page does not show what it reads %s as", name)
			continue
		}
		line := elementText(t, ctx, row(name)+` .read-as`)
		if got := chosen(name); got != want || !strings.Contains(line, "Read as") || !strings.Contains(line, "from its name") {
			t.Errorf("%s: read as %q (want %q); the line says %q", name, got, want, line)
		}
	}
	if visible(row("book.xlsx") + ` .read-as`) {
		t.Error("the XLSX row offers to read it as a text")
	}
	targets := evalStrings(t, ctx, `Array.from(document.querySelectorAll('li[data-name="sales.csv"] select.target option')).map(o => o.value)`)
	if slices.Sort(targets); !slices.Equal(targets, []string{"ods", "pdf", "xlsx"}) {
		t.Errorf("a CSV table is offered %v, want pdf, xlsx and ods", targets)
	}
}

// checkReadAsPlain: read as plain text, the .csv offers a text's targets,
// its result is gone (it no longer matches the row's settings), and it may
// go into a combined PDF.
func checkReadAsPlain(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.SetValue(row("sales.csv")+` .read-as-select`, ""),
		chromedp.WaitReady(row("sales.csv")+`[data-status="new"]`),
	)
	if err != nil {
		t.Fatalf("read the CSV as plain text: %v", err)
	}
	targets := evalStrings(t, ctx, `Array.from(document.querySelectorAll('li[data-name="sales.csv"] select.target option')).map(o => o.value)`)
	if slices.Contains(targets, "xlsx") || !slices.Contains(targets, "pdf") {
		t.Errorf("read as plain text, the CSV is offered %v", targets)
	}
	if why := elementText(t, ctx, row("sales.csv")+` .read-as-why`); why != "" {
		t.Errorf("chosen by hand, the reading still says %q", why)
	}
	// A combined PDF reads every text as plain text: the CSV goes in now,
	// the Markdown stays out, named.
	hint := evalString(t, ctx, `document.querySelector("#combine-hint").textContent`)
	if !strings.Contains(hint, "Joins 2 files") || !strings.Contains(hint, "leaves out notes.md") {
		t.Errorf("the Combine button is described as %q", hint)
	}
}

func evalString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return s
}

func evalStrings(t *testing.T, ctx context.Context, js string) []string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return s
}

// popplerUtils skips the test without pdfinfo and pdftotext, which read
// the PDFs it downloads.
func popplerUtils(t *testing.T) {
	for _, tool := range []string{"pdfinfo", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is missing (Debian poppler-utils; make test-deps installs it)", tool)
		}
	}
}

// poppler runs a poppler-utils tool on pdf, then the arguments after, and
// returns what it prints.
func poppler(t *testing.T, tool string, pdf []byte, after ...string) string {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 16)])
	}
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, append([]string{p}, after...)...).Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return string(out)
}

// pdfPages is pdf's page count, as pdfinfo says.
func pdfPages(t *testing.T, pdf []byte) int {
	t.Helper()
	out := poppler(t, "pdfinfo", pdf)
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "Pages:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("pdfinfo says %q", line)
			}
			return n
		}
	}
	t.Fatalf("pdfinfo names no page count:\n%s", out)
	return 0
}

// pdfText is pdf's text, as pdftotext reads it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	return poppler(t, "pdftotext", pdf, "-") // - for standard output
}
