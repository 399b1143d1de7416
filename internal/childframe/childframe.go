// Package childframe frames what a worker and its child processes (the PDF
// and image reader, LibreOffice's processes) pass over their pipes: a 4-byte
// big-endian length, a JSON header of that length, then the body whose size
// the header gives. The header is bounded, so a child gone wrong cannot make
// its parent allocate without end.
package childframe

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// maxHeader bounds a frame's header.
const maxHeader = 1 << 16

// Write writes header and body as one frame and flushes w.
func Write(w *bufio.Writer, header any, body []byte) error {
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(h)))
	w.Write(n[:])
	w.Write(h)
	w.Write(body)
	return w.Flush()
}

// Read reads a frame's header into header; the body follows on r.
func Read(r *bufio.Reader, header any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxHeader {
		return fmt.Errorf("frame header of %d bytes", size)
	}
	h := make([]byte, size)
	if _, err := io.ReadFull(r, h); err != nil {
		return fmt.Errorf("frame header: %w", err)
	}
	return json.Unmarshal(h, header)
}
