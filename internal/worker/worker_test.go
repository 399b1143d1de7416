package worker_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/wire"
	"github.com/fileconv/fileconv/internal/worker"
)

// startWorker runs a worker with mutual TLS on loopback and returns its address,
// a client configuration holding the master's certificate, and a stop function.
func startWorker(t *testing.T, configure ...func(*worker.Config)) (string, *tls.Config, *worker.Server, context.CancelFunc) {
	t.Helper()
	dir := t.TempDir()
	if err := tlsconf.GenerateDevPKI(dir, tlsconf.PKIOptions{}); err != nil {
		t.Fatal(err)
	}
	p := tlsconf.Paths(dir)
	serverTLS, err := tlsconf.ServerConfig(p.WorkerCert, p.WorkerKey, p.CA)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := tlsconf.ClientConfig(p.CA, p.MasterCert, p.MasterKey, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := worker.Config{TLS: serverTLS, Concurrency: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range configure {
		f(&cfg)
	}
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	hard, stopHard := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Serve(ctx, hard, ln) })
	t.Cleanup(func() {
		stop()
		stopHard()
		wg.Wait()
	})
	return ln.Addr().String(), clientTLS, w, stop
}

func TestWorkerSpeaksBothProtocols(t *testing.T) {
	addr, clientTLS, _, _ := startWorker(t)

	// v1.0, as the original system's master would send it.
	body := []byte("hello, worker")
	if out := v1Request(t, addr, clientTLS, wire.OpTextToPDF, body); !bytes.HasPrefix(out, []byte("%PDF")) {
		t.Errorf("v1.0 answer starts %q", out[:min(len(out), 10)])
	}
	// A v1.0 refusal keeps the original system's words, byte for byte.
	if out := v1Request(t, addr, clientTLS, wire.OpTextToPDF, []byte("%PDF-1.4 not really")); string(out) != "ERROR: PDF detected: use operation 1, 2, 3 or 5 (to JPEG, PNG, WEBP or TXT)" {
		t.Errorf("v1.0 type mismatch answered %q", out)
	}

	// v2: two requests and a ping on one connection, sent before reading.
	conn := dialV2(t, addr, clientTLS)
	for _, b := range [][]byte{body, []byte("%PDF-1.4 not really")} {
		target := "pdf"
		if bytes.HasPrefix(b, []byte("%PDF")) {
			target = "gif"
		}
		wire.WriteConvert(conn, wire.ConvertRequest{Token: wire.RelayJobPrefix + "abc", Target: target, Name: "x", Size: uint64(len(b)), SHA256: sha256.Sum256(b)})
		conn.Write(b)
	}
	wire.WritePing(conn, wire.Ping{ID: "p"})
	f, err := wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameResult {
		t.Fatalf("first v2 answer %v %v", f.Type, err)
	}
	res, _ := wire.DecodeResult(f)
	pdf := make([]byte, f.BodySize)
	io.ReadFull(conn, pdf)
	if res.JobID != "abc" || res.SHA256 != sha256.Sum256(pdf) || res.InputType != "text" || res.ContentType != "application/pdf" {
		t.Errorf("RESULT %+v", res)
	}
	f, err = wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameError {
		t.Fatalf("second v2 answer %v %v", f.Type, err)
	}
	// v2 names targets, not v1.0's operation numbers.
	if e, _ := wire.DecodeErrorResponse(f); e == nil || e.Code != fail.TypeMismatch || e.Message != "PDF: it converts to txt, png, jpg, webp, tiff, avif or pdf, not gif" || e.JobID != "abc" {
		t.Errorf("ERROR %+v", e)
	}
	if f, err = wire.ReadFrameHeader(conn, 0); err != nil || f.Type != wire.FramePong {
		t.Fatalf("third v2 answer %v %v", f.Type, err)
	}
}

// dialV2 opens a v2 connection to the worker, closed when the test ends.
func dialV2(t *testing.T, addr string, clientTLS *tls.Config) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte(wire.Version20))
	return conn
}

// v1Request sends one v1.0 request and returns the answer's body.
func v1Request(t *testing.T, addr string, clientTLS *tls.Config, op wire.Operation, body []byte) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := wire.NewHeader("", "a.bin", op, body)
	hdr := h.Encode()
	conn.Write(append(hdr[:], body...))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	size, err := wire.ReadResponseSize(conn)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(conn, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// probeWorker asks a worker for its status as the master's health probe does.
func probeWorker(addr string, clientTLS *tls.Config) (wire.WorkerStatus, error) {
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		return wire.WorkerStatus{}, err
	}
	defer conn.Close()
	hdr := wire.Header{Version: wire.Version10, Token: wire.ProbePrefix}.Encode()
	conn.Write(hdr[:])
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	size, err := wire.ReadResponseSize(conn)
	if err != nil {
		return wire.WorkerStatus{}, err
	}
	b := make([]byte, size)
	io.ReadFull(conn, b)
	var st wire.WorkerStatus
	return st, json.Unmarshal(b, &st)
}

// capsOf turns a converter's capabilities into a probe's form.
func capsOf(caps convert.Capabilities) map[string][]string {
	m := map[string][]string{}
	for kind, targets := range caps {
		m[string(kind)] = targets
	}
	return m
}

func TestWorkerProbeAndDraining(t *testing.T) {
	addr, clientTLS, w, stop := startWorker(t)
	probe := func() (wire.WorkerStatus, error) { return probeWorker(addr, clientTLS) }
	st, err := probe()
	if err != nil || st.Capacity != 1 || st.Draining {
		t.Fatalf("probe: %+v %v", st, err)
	}
	// The probe announces what the worker converts: here, every built-in conversion.
	if want := capsOf(allCapabilities(t)); !reflect.DeepEqual(st.Converts, want) {
		t.Errorf("probe announces %v, want %v", st.Converts, want)
	}
	if w.Ready() != nil {
		t.Errorf("Ready = %v before a stop", w.Ready())
	}
	stop()
	deadline := time.Now().Add(5 * time.Second)
	for w.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("still ready 5s after a stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The listener closes just after readiness flips, in its own goroutine.
	for {
		if _, err := probe(); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a stopped worker still accepts connections")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A worker with a conversion disabled neither announces it nor does it: a job
// that asks for it anyway gets unsupported_operation, and the others work.
func TestWorkerDisabledConversion(t *testing.T) {
	addr, clientTLS, _, _ := startWorker(t, func(cfg *worker.Config) { cfg.Convert.Disable = []string{"pdf-text"} })
	st, err := probeWorker(addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(st.Converts["pdf"], "txt") || len(st.Converts["text"]) == 0 || len(st.Converts["png"]) != len(allCapabilities(t)["png"]) {
		t.Errorf("a worker without pdf-text announces %v", st.Converts)
	}

	conn := dialV2(t, addr, clientTLS)
	for _, r := range []struct{ target, body string }{{"txt", "%PDF-1.4 not really"}, {"pdf", "some text"}} {
		b := []byte(r.body)
		wire.WriteConvert(conn, wire.ConvertRequest{Token: wire.RelayJobPrefix + "j", Target: r.target, Size: uint64(len(b)), SHA256: sha256.Sum256(b)})
		conn.Write(b)
	}
	f, err := wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameError {
		t.Fatalf("PDF to txt on a worker without it: %v %v", f.Type, err)
	}
	if e, _ := wire.DecodeErrorResponse(f); e == nil || e.Code != fail.UnsupportedOperation || !strings.Contains(e.Message, "does not convert PDF to txt") {
		t.Errorf("ERROR %+v", e)
	}
	// The refusal left the connection usable.
	if f, err = wire.ReadFrameHeader(conn, 0); err != nil || f.Type != wire.FrameResult {
		t.Fatalf("text to pdf after the refusal: %v %v", f.Type, err)
	}
}

// allCapabilities is what a worker with every built-in conversion announces.
func allCapabilities(t *testing.T) convert.Capabilities {
	c, err := convert.New(convert.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Capabilities()
}
