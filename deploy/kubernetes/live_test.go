package kubernetes

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs a Deployment's container as a process: its args and environment,
// except addresses moved to loopback ports and files of Secrets (certificates,
// token files), which this machine does not have.
func start(t *testing.T, bin string, ctr *corev1.Container, override map[string]string) *exec.Cmd {
	t.Helper()
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FILECONV_") {
			environ = append(environ, kv)
		}
	}
	for _, e := range ctr.Env {
		if _, ok := override[e.Name]; ok || strings.HasPrefix(e.Value, "/etc/fileconv/") {
			continue
		}
		environ = append(environ, e.Name+"="+e.Value)
	}
	for k, v := range override {
		environ = append(environ, k+"="+v)
	}
	cmd := exec.Command(filepath.Join(bin, "fileconv"), ctr.Args...)
	cmd.Env = environ
	cmd.Stderr = &prefixWriter{t: t, prefix: ctr.Name + ": "}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(b), nil
}

// probe GETs a probe's path on a port as the kubelet would, until it answers
// want or the deadline passes.
func probe(t *testing.T, p *corev1.Probe, port int, want int) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, p.HTTPGet.Path)
	deadline := time.Now().Add(15 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %s, want %d", url, last, want)
}

// healthcheck runs the Dockerfile's HEALTHCHECK command as Docker would (sh -c)
// with fileconv on PATH, and returns whether it passed.
func healthcheck(t *testing.T, bin, cmd string, admin string) bool {
	t.Helper()
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	if admin != "" {
		c.Env = append(c.Env, "FILECONV_ADMIN="+admin)
	}
	out, err := c.CombinedOutput()
	if len(out) > 0 {
		t.Logf("healthcheck output: %s", out)
	}
	return err == nil
}

// process is one Deployment's container started by the test.
type process struct {
	name  string
	cmd   *exec.Cmd
	admin int
	ctr   *corev1.Container
}

// The manifests' master and worker settings, the worker's of every pool, run
// as real processes: the probes the kubelet would send pass, the image's
// HEALTHCHECK passes against each and fails once a process is gone, and
// SIGTERM ends each within its grace.
func TestManifestSettingsRunAndProbe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a worker per pool and a master")
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	c := renderCluster(t, "base")
	mctr := &c.deployment("master").Spec.Template.Spec.Containers[0]
	bin := fileconvOnPath(t)
	hc := healthcheckCommand(t)
	addr := func(host string, port int) string { return fmt.Sprintf("%s:%d", host, port) }

	var workers []process
	var jobAddrs []string
	for _, w := range c.workers() {
		wctr := &w.Spec.Template.Spec.Containers[0]
		wJobs, wAdmin := freePort(t), freePort(t)
		override := map[string]string{
			"FILECONV_LISTEN": addr("127.0.0.1", wJobs),
			"FILECONV_ADMIN":  addr("127.0.0.1", wAdmin),
		}
		// Every other setting of the pool is the manifest's, so the binary
		// parses its LibreOffice and Chromium settings too; but the engines
		// themselves are not started here (internal/office and
		// internal/htmlpdf test them): seconds of CPU for nothing this test
		// checks.
		if fams := engines(wctr); runs(fams, "office") || runs(fams, "html") {
			override["FILECONV_ENGINES"] = "images,pdf"
		}
		named := *wctr // its log lines say which pool
		named.Name = w.Name
		cmd := start(t, bin, &named, override)
		probe(t, wctr.LivenessProbe, wAdmin, 200)
		probe(t, wctr.ReadinessProbe, wAdmin, 200)
		workers = append(workers, process{w.Name, cmd, wAdmin, wctr})
		jobAddrs = append(jobAddrs, addr("127.0.0.1", wJobs))
	}
	if len(workers) == 0 {
		t.Fatal("no worker Deployment")
	}
	mFront, mAdmin := freePort(t), freePort(t)
	master := start(t, bin, mctr, map[string]string{
		"FILECONV_LISTEN":  addr("127.0.0.1", mFront),
		"FILECONV_ADMIN":   addr("127.0.0.1", mAdmin),
		"FILECONV_WORKERS": strings.Join(jobAddrs, ","),
		"FILECONV_TOKENS":  "manifest-test-token",
	})
	probe(t, mctr.LivenessProbe, mAdmin, 200)
	// Ready once the master has found a worker healthy.
	probe(t, mctr.ReadinessProbe, mAdmin, 200)

	// The HEALTHCHECK takes the port from FILECONV_ADMIN as the manifests set it
	// (0.0.0.0:port), or tries the default ports.
	for _, w := range workers {
		if !healthcheck(t, bin, hc, addr("0.0.0.0", w.admin)) {
			t.Errorf("HEALTHCHECK fails against a running worker (%s)", w.name)
		}
	}
	if !healthcheck(t, bin, hc, addr("0.0.0.0", mAdmin)) {
		t.Error("HEALTHCHECK fails against a running master")
	}
	if !healthcheck(t, bin, hc, "off") {
		t.Error("HEALTHCHECK fails with the admin listener off")
	}

	for _, p := range append([]process{{"master", master, mAdmin, mctr}}, workers...) {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s after SIGTERM: %v", p.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still running 10 s after SIGTERM with no job in flight", p.name)
		}
		if healthcheck(t, bin, hc, addr("0.0.0.0", p.admin)) {
			t.Errorf("HEALTHCHECK passes with the %s gone", p.name)
		}
	}
}
