// Package qpdf merges, splits, repairs and decrypts PDFs in memory with qpdf,
// the reference tool for a PDF's structure (Stirling-PDF uses it), through its
// C API. Nothing touches the disk: inputs are read from the caller's bytes and
// outputs are written to memory.
//
// qpdf repairs what it can (a lost cross-reference table, wrong offsets, a
// broken page tree) and says so in warnings, which Output reports. It has no
// limits of its own on memory or time, and a C++ library may abort on a file
// made to crash it, which no Go code can recover from: callers with hostile
// input run it in the PDF reader child process (internal/convert), like
// poppler, so that a crash or a runaway file costs one job, not the worker.
//
// Each call opens its own qpdf objects, so calls may run concurrently.
package qpdf

// #cgo pkg-config: libqpdf
// #include <stdlib.h>
// #include "pdf.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unsafe"
)

// Input is a PDF and the password that opens it: the user or the owner
// password, or "" for a file that is not encrypted or has an empty user
// password. PDF must not change during the call that reads it.
type Input struct {
	PDF      []byte
	Password string
}

// Range is a run of 1-based pages, both ends included. Last is 0 for a range
// that runs to the end of the document, as in wire.PageRange.
type Range struct{ First, Last int }

// Output is a PDF that qpdf wrote: not encrypted, streams compressed, and the
// same bytes for the same input.
type Output struct {
	PDF []byte
	// Repaired is true when qpdf found damage in an input and worked around
	// it (it warned); Warnings holds the first of its messages.
	Repaired bool
	Warnings []string
	// Left names the parts of the inputs that belong to the document, not to
	// a page, and so were not copied with the pages: for Merge, of which
	// input; for Split, of the one input.
	Left []LeftBehind
}

// LeftBehind is a part of an input that an output does not hold.
type LeftBehind struct {
	// Input is the index of the input in Merge's inputs (0 for Split).
	Input int
	Part  DocumentPart
}

// DocumentPart is a part of a PDF that belongs to the document, not to a page.
type DocumentPart int

// The document parts that copying pages leaves behind.
const (
	Outline DocumentPart = 1 << iota // the bookmarks
	Form                             // the form's fields (filled-in values still show on the pages)
)

// leftBehind lists the document parts of src, input i, that hold something.
func (src *doc) leftBehind(i int) []LeftBehind {
	var left []LeftBehind
	parts := DocumentPart(C.fc_document_parts(src.q))
	for _, p := range []DocumentPart{Outline, Form} {
		if parts&p != 0 {
			left = append(left, LeftBehind{Input: i, Part: p})
		}
	}
	return left
}

// maxWarnings bounds Output.Warnings: a badly damaged file draws thousands.
const maxWarnings = 10

var (
	// ErrPassword is an encrypted PDF whose password is missing or wrong.
	ErrPassword = errors.New("encrypted PDF: the password is missing or wrong")
	// ErrDamaged is a PDF that qpdf cannot read, even with repairs: damaged
	// beyond them, not a PDF at all, or using something qpdf does not support.
	ErrDamaged = errors.New("unreadable PDF")
	// ErrRange is a page range outside the document.
	ErrRange = errors.New("page range outside the document")
)

// Version is the version of the qpdf library linked, e.g. "11.3.0".
func Version() string { return C.GoString(C.qpdf_get_qpdf_version()) }

// Pages returns the number of pages of in.
func Pages(in Input) (int, error) {
	d, err := open(in, "input")
	if err != nil {
		return 0, fmt.Errorf("qpdf: pages: %w", err)
	}
	defer d.close()
	n, err := d.pages()
	if err != nil {
		return 0, fmt.Errorf("qpdf: pages: %w", err)
	}
	return n, nil
}

// Rewrite returns the whole of in, repaired where qpdf could and decrypted:
// the document as it is (outlines, forms, metadata), rewritten by qpdf.
func Rewrite(in Input) (Output, error) {
	d, err := open(in, "input")
	if err != nil {
		return Output{}, fmt.Errorf("qpdf: rewrite: %w", err)
	}
	defer d.close()
	out, err := d.write()
	if err != nil {
		return Output{}, fmt.Errorf("qpdf: rewrite: %w", err)
	}
	return out, nil
}

// Merge returns one PDF holding the pages of every input in order; an input
// without pages adds none. Only pages are copied, with what they use
// (contents, fonts, annotations with their appearance): document-level parts
// of the inputs (outlines, the form's field tree, metadata) are left behind.
// The C API lacks the helpers with which qpdf's --pages carries form fields
// over, so a filled field still shows its value but is a field no more.
func Merge(inputs []Input) (Output, error) {
	if len(inputs) == 0 {
		return Output{}, errors.New("qpdf: merge: no inputs")
	}
	dst, err := empty()
	if err != nil {
		return Output{}, fmt.Errorf("qpdf: merge: %w", err)
	}
	defer dst.close()
	// A copied page's streams are read from its source only while dst is
	// written, so every source stays open until then.
	srcs := make([]*doc, 0, len(inputs))
	defer func() {
		for _, s := range srcs {
			s.close()
		}
	}()
	for i, in := range inputs {
		src, err := open(in, fmt.Sprintf("input %d", i+1))
		if err != nil {
			return Output{}, fmt.Errorf("qpdf: merge: %w", err)
		}
		srcs = append(srcs, src)
		n, err := src.pages()
		if err != nil {
			return Output{}, fmt.Errorf("qpdf: merge: %w", err)
		}
		if err := dst.addPages(src, 1, n); err != nil {
			return Output{}, fmt.Errorf("qpdf: merge: %w", err)
		}
	}
	out, err := dst.write(srcs...)
	if err != nil {
		return Output{}, fmt.Errorf("qpdf: merge: %w", err)
	}
	for i, src := range srcs {
		out.Left = append(out.Left, src.leftBehind(i)...)
	}
	return out, nil
}

// Split returns one PDF per range, each holding those pages of in. Ranges
// may overlap and come in any order. As with Merge, only pages are copied.
func Split(in Input, ranges []Range) ([]Output, error) {
	if len(ranges) == 0 {
		return nil, fmt.Errorf("qpdf: split: %w: no ranges", ErrRange)
	}
	src, err := open(in, "input")
	if err != nil {
		return nil, fmt.Errorf("qpdf: split: %w", err)
	}
	defer src.close()
	n, err := src.pages()
	if err != nil {
		return nil, fmt.Errorf("qpdf: split: %w", err)
	}
	for _, r := range ranges {
		if err := r.check(n); err != nil {
			return nil, fmt.Errorf("qpdf: split: %w", err)
		}
	}
	// The warnings src drew while it was opened concern every part; those
	// drawn while a part is written concern that part.
	opened, openedN := src.warnings, src.warned
	outs := make([]Output, 0, len(ranges))
	for _, r := range ranges {
		src.warnings, src.warned = slices.Clone(opened), openedN
		out, err := extract(src, r.First, r.last(n))
		if err != nil {
			return nil, fmt.Errorf("qpdf: split: pages %d-%d: %w", r.First, r.last(n), err)
		}
		out.Left = src.leftBehind(0)
		outs = append(outs, out)
	}
	return outs, nil
}

// extract writes pages first to last of src as a PDF of their own.
func extract(src *doc, first, last int) (Output, error) {
	dst, err := empty()
	if err != nil {
		return Output{}, err
	}
	defer dst.close()
	if err := dst.addPages(src, first, last); err != nil {
		return Output{}, err
	}
	return dst.write(src)
}

func (r Range) last(n int) int {
	if r.Last == 0 {
		return n
	}
	return r.Last
}

func (r Range) check(n int) error {
	switch {
	case r.First < 1 || r.Last < 0 || (r.Last != 0 && r.Last < r.First):
		return fmt.Errorf("%w: %d-%d is not a range of pages from 1", ErrRange, r.First, r.Last)
	case r.First > n || r.last(n) > n:
		return fmt.Errorf("%w: pages %d-%d of a document of %d", ErrRange, r.First, r.last(n), n)
	}
	return nil
}

// doc is one qpdf_data: a PDF read from memory or made empty.
type doc struct {
	q C.qpdf_data
	// pin keeps the input where it is until qpdf_cleanup: qpdf reads the
	// caller's bytes, without a copy, whenever it needs an object.
	pin runtime.Pinner
	// warnings are the messages taken from qpdf so far, up to maxWarnings;
	// warned counts them all.
	warnings []string
	warned   int
}

// open reads in; name stands for it in qpdf's messages ("input 2").
func open(in Input, name string) (*doc, error) {
	if len(in.PDF) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrDamaged, name)
	}
	if strings.IndexByte(in.Password, 0) >= 0 {
		return nil, fmt.Errorf("%w: %s: a password cannot hold a NUL byte", ErrPassword, name)
	}
	d := &doc{q: C.fc_new()}
	if d.q == nil {
		return nil, errors.New("qpdf_init failed")
	}
	d.pin.Pin(unsafe.SliceData(in.PDF))
	desc := C.CString(name)
	defer C.free(unsafe.Pointer(desc))
	pw := C.CString(in.Password)
	defer C.free(unsafe.Pointer(pw))
	status := C.qpdf_read_memory(d.q, desc, (*C.char)(unsafe.Pointer(unsafe.SliceData(in.PDF))), C.ulonglong(len(in.PDF)), pw)
	if err := d.check(status); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// empty returns a document without pages, to copy pages into.
func empty() (*doc, error) {
	d := &doc{q: C.fc_new()}
	if d.q == nil {
		return nil, errors.New("qpdf_init failed")
	}
	if err := d.check(C.qpdf_empty_pdf(d.q)); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *doc) close() {
	q := d.q
	C.qpdf_cleanup(&q)
	d.q = nil
	d.pin.Unpin()
}

func (d *doc) pages() (int, error) {
	n := int(C.qpdf_get_num_pages(d.q))
	if err := d.check(C.QPDF_SUCCESS); err != nil {
		return 0, err
	}
	return n, nil
}

// addPages appends pages first to last (1-based) of src. qpdf copies a page
// from another file with everything it refers to, annotations included, and
// copies a page added twice, so that each appears on its own.
func (d *doc) addPages(src *doc, first, last int) error {
	if first > last {
		return nil
	}
	status := C.fc_add_pages(d.q, src.q, C.int(first-1), C.int(last-1))
	if err := src.check(C.QPDF_SUCCESS); err != nil {
		return err
	}
	return d.check(status)
}

// write writes d to memory. srcs are the documents d's pages came from: they
// set its least PDF version, and their warnings, drawn while qpdf read them
// for d, are d's too.
func (d *doc) write(srcs ...*doc) (Output, error) {
	if err := d.check(C.fc_init_write(d.q)); err != nil {
		return Output{}, err
	}
	for _, s := range srcs {
		C.fc_raise_version(d.q, s.q)
	}
	if err := d.check(C.qpdf_write(d.q)); err != nil {
		return Output{}, err
	}
	n := int(C.qpdf_get_buffer_length(d.q))
	p := C.qpdf_get_buffer(d.q)
	if p == nil || n == 0 {
		return Output{}, errors.New("qpdf wrote nothing")
	}
	out := Output{PDF: make([]byte, n)}
	copy(out.PDF, unsafe.Slice((*byte)(unsafe.Pointer(p)), n))
	warned := d.warned
	out.Warnings = append(out.Warnings, d.warnings...)
	for _, s := range srcs {
		s.takeWarnings()
		warned += s.warned
		out.Warnings = append(out.Warnings, s.warnings...)
	}
	out.Repaired = warned > 0
	out.Warnings = out.Warnings[:min(len(out.Warnings), maxWarnings)]
	return out, nil
}

// check turns qpdf's error, if the last call on d made one, into an error
// that wraps ErrPassword or ErrDamaged, and takes the warnings since the last
// check. qpdf reports through status for some calls and only through
// qpdf_has_error for others, so both are read.
func (d *doc) check(status C.QPDF_ERROR_CODE) error {
	d.takeWarnings()
	if status&C.QPDF_ERRORS == 0 && C.qpdf_has_error(d.q) == 0 {
		return nil
	}
	e := C.qpdf_get_error(d.q)
	if e == nil {
		return fmt.Errorf("%w: qpdf failed without a message", ErrDamaged)
	}
	text := C.GoString(C.qpdf_get_error_full_text(d.q, e))
	switch C.qpdf_get_error_code(d.q, e) {
	case C.qpdf_e_password:
		return fmt.Errorf("%w: %s", ErrPassword, text)
	case C.qpdf_e_internal:
		// A logic error in qpdf or memory exhausted (std::bad_alloc lands
		// here too): the server's fault rather than the file's.
		return fmt.Errorf("qpdf internal error: %s", text)
	default:
		// Damaged, pages, object, unsupported, and "system", which qpdf
		// gives any std::runtime_error: with nothing but memory to read,
		// those come from the file.
		return fmt.Errorf("%w: %s", ErrDamaged, text)
	}
}

// takeWarnings drains qpdf's warnings: each is a repair qpdf made.
func (d *doc) takeWarnings() {
	for C.qpdf_more_warnings(d.q) != 0 {
		w := C.qpdf_next_warning(d.q)
		if w == nil {
			return
		}
		d.warned++
		if len(d.warnings) < maxWarnings {
			d.warnings = append(d.warnings, C.GoString(C.qpdf_get_error_full_text(d.q, w)))
		}
	}
}
