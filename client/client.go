// Package client is the Go client of a fileconv master: the one way programs, the
// CLI, the web tier and the load tool talk to it. It speaks protocol v1.0 over TLS.
//
// A Client is safe for concurrent use; each conversion uses its own connection.
package client

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/fileconv/fileconv/internal/wire"
)

// Operation is a conversion the master performs.
type Operation = wire.Operation

// The operations of protocol v1.0.
const (
	ToJPEG    = wire.OpToJPEG
	ToPNG     = wire.OpToPNG
	ToWEBP    = wire.OpToWEBP
	TextToPDF = wire.OpTextToPDF
	PDFToText = wire.OpPDFToText
)

// ParseOperation accepts a target format (jpg, jpeg, png, webp, pdf, txt) or an
// operation number 1 to 5.
func ParseOperation(s string) (Operation, error) { return wire.ParseOperation(s) }

// Defaults of Client.
const (
	DefaultAddr        = "127.0.0.1:5000"
	DefaultDialTimeout = 10 * time.Second
	DefaultTimeout     = 5 * time.Minute
)

// Client converts files through a master. The zero value talks to
// 127.0.0.1:5000 with the system's root certificates and no token.
type Client struct {
	// Addr is the master's host:port. Default 127.0.0.1:5000.
	Addr string
	// Token is the auth token; the protocol carries at most 32 bytes of it.
	Token string
	// TLSConfig verifies the master; nil means the system's roots and the host
	// name of Addr.
	TLSConfig *tls.Config
	// DialTimeout bounds connecting and the TLS handshake. Default 10 seconds.
	DialTimeout time.Duration
	// Timeout bounds a whole conversion when ctx has no earlier deadline.
	// Default 5 minutes.
	Timeout time.Duration
}

// ServerError is a conversion the server refused or could not do; Message is
// the server's explanation.
type ServerError struct {
	Message string
}

func (e *ServerError) Error() string { return "server: " + e.Message }

// ErrServer matches every *ServerError with errors.Is.
var ErrServer = errors.New("server error")

// Is lets errors.Is(err, ErrServer) tell a server's answer from a transport failure.
func (e *ServerError) Is(target error) bool { return target == ErrServer }

// maxErrorMessage bounds how much of an error answer is kept.
const maxErrorMessage = 64 << 10

// Convert sends size bytes of input, named name, for conversion op and writes
// the converted file to output. input is read twice, once for the checksum the
// protocol requires before the body; it must be positioned at the start. It
// returns the number of bytes written. A refusal by the server is a *ServerError.
//
// In protocol v1.0 an answer starting with "ERROR: " is an error, so a PDF whose
// text starts with those bytes cannot be told from one.
func (c *Client) Convert(ctx context.Context, op Operation, name string, input io.ReadSeeker, output io.Writer) (int64, error) {
	start, err := input.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("convert %s: %w", name, err)
	}
	sum := md5.New()
	size, err := io.Copy(sum, input)
	if err != nil {
		return 0, fmt.Errorf("convert %s: read input: %w", name, err)
	}
	if _, err := input.Seek(start, io.SeekStart); err != nil {
		return 0, fmt.Errorf("convert %s: %w", name, err)
	}
	h := wire.Header{Version: wire.Version10, Token: c.Token, Filename: wireName(name), Size: uint64(size), Operation: op}
	copy(h.Checksum[:], sum.Sum(nil))

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmpDefault(c.Timeout, DefaultTimeout))
		defer cancel()
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return 0, fmt.Errorf("convert %s: %w", name, err)
	}
	defer conn.Close()
	// A cancelled context closes the connection, which ends any blocked read or
	// write and tells the master to stop the conversion.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	n, err := exchange(conn, h, io.LimitReader(input, size), output)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
	}
	if err != nil {
		return n, fmt.Errorf("convert %s: %w", name, err)
	}
	return n, nil
}

// ConvertBytes converts input in memory and returns the result.
func (c *Client) ConvertBytes(ctx context.Context, op Operation, name string, input []byte) ([]byte, error) {
	var out bytes.Buffer
	_, err := c.Convert(ctx, op, name, bytes.NewReader(input), &out)
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (c *Client) dial(ctx context.Context) (*tls.Conn, error) {
	addr := cmpDefault(c.Addr, DefaultAddr)
	dctx, cancel := context.WithTimeout(ctx, cmpDefault(c.DialTimeout, DefaultDialTimeout))
	defer cancel()
	d := tls.Dialer{Config: c.TLSConfig}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return conn.(*tls.Conn), nil
}

// exchange sends one request and reads its answer.
func exchange(conn net.Conn, h wire.Header, body io.Reader, output io.Writer) (int64, error) {
	hdr := h.Encode()
	if _, err := conn.Write(hdr[:]); err != nil {
		return 0, fmt.Errorf("send header: %w", err)
	}
	buf := make([]byte, 64<<10)
	if _, err := io.CopyBuffer(writerOnly{conn}, body, buf); err != nil {
		// The server may have refused the request early and closed: its
		// answer explains better than the broken pipe.
		if _, rerr := readAnswer(conn, io.Discard); rerr != nil {
			var se *ServerError
			if errors.As(rerr, &se) {
				return 0, se
			}
		}
		return 0, fmt.Errorf("send body: %w", err)
	}
	return readAnswer(conn, output)
}

// readAnswer reads a response; an answer starting with the error prefix becomes a
// *ServerError, anything else is copied to output.
func readAnswer(r io.Reader, output io.Writer) (int64, error) {
	size, err := wire.ReadResponseSize(r)
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	body := io.LimitReader(r, int64(size))
	prefix := make([]byte, min(uint64(len(wire.ErrorPrefix)), size))
	if _, err := io.ReadFull(body, prefix); err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	if wire.IsError(prefix) {
		msg, err := io.ReadAll(io.LimitReader(body, maxErrorMessage))
		if err != nil {
			return 0, fmt.Errorf("read error answer: %w", err)
		}
		return 0, &ServerError{Message: string(msg)}
	}
	n, err := output.Write(prefix)
	if err != nil {
		return int64(n), fmt.Errorf("write result: %w", err)
	}
	m, err := io.Copy(output, body)
	total := int64(n) + m
	if err == nil && uint64(total) < size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return total, fmt.Errorf("read result (%d of %d bytes): %w", total, size, err)
	}
	return total, nil
}

// writerOnly hides a connection's ReadFrom so io.CopyBuffer uses the 64 KiB buffer.
type writerOnly struct{ io.Writer }

// wireName is the last element of name, cut to the header's 30 bytes at a
// character boundary (the original cut mid-character).
func wireName(name string) string {
	base := filepath.Base(name)
	if base == "." || base == string(filepath.Separator) {
		base = ""
	}
	if len(base) > wire.FilenameLen {
		cut := wire.FilenameLen
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut]
	}
	return base
}

func cmpDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
