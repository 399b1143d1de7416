// Package admin is the admin HTTP listener of the master and the worker:
// liveness (/healthz), readiness (/readyz), Prometheus metrics (/metrics) and,
// on the master, a JSON view of the cluster (/status).
//
// It is plain HTTP on purpose, meant for loopback (the default) or a
// cluster-internal network that only the monitoring system reaches. That is
// safe because it exposes no secrets (no tokens, keys, file names or client
// addresses: metric labels are fixed small sets, and the status view shows
// workers, not jobs) and accepts no input (GET only, no query parameters
// read, no request bodies). It still must not face the internet: metrics and
// the status view describe the cluster's load and layout.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures the admin listener.
type Config struct {
	// Addr is the host:port to listen on, e.g. 127.0.0.1:9090; required. The
	// caller decides defaults.
	Addr string
	// Gatherer provides /metrics; required.
	Gatherer prometheus.Gatherer
	// Ready reports readiness: nil means ready; an error's text is the /readyz
	// body, with status 503. A nil Ready means always ready.
	Ready func() error
	// Status, when set, returns the value served as JSON at /status;
	// otherwise /status is 404.
	Status func() any
	// Logger receives listener and scrape errors; default slog.Default().
	Logger *slog.Logger
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	if c.Addr == "" {
		return errors.New("admin: no listen address: give --admin host:port")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("admin: address %q: %w (want host:port)", c.Addr, err)
	}
	if c.Gatherer == nil {
		return errors.New("admin: no metrics gatherer")
	}
	return nil
}

// Timeouts of the HTTP server. Requests are tiny GETs, so the read limits are
// short to shed slow or idle clients; the write limit leaves room for a
// /metrics scrape, which promhttp itself bounds with scrapeTimeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	scrapeTimeout     = 20 * time.Second
	maxHeaderBytes    = 16 << 10
	// shutdownTimeout bounds Serve's graceful stop so that a stuck scrape
	// cannot hold up the process exit.
	shutdownTimeout = 5 * time.Second
	// maxScrapes caps concurrent /metrics requests: gathering is the only
	// costly thing here, and a misconfigured scraper should not load the host.
	maxScrapes = 4
)

// Server is a configured admin listener.
type Server struct {
	cfg     Config
	log     *slog.Logger
	handler http.Handler
}

// New validates cfg and builds the handlers.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}

	// Method-qualified patterns give 405 (with Allow) for other methods and
	// 404 for unknown paths without any code here. GET also matches HEAD.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelError),
		// A broken collector should cost its own series, not the whole scrape.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
		Timeout:             scrapeTimeout,
	}))
	if cfg.Status != nil {
		mux.HandleFunc("GET /status", s.status)
	}
	s.handler = mux
	return s, nil
}

// Handler returns the admin endpoints, for tests and for callers that run
// their own http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on Config.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve answers on ln until ctx is done, then shuts down gracefully for at
// most 5 seconds and closes what is left. It closes ln and returns nil after
// a shutdown caused by ctx, or the listener's error otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Handlers read nothing from ctx, but cancelling request contexts on
		// shutdown lets a slow scrape stop early.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("admin listening", "addr", ln.Addr().String(), "endpoints", "/healthz /readyz /metrics /status")

	select {
	case err := <-errc:
		// The listener failed on its own; ctx is still live.
		return fmt.Errorf("admin: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("admin: graceful shutdown timed out; closing connections", "err", err)
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, err.Error()+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	// Marshal before writing so that an error still yields a clean 500
	// rather than a 200 with half a document.
	body, err := json.MarshalIndent(s.cfg.Status(), "", "  ")
	if err != nil {
		s.log.Error("admin: encode /status", "err", err)
		writeText(w, http.StatusInternalServerError, "cannot encode status\n")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}

func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	// Probes must see the current state, never a cached one.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
