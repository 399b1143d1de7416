// Package worker is the processing tier: a TLS server that reads one v1.0 request
// into memory, verifies its checksum, converts it with the convert package and
// answers with the converted file or an error. It never writes a file.
package worker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/internal/bufpool"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
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
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.Concurrency = cmp.Or(c.Concurrency, runtime.NumCPU())
	c.JobTimeout = cmp.Or(c.JobTimeout, DefaultJobTimeout)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.IOTimeout = cmp.Or(c.IOTimeout, DefaultIOTimeout)
	c.DrainLimit = cmp.Or(c.DrainLimit, DefaultDrainLimit)
	c.Logger = cmp.Or(c.Logger, slog.Default())
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
	finished atomic.Int64 // jobs ended, for noticing a worker gone idle after work
	draining atomic.Bool
	// stopping is done once a graceful stop is asked for: idle v2 connections
	// are then closed, so that a master's pooled connections do not hold it up.
	stopping context.Context
	stop     context.CancelFunc
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
	s := &Server{cfg: cfg, conv: conv, slots: make(chan struct{}, cfg.Concurrency), log: cfg.Logger}
	s.stopping, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// Serve answers jobs on ln until ctx is cancelled; then it stops accepting and
// waits for the jobs in flight, which are cancelled only if hardStop is.
func (s *Server) Serve(ctx, hardStop context.Context, ln net.Listener) error {
	// Draining shows in probes and /readyz; the closed listener is what keeps new
	// jobs away, since a master moves a job whose connection is refused.
	stopDraining := context.AfterFunc(ctx, func() {
		s.draining.Store(true)
		s.stop()
	})
	defer stopDraining()
	s.cfg.Metrics.SetSlots(0, s.cfg.Concurrency)
	releaseCtx, stopReleasing := context.WithCancel(hardStop)
	defer stopReleasing()
	go s.releaseWhenIdle(releaseCtx)
	door := &serve.Door{HeaderTimeout: s.cfg.IOTimeout, Idle: idleTimeout, IO: s.cfg.IOTimeout, JobTimeout: s.cfg.JobTimeout,
		DrainLimit: s.cfg.DrainLimit, Stopping: s.stopping, Logger: s.log, Handle: s.handle, Probe: s.probeAnswer}
	loop := serve.Loop{TLS: s.cfg.TLS, HandshakeTimeout: s.cfg.HandshakeTimeout, Logger: s.log,
		Handle:           func(ctx context.Context, c *tls.Conn) { door.Serve(ctx, c) },
		OnHandshakeError: func(error) { s.cfg.Metrics.HandshakeFailed() }}
	return loop.Serve(ctx, hardStop, ln)
}

// idleRelease is how long a worker must have been idle before it hands the
// memory of its last conversions back to the system.
const idleRelease = 5 * time.Second

// releaseWhenIdle returns memory to the system once the worker has had no job for
// idleRelease after some work, so that a worker's size after a burst falls back
// rather than staying at the burst's peak.
func (s *Server) releaseWhenIdle(ctx context.Context) {
	tick := time.NewTicker(idleRelease)
	defer tick.Stop()
	var lastSeen int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		done := s.finished.Load()
		if done != lastSeen && s.jobs.Load() == 0 {
			convert.ReleaseMemory()
			lastSeen = done
		}
	}
}

// Status is what the worker tells a master's probe about itself. What it
// converts is read each time: an engine that starts after the worker (or
// stops) changes it.
func (s *Server) Status() wire.WorkerStatus {
	converts := map[string][]string{}
	for kind, targets := range s.conv.Capabilities() {
		converts[string(kind)] = targets
	}
	return wire.WorkerStatus{Capacity: s.cfg.Concurrency, InFlight: int(s.jobs.Load()), Draining: s.draining.Load(),
		Converts: converts, OCRLanguages: s.conv.OCRLanguages()}
}

// Converter is the worker's converter, to which engines are given once they
// run (convert.Converter.SetOfficeEngine, SetBrowserEngine).
func (s *Server) Converter() *convert.Converter { return s.conv }

// Ready is nil while the worker takes jobs, for the admin listener's /readyz.
func (s *Server) Ready() error {
	if s.draining.Load() {
		return errors.New("draining: finishing jobs in flight before exit")
	}
	return nil
}

// probeAnswer tells the master how the worker is doing and what it converts.
func (s *Server) probeAnswer() []byte {
	body, _ := json.Marshal(s.Status())
	return body
}

// job is one request as the worker serves it.
type job struct {
	req     *serve.Request
	start   time.Time
	log     *slog.Logger
	outcome string
	kind    convert.Kind
	outSize int
}

// handle serves one request: checks, reads and verifies the body, converts and
// answers. Every failure is a *fail.Error answered through w.
func (s *Server) handle(req *serve.Request, w serve.Responder) {
	s.jobs.Add(1)
	j := &job{req: req, start: time.Now(), outcome: "ok", kind: convert.KindUnknown,
		log: s.log.With("job", req.JobID, "peer", req.Peer, "to", req.Target, "file", wire.Printable(req.Name), "size", req.Size)}
	done := s.cfg.Metrics.JobStarted(req.Target)
	defer func() {
		done(j.outcome, string(j.kind), int64(req.Size), int64(j.outSize))
		s.jobs.Add(-1)
		s.finished.Add(1)
	}()
	if e := s.check(req); e != nil {
		j.fail(w, e, "job rejected")
		return
	}
	digest := newBodyDigest(req)
	body, err := readBody(req.Body, req.Size, digest)
	if err != nil {
		j.outcome = "read_failed"
		j.log.Info("job failed", "outcome", j.outcome, "err", err, "duration", time.Since(j.start))
		_ = w.Error(fail.Wrap(fail.Timeout, fmt.Sprintf("the body ended after fewer bytes than the announced size of %d: %v", req.Size, err), err))
		return
	}
	// Nothing holds on to the body once the job is over: libvips keeps no
	// image past its call (its operation cache is off), and a PDF reader's
	// input is written before pdfToText returns, even when it is cancelled.
	defer bufpool.Put(body)
	if msg := digest.mismatch(); msg != "" {
		j.fail(w, fail.New(fail.ChecksumMismatch, msg), "job rejected")
		return
	}
	j.log.Debug("body received; converting")
	s.convertAndAnswer(j, body, w)
}

// check refuses what needs no body to refuse.
func (s *Server) check(req *serve.Request) *fail.Error {
	switch {
	case req.Invalid != nil:
		return req.Invalid
	case req.Size > uint64(s.cfg.MaxBodyBytes):
		return fail.New(fail.TooLarge, serve.TooLarge(req.Size, s.cfg.MaxBodyBytes))
	case req.Size == 0:
		return fail.New(fail.BadRequest, "empty input: the file has 0 bytes")
	case len(req.Files) > s.conv.Config().MaxFiles:
		return fail.New(fail.LimitExceeded, serve.TooManyFiles(len(req.Files), s.conv.Config().MaxFiles))
	}
	return nil
}

func (s *Server) convertAndAnswer(j *job, body []byte, w serve.Responder) {
	ctx := j.req.Context()
	res, err := s.convert(ctx, convert.Job{Target: j.req.Target, Name: j.req.Name, Input: body, Files: splitFiles(j.req.Files, body), Options: j.req.Options, V1: j.req.FromV1()})
	j.kind = res.Kind
	if err != nil {
		switch {
		case errors.Is(context.Cause(ctx), serve.ErrClientGone):
			j.outcome = "client_gone"
			j.log.Info("job cancelled", "outcome", j.outcome, "duration", time.Since(j.start))
			return
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = fail.Wrap(fail.Timeout, fmt.Sprintf("the job took longer than the %s limit (job-timeout)", s.cfg.JobTimeout), err)
		}
		j.fail(w, convert.AsError(err), "job failed")
		return
	}
	j.outSize = len(res.Output)
	target, _ := convert.LookupTarget(j.req.Target)
	out, err := w.Result(serve.ResultFor(res.Output, string(res.Kind), cmp.Or(res.ContentType, target.ContentType), res.Replaced, res.Warnings))
	if err == nil {
		_, err = out.Write(res.Output)
	}
	if err != nil {
		j.outcome = "write_failed"
		j.log.Info("job failed", "outcome", j.outcome, "err", err, "duration", time.Since(j.start))
		return
	}
	attrs := []any{"outcome", "ok", "input_type", string(res.Kind), "out_size", len(res.Output), "duration", time.Since(j.start)}
	if res.Replaced > 0 {
		attrs = append(attrs, "replaced_chars", res.Replaced)
	}
	if len(res.Warnings) > 0 {
		// A v1.0 client never sees them, so this line may be the only place
		// they are read; cleaned as the client gets them, so that a careless
		// conversion cannot make the line unbounded.
		attrs = append(attrs, "warnings", logList(wire.CleanWarnings(res.Warnings)))
	}
	j.log.Info("job done", attrs...)
}

// logList is a list of sentences in a log line: a JSON log keeps it an array,
// and a text log quotes each sentence, where slog's own [a b] would run them
// together.
type logList []string

func (l logList) String() string { return fmt.Sprintf("%q", []string(l)) }

// fail answers the job with e and logs why.
func (j *job) fail(w serve.Responder, e *fail.Error, what string) {
	j.outcome = string(e.Code)
	attrs := []any{"outcome", j.outcome, "input_type", string(j.kind), "reason", e.Message, "duration", time.Since(j.start)}
	if e.Cause != nil {
		attrs = append(attrs, "err", e.Cause)
	}
	j.log.Info(what, attrs...)
	_ = w.Error(e)
}

// bodyCheck hashes a body as it arrives and then says whether it is what the
// request announced.
type bodyCheck interface {
	io.Writer
	// mismatch is the client's error message when the body does not match, or "".
	mismatch() string
}

// bodyDigest is the digest a request carries for its body: SHA-256 in v2, MD5 in
// v1.0 (and in v2 requests a master relays from v1.0 clients). The body is hashed
// as it arrives, while the rest is still on its way, rather than after.
type bodyDigest struct {
	hash.Hash
	name, says string
	want       []byte
}

func newBodyDigest(req *serve.Request) bodyCheck {
	if req.Files != nil {
		return newFilesDigest(req.Files)
	}
	if req.SHA256 != ([32]byte{}) {
		return &bodyDigest{Hash: sha256.New(), name: "SHA-256", says: "the request says", want: req.SHA256[:]}
	}
	return &bodyDigest{Hash: md5.New(), name: "MD5", says: "the header says", want: req.MD5[:]}
}

// mismatch is the client's error message when the body does not match, or "".
func (d *bodyDigest) mismatch() string {
	if sum := d.Sum(nil); !bytes.Equal(sum, d.want) {
		return fmt.Sprintf("Checksum mismatch: the body's %s is %x but %s %x; the file changed in transit or the size is wrong", d.name, sum, d.says, d.want)
	}
	return ""
}

// convert runs one conversion once a slot is free, so that at most Concurrency
// conversions compete for the cores however many jobs are queued.
func (s *Server) convert(ctx context.Context, job convert.Job) (convert.Result, error) {
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
	return s.conv.Run(ctx, job)
}

// readBody reads exactly size bytes. It grows the buffer as data arrives rather
// than trusting the declared size, so a client that lies about it costs only what
// it really sends; and it never grows past size, so the usual case (a body of at
// most 8 MiB) is one pooled buffer (bufpool.Put it when done) and no copy. Each
// piece read also goes to seen.
func readBody(r io.Reader, size uint64, seen io.Writer) ([]byte, error) {
	const upfront = 8 << 20
	buf := bufpool.Get(min(size, upfront))
	for uint64(len(buf)) < size {
		if len(buf) == cap(buf) {
			// Double, but never past size.
			buf = slices.Grow(buf, int(min(size-uint64(len(buf)), uint64(len(buf)))))
		}
		n, err := r.Read(buf[len(buf):int(min(uint64(cap(buf)), size))])
		seen.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if err != nil && uint64(len(buf)) < size {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			bufpool.Put(buf)
			return nil, fmt.Errorf("read body: %w", err)
		}
	}
	return buf, nil
}
