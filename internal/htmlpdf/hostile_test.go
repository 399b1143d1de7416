package htmlpdf

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// convertWithin converts with a deadline and reports how long it took.
func convertWithin(p *Pool, html string, d time.Duration) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	pdf, err := p.Convert(ctx, Job{HTML: []byte(html)})
	return pdf, time.Since(start), err
}

// works checks that the pool converts a plain document.
func works(t *testing.T, p *Pool, word string) {
	t.Helper()
	pdf, took, err := convertWithin(p, "<p>"+word+"</p>", 30*time.Second)
	if err != nil {
		t.Fatalf("the next document failed: %v", err)
	}
	if text := pdfText(t, pdf); !strings.Contains(text, word) {
		t.Fatalf("the next document lacks %q:\n%s", word, text)
	}
	t.Logf("the next document converted in %v", took.Round(time.Millisecond))
}

// TestInfiniteLoop: with JavaScript on, while(true){} ends at the job's
// deadline with ErrTimeout; the tab is replaced and the next job converts.
// With JavaScript off the loop never runs.
func TestInfiniteLoop(t *testing.T) {
	loops := map[string]string{
		"while":            `<p>LOOP</p><script>while(true){}</script>`,
		"after load":       `<p>LOOP</p><script>addEventListener("load", () => { while(true){} })</script>`,
		"never loads":      `<p>LOOP</p><script>setTimeout(function reopen() { document.open(); document.write("<p>x"); setTimeout(reopen, 20) }, 0)</script>`,
		"alert then loop":  `<p>LOOP</p><script>alert("hi"); confirm("sure?"); while(true){}</script>`,
		"recursive frames": `<p>LOOP</p><script>for(;;){ document.body.appendChild(document.createElement("div")) }</script>`,
	}
	p := newPool(t, Config{Tabs: 1, JavaScript: true})
	for name, html := range loops {
		t.Run(name, func(t *testing.T) {
			const deadline = 2 * time.Second
			_, took, err := convertWithin(p, html, deadline)
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want ErrTimeout, got %v", err)
			}
			if took > deadline+time.Second {
				t.Errorf("the job took %v, past its deadline of %v", took, deadline)
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
			works(t, p, "AFTER-"+strings.ToUpper(strings.ReplaceAll(name, " ", "-")))
		})
	}
	if s := p.Stats(); s.Starts != 1 {
		t.Errorf("the browser was restarted (%d starts): a stuck tab should cost only the tab", s.Starts)
	}

	off := newPool(t, Config{Tabs: 1})
	pdf, _, err := convertWithin(off, loops["while"], 10*time.Second)
	if err != nil {
		t.Fatalf("JavaScript off: %v", err)
	}
	if !strings.Contains(pdfText(t, pdf), "LOOP") {
		t.Error("JavaScript off: the page is missing")
	}
}

// TestKilledBrowser: killing Chromium from outside in the middle of a job
// fails that job with ErrCrashed, and the pool starts another browser for the
// next one.
func TestKilledBrowser(t *testing.T) {
	p := newPool(t, Config{Tabs: 2, JavaScript: true})
	pid := p.Stats().PID
	if pid == 0 {
		t.Fatal("no browser runs after Start")
	}
	go func() {
		time.Sleep(700 * time.Millisecond)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	_, took, err := convertWithin(p, `<p>BUSY</p><script>while(true){}</script>`, 20*time.Second)
	if !errors.Is(err, ErrCrashed) {
		t.Fatalf("want ErrCrashed, got %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("the job noticed the crash after %v", took)
	}
	t.Logf("%v after %v", err, took.Round(time.Millisecond))
	works(t, p, "AFTER-KILL")
	s := p.Stats()
	if s.PID == pid || s.PID == 0 || s.Starts != 2 {
		t.Errorf("after the kill: pid %d (was %d), %d starts; want a second browser", s.PID, pid, s.Starts)
	}
	// The killed browser's processes and folder are gone.
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the killed browser %d still exists", pid)
	}
}

// TestSupervision: a browser that dies while idle is replaced at once, with
// its tabs, without waiting for a job.
func TestSupervision(t *testing.T) {
	p := newPool(t, Config{Tabs: 2, youngDeath: time.Nanosecond})
	pid := p.Stats().PID
	dir := p.br.dir
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().PID == 0 || p.Stats().PID == pid {
		if time.Now().After(deadline) {
			t.Fatal("no new browser 10 s after the kill")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // the tabs open
	if pids := processes(dir); len(pids) > 0 {
		t.Errorf("the killed browser left processes: %v", pids)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the killed browser left its folder")
	}
	tabs := []*tab{<-p.slots, <-p.slots}
	for _, tb := range tabs {
		if tb == nil || tb.br != p.br {
			t.Error("a tab is not ready on the new browser")
		}
		p.slots <- tb
	}
	works(t, p, "AFTER-RESTART")
}

// TestWedgedBrowser: a browser that stops answering (SIGSTOP) is killed and
// replaced.
func TestWedgedBrowser(t *testing.T) {
	p := newPool(t, Config{Tabs: 1, youngDeath: time.Nanosecond, pingEvery: 300 * time.Millisecond})
	pid := p.Stats().PID
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	deadline := time.Now().Add(30 * time.Second)
	for p.Stats().PID == 0 || p.Stats().PID == pid {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the stopped browser was not replaced in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the wedged browser %d still exists", pid)
	}
	works(t, p, "AFTER-WEDGE")
}

// TestKilledRenderer: a renderer killed from outside fails its job with
// ErrCrashed; the browser keeps running.
func TestKilledRenderer(t *testing.T) {
	p := newPool(t, Config{Tabs: 1, JavaScript: true})
	br := p.br
	go func() {
		time.Sleep(700 * time.Millisecond)
		for _, pid := range processes(br.dir) {
			if cmd, _ := os.ReadFile("/proc/" + itoa(pid) + "/cmdline"); strings.Contains(string(cmd), "--type=renderer") {
				t.Logf("killing renderer %d: %v", pid, syscall.Kill(pid, syscall.SIGKILL))
			}
		}
	}()
	_, took, err := convertWithin(p, `<p>BUSY</p><script>while(true){}</script>`, 20*time.Second)
	if !errors.Is(err, ErrCrashed) {
		t.Fatalf("want ErrCrashed, got %v", err)
	}
	t.Logf("%v after %v", err, took.Round(time.Millisecond))
	works(t, p, "AFTER-RENDERER-KILL")
	if s := p.Stats(); s.Starts != 1 {
		t.Errorf("%d starts: a renderer's crash should not restart the browser", s.Starts)
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// TestHostileDocuments: a huge document, deep nesting and a document of many
// pages end by the deadline, converted or with a clear error; the next job
// converts.
func TestHostileDocuments(t *testing.T) {
	p := newPool(t, Config{Tabs: 1})
	huge := "<p>" + strings.Repeat("Lorem ipsum dolor sit amet. ", 700_000) + "</p>" // 19.6 MB
	deep := strings.Repeat("<div>", 200_000) + "DEEP" + strings.Repeat("</div>", 200_000)
	tall := `<div style="height: 5000in">TALL</div>`
	wide := `<table>` + strings.Repeat("<tr>"+strings.Repeat("<td>cell</td>", 200)+"</tr>", 2000) + `</table>`
	for name, html := range map[string]string{"huge": huge, "deep": deep, "tall": tall, "wide table": wide} {
		t.Run(name, func(t *testing.T) {
			const deadline = 6 * time.Second
			pdf, took, err := convertWithin(p, html, deadline)
			switch {
			case err == nil:
				_, _, pages := pageSize(t, pdf)
				t.Logf("%d bytes of HTML: %d pages, %d bytes of PDF, in %v", len(html), pages, len(pdf), took.Round(time.Millisecond))
			case errors.Is(err, ErrTimeout) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCrashed):
				t.Logf("%d bytes of HTML: %v after %v", len(html), err, took.Round(time.Millisecond))
			default:
				t.Errorf("unclear error: %v", err)
			}
			if took > deadline+2*time.Second {
				t.Errorf("the job took %v, past its deadline of %v", took, deadline)
			}
			works(t, p, "AFTER-"+strings.ToUpper(strings.ReplaceAll(name, " ", "-")))
		})
	}
}

// TestMisbehavingScripts: with JavaScript on, a page's print(), close(),
// reload and pop-ups neither break the job nor the tab.
func TestMisbehavingScripts(t *testing.T) {
	p := newPool(t, Config{Tabs: 1, JavaScript: true})
	for _, c := range []struct {
		script  string
		wantErr error
	}{
		{`window.print()`, nil},
		{`addEventListener("load", () => print())`, nil},
		{`window.close()`, nil},
		{`setTimeout(() => window.close(), 0)`, nil},
		{`document.body.append(document.createElement("iframe")); frames[0].print(); frames[0].close()`, nil},
		{`open("about:blank"); open("https://example.com/")`, nil},
		{`history.pushState({}, "", "/elsewhere")`, nil},
		{`window.stop()`, nil},
		{`location.reload()`, ErrUnreadable},
	} {
		pdf, took, err := convertWithin(p, "<p>MISBEHAVE</p><script>"+c.script+"</script>", 10*time.Second)
		switch {
		case c.wantErr != nil:
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s: want %v, got %v", c.script, c.wantErr, err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.script, err)
		case !strings.Contains(pdfText(t, pdf), "MISBEHAVE"):
			t.Errorf("%s: the text is missing", c.script)
		default:
			t.Logf("%s: converted in %v", c.script, took.Round(time.Millisecond))
		}
		works(t, p, "AFTER")
	}
	if s := p.Stats(); s.Starts != 1 {
		t.Errorf("%d browser starts", s.Starts)
	}
}
