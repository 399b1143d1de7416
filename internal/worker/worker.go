// Package worker is the processing tier: a TLS server that reads one v1.0 request
// into memory, verifies its checksum, converts it with the convert package and
// answers with the converted file or an error. It never writes a file.
package worker

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/metrics"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// Config configures a worker. Zero durations and sizes mean their defaults.
type Config struct {
	// TLS is the listener's configuration. With ClientCAs and
	// RequireAndVerifyClientCert set, only masters holding a cluster certificate
	// may send jobs (mutual TLS).
	TLS *tls.Config
	// MaxBodyBytes is the largest body accepted. Default 256 MiB.
	MaxBodyBytes int64
	// Concurrency is how many conversions run at once; further jobs wait for a
	// slot. Default: one per core.
	Concurrency int
	// JobTimeout bounds one job from its header to its answer. Default 2 minutes.
	JobTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake. Default 10 seconds.
	HandshakeTimeout time.Duration
	// IOTimeout is the longest a read or write may wait for the peer. Default 30 seconds.
	IOTimeout time.Duration
	// DrainLimit is how much of a rejected request is read and discarded so that
	// the peer sees the error instead of a reset. Default 8 MiB.
	DrainLimit int64
	// Convert holds the conversion limits and qualities.
	Convert convert.Config
	// Metrics receives the worker's measurements; nil records nothing.
	Metrics *metrics.Worker
	// Logger receives one line per job; default slog.Default().
	Logger *slog.Logger
}

// Defaults shared with the master, which applies the same limits at its door.
const (
	DefaultMaxBodyBytes     = 256 << 20
	DefaultJobTimeout       = 2 * time.Minute
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIOTimeout        = 30 * time.Second
	DefaultDrainLimit       = 8 << 20
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Concurrency == 0 {
		c.Concurrency = runtime.NumCPU()
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.IOTimeout == 0 {
		c.IOTimeout = DefaultIOTimeout
	}
	if c.DrainLimit == 0 {
		c.DrainLimit = DefaultDrainLimit
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Convert = c.Convert.WithDefaults()
	return c
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.TLS == nil:
		return errors.New("worker: no TLS configuration: give --cert and --key (or none for a temporary self-signed certificate)")
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("worker: --max-body %d: must be positive", c.MaxBodyBytes)
	case c.Concurrency < 0:
		return fmt.Errorf("worker: --concurrency %d: must be positive", c.Concurrency)
	case c.JobTimeout < 0 || c.HandshakeTimeout < 0 || c.IOTimeout < 0:
		return errors.New("worker: timeouts must be positive")
	}
	if err := c.Convert.Validate(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// Server is a running worker.
type Server struct {
	cfg      Config
	conv     *convert.Converter
	slots    chan struct{}
	log      *slog.Logger
	jobs     atomic.Int64 // jobs between header and answer, queued or converting
	draining atomic.Bool
}

// New validates cfg and prepares the converters.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	conv, err := convert.New(cfg.Convert)
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	return &Server{cfg: cfg, conv: conv, slots: make(chan struct{}, cfg.Concurrency), log: cfg.Logger}, nil
}

// Serve answers jobs on ln until ctx is cancelled; then it stops accepting and
// waits for the jobs in flight, which are cancelled only if hardStop is.
func (s *Server) Serve(ctx, hardStop context.Context, ln net.Listener) error {
	// Draining shows in probes and /readyz; the closed listener is what keeps new
	// jobs away, since a master moves a job whose connection is refused.
	stopDraining := context.AfterFunc(ctx, func() { s.draining.Store(true) })
	defer stopDraining()
	s.cfg.Metrics.SetSlots(0, s.cfg.Concurrency)
	loop := serve.Loop{TLS: s.cfg.TLS, HandshakeTimeout: s.cfg.HandshakeTimeout, Handle: s.handle, Logger: s.log,
		OnHandshakeError: func(error) { s.cfg.Metrics.HandshakeFailed() }}
	return loop.Serve(ctx, hardStop, ln)
}

// Status is what the worker tells a master's probe about itself.
func (s *Server) Status() wire.WorkerStatus {
	return wire.WorkerStatus{Capacity: s.cfg.Concurrency, InFlight: int(s.jobs.Load()), Draining: s.draining.Load()}
}

// Ready is nil while the worker takes jobs, for the admin listener's /readyz.
func (s *Server) Ready() error {
	if s.draining.Load() {
		return errors.New("draining: finishing jobs in flight before exit")
	}
	return nil
}

// answerProbe tells the master how the worker is doing.
func (s *Server) answerProbe(conn io.Writer) {
	body, _ := json.Marshal(s.Status())
	_ = wire.WriteResponse(conn, body)
}

func (s *Server) handle(ctx context.Context, raw *tls.Conn) {
	start := time.Now()
	conn := &serve.Conn{Conn: raw, Idle: s.cfg.IOTimeout, Until: start.Add(s.cfg.JobTimeout)}
	log := s.log.With("peer", raw.RemoteAddr().String())

	h, err := wire.ReadHeader(conn)
	if err != nil {
		log.With("job", serve.NewJobID()).Info("job rejected", "outcome", "bad_header", "err", err)
		_ = wire.WriteError(conn, "could not read the 94-byte request header: "+err.Error())
		return
	}
	if h.IsProbe() {
		s.answerProbe(conn)
		return
	}
	s.jobs.Add(1)
	defer s.jobs.Add(-1)
	var (
		outcome   = "bad_header"
		inputType convert.Type
		outSize   int
	)
	done := s.cfg.Metrics.JobStarted(strconv.Itoa(int(h.Operation)))
	defer func() { done(outcome, strings.ToLower(inputType.String()), int64(h.Size), int64(outSize)) }()
	jobID, ok := strings.CutPrefix(h.Token, wire.RelayJobPrefix)
	if !ok || jobID == "" {
		jobID = serve.NewJobID()
	}
	log = log.With("job", jobID, "op", int(h.Operation), "file", wire.Printable(h.Filename), "size", h.Size)

	reject := func(why, msg string) {
		outcome = why
		log.Info("job rejected", "outcome", outcome, "reason", msg, "duration", time.Since(start))
		_ = wire.WriteError(conn, msg)
		serve.Drain(raw, h.Size, s.cfg.DrainLimit, time.Second)
	}
	if err := h.ValidateVersionAndOperation(); err != nil {
		reject("bad_header", err.Error())
		return
	}
	if h.Size > uint64(s.cfg.MaxBodyBytes) {
		reject("too_large", serve.TooLarge(h.Size, s.cfg.MaxBodyBytes))
		return
	}
	if h.Size == 0 {
		reject("empty", "empty input: the file has 0 bytes")
		return
	}

	body, err := readBody(conn, h.Size)
	if err != nil {
		outcome = "read_failed"
		log.Info("job failed", "outcome", outcome, "err", err, "duration", time.Since(start))
		_ = wire.WriteError(conn, fmt.Sprintf("the body ended after fewer bytes than the header's size of %d: %v", h.Size, err))
		return
	}
	if sum := md5.Sum(body); sum != h.Checksum {
		reject("checksum_mismatch", fmt.Sprintf("Checksum mismatch: the body's MD5 is %x but the header says %x; the file changed in transit or the header is wrong", sum, h.Checksum))
		return
	}

	jobCtx, cancel := context.WithDeadline(ctx, conn.Until)
	defer cancel()
	stopWatching := serve.WatchPeer(raw, cancel)
	res, err := s.convert(jobCtx, h.Operation, body)
	stopWatching()
	inputType = res.InputType
	if err != nil {
		ce := convert.AsError(err)
		outcome = "convert_failed"
		msg := ce.Message
		switch {
		case jobCtx.Err() == context.DeadlineExceeded:
			outcome, msg = "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", s.cfg.JobTimeout)
		case ctx.Err() == nil && jobCtx.Err() != nil:
			outcome = "client_gone"
			log.Info("job cancelled", "outcome", outcome, "duration", time.Since(start))
			return
		}
		attrs := []any{"outcome", outcome, "input_type", res.InputType.String(), "reason", msg, "duration", time.Since(start)}
		if ce.Err != nil {
			attrs = append(attrs, "err", ce.Err)
		}
		log.Info("job failed", attrs...)
		_ = wire.WriteError(conn, msg)
		return
	}
	outSize = len(res.Output)
	if err := wire.WriteResponse(conn, res.Output); err != nil {
		outcome = "write_failed"
		log.Info("job failed", "outcome", outcome, "err", err, "duration", time.Since(start))
		return
	}
	outcome = "ok"
	attrs := []any{"outcome", "ok", "input_type", res.InputType.String(), "out_size", len(res.Output), "duration", time.Since(start)}
	if res.Replaced > 0 {
		attrs = append(attrs, "replaced_chars", res.Replaced)
	}
	log.Info("job done", attrs...)
}

// convert runs one conversion once a slot is free, so that at most Concurrency
// conversions compete for the cores however many jobs are queued.
func (s *Server) convert(ctx context.Context, op wire.Operation, body []byte) (convert.Result, error) {
	queued := time.Now()
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return convert.Result{}, ctx.Err()
	}
	s.cfg.Metrics.QueueWait(time.Since(queued))
	s.cfg.Metrics.SetSlots(len(s.slots), s.cfg.Concurrency)
	defer func() {
		<-s.slots
		s.cfg.Metrics.SetSlots(len(s.slots), s.cfg.Concurrency)
	}()
	return s.conv.Convert(ctx, op, body)
}

// readBody reads exactly size bytes. It grows the buffer as data arrives rather
// than trusting the declared size, so a client that lies about it costs only what
// it really sends.
func readBody(r io.Reader, size uint64) ([]byte, error) {
	const upfront = 8 << 20
	var buf bytes.Buffer
	buf.Grow(int(min(size, upfront)))
	if _, err := io.CopyN(&buf, r, int64(size)); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return buf.Bytes(), nil
}
