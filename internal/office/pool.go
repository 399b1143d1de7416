package office

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fileconv/fileconv/internal/childframe"
)

// Pool is a set of warm LibreOffice processes. Its methods are safe for
// concurrent use.
type Pool struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	launched bool
	closed   bool
	procs    map[*proc]struct{}
	install  string
	slots    sync.WaitGroup

	idle     chan *proc    // warm processes waiting for a job
	done     chan struct{} // closed by Close
	firstRun chan struct{} // closed when every slot has tried once
	startErr error         // the first start's error, once firstRun is closed

	jobs, failed, recycled, killed, crashed atomic.Int64
	peakRSS                                 atomic.Int64
	startNanos                              atomic.Int64
	version                                 atomic.Value // string

	// isolation: 0 unknown, 1 namespaces work, 2 they do not.
	isolation atomic.Int32
	// landlock: 0 unknown, 1 the last process started limited, 2 not.
	landlock atomic.Int32
}

// New makes a pool; it starts nothing yet.
func New(cfg Config) *Pool {
	cfg = cfg.withDefaults()
	return &Pool{
		cfg:      cfg,
		log:      cfg.Logger.With("engine", "libreoffice"),
		procs:    map[*proc]struct{}{},
		idle:     make(chan *proc, cfg.Processes),
		done:     make(chan struct{}),
		firstRun: make(chan struct{}),
	}
}

// Start starts the warm processes and waits until each is warm (LibreOffice
// initialized, Writer, Calc and Impress loaded), or ctx ends. It returns the
// error of a process that could not start; the pool keeps trying to start
// it. Convert starts the pool by itself if Start was not called, and then
// waits only for the first warm process.
func (p *Pool) Start(ctx context.Context) error {
	if err := p.launch(); err != nil {
		return err
	}
	select {
	case <-p.firstRun:
		return p.startErr
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrClosed
	}
}

// launch starts the slots once.
func (p *Pool) launch() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.launched {
		if p.install == "" {
			return p.startErr // LibreOffice is missing
		}
		return nil
	}
	p.launched = true
	install, err := findInstall(p.cfg.InstallDir)
	if err == nil {
		err = checkMemoryFS(p.cfg.WorkDir)
	}
	if err != nil {
		p.startErr = err
		close(p.firstRun)
		return err
	}
	p.install = install
	results := make(chan error, p.cfg.Processes)
	for range p.cfg.Processes {
		p.slots.Add(1)
		go p.slot(results)
	}
	go func() {
		var first error
		for range p.cfg.Processes {
			if err := <-results; err != nil && first == nil {
				first = err
			}
		}
		p.startErr = first
		close(p.firstRun)
	}()
	return nil
}

// slot keeps one process running: it starts one, hands it to jobs, and
// starts the next when it is retired.
func (p *Pool) slot(first chan<- error) {
	defer p.slots.Done()
	backoff := time.Second
	reported := false
	for {
		pr, err := p.startProc()
		if !reported {
			first <- err
			reported = true
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			p.crashed.Add(1)
			p.log.Error("a LibreOffice process did not start", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-p.done:
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		p.idle <- pr
		select {
		case <-pr.retired:
		case <-p.done:
			pr.stop()
			return
		}
	}
}

// Convert converts one document in a free warm process, waiting for one if
// all are busy. When ctx ends during the conversion, the process is killed
// (and replaced) and Convert returns ctx's error.
func (p *Pool) Convert(ctx context.Context, job Job) ([]byte, error) {
	if err := job.check(); err != nil {
		p.failed.Add(1)
		return nil, err
	}
	if err := p.launch(); err != nil {
		p.failed.Add(1)
		return nil, err
	}
	var pr *proc
	for pr == nil {
		select {
		case pr = <-p.idle:
		case <-ctx.Done():
			p.failed.Add(1)
			return nil, fmt.Errorf("no LibreOffice process was free in time: %w", ctx.Err())
		case <-p.done:
			return nil, ErrClosed
		}
		if !pr.alive() {
			// It died waiting (the OOM killer, say): not this job's fault.
			p.crashed.Add(1)
			p.log.Warn("a LibreOffice process died between jobs", "pid", pr.pid)
			pr.kill()
			pr.retire()
			pr = nil
		}
	}
	out, err := p.run(ctx, pr, job)
	if err != nil {
		p.failed.Add(1)
	} else {
		p.jobs.Add(1)
	}
	return out, err
}

// run does job in pr and gives pr back or retires it.
func (p *Pool) run(ctx context.Context, pr *proc, job Job) ([]byte, error) {
	type reply struct {
		answer wireAnswer
		output []byte
		err    error
	}
	done := make(chan reply, 1)
	go func() {
		a, out, err := pr.exchange(job)
		done <- reply{a, out, err}
	}()
	var r reply
	select {
	case r = <-done:
	case <-ctx.Done():
		pr.kill()
		<-done
		p.killed.Add(1)
		p.log.Warn("killed a LibreOffice process at the job's deadline", "pid", pr.pid, "from", job.From, "to", job.To, "err", ctx.Err())
		pr.retire()
		return nil, fmt.Errorf("the %s was not converted in time (its LibreOffice process was stopped): %w", strings.ToUpper(job.From), ctx.Err())
	}
	if r.err != nil {
		pr.kill()
		select {
		case <-p.done:
			pr.retire()
			return nil, ErrClosed
		default:
		}
		if ctx.Err() != nil { // the deadline, as the process died
			p.killed.Add(1)
			pr.retire()
			return nil, fmt.Errorf("the %s was not converted in time: %w", strings.ToUpper(job.From), ctx.Err())
		}
		p.crashed.Add(1)
		p.log.Warn("a LibreOffice process stopped during a job", "pid", pr.pid, "from", job.From, "to", job.To, "state", pr.state(), "err", r.err)
		pr.retire()
		return nil, &convError{ErrCrashed, fmt.Sprintf("LibreOffice stopped while converting the %s (a damaged or hostile file?)", strings.ToUpper(job.From))}
	}
	pr.jobs++
	rss := pr.rss()
	for {
		peak := p.peakRSS.Load()
		if rss <= peak || p.peakRSS.CompareAndSwap(peak, rss) {
			break
		}
	}
	switch {
	case pr.jobs >= int64(p.cfg.Recycle):
		p.recycle(pr, "documents", pr.jobs)
	case rss > p.cfg.MaxMemory:
		p.recycle(pr, "rss", rss)
	default:
		p.giveBack(pr)
	}
	if r.answer.Fail != "" {
		return nil, answerError(r.answer)
	}
	return r.output, nil
}

func (p *Pool) recycle(pr *proc, why string, n int64) {
	p.recycled.Add(1)
	p.log.Info("recycling a LibreOffice process", "pid", pr.pid, "why", why, "n", n)
	pr.kill()
	pr.retire()
}

// giveBack returns a healthy process to the idle ones.
func (p *Pool) giveBack(pr *proc) {
	select {
	case <-p.done:
		pr.kill()
		pr.retire()
	default:
		p.idle <- pr
	}
}

// convError is an error of a kind (ErrPassword, ...) with its own message.
type convError struct {
	kind error
	msg  string
}

func (e *convError) Error() string { return e.msg }
func (e *convError) Unwrap() error { return e.kind }

func answerError(a wireAnswer) error {
	kind := ErrUnreadable
	switch a.Fail {
	case failPassword:
		kind = ErrPassword
	case failUnsupported:
		kind = ErrUnsupported
	}
	msg := a.Message
	if msg == "" {
		msg = kind.Error()
	}
	return &convError{kind, msg}
}

// SelfTest converts a tiny DOCX, XLSX and PPTX to PDF.
func (p *Pool) SelfTest(ctx context.Context) error {
	for _, j := range selfTestJobs() {
		out, err := p.Convert(ctx, j)
		if err != nil {
			return fmt.Errorf("office self-test, %s to PDF: %w", strings.ToUpper(j.From), err)
		}
		if !bytes.HasPrefix(out, []byte("%PDF-")) {
			return fmt.Errorf("office self-test, %s to PDF: the output is not a PDF", strings.ToUpper(j.From))
		}
	}
	return nil
}

// Stats reports the pool's processes and counters.
func (p *Pool) Stats() Stats {
	s := Stats{
		Ready:        len(p.idle),
		Jobs:         p.jobs.Load(),
		Failed:       p.failed.Load(),
		Recycled:     p.recycled.Load(),
		Killed:       p.killed.Load(),
		Crashed:      p.crashed.Load(),
		PeakRSS:      p.peakRSS.Load(),
		StartSeconds: time.Duration(p.startNanos.Load()).Seconds(),
		Isolated:     p.isolation.Load() == 1,
		FilesLimited: p.landlock.Load() == 1,
	}
	s.Restarts = s.Recycled + s.Killed + s.Crashed
	if v, ok := p.version.Load().(string); ok {
		s.Version = v
	}
	p.mu.Lock()
	for pr := range p.procs {
		s.Processes++
		rss, private := pr.memory()
		s.RSS = append(s.RSS, rss)
		s.Private = append(s.Private, private)
	}
	p.mu.Unlock()
	return s
}

// Close stops every process; conversions in flight fail with ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	p.mu.Unlock()
	p.slots.Wait()
	for {
		select {
		case pr := <-p.idle:
			pr.stop()
		default:
			return nil
		}
	}
}

// pids lists the processes' ids (tests).
func (p *Pool) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []int
	for pr := range p.procs {
		ids = append(ids, pr.pid)
	}
	return ids
}

// proc is one LibreOffice child process.
type proc struct {
	pool     *Pool
	cmd      *exec.Cmd
	pid      int
	dir      string
	jobsW    *os.File // the child's fd 3
	answersR *os.File // the child's fd 4
	answers  *bufio.Reader
	jobs     int64 // documents converted
	retired  chan struct{}

	stopOnce sync.Once
}

// startProc starts a child and waits until it is warm.
func (p *Pool) startProc() (*proc, error) {
	start := time.Now()
	dir, err := os.MkdirTemp(p.cfg.WorkDir, "fileconv-office-")
	if err != nil {
		return nil, fmt.Errorf("make the private folder of a LibreOffice process: %w", err)
	}
	for _, sub := range []string{"tmp", "home"} {
		if err := os.Mkdir(dir+"/"+sub, 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	pr, err := p.spawn(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The first answer says the child is warm, or why it is not.
	type ready struct {
		a   wireAnswer
		err error
	}
	got := make(chan ready, 1)
	go func() {
		var a wireAnswer
		err := childframe.Read(pr.answers, &a)
		got <- ready{a, err}
	}()
	var r ready
	select {
	case r = <-got:
	case <-time.After(2 * time.Minute):
		r.err = errors.New("it did not start in 2 minutes")
	case <-p.done:
		pr.stop()
		return nil, ErrClosed
	}
	if r.err == nil && !r.a.Ready {
		r.err = errors.New(r.a.Message)
	}
	if r.err != nil {
		pr.stop()
		return nil, fmt.Errorf("start LibreOffice: %w (%s)", r.err, pr.state())
	}
	p.startNanos.Store(int64(time.Since(start)))
	if r.a.Landlock > 0 {
		p.landlock.Store(1)
	} else if p.landlock.Swap(2) != 2 && !p.cfg.test.noLandlock {
		p.log.Warn("LibreOffice processes run without Landlock: their file access is not limited (kernel before 5.13, or Landlock off)")
	}
	if r.a.Version != "" {
		p.version.Store(r.a.Version)
	}
	p.log.Debug("a LibreOffice process is warm", "pid", pr.pid, "seconds", time.Since(start).Seconds(), "isolated", p.isolation.Load() == 1)
	p.mu.Lock()
	p.procs[pr] = struct{}{}
	p.mu.Unlock()
	return pr, nil
}

// spawn starts the child process, in its own network namespace when the
// kernel allows it.
func (p *Pool) spawn(dir string) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start LibreOffice: %w", err)
	}
	jobsR, jobsW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	answersR, answersW, err := os.Pipe()
	if err != nil {
		jobsR.Close()
		jobsW.Close()
		return nil, err
	}
	defer jobsR.Close()
	defer answersW.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(childEnviron(),
		childEnv+"="+dir,
		childParentEnv+"="+strconv.Itoa(os.Getpid()),
		childInstallEnv+"="+p.install,
		childMemEnv+"="+strconv.FormatInt(p.cfg.dataLimit(), 10),
		"SAL_USE_VCLPLUGIN=svp", // headless rendering; LibreOfficeKit crashes without it
		// LibreOffice's signal handlers and Go's preemption signal do not mix.
		"GODEBUG=asyncpreemptoff=1",
		"TMPDIR="+dir+"/tmp",
		"HOME="+dir+"/home",
	)
	cmd.ExtraFiles = []*os.File{jobsR, answersW} // fds 3 and 4
	lw := &lineLogger{log: p.log}
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.Dir = dir
	// Whatever LibreOffice started and left holding its output does not
	// hold up Wait.
	cmd.WaitDelay = 2 * time.Second
	isolated := false
	var hooks []string
	if p.cfg.test.bareProfile {
		hooks = append(hooks, "bare-profile")
	}
	if p.cfg.test.loadOptions {
		hooks = append(hooks, "load-options")
	}
	if p.cfg.test.noLandlock {
		hooks = append(hooks, "no-landlock")
	}
	if len(hooks) > 0 {
		cmd.Env = append(cmd.Env, childTestEnv+"="+strings.Join(hooks, ","))
	}
	if p.isolation.Load() != 2 && !p.cfg.test.noNetNS {
		cmd.SysProcAttr = isolatedAttr()
		err = cmd.Start()
		if err == nil {
			isolated = true
		} else if p.isolation.CompareAndSwap(0, 2) {
			p.log.Warn("LibreOffice processes start without their own network namespace: the kernel refused one", "err", err)
		}
	}
	if !isolated {
		cmd = cloneCmd(cmd)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err = cmd.Start(); err != nil {
			jobsW.Close()
			answersR.Close()
			return nil, fmt.Errorf("start a LibreOffice process: %w", err)
		}
	} else {
		p.isolation.CompareAndSwap(0, 1)
	}
	return &proc{
		pool:     p,
		cmd:      cmd,
		pid:      cmd.Process.Pid,
		dir:      dir,
		jobsW:    jobsW,
		answersR: answersR,
		answers:  bufio.NewReaderSize(answersR, 64<<10),
		retired:  make(chan struct{}),
	}, nil
}

// childEnviron is what a child keeps of the worker's environment: the
// locale, the time zone and PATH. The worker's own settings (a token file's
// path, credentials in variables) do not reach LibreOffice.
func childEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "LANG" || k == "LANGUAGE" || strings.HasPrefix(k, "LC_") || k == "TZ" || k == "PATH" {
			env = append(env, kv)
		}
	}
	return env
}

// cloneCmd is a fresh exec.Cmd like c (an exec.Cmd starts once).
func cloneCmd(c *exec.Cmd) *exec.Cmd {
	n := exec.Command(c.Path, c.Args[1:]...)
	n.Env, n.ExtraFiles, n.Stdout, n.Stderr, n.Dir, n.WaitDelay = c.Env, c.ExtraFiles, c.Stdout, c.Stderr, c.Dir, c.WaitDelay
	return n
}

// exchange sends a job and reads its answer. An error means the process is
// unusable.
func (pr *proc) exchange(job Job) (wireAnswer, []byte, error) {
	w := bufio.NewWriterSize(pr.jobsW, 64<<10)
	j := wireJob{
		Size: len(job.Input), From: job.From, To: job.To, Pages: job.Pages, PDFA: job.PDFA,
		Landscape: job.Landscape, PageSize: strings.ToLower(job.PageSize), FitWidth: job.FitWidth, Password: job.Password,
		TestLoadOptions: job.loadOptions,
	}
	if err := childframe.Write(w, j, job.Input); err != nil {
		return wireAnswer{}, nil, fmt.Errorf("send the document: %w", err)
	}
	var a wireAnswer
	if err := childframe.Read(pr.answers, &a); err != nil {
		return wireAnswer{}, nil, fmt.Errorf("read the answer: %w", err)
	}
	out := make([]byte, a.Size)
	if _, err := io.ReadFull(pr.answers, out); err != nil {
		return wireAnswer{}, nil, fmt.Errorf("read the output: %w", err)
	}
	return a, out, nil
}

// kill stops the process and everything it started (its process group).
func (pr *proc) kill() {
	pr.stopOnce.Do(func() {
		syscall.Kill(-pr.pid, syscall.SIGKILL)
		pr.cmd.Process.Kill()
		pr.jobsW.Close()
		pr.cmd.Wait()
		pr.answersR.Close()
		os.RemoveAll(pr.dir)
		pr.pool.mu.Lock()
		delete(pr.pool.procs, pr)
		pr.pool.mu.Unlock()
	})
}

// stop is kill for a process nobody uses.
func (pr *proc) stop() { pr.kill() }

// retire tells the process's slot to start another.
func (pr *proc) retire() {
	select {
	case <-pr.retired:
	default:
		close(pr.retired)
	}
}

// rss is the process's resident memory in bytes (0 once it is gone).
func (pr *proc) rss() int64 {
	rss, _ := pr.memory()
	return rss
}

// memory is the process's resident memory and the part of it that is its
// own (anonymous and shared memory; the rest is LibreOffice's libraries,
// shared by every process), in bytes.
func (pr *proc) memory() (rss, private int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pr.pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb << 10
		case "RssAnon", "RssShmem":
			private += kb << 10
		}
	}
	return rss, private
}

// alive says whether the process still runs (it is not reaped until kill,
// so a dead one is a zombie).
func (pr *proc) alive() bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pr.pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// state describes how the process ended, for logs.
func (pr *proc) state() string {
	if ps := pr.cmd.ProcessState; ps != nil {
		return ps.String()
	}
	return "running"
}

// lineLogger logs what LibreOffice writes, a line at a time, at debug level;
// the child's own notes (prefixed "fileconv office:") at warning level.
type lineLogger struct {
	log *slog.Logger
	mu  sync.Mutex
	buf []byte
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
		if line == "" {
			continue
		}
		if msg, ok := strings.CutPrefix(line, "fileconv office: "); ok {
			l.log.Warn(msg)
		} else {
			l.log.Debug("LibreOffice says", "line", line)
		}
	}
	if len(l.buf) > 4096 {
		l.buf = l.buf[:0]
	}
	return len(b), nil
}
