//go:build linux

package e2e

// Master restarts under load: two workers, clients of both protocols converting
// files whose answers can be checked, and a master that is stopped with SIGTERM,
// then killed with SIGKILL, each time followed by a new master on the same
// address. The clients retry as the client package does by default, only more
// patiently, so that a restart's gap is bridged.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

const (
	// restartClients run at once: half of them speak v2, half v1.0.
	restartClients = 4
	// restartGrace is the masters' --grace: short, so that SIGTERM also cuts a
	// job, the slow one.
	restartGrace = 500 * time.Millisecond
	// A stopped master must be gone within its grace and this margin (a
	// 2-core machine busy with other tests slows every step down).
	restartExitWithin = restartGrace + 30*time.Second
	// The job deadlines leave room for the slow job on a loaded machine.
	restartWorkerJobTimeout = 40 * time.Second
	restartMasterJobTimeout = 45 * time.Second
	// A request that takes longer hangs: a job's deadline, and a restart's
	// gap for the retries to wait through.
	restartHangLimit = restartMasterJobTimeout + 15*time.Second
	// After a restart, this many requests started since must succeed.
	restartFlowing = 12
	// The slow jobs convert this much text to PDF, and that PDF back to text:
	// a second or two of conversion on an idle machine, so that each is under
	// way when a master stops or dies.
	restartSlowBytes = 1536 << 10
)

// restartClient retries more patiently than the default (3 retries): enough to
// wait through a master's restart, always within the load's deadline.
func restartClient(c *cluster, id int) *client.Client {
	proto := client.ProtocolV2
	if id%2 == 1 {
		proto = client.ProtocolV1
	}
	return &client.Client{Addr: c.masterAddr, Token: clusterToken, TLSConfig: c.tls, Protocol: proto,
		DialTimeout: 5 * time.Second, Timeout: restartHangLimit, MaxRetries: 40,
		RetryBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
}

// restartJobs are client id's requests: every conversion, with inputs of the
// client's own size and words, so that an answer meant for another request,
// or a mixture of two, shows.
func restartJobs(t *testing.T, id int) []loadJob {
	t.Helper()
	w, h := 64+6*id, 40+4*id
	photo := testfiles.Photo(w, h)
	pngIn, err := testfiles.Encode(photo, testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	jpegIn, err := testfiles.Encode(photo, testfiles.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("Client %d asked for this line", id)
	pdfIn, err := testfiles.TextPDF(marker + "\n\n" + testfiles.PageText(id+1))
	if err != nil {
		t.Fatal(err)
	}
	text := []byte(marker + ".\n\n" + testfiles.PageText(id+1) + "\n")
	proto := "v2"
	if id%2 == 1 {
		proto = "v1.0"
	}
	isImage := func(format string) func([]byte) string {
		return func(out []byte) string { return checkImageBytes(out, format, w, h) }
	}
	return []loadJob{
		{proto + " PNG->JPEG", client.ToJPEG, "photo.png", pngIn, isImage("jpeg")},
		{proto + " JPEG->PNG", client.ToPNG, "photo.jpg", jpegIn, isImage("png")},
		{proto + " PNG->WEBP", client.ToWEBP, "photo.png", pngIn, isImage("webp")},
		{proto + " TXT->PDF", client.TextToPDF, "notes.txt", text, func(out []byte) string { return checkConversion("pdf", out) }},
		{proto + " PDF->TXT", client.PDFToText, "notes.pdf", pdfIn, func(out []byte) string { return checkText(out, marker) }},
	}
}

// checkImageBytes says what is wrong with an image answer, or "".
func checkImageBytes(out []byte, format string, w, h int) string {
	img, got, err := image.Decode(bytes.NewReader(out))
	if err != nil {
		return fmt.Sprintf("%d bytes that do not decode as an image (%v), want a %dx%d %s", len(out), err, w, h, format)
	}
	if b := img.Bounds(); got != format || b.Dx() != w || b.Dy() != h {
		return fmt.Sprintf("a %dx%d %s, want a %dx%d %s", b.Dx(), b.Dy(), got, w, h, format)
	}
	return ""
}

// checkText says what is wrong with a PDF->TXT answer, or "".
func checkText(out []byte, want string) string {
	if !strings.Contains(strings.Join(strings.Fields(string(out)), " "), want) {
		return fmt.Sprintf("PDF->TXT gave %d bytes without %q: %.120q", len(out), want, out)
	}
	return ""
}

// workerAdmin reads a worker's own view of itself on its admin listener.
type workerAdmin struct {
	c    *cluster
	addr string
}

func (w workerAdmin) get(path string) ([]byte, error) {
	resp, err := w.c.http.Get("http://" + w.addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (w workerAdmin) status() (wire.WorkerStatus, error) {
	var st wire.WorkerStatus
	body, err := w.get("/status")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("/status is not JSON: %w: %s", err, body)
	}
	return st, nil
}

// metric is the value of an unlabelled series of the worker's /metrics.
func (w workerAdmin) metric(name string) (float64, error) {
	body, err := w.get("/metrics")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// idle waits until the worker holds no job and no conversion slot.
func (w workerAdmin) idle(what string, within time.Duration) {
	w.c.t.Helper()
	w.c.waitUntil(fmt.Sprintf("worker %s idle %s", w.addr, what), within, func() (bool, string) {
		st, err := w.status()
		if err != nil {
			return false, err.Error()
		}
		slots, err := w.metric("fileconv_worker_conversion_slots_in_use")
		if err != nil {
			return false, err.Error()
		}
		return st.InFlight == 0 && slots == 0, fmt.Sprintf("in_flight %d, conversion slots in use %v", st.InFlight, slots)
	})
}

// slowJob is a conversion of a big file, sent by a client of its own.
type slowJob struct {
	name  string
	check func(out []byte) string
	done  chan slowResult
	start time.Time
}

type slowResult struct {
	out []byte
	res client.Result
	err error
}

func startSlowJob(c *cluster, id int, name string, op string, input []byte, check func([]byte) string) *slowJob {
	s := &slowJob{name: name, check: check, done: make(chan slowResult, 1), start: time.Now()}
	cl := restartClient(c, id)
	go func() {
		defer cl.Close()
		var out bytes.Buffer
		res, err := cl.Convert(context.Background(), op, name, bytes.NewReader(input), &out, client.Options{})
		s.done <- slowResult{out.Bytes(), res, err}
	}()
	return s
}

// startSlowJobConverting starts the slow job with the load paused, waits until
// a worker converts it (it holds the only conversion slot taken), and resumes
// the load.
func startSlowJobConverting(c *cluster, load *loadGen, admins []workerAdmin, id int, name string, op string, input []byte, check func([]byte) string) *slowJob {
	c.t.Helper()
	load.pause()
	defer load.resume()
	s := startSlowJob(c, id, name, op, input, check)
	c.waitUntil("a worker converting "+name, restartHangLimit, func() (bool, string) {
		select {
		case r := <-s.done:
			c.t.Fatalf("%s ended before a worker converted it: %v", name, r.err)
		default:
		}
		var why []string
		for _, w := range admins {
			slots, err := w.metric("fileconv_worker_conversion_slots_in_use")
			if err != nil {
				return false, err.Error()
			}
			if slots > 0 {
				return true, ""
			}
			why = append(why, fmt.Sprintf("worker %s: %v slots in use", w.addr, slots))
		}
		return false, strings.Join(why, "; ")
	})
	return s
}

// result waits for the slow job's answer, which must be right: the client's
// retries carry it over a master's restart.
func (s *slowJob) result(c *cluster) []byte {
	c.t.Helper()
	var r slowResult
	select {
	case r = <-s.done:
	case <-time.After(restartHangLimit + 5*time.Second):
		c.t.Fatalf("%s hangs: no answer %s after it started", s.name, time.Since(s.start).Round(time.Millisecond))
	}
	if r.err != nil {
		c.t.Fatalf("%s, under way when the master went, failed after %d attempts: %v", s.name, r.res.Attempts, r.err)
	}
	if bad := s.check(r.out); bad != "" {
		c.t.Fatalf("%s: %s", s.name, bad)
	}
	c.logf("%s succeeded after %d attempts, %.1fs", s.name, r.res.Attempts, time.Since(s.start).Seconds())
	return r.out
}

// waitFlowing waits until restartFlowing requests started since since have
// succeeded. (finish checks every request; this only waits for the load to
// flow again before the next step.)
func waitFlowing(load *loadGen, since time.Time, what string) {
	c := load.c
	c.t.Helper()
	c.waitUntil(fmt.Sprintf("%d requests succeeding %s", restartFlowing, what), restartHangLimit, func() (bool, string) {
		ok := 0
		for _, r := range load.snapshot() {
			if !r.start.Before(since) && r.ok() {
				ok++
			}
		}
		return ok >= restartFlowing, load.summary()
	})
	c.logf("%d requests succeeded %s", restartFlowing, what)
}

// logLine is the first line of log that holds every one of parts, or "".
func logLine(log string, parts ...string) string {
	for line := range strings.SplitSeq(log, "\n") {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(line, p)
		}
		if found {
			return line
		}
	}
	return ""
}

// waitDropped waits until a worker has logged the end of the job of the file
// name with one of outcomes: it let go of the job because the master that sent it
// went away.
func waitDropped(c *cluster, procs []*process, name string, outcomes ...string) {
	c.t.Helper()
	c.waitUntil(fmt.Sprintf("a worker dropping %s (%s)", name, strings.Join(outcomes, " or ")), restartHangLimit, func() (bool, string) {
		var seen []string
		for i, p := range procs {
			for _, o := range outcomes {
				if line := logLine(p.errs(), "file="+name, "outcome="+o); line != "" {
					c.logf("worker %d: %s", i+1, line)
					return true, ""
				}
			}
			for line := range strings.SplitSeq(p.errs(), "\n") {
				if strings.Contains(line, "file="+name) {
					seen = append(seen, fmt.Sprintf("worker %d: %s", i+1, line))
				}
			}
		}
		return false, "the workers' lines for it:\n" + strings.Join(seen, "\n")
	})
}

// TestMasterRestartUnderLoad stops the master with SIGTERM, then kills it with
// SIGKILL, each time under load and followed by a new master on the same
// address: every request ends in time with the right answer, the workers drop
// what the old master had sent them, and serve the new one.
func TestMasterRestartUnderLoad(t *testing.T) {
	dir := t.TempDir()
	clusterFiles(t, dir, "localhost")

	var workers [2]string
	var admins [2]workerAdmin
	procs := make([]*process, 2)
	for i := range workers {
		workers[i] = freeAddr(t)
		admins[i].addr = freeAddr(t)
		args := append(clusterWorkerArgs(workers[i]), "--admin", admins[i].addr, "--job-timeout", restartWorkerJobTimeout.String())
		procs[i] = startFileconv(t, dir, fmt.Sprintf("worker %d", i+1), nil, args...)
	}
	for i := range workers {
		waitListening(t, procs[i], workers[i])
		waitListening(t, procs[i], admins[i].addr)
	}
	masterAddr, adminAddr := freeAddr(t), freeAddr(t)
	masterArgs := append(clusterMasterArgs(masterAddr, adminAddr, strings.Join(workers[:], ",")),
		"--grace", restartGrace.String(), "--job-timeout", restartMasterJobTimeout.String())
	startMaster := func(label string) *process {
		m := startFileconv(t, dir, label, nil, masterArgs...)
		waitListening(t, m, masterAddr)
		return m
	}
	m := startMaster("master 1")
	c := newCluster(t, dir, m, masterAddr, adminAddr, func(f func()) error { f(); return nil })
	for i := range admins {
		admins[i].c = c
	}
	c.waitStatus("two workers healthy", 30*time.Second, func(st clusterStatus) bool {
		for _, a := range workers {
			if w, ok := st.worker(a); !ok || !workerHealthy(w) {
				return false
			}
		}
		return st.Ready
	})

	slowText := []byte(testfiles.Paragraphs(restartSlowBytes))
	jobs := make([][]loadJob, restartClients)
	for i := range jobs {
		jobs[i] = restartJobs(t, i)
	}
	load := c.startLoadWith(dir, loadConfig{
		clients:    restartClients,
		jobs:       func(id int) []loadJob { return jobs[id] },
		newClient:  func(id int) *client.Client { return restartClient(c, id) },
		noFailures: true,
		hangLimit:  restartHangLimit,
	})
	waitFlowing(load, c.begin, "at the start")
	for _, a := range workers {
		c.waitJobsOK(a, 0, restartHangLimit)
	}
	var goroutines [2]float64
	for i, w := range admins {
		n, err := w.metric("go_goroutines")
		if err != nil {
			t.Fatal(err)
		}
		goroutines[i] = n
	}
	c.logf("both workers do jobs; %s; their goroutines: %v", load.summary(), goroutines)

	// (a) SIGTERM: the master finishes the jobs it holds within its grace
	// period, cuts the slow one at its end, and exits; the clients' retries
	// wait for the next master.
	slow := startSlowJobConverting(c, load, admins[:], 0, "slow-sigterm.txt", client.TextToPDF, slowText,
		func(out []byte) string { return checkConversion("pdf", out) })
	time.Sleep(100 * time.Millisecond) // requests of the load under way again
	at := load.mark("SIGTERM to the master")
	m.sendSignal(t, syscall.SIGTERM)
	select {
	case err := <-m.done:
		m.done <- err
		if err != nil {
			t.Errorf("master 1 exited after SIGTERM with %v", err)
		}
	case <-time.After(restartExitWithin):
		t.Fatalf("master 1 still runs %s after SIGTERM, with a --grace of %s", restartExitWithin, restartGrace)
	}
	c.logf("master 1 exited %.1fs after SIGTERM", time.Since(at).Seconds())
	stoppedLog := m.errs()
	m = startMaster("master 2")
	c.masterLog = m.errs
	c.logf("master 2 listens %.1fs after SIGTERM to master 1", time.Since(at).Seconds())
	waitFlowing(load, time.Now(), "after the restart that followed SIGTERM")
	slowPDF := slow.result(c)
	if line := logLine(stoppedLog, "file="+slow.name, "outcome=stopped"); line != "" {
		c.logf("master 1: %s", line)
		// The worker cancels the conversion, or finds that it finished just as
		// the master went: the end of a TXT->PDF, writing the document, does
		// not stop for a cancellation.
		waitDropped(c, procs, slow.name, "client_gone", "write_failed")
	} else {
		c.logf("%s ended within master 1's grace period: no job was cut", slow.name)
	}

	// (b) SIGKILL while a worker converts the slow job, the PDF back to text:
	// the worker sees the master's connection close and cancels the job (a
	// PDF->TXT stops between pages).
	paragraphs := strings.Split(strings.TrimSpace(string(slowText)), "\n\n")
	lastParagraph := strings.Join(strings.Fields(paragraphs[len(paragraphs)-1]), " ")
	slow = startSlowJobConverting(c, load, admins[:], 1, "slow-sigkill.pdf", client.PDFToText, slowPDF,
		func(out []byte) string { return checkText(out, lastParagraph) })
	time.Sleep(100 * time.Millisecond)
	at = load.mark("SIGKILL to the master")
	m.killNow(t)
	c.logf("killed master 2 with SIGKILL")
	m = startMaster("master 3")
	c.masterLog = m.errs
	c.logf("master 3 listens %.1fs after SIGKILL to master 2", time.Since(at).Seconds())
	waitFlowing(load, time.Now(), "after the restart that followed SIGKILL")
	waitDropped(c, procs, slow.name, "client_gone")
	for _, a := range workers {
		c.waitJobsOK(a, 0, restartHangLimit)
	}
	slow.result(c)

	load.finish()

	// The workers let go of every job of the old masters: nothing in flight,
	// no slot taken, no goroutine left behind for them.
	for i, w := range admins {
		w.idle("after the load", restartHangLimit)
		c.waitUntil(fmt.Sprintf("worker %d's goroutines back to what they were under load", i+1), 10*time.Second, func() (bool, string) {
			n, err := w.metric("go_goroutines")
			if err != nil {
				return false, err.Error()
			}
			// The old masters' connections are gone; the new one's idle
			// connections take what they took.
			return n <= goroutines[i]+8, fmt.Sprintf("%v goroutines, %v under load before the restarts", n, goroutines[i])
		})
		n, _ := w.metric("go_goroutines")
		c.logf("worker %d: idle, %v goroutines", i+1, n)
	}

	// A fresh client that does not retry is served by the new master.
	for id := range 2 {
		cl := restartClient(c, id)
		cl.MaxRetries = -1
		job := jobs[id][0]
		ctx, cancel := context.WithTimeout(context.Background(), restartHangLimit)
		start := time.Now()
		out, err := cl.ConvertBytes(ctx, job.op, job.name, job.input)
		cancel()
		cl.Close()
		if err != nil {
			t.Errorf("a fresh %s request after the restarts: %v", job.kind, err)
		} else if bad := job.check(out); bad != "" {
			t.Errorf("a fresh %s request after the restarts: %s", job.kind, bad)
		} else {
			c.logf("a fresh %s request after the restarts took %s", job.kind, time.Since(start).Round(time.Millisecond))
		}
	}
}
