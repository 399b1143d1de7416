package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestKubePlay runs the dev overlay, as kustomize renders it, with podman
// kube play: its Deployments become pods of the images make image builds,
// every pod's /readyz answers, and a photo and a DOCX (the office pool's)
// convert through the master's port.
// podman 4.3 runs Deployments but no Service, autoscaler, disruption budget,
// network policy or cert-manager object (the strict manifest test checks
// those), and mounts no Kubernetes Secret (it crashes on them): the test
// gives the pods what cert-manager and the Secrets would, certificates from
// fileconv certs and the token, as folders, names the workers' pods where
// the master would look the workers' Service up, leaves out the HTTP
// probes, which podman runs with curl, a program the images do not have (it
// asks /readyz itself), and the ports, which podman 4.3 publishes on the
// host; an emptyDir in memory is a folder of the host's /dev/shm. Chromium
// fails its self-test under the pods' security context (all capabilities
// dropped: its sandbox cannot chroot), as docs/operations.md says of such
// clusters; the office pool serves office documents without it.
func TestKubePlay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two images and starts pods: minutes")
	}
	pod := containerEngine(t)
	needSharedDOCX(t)
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("no kubectl: it renders the overlay (kubectl kustomize)")
	}
	buildImages(t)
	for _, variant := range []string{"small", "full"} {
		pod.must(t, "tag", "localhost/fileconv-"+variant+":latest", "ghcr.io/fileconv/fileconv-"+variant+":dev")
	}
	dir := t.TempDir()
	masterPod, workerPods := "fileconv-master-pod-0", []string{"fileconv-worker-pod-0", "fileconv-worker-office-pod-0"}
	clusterFiles(t, dir, append([]string{masterPod}, workerPods...)...)
	secrets := secretFolders(t, dir)
	rendered, err := exec.Command("kubectl", "kustomize", filepath.Join("..", "..", "deploy", "kubernetes", "overlays", "dev")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize overlays/dev: %v", err)
	}
	played := playable(t, rendered, secrets, workerPods)
	file := filepath.Join(dir, "dev.yaml")
	if err := os.WriteFile(file, played, 0o644); err != nil {
		t.Fatal(err)
	}
	network := fmt.Sprintf("fileconv-kube-%d", time.Now().UnixNano()%1_000_000)
	pod.must(t, "network", "create", network)
	t.Cleanup(func() { pod.run("network", "rm", "-f", network) })
	pod.must(t, "kube", "play", "--network", network, file)
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range append([]string{masterPod}, workerPods...) {
				logs, _ := pod.run("pod", "logs", name)
				t.Logf("pod %s:\n%s", name, lastLines(logs, 40))
			}
		}
		pod.run("kube", "down", file)
	})
	// Ready as the readiness probes would see it: each pod's admin /readyz.
	ip := podIP(t, pod, masterPod+"-master")
	for _, w := range workerPods {
		waitReady(t, "http://"+podIP(t, pod, w+"-worker")+":9091/readyz", 90*time.Second)
	}
	waitReady(t, "http://"+ip+":9090/readyz", 90*time.Second)
	containerInputs(t, dir)
	for file, to := range map[string]string{"photo.jpg": "png", "report.docx": "pdf"} {
		var out string
		for end := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
			o, errOut, code := run(t, dir, "send", "--addr", ip+":5000", "--ca", "pki/ca.pem", "--server-name", masterPod,
				"--token", clusterToken, "--to", to, "--force", "-o", "out", file)
			if out = o + errOut; code == 0 {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("%s did not convert to %s through the master's port within a minute: %s", file, to, out)
			}
		}
	}
}

// podIP is the address of a kube play pod's container on its network.
func podIP(t *testing.T, e engine, container string) string {
	t.Helper()
	return strings.TrimSpace(e.must(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container))
}

// secretFolders writes what the overlay's Secrets hold into folders the
// pods mount: the master's and the workers' certificates as cert-manager
// writes them (tls.crt, tls.key, ca.crt), and the tokens.
func secretFolders(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]map[string]string{
		"fileconv-master-tls": {"tls.crt": "pki/master.pem", "tls.key": "pki/master-key.pem", "ca.crt": "pki/ca.pem"},
		"fileconv-worker-tls": {"tls.crt": "pki/worker.pem", "tls.key": "pki/worker-key.pem", "ca.crt": "pki/ca.pem"},
		"fileconv-tokens":     {"tokens": "tokens"},
	}
	folders := map[string]string{}
	for secret, keys := range files {
		folder := filepath.Join(dir, "secrets", secret)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		for key, from := range keys {
			b, err := os.ReadFile(filepath.Join(dir, from))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, key), b, 0o400); err != nil {
				t.Fatal(err)
			}
		}
		folders[secret] = folder
	}
	// The pods run as user 65532, which must read the keys.
	if out, err := exec.Command("chown", "-R", "65532:65532", filepath.Join(dir, "secrets")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	return folders
}

// playable keeps the rendered overlay's Deployments, one replica each, with
// the Secrets' folders for their secret volumes, the workers' pods for the
// master's FILECONV_WORKERS, and no HTTP probes or ports.
func playable(t *testing.T, rendered []byte, secrets map[string]string, workerPods []string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, doc := range bytes.Split(rendered, []byte("\n---\n")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		if head.Kind != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(doc, &d); err != nil {
			t.Fatal(err)
		}
		one := int32(1)
		d.Spec.Replicas = &one
		spec := &d.Spec.Template.Spec
		for i, v := range spec.Volumes {
			switch {
			case v.Secret != nil:
				spec.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: secrets[v.Secret.SecretName]}}
			case v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory:
				spec.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: memoryFolder(t, d.Name+"-"+v.Name)}}
			}
		}
		for i := range spec.Containers {
			c := &spec.Containers[i]
			c.LivenessProbe, c.ReadinessProbe, c.StartupProbe = nil, nil, nil
			// podman 4.3 publishes every containerPort on the host: two
			// workers would want 6000. The pods reach each other on the
			// network, and the test the master at its address there.
			c.Ports = nil
			for j, e := range c.Env {
				if e.Name == "FILECONV_WORKERS" {
					c.Env[j].Value = strings.Join(workerPods, ":6000,") + ":6000"
				}
			}
		}
		b, err := yaml.Marshal(&d)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes()
}

// memoryFolder is a folder on the host's /dev/shm (tmpfs) for an emptyDir of
// medium Memory, which podman 4.3 makes on disk: the office pool's LibreOffice
// rightly refuses a /dev/shm that is not in memory. The test removes it.
func memoryFolder(t *testing.T, name string) string {
	t.Helper()
	folder := filepath.Join("/dev/shm", fmt.Sprintf("fileconv-kube-%d-%s", os.Getpid(), name))
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(folder) })
	if err := os.Chown(folder, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	return folder
}

// waitReady polls url until it answers 200, or fails the test after within.
func waitReady(t *testing.T, url string, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second}
	var last string
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(time.Second) {
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Fatalf("%s did not answer 200 within %v: %s", url, within, last)
}
