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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/wire"
	"github.com/fileconv/fileconv/internal/worker"
)

// startWorker runs a worker with mutual TLS on loopback and returns its address,
// a client configuration holding the master's certificate, and a stop function.
func startWorker(t *testing.T) (string, *tls.Config, *worker.Server, context.CancelFunc) {
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
	w, err := worker.New(worker.Config{TLS: serverTLS, Concurrency: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	conn, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("hello, worker")
	h := wire.NewHeader("", "a.txt", wire.OpTextToPDF, body)
	hdr := h.Encode()
	conn.Write(append(hdr[:], body...))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	size, err := wire.ReadResponseSize(conn)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, size)
	io.ReadFull(conn, out)
	conn.Close()
	if !bytes.HasPrefix(out, []byte("%PDF")) {
		t.Errorf("v1.0 answer starts %q", out[:min(len(out), 10)])
	}

	// v2: two requests and a ping on one connection, sent before reading.
	conn, err = tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	conn.Write([]byte(wire.Version20))
	for _, b := range [][]byte{body, []byte("%PDF-1.4 not really")} {
		op := wire.OpTextToPDF
		if bytes.HasPrefix(b, []byte("%PDF")) {
			op = wire.OpToPNG
		}
		wire.WriteConvert(conn, wire.ConvertRequest{Token: wire.RelayJobPrefix + "abc", Op: op, Name: "x", Size: uint64(len(b)), SHA256: sha256.Sum256(b)})
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
	if e, _ := wire.DecodeErrorResponse(f); e.Code != wire.CodeTypeMismatch || !strings.Contains(e.Message, "PDF detected") {
		t.Errorf("ERROR %+v", e)
	}
	if f, err = wire.ReadFrameHeader(conn, 0); err != nil || f.Type != wire.FramePong {
		t.Fatalf("third v2 answer %v %v", f.Type, err)
	}
}

func TestWorkerProbeAndDraining(t *testing.T) {
	addr, clientTLS, w, stop := startWorker(t)
	probe := func() (wire.WorkerStatus, error) {
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
	st, err := probe()
	if err != nil || st.Capacity != 1 || st.Draining {
		t.Fatalf("probe: %+v %v", st, err)
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
