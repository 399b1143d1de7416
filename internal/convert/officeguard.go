package convert

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"

	"github.com/fileconv/fileconv/internal/fail"
)

// An Office Open XML or OpenDocument file is a ZIP, and a ZIP can be a bomb:
// a few kilobytes that unpack to gigabytes, or a million entries. Both are
// checked here, in Go, before LibreOffice sees the file: the entry count and
// the sizes the directory declares first, then, since those are the file's
// own word, what the entries really inflate to, stopped at the limit.

// maxOfficeEntries bounds the entries of an office document's ZIP: a large
// workbook or a deck with many pictures has a few thousand.
const maxOfficeEntries = 10_000

// checkOfficeZip checks the ZIP of an office document of kind k.
func (c *Converter) checkOfficeZip(k Kind, b []byte) error {
	what := k.Info().Short
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("corrupt %s: its ZIP cannot be read (%v)", what, err)}
	}
	if n := len(zr.File); n > maxOfficeEntries {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("the %s holds %d parts, over the limit of %d", what, n, maxOfficeEntries)}
	}
	limit := uint64(c.cfg.MaxOfficeInflate)
	var declared uint64
	for _, f := range zr.File {
		if declared += f.UncompressedSize64; declared > limit {
			return c.officeTooLarge(what)
		}
	}
	var actual int64
	for _, f := range zr.File {
		n, err := inflatedSize(f, int64(limit)-actual+1)
		if actual += n; actual > int64(limit) {
			return c.officeTooLarge(what)
		}
		if err != nil {
			return &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("corrupt %s: its part %s cannot be unpacked (%v)", what, printableMessage(f.Name), err)}
		}
	}
	return nil
}

// inflatedSize is how many bytes f unpacks to, reading at most limit.
func inflatedSize(f *zip.File, limit int64) (int64, error) {
	r, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(r, limit))
	if n == limit {
		// Stopped at the limit: the checksum, read at the end, is not reached.
		err = nil
	}
	return n, err
}

func (c *Converter) officeTooLarge(what string) error {
	return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf(
		"the %s's parts unpack to more than %d MiB, the limit (max-office-inflate): a ZIP bomb, or a document too large to convert",
		what, c.cfg.MaxOfficeInflate>>20)}
}
