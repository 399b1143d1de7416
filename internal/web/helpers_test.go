package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/worker"
)

const (
	masterToken = "web-tier-token-for-the-master"
	callerToken = "caller-token-0123456789"
)

// stack is a master, its workers (real mutual TLS on loopback) and a web tier
// in front of them, served by httptest.
type stack struct {
	web    *Server
	srv    *httptest.Server
	master *master.Master
	logs   *syncBuffer
}

type stackOptions struct {
	workers int
	web     func(*Config)
	master  func(*master.Config)
	// deadMaster leaves the master's address closed.
	deadMaster bool
}

func startStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	dir := t.TempDir()
	if err := tlsconf.GenerateDevPKI(dir, tlsconf.PKIOptions{}); err != nil {
		t.Fatal(err)
	}
	p := tlsconf.Paths(dir)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	workerTLS, err := tlsconf.ServerConfig(p.WorkerCert, p.WorkerKey, p.CA)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i := range max(opts.workers, 1) {
		w, err := worker.New(worker.Config{TLS: workerTLS, Concurrency: 2, Logger: log.With("tier", "worker", "worker", i)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		wg.Go(func() { w.Serve(ctx, ctx, ln) })
	}
	front, err := tlsconf.ServerConfig(p.MasterCert, p.MasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	toWorkers, err := tlsconf.ClientConfig(p.CA, p.MasterCert, p.MasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := master.ParseTokens(strings.NewReader(masterToken))
	if err != nil {
		t.Fatal(err)
	}
	mcfg := master.Config{TLS: front, WorkerTLS: toWorkers, Workers: addrs, Tokens: tokens, Logger: log.With("tier", "master")}
	if opts.master != nil {
		opts.master(&mcfg)
	}
	m, err := master.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	masterAddr := ln.Addr().String()
	if opts.deadMaster {
		ln.Close()
	} else {
		wg.Go(func() { m.Serve(ctx, ctx, ln) })
	}
	clientTLS, err := tlsconf.ClientConfig(p.CA, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Addr: masterAddr, Token: masterToken, TLSConfig: clientTLS, MaxRetries: 1, RetryBackoff: 10 * time.Millisecond, MaxIdleConns: 8}
	t.Cleanup(func() { c.Close() })
	callers, err := master.ParseTokens(strings.NewReader(callerToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Client: c, Tokens: callers, Logger: log.With("tier", "web"),
		MasterStatus: func(context.Context) (any, error) { return m.Status(), nil },
	}
	if opts.web != nil {
		opts.web(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	if !opts.deadMaster {
		waitReady(t, m)
	}
	return &stack{web: s, srv: srv, master: m, logs: logs}
}

// waitReady waits for the master's first health probes, so that the first
// request does not race them.
func waitReady(t testing.TB, m *master.Master) {
	deadline := time.Now().Add(10 * time.Second)
	for m.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("master not ready: %v", m.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// post sends body to path with the caller's token unless the header map says
// otherwise.
func (s *stack) post(t testing.TB, path, contentType string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+callerToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (s *stack) get(t testing.TB, path string, auth bool) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+callerToken)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func pngFile(t testing.TB, w, h int) []byte {
	t.Helper()
	b, err := testfiles.Encode(testfiles.Photo(w, h), testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
