package bench

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
	"strings"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/engines"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// A Sender performs one conversion to target (jpg, avif, pdf: a
// Conversion's Target) and returns the size of the result.
type Sender interface {
	Send(ctx context.Context, target string, input []byte) (int64, error)
	// Protocol names what the sender measures: v1, v2 or inproc.
	Protocol() string
	Close() error
}

// Target is the master a sender talks to.
type Target struct {
	Addr  string
	Token string
	TLS   *tls.Config
	// Timeout bounds one request. Default 5 minutes.
	Timeout time.Duration
}

func (t Target) timeout() time.Duration {
	if t.Timeout <= 0 {
		return 5 * time.Minute
	}
	return t.Timeout
}

// V1Sender speaks protocol v1.0, byte-compatible with the original system: one
// TLS connection per request, the 94-byte header, then the body in writes of
// Chunk bytes, then the answer. It is written here rather than taken from the
// client package so that the size of the writes is what the sweep says, and so
// that nothing but v1.0 goes on the wire (the original server can be measured).
type V1Sender struct {
	Target
	// Chunk is the size of each write of the body. Default 64 KiB.
	Chunk int
}

func (s *V1Sender) Protocol() string { return "v1" }
func (s *V1Sender) Close() error     { return nil }

func (s *V1Sender) Send(ctx context.Context, target string, input []byte) (int64, error) {
	return s.exchange(ctx, target, input, io.Discard)
}

// Fetch performs one conversion and returns its result.
func (s *V1Sender) Fetch(ctx context.Context, target string, input []byte) ([]byte, error) {
	var out bytes.Buffer
	_, err := s.exchange(ctx, target, input, &out)
	return out.Bytes(), err
}

// exchange sends input for target and writes the result to out.
func (s *V1Sender) exchange(ctx context.Context, target string, input []byte, out io.Writer) (int64, error) {
	op, ok := wire.OperationOf(target)
	if !ok {
		return 0, fmt.Errorf("protocol v1.0 has no operation to %s: use v2", target)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	d := tls.Dialer{Config: s.TLS}
	c, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return 0, &dialError{err}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	h := wire.Header{Version: wire.Version10, Token: s.Token, Checksum: md5.Sum(input), Filename: "bench." + op.Target(), Size: uint64(len(input)), Operation: op}
	hdr := h.Encode()
	chunk := s.Chunk
	if chunk <= 0 {
		chunk = 64 << 10
	}
	var werr error
	if _, werr = c.Write(hdr[:]); werr == nil {
		for off := 0; off < len(input); off += chunk {
			if _, werr = c.Write(input[off:min(off+chunk, len(input))]); werr != nil {
				break
			}
		}
	}
	n, rerr := readV1Answer(c, out)
	if ctx.Err() != nil && rerr != nil {
		return 0, fmt.Errorf("%w: %w", ctx.Err(), rerr)
	}
	if rerr != nil && werr != nil {
		// A server that refused early may have closed before reading it all;
		// its answer says why, when it arrived.
		var se *client.ServerError
		if errors.As(rerr, &se) {
			return 0, rerr
		}
		return 0, fmt.Errorf("send body: %w", werr)
	}
	return n, rerr
}

func readV1Answer(r io.Reader, out io.Writer) (int64, error) {
	size, err := wire.ReadResponseSize(r)
	if err != nil {
		return 0, err
	}
	prefix := make([]byte, min(uint64(len(wire.ErrorPrefix)), size))
	if _, err := io.ReadFull(r, prefix); err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	if wire.IsError(prefix) {
		msg, _ := io.ReadAll(io.LimitReader(r, min(int64(size), 64<<10)))
		return 0, &client.ServerError{Message: string(msg), Code: fail.FromV1(string(msg)), Protocol: wire.Version10}
	}
	if _, err := out.Write(prefix); err != nil {
		return 0, err
	}
	n, err := io.CopyN(out, r, int64(size)-int64(len(prefix)))
	if err != nil {
		return 0, fmt.Errorf("read result: %w", err)
	}
	return n + int64(len(prefix)), nil
}

// V2Sender speaks protocol v2 through the client package, with its retries off
// (a load tool must see the errors) and a kept connection per concurrent request.
// The client writes the body in 64 KiB pieces whatever the chunk sweep says, so
// the chunk sweep uses V1Sender.
type V2Sender struct {
	c *client.Client
}

// NewV2Sender makes a v2 sender keeping up to conns idle connections.
func NewV2Sender(t Target, conns int) *V2Sender {
	return &V2Sender{c: &client.Client{
		Addr: t.Addr, Token: t.Token, TLSConfig: t.TLS, Protocol: client.ProtocolV2,
		MaxRetries: -1, MaxIdleConns: max(conns, 1), Timeout: t.timeout(),
	}}
}

func (s *V2Sender) Protocol() string { return "v2" }
func (s *V2Sender) Close() error     { return s.c.Close() }

func (s *V2Sender) Send(ctx context.Context, target string, input []byte) (int64, error) {
	var out countWriter
	_, err := s.c.Convert(ctx, target, "bench."+target, bytesReader(input), &out, client.Options{})
	return int64(out), err
}

type countWriter int64

func (w *countWriter) Write(b []byte) (int, error) { *w += countWriter(len(b)); return len(b), nil }

// InprocSender converts in this process with the converters the workers use: no
// network, no TLS, no relay. It is the ceiling the network path is compared with.
type InprocSender struct {
	c       *convert.Converter
	engines *engines.Engines
}

// NewInprocSender starts the converters with their default settings, and
// schedules this process's threads as a worker schedules its own (SCHED_BATCH)
// so that both convert alike. A worker that cannot change its policy keeps the
// default one, as this process then does. With withEngines, the engines that
// run beside a worker (LibreOffice, Chromium) start too, as a worker's do, and
// it returns once they have passed their self-tests.
func NewInprocSender(withEngines bool) (*InprocSender, error) {
	_ = convert.ScheduleAsBatch()
	c, err := convert.New(convert.Config{})
	if err != nil {
		return nil, err
	}
	s := &InprocSender{c: c}
	if withEngines {
		s.engines = engines.Start(engines.Config{Logger: slog.New(slog.DiscardHandler)})
		s.engines.Attach(c)
		s.engines.WaitStarted()
	}
	return s, nil
}

func (s *InprocSender) Protocol() string { return "inproc" }

// Close is called after every point; the engines stay until Stop.
func (s *InprocSender) Close() error { return nil }

// Stop stops the engines.
func (s *InprocSender) Stop() error {
	if s.engines == nil {
		return nil
	}
	return s.engines.Close()
}

func (s *InprocSender) Send(ctx context.Context, target string, input []byte) (int64, error) {
	res, err := s.c.Convert(ctx, target, input, wire.Options{})
	if err != nil {
		return 0, err
	}
	return int64(len(res.Output)), nil
}

type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// ErrorKind names the kind of a failed request for the errors-by-kind columns:
// the protocol's code for a server's refusal (unauthorized, busy, ...), else
// timeout, tls, connect, network or other.
func ErrorKind(err error) string {
	var se *client.ServerError
	if errors.As(err, &se) {
		return string(se.Code)
	}
	var ce *convert.Error
	if errors.As(err, &ce) && !errors.Is(err, context.DeadlineExceeded) {
		return string(ce.Code)
	}
	var (
		verr *tls.CertificateVerificationError
		aerr tls.AlertError
		rerr tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, client.ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &verr), errors.As(err, &aerr), errors.As(err, &rerr):
		return "tls"
	case errors.Is(err, client.ErrChecksum):
		return "checksum"
	}
	var de *dialError
	if errors.As(err, &de) || strings.Contains(err.Error(), "connect to") {
		return "connect"
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "network"
	}
	return "other"
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
