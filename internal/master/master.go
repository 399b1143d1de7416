// Package master is the orchestration tier: the TLS front door that checks each
// request's header and token, picks a worker and relays the body to it and the
// answer back through a fixed buffer, so its memory per connection is constant
// whatever the file size. Nothing touches the disk.
package master

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// Config configures a master. Zero durations and sizes mean their defaults.
type Config struct {
	// TLS is the front door's configuration.
	TLS *tls.Config
	// WorkerTLS is used to dial workers: the cluster CA to verify them and the
	// master's certificate to present (mutual TLS).
	WorkerTLS *tls.Config
	// Workers are the workers' host:port addresses.
	Workers []string
	// Tokens are the accepted auth tokens; at least one is required.
	Tokens Tokens
	// MaxBodyBytes is the largest body accepted. Default 256 MiB.
	MaxBodyBytes int64
	// HandshakeTimeout bounds the TLS handshake. Default 10 seconds.
	HandshakeTimeout time.Duration
	// HeaderTimeout bounds the wait for the 94-byte header. Default 10 seconds.
	HeaderTimeout time.Duration
	// IOTimeout is the longest a read or write may wait for a peer. Default 30 seconds.
	IOTimeout time.Duration
	// JobTimeout bounds one job from its header to the end of its answer.
	// Default 3 minutes: longer than a worker's 2, so that the worker's own, more
	// precise timeout message reaches the client first.
	JobTimeout time.Duration
	// DialTimeout bounds connecting to a worker. Default 5 seconds.
	DialTimeout time.Duration
	// DrainLimit is how much of a rejected request is read and discarded so that
	// the client sees the error instead of a reset. Default 8 MiB.
	DrainLimit int64
	// Logger receives one line per job; default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes     = 256 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultHeaderTimeout    = 10 * time.Second
	DefaultIOTimeout        = 30 * time.Second
	DefaultJobTimeout       = 3 * time.Minute
	DefaultDialTimeout      = 5 * time.Second
	DefaultDrainLimit       = 8 << 20

	// relayBufferSize matches the original clients' 64 KiB writes.
	relayBufferSize = 64 << 10
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&c.HeaderTimeout, DefaultHeaderTimeout)
	setDefault(&c.IOTimeout, DefaultIOTimeout)
	setDefault(&c.JobTimeout, DefaultJobTimeout)
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.DrainLimit, DefaultDrainLimit)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.TLS == nil:
		return errors.New("master: no TLS configuration for the front door: give --cert and --key")
	case c.WorkerTLS == nil:
		return errors.New("master: no TLS configuration for workers: give --ca (and --cert/--key for mutual TLS)")
	case len(c.Workers) == 0:
		return errors.New("master: no workers: give --workers host:port[,host:port...]")
	case c.Tokens.Len() == 0:
		return errors.New("master: no auth token: give --token-file FILE or FILECONV_TOKENS (one token per line)")
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("master: --max-body %d: must be positive", c.MaxBodyBytes)
	case c.HandshakeTimeout < 0 || c.HeaderTimeout < 0 || c.IOTimeout < 0 || c.JobTimeout < 0 || c.DialTimeout < 0:
		return errors.New("master: timeouts must be positive")
	}
	for _, w := range c.Workers {
		if _, _, err := net.SplitHostPort(w); err != nil {
			return fmt.Errorf("master: worker address %q: %w (want host:port)", w, err)
		}
	}
	return nil
}

// Master is a running orchestration tier.
type Master struct {
	cfg    Config
	bal    *balancer
	log    *slog.Logger
	dialer *tls.Dialer
	jobs   atomic.Int64
}

// New validates cfg.
func New(cfg Config) (*Master, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Master{
		cfg:    cfg,
		bal:    newBalancer(cfg.Workers),
		log:    cfg.Logger,
		dialer: &tls.Dialer{NetDialer: &net.Dialer{Timeout: cfg.DialTimeout}, Config: cfg.WorkerTLS},
	}, nil
}

// Serve answers clients on ln until ctx is cancelled; then it stops accepting and
// waits for the jobs in flight, which are cut only if hardStop is cancelled.
func (m *Master) Serve(ctx, hardStop context.Context, ln net.Listener) error {
	loop := serve.Loop{TLS: m.cfg.TLS, HandshakeTimeout: m.cfg.HandshakeTimeout, Handle: m.handle, Logger: m.log}
	return loop.Serve(ctx, hardStop, ln)
}

// job is the state of one request as it crosses the master.
type job struct {
	id      string
	start   time.Time
	header  wire.Header
	client  *serve.Conn
	log     *slog.Logger
	worker  string
	outSize uint64
}

func (m *Master) handle(ctx context.Context, raw *tls.Conn) {
	j := &job{id: serve.NewJobID(), start: time.Now()}
	j.client = &serve.Conn{Conn: raw, Idle: m.cfg.HeaderTimeout}
	j.log = m.log.With("job", j.id, "client", raw.RemoteAddr().String())

	h, err := wire.ReadHeader(j.client)
	if err != nil {
		m.rejectHeader(j, err)
		return
	}
	j.header = h
	j.log = j.log.With("op", int(h.Operation), "file", wire.Printable(h.Filename), "size", h.Size)
	if msg, outcome := m.check(h); msg != "" {
		if outcome == "unauthorized" {
			j.log.Warn("authentication failed")
		}
		m.reject(j, outcome, msg)
		return
	}

	j.client.Idle = m.cfg.IOTimeout
	j.client.Until = j.start.Add(m.cfg.JobTimeout)
	jobCtx, cancel := context.WithDeadline(ctx, j.client.Until)
	defer cancel()
	outcome, msg, err := m.relay(jobCtx, raw, j)
	attrs := []any{"outcome", outcome, "worker", j.worker, "out_size", j.outSize, "duration", time.Since(j.start)}
	if msg != "" {
		attrs = append(attrs, "reason", msg)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	j.log.Info("job finished", attrs...)
}

// check validates a header; it returns the client's error message and the log
// outcome, or "" when the request may proceed.
func (m *Master) check(h wire.Header) (msg, outcome string) {
	if err := h.ValidateVersionAndOperation(); err != nil {
		return err.Error(), "bad_header"
	}
	if !m.cfg.Tokens.Match(h.Token) {
		return "Invalid authentication token", "unauthorized"
	}
	if h.Size > uint64(m.cfg.MaxBodyBytes) {
		return serve.TooLarge(h.Size, m.cfg.MaxBodyBytes), "too_large"
	}
	if h.Size == 0 {
		return "empty input: the file has 0 bytes", "empty"
	}
	return "", ""
}

func (m *Master) rejectHeader(j *job, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		// Connected, shook hands and left: a TCP health check, not a job.
		j.log.Debug("connection closed before a header")
		return
	case errors.As(err, &ne) && ne.Timeout():
		m.reject(j, "header_timeout", fmt.Sprintf("timed out after %s waiting for the 94-byte request header", m.cfg.HeaderTimeout))
	default:
		m.reject(j, "bad_header", "could not read the 94-byte request header: "+err.Error())
	}
}

// reject answers with an error and then drains what the client is still sending,
// so that it reads the message rather than a connection reset.
func (m *Master) reject(j *job, outcome, msg string) {
	j.log.Info("job rejected", "outcome", outcome, "reason", msg, "duration", time.Since(j.start))
	j.client.Idle = m.cfg.IOTimeout
	_ = wire.WriteError(j.client, msg)
	serve.Drain(j.client.Conn, j.header.Size, m.cfg.DrainLimit, time.Second)
}

// relay sends the job to a worker and the answer back. It returns the outcome for
// the log line and, for failures, the message sent to the client and the cause.
func (m *Master) relay(ctx context.Context, raw *tls.Conn, j *job) (outcome, msg string, err error) {
	wconn, be, err := m.dialWorker(ctx, j)
	if err != nil {
		msg = "no worker is available: " + err.Error()
		m.reject(j, "unavailable", msg)
		return "unavailable", msg, err
	}
	defer m.bal.release(be)
	defer wconn.Close()
	worker := &serve.Conn{Conn: wconn, Idle: m.cfg.IOTimeout, Until: j.client.Until}

	fwd := j.header
	fwd.Token = wire.RelayJobPrefix + j.id
	hdr := fwd.Encode()
	if _, err := worker.Write(hdr[:]); err != nil {
		return m.fail(j, "worker_failed", fmt.Sprintf("worker %s failed before the file was sent", j.worker), err)
	}

	buf := make([]byte, relayBufferSize)
	if side, err := copyBody(worker, j.client, j.header.Size, buf); err != nil {
		if side == sideClient {
			if isTimeout(err) {
				// A slow client may still be listening: tell it why it is cut off.
				return m.fail(j, "client_timeout", fmt.Sprintf("timed out after %s waiting for the rest of the file", m.cfg.IOTimeout), err)
			}
			return "client_failed", "", fmt.Errorf("receive body from client: %w", err)
		}
		// The worker may have answered early (a rejected request) and closed.
		// Its answer, if complete, is better than ours.
		if out, msg, ok := m.relayEarlyAnswer(worker, j); ok {
			return out, msg, err
		}
		return m.fail(j, "worker_failed", fmt.Sprintf("worker %s failed while receiving the file", j.worker), err)
	}

	j.log.Debug("request relayed; waiting for the worker's answer", "worker", j.worker)

	var clientGone atomic.Bool
	stopWatching := serve.WatchPeer(raw, func() {
		// Closing the worker's connection is what tells the worker to stop.
		clientGone.Store(true)
		wconn.Close()
	})
	// Waiting for the answer is waiting for the conversion: bounded by the job
	// deadline, not by the idle timeout.
	worker.Idle = m.cfg.JobTimeout
	size, err := wire.ReadResponseSize(worker)
	worker.Idle = m.cfg.IOTimeout
	if err != nil {
		stopWatching()
		if clientGone.Load() {
			return "client_gone", "", err
		}
		if ctx.Err() != nil || isTimeout(err) {
			return m.fail(j, "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", m.cfg.JobTimeout), err)
		}
		return m.fail(j, "worker_failed", fmt.Sprintf("worker %s failed during the conversion", j.worker), err)
	}
	outcome, msg, err = m.relayAnswer(worker, j, size, buf)
	stopWatching()
	if clientGone.Load() && err != nil {
		return "client_gone", "", err
	}
	return outcome, msg, err
}

// relayAnswer streams a worker's answer of size bytes to the client. A short answer
// is read whole first so that an error's message can go in the log line.
func (m *Master) relayAnswer(worker *serve.Conn, j *job, size uint64, buf []byte) (outcome, msg string, err error) {
	j.outSize = size
	var sizeHdr [wire.ResponseSizeLen]byte
	binary.BigEndian.PutUint64(sizeHdr[:], size)
	if size <= uint64(len(buf)) {
		body := buf[:size]
		if _, err := io.ReadFull(worker, body); err != nil {
			return m.fail(j, "worker_failed", fmt.Sprintf("worker %s failed while sending the result", j.worker), err)
		}
		if _, err := j.client.Write(append(sizeHdr[:], body...)); err != nil {
			return "client_failed", "", fmt.Errorf("send result to client: %w", err)
		}
		if wire.IsError(body) {
			return "error", strings.TrimPrefix(string(body), wire.ErrorPrefix), nil
		}
		return "ok", "", nil
	}
	if _, err := j.client.Write(sizeHdr[:]); err != nil {
		return "client_failed", "", fmt.Errorf("send result to client: %w", err)
	}
	if _, err := io.CopyBuffer(j.client, io.LimitReader(worker, int64(size)), buf); err != nil {
		// Part of the answer is out: the client will see a short read, and the
		// log says whose fault it was.
		return "relay_failed", "", fmt.Errorf("relay result: %w", err)
	}
	return "ok", "", nil
}

// relayEarlyAnswer forwards an answer a worker sent before it had the whole body.
func (m *Master) relayEarlyAnswer(worker *serve.Conn, j *job) (outcome, msg string, ok bool) {
	worker.Idle = time.Second
	size, err := wire.ReadResponseSize(worker)
	if err != nil || size > 64<<10 {
		return "", "", false
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(worker, body); err != nil {
		return "", "", false
	}
	j.outSize = size
	if err := wire.WriteResponse(j.client, body); err != nil {
		return "client_failed", "", true
	}
	serve.Drain(j.client.Conn, j.header.Size, m.cfg.DrainLimit, time.Second)
	return "error", strings.TrimPrefix(string(body), wire.ErrorPrefix), true
}

// fail tells the client why its job failed, if nothing of the answer was sent yet.
func (m *Master) fail(j *job, outcome, msg string, err error) (string, string, error) {
	_ = wire.WriteError(j.client, msg)
	return outcome, msg, err
}

// dialWorker connects to the least busy worker, trying the others in turn when one
// cannot be reached: nothing was sent yet, so moving the job is safe.
func (m *Master) dialWorker(ctx context.Context, j *job) (net.Conn, *backend, error) {
	tried := map[*backend]bool{}
	var errs []error
	for {
		be := m.bal.acquire(tried)
		if be == nil {
			return nil, nil, errors.Join(errs...)
		}
		tried[be] = true
		conn, err := m.dialer.DialContext(ctx, "tcp", be.addr)
		if err == nil {
			j.worker = be.addr
			return conn, be, nil
		}
		m.bal.release(be)
		j.log.Warn("worker unreachable", "worker", be.addr, "err", err)
		errs = append(errs, fmt.Errorf("worker %s: %w", be.addr, err))
		if ctx.Err() != nil {
			return nil, nil, errors.Join(errs...)
		}
	}
}

type side int

const (
	sideClient side = iota
	sideWorker
)

// copyBody relays exactly size bytes from the client to the worker through buf and
// says which side failed, since the two failures are handled differently.
func copyBody(dst io.Writer, src io.Reader, size uint64, buf []byte) (side, error) {
	remaining := size
	for remaining > 0 {
		n, err := src.Read(buf[:min(uint64(len(buf)), remaining)])
		if n > 0 {
			remaining -= uint64(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return sideWorker, werr
			}
		}
		if err != nil {
			if remaining > 0 {
				if errors.Is(err, io.EOF) {
					err = fmt.Errorf("the client sent %d of the %d bytes its header announced: %w", size-remaining, size, io.ErrUnexpectedEOF)
				}
				return sideClient, err
			}
		}
	}
	return sideClient, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
