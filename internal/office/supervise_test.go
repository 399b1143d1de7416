package office

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/childframe"
)

// bigSheet is a CSV that LibreOffice takes a long time over (tens of
// thousands of rows, thousands of PDF pages).
var bigSheet = wideCSV(12, 60000)

// gone says whether a process has ended (and been reaped).
func gone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// onlyPid is the pid of a one-process pool.
func onlyPid(t *testing.T, p *Pool) int {
	t.Helper()
	var pids []int
	if !waitFor(time.Minute, func() bool { pids = p.pids(); return len(pids) == 1 }) {
		t.Fatalf("the pool has processes %v; want one", pids)
	}
	return pids[0]
}

// folderOf is a process's private folder.
func folderOf(p *Pool, pid int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.procs {
		if pr.pid == pid {
			return pr.dir
		}
	}
	return ""
}

// TestDeadline: a job whose context ends mid-conversion kills its process
// (and what it started), removes its folder, and the next job succeeds on a
// fresh process.
func TestDeadline(t *testing.T) {
	p := newPool(t, Config{Processes: 1})
	pid := onlyPid(t, p)
	dir := folderOf(p, pid)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := p.Convert(ctx, Job{Input: bigSheet, From: "csv", To: "pdf"})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a %d-byte sheet in 2 s: %v; want the deadline", len(bigSheet), err)
	}
	if took > 4*time.Second {
		t.Errorf("the job returned %v after its start; its deadline was 2 s", took)
	}
	if !gone(pid) {
		t.Errorf("process %d still runs after the deadline", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("its folder %s is still there: %v", dir, err)
	}
	out := convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
	if pdfPages(t, out) != 1 {
		t.Error("the next job did not convert")
	}
	if s := p.Stats(); s.Killed != 1 || s.Restarts != 1 || s.Processes != 1 {
		t.Errorf("stats: %+v; want one killed, one restart, one process", s)
	}
	if next := onlyPid(t, p); next == pid {
		t.Errorf("the next job ran in the killed process %d", pid)
	}
}

// TestStoppedProcess: a process that stops answering (SIGSTOP, as a hung
// LibreOffice) is killed at the job's deadline and replaced.
func TestStoppedProcess(t *testing.T) {
	p := newPool(t, Config{Processes: 1})
	pid := onlyPid(t, p)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := p.Convert(ctx, Job{Input: selfTestDOCX, From: "docx", To: "pdf"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a job on a stopped process: %v; want the deadline", err)
	}
	if !gone(pid) {
		t.Errorf("the stopped process %d was not killed", pid)
	}
	convert(t, p, Job{Input: selfTestPPTX, From: "pptx", To: "pdf"})
	if s := p.Stats(); s.Killed != 1 {
		t.Errorf("stats: %+v; want one killed", s)
	}
}

// TestCrash: a process killed from outside in the middle of a job fails
// that job with ErrCrashed, and the pool goes on with a fresh process.
func TestCrash(t *testing.T) {
	p := newPool(t, Config{Processes: 1})
	pid := onlyPid(t, p)
	done := make(chan error, 1)
	go func() {
		_, err := p.Convert(context.Background(), Job{Input: bigSheet, From: "csv", To: "pdf"})
		done <- err
	}()
	time.Sleep(1500 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrCrashed) {
			t.Fatalf("the job of a killed process: %v; want ErrCrashed", err)
		}
		t.Logf("the job's error: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the job of a killed process did not end")
	}
	convert(t, p, Job{Input: selfTestXLSX, From: "xlsx", To: "pdf"})
	if s := p.Stats(); s.Crashed != 1 || s.Restarts != 1 {
		t.Errorf("stats: %+v; want one crash, one restart", s)
	}
}

// TestRecycle: a process is replaced after Recycle documents.
func TestRecycle(t *testing.T) {
	p := newPool(t, Config{Processes: 1, Recycle: 3})
	var pids []int
	for range 7 {
		convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
		pid := onlyPid(t, p)
		if !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	s := p.Stats()
	if s.Recycled != 2 || s.Restarts != 2 || s.Jobs != 7 {
		t.Errorf("7 documents, recycling after 3: %+v; want 2 recycled", s)
	}
	if len(pids) != 3 {
		t.Errorf("processes %v; want 3 in turn", pids)
	}
	for _, pid := range pids[:len(pids)-1] {
		if !gone(pid) {
			t.Errorf("the recycled process %d still runs", pid)
		}
	}
}

// TestMaxMemory: a process above MaxMemory after a job is replaced.
func TestMaxMemory(t *testing.T) {
	p := newPool(t, Config{Processes: 1, MaxMemory: 100 << 20})
	first := onlyPid(t, p)
	convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
	if s := p.Stats(); s.Recycled != 1 || s.PeakRSS <= 100<<20 {
		t.Errorf("stats after a job above 100 MiB: %+v; want 1 recycled", s)
	}
	if waitFor(10*time.Second, func() bool { return gone(first) }); !gone(first) {
		t.Errorf("process %d above MaxMemory still runs", first)
	}
	convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
}

// TestClose: Close ends every process and removes every folder; a job in
// flight fails with ErrClosed; Convert after Close fails.
func TestClose(t *testing.T) {
	p := newPool(t, Config{Processes: 2})
	pids := p.pids()
	var dirs []string
	for _, pid := range pids {
		dirs = append(dirs, folderOf(p, pid))
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.Convert(context.Background(), Job{Input: bigSheet, From: "csv", To: "pdf"})
		done <- err
	}()
	time.Sleep(time.Second)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("a job in flight at Close: %v; want ErrClosed", err)
	}
	for i, pid := range pids {
		if !waitFor(5*time.Second, func() bool { return gone(pid) }) {
			t.Errorf("process %d runs after Close", pid)
		}
		if _, err := os.Stat(dirs[i]); !os.IsNotExist(err) {
			t.Errorf("folder %s is there after Close", dirs[i])
		}
	}
	if _, err := p.Convert(context.Background(), Job{Input: selfTestDOCX, From: "docx", To: "pdf"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Convert after Close: %v; want ErrClosed", err)
	}
}

// TestLazyStart: Convert starts a pool nobody started.
func TestLazyStart(t *testing.T) {
	needOffice(t)
	p := New(Config{Processes: 1, Logger: testLogger(t)})
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.Convert(ctx, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
	if err != nil || pdfPages(t, out) != 1 {
		t.Fatalf("the first job of an unstarted pool: %v", err)
	}
}

// TestWorkerGone: a warm process whose worker dies exits by itself (and
// removes its folder) within seconds, even when its jobs pipe stays open and
// its output goes to a closed pipe. The "worker" here is a shell that starts
// a child with this test binary's environment variables (its answers on a
// FIFO this test reads, its jobs on a pipe from a sleeping process) and is
// then killed.
func TestWorkerGone(t *testing.T) {
	needOffice(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/dev/shm", "fileconv-office-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	install, err := findInstall("")
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "answers")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `sleep 600 | `+childParentEnv+`=$$ "$0" 3<&0 4>"$1" & echo $! ; wait`, exe, fifo)
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childInstallEnv+"="+install, "SAL_USE_VCLPLUGIN=svp", "GODEBUG=asyncpreemptoff=1",
		"HOME="+dir, "TMPDIR="+dir)
	// The shell, its sleep and the child in a group of their own, ended
	// together at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	child, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatalf("the shell printed %q", buf[:n])
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	answers, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer answers.Close()
	var ready wireAnswer
	if err := childframe.Read(bufio.NewReader(answers), &ready); err != nil || !ready.Ready {
		t.Fatalf("the child did not get warm: %+v %v", ready, err)
	}
	cmd.Process.Kill() // the worker dies
	cmd.Wait()         // and its end of the child's output closes
	if !waitFor(5*time.Second, func() bool { return gone(child) || isZombie(child) }) {
		t.Errorf("the child %d of a dead worker still runs", child)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("its folder is still there: %v", err)
	}
}

// isZombie says whether a process has ended but was not reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestPipeClosed: a process whose jobs pipe closes (its worker died, and
// the pipe with it) exits and removes its folder.
func TestPipeClosed(t *testing.T) {
	p := newPool(t, Config{Processes: 1})
	pid := onlyPid(t, p)
	dir := folderOf(p, pid)
	p.mu.Lock()
	for pr := range p.procs {
		pr.jobsW.Close()
	}
	p.mu.Unlock()
	if !waitFor(10*time.Second, func() bool { return gone(pid) || isZombie(pid) }) {
		t.Errorf("process %d runs on after its jobs pipe closed", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("its folder is still there: %v", err)
	}
}

// TestDiedWhileIdle: a process that dies between jobs is replaced, and the
// next job converts on another one.
func TestDiedWhileIdle(t *testing.T) {
	p := newPool(t, Config{Processes: 1})
	pid := onlyPid(t, p)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(5*time.Second, func() bool { return isZombie(pid) })
	out := convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
	if pdfPages(t, out) != 1 {
		t.Error("the job did not convert")
	}
	if s := p.Stats(); s.Crashed != 1 || s.Failed != 0 {
		t.Errorf("stats: %+v; want one crash and no failed job", s)
	}
}
