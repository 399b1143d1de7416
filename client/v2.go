package client

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fileconv/fileconv/internal/wire"
)

// errV1Only says that the server answered a v2 request in v1.0: it does not
// speak v2, and the request may be sent again in v1.0.
var errV1Only = errors.New("the server speaks only protocol v1.0")

// conn is a v2 connection, reusable between requests.
type conn struct {
	tc       *tls.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	prefaced bool
	// reused is set when the connection came from the idle pool: the server may
	// have closed it meanwhile, which a request finds out only by failing.
	reused bool
	timer  *time.Timer
}

func (cc *conn) close() { cc.tc.Close() }

func (c *Client) getConn(ctx context.Context, fresh bool) (*conn, error) {
	if !fresh {
		c.mu.Lock()
		for len(c.idle) > 0 {
			cc := c.idle[len(c.idle)-1]
			c.idle = c.idle[:len(c.idle)-1]
			// A timer that already fired has closed the connection or is about to.
			if cc.timer.Stop() {
				c.mu.Unlock()
				cc.reused = true
				return cc, nil
			}
		}
		c.mu.Unlock()
	}
	tc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{tc: tc, br: bufio.NewReaderSize(tc, 64<<10), bw: bufio.NewWriterSize(tc, 64<<10)}, nil
}

func (c *Client) putConn(cc *conn) {
	maxIdle := cmp.Or(c.MaxIdleConns, DefaultMaxIdleConns)
	c.mu.Lock()
	defer c.mu.Unlock()
	if maxIdle < 0 || len(c.idle) >= maxIdle {
		cc.close()
		return
	}
	cc.timer = time.AfterFunc(cmp.Or(c.IdleTimeout, DefaultIdleTimeout), func() {
		c.mu.Lock()
		for i, x := range c.idle {
			if x == cc {
				c.idle = append(c.idle[:i], c.idle[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
		cc.close()
	})
	c.idle = append(c.idle, cc)
}

// idleConns is the number of pooled connections, for tests.
func (c *Client) idleConns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle)
}

// convertV2 sends one request in protocol v2, on a pooled connection when there
// is one. A pooled connection the server closed while it was idle fails before
// any answer; the request is then sent once more on a fresh connection, which is
// safe because nothing was converted for it.
func (c *Client) convertV2(ctx context.Context, target string, name string, in *source, output *resultOutput, opts Options, p *reporter) (Result, error) {
	req := wire.ConvertRequest{Token: c.token(), Target: target, Name: baseName(name, wire.MaxNameLen), Options: opts.ConvertOptions, Files: opts.files}
	if req.Files == nil {
		// The files of a job of several files carry their own digests.
		sum, err := in.digest("sha256", sha256.New())
		if err != nil {
			return Result{Protocol: wire.Version20}, err
		}
		copy(req.SHA256[:], sum)
	}
	if err := in.measure(); err != nil {
		return Result{Protocol: wire.Version20}, err
	}
	req.Size = uint64(in.size)
	if err := req.Validate(); err != nil {
		return Result{Protocol: wire.Version20, InputSize: in.size}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	fresh := false
	for {
		cc, err := c.getConn(ctx, fresh)
		if err != nil {
			return Result{Protocol: wire.Version20, InputSize: in.size}, err
		}
		// Once roundTrip pools cc, another request may take it: read it before.
		reused := cc.reused
		res, answered, err := c.roundTrip(ctx, cc, req, in, output, p)
		res.Protocol, res.InputSize = wire.Version20, in.size
		// An attempt starts with an empty output (Client.convert), so a count
		// of 0 means that this request wrote nothing yet.
		if err != nil && reused && !answered && output.n == 0 && ctx.Err() == nil {
			fresh = true
			continue
		}
		return res, err
	}
}

// holdConn closes cc if ctx ends while cc is in use. The function it returns
// ends the use: cc goes back to the pool when keep is true and ctx did not end
// meanwhile, and is closed otherwise.
func (c *Client) holdConn(ctx context.Context, cc *conn) (done func(keep bool)) {
	stop := context.AfterFunc(ctx, func() { cc.close() })
	return func(keep bool) {
		if stop() && keep {
			c.putConn(cc)
		} else {
			cc.close()
		}
	}
}

// roundTrip sends req and reads its answer on cc, then pools cc if it can carry
// another request, else closes it. answered reports whether any answer arrived.
func (c *Client) roundTrip(ctx context.Context, cc *conn, req wire.ConvertRequest, in *source, output io.Writer, p *reporter) (res Result, answered bool, err error) {
	keep := false
	done := c.holdConn(ctx, cc)
	defer func() { done(keep) }()
	if err := c.send(cc, req, in, p); err != nil {
		var ie *inputError
		if errors.As(err, &ie) || ctx.Err() != nil {
			return res, false, err
		}
		// The server may have refused early (too_large, a server that speaks
		// only v1.0) and closed: its answer explains better than the broken pipe.
		cc.tc.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, answered, _, rerr := c.readResponse(cc, io.Discard, &reporter{})
		var se *ServerError
		if errors.As(rerr, &se) || errors.Is(rerr, errV1Only) {
			return res, true, rerr
		}
		return res, answered, err
	}
	p.start(Converting, 0)
	res, answered, keep, err = c.readResponse(cc, output, p)
	return res, answered, err
}

// inputError is a failure to read the file being sent, not one of the connection.
type inputError struct{ err error }

func (e *inputError) Error() string { return "read input: " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

func (c *Client) send(cc *conn, req wire.ConvertRequest, in *source, p *reporter) error {
	if !cc.prefaced {
		cc.bw.WriteString(wire.Version20)
		cc.prefaced = true
	}
	if err := wire.WriteConvert(cc.bw, req); err != nil {
		return lost(fmt.Errorf("send request: %w", err))
	}
	body, err := in.rewind()
	if err != nil {
		return &inputError{err}
	}
	p.start(Uploading, int64(req.Size))
	src := &inputReader{r: body}
	n, err := io.CopyBuffer(counter{cc.bw, p}, src, make([]byte, 64<<10))
	switch {
	case src.err != nil:
		return &inputError{src.err}
	case err != nil:
		return lost(fmt.Errorf("send body: %w", err))
	case uint64(n) != req.Size:
		return &inputError{fmt.Errorf("the file shrank from %d to %d bytes while being sent", req.Size, n)}
	}
	if err := cc.bw.Flush(); err != nil {
		return lost(fmt.Errorf("send body: %w", err))
	}
	return nil
}

// readResponse reads the answer to a CONVERT. keep reports whether the
// connection can carry another request.
func (c *Client) readResponse(cc *conn, output io.Writer, p *reporter) (res Result, answered, keep bool, err error) {
	if err := c.checkV1Answer(cc); err != nil {
		return res, !errors.Is(err, errNoAnswer), false, err
	}
	f, err := wire.ReadFrameHeader(cc.br, 0)
	if err != nil {
		err = fmt.Errorf("read answer: %w", err)
		if !errors.Is(err, wire.ErrProtocol) {
			err = lost(err)
		}
		return res, true, false, err
	}
	switch f.Type {
	case wire.FrameError:
		e, err := wire.DecodeErrorResponse(f)
		if err != nil {
			return res, true, false, fmt.Errorf("read answer: %w", err)
		}
		// A server that would not read the body closes after too_large, and a
		// bad_request may mean it lost the framing.
		keep = e.Code != CodeTooLarge && e.Code != CodeBadRequest
		return res, true, keep, newV2Error(e)
	case wire.FrameResult:
	default:
		return res, true, false, fmt.Errorf("read answer: got a %s frame where a RESULT or ERROR was expected: %w", f.Type, wire.ErrProtocol)
	}
	wr, err := wire.DecodeResult(f)
	if err != nil {
		return res, true, false, fmt.Errorf("read answer: %w", err)
	}
	res = Result{JobID: wr.JobID, SHA256: wr.SHA256, InputType: wr.InputType, ContentType: wr.ContentType,
		ReplacedChars: wr.ReplacedChars, Warnings: wr.Warnings, Protocol: wire.Version20}
	announced := res
	announced.Size = int64(wr.Size)
	p.announce(announced)
	p.start(Downloading, int64(wr.Size))
	h := sha256.New()
	out := &writeCounter{w: output}
	src := &inputReader{r: io.LimitReader(cc.br, int64(wr.Size))}
	_, err = io.CopyBuffer(counter{io.MultiWriter(h, out), p}, src, make([]byte, 64<<10))
	res.Size = out.n
	switch {
	case err != nil && src.err == nil:
		return res, true, false, fmt.Errorf("write result: %w", err)
	case err == nil && uint64(out.n) < wr.Size:
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return res, true, false, lost(fmt.Errorf("read result (%d of %d bytes): %w", out.n, wr.Size, err))
	}
	var got [32]byte
	h.Sum(got[:0])
	if got != wr.SHA256 {
		return res, true, true, checksumError(wr.SHA256, got)
	}
	return res, true, true, nil
}

// errNoAnswer marks a connection that ended before the first byte of an answer.
var errNoAnswer = errors.New("no answer")

// checkV1Answer looks at the first byte of the answer: every v2 response type
// has its high bit set, while a v1.0 answer starts with the high byte of its
// size, 0. A v1.0 server answers a v2 preface with "Unsupported protocol version".
func (c *Client) checkV1Answer(cc *conn) error {
	b, err := cc.br.Peek(1)
	if err != nil {
		return lost(fmt.Errorf("read answer: %w: %w", errNoAnswer, err))
	}
	if b[0] != 0 {
		return nil
	}
	_, err = readAnswer(cc.br, io.Discard, &reporter{})
	var se *ServerError
	switch {
	case errors.As(err, &se) && strings.HasPrefix(se.Message, "Unsupported protocol version"):
		if c.Protocol == ProtocolAuto {
			return errV1Only
		}
		return fmt.Errorf("%w; use protocol v1 with this server: %w", errV1Only, se)
	case err != nil:
		return fmt.Errorf("read answer: the server answered in protocol v1.0: %w", err)
	}
	return fmt.Errorf("read answer: the server answered in protocol v1.0: %w", wire.ErrProtocol)
}

func (c *Client) pingV2(ctx context.Context) error {
	for fresh := false; ; fresh = true {
		cc, err := c.getConn(ctx, fresh)
		if err != nil {
			return err
		}
		reused := cc.reused
		answered, err := c.ping(ctx, cc)
		if err != nil && reused && !answered && ctx.Err() == nil {
			continue
		}
		if c.Protocol == ProtocolAuto && errors.Is(err, errV1Only) {
			c.v1Only.Store(true)
			return nil
		}
		return err
	}
}

func (c *Client) ping(ctx context.Context, cc *conn) (answered bool, err error) {
	keep := false
	done := c.holdConn(ctx, cc)
	defer func() { done(keep) }()
	var idb [8]byte
	rand.Read(idb[:])
	id := hex.EncodeToString(idb[:])
	if !cc.prefaced {
		cc.bw.WriteString(wire.Version20)
		cc.prefaced = true
	}
	if err := wire.WritePing(cc.bw, wire.Ping{ID: id}); err != nil {
		return false, err
	}
	if err := cc.bw.Flush(); err != nil {
		return false, fmt.Errorf("send ping: %w", err)
	}
	if err := c.checkV1Answer(cc); err != nil {
		return !errors.Is(err, errNoAnswer), err
	}
	f, err := wire.ReadFrameHeader(cc.br, 0)
	if err != nil {
		return true, fmt.Errorf("read pong: %w", err)
	}
	if f.Type == wire.FrameError {
		e, err := wire.DecodeErrorResponse(f)
		if err != nil {
			return true, fmt.Errorf("read pong: %w", err)
		}
		return true, newV2Error(e)
	}
	pong, err := wire.DecodePong(f)
	if err != nil {
		return true, fmt.Errorf("read pong: %w", err)
	}
	if pong.ID != id {
		return true, fmt.Errorf("read pong: it answers ping %q, not %q: %w", pong.ID, id, wire.ErrProtocol)
	}
	keep = true
	return true, nil
}

// writeCounter counts the bytes written through it.
type writeCounter struct {
	w io.Writer
	n int64
}

func (w *writeCounter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.n += int64(n)
	return n, err
}
