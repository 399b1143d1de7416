package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/testfiles"
)

// The images make image builds.
const (
	smallImage = "localhost/fileconv-small:latest"
	fullImage  = "localhost/fileconv-full:latest"
)

// TestContainers runs the cluster as containers of the images make image
// builds, on a container network: a master and a small worker from the small
// image, a full worker from the full one, mutual TLS with certificates from
// fileconv certs. An image, a DOCX and a PDF convert through the master's
// published port; with the full worker killed, DOCX gets a clear error while
// images still convert; started again, it converts DOCX again.
func TestContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two images and starts containers: minutes")
	}
	pod := containerEngine(t)
	needSharedDOCX(t)
	buildImages(t)
	dir := t.TempDir()
	id := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)
	clusterFiles(t, dir, "fc-master-"+id, "fc-small-"+id, "fc-full-"+id)
	// The containers run as user 65532, which must read the keys.
	if err := exec.Command("chown", "-R", "65532:65532", dir).Run(); err != nil {
		t.Fatal(err)
	}
	network := "fileconv-e2e-" + id
	pod.must(t, "network", "create", network)
	t.Cleanup(func() { pod.run("network", "rm", "-f", network) })
	addr := freeAddr(t)
	small := container{name: "fc-small-" + id, image: smallImage}
	full := container{name: "fc-full-" + id, image: fullImage, flags: []string{"--shm-size", "256m"}}
	master := container{name: "fc-master-" + id, image: smallImage, flags: []string{"-p", addr + ":5000"}}
	small.start(t, pod, network, dir, workerInContainer("--engines", "images,pdf")...)
	full.start(t, pod, network, dir, workerInContainer()...)
	master.start(t, pod, network, dir, "master", "--listen", ":5000", "--workers", small.name+":6000,"+full.name+":6000",
		"--token-file", "/conf/tokens", "--cert", "/conf/pki/master.pem", "--key", "/conf/pki/master-key.pem",
		"--ca", "/conf/pki/ca.pem", "--admin", "off", "--health-interval", "1s")
	files := containerInputs(t, dir)
	for _, f := range []string{"photo.jpg", "report.docx", "paper.pdf"} {
		to := map[string]string{"photo.jpg": "png", "report.docx": "pdf", "paper.pdf": "txt"}[f]
		waitConverts(t, dir, addr, f, to, 90*time.Second)
	}
	pod.must(t, "kill", full.name)
	waitFails(t, dir, addr, "report.docx", "pdf", 30*time.Second)
	if out, code := sendTo(t, dir, addr, files["photo.jpg"], "png"); code != 0 {
		t.Fatalf("an image with the full worker down: exit %d: %s", code, out)
	}
	pod.must(t, "start", full.name)
	waitConverts(t, dir, addr, "report.docx", "pdf", 90*time.Second)
}

// engine runs a container engine's commands, with env added to theirs.
type engine struct{ argv, env []string }

func (e engine) run(args ...string) (string, error) {
	cmd := exec.Command(e.argv[0], append(e.argv[1:], args...)...)
	cmd.Env = append(os.Environ(), e.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e engine) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.run(args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(e.argv, " "), strings.Join(args, " "), err, out)
	}
	return out
}

// containerEngine is podman as root, or the test is skipped saying why.
func containerEngine(t *testing.T) engine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the containers test runs as root (podman's networks and runc): run go test as root")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("no podman: make image-deps installs it, and this test then runs")
	}
	// runc: this machine's crun refuses its hybrid cgroups (Makefile, image);
	// the lowered limits for every container, which kube play takes from
	// containers.conf only.
	conf := filepath.Join(t.TempDir(), "containers.conf")
	settings := "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n"
	if err := os.WriteFile(conf, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	e := engine{argv: []string{"podman"}, env: []string{"CONTAINERS_CONF=" + conf}}
	if out, err := e.run("info"); err != nil {
		t.Skipf("podman does not run here: %v\n%s", err, out)
	}
	return e
}

// buildImages runs make image with podman: layers already built are reused.
func buildImages(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "image", "DOCKER=podman")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image DOCKER=podman: %v\n%s", err, lastLines(string(out), 40))
	}
}

func workerInContainer(extra ...string) []string {
	return append([]string{"worker", "--listen", ":6000", "--cert", "/conf/pki/worker.pem", "--key", "/conf/pki/worker-key.pem",
		"--ca", "/conf/pki/ca.pem", "--admin", "off"}, extra...)
}

// container is one container of the test's cluster.
type container struct {
	name, image string
	flags       []string // podman run's, before the image
}

// start starts c on network, with conf (the certificates and tokens) at
// /conf; a failed test logs its output, and the test's end removes it.
func (c container) start(t *testing.T, e engine, network, conf string, args ...string) {
	t.Helper()
	runArgs := append([]string{"run", "-d", "--name", c.name, "--network", network, "-v", conf + ":/conf:ro"}, c.flags...)
	runArgs = append(runArgs, c.image)
	e.must(t, append(runArgs, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := e.run("logs", c.name)
			t.Logf("container %s:\n%s", c.name, lastLines(logs, 60))
		}
		e.run("rm", "-f", c.name)
	})
}

// containerDOCX is the DOCX the containers convert, from the shared files.
const containerDOCX = "python-docx-par-known-paragraphs.docx"

// needSharedDOCX skips the test, before any image is built, when the shared
// office documents are not beside the repository.
func needSharedDOCX(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(sharedOffice, containerDOCX)); err != nil {
		t.Skip("no ../shared/testdata/office beside the repository")
	}
}

// containerInputs writes the test's inputs into dir.
func containerInputs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	photo, err := testfiles.ImageOfSize(testfiles.JPEG, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := testfiles.TextPDF("A page of text to read back.", "And a second one.")
	if err != nil {
		t.Fatal(err)
	}
	docx, err := os.ReadFile(filepath.Join(sharedOffice, containerDOCX))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"photo.jpg": photo, "paper.pdf": pdf, "report.docx": docx}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// sendTo converts input to target through the master at addr with the CLI,
// and returns its output and exit code.
func sendTo(t *testing.T, dir, addr string, input []byte, target string) (string, int) {
	t.Helper()
	name := fmt.Sprintf("in-%d", time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, name), input, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "send", "--addr", addr, "--ca", "pki/ca.pem", "--server-name", "localhost",
		"--token", clusterToken, "--to", target, "--force", "-o", "out", name)
	return out + errOut, code
}

// waitConverts sends file until it converts, or fails the test after within.
func waitConverts(t *testing.T, dir, addr, file, target string, within time.Duration) {
	t.Helper()
	input, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var out string
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(time.Second) {
		var code int
		if out, code = sendTo(t, dir, addr, input, target); code == 0 {
			return
		}
	}
	t.Fatalf("%s to %s did not convert within %v: %s", file, target, within, out)
}

// waitFails sends file until the master refuses it, which must say why in
// words, or fails the test after within.
func waitFails(t *testing.T, dir, addr, file, target string, within time.Duration) {
	t.Helper()
	input, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(time.Second) {
		out, code := sendTo(t, dir, addr, input, target)
		if code == 0 {
			continue
		}
		if !bytes.Contains([]byte(out), []byte("DOCX")) {
			t.Errorf("the error does not name the document's kind: %s", out)
		}
		t.Logf("with the full worker down: %s", strings.TrimSpace(out))
		return
	}
	t.Fatalf("%s to %s still converts %v after the full worker was killed", file, target, within)
}
