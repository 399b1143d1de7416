//go:build linux

package e2e

// Failover under load: a master and three workers, a steady stream of requests,
// and workers that die, come back, stop answering and join by name. The same
// scenarios run on loopback processes here (TestClusterLoopback, any user) and in
// network namespaces in netns_test.go (TestClusterNetns, root).

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/wire"
)

// The cluster's timeouts: short, so that every failure plays out in seconds, yet
// long enough for a 2-core machine busy with other tests under -race (a probe's
// timeout is the health interval, at least 1s).
const (
	clusterHealthInterval   = 2 * time.Second
	clusterResolveInterval  = time.Second
	clusterMasterJobTimeout = 10 * time.Second
	clusterWorkerJobTimeout = 8 * time.Second
	clusterIOTimeout        = 5 * time.Second
	clusterDialTimeout      = 2 * time.Second
	// How long the master may take to notice a dead or cut-off worker.
	clusterEjectWithin = 2*clusterHealthInterval + 2*time.Second

	// A request that takes longer than the master's job deadline and this margin hangs.
	clusterHangLimit = clusterMasterJobTimeout + 3*time.Second
	// After a disruption, within this time a run of clusterRecoveredRun consecutive
	// requests must all succeed, and every later request too.
	clusterRecoverWithin = 10 * time.Second
	clusterRecoveredRun  = 12
	// Load: concurrent clients, and a bound on the requests of a run.
	clusterClients     = 4
	clusterMaxRequests = 20000
)

const clusterToken = "cluster-test-token-0123456789abc"

func clusterMasterArgs(listen, admin, workers string) []string {
	return []string{"master", "--listen", listen, "--workers", workers, "--token-file", "tokens",
		"--cert", "pki/master.pem", "--key", "pki/master-key.pem", "--ca", "pki/ca.pem", "--admin", admin,
		"--health-interval", clusterHealthInterval.String(), "--resolve-interval", clusterResolveInterval.String(),
		"--job-timeout", clusterMasterJobTimeout.String(), "--io-timeout", clusterIOTimeout.String(),
		"--dial-timeout", clusterDialTimeout.String(), "--queue-timeout", "5s", "--grace", "2s"}
}

func clusterWorkerArgs(listen string) []string {
	return []string{"worker", "--listen", listen, "--cert", "pki/worker.pem", "--key", "pki/worker-key.pem",
		"--ca", "pki/ca.pem", "--admin", "off", "--concurrency", "2", "--grace", "2s",
		"--job-timeout", clusterWorkerJobTimeout.String(), "--io-timeout", clusterIOTimeout.String()}
}

// clusterFiles writes the PKI (covering hosts) and the token file into dir.
func clusterFiles(t *testing.T, dir string, hosts ...string) {
	t.Helper()
	if _, errOut, code := run(t, dir, "certs", "--dir", "pki", "--hosts", strings.Join(hosts, ",")); code != 0 {
		t.Fatalf("certs: exit %d: %s", code, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(clusterToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startFileconv starts a fileconv subcommand through prefix, when it is not empty.
func startFileconv(t *testing.T, dir, label string, prefix []string, args ...string) *process {
	t.Helper()
	return startProcess(t, launch{dir: dir, prefix: prefix, label: label}, args...)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return fmt.Sprintf("[%d lines before]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// killNow sends SIGKILL and waits for the process to be gone.
func (p *process) killNow(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGKILL")
	}
}

func (p *process) sendSignal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v", sig, err)
	}
}

// cluster is a running master, seen from a network where its addresses work.
type cluster struct {
	t          *testing.T
	masterAddr string
	adminAddr  string
	// inNet runs f to its end with its sockets in the master's network.
	inNet func(f func()) error
	http  *http.Client
	tls   *tls.Config
	load  *loadGen
	begin time.Time
	// masterLog is the master's stderr so far.
	masterLog func() string
}

func newCluster(t *testing.T, dir string, master *process, masterAddr, adminAddr string, inNet func(func()) error) *cluster {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("pki/ca.pem holds no certificate")
	}
	c := &cluster{t: t, masterAddr: masterAddr, adminAddr: adminAddr, inNet: inNet,
		tls: &tls.Config{RootCAs: roots}, begin: time.Now(), masterLog: master.errs}
	tr := &http.Transport{DialContext: c.dial}
	c.http = &http.Client{Transport: tr, Timeout: 3 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

func (c *cluster) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var (
		conn net.Conn
		err  error
	)
	if nerr := c.inNet(func() { conn, err = (&net.Dialer{}).DialContext(ctx, network, addr) }); nerr != nil {
		return nil, nerr
	}
	return conn, err
}

// logf logs with the time since the cluster started.
func (c *cluster) logf(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("[%5.1fs] %s", time.Since(c.begin).Seconds(), fmt.Sprintf(format, args...))
}

// waitDial waits until addr accepts TCP connections from the master's network.
func (c *cluster) waitDial(addr string, p *process) {
	c.t.Helper()
	c.waitUntil("something listens on "+addr, 30*time.Second, func() (bool, string) {
		select {
		case err := <-p.done:
			p.done <- err
			c.t.Fatalf("process exited before listening on %s: %v\n%s", addr, err, p.errs())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := c.dial(ctx, "tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

type workerStatus struct {
	Addr      string `json:"addr"`
	Name      string `json:"name"`
	State     string `json:"state"`
	InFlight  int    `json:"in_flight"`
	Capacity  int    `json:"capacity"`
	Jobs      uint64 `json:"jobs"`
	LastError string `json:"last_error"`
}

type clusterStatus struct {
	Ready        bool           `json:"ready"`
	NotReady     string         `json:"not_ready"`
	JobsInFlight int            `json:"jobs_in_flight"`
	Queued       int            `json:"queued"`
	QueueSize    int            `json:"queue_size"`
	Workers      []workerStatus `json:"workers"`
}

func (s clusterStatus) worker(addr string) (workerStatus, bool) {
	for _, w := range s.Workers {
		if w.Addr == addr {
			return w, true
		}
	}
	return workerStatus{}, false
}

func (s clusterStatus) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ready=%v %s in_flight=%d queued=%d/%d", s.Ready, s.NotReady, s.JobsInFlight, s.Queued, s.QueueSize)
	for _, w := range s.Workers {
		fmt.Fprintf(&b, "\n    %s (%s) %s load %d/%d jobs %d %s", w.Addr, w.Name, w.State, w.InFlight, w.Capacity, w.Jobs, w.LastError)
	}
	return b.String()
}

func (c *cluster) get(path string) ([]byte, error) {
	resp, err := c.http.Get("http://" + c.adminAddr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return body, nil
}

func (c *cluster) status() (clusterStatus, error) {
	var st clusterStatus
	body, err := c.get("/status")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("/status is not JSON: %w: %s", err, body)
	}
	return st, nil
}

var promLabel = regexp.MustCompile(`(\w+)="([^"]*)"`)

// workerJobs is fileconv_master_worker_jobs_total for one worker and outcome.
func (c *cluster) workerJobs(addr, outcome string) (float64, error) {
	body, err := c.get("/metrics")
	if err != nil {
		return 0, err
	}
	const name = "fileconv_master_worker_jobs_total{"
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		labels := map[string]string{}
		for _, m := range promLabel.FindAllStringSubmatch(line[len(name):end], -1) {
			labels[m[1]] = m[2]
		}
		if labels["worker"] == addr && labels["outcome"] == outcome {
			return strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		}
	}
	return 0, nil
}

func (c *cluster) mustWorkerJobs(addr, outcome string) float64 {
	c.t.Helper()
	n, err := c.workerJobs(addr, outcome)
	if err != nil {
		c.t.Fatalf("metrics: %v", err)
	}
	return n
}

// waitUntil polls cond until it holds, failing the test after within with
// cond's last explanation, the master's status and the load so far.
func (c *cluster) waitUntil(what string, within time.Duration, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			st, err := c.status()
			var load string
			if c.load != nil {
				load = c.load.summary()
			}
			c.t.Fatalf("[%5.1fs] after %s, still not %s: %s\nmaster status (err %v): %s\n%s",
				time.Since(c.begin).Seconds(), within, what, why, err, st, load)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStatus waits until the master's /status satisfies cond.
func (c *cluster) waitStatus(what string, within time.Duration, cond func(clusterStatus) bool) clusterStatus {
	c.t.Helper()
	var last clusterStatus
	c.waitUntil(what, within, func() (bool, string) {
		st, err := c.status()
		if err != nil {
			return false, err.Error()
		}
		last = st
		return cond(st), "status: " + st.String()
	})
	return last
}

func (c *cluster) waitState(addr, what string, within time.Duration, want func(workerStatus) bool) workerStatus {
	c.t.Helper()
	st := c.waitStatus(fmt.Sprintf("worker %s %s", addr, what), within, func(st clusterStatus) bool {
		w, ok := st.worker(addr)
		return ok && want(w)
	})
	w, _ := st.worker(addr)
	return w
}

func workerHealthy(w workerStatus) bool { return w.State == "healthy" }
func workerOut(w workerStatus) bool     { return w.State != "healthy" }

// waitJobsOK waits until addr has more than n successful jobs.
func (c *cluster) waitJobsOK(addr string, n float64, within time.Duration) {
	c.t.Helper()
	c.waitUntil(fmt.Sprintf("worker %s doing jobs again (more than %v ok)", addr, n), within, func() (bool, string) {
		got, err := c.workerJobs(addr, "ok")
		if err != nil {
			return false, err.Error()
		}
		return got > n, fmt.Sprintf("%v ok jobs", got)
	})
}

// stateWatch samples one worker's state until stopped.
type stateWatch struct {
	stop, done chan struct{}
	mu         sync.Mutex
	seen       []stateSample
}

type stateSample struct {
	at    time.Time
	state string
	err   string
}

func (c *cluster) watchState(addr string) *stateWatch {
	w := &stateWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			st, err := c.status()
			if err == nil {
				ws, _ := st.worker(addr)
				w.mu.Lock()
				if n := len(w.seen); n == 0 || w.seen[n-1].state != ws.State {
					w.seen = append(w.seen, stateSample{time.Now(), ws.State, ws.LastError})
				}
				w.mu.Unlock()
			}
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *stateWatch) end() []stateSample {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

// loadGen is the steady load: clients converting small files in a loop, each
// request bounded, each outcome recorded.
type loadGen struct {
	c      *cluster
	cfg    loadConfig
	text   []byte
	stop   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc

	mu          sync.Mutex
	gate        *sync.Cond // on mu: signals changes of paused, halted and running
	paused      bool
	halted      bool
	running     int
	results     []*reqResult
	disruptions []disruption
}

type reqResult struct {
	n          int
	kind       string // the loadJob's kind
	start, end time.Time
	err        error
	bad        string // the answer is not what was asked for
}

func (r *reqResult) ok() bool { return r.err == nil && r.bad == "" && !r.end.IsZero() }

func (r *reqResult) failure() string {
	if r.bad != "" {
		return "wrong result: " + r.bad
	}
	return r.err.Error()
}

type disruption struct {
	what string
	at   time.Time
}

// loadJob is one kind of request a load client sends.
type loadJob struct {
	kind  string // names the request in reports
	op    string
	name  string
	input []byte
	// check says what is wrong with an answer, or "".
	check func(out []byte) string
}

// loadConfig shapes a load; its zero value is the cluster scenarios' load.
type loadConfig struct {
	// clients is how many clients run at once; default clusterClients.
	clients int
	// jobs are the requests client id sends, in turn; default TXT->PDF and
	// PNG->JPEG of inputs().
	jobs func(id int) []loadJob
	// newClient makes client id's client; by default one that never retries, so
	// that every request shows what the cluster did with it.
	newClient func(id int) *client.Client
	// noFailures makes finish report every failed request, where by default a
	// clear failure close to a disruption is expected.
	noFailures bool
	// hangLimit is how long a request may take before it counts as hung;
	// default clusterHangLimit.
	hangLimit time.Duration
}

func (c *cluster) startLoad(dir string) *loadGen {
	c.t.Helper()
	return c.startLoadWith(dir, loadConfig{})
}

func (c *cluster) startLoadWith(dir string, cfg loadConfig) *loadGen {
	c.t.Helper()
	in := inputs(c.t, dir)
	text, err := os.ReadFile(in["notes.txt"])
	if err != nil {
		c.t.Fatal(err)
	}
	png, err := os.ReadFile(in["photo.png"])
	if err != nil {
		c.t.Fatal(err)
	}
	if cfg.clients == 0 {
		cfg.clients = clusterClients
	}
	if cfg.hangLimit == 0 {
		cfg.hangLimit = clusterHangLimit
	}
	if cfg.jobs == nil {
		jobs := []loadJob{
			{"pdf", client.TextToPDF, "notes.txt", text, func(out []byte) string { return checkConversion("pdf", out) }},
			{"jpeg", client.ToJPEG, "photo.png", png, func(out []byte) string { return checkConversion("jpeg", out) }},
		}
		cfg.jobs = func(int) []loadJob { return jobs }
	}
	if cfg.newClient == nil {
		cfg.newClient = func(int) *client.Client {
			return &client.Client{Addr: c.masterAddr, Token: clusterToken, TLSConfig: c.tls,
				DialTimeout: 10 * time.Second, Timeout: clusterHangLimit + 2*time.Second, MaxRetries: -1}
		}
	}
	base, cancel := context.WithCancel(context.Background())
	l := &loadGen{c: c, cfg: cfg, text: text, stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	l.gate = sync.NewCond(&l.mu)
	c.load = l
	var wg sync.WaitGroup
	for i := range cfg.clients {
		wg.Go(func() {
			if err := c.inNet(func() { l.client(base, i) }); err != nil {
				l.mu.Lock()
				l.results = append(l.results, &reqResult{kind: "setup", start: time.Now(), end: time.Now(), err: err})
				l.mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); close(l.done) }()
	// A failing test must not wait for requests in flight.
	c.t.Cleanup(func() {
		cancel()
		l.halt()
		<-l.done
	})
	return l
}

// halt makes the clients return after their current request.
func (l *loadGen) halt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.halted {
		l.halted = true
		close(l.stop)
		l.gate.Broadcast()
	}
}

// pause waits for the requests under way to end and holds back new ones until
// resume.
func (l *loadGen) pause() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused = true
	for l.running > 0 {
		l.gate.Wait()
	}
}

func (l *loadGen) resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused = false
	l.gate.Broadcast()
}

func (l *loadGen) client(base context.Context, id int) {
	cl := l.cfg.newClient(id)
	defer cl.Close()
	jobs := l.cfg.jobs(id)
	for i := id; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		job := jobs[i%len(jobs)]
		r := &reqResult{kind: job.kind}
		l.mu.Lock()
		for l.paused && !l.halted {
			l.gate.Wait()
		}
		if l.halted || len(l.results) >= clusterMaxRequests {
			l.mu.Unlock()
			return
		}
		r.start = time.Now()
		r.n = len(l.results)
		l.results = append(l.results, r)
		l.running++
		l.mu.Unlock()

		ctx, cancel := context.WithTimeout(base, l.cfg.hangLimit+2*time.Second)
		out, err := cl.ConvertBytes(ctx, job.op, job.name, job.input)
		cancel()
		end := time.Now()
		bad := ""
		if err == nil {
			bad = job.check(out)
		}
		l.mu.Lock()
		r.end, r.err, r.bad = end, err, bad
		l.running--
		l.gate.Broadcast()
		l.mu.Unlock()
		select {
		case <-l.stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkConversion says what is wrong with a conversion's answer, or "".
func checkConversion(kind string, out []byte) string {
	switch kind {
	case "pdf":
		if !bytes.HasPrefix(out, []byte("%PDF-")) || !bytes.Contains(out[max(0, len(out)-1024):], []byte("%%EOF")) {
			return fmt.Sprintf("TXT->PDF gave %d bytes that are not a PDF: %q", len(out), out[:min(len(out), 40)])
		}
	case "jpeg":
		img, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			return fmt.Sprintf("PNG->JPEG gave %d bytes that do not decode as JPEG: %v", len(out), err)
		}
		if b := img.Bounds(); b.Dx() != 90 || b.Dy() != 60 {
			return fmt.Sprintf("PNG->JPEG gave a %dx%d image, want 90x60", b.Dx(), b.Dy())
		}
	}
	return ""
}

// mark records a disruption starting now.
func (l *loadGen) mark(what string) time.Time {
	now := time.Now()
	l.mu.Lock()
	l.disruptions = append(l.disruptions, disruption{what, now})
	l.mu.Unlock()
	return now
}

func (l *loadGen) snapshot() []reqResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]reqResult, len(l.results))
	for i, r := range l.results {
		out[i] = *r
	}
	return out
}

// recovered looks, among the requests started since, for a run of n consecutive
// requests (in order of start) that all succeeded, the first of them started by
// by. Requests still running are passed over: one that later fails is caught by
// finish. It returns when the run began and how many requests failed before it,
// or the first failure started after by.
func recovered(rs []reqResult, since, by time.Time, n int) (ok bool, runStart time.Time, failed int, bad *reqResult) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
	run := 0
	for i := range rs {
		r := &rs[i]
		if r.start.Before(since) || r.end.IsZero() {
			continue
		}
		if !r.ok() {
			if r.start.After(by) {
				return false, runStart, failed, r
			}
			failed++
			run = 0
			continue
		}
		if run == 0 {
			runStart = r.start
		}
		run++
		if run >= n && !runStart.After(by) {
			return true, runStart, failed, nil
		}
	}
	return false, runStart, failed, nil
}

// waitRecovered waits until success is back to 100% after a disruption at since.
func (l *loadGen) waitRecovered(since time.Time, what string) {
	l.c.t.Helper()
	by := since.Add(clusterRecoverWithin)
	deadline := by.Add(5 * time.Second)
	for {
		ok, runStart, failed, bad := recovered(l.snapshot(), since, by, clusterRecoveredRun)
		if ok {
			l.c.logf("%s: success at 100%% again %.1fs after it (%d consecutive requests ok; %d failed before)",
				what, runStart.Sub(since).Seconds(), clusterRecoveredRun, failed)
			return
		}
		if bad != nil {
			l.c.t.Fatalf("after %s, request %d started %.1fs later and failed: %s\n%s",
				what, bad.n, bad.start.Sub(since).Seconds(), bad.failure(), l.summary())
		}
		if time.Now().After(deadline) {
			st, _ := l.c.status()
			l.c.t.Fatalf("%s: no run of %d consecutive successful requests starting within %s\nmaster status: %s\n%s",
				what, clusterRecoveredRun, clusterRecoverWithin, st, l.summary())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var digitRuns = regexp.MustCompile(`[0-9]+`)

// summary counts the outcomes so far, with the most common failures.
func (l *loadGen) summary() string {
	rs := l.snapshot()
	var ok, failed, running int
	var slowest time.Duration
	msgs := map[string]int{}
	for _, r := range rs {
		switch {
		case r.end.IsZero():
			running++
			slowest = max(slowest, time.Since(r.start))
		case r.ok():
			ok++
			slowest = max(slowest, r.end.Sub(r.start))
		default:
			failed++
			slowest = max(slowest, r.end.Sub(r.start))
			msgs[digitRuns.ReplaceAllString(r.failure(), "N")]++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "load: %d requests: %d ok, %d failed, %d running; slowest %s", len(rs), ok, failed, running, slowest.Round(time.Millisecond))
	keys := make([]string, 0, len(msgs))
	for k := range msgs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return msgs[keys[i]] > msgs[keys[j]] })
	for i, k := range keys {
		if i == 8 {
			fmt.Fprintf(&b, "\n  ... %d more kinds", len(keys)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %4d × %s", msgs[k], k)
	}
	return b.String()
}

// finish stops the load, waits for the requests in flight and checks every
// request: none hung, every answer is right, and every failure is a clear error
// of a request that was under way during a disruption or started within
// clusterRecoverWithin of one (with noFailures, there is none).
func (l *loadGen) finish() {
	t := l.c.t
	t.Helper()
	l.halt()
	select {
	case <-l.done:
	case <-time.After(l.cfg.hangLimit + 5*time.Second):
		t.Errorf("requests still running %s after the load stopped: they hang", l.cfg.hangLimit+5*time.Second)
		l.cancel()
		<-l.done
	}
	l.mu.Lock()
	disruptions := slices.Clone(l.disruptions)
	l.mu.Unlock()
	rs := l.snapshot()
	var ok, failed int
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range rs {
		if r.end.IsZero() {
			report("request %d (%s) started %.1fs in never ended", r.n, r.kind, r.start.Sub(l.c.begin).Seconds())
			continue
		}
		took := r.end.Sub(r.start)
		if took > l.cfg.hangLimit {
			report("request %d (%s) took %s, over the limit of %s: it hung (%v)", r.n, r.kind, took.Round(time.Millisecond), l.cfg.hangLimit, r.err)
		}
		if r.bad != "" {
			report("request %d: %s", r.n, r.bad)
			continue
		}
		if r.err == nil {
			ok++
			continue
		}
		failed++
		if why := unclearError(r.err); why != "" {
			report("request %d (%s) failed at %.1fs with an unclear error (%s): %v", r.n, r.kind, r.start.Sub(l.c.begin).Seconds(), why, r.err)
		}
		if l.cfg.noFailures {
			report("request %d (%s) failed at %.1fs: %v", r.n, r.kind, r.start.Sub(l.c.begin).Seconds(), r.err)
			continue
		}
		excused := false
		for _, d := range disruptions {
			if !r.end.Before(d.at) && !r.start.After(d.at.Add(clusterRecoverWithin)) {
				excused = true
				break
			}
		}
		if !excused {
			report("request %d (%s) failed at %.1fs, away from any disruption: %v", r.n, r.kind, r.start.Sub(l.c.begin).Seconds(), r.err)
		}
	}
	if problems > 20 {
		t.Errorf("... and %d more problems", problems-20)
	}
	if ok == 0 {
		t.Error("no request succeeded")
	}
	l.c.logf("%s", l.summary())
	if problems > 0 {
		st, err := l.c.status()
		t.Logf("master status (err %v): %s", err, st)
	}
}

// unclear says why a failed request's error does not tell its client what
// happened, or "" when it does: the server's ERROR message, or a connection
// failure (refused, reset, closed, timed out). A TLS protocol error such as
// "bad record MAC" is a stream the server broke, not an answer.
func unclearError(err error) string {
	var se *client.ServerError
	if errors.As(err, &se) {
		if strings.TrimSpace(se.Message) == "" {
			return "an ERROR answer without a message"
		}
		return ""
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "local error" {
		return "the TLS stream from the master was corrupt"
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return "the master's answer was not TLS"
	}
	if strings.TrimSpace(err.Error()) == "" {
		return "no message"
	}
	return ""
}

// heldJob is a TXT->PDF request that sends its header and half its body, then
// waits for release to send the rest: while it waits, the worker it went to
// holds it.
type heldJob struct {
	release chan struct{}
	done    chan heldResult
	start   time.Time
}

type heldResult struct {
	answer []byte
	err    error
	took   time.Duration
}

func (c *cluster) holdJob(body []byte) *heldJob {
	h := &heldJob{release: make(chan struct{}), done: make(chan heldResult, 1), start: time.Now()}
	go func() {
		var res heldResult
		if err := c.inNet(func() { res.answer, res.err = c.heldRequest(body, h.release) }); err != nil {
			res.err = err
		}
		res.took = time.Since(h.start)
		h.done <- res
	}()
	return h
}

func (c *cluster) heldRequest(body []byte, release chan struct{}) ([]byte, error) {
	limit := clusterHangLimit + 2*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	conn, err := (&tls.Dialer{Config: c.tls}).DialContext(ctx, "tcp", c.masterAddr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(limit))
	hdr := wire.NewHeader(clusterToken, "held.txt", wire.OpTextToPDF, body).Encode()
	half := len(body) / 2
	if _, err := conn.Write(append(hdr[:], body[:half]...)); err != nil {
		return nil, err
	}
	select {
	case <-release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if _, err := conn.Write(body[half:]); err != nil {
		return nil, err
	}
	size, err := wire.ReadResponseSize(conn)
	if err != nil {
		return nil, err
	}
	if size > 16<<20 {
		return nil, fmt.Errorf("an answer of %d bytes", size)
	}
	answer := make([]byte, size)
	if _, err := io.ReadFull(conn, answer); err != nil {
		return nil, err
	}
	return answer, nil
}

// holdJobOn pauses the load and sends held jobs until one is held by the worker
// at addr (the master's rotation gets there within a few); the others complete.
// The load resumes on return.
func (c *cluster) holdJobOn(addr string, body []byte) *heldJob {
	c.t.Helper()
	c.load.pause()
	defer c.load.resume()
	for range 8 {
		// The master counts a job until just after its answer is out.
		c.waitStatus("no job in flight", 5*time.Second, func(st clusterStatus) bool {
			for _, w := range st.Workers {
				if w.InFlight > 0 {
					return false
				}
			}
			return st.JobsInFlight == 0
		})
		h := c.holdJob(body)
		var holder string
		c.waitStatus("a worker holding the held job", 3*time.Second, func(st clusterStatus) bool {
			for _, w := range st.Workers {
				if w.InFlight > 0 {
					holder = w.Addr
				}
			}
			return holder != ""
		})
		if holder == addr {
			return h
		}
		close(h.release)
		res := <-h.done
		if res.err != nil {
			c.t.Fatalf("a held job on %s: %v", holder, res.err)
		}
		if bad := checkConversion("pdf", res.answer); bad != "" {
			c.t.Fatalf("a held job on %s: %s", holder, bad)
		}
	}
	c.t.Fatalf("8 held jobs went everywhere but %s", addr)
	return nil
}

// clusterOps are the disruptions of one environment. Workers are numbered 0-2.
type clusterOps struct {
	workers [3]string // ip:port of each worker as the master lists it
	kill    func(i int)
	restart func(i int)
	cutWhat string // how cut disconnects a worker, for the log
	cut     func(i int)
	restore func(i int)
	// addName is the name in --workers under which add starts a fourth worker;
	// add returns the addresses the master should find behind it.
	addName string
	add     func() []string
}

var timeoutWords = regexp.MustCompile(`(?i)timeout|timed out|deadline`)

// runClusterScenarios runs, under steady load: kill -9 of worker 2, its restart,
// a cut of worker 3, its return, and a fourth worker joining by name.
func runClusterScenarios(t *testing.T, c *cluster, dir string, ops clusterOps) {
	w2, w3 := ops.workers[1], ops.workers[2]
	c.waitStatus("three workers healthy", 30*time.Second, func(st clusterStatus) bool {
		for _, a := range ops.workers {
			if w, ok := st.worker(a); !ok || !workerHealthy(w) {
				return false
			}
		}
		return st.Ready
	})
	c.logf("three workers healthy; starting %d clients", clusterClients)
	load := c.startLoad(dir)
	load.waitRecovered(c.begin, "the start")
	for _, a := range ops.workers {
		c.waitJobsOK(a, 0, 10*time.Second)
	}
	c.logf("every worker does jobs; %s", load.summary())

	// A worker dies: it is ejected and the others take its jobs.
	at := load.mark("kill -9 worker 2")
	ops.kill(1)
	c.logf("killed worker 2 (%s) with SIGKILL", w2)
	ws := c.waitState(w2, "ejected after kill -9", clusterEjectWithin, workerOut)
	c.logf("worker 2 is %s after %.1fs: %s", ws.State, time.Since(at).Seconds(), ws.LastError)
	load.waitRecovered(at, "kill -9 worker 2")

	// It comes back on the same address: it gets jobs again.
	before := c.mustWorkerJobs(w2, "ok")
	restartAt := time.Now()
	ops.restart(1)
	c.waitState(w2, "healthy after its restart", clusterEjectWithin+5*time.Second, workerHealthy)
	c.waitJobsOK(w2, before, 10*time.Second)
	c.logf("worker 2 restarted: healthy and doing jobs after %.1fs", time.Since(restartAt).Seconds())

	// A worker stops answering: deadlines fire, it is ejected, and it stays out
	// until it answers again, also when the job it held times out.
	held := c.holdJobOn(w3, load.text)
	timeoutsBefore := c.mustWorkerJobs(w3, "timeout")
	watch := c.watchState(w3)
	at = load.mark("cut worker 3")
	ops.cut(2)
	c.logf("cut worker 3 (%s): %s, while it holds a job", w3, ops.cutWhat)
	close(held.release)
	ws = c.waitState(w3, "ejected for a timeout after being cut off", clusterEjectWithin, func(w workerStatus) bool {
		return workerOut(w) && timeoutWords.MatchString(w.LastError)
	})
	c.logf("worker 3 is %s after %.1fs: %s", ws.State, time.Since(at).Seconds(), ws.LastError)
	load.waitRecovered(at, "cutting worker 3")
	// The job it held ends at the job deadline with a message saying so (or,
	// moved to another worker, with its result).
	var res heldResult
	select {
	case res = <-held.done:
	case <-time.After(clusterHangLimit + 2*time.Second):
		t.Fatalf("the job held by worker 3 hangs: no answer %s after it started", time.Since(held.start).Round(time.Millisecond))
	}
	switch {
	case res.err != nil:
		t.Errorf("the job held by worker 3 when it was cut got no answer after %s: %v (want the master's ERROR saying the job took longer than its %s deadline)",
			res.took.Round(time.Millisecond), res.err, clusterMasterJobTimeout)
	case wire.IsError(res.answer) && !timeoutWords.MatchString(string(res.answer)):
		t.Errorf("the job held by worker 3 when it was cut got %q after %s, want a message about its deadline", res.answer, res.took.Round(time.Millisecond))
	case !wire.IsError(res.answer):
		if bad := checkConversion("pdf", res.answer); bad != "" {
			t.Errorf("the job held by worker 3: %s", bad)
		}
	}
	if res.took > clusterHangLimit {
		t.Errorf("the job held by worker 3 took %s, over its deadline %s + margin", res.took.Round(time.Millisecond), clusterMasterJobTimeout)
	}
	answer := string(res.answer)
	if res.err != nil {
		answer = res.err.Error()
	}
	c.logf("the job held by worker 3 ended after %s: %.120q", res.took.Round(time.Millisecond), answer)
	for line := range strings.SplitSeq(c.masterLog(), "\n") {
		if strings.Contains(line, "file=held.txt") && strings.Contains(line, "worker="+w3) {
			c.logf("master: %s", line)
		}
	}
	time.Sleep(500 * time.Millisecond) // a flap back to healthy would show by now
	timeouts := c.mustWorkerJobs(w3, "timeout") - timeoutsBefore
	seen := watch.end()
	out := false
	for _, s := range seen {
		if s.state != "healthy" {
			out = true
		} else if out {
			var b strings.Builder
			for _, s := range seen {
				fmt.Fprintf(&b, "\n    +%.2fs %s %s", s.at.Sub(at).Seconds(), s.state, s.err)
			}
			t.Errorf("worker 3, cut off, was marked healthy again %.2fs after the cut (%v of its jobs had timed out); its states:%s",
				s.at.Sub(at).Seconds(), timeouts, b.String())
			break
		}
	}

	// It answers again: healthy, and jobs again.
	before = c.mustWorkerJobs(w3, "ok")
	restoreAt := time.Now()
	ops.restore(2)
	c.waitState(w3, "healthy after it answers again", clusterEjectWithin+5*time.Second, workerHealthy)
	c.waitJobsOK(w3, before, 10*time.Second)
	c.logf("worker 3 back: healthy and doing jobs after %.1fs", time.Since(restoreAt).Seconds())

	// A fourth worker appears behind a name: it gets jobs.
	addAt := time.Now()
	added := ops.add()
	for _, a := range added {
		w := c.waitState(a, "listed under "+ops.addName+" and healthy", 20*time.Second, func(w workerStatus) bool {
			return w.Name == ops.addName && workerHealthy(w)
		})
		c.waitJobsOK(a, 0, 10*time.Second)
		c.logf("worker %s (%s) joined by name: healthy and doing jobs after %.1fs", w.Addr, w.Name, time.Since(addAt).Seconds())
	}

	load.finish()
	st, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	c.logf("master status at the end: %s", st)
}

// TestClusterLoopback runs the cluster scenarios on loopback processes: kill -9
// and restart, a worker frozen with SIGSTOP (a hung machine: it still accepts TCP
// connections but never answers) and SIGCONT, and a worker joining under the
// name localhost.
func TestClusterLoopback(t *testing.T) {
	dir := t.TempDir()
	clusterFiles(t, dir, "localhost")

	var workers [3]string
	var procs [3]*process
	for i := range workers {
		workers[i] = freeAddr(t)
		procs[i] = startFileconv(t, dir, fmt.Sprintf("worker %d", i+1), nil, clusterWorkerArgs(workers[i])...)
	}
	for i := range workers {
		waitListening(t, procs[i], workers[i])
	}
	// The fourth worker's name is in --workers from the start: nobody answers
	// behind it until add starts it.
	addrs, port := localhostAddrs(t)
	masterAddr, adminAddr := freeAddr(t), freeAddr(t)
	list := strings.Join(append(workers[:], net.JoinHostPort("localhost", port)), ",")
	m := startFileconv(t, dir, "master", nil, clusterMasterArgs(masterAddr, adminAddr, list)...)
	waitListening(t, m, masterAddr)
	waitListening(t, m, adminAddr)
	c := newCluster(t, dir, m, masterAddr, adminAddr, func(f func()) error { f(); return nil })

	runClusterScenarios(t, c, dir, clusterOps{
		workers: workers,
		kill:    func(i int) { procs[i].killNow(t) },
		restart: func(i int) {
			procs[i] = startFileconv(t, dir, fmt.Sprintf("worker %d (restarted)", i+1), nil, clusterWorkerArgs(workers[i])...)
			waitListening(t, procs[i], workers[i])
		},
		cutWhat: "SIGSTOP",
		cut:     func(i int) { procs[i].sendSignal(t, syscall.SIGSTOP) },
		restore: func(i int) { procs[i].sendSignal(t, syscall.SIGCONT) },
		addName: "localhost",
		add: func() []string {
			var started []string
			for _, a := range addrs {
				p := startFileconv(t, dir, "worker 4 on "+a, nil, clusterWorkerArgs(a)...)
				waitListening(t, p, a)
				started = append(started, a)
			}
			return started
		},
	})
}

// localhostAddrs returns the addresses the name localhost resolves to, with a
// port free on each of them, leaving out the ones this machine cannot listen on
// (::1 without IPv6); a worker is started on each one left.
func localhostAddrs(t *testing.T) ([]string, string) {
	t.Helper()
	ips, err := net.DefaultResolver.LookupHost(context.Background(), "localhost")
	if err != nil {
		t.Fatalf("localhost does not resolve: %v", err)
	}
	for range 20 {
		_, port, _ := net.SplitHostPort(freeAddr(t))
		var addrs []string
		inUse := false
		for _, ip := range ips {
			addr := net.JoinHostPort(ip, port)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					inUse = true
					break
				}
				t.Logf("localhost resolves to %s, which cannot be listened on (%v): the master will find it unreachable", ip, err)
				continue
			}
			ln.Close()
			addrs = append(addrs, addr)
		}
		if !inUse && len(addrs) > 0 {
			return addrs, port
		}
	}
	t.Fatalf("found no port free on every address of localhost (%v)", ips)
	return nil, ""
}
