package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"strings"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/image/webp"

	"github.com/fileconv/fileconv/internal/fail"
)

// convertImage converts between image kinds. Nothing is decoded until the size from the
// header has passed the pixel limit: no decoder refuses a decompression bomb by
// itself (a 246-byte WEBP can declare 16383×16383 pixels, 2 GB once decoded).
//
// libvips calls cannot be interrupted once started (govips exposes no kill flag),
// so ctx is checked between steps; the export, which decodes and encodes every
// pixel, is the one long step.
func (c *Converter) convertImage(ctx context.Context, in Input) (Result, error) {
	t, input := in.Kind, in.Data
	// Go's header parsers are pure Go and read a few bytes, so a bomb is refused
	// before libvips sees it. They are stricter than libvips in places (arithmetic
	// JPEG, odd WEBP canvases), so a failure here is not final: libvips gets to
	// read the header too, and its size is checked just the same.
	w, h, goErr := imageHeader(t, input)
	if goErr == nil {
		if err := c.checkPixels(w, h); err != nil {
			return Result{}, err
		}
	}
	if ctx.Err() != nil {
		return Result{}, cancelled(ctx)
	}
	// A strict decode fails at the first decoder warning, so that a truncated
	// file is an error rather than an image with a grey bottom half. libjpeg
	// also warns about flaws every viewer shrugs off (stray bytes before a
	// marker, left by some cameras and editors), so a JPEG that is complete (it
	// ends its last scan with an end-of-image marker) is decoded leniently, as
	// Pillow and browsers do.
	strict := t != KindJPEG || !jpegComplete(input)
	out, err := c.encodeImage(ctx, in.Target, t, input, goErr, strict)
	if err != nil {
		return Result{}, err
	}
	return Result{Output: out}, nil
}

// jpegComplete reports whether an end-of-image marker follows the last
// start-of-scan marker. Neither byte pair can occur inside entropy-coded data
// (an FF there is always followed by 00 or a restart marker), so a file cut
// anywhere after its headers fails this test.
func jpegComplete(b []byte) bool {
	sos := bytes.LastIndex(b, []byte{0xFF, 0xDA})
	return sos >= 0 && bytes.Index(b[sos:], []byte{0xFF, 0xD9}) >= 0
}

// encodeImage loads input with libvips, normalises it and writes it in the
// format of op. strict makes libvips fail at the first decoder warning.
func (c *Converter) encodeImage(ctx context.Context, target string, t Kind, input []byte, goErr error, strict bool) ([]byte, error) {
	// Loading reads only the header; pixels are decoded on demand during export.
	params := vips.NewImportParams()
	params.FailOnError.Set(strict)
	img, err := vips.LoadImageFromBuffer(input, params)
	if err != nil {
		if goErr != nil {
			return nil, corrupt(t, goErr)
		}
		return nil, corrupt(t, vipsError(err))
	}
	defer img.Close()
	if err := c.checkPixels(img.Width(), img.Height()); err != nil {
		return nil, err
	}

	if err := normalise(img, t, target == "jpg"); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, cancelled(ctx)
	}

	var out []byte
	switch target {
	case "jpg":
		out, _, err = img.ExportJpeg(&vips.JpegExportParams{
			StripMetadata: true,
			Quality:       c.cfg.JPEGQuality,
			// Baseline rather than progressive: faster to write and to read, and
			// lighter on the reader's memory.
			Interlace:     false,
			SubsampleMode: vips.VipsForeignSubsampleAuto,
		})
	case "png":
		out, _, err = img.ExportPng(&vips.PngExportParams{
			StripMetadata: true,
			Compression:   c.cfg.PNGCompression,
			// Adaptive filtering, as libpng and Pillow do by default: on photos
			// it makes files a third smaller than no filter, at about twice the
			// encoding time (measured on 4 and 12 MP photos at level 6).
			Filter: vips.PngFilterAll,
		})
	case "webp":
		out, _, err = img.ExportWebp(&vips.WebpExportParams{
			StripMetadata:   true,
			Quality:         c.cfg.WEBPQuality,
			Lossless:        c.opts.Lossless,
			ReductionEffort: 4,
		})
	}
	if err != nil {
		// The export is where the pixels are decoded, so a failure here is almost
		// always damaged image data past a valid header.
		return nil, corrupt(t, vipsError(err))
	}
	return out, nil
}

// normalise applies the EXIF orientation, converts to 8-bit sRGB, drops every
// piece of metadata (EXIF with its GPS position, XMP, IPTC, ICC profile) and, for
// JPEG output, flattens transparency onto white.
func normalise(img *vips.ImageRef, t Kind, flatten bool) error {
	if err := img.AutoRotate(); err != nil {
		return corrupt(t, fmt.Errorf("apply EXIF orientation: %w", vipsError(err)))
	}
	if img.HasICCProfile() {
		// "srgb" is libvips' built-in profile, so nothing is read from disk. A
		// profile lcms cannot parse is ignored rather than failing the image:
		// the pixels are still usable, only their colours are approximate.
		if err := img.TransformICCProfileWithFallback("srgb", "srgb"); err != nil {
			slog.Warn("libvips: ignoring an unusable ICC profile", "kind", string(t), "err", vipsError(err))
			if err := img.RemoveICCProfile(); err != nil {
				return corrupt(t, fmt.Errorf("remove ICC profile: %w", vipsError(err)))
			}
		}
	}
	if img.Interpretation() != vips.InterpretationSRGB || img.BandFormat() != vips.BandFormatUchar {
		// Grey, 16-bit and CMYK inputs; colourspace also casts to 8 bits.
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return corrupt(t, fmt.Errorf("convert the %s colour space to sRGB: %w", interpretationName(img.Interpretation()), vipsError(err)))
		}
		if img.BandFormat() != vips.BandFormatUchar {
			if err := img.Cast(vips.BandFormatUchar); err != nil {
				return corrupt(t, fmt.Errorf("convert to 8 bits per sample: %w", vipsError(err)))
			}
		}
	}
	// The savers' strip option is not enough on its own: libvips 8.14's WEBP
	// writer ignores it and writes an EXIF block built from the image's fields,
	// the GPS position included. Once the fields are gone it only writes a
	// minimal block (orientation 1, resolution). The ICC profile goes too: the
	// pixels are sRGB now, which is what an untagged image means.
	if err := img.RemoveMetadata(); err != nil {
		return corrupt(t, fmt.Errorf("remove metadata: %w", vipsError(err)))
	}
	if img.HasICCProfile() {
		if err := img.RemoveICCProfile(); err != nil {
			return corrupt(t, fmt.Errorf("remove ICC profile: %w", vipsError(err)))
		}
	}
	if flatten && img.HasAlpha() {
		if err := img.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
			return corrupt(t, fmt.Errorf("flatten transparency: %w", vipsError(err)))
		}
	}
	return nil
}

func interpretationName(i vips.Interpretation) string {
	switch i {
	case vips.InterpretationCMYK:
		return "CMYK"
	case vips.InterpretationBW:
		return "greyscale"
	case vips.InterpretationGrey16:
		return "16-bit greyscale"
	case vips.InterpretationRGB16:
		return "16-bit RGB"
	case vips.InterpretationSRGB:
		return "sRGB"
	case vips.InterpretationLAB:
		return "Lab"
	}
	return fmt.Sprintf("libvips interpretation %d", int(i))
}

// imageHeader reads width and height from the header of an image of type t
// without decoding any pixel.
func imageHeader(t Kind, input []byte) (w, h int, err error) {
	var cfg image.Config
	r := bytes.NewReader(input)
	switch t {
	case KindJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case KindPNG:
		// The size sits at a fixed place in IHDR, the first chunk. Reading it
		// directly also covers sizes Go's decoder refuses as overflowing, so a
		// PNG claiming 2³¹×2³¹ pixels is reported as too large, not as corrupt.
		if len(input) >= 24 && string(input[12:16]) == "IHDR" {
			w := binary.BigEndian.Uint32(input[16:20])
			h := binary.BigEndian.Uint32(input[20:24])
			if w <= 1<<31-1 && h <= 1<<31-1 {
				return int(w), int(h), nil
			}
		}
		cfg, err = png.DecodeConfig(r)
	case KindWEBP:
		cfg, err = webp.DecodeConfig(r)
	default:
		return 0, 0, fmt.Errorf("%s is not an image type", t)
	}
	if err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

// checkPixels enforces MaxPixels, naming the limit and its setting.
func (c *Converter) checkPixels(w, h int) error {
	px := int64(w) * int64(h)
	if w <= 0 || h <= 0 {
		return &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt image: it declares a size of %d×%d pixels", w, h)}
	}
	if px > c.cfg.MaxPixels {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("image is %d×%d (%d pixels), over the limit of %d pixels (max-pixels)", w, h, px, c.cfg.MaxPixels)}
	}
	return nil
}

// corrupt is the error for an image of type t that does not decode; cause gives
// the detail the client sees after "corrupt PNG image: ".
func corrupt(t Kind, cause error) *Error {
	var ce *Error
	if errors.As(cause, &ce) {
		return ce
	}
	return &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt %s image: %s", t.Info().Short, describeDecodeError(cause)), Cause: cause}
}

// describeDecodeError turns a Go decoder or libvips error into one short line.
func describeDecodeError(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the file is truncated"
	}
	if msg := err.Error(); msg != "" {
		return msg
	}
	// libvips sometimes fails with nothing in its error buffer, only warnings in
	// the log, typically for a file that stops right after its header.
	return "the file is truncated or damaged"
}

// vipsError turns an error from govips into a plain one worth showing: the
// innermost line of what libvips said, without the Go stack govips appends.
// libvips keeps one error buffer per process, and a failing export adds its own
// line ("vips2png: unable to write to target") after the loader's, which is the
// one that says what is wrong with the file. The buffer is shared by concurrent
// jobs, so the line chosen is the last of its kind: anything older may be
// another job's.
func vipsError(err error) error {
	s := err.Error()
	if i := strings.Index(s, "\nStack:"); i >= 0 {
		s = s[:i]
	}
	lines := strings.Split(s, "\n")
	pick := ""
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if pick == "" || !strings.Contains(line, "unable to write to") {
			pick = line
		}
	}
	// "VipsJpeg: ", "vipspng: " name libvips internals, not the problem.
	if name, rest, ok := strings.Cut(pick, ": "); ok && strings.HasPrefix(strings.ToLower(name), "vips") && rest != "" {
		pick = rest
	}
	return errors.New(printableMessage(pick))
}
