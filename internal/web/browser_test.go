package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// chromiumPath finds Debian's chromium (make test-deps installs it).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no Chromium found (install the Debian package chromium: make test-deps does it)")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile, offline-friendly.
func newBrowser(t *testing.T, downloads string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	events := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &events,
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var mu sync.Mutex
	var exceptions []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			mu.Lock()
			exceptions = append(exceptions, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range exceptions {
			t.Errorf("JavaScript exception: %s", e)
		}
	})
	return ctx
}

// waitFile waits for a finished download.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			if _, err := os.Stat(path + ".crdownload"); os.IsNotExist(err) {
				return b
			}
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("download %s never finished; the folder holds %v", filepath.Base(path), names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// uploads writes files into dir and returns their paths, sorted, for the
// page's file input.
func uploads(t *testing.T, dir string, files map[string][]byte) []string {
	t.Helper()
	var paths []string
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

func row(name string) string { return fmt.Sprintf(`li[data-name=%q]`, name) }

// TestBrowser drives the page in real headless Chromium: token, pick files,
// choose targets, convert all, download each and all as a ZIP, an error with
// the server's message, a phone-sized layout; screenshots go to the test's
// artifact folder.
func TestBrowser(t *testing.T) {
	s := startStack(t, stackOptions{workers: 2})
	in := t.TempDir()
	downloads := t.TempDir()
	out := t.ArtifactDir()
	broken := append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, bytes.Repeat([]byte("not a real image "), 4)...)
	files := map[string][]byte{
		"photo.png":  pngFile(t, 120, 80),
		"notes.txt":  []byte("Meeting notes\n\nΓειά σου, κόσμε — accents: café, naïve.\nSecond line of the paragraph.\n"),
		"broken.png": broken,
	}
	paths := uploads(t, in, files)
	// What the API says about the broken file, which the page must show as is.
	resp := s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(broken), nil)
	wantErr := decodeError(t, resp).Message
	if wantErr == "" {
		t.Fatal("the API gave no message for the broken file")
	}

	ctx := newBrowser(t, downloads)
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
		chromedp.WaitVisible(`#token-panel`),
	)
	if err != nil {
		t.Fatalf("load the page: %v", err)
	}
	tokenShown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector("#token-panel").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#token-input`, callerToken),
		chromedp.Click(`#token-save`),
		chromedp.WaitNotVisible(`#token-panel`),
		chromedp.SetUploadFiles(`#file-input`, paths),
		chromedp.WaitReady(row("photo.png")+` option[value="webp"]`),
		chromedp.WaitReady(row("notes.txt")+` option[value="pdf"]`),
		chromedp.WaitReady(row("broken.png")+` option[value="jpg"]`),
	)
	if err != nil {
		t.Fatalf("load the page and add files: %v", err)
	}
	if !tokenShown {
		t.Error("the page did not ask for the token")
	}
	pngTargets, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('li[data-name="photo.png"] option')).map(o => o.value)`))
	if err != nil {
		t.Fatal(err)
	}
	txtTargets, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('li[data-name="notes.txt"] option')).map(o => o.value)`))
	if err != nil {
		t.Fatal(err)
	}
	pngType, err := chromedp.Run(ctx, chromedp.Text(row("photo.png")+` .type`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		// Choose targets as a person would: WEBP first, then back to JPEG.
		chromedp.SetValue(row("photo.png")+` select`, "webp"),
		chromedp.SetValue(row("photo.png")+` select`, "jpg"),
		chromedp.SetValue(row("notes.txt")+` select`, "pdf"),
		chromedp.SetValue(row("broken.png")+` select`, "jpg"),
		chromedp.Click(`#convert-all`),
		chromedp.WaitReady(row("photo.png")+`[data-status="done"]`),
		chromedp.WaitReady(row("notes.txt")+`[data-status="done"]`),
		chromedp.WaitReady(row("broken.png")+`[data-status="failed"]`),
	)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	if pngType != "PNG image" || !slices.Equal(pngTargets, []string{"jpg", "webp", "gif", "tiff", "avif", "heic", "jxl", "pdf", "txt", "png"}) || !slices.Equal(txtTargets, []string{"pdf"}) {
		t.Errorf("PNG row: type %q targets %v; text row targets %v", pngType, pngTargets, txtTargets)
	}
	errText, err := chromedp.Run(ctx, chromedp.Text(row("broken.png")+` .state`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errText, wantErr) {
		t.Errorf("the failed row says %q, want the server's message %q", errText, wantErr)
	}
	t.Logf("error row: %s", errText)
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('li[data-name="broken.png"] a.download').offsetParent !== null`)); err != nil || shown {
		t.Errorf("the failed row offers a download (%v)", err)
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(row("photo.png")+` a.download`),
		chromedp.Click(row("notes.txt")+` a.download`),
	); err != nil {
		t.Fatal(err)
	}
	jpg := waitFile(t, filepath.Join(downloads, "photo.jpg"))
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("photo.jpg is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 120 || b.Dy() != 80 {
		t.Errorf("photo.jpg is %v, want 120×80", b)
	}
	pdf := waitFile(t, filepath.Join(downloads, "notes.pdf"))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
		t.Errorf("notes.pdf is not a whole PDF: %q … %q", pdf[:min(16, len(pdf))], pdf[max(0, len(pdf)-16):])
	}

	if err := chromedp.Do(ctx, chromedp.Click(`#download-all`)); err != nil {
		t.Fatal(err)
	}
	zb := waitFile(t, filepath.Join(downloads, "fileconv.zip"))
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatalf("fileconv.zip: %v", err)
	}
	got := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got[f.Name], err = io.ReadAll(rc) // checks the CRC-32 the page wrote
		rc.Close()
		if err != nil {
			t.Fatalf("zip entry %s: %v", f.Name, err)
		}
	}
	if len(got) != 2 || !bytes.Equal(got["photo.jpg"], jpg) || !bytes.Equal(got["notes.pdf"], pdf) {
		t.Errorf("fileconv.zip holds %d files (%v), want photo.jpg and notes.pdf as downloaded", len(got), keys(got))
	}

	statusText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#status-body").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(statusText, "2 of 2 healthy") {
		t.Errorf("status panel says %q, want the workers' health", statusText)
	}
	shotPath := filepath.Join(out, "finished.png")
	if err := os.WriteFile(shotPath, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the finished page: %s (kept with go test -artifacts)", shotPath)

	// A phone-sized screen: nothing wider than the viewport.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("on a 390 px wide screen the page scrolls sideways")
	}
	os.WriteFile(filepath.Join(out, "phone.png"), shot, 0o644)

	// Keyboard: the file picker is reachable with Tab.
	focusable, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = document.querySelector("#file-input"); i.focus(); return document.activeElement === i && i.tabIndex >= 0; })()`))
	if err != nil || !focusable {
		t.Errorf("the file input cannot take the keyboard focus (%v)", err)
	}
}

// TestBrowserOpen: with --open the page asks no token and converts at once.
func TestBrowserOpen(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})
	in := t.TempDir()
	p := filepath.Join(in, "pic.png")
	if err := os.WriteFile(p, pngFile(t, 10, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	// A kind the server tells apart but does not convert: the row names it.
	gif := filepath.Join(in, "old.doc")
	if err := os.WriteFile(gif, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A scanned multi-page TIFF becomes a PNG of its first page, and the row
	// says so.
	tiff, err := os.ReadFile("../convert/testdata/images/cogs-pages.tif")
	if err != nil {
		t.Fatal(err)
	}
	tif := filepath.Join(in, "scan.tif")
	if err := os.WriteFile(tif, tiff, 0o644); err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	ctx := newBrowser(t, downloads)
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#token-panel").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(`#file-input`, []string{p, gif, tif}),
		chromedp.WaitReady(row("pic.png")+` option[value="webp"]`),
		chromedp.WaitReady(row("old.doc")+`[data-status="failed"]`),
		chromedp.WaitReady(row("scan.tif")+` option[value="png"]`),
		chromedp.SetValue(row("pic.png")+` select`, "webp"),
		chromedp.Click(row("pic.png")+` button.convert`),
		chromedp.WaitReady(row("pic.png")+`[data-status="done"]`),
		chromedp.SetValue(row("scan.tif")+` select`, "png"),
		// The options panel offers a size for a PNG, not a quality.
		chromedp.WaitReady(row("scan.tif")+` .options input[name="width"]`),
		chromedp.SetValue(row("scan.tif")+` .options input[name="width"]`, "20"),
		chromedp.Click(row("scan.tif")+` button.convert`),
		chromedp.WaitReady(row("scan.tif")+`[data-status="done"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(row("pic.png")+` .state`))
	if err != nil {
		t.Fatal(err)
	}
	if !hidden || !strings.Contains(status, "pic.webp") {
		t.Errorf("token panel hidden %v; row says %q", hidden, status)
	}
	gifState, err := chromedp.Run(ctx, chromedp.Text(row("old.doc")+` .state`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gifState, "legacy Office document (DOC, XLS or PPT): this server does not convert it; it converts PDF, ") {
		t.Errorf("the DOC row says %q", gifState)
	}
	tifState, err := chromedp.Run(ctx, chromedp.Text(row("scan.tif")+` .state`))
	if err != nil {
		t.Fatal(err)
	}
	tifNote, err := chromedp.Run(ctx, chromedp.Text(row("scan.tif")+` .note`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tifState, "scan.png") || !strings.Contains(tifNote, "the TIFF has 5 pages; the PNG holds the first") {
		t.Errorf("the TIFF row says %q, with the note %q", tifState, tifNote)
	}
	// The result is 20 pixels wide: its IHDR, from the downloaded file.
	if err := chromedp.Do(ctx, chromedp.Click(row("scan.tif")+` a.download`)); err != nil {
		t.Fatal(err)
	}
	if png := waitFile(t, filepath.Join(downloads, "scan.png")); len(png) < 24 || binary.BigEndian.Uint32(png[16:20]) != 20 {
		t.Errorf("the PNG made with width 20 is not 20 pixels wide (%d bytes)", len(png))
	}
	quality, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('li[data-name="scan.tif"] .options input[name="quality"]') !== null`))
	if err != nil || quality {
		t.Errorf("the panel offers a quality for a PNG (%v)", err)
	}
}

// TestBrowserCombine: a PNG, a JPEG and a PDF of two pages become one PDF of
// four pages through "Combine into one PDF", in list order, and a file that
// cannot become PDF is left out and named. Then a damaged PDF brings the
// server's warning to the combined result, and a broken image its error,
// naming the file.
func TestBrowserCombine(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})
	first, damaged, broken := combineFiles(t)
	downloads := t.TempDir()
	ctx := newBrowser(t, downloads)
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
		chromedp.SetUploadFiles(`#file-input`, first),
		chromedp.WaitReady(row("c-report.pdf")+` option[value="pdf"]`),
		chromedp.WaitReady(row("d-old.doc")+`[data-status="failed"]`),
		chromedp.WaitEnabled(`#combine`),
	)
	if err != nil {
		t.Fatalf("load the page and add files: %v", err)
	}
	checkCombineOffer(t, ctx)
	checkCombined(t, ctx, downloads)
	checkCombineWarningAndError(t, ctx, damaged, broken)
	checkCombineLayout(t, ctx)
}

// combineFiles writes the files TestBrowserCombine drops: a PNG, a JPEG, a
// PDF of two pages and a DOC (first), then a damaged PDF and a broken PNG.
func combineFiles(t *testing.T) (first []string, damaged, broken string) {
	jpg, err := testfiles.Encode(testfiles.Photo(90, 60), testfiles.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	twoPages, err := testfiles.PDF(2)
	if err != nil {
		t.Fatal(err)
	}
	onePage, err := testfiles.PDF(1)
	if err != nil {
		t.Fatal(err)
	}
	in := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(in, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first = []string{
		write("a-photo.png", pngFile(t, 120, 80)),
		write("b-photo.jpg", jpg),
		write("c-report.pdf", twoPages),
		write("d-old.doc", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00")),
	}
	// Without its cross-reference table: qpdf rebuilds it, with a warning.
	damaged = write("e-damaged.pdf", onePage[:bytes.LastIndex(onePage, []byte("xref"))])
	broken = write("f-broken.png", append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("not a real image "), 4)...))

	return first, damaged, broken
}

// elementText is the text of the element sel, failing the test without one.
func elementText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return s
}

// checkCombineOffer: the page offers to combine the files that can become a
// PDF, says which are left out, and lists no "several files" type.
func checkCombineOffer(t *testing.T, ctx context.Context) {
	acceptedText, err := chromedp.Run(ctx, chromedp.Text(`#accepted`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(acceptedText), "several files") || !strings.Contains(acceptedText, "combined into one") {
		t.Errorf("the accepted sentence lists the request of several files as a type of file, or not the combining: %q", acceptedText)
	}
	docState, err := chromedp.Run(ctx, chromedp.Text(row("d-old.doc")+` .state`))
	if err != nil || strings.Contains(docState, "several files") {
		t.Errorf("the DOC row lists the request of several files as a type of file: %q (%v)", docState, err)
	}
	hint, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const b = document.querySelector("#combine"); return document.getElementById(b.getAttribute("aria-describedby")).textContent; })()`))
	if err != nil || !strings.Contains(hint, "Joins 3 files") || !strings.Contains(hint, "d-old.doc") {
		t.Errorf("the Combine button is described as %q (%v)", hint, err)
	}

}

// checkCombined combines the files and downloads the PDF of four pages.
func checkCombined(t *testing.T, ctx context.Context, downloads string) {
	text := func(sel string) string { t.Helper(); return elementText(t, ctx, sel) }
	err := chromedp.Do(ctx,
		chromedp.Click(`#combine`),
		chromedp.WaitReady(`#combined[data-status="done"]`),
	)
	if err != nil {
		t.Fatalf("combine: %v", err)
	}
	if st := text(`#combined .state`); !strings.HasPrefix(st, "Done: combined.pdf") {
		t.Errorf("the combined PDF says %q", st)
	}
	if d := text(`#combined .details`); d != "a-photo.png, b-photo.jpg and c-report.pdf, in this order" {
		t.Errorf("the combined PDF is made of %q", d)
	}
	if left := text(`#combined .left-out`); !strings.Contains(left, "d-old.doc") || strings.Contains(left, "photo") {
		t.Errorf("the page says of the files left out: %q", left)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#combined a.download`)); err != nil {
		t.Fatal(err)
	}
	pdf := waitFile(t, filepath.Join(downloads, "combined.pdf"))
	if n, err := qpdf.Pages(qpdf.Input{PDF: pdf}); err != nil || n != 4 {
		t.Errorf("combined.pdf has %d pages (%v), want 4: one per image and the PDF's two", n, err)
	}

}

// checkCombineWarningAndError: a damaged PDF brings the server's warning,
// a broken image its error, naming the file.
func checkCombineWarningAndError(t *testing.T, ctx context.Context, damaged, broken string) {
	text := func(sel string) string { t.Helper(); return elementText(t, ctx, sel) }
	// A damaged PDF: the result comes with the server's warning.
	err := chromedp.Do(ctx,
		chromedp.SetUploadFiles(`#file-input`, []string{damaged}),
		chromedp.WaitReady(row("e-damaged.pdf")+` option[value="pdf"]`),
		chromedp.Click(`#combine`),
		chromedp.WaitReady(`#combined.warned[data-status="done"]`),
	)
	if err != nil {
		t.Fatalf("combine with a damaged PDF: %v", err)
	}
	if st, note := text(`#combined .state`), text(`#combined .note`); !strings.HasPrefix(st, "Done, with warnings: combined.pdf") || !strings.Contains(note, "damaged and has been repaired") {
		t.Errorf("with a damaged PDF the combined PDF says %q, with the note %q", st, note)
	}

	// A broken image: the server's message, which names the file.
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(`#file-input`, []string{broken}),
		chromedp.WaitReady(row("f-broken.png")+` option[value="pdf"]`),
		chromedp.Click(`#combine`),
		chromedp.WaitReady(`#combined[data-status="failed"]`),
	)
	if err != nil {
		t.Fatalf("combine with a broken image: %v", err)
	}
	if st := text(`#combined .state`); !strings.HasPrefix(st, "Error: file 5 (f-broken.png): ") {
		t.Errorf("with a broken image the combined PDF says %q", st)
	}
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#combined a.download").offsetParent !== null`)); err != nil || shown {
		t.Errorf("the failed combination offers a download (%v)", err)
	}
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(t.ArtifactDir(), "combined.png"), shot, 0o644)
	}

}

// checkCombineLayout: the keyboard reaches the button, a phone-sized screen
// does not scroll sideways, and Dismiss hands the focus back.
func checkCombineLayout(t *testing.T, ctx context.Context) {
	// The keyboard reaches the button, and a phone-sized screen does not
	// scroll sideways with the combined PDF shown.
	focusable, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const b = document.querySelector("#combine"); b.focus(); return document.activeElement === b; })()`))
	if err != nil || !focusable {
		t.Errorf("the Combine button cannot take the keyboard focus (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || overflow {
		t.Errorf("on a 390 px wide screen the page with the combined PDF scrolls sideways (%v)", err)
	}
	if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(filepath.Join(t.ArtifactDir(), "combined-phone.png"), shot, 0o644)
	}

	// Dismissing the panel hides it and hands the focus back to the button.
	if err := chromedp.Do(ctx, chromedp.Click(`#combined button.remove`), chromedp.WaitNotVisible(`#combined`)); err != nil {
		t.Fatalf("dismiss the combined PDF: %v", err)
	}
	if back, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement === document.querySelector("#combine")`)); err != nil || !back {
		t.Errorf("after Dismiss the focus is not on the Combine button (%v)", err)
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for name := range m {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}
