package serve

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// Request is one conversion request as the door decoded it, whatever protocol it
// came in: past the door nothing branches on the protocol version.
type Request struct {
	// Proto is "v1.0" or "v2.0", for logs only.
	Proto string
	// JobID names the job in every log line: the one a relaying master chose
	// (its token is "fcjob:" and the id), or a new one.
	JobID  string
	Target string
	// Name is the client's file name, informational only: log it with
	// wire.Printable and never use it as a path or to pick a converter.
	Name string
	Size uint64
	// SHA256 is the body's digest (v2); MD5 stands in for it in v1.0 requests
	// and in v2 requests a master relays from v1.0 clients.
	SHA256  [32]byte
	MD5     [16]byte
	Options wire.Options
	// Files, for a request of several files (v2's CONVERT_FILES), says what
	// the body holds: these files one after another; SHA256 is then unused.
	Files []wire.FilePart
	// Token is the client's secret: never log it.
	Token string
	// Invalid is a problem the door found in the request's header. The handler
	// answers it (after its own logging and counting); Size may then be 0.
	Invalid *fail.Error
	// Peer is the client's address.
	Peer string
	// Body reads exactly Size bytes of the request's body.
	Body io.Reader

	ctx  context.Context
	conn *Conn
	read uint64
}

// FromV1 reports whether the request comes from a protocol v1.0 client,
// directly or relayed by a master (which sends v1.0's MD5 in place of a
// SHA-256): such a client gets the original system's conversions only.
func (r *Request) FromV1() bool {
	return r.Proto == wire.Version10 || r.SHA256 == ([32]byte{}) && r.MD5 != ([16]byte{})
}

// ErrClientGone is the cause of a request's context when its client left.
var ErrClientGone = errors.New("the client closed its connection")

// Context is cancelled when the client leaves (noticed once the whole body has
// been read) or when the server's hard stop comes; its deadline is the job's.
func (r *Request) Context() context.Context { return r.ctx }

// BodyRead is how many bytes of the body the handler has read.
func (r *Request) BodyRead() uint64 { return r.read }

type bodyReader struct{ r *Request }

func (b bodyReader) Read(p []byte) (int, error) {
	left := b.r.Size - b.r.read
	if left == 0 {
		return 0, io.EOF
	}
	if uint64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.r.conn.Read(p)
	b.r.read += uint64(n)
	if err == io.EOF && b.r.read < b.r.Size {
		err = fmt.Errorf("the client sent %d of the %d bytes it announced: %w", b.r.read, b.r.Size, io.ErrUnexpectedEOF)
	}
	return n, err
}

// Responder answers one request in the protocol it came in.
type Responder interface {
	// Result announces a converted file; the caller then writes exactly
	// res.Size bytes to the returned writer.
	Result(res wire.Result) (io.Writer, error)
	// Error answers with e.
	Error(e *fail.Error) error
}

// Handler serves one request. It must return once it has answered or the
// request's context has ended.
type RequestHandler func(req *Request, w Responder)

// Door is the connection layer both tiers share: it reads the first bytes once,
// decodes protocol v1.0 or v2 into Requests, answers PINGs and the master's
// probe, watches for a departed client, and drains what a refused request still
// sends so that its client reads the answer rather than a reset.
type Door struct {
	// HeaderTimeout bounds the wait for a connection's first request; Idle the
	// wait between v2 requests; IO each read and write within one; JobTimeout
	// a request from its header to its answer.
	HeaderTimeout, Idle, IO, JobTimeout time.Duration
	// DrainLimit bounds what is read and discarded of a refused request's body.
	DrainLimit int64
	// Stopping, once done, closes v2 connections that are between requests.
	Stopping context.Context
	Logger   *slog.Logger
	Handle   RequestHandler
	// Probe, when set, answers the master's v1.0 health probe.
	Probe func() []byte
	// Once closes a connection after its first request, for answering
	// connections past a server's limit.
	Once bool
}

// Serve answers requests on conn until the client is done or the connection
// cannot carry another request. ctx is the server's hard stop.
func (d *Door) Serve(ctx context.Context, raw net.Conn) {
	conn := &Conn{Conn: raw, Idle: d.HeaderTimeout}
	peer := raw.RemoteAddr().String()
	var version [4]byte
	if _, err := io.ReadFull(conn, version[:]); err != nil {
		// A clean end before any byte is a client that connected, shook hands
		// and left (a TCP health check), not a job to answer.
		if !errors.Is(err, io.EOF) {
			d.serveOne(ctx, conn, d.headerFailed(err, peer), v1Responder{conn})
		}
		return
	}
	if string(version[:]) == wire.Version20 {
		d.serveV2(ctx, conn, peer)
		return
	}
	h, err := wire.ReadHeader(io.MultiReader(strings.NewReader(string(version[:])), conn))
	if err != nil {
		d.serveOne(ctx, conn, d.headerFailed(err, peer), v1Responder{conn})
		return
	}
	if h.IsProbe() && d.Probe != nil {
		_ = wire.WriteResponse(conn, d.Probe())
		return
	}
	req := &Request{Proto: wire.Version10, Target: h.Operation.Target(), Name: h.Filename, Size: h.Size,
		MD5: h.Checksum, Token: h.Token, Peer: peer}
	if err := h.ValidateVersionAndOperation(); err != nil {
		req.Invalid = fail.New(fail.BadRequest, err.Error())
	}
	d.serveOne(ctx, conn, req, v1Responder{conn})
}

// headerFailed is the request of a connection whose first header could not be read.
func (d *Door) headerFailed(err error, peer string) *Request {
	req := &Request{Proto: wire.Version10, Peer: peer}
	if isTimeout(err) {
		req.Invalid = fail.Wrap(fail.Timeout, fmt.Sprintf("timed out after %s waiting for the 94-byte request header", d.HeaderTimeout), err)
	} else {
		req.Invalid = fail.Wrap(fail.BadRequest, "could not read the 94-byte request header: "+err.Error(), err)
	}
	return req
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serveV2 answers protocol v2 frames until the peer closes, idles past Idle, a
// stop comes between requests, or the framing breaks.
func (d *Door) serveV2(ctx context.Context, conn *Conn, peer string) {
	guard := GuardIdle(d.Stopping, conn.Conn)
	defer guard.Release()
	for guard.SetIdle(true) {
		conn.Idle, conn.Until = d.Idle, time.Time{}
		f, err := wire.ReadFrameHeader(conn, 0)
		guard.SetIdle(false)
		conn.Idle = d.IO
		if err != nil {
			if errors.Is(err, wire.ErrProtocol) {
				d.Logger.Info("v2 protocol error; closing", "client", peer, "err", err)
				_ = wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: fail.BadRequest, Message: err.Error()})
			}
			return
		}
		switch f.Type {
		case wire.FramePing:
			p, err := wire.DecodePing(f)
			if err != nil {
				_ = wire.WriteErrorResponse(conn, asErrorResponse(err))
				return
			}
			if err := wire.WritePong(conn, wire.Pong{ID: p.ID}); err != nil || d.Once {
				return
			}
		case wire.FrameConvert, wire.FrameConvertFiles:
			if !d.serveOne(ctx, conn, d.decodeV2(f, peer), &v2Responder{w: conn}) || d.Once {
				return
			}
		default:
			_ = wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: fail.BadRequest, Message: "a " + f.Type.String() + " frame is an answer; send CONVERT or PING"})
			return
		}
	}
}

func (d *Door) decodeV2(f wire.Frame, peer string) *Request {
	r, err := wire.DecodeConvertRequest(f)
	if err != nil {
		e := asErrorResponse(err)
		return &Request{Proto: wire.Version20, Size: f.BodySize, Peer: peer, Invalid: fail.New(e.Code, e.Message)}
	}
	return &Request{Proto: wire.Version20, Target: r.Target, Name: r.Name, Size: r.Size, SHA256: r.SHA256, MD5: r.MD5,
		Options: r.Options, Token: r.Token, Peer: peer, Files: r.Files}
}

func asErrorResponse(err error) *wire.ErrorResponse {
	var e *wire.ErrorResponse
	if errors.As(err, &e) {
		return e
	}
	return &wire.ErrorResponse{Code: fail.BadRequest, Message: err.Error()}
}

// serveOne runs the handler on one request and reports whether the connection
// can carry another: the answer went out whole and the body was consumed.
func (d *Door) serveOne(ctx context.Context, conn *Conn, req *Request, w answerer) bool {
	req.conn = conn
	// The header is in (or failed): from here each read and write of the body
	// and answer waits at most IO, not the header's wait.
	conn.Idle = d.IO
	if id, ok := strings.CutPrefix(req.Token, wire.RelayJobPrefix); ok && id != "" && len(id) <= wire.MaxIDLen {
		req.JobID = id
	} else {
		req.JobID = NewJobID()
	}
	w.setJob(req.JobID)
	conn.Until = time.Now().Add(d.JobTimeout)
	goneCtx, gone := context.WithCancelCause(ctx)
	defer gone(nil)
	jobCtx, cancel := context.WithDeadline(goneCtx, conn.Until)
	defer cancel()
	watch := &watcher{conn: conn, keep: req.Proto == wire.Version20, gone: gone}
	req.ctx = jobCtx
	req.Body = &watchingBody{bodyReader{req}, req, watch}
	d.Handle(req, w)
	watch.stop()
	left := req.Size - req.read
	if left == 0 {
		return w.complete()
	}
	// A refused request: a v2 connection survives once its body is discarded;
	// otherwise some of it is drained so that the client reads the answer
	// rather than a reset.
	conn.Until = time.Time{}
	if req.Proto == wire.Version20 && left <= uint64(d.DrainLimit) && w.complete() {
		n, err := io.CopyN(io.Discard, conn, int64(left))
		req.read += uint64(n)
		return err == nil
	}
	Drain(conn.Conn, left, d.DrainLimit, time.Second)
	return false
}

// watchingBody starts watching for a departed client once the body is read.
type watchingBody struct {
	bodyReader
	req   *Request
	watch *watcher
}

func (b *watchingBody) Read(p []byte) (int, error) {
	n, err := b.bodyReader.Read(p)
	if b.req.read == b.req.Size && n > 0 {
		b.watch.start()
	}
	return n, err
}

// watcher reads from the client while its request is served: a v1.0 client
// sends nothing more, so a read ends only when it leaves; a v2 client may send
// its next request, which is kept for the next read.
type watcher struct {
	conn     *Conn
	keep     bool
	gone     context.CancelCauseFunc
	stopOne  func()
	stopKeep func() []byte
}

func (w *watcher) start() {
	if w.stopOne != nil || w.stopKeep != nil {
		return
	}
	gone := func() { w.gone(ErrClientGone) }
	if w.keep {
		w.stopKeep = WatchPeerKeep(w.conn.Conn, gone)
	} else {
		w.stopOne = WatchPeer(w.conn.Conn, gone)
	}
}

func (w *watcher) stop() {
	switch {
	case w.stopKeep != nil:
		w.conn.Pending = append(w.conn.Pending, w.stopKeep()...)
		w.stopKeep = nil
	case w.stopOne != nil:
		w.stopOne()
		w.stopOne = nil
	}
}

// answerer is a Responder that knows whether its answer went out whole.
type answerer interface {
	Responder
	setJob(id string)
	complete() bool
}

// v1Responder answers in protocol v1.0: an 8-byte size, then the file or
// "ERROR: " and the message.
type v1Responder struct{ conn *Conn }

func (r v1Responder) setJob(string) {}

// complete is false: a v1.0 connection carries one request.
func (r v1Responder) complete() bool { return false }

func (r v1Responder) Result(res wire.Result) (io.Writer, error) {
	var size [wire.ResponseSizeLen]byte
	binary.BigEndian.PutUint64(size[:], res.Size)
	if _, err := r.conn.Write(size[:]); err != nil {
		return nil, fmt.Errorf("send result size: %w", err)
	}
	return r.conn, nil
}

func (r v1Responder) Error(e *fail.Error) error {
	// The job's deadline may be what failed it; the message still deserves its
	// write. (A write that times out leaves TLS broken: the client would read
	// "bad record MAC" instead of the reason.)
	r.conn.Until = time.Time{}
	return wire.WriteError(r.conn, e.TextV1())
}

// v2Responder answers with a RESULT or ERROR frame and counts what it writes,
// so that the connection is kept only after a whole answer.
type v2Responder struct {
	w         *Conn
	jobID     string
	announced uint64
	written   uint64
	answered  bool
	broken    bool
}

func (r *v2Responder) setJob(id string) { r.jobID = id }

func (r *v2Responder) complete() bool {
	return r.answered && !r.broken && r.written == r.announced
}

func (r *v2Responder) Result(res wire.Result) (io.Writer, error) {
	res.JobID = r.jobID
	r.answered, r.announced = true, res.Size
	if err := wire.WriteResult(r.w, res); err != nil {
		r.broken = true
		return nil, err
	}
	return r, nil
}

// Write counts the result's bytes.
func (r *v2Responder) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	r.written += uint64(n)
	if err != nil {
		r.broken = true
	}
	return n, err
}

func (r *v2Responder) Error(e *fail.Error) error {
	r.w.Until = time.Time{}
	r.answered = true
	resp := &wire.ErrorResponse{JobID: r.jobID, Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter}
	if len(resp.Message) > wire.MaxMessageLen {
		resp.Message = resp.Message[:wire.MaxMessageLen]
	}
	if err := wire.WriteErrorResponse(r.w, resp); err != nil {
		r.broken = true
		return err
	}
	return nil
}

// ResultFor builds the RESULT header of output: its size, its digest, the
// detected kind and its media type, and what the conversion replaced or warns
// about, which must reach the client with the file.
func ResultFor(output []byte, kind, contentType string, replaced int, warnings []string) wire.Result {
	return wire.Result{Size: uint64(len(output)), SHA256: sha256.Sum256(output), InputType: kind,
		ContentType: contentType, ReplacedChars: replaced, Warnings: warnings}
}
