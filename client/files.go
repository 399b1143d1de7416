package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/fileconv/fileconv/internal/wire"
)

// Part is one file of a job of several files.
type Part struct {
	// Name is the file's name, informational: the last element is sent.
	Name string
	// Body is read from its current position to its end, twice: once for its
	// size and digest, once to send it (again on a retry).
	Body io.ReadSeeker
}

// ConvertFiles sends several files as one job, whose one result goes to
// output: images, texts and PDFs combined into one PDF, in the order given.
// name names the job in the server's logs ("book.pdf"). It needs protocol v2
// (a CONVERT_FILES request); everything else is as for Convert. The files are
// streamed, never held in memory.
func (c *Client) ConvertFiles(ctx context.Context, target, name string, parts []Part, output io.Writer, opts Options) (Result, error) {
	if len(parts) == 0 {
		return Result{}, fmt.Errorf("convert files: no file given: %w", ErrBadRequest)
	}
	body, files, err := concatParts(parts)
	if err != nil {
		return Result{}, fmt.Errorf("convert files: %w", err)
	}
	opts.files = files
	return c.convertTo(ctx, target, name, body, &resultOutput{writeCounter: writeCounter{w: output}}, opts)
}

// errFilesNeedV2 is the error of a job of several files to a server of v1.0.
var errFilesNeedV2 = fmt.Errorf("combining several files needs protocol v2, and this server speaks only v1.0: %w", ErrBadRequest)

// concatParts measures and hashes each part and joins them into the one body
// the request carries.
func concatParts(parts []Part) (*concatReader, []wire.FilePart, error) {
	cr := &concatReader{}
	files := make([]wire.FilePart, len(parts))
	for i, p := range parts {
		start, err := p.Body.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		h := sha256.New()
		n, err := io.CopyBuffer(h, p.Body, make([]byte, 64<<10))
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", p.Name, err)
		}
		if n == 0 {
			return nil, nil, fmt.Errorf("%s is empty: %w", p.Name, ErrBadRequest)
		}
		files[i] = wire.FilePart{Name: baseName(p.Name, wire.MaxNameLen), Size: uint64(n)}
		h.Sum(files[i].SHA256[:0])
		cr.parts = append(cr.parts, segment{rs: p.Body, start: start, size: n})
		cr.size += n
	}
	return cr, fitNames(files), nil
}

// fitNames leaves the names out when, with them, the request's header would
// pass its 16 KiB: they are informational, the files are not.
func fitNames(files []wire.FilePart) []wire.FilePart {
	total := 0
	for _, f := range files {
		total += len(f.Name) + 120 // the size, the digest, the JSON around them
	}
	if total < wire.MaxHeaderSize-1024 {
		return files
	}
	for i := range files {
		files[i].Name = ""
	}
	return files
}

// segment is one part of a concatReader.
type segment struct {
	rs          io.ReadSeeker
	start, size int64
}

// concatReader reads its parts one after another, as one seekable body.
type concatReader struct {
	parts []segment
	size  int64
	pos   int64
}

func (c *concatReader) Read(p []byte) (int, error) {
	var off int64
	for _, s := range c.parts {
		if c.pos < off+s.size {
			within := c.pos - off
			if _, err := s.rs.Seek(s.start+within, io.SeekStart); err != nil {
				return 0, err
			}
			n, err := io.LimitReader(s.rs, s.size-within).Read(p)
			c.pos += int64(n)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return n, err
		}
		off += s.size
	}
	return 0, io.EOF
}

func (c *concatReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += c.pos
	case io.SeekEnd:
		offset += c.size
	}
	if offset < 0 {
		return c.pos, errors.New("seek before the start")
	}
	c.pos = offset
	return c.pos, nil
}
