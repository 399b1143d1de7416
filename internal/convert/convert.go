// Package convert detects the type of an input from its magic numbers and converts
// it in memory. It is pure: bytes in, bytes out, limits enforced, no network and no
// disk. Every error it returns to a caller is an *Error whose Message can be shown to
// the client as it is.
package convert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// Config holds the conversion limits and output settings. The zero value of a field
// means its default (see WithDefaults).
type Config struct {
	// MaxPixels bounds width × height of an input image, checked from its header
	// before any pixel is decoded. Default 64 megapixels (about 256 MB as RGBA).
	MaxPixels int64
	// MaxPDFPages bounds the pages of a PDF input for PDF → TXT. Default 2000.
	MaxPDFPages int
	// MaxPDFInflate bounds the bytes the compressed streams of a PDF decode to,
	// checked before poppler opens it. Default 256 MiB, the largest body: a
	// compressed PDF then gives poppler no more to read than an uncompressed one
	// could, where a 1 MB deflate stream can otherwise hold a gigabyte.
	MaxPDFInflate int64
	// MaxPDFNesting bounds how deep the arrays and dictionaries of a PDF nest,
	// and, 16 times as deep, the graphics states (q) and marked-content
	// sequences (BMC/BDC) its content leaves open. Default 256, at most 500:
	// poppler's parser stops nesting at 500 and from there keeps every further
	// bracket as an object of its own.
	MaxPDFNesting int
	// MaxPDFMemory bounds the memory of the process that reads a PDF for
	// PDF → TXT (RLIMIT_DATA of the PDF reader). Default 1 GiB; at least
	// 128 MiB.
	MaxPDFMemory int64
	// PDFInProcess runs poppler in this process instead of a PDF reader
	// process: about a millisecond faster per PDF, but a PDF that keeps poppler
	// busy then holds its slot until poppler returns, whatever the deadline, and
	// a crash in poppler ends the process. For the reader itself and for tests.
	PDFInProcess bool
	// MaxTextPages bounds the pages of the PDF that TXT → PDF writes. Default
	// 10 000 (about 50 MB of dense text, a few seconds and 300 MB): the cost is
	// in pages, not bytes, and a text of short paragraphs makes a page of every
	// hundred bytes.
	MaxTextPages int
	// JPEGQuality is the JPEG output quality, 1–100. Default 85.
	JPEGQuality int
	// WEBPQuality is the lossy WEBP output quality, 1–100. Default 80.
	WEBPQuality int
	// PNGCompression is the zlib level of PNG output, 1–9. Default 3: PNG encoding is
	// the slowest step of every conversion to PNG, and on photo-like images level 3
	// ran about three times faster than zlib's usual 6 for files at most 1.5 %
	// larger (docs/performance.md has the measurements).
	PNGCompression int
}

// Defaults of Config.
const (
	DefaultMaxPixels      = 64_000_000
	DefaultMaxPDFPages    = 2000
	DefaultMaxPDFInflate  = 256 << 20
	DefaultMaxPDFNesting  = 256
	DefaultMaxTextPages   = 10_000
	DefaultMaxPDFMemory   = 1 << 30
	minPDFMemory          = 128 << 20
	DefaultJPEGQuality    = 85
	DefaultWEBPQuality    = 80
	DefaultPNGCompression = 3
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.MaxPixels = cmp.Or(c.MaxPixels, DefaultMaxPixels)
	c.MaxPDFPages = cmp.Or(c.MaxPDFPages, DefaultMaxPDFPages)
	c.MaxPDFInflate = cmp.Or(c.MaxPDFInflate, DefaultMaxPDFInflate)
	c.MaxPDFNesting = cmp.Or(c.MaxPDFNesting, DefaultMaxPDFNesting)
	c.MaxTextPages = cmp.Or(c.MaxTextPages, DefaultMaxTextPages)
	c.MaxPDFMemory = cmp.Or(c.MaxPDFMemory, DefaultMaxPDFMemory)
	c.JPEGQuality = cmp.Or(c.JPEGQuality, DefaultJPEGQuality)
	c.WEBPQuality = cmp.Or(c.WEBPQuality, DefaultWEBPQuality)
	c.PNGCompression = cmp.Or(c.PNGCompression, DefaultPNGCompression)
	return c
}

// Validate reports the first setting that is out of range, naming it.
func (c Config) Validate() error {
	switch {
	case c.MaxPixels < 0:
		return fmt.Errorf("max pixels %d: must be positive", c.MaxPixels)
	case c.MaxPDFPages < 0:
		return fmt.Errorf("max PDF pages %d: must be positive", c.MaxPDFPages)
	case c.MaxPDFInflate < 0:
		return fmt.Errorf("max PDF inflate %d: must be positive", c.MaxPDFInflate)
	case c.MaxPDFNesting < 0 || c.MaxPDFNesting > maxPDFNestingLimit:
		return fmt.Errorf("max PDF nesting %d: must be 1 to %d (poppler's parser stops nesting there)", c.MaxPDFNesting, maxPDFNestingLimit)
	case c.MaxPDFMemory != 0 && c.MaxPDFMemory < minPDFMemory:
		return fmt.Errorf("max PDF memory %d: must be at least %d (128 MiB): the PDF reader needs that much to start", c.MaxPDFMemory, minPDFMemory)
	case c.MaxTextPages < 0:
		return fmt.Errorf("max text pages %d: must be positive", c.MaxTextPages)
	case c.JPEGQuality < 0 || c.JPEGQuality > 100:
		return fmt.Errorf("JPEG quality %d: must be 1 to 100", c.JPEGQuality)
	case c.WEBPQuality < 0 || c.WEBPQuality > 100:
		return fmt.Errorf("WEBP quality %d: must be 1 to 100", c.WEBPQuality)
	case c.PNGCompression < 0 || c.PNGCompression > 9:
		return fmt.Errorf("PNG compression %d: must be 0 to 9", c.PNGCompression)
	}
	return nil
}

// Kind classifies a conversion error, so that servers can map it to a protocol code.
type Kind int

// The kinds of conversion error.
const (
	KindInternal     Kind = iota // a bug or a library failure that is not the input's fault
	KindEmpty                    // zero-byte input
	KindUnknownType              // magic numbers match nothing we convert
	KindTypeMismatch             // a known type that does not fit the operation
	KindLimit                    // a configured limit was exceeded
	KindCorrupt                  // the input claims a type but does not decode
	KindEncrypted                // a password-protected PDF
	KindCancelled                // the context ended (client gone or deadline)
	KindBadOption                // a per-request option does not fit the input
)

// Error is a conversion failure. Message is meant for the client: it says what was
// wrong and, where it can, how to fix it. Err, if any, is the underlying cause for logs.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	// A Message often ends with its cause already (e.g. "corrupt PDF: <poppler's
	// words>"); saying it twice would only lengthen log lines.
	if e.Err != nil && !strings.HasSuffix(e.Message, e.Err.Error()) {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err as an *Error, wrapping an unknown error as KindInternal so that
// a caller always has a client-safe message.
func AsError(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindCancelled, Message: "conversion cancelled", Err: err}
	}
	return &Error{Kind: KindInternal, Message: "conversion failed", Err: err}
}

// Result is a finished conversion.
type Result struct {
	Output    []byte
	InputType Type
	// Replaced counts characters of a text input that the embedded font cannot draw
	// and that were replaced (TXT → PDF only); the caller logs it.
	Replaced int
}

// DefaultConcurrency is the number of conversions a worker runs at once by default.
func DefaultConcurrency() int { return runtime.NumCPU() }

// Converter converts inputs under one Config. It is safe for concurrent use; each
// call to Convert uses one core (libvips runs one thread per operation), so a
// worker bounds the calls in flight rather than the threads inside one.
type Converter struct {
	cfg  Config
	font *textFont
	opts Options // per-request options (ConvertWith); zero for Convert
}

// New validates cfg (after WithDefaults) and prepares what every conversion
// shares: libvips, started once per process, and the font used for TXT → PDF.
func New(cfg Config) (*Converter, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("convert config: %w", err)
	}
	if err := libvips.Start(); err != nil {
		return nil, fmt.Errorf("start libvips: %w", err)
	}
	font, err := loadTextFont()
	if err != nil {
		return nil, fmt.Errorf("load the TXT → PDF font: %w", err)
	}
	return &Converter{cfg: cfg, font: font}, nil
}

// Config returns the settings in use, defaults filled in.
func (c *Converter) Config() Config { return c.cfg }

// Convert detects the type of input, checks that it fits op, enforces the limits
// and converts. Every error is an *Error whose Message is ready for the client.
// input is only read, never kept or modified.
func (c *Converter) Convert(ctx context.Context, op wire.Operation, input []byte) (Result, error) {
	if !op.Valid() {
		// The protocol layer rejects unknown operations before they get here, so
		// this is the caller's bug rather than the client's.
		return Result{}, &Error{Kind: KindInternal, Message: fmt.Sprintf("invalid operation %d: use 1 (to JPEG), 2 (to PNG), 3 (to WEBP), 4 (TXT to PDF) or 5 (PDF to TXT)", uint32(op))}
	}
	if len(input) == 0 {
		return Result{}, &Error{Kind: KindEmpty, Message: "empty input: the file has 0 bytes"}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, cancelled(ctx)
	}
	t := Detect(input)
	if err := checkFits(op, t, input); err != nil {
		return Result{InputType: t}, err
	}

	var (
		res Result
		err error
	)
	switch op {
	case wire.OpToJPEG, wire.OpToPNG, wire.OpToWEBP:
		res, err = c.convertImage(ctx, op, t, input)
	case wire.OpTextToPDF:
		res, err = c.textToPDF(ctx, input)
	case wire.OpPDFToText:
		res, err = c.pdfToText(ctx, input)
	}
	res.InputType = t
	if err != nil {
		return res, AsError(err)
	}
	return res, nil
}

// checkFits reports, in the client's terms, why an input of type t cannot go
// through op, or nil when it can.
func checkFits(op wire.Operation, t Type, input []byte) error {
	switch op {
	case wire.OpToJPEG, wire.OpToPNG, wire.OpToWEBP:
		if t.IsImage() {
			return nil
		}
	case wire.OpTextToPDF:
		if t == TypeText {
			return nil
		}
		if t == TypeUnknown {
			// Someone asking for TXT → PDF has a text file in mind; saying where it
			// stops being UTF-8 helps more than "unrecognised".
			return notText(input)
		}
	case wire.OpPDFToText:
		if t == TypePDF {
			return nil
		}
	}
	switch {
	case t.IsImage():
		return &Error{Kind: KindTypeMismatch, Message: t.String() + " image detected: use operation 1, 2 or 3 (to JPEG, PNG or WEBP)"}
	case t == TypePDF:
		return &Error{Kind: KindTypeMismatch, Message: "PDF detected: use operation 5 (to TXT)"}
	case t == TypeText:
		return &Error{Kind: KindTypeMismatch, Message: "text detected: use operation 4 (to PDF)"}
	}
	return &Error{Kind: KindUnknownType, Message: "unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF"}
}

// cancelled is the error of a conversion whose context ended.
func cancelled(ctx context.Context) *Error {
	msg := "conversion cancelled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg = "conversion cancelled: it ran past its deadline"
	}
	return &Error{Kind: KindCancelled, Message: msg, Err: context.Cause(ctx)}
}
