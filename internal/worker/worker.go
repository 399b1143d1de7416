// Package worker is the processing tier: a TLS server that reads one v1.0 request
// into memory, verifies its checksum, converts it with the convert package and
// answers with the converted file or an error. It never writes a file.
package worker

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
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
	cfg   Config
	conv  *convert.Converter
	slots chan struct{}
	log   *slog.Logger
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
	loop := serve.Loop{TLS: s.cfg.TLS, HandshakeTimeout: s.cfg.HandshakeTimeout, Handle: s.handle, Logger: s.log}
	return loop.Serve(ctx, hardStop, ln)
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
	jobID, ok := strings.CutPrefix(h.Token, wire.RelayJobPrefix)
	if !ok || jobID == "" {
		jobID = serve.NewJobID()
	}
	log = log.With("job", jobID, "op", int(h.Operation), "file", wire.Printable(h.Filename), "size", h.Size)

	reject := func(outcome, msg string) {
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
		log.Info("job failed", "outcome", "read_failed", "err", err, "duration", time.Since(start))
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
	if err != nil {
		ce := convert.AsError(err)
		outcome := "convert_failed"
		msg := ce.Message
		switch {
		case jobCtx.Err() == context.DeadlineExceeded:
			outcome, msg = "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", s.cfg.JobTimeout)
		case ctx.Err() == nil && jobCtx.Err() != nil:
			log.Info("job cancelled", "outcome", "client_gone", "duration", time.Since(start))
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
	if err := wire.WriteResponse(conn, res.Output); err != nil {
		log.Info("job failed", "outcome", "write_failed", "err", err, "duration", time.Since(start))
		return
	}
	attrs := []any{"outcome", "ok", "input_type", res.InputType.String(), "out_size", len(res.Output), "duration", time.Since(start)}
	if res.Replaced > 0 {
		attrs = append(attrs, "replaced_chars", res.Replaced)
	}
	log.Info("job done", attrs...)
}

// convert runs one conversion once a slot is free, so that at most Concurrency
// conversions compete for the cores however many jobs are queued.
func (s *Server) convert(ctx context.Context, op wire.Operation, body []byte) (convert.Result, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return convert.Result{}, ctx.Err()
	}
	defer func() { <-s.slots }()
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
