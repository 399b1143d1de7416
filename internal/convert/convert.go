// Package convert detects the type of an input from its magic numbers and converts
// it in memory. It is pure: bytes in, bytes out, limits enforced, no network and no
// disk. Every error it returns to a caller is an *Error whose Message can be shown to
// the client as it is.
package convert

import (
	"context"
	"errors"
	"fmt"
	"runtime"

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
	// JPEGQuality is the JPEG output quality, 1–100. Default 85.
	JPEGQuality int
	// WEBPQuality is the lossy WEBP output quality, 1–100. Default 80.
	WEBPQuality int
	// PNGCompression is the zlib level of PNG output, 0–9. Default 6: PNG encoding is
	// the slowest step of every conversion to PNG, and 6 is zlib's own balance of
	// size and speed (docs/performance.md has the measurements).
	PNGCompression int
}

// Defaults of Config.
const (
	DefaultMaxPixels      = 64_000_000
	DefaultMaxPDFPages    = 2000
	DefaultJPEGQuality    = 85
	DefaultWEBPQuality    = 80
	DefaultPNGCompression = 6
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.MaxPDFPages == 0 {
		c.MaxPDFPages = DefaultMaxPDFPages
	}
	if c.JPEGQuality == 0 {
		c.JPEGQuality = DefaultJPEGQuality
	}
	if c.WEBPQuality == 0 {
		c.WEBPQuality = DefaultWEBPQuality
	}
	if c.PNGCompression == 0 {
		c.PNGCompression = DefaultPNGCompression
	}
	return c
}

// Validate reports the first setting that is out of range, naming it.
func (c Config) Validate() error {
	switch {
	case c.MaxPixels < 0:
		return fmt.Errorf("max pixels %d: must be positive", c.MaxPixels)
	case c.MaxPDFPages < 0:
		return fmt.Errorf("max PDF pages %d: must be positive", c.MaxPDFPages)
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
)

// Error is a conversion failure. Message is meant for the client: it says what was
// wrong and, where it can, how to fix it. Err, if any, is the underlying cause for logs.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
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

var _ = wire.OpToJPEG
