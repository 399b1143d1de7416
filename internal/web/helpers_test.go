package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/testcluster"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/engines"
	"github.com/fileconv/fileconv/internal/htmlpdf"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/office"
	"github.com/fileconv/fileconv/internal/testfiles"
)

const callerToken = "caller-token-0123456789"

// stack is a master, its workers (real mutual TLS on loopback) and a web tier
// in front of them, served by httptest.
type stack struct {
	web    *Server
	srv    *httptest.Server
	master *master.Master
	logs   *testcluster.LogBuffer
}

type stackOptions struct {
	workers int
	web     func(*Config)
	master  func(*master.Config)
	// deadMaster leaves the master's address closed.
	deadMaster bool
	// engines are the families of engines ("office", "html") the first
	// worker runs. LibreOffice takes seconds to start, so only the tests
	// that convert office documents ask for it.
	engines []string
}

func startStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	if len(opts.engines) > 0 {
		needEngines(t, opts.engines)
	}
	cl := testcluster.Start(t, testcluster.Options{Workers: max(opts.workers, 1), Master: opts.master, DeadMaster: opts.deadMaster})
	if len(opts.engines) > 0 {
		startEngines(t, cl, opts.engines)
	}
	c := &client.Client{Addr: cl.Addr, Token: testcluster.Token, TLSConfig: cl.ClientTLS, MaxRetries: 1, RetryBackoff: 10 * time.Millisecond, MaxIdleConns: 8}
	t.Cleanup(func() { c.Close() })
	callers, err := master.ParseTokens(strings.NewReader(callerToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := cl.Master
	cfg := Config{
		Client: c, Tokens: callers, Logger: slog.New(slog.NewTextHandler(cl.Logs, nil)).With("tier", "web"),
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
		cl.WaitReady(t)
		waitOffered(t, s)
	}
	return &stack{web: s, srv: srv, master: m, logs: cl.Logs}
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

// waitOffered waits until the web tier knows what the workers announce, so
// that what it offers does not depend on when a test asks; there is nothing
// to wait for when it cannot have the master's status.
func waitOffered(t testing.TB, s *Server) {
	t.Helper()
	if _, problem := s.masterStatus(context.Background()); problem != "" {
		return // no status to learn it from: the registry stands
	}
	for deadline := time.Now().Add(10 * time.Second); s.offered.get(context.Background()) == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the workers' conversions are not known after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// needEngines skips the test when an engine of families is not installed,
// before anything starts.
func needEngines(t testing.TB, families []string) {
	t.Helper()
	if slices.Contains(families, "office") {
		if err := office.Available(); err != nil {
			t.Skipf("skipped: this test converts office documents and LibreOffice is not installed here (/usr/lib/libreoffice/program; make test-deps installs it): %v", err)
		}
	}
	if slices.Contains(families, "html") {
		if err := htmlpdf.Available(); err != nil {
			t.Skipf("skipped: this test converts Markdown and Chromium is not installed here (make test-deps installs it): %v", err)
		}
	}
}

// startEngines gives the cluster's first worker the engines of families,
// one LibreOffice process and one Chromium tab, as fileconv up would.
func startEngines(t testing.TB, cl *testcluster.Cluster, families []string) {
	t.Helper()
	e := engines.Start(engines.Config{
		Families: families, BrowserTabs: 1, Office: office.Config{Processes: 1},
		Logger: slog.New(slog.NewTextHandler(cl.Logs, nil)).With("tier", "engines"),
	})
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Logf("stop the engines: %v", err)
		}
	})
	e.Attach(cl.Servers[0].Converter())
}

// waitConverts waits until some worker announces each conversion of pairs
// (from, to, from, to...) to the web tier: engines announce theirs once
// their self-test passes, seconds after the worker starts.
func waitConverts(t testing.TB, s *stack, pairs ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // engines.selfTestTimeout, and a probe
	for i := 0; i < len(pairs); i += 2 {
		from, to := convert.Kind(pairs[i]), pairs[i+1]
		for !s.web.offered.get(context.Background()).Can(from, to) {
			if time.Now().After(deadline) {
				t.Fatalf("no worker converts %s to %s after 3 minutes; logs:\n%s", from, to, s.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
