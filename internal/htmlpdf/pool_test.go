package htmlpdf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentAndIsolated converts many documents on two tabs at once:
// each PDF holds its own document and nothing of the others, also when a
// document's script tries to write into whatever comes next (JavaScript on).
func TestConcurrentAndIsolated(t *testing.T) {
	p := newPool(t, Config{Tabs: 2, JavaScript: true})
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	texts := make([]string, n)
	for i := range n {
		wg.Go(func() {
			html := fmt.Sprintf(`<p>DOC-%02d</p><script>
				setInterval(() => document.body.append("LEAK-FROM-%02d "), 1);
				try { localStorage.setItem("k", "%02d") } catch (e) {}
				document.cookie = "c=%02d";</script>`, i, i, i, i)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			pdf, err := p.Convert(ctx, Job{HTML: []byte(html)})
			if err != nil {
				errs[i] = err
				return
			}
			texts[i] = pdfText(t, pdf)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("document %d: %v", i, errs[i])
			continue
		}
		if !strings.Contains(texts[i], fmt.Sprintf("DOC-%02d", i)) {
			t.Errorf("document %d lacks its text: %q", i, texts[i])
		}
		for j := range n {
			if j != i && (strings.Contains(texts[i], fmt.Sprintf("DOC-%02d", j)) || strings.Contains(texts[i], fmt.Sprintf("LEAK-FROM-%02d", j))) {
				t.Errorf("document %d holds text of document %d: %q", i, j, texts[i])
			}
		}
	}
	// A document after them sees no state of theirs.
	pdf := convert(t, p, Job{HTML: []byte(`<p id=o>STATE:</p><script>
		let s = "cookie="; try { s += document.cookie } catch (e) { s += "none" }
		try { s += " storage=" + localStorage.getItem("k") } catch (e) { s += " storage=none" }
		document.getElementById("o").append(s)</script>`)})
	text := pdfText(t, pdf)
	if !regexp.MustCompile(`cookie=(none)? storage=(none|null)`).MatchString(text) {
		t.Errorf("state survived a document: %q", text)
	}
}

// TestRecycle: after Recycle documents the browser is replaced, between jobs,
// and its folder is removed.
func TestRecycle(t *testing.T) {
	p := newPool(t, Config{Tabs: 1, Recycle: 3})
	first := p.Stats().PID
	firstDir := p.br.dir
	for i := range 7 {
		pdf := convert(t, p, Job{HTML: fmt.Appendf(nil, "<p>DOC-%d</p>", i)})
		if text := pdfText(t, pdf); !strings.Contains(text, fmt.Sprintf("DOC-%d", i)) {
			t.Errorf("document %d: %q", i, text)
		}
	}
	s := p.Stats()
	if s.Recycles != 2 || s.Starts != 3 || s.PID == first || s.Documents != 7 {
		t.Errorf("after 7 documents with Recycle 3: %+v (first pid %d)", s, first)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := os.Stat(firstDir); !os.IsNotExist(err) {
		t.Errorf("the first browser's folder %s is still there: %v", firstDir, err)
	}
	if pids := processes(firstDir); len(pids) > 0 {
		t.Errorf("the first browser's processes are still there: %v", pids)
	}
}

// TestMaxMemory: a browser above MaxMemory is replaced.
func TestMaxMemory(t *testing.T) {
	p := newPool(t, Config{Tabs: 1, MaxMemory: 1 << 20})
	for i := range 10 {
		convert(t, p, Job{HTML: fmt.Appendf(nil, "<p>%d</p>", i)})
	}
	if s := p.Stats(); s.Recycles != 1 {
		t.Errorf("%+v: want one recycle after 10 documents above 1 MiB", s)
	}
}

// TestTooLarge: a PDF above MaxOutput fails with ErrTooLarge; the tab works on.
func TestTooLarge(t *testing.T) {
	p := newPool(t, Config{Tabs: 1, MaxOutput: 20 << 10})
	_, err := p.Convert(context.Background(), Job{HTML: []byte(strings.Repeat("<p>Many pages of text.</p>", 5000))})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	convert(t, p, Job{HTML: []byte("<p>small</p>")})
}

// TestCloseAndLazyStart: a pool starts on first use, Close removes the
// browser's processes and folder, and Convert after Close fails.
func TestCloseAndLazyStart(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	p := New(Config{Tabs: 1, Logger: newPoolLogger(t)})
	if s := p.Stats(); s.PID != 0 || s.Starts != 0 {
		t.Fatalf("New started something: %+v", s)
	}
	ctx := context.Background()
	if err := p.SelfTest(ctx); err != nil {
		t.Fatal(err)
	}
	dir := p.br.dir
	if len(processes(dir)) == 0 {
		t.Fatal("no process found for the browser")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := processes(dir); len(pids) > 0 {
		t.Errorf("processes left after Close: %v", pids)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the folder %s is left after Close", dir)
	}
	if _, err := p.Convert(ctx, Job{HTML: []byte("<p>x")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Convert after Close: %v", err)
	}
}

// TestMissingChromium: a wrong ChromiumPath gives ErrUnavailable.
func TestMissingChromium(t *testing.T) {
	p := New(Config{ChromiumPath: "/nonexistent/chromium", Logger: newPoolLogger(t)})
	defer p.Close()
	_, err := p.Convert(context.Background(), Job{HTML: []byte("<p>x")})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("want ErrUnavailable, got %v", err)
	}
}

// TestTimingsAndMemory logs the start, the time of a document one at a time,
// and the browser's memory idle and after 100 documents on two tabs.
func TestTimingsAndMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if err := Available(); err != nil {
		t.Skip(err)
	}
	p := New(Config{Tabs: 2, Logger: newPoolLogger(t)})
	defer p.Close()
	begin := time.Now()
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	started := time.Since(begin)
	job := Job{HTML: []byte(benchHTML)}
	begin = time.Now()
	convert(t, p, job)
	first := time.Since(begin)
	var sequential time.Duration
	for range 20 {
		begin = time.Now()
		convert(t, p, job)
		sequential += time.Since(begin)
		time.Sleep(50 * time.Millisecond) // the tab resets between documents
	}
	time.Sleep(time.Second)
	idle := p.Stats().Memory
	begin = time.Now()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 50 {
				convert(t, p, Job{HTML: fmt.Appendf(nil, "<h1>Document %d-%d</h1><p>%s</p>", w, i, strings.Repeat("Some text. ", 200))})
			}
		})
	}
	wg.Wait()
	took := time.Since(begin)
	time.Sleep(time.Second)
	s := p.Stats()
	t.Logf("start (browser and 2 tabs) %v; first document %v; then %v a document one at a time",
		started.Round(time.Millisecond), first.Round(time.Millisecond), (sequential / 20).Round(100*time.Microsecond))
	t.Logf("Chromium (2 tabs): %d processes, %.0f MiB idle, %.0f MiB after 100 more documents (%.1f documents/s on 2 tabs)",
		len(processes(p.br.dir)), float64(idle)/(1<<20), float64(s.Memory)/(1<<20), 100/took.Seconds())
	if idle == 0 || s.Memory == 0 {
		t.Error("no memory measured")
	}
}

// TestCloseInFlight: Close during a job ends the job with ErrClosed at once.
func TestCloseInFlight(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	p := New(Config{Tabs: 1, JavaScript: true, Logger: newPoolLogger(t)})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, _, err := convertWithin(p, `<script>while(true){}</script>`, 60*time.Second)
		errc <- err
	}()
	time.Sleep(700 * time.Millisecond)
	begin := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Close took %v", took)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("the job in flight: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job in flight did not end")
	}
}
