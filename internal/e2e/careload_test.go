package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A running master and worker move to a new CA without a restart, by the
// procedure of docs/security.md: the bundles gain the new CA, the certificates
// move to it, the old CA leaves the bundles. Conversions keep working at every
// step, the worker's health probes never fail, clients of the new CA are let in
// from the first step and those of the old one are shut out at the last; a broken
// bundle afterwards changes nothing.
func TestCARotationWithoutRestart(t *testing.T) {
	// The master's default: its probes' timeout is the interval, which a loaded
	// machine running the race detector needs.
	const probeEvery = 2 * time.Second
	dir := t.TempDir()
	for _, pki := range []string{"old", "new"} {
		if _, errOut, code := run(t, dir, "certs", "--dir", pki); code != 0 {
			t.Fatalf("certs --dir %s: exit %d: %s", pki, code, errOut)
		}
	}
	// The processes read live/; each step replaces its files as an operator
	// (or kubelet) would, through a rename.
	live := filepath.Join(dir, "live")
	if err := os.Mkdir(live, 0o700); err != nil {
		t.Fatal(err)
	}
	install := func(name string, from ...string) {
		t.Helper()
		var b []byte
		for _, f := range from {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, data...)
		}
		replaceFile(t, filepath.Join(live, name), b)
	}
	installCerts := func(pki string) {
		t.Helper()
		for _, f := range []string{"master.pem", "master-key.pem", "worker.pem", "worker-key.pem"} {
			install(f, pki+"/"+f)
		}
	}
	install("ca.pem", "old/ca.pem")
	installCerts("old")
	os.WriteFile(filepath.Join(dir, "tokens"), []byte("a-token\n"), 0o600)

	workerAddr := freeAddr(t)
	w := start(t, dir, "worker", "--listen", workerAddr, "--cert", "live/worker.pem", "--key", "live/worker-key.pem", "--ca", "live/ca.pem", "--admin", "off")
	waitListening(t, w, workerAddr)
	addr := freeAddr(t)
	m := start(t, dir, "master", "--listen", addr, "--workers", workerAddr, "--token-file", "tokens",
		"--cert", "live/master.pem", "--key", "live/master-key.pem", "--ca", "live/ca.pem", "--client-ca", "live/ca.pem",
		"--health-interval", probeEvery.String(), "--admin", "off")
	waitListening(t, m, addr)
	inputs(t, dir)

	// send converts a file as a client holding pki's client certificate and
	// verifying the master against caFile.
	send := func(caFile, pki string) (int, string) {
		_, errOut, code := run(t, dir, "send", "--addr", addr, "--ca", caFile, "--token", "a-token", "--cert", pki+"/client.pem", "--key", pki+"/client-key.pem",
			"--to", "pdf", "notes.txt", "--force", "--retries", "0")
		return code, errOut
	}
	converts := func(step, caFile, pki string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, errOut := send(caFile, pki)
			if code == 0 {
				return
			}
			// A probe timing out on a loaded machine ejects the worker for a
			// second; certificate errors are caught below, not waited out.
			if !strings.Contains(errOut, "no worker is available") || time.Now().After(deadline) {
				t.Fatalf("%s: a client of %s: exit %d: %s", step, pki, code, errOut)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	refused := func(step, caFile, pki string) {
		t.Helper()
		if code, errOut := send(caFile, pki); code != 1 || !strings.Contains(errOut, "certificate") {
			t.Fatalf("%s: a client of %s: exit %d, stderr %q; want its certificate refused", step, pki, code, errOut)
		}
	}
	// workerTakes reports whether the worker completes a handshake with a client
	// presenting pki's client certificate: the master's --ca check, seen directly.
	workerTakes := func(pki string) bool {
		t.Helper()
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, pki, "client.pem"), filepath.Join(dir, pki, "client-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		for _, ca := range []string{"old/ca.pem", "new/ca.pem"} {
			pem, _ := os.ReadFile(filepath.Join(dir, ca))
			roots.AppendCertsFromPEM(pem)
		}
		conn, err := tls.Dial("tcp", workerAddr, &tls.Config{
			MinVersion: tls.VersionTLS12, RootCAs: roots,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		})
		if err != nil {
			return false
		}
		defer conn.Close()
		// With TLS 1.3 the worker checks the certificate after the client's side
		// of the handshake is done: a refusal arrives as an alert, while an
		// accepted client hears nothing until it sends a job.
		conn.SetReadDeadline(time.Now().Add(time.Second))
		_, err = conn.Read(make([]byte, 1))
		return errors.Is(err, os.ErrDeadlineExceeded)
	}
	// reloaded waits until both processes have logged one more line holding
	// what than before; hup sends them SIGHUP first, else the files' change
	// must be noticed.
	reloaded := func(step, what string, hup bool, before func()) {
		t.Helper()
		n := map[*process]int{m: strings.Count(m.errs(), what), w: strings.Count(w.errs(), what)}
		before()
		if hup {
			m.cmd.Process.Signal(syscall.SIGHUP)
			w.cmd.Process.Signal(syscall.SIGHUP)
		}
		deadline := time.Now().Add(15 * time.Second)
		for strings.Count(m.errs(), what) <= n[m] || strings.Count(w.errs(), what) <= n[w] {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no %q logged by both tiers within 15s\nmaster:\n%s\nworker:\n%s", step, what, m.errs(), w.errs())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	const ok = "reloaded tokens and certificates"

	converts("before", "old/ca.pem", "old")
	refused("before", "old/ca.pem", "new")
	if !workerTakes("old") || workerTakes("new") {
		t.Fatal("before: the worker should take the old CA's certificates only")
	}

	// 1. Both CAs in the bundles, noticed as a file change.
	reloaded("old+new bundle", ok, false, func() { install("ca.pem", "old/ca.pem", "new/ca.pem") })
	converts("old+new bundle", "old/ca.pem", "old")
	converts("old+new bundle", "old/ca.pem", "new")
	if !workerTakes("old") || !workerTakes("new") {
		t.Fatal("old+new bundle: the worker should take both CAs' certificates")
	}

	// 2. Certificates from the new CA.
	// Written before the count is taken, so that a reload of a half-replaced
	// pair seen by the file watch is not mistaken for the one awaited.
	installCerts("new")
	reloaded("new certificates", ok, true, func() {})
	converts("new certificates", "new/ca.pem", "new")

	// 3. The old CA leaves the bundles. Full handshakes follow between master and
	// worker (neither resumes a session rooted in the old CA), so the probes
	// over the next intervals show both verify against the new CA.
	reloaded("new bundle", ok, true, func() { install("ca.pem", "new/ca.pem") })
	converts("new bundle", "new/ca.pem", "new")
	refused("new bundle", "new/ca.pem", "old")
	if workerTakes("old") || !workerTakes("new") {
		t.Fatal("new bundle: the worker should take the new CA's certificates only")
	}
	time.Sleep(2*probeEvery + probeEvery/2)
	converts("new bundle, after a few probes", "new/ca.pem", "new")

	// A broken bundle is logged and changes nothing.
	reloaded("broken bundle", "reload failed", true, func() {
		os.WriteFile(filepath.Join(dir, "garbage"), []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o600)
		install("ca.pem", "garbage")
	})
	converts("broken bundle", "new/ca.pem", "new")
	refused("broken bundle", "new/ca.pem", "old")
	if workerTakes("old") || !workerTakes("new") {
		t.Fatal("broken bundle: the worker should still take the new CA's certificates only")
	}

	for line := range strings.Lines(m.errs()) {
		if strings.Contains(line, "failed its health probe") && strings.Contains(line, "certificate") {
			t.Errorf("a health probe was refused during the rotation: %s", line)
		}
	}
	for _, p := range []*process{m, w} {
		if !strings.Contains(p.errs(), "live/ca.pem holds no PEM certificate") {
			t.Errorf("the failed reload does not name the bundle\n%s", p.errs())
		}
	}
	m.stop(t)
	w.stop(t)
}
