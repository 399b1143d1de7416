package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/fileconv/fileconv/internal/testnet"
)

// binary is the fileconv command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fileconv-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fileconv")
	build := exec.Command("go", "build", "-race", "-o", binary, "github.com/fileconv/fileconv/cmd/fileconv")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fileconv:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running fileconv subcommand whose output is collected.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

func start(t *testing.T, dir string, args ...string) *process {
	t.Helper()
	return startProcess(t, launch{dir: dir}, args...)
}

// launch says how to start a fileconv process.
type launch struct {
	dir string
	env []string // added to this process's environment
	// prefix runs fileconv through another command (ip netns exec NS, which
	// execs fileconv itself, so the process is still fileconv).
	prefix []string
	// label, when set, names the process in a failed test's log, which then
	// shows only the end of its output: a loaded master writes a line per job.
	label string
	// user, when set, runs the process as that user (the test runs as root).
	user *syscall.Credential
}

// startProcess starts a fileconv subcommand that is killed when the test ends;
// a failed test logs its output.
func startProcess(t *testing.T, l launch, args ...string) *process {
	t.Helper()
	argv := append(slices.Clone(l.prefix), binary)
	argv = append(argv, args...)
	p := &process{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	p.cmd.Dir = l.dir
	if l.env != nil {
		p.cmd.Env = append(os.Environ(), l.env...)
	}
	if l.user != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: l.user}
	}
	p.cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		switch {
		case !t.Failed():
		case l.label != "":
			t.Logf("%s: %s\nstdout:\n%s\nstderr (last 150 lines):\n%s", l.label, strings.Join(argv, " "), lastLines(p.out(), 40), lastLines(p.errs(), 150))
		default:
			t.Logf("fileconv %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.out(), p.errs())
		}
	})
	return p
}

func (p *process) out() string  { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *process) errs() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// stop sends SIGINT and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("exit after SIGINT: %v\n%s", err, p.errs())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20s of SIGINT")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// run runs a fileconv subcommand to its end.
func run(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// makePKI writes a development CA and certificates into dir/pki.
func makePKI(t *testing.T, dir string) {
	t.Helper()
	if _, errOut, code := run(t, dir, "certs", "--dir", "pki"); code != 0 {
		t.Fatalf("certs: exit %d: %s", code, errOut)
	}
}

// startWorker starts a worker with the certificates of dir/pki, requiring the
// master's, and returns its address once it listens.
func startWorker(t *testing.T, dir string) string {
	t.Helper()
	addr := freeAddr(t)
	w := start(t, dir, "worker", "--listen", addr, "--cert", "pki/worker.pem", "--key", "pki/worker-key.pem", "--ca", "pki/ca.pem", "--admin", "off")
	waitListening(t, w, addr)
	return addr
}

func freeAddr(t *testing.T) string { return testnet.FreeAddr(t) }

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, p *process, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("process exited before listening on %s: %v\n%s", addr, err, p.errs())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %s after 30s", addr)
}

// inputs writes one input of every type into dir.
func inputs(t *testing.T, dir string) map[string]string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 90, 60))
	for y := range 60 {
		for x := range 90 {
			img.Set(x, y, color.NRGBA{uint8(x * 2), uint8(y * 4), 200, uint8(100 + y)})
		}
	}
	var pngBuf, jpegBuf bytes.Buffer
	png.Encode(&pngBuf, img)
	jpeg.Encode(&jpegBuf, img, nil)
	files := map[string][]byte{
		"photo.png": pngBuf.Bytes(),
		"photo.jpg": jpegBuf.Bytes(),
		"notes.txt": []byte("Première ligne,\nsuite.\n\nΔεύτερη παράγραφος. Второй абзац.\n"),
	}
	paths := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

func checkImage(t *testing.T, path, wantFormat string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatalf("%s does not decode: %v", path, err)
	}
	if format != wantFormat || cfg.Width != w || cfg.Height != h {
		t.Errorf("%s is a %dx%d %s, want a %dx%d %s", path, cfg.Width, cfg.Height, format, w, h, wantFormat)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitOutput waits until the process's standard output matches re, and returns
// the submatches: a port that listens says nothing of what is printed after.
func waitOutput(t *testing.T, p *process, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.out()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output matching %s after 30s:\n%s\n%s", re, p.out(), p.errs())
		}
		select {
		case err := <-p.done:
			p.done <- err
			if m := re.FindStringSubmatch(p.out()); m != nil {
				return m
			}
			t.Fatalf("process exited before printing a match of %s: %v\n%s\n%s", re, err, p.out(), p.errs())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var (
	// bannerEnd is the last line of up's banner.
	bannerEnd = regexp.MustCompile(`(?m)^Stop with Ctrl-C\.$`)
	tokenLine = regexp.MustCompile(`(?m)^\s*token\s+(\S+)$`)
)

// waitBanner waits for the whole of up's banner and returns it.
func waitBanner(t *testing.T, up *process) string {
	t.Helper()
	waitOutput(t, up, bannerEnd)
	return up.out()
}

// waitLogged waits until the process's standard error holds want at least n
// times, and reports whether it did within 15s: a server logs a job or a reload
// after its effect, which the test may have seen first.
func waitLogged(p *process, want string, n int) bool {
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.errs(), want) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func TestUpAndSend(t *testing.T) {
	dir := t.TempDir()
	addr, adminAddr, webAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	up := start(t, dir, "up", "--listen", addr, "--workers", "2", "--admin", adminAddr, "--web", webAddr)
	banner := waitBanner(t, up)
	m := tokenLine.FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no token in the banner:\n%s", banner)
	}
	token := m[1]
	if !strings.Contains(banner, "send --addr "+addr+" --ca .fileconv/ca.pem --token-file .fileconv/token --to png FILE") {
		t.Errorf("the banner has no ready-to-paste send command:\n%s", banner)
	}
	if !strings.Contains(banner, "web      http://"+webAddr+"/ ") {
		t.Errorf("the banner does not name the web page at %s:\n%s", webAddr, banner)
	}
	if page := httpGet(t, "http://"+webAddr+"/"); !strings.Contains(page, "<html") {
		t.Errorf("the web page named in the banner answered %.200q", page)
	}
	for name, mode := range map[string]os.FileMode{"token": 0o600, "ca-key.pem": 0o600, "master-key.pem": 0o600, "worker-key.pem": 0o600, "ca.pem": 0o644} {
		st, err := os.Stat(filepath.Join(dir, ".fileconv", name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf(".fileconv/%s has mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}

	inputs(t, dir)
	// send finds up's CA and token in ./.fileconv by itself.
	send := func(args ...string) (string, string, int) {
		return run(t, dir, append([]string{"send", "--addr", addr}, args...)...)
	}
	if out, errOut, code := send("--to", "webp", "photo.png"); code != 0 {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	checkImage(t, filepath.Join(dir, "photo.webp"), "webp", 90, 60)
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	for _, c := range []struct{ args, result, format string }{
		{"--to jpg photo.png", "out/photo.jpg", "jpeg"},
		{"--to png photo.jpg", "out/photo.png", "png"},
		{"--op 3 photo.jpg", "out/photo.webp", "webp"},
		{"--to png photo.webp", "out/photo.png", ""},
		{"--to pdf notes.txt", "out/notes.pdf", ""},
	} {
		args := append(strings.Fields(c.args), "-o", outDir)
		if c.format == "" {
			args = append(args, "--force")
		}
		if out, errOut, code := send(args...); code != 0 {
			t.Fatalf("send %s: exit %d\n%s%s", c.args, code, out, errOut)
		}
		if c.format != "" {
			checkImage(t, filepath.Join(dir, c.result), c.format, 90, 60)
		}
	}
	if _, errOut, code := send("--to", "txt", "out/notes.pdf", "-o", outDir); code != 0 {
		t.Fatalf("send PDF to TXT: exit %d: %s", code, errOut)
	}
	text, _ := os.ReadFile(filepath.Join(outDir, "notes.txt"))
	if !strings.Contains(string(text), "Δεύτερη παράγραφος. Второй абзац.") || !strings.Contains(string(text), "Première ligne, suite.") {
		t.Errorf("TXT->PDF->TXT gave %q", text)
	}

	// Never overwrite without --force; one line per failed file; exit 1.
	_, errOut, code := send("--to", "jpg", "photo.png", "notes.txt", "-o", outDir)
	if code != 1 {
		t.Errorf("exit %d for a failed file, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "photo.jpg exists: use --force") ||
		!strings.Contains(lines[1], "notes.txt: text: it converts to pdf, not jpg") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if _, _, code := send("--to", "jpg", "--token", "wrong", "photo.png", "--force", "-o", outDir); code != 1 {
		t.Errorf("a wrong token exits %d, want 1", code)
	}
	if _, errOut, code := send("photo.png"); code != 2 || !strings.Contains(errOut, "--to") {
		t.Errorf("no --to: exit %d, stderr %q", code, errOut)
	}

	// The admin listener: fileconv status, readiness, metrics.
	stdout, errOut, code := run(t, dir, "status", "--admin", adminAddr)
	if code != 0 || !strings.Contains(stdout, "master ready") || !strings.Contains(stdout, "2 of 2 workers healthy") ||
		!strings.Contains(stdout, "pdf>txt,png,jpg,webp,tiff,avif,pdf jpeg,png,webp,gif,tiff,bmp,ico,heic,avif,jxl,jp2,psd,pnm,svg,tga>jpg,png,webp,gif,tiff,avif,heic,jxl,pdf") ||
		// Web pages join "files,text>pdf" once Chromium has passed its self-test.
		!strings.Contains(stdout, "files,text>pdf") {
		t.Errorf("status: exit %d\n%s%s", code, stdout, errOut)
	}
	metricsText := httpGet(t, "http://"+adminAddr+"/metrics")
	for _, want := range []string{`fileconv_master_jobs_total{op="webp",outcome="ok"}`, `fileconv_worker_jobs_total{input_type="png",op="webp",outcome="ok",worker=`, "fileconv_master_auth_failures_total 1"} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := httpGet(t, "http://"+adminAddr+"/readyz"); got != "ready\n" {
		t.Errorf("/readyz = %q", got)
	}

	up.stop(t)
	// A second start reuses the CA and the token.
	ca1, _ := os.ReadFile(filepath.Join(dir, ".fileconv", "ca.pem"))
	up2 := start(t, dir, "up", "--listen", addr, "--workers", "1", "--admin", "off", "--web", "off")
	if m := tokenLine.FindStringSubmatch(waitBanner(t, up2)); m == nil || m[1] != token {
		t.Errorf("second start printed another token:\n%s", up2.out())
	}
	ca2, _ := os.ReadFile(filepath.Join(dir, ".fileconv", "ca.pem"))
	if !bytes.Equal(ca1, ca2) {
		t.Error("second start made a new CA")
	}
	if _, errOut, code := send("--to", "jpg", "photo.png", "--force"); code != 0 {
		t.Errorf("send after restart: exit %d: %s", code, errOut)
	}
	up2.stop(t)
}

func TestSeparateProcessesWithMutualTLS(t *testing.T) {
	dir := t.TempDir()
	makePKI(t, dir)
	var workerAddrs []string
	for range 2 {
		workerAddrs = append(workerAddrs, startWorker(t, dir))
	}
	const originalToken = "super_secret_token_123456789012"
	os.WriteFile(filepath.Join(dir, "tokens"), []byte(originalToken+"\n"), 0o600)
	addr := freeAddr(t)
	m := start(t, dir, "master", "--listen", addr, "--workers", strings.Join(workerAddrs, ","),
		"--token-file", "tokens", "--cert", "pki/master.pem", "--key", "pki/master-key.pem", "--ca", "pki/ca.pem", "--admin", "off")
	waitListening(t, m, addr)

	// A worker refuses a client without a cluster certificate.
	conn, err := tls.Dial("tcp", workerAddrs[0], &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a worker accepted a client without a certificate (err %v)", err)
	}

	in := inputs(t, dir)
	host, port, _ := net.SplitHostPort(addr)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed to run the original protocol client (make test installs it)")
	}
	script, _ := filepath.Abs("testdata/original_client.py")
	for _, c := range []struct{ op, in, out, format string }{
		{"1", in["photo.png"], "py.jpg", "jpeg"},
		{"2", in["photo.jpg"], "py.png", "png"},
		{"3", in["photo.png"], "py.webp", "webp"},
		{"4", in["notes.txt"], "py.pdf", ""},
	} {
		cmd := exec.Command(python, script, host, port, originalToken, c.op, c.in, filepath.Join(dir, c.out))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("original client, operation %s: %v\n%s", c.op, err, out)
		}
		if c.format != "" {
			checkImage(t, filepath.Join(dir, c.out), c.format, 90, 60)
		}
	}
	cmd := exec.Command(python, script, host, port, originalToken, "5", filepath.Join(dir, "py.pdf"), filepath.Join(dir, "py.txt"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("original client, operation 5: %v\n%s", err, out)
	}
	// The original client reports a refusal as the server's message.
	cmd = exec.Command(python, script, host, port, "bad-token", "1", in["photo.png"], filepath.Join(dir, "x.jpg"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ERROR: Invalid authentication token") {
		t.Errorf("original client with a bad token: %v %s", err, out)
	}

	// fileconv send against the same master, with explicit flags.
	stdout, errOut, code := run(t, dir, "send", "--addr", addr, "--ca", "pki/ca.pem", "--token", originalToken, "--to", "png", "photo.jpg", "-o", ".", "--force")
	if code != 0 {
		t.Fatalf("send: exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "photo.jpg -> photo.png") {
		t.Errorf("send printed %q", stdout)
	}
	// Every job has one line in the master's log, with its id; no token appears.
	if !waitLogged(m, `msg="job finished"`, 6) {
		t.Errorf("%d job lines in the master's log after 15s, want at least 6", strings.Count(m.errs(), `msg="job finished"`))
	}
	scanner := bufio.NewScanner(strings.NewReader(m.errs()))
	for scanner.Scan() {
		if strings.Contains(scanner.Text(), `msg="job finished"`) && !strings.Contains(scanner.Text(), " job=") {
			t.Errorf("job line without an id: %s", scanner.Text())
		}
	}
	if strings.Contains(m.errs(), originalToken) {
		t.Error("the token appears in the master's log")
	}
	m.stop(t)
}

func TestClientCertificatesAtTheFrontDoor(t *testing.T) {
	dir := t.TempDir()
	makePKI(t, dir)
	workerAddr := startWorker(t, dir)
	os.WriteFile(filepath.Join(dir, "tokens"), []byte("a-token\n"), 0o600)
	addr := freeAddr(t)
	m := start(t, dir, "master", "--listen", addr, "--workers", workerAddr, "--token-file", "tokens",
		"--cert", "pki/master.pem", "--key", "pki/master-key.pem", "--ca", "pki/ca.pem", "--client-ca", "pki/ca.pem", "--admin", "off")
	waitListening(t, m, addr)
	inputs(t, dir)
	base := []string{"send", "--addr", addr, "--ca", "pki/ca.pem", "--token", "a-token", "--to", "pdf", "notes.txt", "--force", "--retries", "0"}
	if _, errOut, code := run(t, dir, base...); code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("without a client certificate: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := run(t, dir, append(base, "--cert", "pki/client.pem", "--key", "pki/client-key.pem")...); code != 0 {
		t.Errorf("with the cluster's client certificate: exit %d, stderr %q", code, errOut)
	}
}

// Tokens are replaced without a restart: on SIGHUP, and when the file changes.
func TestTokensReloadWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	makePKI(t, dir)
	workerAddr := startWorker(t, dir)
	tokens := filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("old-token\n"), 0o600)
	addr := freeAddr(t)
	m := start(t, dir, "master", "--listen", addr, "--workers", workerAddr, "--token-file", "tokens",
		"--cert", "pki/master.pem", "--key", "pki/master-key.pem", "--ca", "pki/ca.pem", "--admin", "off")
	waitListening(t, m, addr)
	inputs(t, dir)
	send := func(token string) int {
		_, _, code := run(t, dir, "send", "--addr", addr, "--ca", "pki/ca.pem", "--token", token, "--to", "pdf", "notes.txt", "--force", "--retries", "0")
		return code
	}
	if send("old-token") != 0 {
		t.Fatal("the first token does not work")
	}
	os.WriteFile(tokens, []byte("new-token\n"), 0o600)
	m.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(15 * time.Second)
	for send("new-token") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the new token was not accepted within 15s of SIGHUP\n%s", m.errs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if send("old-token") == 0 {
		t.Error("the old token still works after the reload")
	}
	if !waitLogged(m, "reloaded tokens and certificates", 1) {
		t.Error("the reload is not logged")
	}
}

// The web tier follows a token rotation without a restart: its own token for
// the master (--token-file) and the tokens its callers present
// (--api-token-file), on SIGHUP.
func TestWebTokensReloadWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	makePKI(t, dir)
	workerAddr := startWorker(t, dir)
	replace := func(name, content string) {
		t.Helper()
		replaceFile(t, filepath.Join(dir, name), []byte(content))
	}
	replace("tokens", "web-old\n")
	replace("web-token", "web-old\n")
	replace("api-tokens", "caller-old\n")
	masterAddr, webAddr := freeAddr(t), freeAddr(t)
	m := start(t, dir, "master", "--listen", masterAddr, "--workers", workerAddr, "--token-file", "tokens",
		"--cert", "pki/master.pem", "--key", "pki/master-key.pem", "--ca", "pki/ca.pem", "--admin", "off")
	waitListening(t, m, masterAddr)
	w := start(t, dir, "web", "--listen", webAddr, "--master", masterAddr, "--ca", "pki/ca.pem", "--master-admin", "off",
		"--token-file", "web-token", "--api-token-file", "api-tokens")
	waitListening(t, w, webAddr)
	// Without --api-token-file, callers present the web tier's own token.
	sameTokenAddr := freeAddr(t)
	sameToken := start(t, dir, "web", "--listen", sameTokenAddr, "--master", masterAddr, "--ca", "pki/ca.pem", "--master-admin", "off",
		"--token-file", "web-token")
	waitListening(t, sameToken, sameTokenAddr)
	convertAt := func(addr, callerToken string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/convert?to=pdf&name=notes.txt", strings.NewReader("some notes\n"))
		req.Header.Set("Authorization", "Bearer "+callerToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	convert := func(callerToken string) (int, string) { return convertAt(webAddr, callerToken) }
	if code, body := convert("caller-old"); code != http.StatusOK {
		t.Fatalf("before the rotation: %d %s", code, body)
	}

	// The rotation as docs/security.md gives it: the master accepts both tokens,
	// the web tier moves to the new one, the master drops the old one; the
	// callers move to a new token meanwhile.
	replace("tokens", "web-old\nweb-new\n")
	m.cmd.Process.Signal(syscall.SIGHUP)
	replace("web-token", "web-new\n")
	replace("api-tokens", "caller-new\n")
	w.cmd.Process.Signal(syscall.SIGHUP)
	sameToken.cmd.Process.Signal(syscall.SIGHUP)
	replace("tokens", "web-new\n")
	m.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := convert("caller-new")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new tokens did not work within 15s of SIGHUP: %d %s\nweb:\n%s\nmaster:\n%s", code, body, w.errs(), m.errs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _ := convert("caller-old"); code != http.StatusUnauthorized {
		t.Errorf("the callers' old token got %d after the reload, want 401", code)
	}
	for {
		code, body := convertAt(sameTokenAddr, "web-new")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the web tier whose callers present its own token refused the new one: %d %s\n%s", code, body, sameToken.errs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _ := convertAt(sameTokenAddr, "web-old"); code != http.StatusUnauthorized {
		t.Errorf("the web tier whose callers present its own token took the old one after the reload: %d, want 401", code)
	}
	if !waitLogged(w, "reloaded tokens and certificates", 1) {
		t.Error("the web tier's reload is not logged")
	}

	// A token file emptied by mistake is refused and the tokens in use stay.
	replace("api-tokens", "\n")
	w.cmd.Process.Signal(syscall.SIGHUP)
	for !strings.Contains(w.errs(), "reload failed") {
		if time.Now().After(deadline.Add(15 * time.Second)) {
			t.Fatalf("an empty --api-token-file was not reported:\n%s", w.errs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := convert("caller-new"); code != http.StatusOK {
		t.Errorf("after a failed reload: %d %s", code, body)
	}
}

// replaceFile gives path the content data through a rename, as an operator (or
// kubelet) replaces a file that a running process reads: never half-written.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Neither tier writes a file while serving: run both in working folders and with
// a TMPDIR they cannot write to, convert every kind of file (PDFs through the
// worker's PDF readers too), and find the folders still empty.
func TestServersWriteNoFiles(t *testing.T) {
	dir := t.TempDir()
	makePKI(t, dir)
	pki, _ := filepath.Abs(filepath.Join(dir, "pki"))
	os.WriteFile(filepath.Join(dir, "tokens"), []byte("a-token\n"), 0o600)
	tokens, _ := filepath.Abs(filepath.Join(dir, "tokens"))
	// Permissions do not stop root: as root, the servers run as nobody, who
	// may read the certificates and tokens but write nowhere here.
	var user *syscall.Credential
	if os.Geteuid() == 0 {
		user = &syscall.Credential{Uid: 65534, Gid: 65534}
		for _, p := range []string{filepath.Dir(dir), dir, filepath.Dir(binary)} {
			os.Chmod(p, 0o755)
		}
		filepath.WalkDir(pki, func(p string, _ fs.DirEntry, _ error) error { return os.Chown(p, 65534, 65534) })
		os.Chown(tokens, 65534, 65534)
	}
	workDirs := map[string]string{}
	for _, name := range []string{"worker-cwd", "worker-tmp", "master-cwd", "master-tmp"} {
		workDirs[name] = filepath.Join(dir, name)
		if err := os.Mkdir(workDirs[name], 0o555); err != nil {
			t.Fatal(err)
		}
		if user == nil {
			if f, err := os.CreateTemp(workDirs[name], "probe"); err == nil {
				f.Close()
				t.Skipf("%s is writable even at mode 0555 (a file system that ignores permissions)", workDirs[name])
			}
		}
	}
	serve := func(name, cwd, tmp string, args ...string) *process {
		return startProcess(t, launch{dir: workDirs[cwd], env: []string{"TMPDIR=" + workDirs[tmp]}, user: user, label: name}, args...)
	}
	workerAddr := freeAddr(t)
	w := serve("worker", "worker-cwd", "worker-tmp", "worker", "--listen", workerAddr,
		"--cert", pki+"/worker.pem", "--key", pki+"/worker-key.pem", "--ca", pki+"/ca.pem", "--admin", "off")
	waitListening(t, w, workerAddr)
	addr := freeAddr(t)
	m := serve("master", "master-cwd", "master-tmp", "master", "--listen", addr, "--workers", workerAddr,
		"--token-file", tokens, "--cert", pki+"/master.pem", "--key", pki+"/master-key.pem", "--ca", pki+"/ca.pem", "--admin", "off")
	waitListening(t, m, addr)
	inputs(t, dir)
	// Japanese is typeset by Pango and Cairo in a reader process.
	if err := os.WriteFile(filepath.Join(dir, "tokyo.txt"), []byte("東京は日本の首都です。\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"--to", "webp", "photo.png"}, {"--to", "png", "photo.jpg"}, {"--to", "pdf", "notes.txt"}, {"--to", "pdf", "tokyo.txt"}} {
		args := append([]string{"send", "--addr", addr, "--ca", "pki/ca.pem", "--token", "a-token", "--force"}, c...)
		if _, errOut, code := run(t, dir, args...); code != 0 {
			t.Fatalf("send %v: exit %d: %s", c, code, errOut)
		}
	}
	if _, errOut, code := run(t, dir, "send", "--addr", addr, "--ca", "pki/ca.pem", "--token", "a-token", "--force", "--to", "txt", "notes.pdf"); code != 0 {
		t.Fatalf("send PDF to TXT: exit %d: %s", code, errOut)
	}
	for name, d := range workDirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			t.Errorf("the %s folder holds %s after serving", name, e.Name())
		}
	}
}
