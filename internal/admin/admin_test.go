package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/metrics"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func get(t *testing.T, h http.Handler, method, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestValidate(t *testing.T) {
	reg := metrics.NewRegistry()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no addr", Config{Gatherer: reg}, "no listen address"},
		{"bad addr", Config{Addr: "localhost", Gatherer: reg}, "want host:port"},
		{"no gatherer", Config{Addr: "127.0.0.1:0"}, "no metrics gatherer"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New error = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(Config{Addr: "127.0.0.1:0", Gatherer: reg}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestEndpoints(t *testing.T) {
	reg := metrics.NewRegistry()
	m := metrics.NewMaster(reg)
	m.JobStarted("jpg")("ok", 2048, 1024)
	m.AuthFailed()
	m.SetWorker("w1:6000", true, 0, 4)

	var notReady atomic.Pointer[error]
	s, err := New(Config{
		Addr:     "127.0.0.1:0",
		Gatherer: reg,
		Ready: func() error {
			if p := notReady.Load(); p != nil {
				return *p
			}
			return nil
		},
		Status: func() any { return map[string]any{"workers": []string{"w1:6000"}} },
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()

	if code, body, _ := get(t, h, "GET", "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}

	if code, body, _ := get(t, h, "GET", "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz while ready = %d %q", code, body)
	}
	e := errors.New("no healthy worker")
	notReady.Store(&e)
	if code, body, _ := get(t, h, "GET", "/readyz"); code != 503 || body != "no healthy worker\n" {
		t.Errorf("/readyz while not ready = %d %q", code, body)
	}
	notReady.Store(nil)
	if code, _, _ := get(t, h, "GET", "/readyz"); code != 200 {
		t.Errorf("/readyz after recovery = %d, want 200", code)
	}

	code, body, _ := get(t, h, "GET", "/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`fileconv_master_jobs_total{op="jpg",outcome="ok"} 1`,
		"fileconv_master_auth_failures_total 1",
		`fileconv_master_worker_capacity{worker="w1:6000"} 4`,
		"fileconv_master_job_duration_seconds_bucket",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	code, body, hdr := get(t, h, "GET", "/status")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("/status = %d %s", code, hdr.Get("Content-Type"))
	}
	var st struct{ Workers []string }
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Workers) != 1 {
		t.Errorf("/status body %q: %v", body, err)
	}

	if code, _, hdr := get(t, h, "POST", "/healthz"); code != 405 || !strings.Contains(hdr.Get("Allow"), "GET") {
		t.Errorf("POST /healthz = %d Allow=%q, want 405 with Allow: GET", code, hdr.Get("Allow"))
	}
	if code, _, _ := get(t, h, "DELETE", "/metrics"); code != 405 {
		t.Errorf("DELETE /metrics = %d, want 405", code)
	}
	if code, _, _ := get(t, h, "HEAD", "/healthz"); code != 200 {
		t.Errorf("HEAD /healthz = %d, want 200", code)
	}
	for _, p := range []string{"/", "/nope", "/healthz/", "/debug/pprof/"} {
		if code, _, _ := get(t, h, "GET", p); code != 404 {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
}

func TestStatusOptionalAndReadyDefault(t *testing.T) {
	s, err := New(Config{Addr: "127.0.0.1:0", Gatherer: metrics.NewRegistry(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, s.Handler(), "GET", "/status"); code != 404 {
		t.Errorf("/status without Status = %d, want 404", code)
	}
	if code, _, _ := get(t, s.Handler(), "GET", "/readyz"); code != 200 {
		t.Errorf("/readyz without Ready = %d, want 200", code)
	}
}

func TestStatusEncodeError(t *testing.T) {
	s, err := New(Config{
		Addr: "127.0.0.1:0", Gatherer: metrics.NewRegistry(), Logger: quietLogger(),
		Status: func() any { return func() {} }, // functions cannot be JSON
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, s.Handler(), "GET", "/status"); code != 500 || strings.Contains(body, "{") {
		t.Errorf("/status with bad value = %d %q, want a clean 500", code, body)
	}
}

// settledGoroutines waits for goroutines to fall to at most want, since
// connection goroutines exit shortly after their connection closes.
func settledGoroutines(want int) int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newListening is an admin server and a loopback listener for it to serve.
func newListening(t *testing.T) (*Server, net.Listener) {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", Gatherer: metrics.NewRegistry(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return s, ln
}

func TestServeStopsOnCancel(t *testing.T) {
	before := runtime.NumGoroutine()

	s, ln := newListening(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	// A keep-alive client leaves an idle connection that Shutdown must close.
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, p := range []string{"/healthz", "/metrics"} {
		resp, err := client.Get("http://" + ln.Addr().String() + p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s over the network = %d", p, resp.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("Serve did not return within its 5 s shutdown bound")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepts after Serve returned")
	}

	tr.CloseIdleConnections()
	if n := settledGoroutines(before); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Serve returned\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	s, ln := newListening(t)
	ln.Close() // Serve's Accept fails at once
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve on a closed listener = %v, want net.ErrClosed wrapped", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return on a failed listener")
	}
}

func TestListenAndServe(t *testing.T) {
	// An address in use must fail with a clear, wrapped error.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := New(Config{Addr: busy.Addr().String(), Gatherer: metrics.NewRegistry(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "admin: listen on") {
		t.Errorf("ListenAndServe on a busy port = %v", err)
	}
}
