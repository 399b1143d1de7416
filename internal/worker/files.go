package worker

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/wire"
)

// A job of several files (v2's CONVERT_FILES) has one body, the files one
// after another; each carries its own digest, checked as the body arrives, so
// that a mismatch names the file.

// filesDigest hashes each file of a body on its own.
type filesDigest struct {
	files []wire.FilePart
	sums  [][]byte
	cur   hash.Hash
	left  uint64 // bytes of files[len(sums)] still to come
}

func newFilesDigest(files []wire.FilePart) *filesDigest {
	d := &filesDigest{files: files, cur: sha256.New()}
	if len(files) > 0 {
		d.left = files[0].Size
	}
	return d
}

func (d *filesDigest) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && len(d.sums) < len(d.files) {
		take := min(uint64(len(p)), d.left)
		d.cur.Write(p[:take])
		p, d.left = p[take:], d.left-take
		if d.left == 0 {
			d.sums = append(d.sums, d.cur.Sum(nil))
			d.cur.Reset()
			if i := len(d.sums); i < len(d.files) {
				d.left = d.files[i].Size
			}
		}
	}
	return n, nil
}

func (d *filesDigest) mismatch() string {
	for i, f := range d.files {
		if i >= len(d.sums) {
			return fmt.Sprintf("Checksum mismatch: file %d (%s) ended early; the sizes in the request do not match the body", i+1, wire.Printable(f.Name))
		}
		if !bytes.Equal(d.sums[i], f.SHA256[:]) {
			return fmt.Sprintf("Checksum mismatch: file %d (%s) has the SHA-256 %x but the request says %x; the file changed in transit or the sizes are wrong",
				i+1, wire.Printable(f.Name), d.sums[i], f.SHA256)
		}
	}
	return ""
}

// splitFiles cuts body into the files of a job of several files; nil for a
// job of one.
func splitFiles(parts []wire.FilePart, body []byte) []convert.File {
	if parts == nil {
		return nil
	}
	files := make([]convert.File, len(parts))
	for i, p := range parts {
		files[i] = convert.File{Name: p.Name, Data: body[:p.Size:p.Size]}
		body = body[p.Size:]
	}
	return files
}
