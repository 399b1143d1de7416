// Package htmlpdf converts HTML and Markdown to PDF with the real Chromium,
// driven through the DevTools protocol (chromedp) on warm tabs of a browser
// that the pool starts, watches and restarts.
//
// # Nothing is fetched
//
// A document can only show what it holds. The tests (TestNothingFetched)
// print a page that tries 28 ways to reach a local server or file (every tag
// that loads, CSS, a preconnect, and with JavaScript fetch, XHR, WebSocket,
// EventSource, beacon, import(), a worker, WebRTC), with every layer, with
// each layer alone, and with none (which reaches the server every way):
//
//  1. The document is never loaded from a URL: it is written into a blank tab
//     (Page.setDocumentContent on about:blank), so it has an opaque origin, no
//     base URL, and Chromium refuses it any file: URL ("Not allowed to load
//     local resource").
//  2. A Content-Security-Policy is put at the top of the document:
//     default-src 'none'; images, fonts, stylesheets and media only from
//     data: (and blob:) URLs inside it; no frames but srcdoc, no workers, no
//     connections (fetch, XHR, WebSocket, EventSource); scripts inline only,
//     and only when JavaScript is on. Alone it misses a preconnect (a
//     connection with no request) and WebRTC.
//  3. The browser intercepts every request of every tab and worker
//     (Fetch.enable on the browser session, pattern "*") and fails it before
//     it leaves; a navigation is aborted, so the page stays the document.
//     Alone it misses WebSockets, a preconnect and WebRTC.
//  4. The network stack can reach nothing: --host-resolver-rules="MAP *
//     ~NOTFOUND" (no name or address resolves, not even 127.0.0.1), a proxy
//     that does not exist for every URL including loopback
//     (--proxy-server, --proxy-bypass-list=<-loopback>), WebRTC limited to that
//     proxy, no background networking, no component updates, no extensions,
//     crash reports only into the private folder, downloads denied. Alone it
//     stops every way tried.
//
// JavaScript is off unless Config.JavaScript turns it on
// (Emulation.setScriptExecutionDisabled; <noscript> content shows). With it
// on, a page's print() and close() do nothing, dialogs are answered at once,
// pop-ups are refused, and a script that never ends ends with the job.
//
// # Processes
//
// One Chromium (headless; its user-data folder, which is also its HOME, is
// private, in /dev/shm when that is a memory file system of 512 MiB or more,
// else in the temporary folder, and removed when the browser stops) serves
// Config.Tabs tabs, each converting one document at a time, each in a
// browser context of its own (in memory: no cookie, storage or cache shared
// or written). Between two documents a tab goes back to a new about:blank, so
// nothing of a document (timers, workers, a scheduled refresh) reaches the
// next. The browser starts at Start or on first use; Start also opens the
// tabs. A job that passes its deadline loses its tab (closing it ends its
// renderer, even one in an endless loop) and the browser is pinged; a
// browser that exits, crashes or does not answer two pings 15 s apart is
// killed and replaced at once with its tabs; a browser is also replaced after
// Config.Recycle documents or above Config.MaxMemory. Chromium gets no
// variable of the worker's environment but PATH, TMPDIR, TZ, LANG, LC_* and
// FONTCONFIG_*, and dies with the worker (PR_SET_PDEATHSIG).
//
// Chromium runs without its sandbox (--no-sandbox) only when the worker runs
// as root, where Chromium refuses to start with it (its sandbox drops the
// privileges of a normal user, which root keeps), or when Config.NoSandbox
// says so; as any other user the sandbox stays on.
package htmlpdf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Pool. The zero value is usable.
type Config struct {
	// Tabs is how many documents are converted at once (default
	// runtime.NumCPU()).
	Tabs int
	// JavaScript lets the documents' inline scripts run. Off by default.
	JavaScript bool
	// ChromiumPath is the browser to run. Default: see LookPath.
	ChromiumPath string
	// NoSandbox runs Chromium without its sandbox also when the worker is
	// not root (a container without user namespaces, where the sandbox
	// cannot start). As root it always runs without.
	NoSandbox bool
	// Recycle is how many documents a browser converts before it is replaced
	// (default 500).
	Recycle int
	// MaxMemory replaces the browser when its processes use more than this
	// many bytes (proportional set size, summed; looked at every 10
	// documents). 0: no limit.
	MaxMemory int64
	// MaxOutput is the largest PDF returned, in bytes (default 256 MiB).
	MaxOutput int64
	// Timeout is the deadline of a job whose context has none (default 60 s).
	Timeout time.Duration
	// Logger receives the browser's starts, restarts and failures
	// (default slog.Default()).
	Logger *slog.Logger

	// off turns protections off, for the tests that check each one alone.
	off layers
	// youngDeath: a browser that dies sooner after its start is not
	// restarted until a job needs it (default 10 s; the tests change it).
	youngDeath time.Duration
	// pingEvery is how often the browser is asked whether it answers
	// (default 15 s).
	pingEvery time.Duration
}

// layers names the network protections (see the package documentation).
type layers uint8

const (
	layerPolicy layers = 1 << iota // the Content-Security-Policy in the document
	layerFetch                     // Fetch interception on the browser session
	layerFlags                     // host resolver rules, the proxy, WebRTC
)

// Job is one document to print.
type Job struct {
	// HTML is the document (any encoding a browser detects: BOM or
	// <meta charset>, else UTF-8, else windows-1252).
	HTML []byte
	// PageSize is "A4" (default), "Letter", "Legal", "A3" or "A5".
	PageSize  string
	Landscape bool
	// Margin is the margin of every side in points; 0 gives DefaultMargin
	// (10 mm), a negative value none.
	Margin float64
	// Pages selects pages, as "1-3,7" (Chromium's pageRanges); empty: all.
	Pages string
}

// The errors of Convert; test them with errors.Is.
var (
	// ErrTimeout: the document did not finish by the job's deadline (the
	// error also matches context.DeadlineExceeded).
	ErrTimeout = errors.New("htmlpdf: the document did not finish by its deadline")
	// ErrCrashed: Chromium (or the tab's renderer) died or did not start.
	ErrCrashed = errors.New("htmlpdf: Chromium crashed")
	// ErrUnreadable: the input is empty or not text, or Chromium could not
	// print it.
	ErrUnreadable = errors.New("htmlpdf: unreadable document")
	// ErrOptions: the page size, margin or page ranges are invalid, or the
	// ranges select no page of the document.
	ErrOptions = errors.New("htmlpdf: invalid options")
	// ErrTooLarge: the PDF is larger than Config.MaxOutput.
	ErrTooLarge = errors.New("htmlpdf: the PDF is too large")
	// ErrClosed: the pool is closed.
	ErrClosed = errors.New("htmlpdf: the pool is closed")
	// ErrUnavailable: no Chromium was found.
	ErrUnavailable = errors.New("htmlpdf: Chromium is not installed")
)

// debianChromium is the real binary behind Debian's /usr/bin/chromium, a
// shell script that adds the flags of /etc/chromium.d (remote extensions,
// Google API keys) to every start.
const debianChromium = "/usr/lib/chromium/chromium"

// LookPath finds Chromium: chromium, chromium-browser, google-chrome,
// google-chrome-stable or headless_shell on the PATH; Debian's launcher
// script is replaced by the binary it runs, so that only this package's flags
// apply.
func LookPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if isScript(p) && isExecutable(debianChromium) {
			return debianChromium, nil
		}
		return p, nil
	}
	if isExecutable(debianChromium) {
		return debianChromium, nil
	}
	return "", fmt.Errorf("%w (install the Debian package chromium)", ErrUnavailable)
}

func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [2]byte
	n, _ := f.Read(head[:])
	return n == 2 && string(head[:]) == "#!"
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Available reports whether Chromium is installed (with LookPath).
func Available() error {
	_, err := LookPath()
	return err
}

// Pool converts documents on the tabs of one Chromium at a time. Its methods
// are safe for concurrent use.
type Pool struct {
	cfg   Config
	log   *slog.Logger
	slots chan *tab // Tabs entries; nil until a tab is made
	// active counts the calls of Start and Convert in progress, bg the
	// goroutines of the pool. Close waits for both.
	active, bg sync.WaitGroup

	mu       sync.Mutex
	path     string
	br       *browser // the current browser; nil when none runs
	starting *startCall
	closed   bool

	starts, docs, crashes, timeouts, recycles, blocked atomic.Int64
}

// startCall is a start of the browser that several jobs wait for.
type startCall struct {
	done chan struct{}
	err  error
}

// New makes a pool. It starts nothing: Start (or the first Convert) does.
func New(cfg Config) *Pool {
	if cfg.Tabs <= 0 {
		cfg.Tabs = runtime.NumCPU()
	}
	if cfg.Recycle <= 0 {
		cfg.Recycle = 500
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = 256 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.pingEvery == 0 {
		cfg.pingEvery = 15 * time.Second
	}
	if cfg.youngDeath == 0 {
		cfg.youngDeath = 10 * time.Second
	}
	p := &Pool{cfg: cfg, log: cfg.Logger.With("engine", "chromium"), slots: make(chan *tab, cfg.Tabs)}
	for range cfg.Tabs {
		p.slots <- nil
	}
	return p
}

// Start starts the browser and opens its tabs, so that the first documents
// find them warm.
func (p *Pool) Start(ctx context.Context) error {
	if !p.enter() {
		return ErrClosed
	}
	defer p.active.Done()
	br, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(br)
	// Open the tabs, all at once.
	var wg sync.WaitGroup
	errs := make([]error, p.cfg.Tabs)
	for i := range p.cfg.Tabs {
		var t *tab
		select {
		case t = <-p.slots:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Go(func() {
			if t == nil || t.br != br || t.isDead() {
				t.close(&p.bg)
				t, errs[i] = br.newTab(ctx, p)
			}
			p.slots <- t
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// selfTestHTML uses several scripts, so that the fonts are checked too.
const selfTestHTML = `<!DOCTYPE html><html lang="en"><meta charset="utf-8"><title>self-test</title>
<body><h1>fileconv self-test</h1><p>Latin é, Ελληνικά, Кириллица, 中文, 日本語, 한국어, العربية, עברית.</p></body></html>`

// SelfTest prints a small document and checks that a PDF came back. A
// missing font for a script is logged, not an error.
func (p *Pool) SelfTest(ctx context.Context) error {
	pdf, err := p.Convert(ctx, Job{HTML: []byte(selfTestHTML)})
	if err != nil {
		return fmt.Errorf("htmlpdf self-test: %w", err)
	}
	if len(pdf) < 5 || string(pdf[:5]) != "%PDF-" {
		return fmt.Errorf("htmlpdf self-test: %w: Chromium returned no PDF", ErrCrashed)
	}
	for _, font := range missingFonts() {
		p.log.Warn("a font is missing: text in its scripts falls back to another font or shows boxes", "font", font)
	}
	return nil
}

// JavaScript reports whether the pool's tabs run a page's scripts.
func (p *Pool) JavaScript() bool { return p.cfg.JavaScript }

// Convert prints one document to PDF. The job ends at ctx's deadline, or
// after Config.Timeout when ctx has none.
func (p *Pool) Convert(ctx context.Context, job Job) ([]byte, error) {
	if !p.enter() {
		return nil, ErrClosed
	}
	defer p.active.Done()
	params, err := job.params()
	if err != nil {
		return nil, err
	}
	doc, err := decodeHTML(job.HTML)
	if err != nil {
		return nil, err
	}
	if p.cfg.off&layerPolicy == 0 {
		doc = withPolicy(doc, p.cfg.JavaScript)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.Timeout)
		defer cancel()
	}

	var t *tab
	select {
	case t = <-p.slots:
	case <-ctx.Done():
		return nil, p.ctxError(ctx, "waiting for a free tab")
	}
	br, err := p.acquire(ctx)
	if err != nil {
		p.slots <- t
		if ctx.Err() != nil {
			return nil, p.ctxError(ctx, "waiting for Chromium to start")
		}
		return nil, err
	}
	if t != nil && (t.br != br || t.isDead()) {
		t.close(&p.bg)
		t = nil
	}
	if t == nil {
		if t, err = br.newTab(ctx, p); err != nil {
			p.slots <- nil
			p.release(br)
			return nil, p.classify(ctx, br, nil, fmt.Errorf("opening a tab: %w", err))
		}
	}
	pdf, err := t.convert(ctx, doc, params, p.cfg.MaxOutput)
	if err != nil {
		err = p.classify(ctx, br, t, err)
		if errors.Is(err, ErrOptions) || errors.Is(err, ErrTooLarge) {
			// The tab is sound: keep it.
			p.done(br, t, false)
			return nil, err
		}
		t.close(&p.bg)
		p.slots <- nil
		p.release(br)
		if errors.Is(err, ErrTimeout) || errors.Is(err, context.Canceled) {
			p.check(br)
		}
		return nil, err
	}
	p.docs.Add(1)
	p.done(br, t, true)
	return pdf, nil
}

// enter counts a call of Start or Convert, unless the pool is closed.
func (p *Pool) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.active.Add(1)
	return true
}

// done gives the tab back to its slot after a job, cleaned for the next one
// in the background, and replaces the browser when it is due.
func (p *Pool) done(br *browser, t *tab, counted bool) {
	if counted {
		n := br.docs.Add(1)
		if int(n) >= p.cfg.Recycle {
			p.recycle(br, fmt.Sprintf("%d documents", n))
		} else if p.cfg.MaxMemory > 0 && n%10 == 0 {
			if m := br.memory(); m > p.cfg.MaxMemory {
				p.recycle(br, fmt.Sprintf("%d MiB of memory", m>>20))
			}
		}
	}
	p.bg.Go(func() {
		if err := t.reset(); err != nil {
			p.log.Debug("a tab did not reset; it is replaced", "err", err)
			t.close(&p.bg)
			t = nil
		}
		p.slots <- t
		p.release(br)
	})
}

// ctxError is the error of a job whose context ended.
func (p *Pool) ctxError(ctx context.Context, during string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		p.timeouts.Add(1)
		return fmt.Errorf("%w (%s) (%w)", ErrTimeout, during, context.DeadlineExceeded)
	}
	return fmt.Errorf("htmlpdf: %s: %w", during, ctx.Err())
}

// classify turns the error of a job into one of the package's errors.
func (p *Pool) classify(ctx context.Context, br *browser, t *tab, err error) error {
	for _, known := range []error{ErrOptions, ErrTooLarge, ErrUnreadable} {
		if errors.Is(err, known) {
			return err
		}
	}
	if ctx.Err() == nil {
		// The browser's or the renderer's death can reach the job before
		// the news of it: wait for the news a moment.
		var crashed <-chan struct{}
		if t != nil {
			crashed = t.crashed
		}
		select {
		case <-br.b.LostConnection:
			p.lost(br)
		case <-br.dead:
		case <-crashed:
		case <-time.After(300 * time.Millisecond):
		}
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("%w: %v", ErrClosed, err)
	case br.isDead():
		p.crashes.Add(1)
		return fmt.Errorf("%w: the browser exited during the document (%v)", ErrCrashed, err)
	case t != nil && t.hasCrashed():
		p.crashes.Add(1)
		return fmt.Errorf("%w: the tab's renderer crashed (%v)", ErrCrashed, err)
	case ctx.Err() != nil:
		stage, _, _ := strings.Cut(err.Error(), ":")
		return p.ctxError(ctx, stage)
	}
	return fmt.Errorf("htmlpdf: %w", err)
}

// acquire returns the running browser, starting one if none runs. The caller
// must release it.
func (p *Pool) acquire(ctx context.Context) (*browser, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if br := p.br; br != nil {
			if !br.isDead() {
				br.inflight++
				p.mu.Unlock()
				return br, nil
			}
			p.retireLocked(br)
		}
		sc := p.startLocked()
		p.mu.Unlock()
		select {
		case <-sc.done:
			if sc.err != nil {
				return nil, sc.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// startLocked starts a browser unless one is starting. p.mu is held.
func (p *Pool) startLocked() *startCall {
	if p.starting != nil {
		return p.starting
	}
	sc := &startCall{done: make(chan struct{})}
	p.starting = sc
	p.bg.Go(func() {
		br, err := p.launch()
		p.mu.Lock()
		p.starting = nil
		switch {
		case err != nil:
			sc.err = err
		case p.closed:
			sc.err = ErrClosed
			p.bg.Go(br.stop)
		default:
			p.br = br
		}
		p.mu.Unlock()
		close(sc.done)
	})
	return sc
}

func (p *Pool) release(br *browser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	br.inflight--
	if br.retired && br.inflight == 0 {
		p.bg.Go(br.stop)
	}
}

// retireLocked takes the browser out of service; it stops when its last job
// ends. p.mu is held.
func (p *Pool) retireLocked(br *browser) {
	if br.retired {
		return
	}
	br.retired = true
	if p.br == br {
		p.br = nil
	}
	if br.inflight == 0 {
		p.bg.Go(br.stop)
	}
}

// recycle replaces the browser and starts the next one at once.
func (p *Pool) recycle(br *browser, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if br.retired || p.closed {
		return
	}
	p.recycles.Add(1)
	p.log.Info("recycling Chromium", "pid", br.pid, "after", why)
	p.retireLocked(br)
	p.startLocked()
	p.warm()
}

// warm opens the tabs of the next browser in the background, so that the
// jobs after a recycle or a crash find them ready.
func (p *Pool) warm() {
	p.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
		defer cancel()
		if err := p.Start(ctx); err != nil && !errors.Is(err, ErrClosed) {
			p.log.Debug("the next browser's tabs did not open", "err", err)
		}
	})
}

// check looks at a browser after a job failed in it: one that does not answer
// within 5 seconds is killed and replaced.
func (p *Pool) check(br *browser) {
	p.bg.Go(func() {
		if br.isDead() {
			return
		}
		if err := br.ping(5 * time.Second); err != nil {
			p.log.Warn("Chromium stopped answering; killing it", "pid", br.pid, "err", err)
			p.kill(br)
		}
	})
}

// kill ends a browser at once and starts the next.
func (p *Pool) kill(br *browser) {
	p.mu.Lock()
	p.retireLocked(br)
	p.mu.Unlock()
	br.kill()
	p.mu.Lock()
	if !p.closed && p.br == nil {
		p.startLocked()
		p.warm()
	}
	p.mu.Unlock()
}

// Close stops the browser and removes its folder. Jobs in flight fail with
// ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	br := p.br
	p.br = nil
	if br != nil {
		br.retired = true
	}
	p.mu.Unlock()
	if br != nil {
		br.stop()
	}
	// Jobs in flight fail fast now that their browser is gone.
	p.active.Wait()
	// Free the tabs that wait in their slots; jobs in flight put theirs back
	// after their browser stopped.
	for range p.cfg.Tabs {
		select {
		case t := <-p.slots:
			t.close(&p.bg)
			p.slots <- nil
		default:
		}
	}
	p.bg.Wait()
	return nil
}

// Stats describes the pool.
type Stats struct {
	// PID is the browser's process id; 0 when none runs.
	PID int
	// Memory is the proportional set size of the browser's processes, in
	// bytes (0 when none runs).
	Memory int64
	// Starts counts the browsers started; Recycles those replaced because
	// of Recycle or MaxMemory.
	Starts, Recycles int64
	// Documents counts the PDFs made; BrowserDocuments those of the running
	// browser.
	Documents, BrowserDocuments int64
	// Crashes and Timeouts count the jobs that failed so.
	Crashes, Timeouts int64
	// Blocked counts the requests that the browser's interception failed.
	Blocked int64
}

// Stats returns the pool's counters and the running browser's memory.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	br := p.br
	p.mu.Unlock()
	s := Stats{
		Starts: p.starts.Load(), Recycles: p.recycles.Load(), Documents: p.docs.Load(),
		Crashes: p.crashes.Load(), Timeouts: p.timeouts.Load(), Blocked: p.blocked.Load(),
	}
	if br != nil && !br.isDead() {
		s.PID = br.pid
		s.Memory = br.memory()
		s.BrowserDocuments = br.docs.Load()
	}
	return s
}
