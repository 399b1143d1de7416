// Package client is the Go client of a fileconv master: the one way programs, the
// CLI, the web tier and the load tool talk to it.
//
// It speaks protocol v2 (typed errors, a SHA-256 of the result, options, many
// requests per connection) and falls back to protocol v1.0 for servers that only
// speak that. A Client is safe for concurrent use; it keeps a few idle v2
// connections for reuse, and retries requests the server was too busy to take
// or lost with its connection (a master restarting).
package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fileconv/fileconv/internal/wire"
)

// The targets of the original system's conversions. A cluster may offer more:
// targets are names ("gif", "docx" …), and the master's registry lists them
// (GET /api/v1/formats on the web tier).
const (
	ToJPEG    = "jpg"
	ToPNG     = "png"
	ToWEBP    = "webp"
	TextToPDF = "pdf"
	PDFToText = "txt"
)

// ConvertOptions are the conversion's own options (quality, page size, …),
// the same type the servers validate.
type ConvertOptions = wire.Options

// Protocol versions for Client.Protocol.
const (
	ProtocolAuto = ""   // v2, falling back to v1.0 when the server only speaks that
	ProtocolV2   = "v2" // v2 only
	ProtocolV1   = "v1" // v1.0 only: one connection per request, no options
)

// Defaults of Client.
const (
	DefaultAddr         = "127.0.0.1:5000"
	DefaultDialTimeout  = 10 * time.Second
	DefaultTimeout      = 5 * time.Minute
	DefaultMaxRetries   = 3
	DefaultRetryBackoff = 200 * time.Millisecond
	DefaultMaxBackoff   = 10 * time.Second
	DefaultMaxIdleConns = 4
	DefaultIdleTimeout  = 30 * time.Second
)

// Client converts files through a master. The zero value talks to
// 127.0.0.1:5000 with the system's root certificates and no token.
type Client struct {
	// Addr is the master's host:port. Default 127.0.0.1:5000.
	Addr string
	// Token is the auth token; v1.0 carries at most 32 bytes of it, v2 256.
	Token string
	// TokenSource, when set, is asked at each request for the token, in place
	// of Token, so that a long-running client follows a rotated token file
	// without being rebuilt.
	TokenSource func() string
	// TLSConfig verifies the master; nil means the system's roots and the host
	// name of Addr.
	TLSConfig *tls.Config
	// RootCAs, when set, is asked at each new connection for the pool that
	// verifies the master, in place of TLSConfig.RootCAs, so that a long-running
	// client picks up a renewed CA bundle without being rebuilt.
	RootCAs func() *x509.CertPool
	// DialTimeout bounds connecting and the TLS handshake. Default 10 seconds.
	DialTimeout time.Duration
	// Timeout bounds a whole conversion, retries included, when ctx has no
	// earlier deadline. Default 5 minutes.
	Timeout time.Duration
	// Protocol is ProtocolAuto (""), ProtocolV2 or ProtocolV1.
	Protocol string
	// MaxRetries is how many times a request is sent again after the server said
	// busy or unavailable, the connection could not be made, or it broke before
	// any of the result was written. 0 means 3; negative means never.
	MaxRetries int
	// RetryBackoff is the first wait between attempts; it doubles with each
	// retry, with jitter, up to MaxBackoff, and is never shorter than the
	// server's retry_after. Defaults 200 ms and 10 s.
	RetryBackoff, MaxBackoff time.Duration
	// MaxIdleConns bounds the idle v2 connections kept for reuse. 0 means 4;
	// negative means none are kept.
	MaxIdleConns int
	// IdleTimeout closes a connection that stayed idle this long. Default 30 s.
	IdleTimeout time.Duration

	mu   sync.Mutex
	idle []*conn
	// v1Only is learned from a server that answered v2 in v1.0, so that later
	// requests do not pay for the failed attempt again.
	v1Only atomic.Bool
}

// Phase is the step of a conversion a Progress reports.
type Phase int

// The phases of a conversion, in order.
const (
	Uploading Phase = iota + 1
	Converting
	Downloading
)

func (p Phase) String() string {
	switch p {
	case Uploading:
		return "uploading"
	case Converting:
		return "converting"
	case Downloading:
		return "downloading"
	}
	return fmt.Sprintf("phase %d", int(p))
}

// Progress reports how far a conversion is. Total is 0 while converting and
// while downloading a v1.0 answer before its size is known.
type Progress struct {
	Phase       Phase
	Done, Total int64
	// Attempt counts from 1; a retry starts uploading again.
	Attempt int
}

// Options tune one conversion. The zero value converts as protocol v1.0 does.
type Options struct {
	// ConvertOptions travel to the server: quality, lossless, page_size, pages.
	ConvertOptions
	// Progress, if set, is called from the converting goroutine at the start and
	// end of each phase and at most every 100 ms in between.
	Progress func(Progress)
	// OnResult, if set, is called from the converting goroutine when the server
	// announces the result, before its first byte is written to output, with
	// what the announcement says (in v1.0 only Size and Protocol; Size is the
	// announced size). A caller that streams the result on, such as an HTTP
	// handler, can send the warnings ahead of the file. A retried request may
	// call it again; the last call describes the result written.
	OnResult func(Result)
	// files, set by ConvertFiles, makes the request one of several files.
	files []wire.FilePart
}

// Validate checks that the options' values are well-formed, as the server
// would; Convert does it before sending anything. Whether an option fits the
// conversion the server decides, once it knows the input's kind.
func (o Options) Validate() error { return o.ConvertOptions.Validate() }

// Result describes a finished conversion.
type Result struct {
	// JobID names the job in the server's logs (v2 only).
	JobID string
	// Size is the number of bytes written to the output; InputSize those sent.
	Size, InputSize int64
	// SHA256 is the digest of the result, checked on arrival (v2 only).
	SHA256 [32]byte
	// InputType is what the server detected: jpeg, png, webp, text or pdf (v2 only).
	InputType string
	// ContentType is the media type of the result (v2 only).
	ContentType string
	// ReplacedChars counts characters a TXT→PDF could not draw (v2 only).
	ReplacedChars int
	// Warnings say, in the user's words, what the conversion left out or
	// changed (v2 only). The conversion succeeded, but show them with the
	// result: without them it would read as plain success.
	Warnings []string
	// Protocol is the version that carried the request: "v2.0" or "v1.0".
	Protocol string
	// Attempts is how many times the request was sent.
	Attempts int
}

// Convert sends input, named name, to be converted to target ("png", "pdf", …)
// and writes the converted file to output.
//
// The protocol needs the input's digest before its body, so input is read twice:
// an io.ReadSeeker (such as an *os.File) is read from its current position,
// hashed, rewound and sent; any other reader is first copied to a temporary file.
// Neither is held in memory.
//
// A refusal by the server is a *ServerError; match its kind with errors.Is(err,
// ErrBusy) and the like. Busy and unavailable servers, connections that could
// not be made and connections lost before the answer (a master restarting) are
// retried (see MaxRetries); a conversion has no effect but its answer, so
// sending it again is safe. A connection lost after part of the result was
// written is not retried: output then holds a partial file, so write to a
// temporary file and keep it only on success. A result whose SHA-256 differs
// from the server's is an error matching ErrChecksum.
func (c *Client) Convert(ctx context.Context, target string, name string, input io.Reader, output io.Writer, opts Options) (Result, error) {
	return c.convertTo(ctx, target, name, input, &resultOutput{writeCounter: writeCounter{w: output}}, opts)
}

func (c *Client) convertTo(ctx context.Context, target string, name string, input io.Reader, output *resultOutput, opts Options) (Result, error) {
	res, err := c.convert(ctx, target, name, input, output, opts)
	if err != nil {
		if res.Attempts > 1 {
			return res, fmt.Errorf("convert %s (%d attempts): %w", name, res.Attempts, err)
		}
		return res, fmt.Errorf("convert %s: %w", name, err)
	}
	return res, nil
}

func (c *Client) convert(ctx context.Context, target string, name string, input io.Reader, output *resultOutput, opts Options) (Result, error) {
	target = strings.ToLower(strings.TrimPrefix(target, "."))
	if !wire.ValidTargetName(target) {
		return Result{}, fmt.Errorf("target %q: name a format such as png or pdf: %w", wire.Printable(target), ErrBadRequest)
	}
	if err := opts.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	rs, cleanup, err := seekable(input)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	in, err := newSource(rs)
	if err != nil {
		return Result{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmp.Or(c.Timeout, DefaultTimeout))
		defer cancel()
	}
	var res Result
	for attempt := 1; ; attempt++ {
		p := &reporter{fn: opts.Progress, onResult: opts.OnResult, attempt: attempt}
		switch {
		case c.useV1() && opts.files != nil:
			return Result{Attempts: attempt}, errFilesNeedV2
		case c.useV1():
			res, err = c.convertV1(ctx, target, name, in, output, opts, p)
		default:
			res, err = c.convertV2(ctx, target, name, in, output, opts, p)
			if c.Protocol == ProtocolAuto && errors.Is(err, errV1Only) && opts.files != nil {
				c.v1Only.Store(true)
				return res, errFilesNeedV2
			}
			if c.Protocol == ProtocolAuto && errors.Is(err, errV1Only) {
				c.v1Only.Store(true)
				res, err = c.convertV1(ctx, target, name, in, output, opts, p)
			}
		}
		res.Attempts = attempt
		if err != nil && ctx.Err() != nil && !errors.Is(err, context.Cause(ctx)) {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		}
		if err == nil || !retryable(err) || attempt > c.maxRetries() || ctx.Err() != nil || !output.clean() {
			return res, err
		}
		delay := c.backoff(attempt, retryAfter(err))
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			// Waiting would only end in a timeout; the server's answer says more.
			return res, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		case <-t.C:
		}
	}
}

// ConvertBytes converts input in memory and returns the result. Since it owns
// the output, it retries also a connection lost in the middle of the answer.
// It returns no Result: a caller that shows the conversion's warnings to a
// person (Result.Warnings) uses Convert.
func (c *Client) ConvertBytes(ctx context.Context, target string, name string, input []byte) ([]byte, error) {
	var out bytes.Buffer
	if _, err := c.convertTo(ctx, target, name, bytes.NewReader(input), &resultOutput{writeCounter: writeCounter{w: &out}, restart: out.Reset}, Options{}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// resultOutput is where the result goes, across attempts. It counts the bytes
// written since the start, or the last restart.
type resultOutput struct {
	writeCounter
	// restart, when set, discards a partial result so that another attempt can
	// write the whole one; without it, a partial result cannot be taken back.
	restart func()
}

// clean readies the output for another attempt, and reports whether it holds
// nothing of the earlier ones: a result must not follow part of another.
func (o *resultOutput) clean() bool {
	if o.n > 0 && o.restart != nil {
		o.restart()
		o.n = 0
	}
	return o.n == 0
}

// Ping checks that the master answers. In v1.0, which has no ping, it checks
// that a TLS connection can be made.
func (c *Client) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmp.Or(c.DialTimeout, DefaultDialTimeout))
		defer cancel()
	}
	if c.useV1() {
		tc, err := c.dial(ctx)
		if err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		return tc.Close()
	}
	if err := c.pingV2(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close closes the idle connections. The Client stays usable: later requests
// open new ones.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cc := range idle {
		cc.timer.Stop()
		cc.close()
	}
	return nil
}

func (c *Client) token() string {
	if c.TokenSource != nil {
		return c.TokenSource()
	}
	return c.Token
}

func (c *Client) useV1() bool {
	switch c.Protocol {
	case ProtocolV1:
		return true
	case ProtocolAuto:
		return c.v1Only.Load()
	}
	return false
}

func (c *Client) maxRetries() int {
	if c.MaxRetries < 0 {
		return 0
	}
	return cmp.Or(c.MaxRetries, DefaultMaxRetries)
}

// backoff is the wait before attempt+1: exponential with "equal jitter" (half
// fixed, half random) so that clients refused together do not return together,
// and never shorter than what the server asked for.
func (c *Client) backoff(attempt int, after time.Duration) time.Duration {
	base := cmp.Or(c.RetryBackoff, DefaultRetryBackoff)
	maxWait := cmp.Or(c.MaxBackoff, DefaultMaxBackoff)
	d := base
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	d = d/2 + rand.N(d/2+1)
	if after > d {
		d = after + rand.N(after/10+1)
	}
	return d
}

func (c *Client) dial(ctx context.Context) (*tls.Conn, error) {
	addr := cmp.Or(c.Addr, DefaultAddr)
	dctx, cancel := context.WithTimeout(ctx, cmp.Or(c.DialTimeout, DefaultDialTimeout))
	defer cancel()
	cfg := c.TLSConfig
	if c.RootCAs != nil {
		if cfg == nil {
			cfg = &tls.Config{}
		} else {
			cfg = cfg.Clone()
		}
		cfg.RootCAs = c.RootCAs()
	}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{fmt.Errorf("connect to %s: %w", addr, err)}
	}
	return conn.(*tls.Conn), nil
}

// source is the input, hashed lazily: v2 needs its SHA-256, v1.0 its MD5, and a
// request that falls back from one to the other needs both.
type source struct {
	rs    io.ReadSeeker
	start int64
	size  int64
	sums  map[string][]byte
}

func newSource(rs io.ReadSeeker) (*source, error) {
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	return &source{rs: rs, start: start, size: -1, sums: map[string][]byte{}}, nil
}

// rewind positions the input at its start and returns a reader of its size bytes.
func (s *source) rewind() (io.Reader, error) {
	if _, err := s.rs.Seek(s.start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	if s.size < 0 {
		return s.rs, nil
	}
	return io.LimitReader(s.rs, s.size), nil
}

func (s *source) digest(kind string, h interface {
	io.Writer
	Sum([]byte) []byte
}) ([]byte, error) {
	if sum, ok := s.sums[kind]; ok {
		return sum, nil
	}
	r, err := s.rewind()
	if err != nil {
		return nil, err
	}
	n, err := io.CopyBuffer(h, r, make([]byte, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	if s.size >= 0 && n != s.size {
		return nil, fmt.Errorf("read input: the file changed size while being sent (%d then %d bytes)", s.size, n)
	}
	s.size = n
	s.sums[kind] = h.Sum(nil)
	return s.sums[kind], nil
}

// measure learns the input's size, by reading it, unless a digest has.
func (s *source) measure() error {
	if s.size >= 0 {
		return nil
	}
	end, err := s.rs.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	s.size = end - s.start
	return nil
}

// spoolMemory is how much of a reader that cannot seek is kept in memory before
// the rest goes to a temporary file.
const spoolMemory = 1 << 20

func seekable(r io.Reader) (io.ReadSeeker, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		return rs, func() {}, nil
	}
	head, err := io.ReadAll(io.LimitReader(r, spoolMemory+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read input: %w", err)
	}
	if len(head) <= spoolMemory {
		return bytes.NewReader(head), func() {}, nil
	}
	f, err := os.CreateTemp("", "fileconv-input-*")
	if err != nil {
		return nil, nil, fmt.Errorf("spool input: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := f.Write(head); err == nil {
		_, err = io.Copy(f, r)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("spool input: %w", err)
	}
	return f, cleanup, nil
}

// progressEvery throttles Progress calls: enough for a smooth bar, and cheap.
const progressEvery = 100 * time.Millisecond

type reporter struct {
	fn       func(Progress)
	onResult func(Result)
	attempt  int
	phase    Phase
	done     int64
	total    int64
	last     time.Time
}

// announce passes the server's description of the result to Options.OnResult.
func (r *reporter) announce(res Result) {
	if r.onResult != nil {
		res.Attempts = r.attempt
		r.onResult(res)
	}
}

func (r *reporter) start(phase Phase, total int64) {
	r.phase, r.done, r.total = phase, 0, total
	r.emit()
}

func (r *reporter) emit() {
	if r.fn == nil {
		return
	}
	r.last = time.Now()
	r.fn(Progress{Phase: r.phase, Done: r.done, Total: r.total, Attempt: r.attempt})
}

func (r *reporter) add(n int) {
	r.done += int64(n)
	if r.fn != nil && (r.done == r.total || time.Since(r.last) >= progressEvery) {
		r.emit()
	}
}

// finish reports the end of a phase whose total was unknown or not reached.
func (r *reporter) finish() {
	if r.fn != nil && r.done != r.total {
		r.total = max(r.total, r.done)
		r.emit()
	}
}

// counter reports the bytes that pass through it.
type counter struct {
	w io.Writer
	r *reporter
}

func (c counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.r.add(n)
	return n, err
}

// wireName is the last element of name, cut to n bytes at a character boundary
// (the original cut mid-character).
func wireName(name string) string { return baseName(name, wire.FilenameLen) }

func baseName(name string, n int) string {
	base := filepath.Base(name)
	if base == "." || base == string(filepath.Separator) {
		base = ""
	}
	if len(base) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut]
	}
	return base
}
