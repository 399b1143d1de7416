package client

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/fileconv/fileconv/internal/wire"
)

// maxErrorMessage bounds how much of a v1.0 error answer is kept.
const maxErrorMessage = 64 << 10

// convertV1 sends one request in protocol v1.0, on a connection of its own, since
// a v1.0 server closes it after answering.
//
// In v1.0 an answer starting with "ERROR: " is an error, so a PDF whose text
// starts with those bytes cannot be told from one.
func (c *Client) convertV1(ctx context.Context, target string, name string, in *source, output io.Writer, opts Options, p *reporter) (Result, error) {
	res := Result{Protocol: wire.Version10}
	if opts.From == "text" {
		// from=text asks for what v1.0 always does with a text, a web page
		// or an RTF file: draw it as text. So `fileconv send --from text
		// notes.csv`, which turns off reading it as a table, works with a
		// v1.0 server too (which, unlike v2, cannot refuse it for a file
		// that is no text).
		opts.From = ""
	}
	if opts.ConvertOptions != (ConvertOptions{}) {
		return res, fmt.Errorf("protocol v1.0 carries no options (quality, lossless, page size, pages): use a server that speaks v2: %w", ErrUnsupported)
	}
	op, ok := wire.OperationOf(target)
	if !ok {
		return res, fmt.Errorf("protocol v1.0 has no operation for %s: use a server that speaks v2: %w", target, ErrUnsupported)
	}
	sum, err := in.digest("md5", md5.New())
	if err != nil {
		return res, err
	}
	res.InputSize = in.size
	h := wire.Header{Version: wire.Version10, Token: c.token(), Filename: wireName(name), Size: uint64(in.size), Operation: op}
	copy(h.Checksum[:], sum)

	conn, err := c.dial(ctx)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	// A cancelled context closes the connection, which ends any blocked read or
	// write and tells the master to stop the conversion.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	body, err := in.rewind()
	if err != nil {
		return res, err
	}
	res.Size, err = exchange(conn, h, body, output, p)
	return res, err
}

// exchange sends one v1.0 request and reads its answer.
func exchange(conn net.Conn, h wire.Header, body io.Reader, output io.Writer, p *reporter) (int64, error) {
	hdr := h.Encode()
	if _, err := conn.Write(hdr[:]); err != nil {
		return 0, lost(fmt.Errorf("send header: %w", err))
	}
	p.start(Uploading, int64(h.Size))
	src := &inputReader{r: body}
	if _, err := io.CopyBuffer(counter{conn, p}, src, make([]byte, 64<<10)); err != nil {
		if src.err != nil {
			return 0, fmt.Errorf("read input: %w", src.err)
		}
		// The server may have refused the request early and closed: its
		// answer explains better than the broken pipe.
		if _, rerr := readAnswer(conn, io.Discard, &reporter{}); rerr != nil {
			var se *ServerError
			if errors.As(rerr, &se) {
				return 0, se
			}
		}
		return 0, lost(fmt.Errorf("send body: %w", err))
	}
	p.start(Converting, 0)
	return readAnswer(conn, output, p)
}

// readAnswer reads a v1.0 response; an answer starting with the error prefix
// becomes a *ServerError, anything else is copied to output.
func readAnswer(r io.Reader, output io.Writer, p *reporter) (int64, error) {
	size, err := wire.ReadResponseSize(r)
	if err != nil {
		return 0, lost(fmt.Errorf("read answer: %w", err))
	}
	body := io.LimitReader(r, int64(size))
	prefix := make([]byte, min(uint64(len(wire.ErrorPrefix)), size))
	if _, err := io.ReadFull(body, prefix); err != nil {
		return 0, lost(fmt.Errorf("read answer: %w", err))
	}
	if wire.IsError(prefix) {
		msg, err := io.ReadAll(io.LimitReader(body, maxErrorMessage))
		if err != nil {
			return 0, lost(fmt.Errorf("read error answer: %w", err))
		}
		return 0, newV1Error(string(msg))
	}
	p.announce(Result{Size: int64(size), Protocol: wire.Version10})
	p.start(Downloading, int64(size))
	out := counter{output, p}
	n, err := out.Write(prefix)
	if err != nil {
		return int64(n), fmt.Errorf("write result: %w", err)
	}
	src := &inputReader{r: body}
	m, err := io.CopyBuffer(out, src, make([]byte, 64<<10))
	total := int64(n) + m
	switch {
	case err != nil && src.err == nil:
		return total, fmt.Errorf("write result: %w", err)
	case err == nil && uint64(total) < size:
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return total, lost(fmt.Errorf("read result (%d of %d bytes): %w", total, size, err))
	}
	return total, nil
}

// inputReader remembers a failure to read the input, so that it is not taken
// for a failure of the connection.
type inputReader struct {
	r   io.Reader
	err error
}

func (ir *inputReader) Read(b []byte) (int, error) {
	n, err := ir.r.Read(b)
	if err != nil && err != io.EOF {
		ir.err = err
	}
	return n, err
}
