package convert

import (
	"context"

	"github.com/fileconv/fileconv/internal/wire"
)

// Options tune one conversion (protocol v2). The zero value converts exactly as
// protocol v1.0 does, with the Config's qualities.
type Options struct {
	// Quality overrides Config.JPEGQuality or Config.WEBPQuality, 1–100; 0 keeps it.
	Quality int
	// Lossless asks for a lossless WEBP.
	Lossless bool
	// PageSize is "A4" (default) or "Letter" for TXT → PDF.
	PageSize string
	// Pages selects the pages of a PDF → TXT, e.g. "1-3,7"; empty means all.
	Pages string
}

// ConvertWith is Convert with per-request options. The protocol layer has already
// checked that the options fit the operation.
func (c *Converter) ConvertWith(ctx context.Context, op wire.Operation, input []byte, opts Options) (Result, error) {
	if opts == (Options{}) {
		return c.Convert(ctx, op, input)
	}
	tuned := *c
	if opts.Quality > 0 {
		tuned.cfg.JPEGQuality, tuned.cfg.WEBPQuality = opts.Quality, opts.Quality
	}
	tuned.opts = opts
	return tuned.Convert(ctx, op, input)
}

// Name is the type's lower-case name as protocol v2 reports it: jpeg, png, webp,
// pdf, text or unknown.
func (t Type) Name() string {
	switch t {
	case TypeJPEG:
		return "jpeg"
	case TypePNG:
		return "png"
	case TypeWEBP:
		return "webp"
	case TypePDF:
		return "pdf"
	case TypeText:
		return "text"
	}
	return "unknown"
}
