package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/master"
)

//go:embed static
var staticFiles embed.FS

// Server serves the page and the API. Create it with New.
type Server struct {
	cfg     Config
	tokens  master.LiveTokens
	mem     *budget
	clients *perClient
	stats   *stats
	offered *offered
	mux     *http.ServeMux
	static  http.Handler
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		mem:     &budget{max: cfg.MaxMemoryBytes},
		clients: &perClient{max: cfg.MaxPerClient, n: map[string]int{}},
		stats:   newStats(cfg.ThroughputWindow),
		mux:     http.NewServeMux(),
		static:  http.FileServerFS(sub),
	}
	s.offered = &offered{fetch: func(ctx context.Context) (any, string) {
		ctx, cancel := context.WithTimeout(ctx, DefaultStatusTimeout)
		defer cancel()
		return s.masterStatus(ctx)
	}}
	if !cfg.Open {
		if err := s.tokens.Replace(cfg.Tokens); err != nil {
			return nil, fmt.Errorf("web: callers: %w", err)
		}
	}
	s.mux.HandleFunc("POST /api/v1/convert", s.auth(s.handleConvert))
	s.mux.HandleFunc("GET /api/v1/status", s.auth(s.handleStatus))
	s.mux.HandleFunc("GET /api/v1/formats", s.handleFormats)
	s.mux.HandleFunc("POST /api/v1/detect", s.handleDetect)
	s.mux.HandleFunc("GET /api/v1/openapi.json", s.handleOpenAPI)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError{status: http.StatusNotFound, Code: codeNotFound,
			Message: r.Method + " " + r.URL.Path + " is not an endpoint: see /api/v1/openapi.json"})
	})
	s.mux.HandleFunc("GET /{$}", s.handleStatic)
	s.mux.HandleFunc("GET /app.js", s.handleStatic)
	s.mux.HandleFunc("GET /style.css", s.handleStatic)
	s.mux.HandleFunc("GET /favicon.svg", s.handleStatic)
	return s, nil
}

// Handler returns the HTTP handler: the page, its assets and the API, with the
// security headers and checks every response gets.
func (s *Server) Handler() http.Handler { return s.secure(s.mux) }

// Serve answers HTTP on ln until ctx ends, then lets requests in flight finish
// until hardStop ends.
func (s *Server) Serve(ctx, hardStop context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: DefaultReadHeaderTimout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err := srv.Shutdown(hardStop)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		err = nil
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// contentSecurityPolicy allows the page's own files only: no inline script or
// style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secure sets the security headers and refuses cross-site state changes and,
// in Open mode, requests for a host that is not loopback (DNS rebinding).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if s.cfg.Open && !s.cfg.OpenAnyHost && !loopbackHost(r.Host) {
			writeError(w, apiError{status: http.StatusForbidden, Code: codeForbidden,
				Message: "this server runs --open for loopback only: use http://127.0.0.1 or http://localhost, not " + r.Host})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if msg := crossSite(r); msg != "" {
				writeError(w, apiError{status: http.StatusForbidden, Code: codeForbidden, Message: msg})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite explains why r comes from another site, or returns "". Programs
// (curl) send neither header; browsers send both on a cross-site POST.
func crossSite(r *http.Request) string {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return "cross-site request refused (Sec-Fetch-Site: " + site + ")"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return "cross-origin request refused (Origin " + origin + " is not this server)"
		}
	}
	return ""
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SetTokens replaces the tokens callers may present, for a reload (SIGHUP or a
// changed token file) without a restart; requests in flight are not affected.
func (s *Server) SetTokens(t master.Tokens) error {
	if err := s.tokens.Replace(t); err != nil {
		return fmt.Errorf("web: callers: %w", err)
	}
	return nil
}

// auth checks the caller's bearer token (unless Open) and passes on a key that
// names the caller for the per-client cap.
func (s *Server) auth(next func(w http.ResponseWriter, r *http.Request, caller string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Open {
			host, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				host = r.RemoteAddr
			}
			next(w, r, "addr:"+host)
			return
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fileconv"`)
			writeError(w, failure(fail.Unauthorized, "no token: send the header Authorization: Bearer <token>"))
			return
		}
		if !s.tokens.Match(token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fileconv", error="invalid_token"`)
			writeError(w, failure(fail.Unauthorized, "Invalid authentication token"))
			return
		}
		sum := sha256.Sum256([]byte(token))
		next(w, r, "token:"+hex.EncodeToString(sum[:8]))
	}
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	s.static.ServeHTTP(w, r)
}

// budget is a memory allowance shared by the requests in flight.
type budget struct {
	mu        sync.Mutex
	used, max int64
}

func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// perClient counts each caller's conversions in flight.
type perClient struct {
	mu  sync.Mutex
	max int
	n   map[string]int
}

func (p *perClient) acquire(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max > 0 && p.n[key] >= p.max {
		return false
	}
	p.n[key]++
	return true
}

func (p *perClient) release(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[key]--; p.n[key] <= 0 {
		delete(p.n, key)
	}
}

// stats keeps the outcomes of recent conversions for the status panel.
type stats struct {
	mu       sync.Mutex
	window   time.Duration
	inFlight int
	total    struct{ converted, failed int64 }
	recent   []event
	now      func() time.Time
}

type event struct {
	at                time.Time
	ok                bool
	bytesIn, bytesOut int64
	seconds           float64
}

func newStats(window time.Duration) *stats { return &stats{window: window, now: time.Now} }

func (s *stats) start() {
	s.mu.Lock()
	s.inFlight++
	s.mu.Unlock()
}

func (s *stats) finish(ok bool, in, out int64, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if ok {
		s.total.converted++
	} else {
		s.total.failed++
	}
	s.prune()
	if len(s.recent) < 100_000 {
		s.recent = append(s.recent, event{at: s.now(), ok: ok, bytesIn: in, bytesOut: out, seconds: d.Seconds()})
	}
}

func (s *stats) prune() {
	cut := s.now().Add(-s.window)
	i := 0
	for i < len(s.recent) && s.recent[i].at.Before(cut) {
		i++
	}
	s.recent = s.recent[i:]
}

// WebStatus is the web tier's part of /api/v1/status.
type WebStatus struct {
	InFlight       int          `json:"in_flight"`
	Converted      int64        `json:"converted"`
	Failed         int64        `json:"failed"`
	MemoryInUse    int64        `json:"memory_in_use_bytes"`
	MemoryLimit    int64        `json:"memory_limit_bytes"`
	MaxBodyBytes   int64        `json:"max_body_bytes"`
	MaxPerClient   int          `json:"max_per_client"`
	Recent         RecentStatus `json:"recent"`
	ReadTimeoutSec float64      `json:"read_timeout_seconds"`
}

// RecentStatus is the throughput over the last WindowSeconds.
type RecentStatus struct {
	WindowSeconds  float64 `json:"window_seconds"`
	Converted      int     `json:"converted"`
	Failed         int     `json:"failed"`
	BytesIn        int64   `json:"bytes_in"`
	BytesOut       int64   `json:"bytes_out"`
	FilesPerMinute float64 `json:"files_per_minute"`
	BytesPerSecond float64 `json:"bytes_in_per_second"`
	MeanSeconds    float64 `json:"mean_seconds"`
}

func (s *stats) snapshot() (inFlight int, converted, failed int64, r RecentStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	r.WindowSeconds = s.window.Seconds()
	var secs float64
	for _, e := range s.recent {
		if e.ok {
			r.Converted++
			secs += e.seconds
		} else {
			r.Failed++
		}
		r.BytesIn += e.bytesIn
		r.BytesOut += e.bytesOut
	}
	if r.Converted > 0 {
		r.MeanSeconds = secs / float64(r.Converted)
	}
	r.FilesPerMinute = float64(r.Converted) / s.window.Minutes()
	r.BytesPerSecond = float64(r.BytesIn) / s.window.Seconds()
	return s.inFlight, s.total.converted, s.total.failed, r
}

func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
