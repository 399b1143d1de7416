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
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/internal/bufpool"
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
	loop := serve.Loop{TLS: s.cfg.TLS, HandshakeTimeout: s.cfg.HandshakeTimeout, Handle: s.handle, Logger: s.log,
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
	conn := &serve.Conn{Conn: raw, Idle: s.cfg.IOTimeout, Until: time.Now().Add(s.cfg.JobTimeout)}
	log := s.log.With("peer", raw.RemoteAddr().String())
	// The first four bytes say which protocol the peer speaks.
	var version [4]byte
	if _, err := io.ReadFull(conn, version[:]); err != nil {
		if !errors.Is(err, io.EOF) {
			log.Info("connection closed before a request", "err", err)
		}
		return
	}
	if string(version[:]) == wire.Version20 {
		s.serveV2(ctx, raw, log)
		return
	}
	s.serveV1(ctx, raw, conn, version, log)
}

// serveV1 answers one protocol v1.0 request.
func (s *Server) serveV1(ctx context.Context, raw *tls.Conn, conn *serve.Conn, version [4]byte, log *slog.Logger) {
	h, err := wire.ReadHeader(io.MultiReader(bytes.NewReader(version[:]), conn))
	if err != nil {
		log.With("job", serve.NewJobID()).Info("job rejected", "outcome", "bad_header", "err", err)
		_ = wire.WriteError(conn, "could not read the 94-byte request header: "+err.Error())
		return
	}
	if h.IsProbe() {
		s.answerProbe(conn)
		return
	}
	req := request{op: h.Operation, name: h.Filename, size: h.Size, token: h.Token, md5: h.Checksum, hasMD5: true}
	if err := h.ValidateVersionAndOperation(); err != nil {
		req.invalid = err.Error()
	}
	s.runJob(ctx, raw, conn, req, v1Reply{conn}, log)
}

// request is one job as either protocol delivers it.
type request struct {
	op      wire.Operation
	name    string
	size    uint64
	token   string // the master's job marker, or a client's token when no master is in front
	md5     [16]byte
	hasMD5  bool
	sha256  [32]byte
	options convert.Options
	invalid string // a header problem found by the protocol layer
	// keepAlive: the connection carries more requests after this one (v2).
	keepAlive bool
}

// reply sends a job's answer in the protocol it came in.
type reply interface {
	result(jobID string, op wire.Operation, res convert.Result) error
	fail(jobID string, code wire.ErrorCode, msg string) error
}

type v1Reply struct{ w io.Writer }

func (r v1Reply) result(_ string, _ wire.Operation, res convert.Result) error {
	return wire.WriteResponse(r.w, res.Output)
}
func (r v1Reply) fail(_ string, _ wire.ErrorCode, msg string) error {
	return wire.WriteError(r.w, msg)
}

// runJob reads a request's body, checks it and converts it, answering through
// reply. It reports whether the connection is still in a state to carry another
// request (the whole body was read).
func (s *Server) runJob(ctx context.Context, raw *tls.Conn, conn *serve.Conn, req request, rep reply, log *slog.Logger) (reusable bool) {
	start := time.Now()
	conn.Until = start.Add(s.cfg.JobTimeout)
	s.jobs.Add(1)
	defer func() {
		s.jobs.Add(-1)
		s.finished.Add(1)
	}()
	var (
		outcome   = "bad_header"
		inputType convert.Type
		outSize   int
	)
	done := s.cfg.Metrics.JobStarted(strconv.Itoa(int(req.op)))
	defer func() { done(outcome, strings.ToLower(inputType.String()), int64(req.size), int64(outSize)) }()
	jobID, ok := strings.CutPrefix(req.token, wire.RelayJobPrefix)
	if !ok || jobID == "" {
		jobID = serve.NewJobID()
	}
	log = log.With("job", jobID, "op", int(req.op), "file", wire.Printable(req.name), "size", req.size)

	reject := func(why string, code wire.ErrorCode, msg string) bool {
		outcome = why
		log.Info("job rejected", "outcome", outcome, "reason", msg, "duration", time.Since(start))
		_ = rep.fail(jobID, code, msg)
		serve.Drain(raw, req.size, s.cfg.DrainLimit, time.Second)
		return false
	}
	switch {
	case req.invalid != "":
		return reject("bad_header", wire.CodeBadRequest, req.invalid)
	case req.size > uint64(s.cfg.MaxBodyBytes):
		return reject("too_large", wire.CodeTooLarge, serve.TooLarge(req.size, s.cfg.MaxBodyBytes))
	case req.size == 0:
		return reject("empty", wire.CodeBadRequest, "empty input: the file has 0 bytes")
	}

	digest := newBodyDigest(req)
	body, err := readBody(conn, req.size, digest)
	if err != nil {
		outcome = "read_failed"
		log.Info("job failed", "outcome", outcome, "err", err, "duration", time.Since(start))
		_ = rep.fail(jobID, wire.CodeTimeout, fmt.Sprintf("the body ended after fewer bytes than the announced size of %d: %v", req.size, err))
		return false
	}
	// Nothing holds on to the body once the job is over: libvips keeps no
	// image past its call (its operation cache is off), and a PDF reader's
	// input is written before pdfToText returns, even when it is cancelled.
	defer bufpool.Put(body)
	if msg := digest.mismatch(); msg != "" {
		outcome = "checksum_mismatch"
		log.Info("job rejected", "outcome", outcome, "reason", msg, "duration", time.Since(start))
		return rep.fail(jobID, wire.CodeChecksumMismatch, msg) == nil
	}

	log.Debug("body received; converting")
	jobCtx, cancel := context.WithDeadline(ctx, conn.Until)
	defer cancel()
	var res convert.Result
	if req.keepAlive {
		// The peer may send its next request meanwhile: keep it for the next read.
		stop := serve.WatchPeerKeep(raw, cancel)
		res, err = s.convert(jobCtx, req.op, body, req.options)
		conn.Pending = append(conn.Pending, stop()...)
	} else {
		stop := serve.WatchPeer(raw, cancel)
		res, err = s.convert(jobCtx, req.op, body, req.options)
		stop()
	}
	inputType = res.InputType
	if err != nil {
		ce := convert.AsError(err)
		outcome = "convert_failed"
		msg, code := ce.Message, errorCode(ce.Kind)
		switch {
		case jobCtx.Err() == context.DeadlineExceeded:
			outcome, msg, code = "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", s.cfg.JobTimeout), wire.CodeTimeout
		case ctx.Err() == nil && jobCtx.Err() != nil:
			outcome = "client_gone"
			log.Info("job cancelled", "outcome", outcome, "duration", time.Since(start))
			return false
		}
		attrs := []any{"outcome", outcome, "input_type", res.InputType.String(), "reason", msg, "duration", time.Since(start)}
		if ce.Err != nil {
			attrs = append(attrs, "err", ce.Err)
		}
		log.Info("job failed", attrs...)
		return rep.fail(jobID, code, msg) == nil
	}
	outSize = len(res.Output)
	if err := rep.result(jobID, req.op, res); err != nil {
		outcome = "write_failed"
		log.Info("job failed", "outcome", outcome, "err", err, "duration", time.Since(start))
		return false
	}
	outcome = "ok"
	attrs := []any{"outcome", "ok", "input_type", res.InputType.String(), "out_size", len(res.Output), "duration", time.Since(start)}
	if res.Replaced > 0 {
		attrs = append(attrs, "replaced_chars", res.Replaced)
	}
	log.Info("job done", attrs...)
	return true
}

// bodyDigest is the digest a request carries for its body: SHA-256 in v2, MD5 in
// v1.0 (and in v2 requests a master relays from v1.0 clients). The body is hashed
// as it arrives, while the rest is still on its way, rather than after.
type bodyDigest struct {
	hash.Hash
	name, says string
	want       []byte
}

func newBodyDigest(req request) *bodyDigest {
	if req.sha256 != ([32]byte{}) {
		return &bodyDigest{Hash: sha256.New(), name: "SHA-256", says: "the request says", want: req.sha256[:]}
	}
	return &bodyDigest{Hash: md5.New(), name: "MD5", says: "the header says", want: req.md5[:]}
}

// mismatch is the client's error message when the body does not match, or "".
func (d *bodyDigest) mismatch() string {
	if sum := d.Sum(nil); !bytes.Equal(sum, d.want) {
		return fmt.Sprintf("Checksum mismatch: the body's %s is %x but %s %x; the file changed in transit or the size is wrong", d.name, sum, d.says, d.want)
	}
	return ""
}

// errorCode maps a conversion failure to the protocol's code.
func errorCode(k convert.Kind) wire.ErrorCode {
	switch k {
	case convert.KindEmpty, convert.KindBadOption:
		return wire.CodeBadRequest
	case convert.KindUnknownType, convert.KindTypeMismatch:
		return wire.CodeTypeMismatch
	case convert.KindLimit:
		return wire.CodeLimitExceeded
	case convert.KindCorrupt, convert.KindEncrypted:
		return wire.CodeConversionFailed
	case convert.KindCancelled:
		return wire.CodeTimeout
	}
	return wire.CodeInternal
}

// convert runs one conversion once a slot is free, so that at most Concurrency
// conversions compete for the cores however many jobs are queued.
func (s *Server) convert(ctx context.Context, op wire.Operation, body []byte, opts convert.Options) (convert.Result, error) {
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
	return s.conv.ConvertWith(ctx, op, body, opts)
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
