package htmlpdf

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// startTimeout bounds a browser's start.
const startTimeout = 30 * time.Second

// browser is one Chromium process and what the pool knows of it.
type browser struct {
	dir    string // the private user-data folder
	pid    int
	ctx    context.Context // the browser's chromedp context
	cancel func()          // kills the process and waits for it
	b      *chromedp.Browser
	dead   chan struct{} // closed when the process is gone or being stopped
	log    interface {
		Debug(string, ...any)
		Warn(string, ...any)
	}
	js      bool
	started time.Time
	docs    atomic.Int64
	blocked *atomic.Int64

	// Guarded by the pool's mu.
	inflight int
	retired  bool

	stopOnce sync.Once
}

// flags are Chromium's command line, less what chromedp adds (the pipe, the
// user-data folder, about:blank).
func (p *Pool) flags(dir string) []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(p.path),
		chromedp.UserDataDir(dir),
		chromedp.Headless, // also hides scrollbars and mutes audio
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Chromium refuses to start as root with its sandbox: the sandbox
		// drops privileges a root process keeps, and Chromium treats a root
		// browser as a misconfiguration. A worker that runs as another user
		// keeps the sandbox (unless the operator says NoSandbox).
		chromedp.Flag("no-sandbox", os.Geteuid() == 0 || p.cfg.NoSandbox),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-features", disabledFeatures),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("block-new-web-contents", true), // no pop-ups
		chromedp.Flag("deny-permission-prompts", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("font-render-hinting", "none"),
		// The browser gets only the environment it needs: none of the
		// worker's secrets, no display, no proxy settings.
		chromedp.NoInheritEnv,
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			// Kill Chromium when the worker dies (as chromedp does).
			if cmd.SysProcAttr == nil {
				cmd.SysProcAttr = &syscall.SysProcAttr{}
			}
			cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
			// Its home is the private folder: the crash reporter's database
			// (minidumps hold a renderer's memory, so the document), the
			// certificate store and every cache stay there and go with it.
			cmd.Env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"),
				"XDG_CACHE_HOME=" + filepath.Join(dir, ".cache"), "XDG_DATA_HOME=" + filepath.Join(dir, ".local")}
			for _, kv := range os.Environ() {
				k, _, _ := strings.Cut(kv, "=")
				switch {
				case k == "PATH", k == "TMPDIR", k == "TZ", k == "LANG",
					strings.HasPrefix(k, "LC_"), strings.HasPrefix(k, "FONTCONFIG_"):
					cmd.Env = append(cmd.Env, kv)
				}
			}
		}),
	}
	if p.cfg.off&layerFlags == 0 {
		opts = append(opts,
			// No host name or address resolves, 127.0.0.1 included.
			chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND"),
			// Every URL, loopback too, goes to a proxy on a port nothing
			// listens on (1 is a privileged port, also on Chromium's list of
			// unsafe ports).
			chromedp.Flag("proxy-server", "http://127.0.0.1:1"),
			chromedp.Flag("proxy-bypass-list", "<-loopback>"),
			chromedp.Flag("force-webrtc-ip-handling-policy", "disable_non_proxied_udp"),
			chromedp.Flag("webrtc-ip-handling-policy", "disable_non_proxied_udp"),
		)
	}
	if !shmUsable() {
		// Chromium's shared memory goes to the temporary folder instead of a
		// /dev/shm too small for it (64 MB in a default container).
		opts = append(opts, chromedp.Flag("disable-dev-shm-usage", true))
	}
	return opts
}

// shmUsable reports whether /dev/shm is a writable memory file system of at
// least 512 MiB.
func shmUsable() bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil {
		return false
	}
	const tmpfsMagic = 0x01021994
	return st.Type == tmpfsMagic && int64(st.Bsize)*int64(st.Blocks) >= 512<<20 && syscall.Access("/dev/shm", 2) == nil
}

// profileBase is where the browser's private folder goes: /dev/shm, a file
// system in memory, when it is usable, so that nothing of the browser's
// reaches a disk; else the temporary folder.
func profileBase() string {
	if shmUsable() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// launch starts a browser and connects to it.
func (p *Pool) launch() (*browser, error) {
	p.mu.Lock()
	if p.path == "" {
		p.path = p.cfg.ChromiumPath
		if p.path == "" {
			path, err := LookPath()
			if err != nil {
				p.mu.Unlock()
				return nil, err
			}
			p.path = path
		}
	}
	p.mu.Unlock()
	if !isExecutable(p.path) {
		return nil, fmt.Errorf("%w: %s is not an executable file", ErrUnavailable, p.path)
	}
	dir, err := os.MkdirTemp(profileBase(), "fileconv-chromium-")
	if err != nil {
		return nil, fmt.Errorf("htmlpdf: the browser's folder: %w", err)
	}
	started := time.Now()
	var output limitedWriter
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(p.flags(dir), chromedp.CombinedOutput(&output))...)
	logf := func(format string, args ...any) { p.log.Debug("chromedp: " + fmt.Sprintf(format, args...)) }
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	br := &browser{
		dir: dir, ctx: bctx, log: p.log, js: p.cfg.JavaScript, started: started,
		dead: make(chan struct{}), blocked: &p.blocked,
	}
	br.cancel = func() {
		cancelBrowser()
		cancelAlloc()
		killLeftovers(dir)
		if err := os.RemoveAll(dir); err != nil {
			p.log.Warn("could not remove the browser's folder", "dir", dir, "err", err)
		}
	}
	// The first Run binds the browser to the context it gets, so it gets
	// bctx itself, and the start is bounded here.
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Do(bctx) }()
	select {
	case err = <-errc:
	case <-time.After(startTimeout):
		err = fmt.Errorf("no answer in %v", startTimeout)
	}
	if err == nil {
		c := chromedp.FromContext(bctx)
		br.b = c.Browser
		if proc := br.b.Process(); proc != nil {
			br.pid = proc.Pid
		}
		err = br.setup(bctx, p.cfg.off&layerFetch == 0)
	}
	if err == nil {
		// The tab the browser starts with (in the profile on disk) is not
		// used: the pool's tabs have browser contexts of their own. Closing
		// it saves a renderer.
		if c := chromedp.FromContext(bctx); c.Target != nil {
			_, err = cdp.Call(bctx, br.b, target.CloseTarget, target.CloseTargetParams{TargetID: c.Target.TargetID})
		}
	}
	if err != nil {
		close(br.dead)
		br.cancel()
		msg := strings.TrimSpace(output.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		p.log.Error("Chromium did not start", "path", p.path, "err", err, "output", msg)
		return nil, fmt.Errorf("%w: Chromium (%s) did not start: %v %s", ErrCrashed, p.path, err, msg)
	}
	p.starts.Add(1)
	p.log.Info("Chromium started", "pid", br.pid, "path", p.path, "tabs", p.cfg.Tabs,
		"javascript", p.cfg.JavaScript, "took", time.Since(started).Round(time.Millisecond))
	p.bg.Go(func() { br.watch(p) })
	return br, nil
}

// setup blocks the network at the browser level and denies downloads.
func (br *browser) setup(ctx context.Context, intercept bool) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := cdp.Call(ctx, br.b, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorDeny,
	}); err != nil {
		return fmt.Errorf("denying downloads: %w", err)
	}
	if !intercept {
		return nil
	}
	// Subscribe before enabling, so that no request slips by.
	paused := cdp.Events(br.ctx, br.b, fetch.RequestPaused)
	if _, err := cdp.Call(ctx, br.b, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*"}},
	}); err != nil {
		return fmt.Errorf("intercepting requests: %w", err)
	}
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			br.blocked.Add(1)
			reason := network.ErrorReasonBlockedByClient
			if ev.ResourceType == network.ResourceTypeDocument {
				// An aborted navigation commits no error page: the tab keeps
				// the document.
				reason = network.ErrorReasonAborted
			}
			br.log.Debug("blocked a request", "url", truncate(ev.Request.URL, 200), "type", ev.ResourceType)
			cctx, cancel := context.WithTimeout(br.ctx, 5*time.Second)
			_, _ = cdp.Call(cctx, br.b, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: reason})
			cancel()
		}
	}()
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// watch marks the browser dead when its connection drops, and pings it every
// 15 seconds: one that does not answer twice in a row is killed.
func (br *browser) watch(p *Pool) {
	tick := time.NewTicker(p.cfg.pingEvery)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-br.b.LostConnection:
			p.lost(br)
			return
		case <-br.dead:
			select {
			case <-br.b.LostConnection:
				p.lost(br)
			default:
			}
			return
		case <-tick.C:
			if err := br.ping(min(10*time.Second, p.cfg.pingEvery)); err != nil {
				if failures++; failures >= 2 {
					p.log.Warn("Chromium stopped answering; killing it", "pid", br.pid, "err", err)
					p.kill(br)
					return
				}
			} else {
				failures = 0
			}
		}
	}
}

// lost takes a browser whose connection dropped out of service.
func (p *Pool) lost(br *browser) {
	p.mu.Lock()
	expected := br.retired || p.closed
	p.retireLocked(br)
	p.mu.Unlock()
	br.markDead()
	if expected {
		return
	}
	// Start the next browser now, unless this one died young (a browser
	// that keeps dying then starts only when a job asks for it).
	if time.Since(br.started) > p.cfg.youngDeath {
		p.log.Warn("Chromium exited; starting another", "pid", br.pid)
		p.mu.Lock()
		if !p.closed && p.br == nil {
			p.startLocked()
			p.warm()
		}
		p.mu.Unlock()
	} else {
		p.log.Warn("Chromium exited; the next document starts another", "pid", br.pid)
	}
}

// ping asks the browser for its version.
func (br *browser) ping(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(br.ctx, timeout)
	defer cancel()
	_, err := cdp.Call(ctx, br.b, cdpbrowser.GetVersion, cdp.Empty{})
	return err
}

func (br *browser) markDead() {
	select {
	case <-br.dead:
	default:
		close(br.dead)
	}
}

func (br *browser) isDead() bool {
	select {
	case <-br.dead:
		return true
	default:
		return false
	}
}

// stop ends the browser (the process is killed: it holds nothing to save)
// and removes its folder.
func (br *browser) stop() {
	br.stopOnce.Do(func() {
		br.markDead()
		br.cancel()
		br.log.Debug("Chromium stopped", "pid", br.pid, "documents", br.docs.Load())
	})
}

// kill is stop for a browser that is wedged.
func (br *browser) kill() {
	if br.pid > 0 {
		_ = syscall.Kill(br.pid, syscall.SIGKILL)
	}
	br.stop()
}

// processes lists the browser's processes: those that have its user-data
// folder on their command line (Chromium passes it to every child).
func processes(dir string) []int {
	want := []byte("--user-data-dir=" + dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && hasFlag(cmdline, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// hasFlag reports whether the command line holds the flag, as an argument of
// its own (NUL-separated) or as a word of the single line a zygote's child
// writes over its arguments.
func hasFlag(cmdline, flag []byte) bool {
	for rest := cmdline; ; {
		i := bytes.Index(rest, flag)
		if i < 0 {
			return false
		}
		end := i + len(flag)
		if (i == 0 || rest[i-1] == 0 || rest[i-1] == ' ') && (end == len(rest) || rest[end] == 0 || rest[end] == ' ') {
			return true
		}
		rest = rest[end:]
	}
}

// killLeftovers kills the processes of a browser that outlived it (the zygote
// and renderers of a killed browser can), a few passes until none is left.
func killLeftovers(dir string) {
	deadline := time.Now().Add(2 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		pids := processes(dir)
		if len(pids) == 0 {
			quiet++
			continue
		}
		quiet = 0
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// memory is the proportional set size of the browser's processes, in bytes.
func (br *browser) memory() int64 {
	var total int64
	for _, pid := range processes(br.dir) {
		total += pss(pid)
	}
	return total
}

// pss reads a process's proportional set size from smaps_rollup.
func pss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// limitedWriter keeps the first 16 KiB of the browser's output, for the error
// of a failed start.
type limitedWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *limitedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := 16<<10 - len(w.buf); room > 0 {
		w.buf = append(w.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

func (w *limitedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

var errNoPDF = errors.New("Chromium returned no PDF")

// disabledFeatures are Chromium features that would reach out (translation,
// media router, hints, autofill, certificate lists, network time) or cost
// memory for nothing in a headless printer (the omnibox's WebUI pop-up that
// every window preloads: a renderer of about 50 MB each; the spare renderer).
const disabledFeatures = "Translate,MediaRouter,OptimizationHints,AutofillServerCommunication," +
	"CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying,InterestFeedContentSuggestions," +
	"DialMediaRouteProvider,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup," +
	"PreloadTopChromeWebUI,SpareRendererForSitePerProcess"
