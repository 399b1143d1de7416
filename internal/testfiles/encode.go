package testfiles

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/fileconv/fileconv/internal/libvips"
)

// Format is an image file format.
type Format int

// The image formats fileconv converts between. The first three are the
// original system's; the others are written through libvips (formats.go).
const (
	JPEG Format = iota + 1
	PNG
	WEBP
	TIFF
	HEIC
	AVIF
	JXL
)

func (f Format) String() string {
	switch f {
	case JPEG:
		return "JPEG"
	case PNG:
		return "PNG"
	case WEBP:
		return "WEBP"
	case TIFF, HEIC, AVIF, JXL:
		return vipsFormats[f].name
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Qualities used by Encode: what a camera or an image editor typically writes.
const (
	JPEGQuality = 90
	WEBPQuality = 80
)

// Encode writes img in format f. JPEG and PNG use Go's encoders; the others,
// which Go cannot write, use libvips (WEBP lossy, like most WEBP files met in
// practice; the rest as formats.go says).
func Encode(img image.Image, f Format) ([]byte, error) {
	var buf bytes.Buffer
	switch f {
	case JPEG:
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return nil, fmt.Errorf("encode JPEG: %w", err)
		}
	case PNG:
		if err := png.Encode(&buf, img); err != nil {
			return nil, fmt.Errorf("encode PNG: %w", err)
		}
	case WEBP:
		return viaVips(img, func(r *vips.ImageRef) ([]byte, error) {
			out, _, err := r.ExportWebp(&vips.WebpExportParams{Quality: WEBPQuality, ReductionEffort: 4, StripMetadata: true})
			return out, err
		})
	case TIFF, HEIC, AVIF, JXL:
		return encodeVips(img, f)
	default:
		return nil, fmt.Errorf("encode: unknown format %v", f)
	}
	return buf.Bytes(), nil
}

// CMYKJPEG writes img as a CMYK JPEG (as print workflows produce), through libvips.
func CMYKJPEG(img image.Image) ([]byte, error) {
	return viaVips(img, func(r *vips.ImageRef) ([]byte, error) {
		if err := r.ToColorSpace(vips.InterpretationCMYK); err != nil {
			return nil, err
		}
		out, _, err := r.ExportJpeg(&vips.JpegExportParams{Quality: JPEGQuality})
		return out, err
	})
}

// ProfiledJPEG writes img as a JPEG whose pixels are in Display P3 with the P3 ICC
// profile embedded, like an iPhone photo.
func ProfiledJPEG(img image.Image) ([]byte, error) {
	return viaVips(img, func(r *vips.ImageRef) ([]byte, error) {
		if err := r.TransformICCProfileWithFallback("p3", "srgb"); err != nil {
			return nil, err
		}
		out, _, err := r.ExportJpeg(&vips.JpegExportParams{Quality: JPEGQuality})
		return out, err
	})
}

// viaVips hands img to libvips (as an uncompressed PNG, the one in-memory route
// govips offers without cgo here) and returns what export makes of it.
func viaVips(img image.Image, export func(*vips.ImageRef) ([]byte, error)) ([]byte, error) {
	if err := libvips.Start(); err != nil {
		return nil, fmt.Errorf("start libvips: %w", err)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("hand the image to libvips: %w", err)
	}
	ref, err := vips.NewImageFromBuffer(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("libvips load: %w", err)
	}
	defer ref.Close()
	out, err := export(ref)
	if err != nil {
		return nil, fmt.Errorf("libvips export: %w", err)
	}
	return out, nil
}

type sizeKey struct {
	f      Format
	target int
}

var (
	sizedMu sync.Mutex
	sized   = map[sizeKey][]byte{}
)

// ImageOfSize returns a Photo encoded in format f whose file size is within 3% of
// targetBytes (4:3, the dimensions found by a few rounds of encoding). Results are
// remembered, so benchmarks may ask again at no cost; callers must not modify them.
func ImageOfSize(f Format, targetBytes int) ([]byte, error) {
	if targetBytes < 1024 {
		return nil, fmt.Errorf("image of size %d: the smallest target is 1024 bytes", targetBytes)
	}
	key := sizeKey{f, targetBytes}
	sizedMu.Lock()
	defer sizedMu.Unlock()
	if b, ok := sized[key]; ok {
		return b, nil
	}
	// A first guess of bytes per pixel for Photo.
	bpp := map[Format]float64{JPEG: 0.24, PNG: 1.3, WEBP: 0.11, TIFF: 2, HEIC: 0.08, AVIF: 0.06, JXL: 0.2}[f]
	if bpp == 0 {
		return nil, fmt.Errorf("image of size: unknown format %v", f)
	}
	b, err := EncodedOfSize(f, targetBytes, bpp, func(w, h int) image.Image { return Photo(w, h) })
	if err != nil {
		return nil, fmt.Errorf("image of size: %w", err)
	}
	sized[key] = b
	return b, nil
}

// EncodedOfSize encodes the images draw makes (4:3) in format f, at the area
// whose file is within 3% of targetBytes; bytesPerPixel is the first guess.
// Each round rescales the area by the ratio of target to actual, which converges
// quickly because a file's size grows nearly linearly with the image's area.
func EncodedOfSize(f Format, targetBytes int, bytesPerPixel float64, draw func(w, h int) image.Image) ([]byte, error) {
	b, err := fitSize(targetBytes, 12, float64(targetBytes)/bytesPerPixel, func(area float64) ([]byte, error) {
		h := max(8, int(math.Sqrt(area*3/4)))
		return Encode(draw(max(8, h*4/3), h), f)
	})
	if err != nil {
		return nil, fmt.Errorf("%v: %w", f, err)
	}
	return b, nil
}

// fitSize calls produce with x, then with x rescaled by the ratio of
// targetBytes to the size it made, for at most rounds rounds, until a result is
// within 3% of targetBytes; it returns the closest result then, or an error
// naming the closest size.
func fitSize(targetBytes, rounds int, x float64, produce func(x float64) ([]byte, error)) ([]byte, error) {
	var best []byte
	for range rounds {
		b, err := produce(x)
		if err != nil {
			return nil, err
		}
		if best == nil || absDiff(len(b), targetBytes) < absDiff(len(best), targetBytes) {
			best = b
		}
		if absDiff(len(b), targetBytes)*100 <= targetBytes*3 {
			return best, nil
		}
		x *= float64(targetBytes) / float64(len(b))
	}
	return nil, fmt.Errorf("reached %d bytes, not within 3%% of %d", len(best), targetBytes)
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}
