package libvips

// #cgo pkg-config: vips
// #include <stdlib.h>
// #include "image.h"
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// Image is a libvips image, owned by one goroutine. libvips images are lazy:
// loading reads the header, each operation adds a step, and the pixels are
// computed once, while Save writes the file. Every method that makes a new
// image replaces the one held and releases it.
//
// fileconv drives libvips through this thin layer rather than govips alone
// because the pipeline needs what govips does not expose: each loader's own
// options (every frame of an animation, one page), the thumbnail operation on
// any format libvips reads, and every saver's options (AVIF's fastest
// effort, HEIC against AVIF compression) through libvips' option strings.
type Image struct {
	p *C.VipsImage
	// pin keeps the input buffer where it is while libvips reads from it: a
	// loaded image decodes its pixels from the caller's bytes, lazily.
	pin runtime.Pinner
}

// Size says how Thumbnail may change an image's size.
type Size int

// Sizes of libvips's thumbnail.
const (
	SizeBoth  Size = C.VIPS_SIZE_BOTH
	SizeDown  Size = C.VIPS_SIZE_DOWN
	SizeForce Size = C.VIPS_SIZE_FORCE
)

// Crop says which part of an image Thumbnail keeps when it crops.
type Crop int

// Crops of libvips's thumbnail.
const (
	CropNone   Crop = C.VIPS_INTERESTING_NONE
	CropCentre Crop = C.VIPS_INTERESTING_CENTRE
)

// Interpretation is the colour space libvips gives an image.
type Interpretation int

// The interpretations fileconv tells apart.
const (
	SRGB   Interpretation = C.VIPS_INTERPRETATION_sRGB
	RGB16  Interpretation = C.VIPS_INTERPRETATION_RGB16
	Grey16 Interpretation = C.VIPS_INTERPRETATION_GREY16
	BW     Interpretation = C.VIPS_INTERPRETATION_B_W
	CMYK   Interpretation = C.VIPS_INTERPRETATION_CMYK
	LAB    Interpretation = C.VIPS_INTERPRETATION_LAB
)

// Format is the type of one sample.
type Format int

// The sample types fileconv tells apart.
const (
	Uchar  Format = C.VIPS_FORMAT_UCHAR
	Ushort Format = C.VIPS_FORMAT_USHORT
)

// Load reads the header of an image in buf with libvips' loader for its
// format; options are the loader's, as "n=-1,fail=true". buf must not change
// until the image is closed.
func Load(buf []byte, options string) (*Image, error) {
	return open(buf, func(p unsafe.Pointer, opts *C.char) *C.VipsImage {
		return C.fc_load(p, C.size_t(len(buf)), opts)
	}, options)
}

// LoadMagick reads buf with ImageMagick, for the formats only it reads.
func LoadMagick(buf []byte, options string) (*Image, error) {
	return open(buf, func(p unsafe.Pointer, opts *C.char) *C.VipsImage {
		return C.fc_magickload(p, C.size_t(len(buf)), opts)
	}, options)
}

// Thumbnail loads buf at width × height with libvips' thumbnail, which shrinks
// while it decodes where the format allows (JPEG, WEBP, HEIF, SVG), so a large
// photo made small is never decoded at full size. options are the loader's.
func Thumbnail(buf []byte, width, height int, size Size, crop Crop, options string) (*Image, error) {
	return open(buf, func(p unsafe.Pointer, opts *C.char) *C.VipsImage {
		return C.fc_thumbnail(p, C.size_t(len(buf)), C.int(width), C.int(height), C.VipsSize(size), C.VipsInteresting(crop), opts)
	}, options)
}

func open(buf []byte, load func(unsafe.Pointer, *C.char) *C.VipsImage, options string) (*Image, error) {
	if len(buf) == 0 {
		return nil, errors.New("empty input")
	}
	img := &Image{}
	img.pin.Pin(unsafe.SliceData(buf))
	opts := C.CString(options)
	defer C.free(unsafe.Pointer(opts))
	img.p = load(unsafe.Pointer(unsafe.SliceData(buf)), opts)
	if img.p == nil {
		img.pin.Unpin()
		return nil, lastError()
	}
	return img, nil
}

// Close releases the image and the input it was read from.
func (img *Image) Close() {
	if img.p != nil {
		C.g_object_unref(C.gpointer(img.p))
		img.p = nil
	}
	img.pin.Unpin()
}

// Width is the image's width in pixels.
func (img *Image) Width() int { return int(img.p.Xsize) }

// Height is the height of the whole image: every page, one below the other.
func (img *Image) Height() int { return int(img.p.Ysize) }

// PageHeight is the height of one page or frame.
func (img *Image) PageHeight() int { return int(C.vips_image_get_page_height(img.p)) }

// Pages is the number of pages or frames in the file, loaded or not.
//
// It reads the loader's n-pages itself: vips_image_get_n_pages answers 1 for
// 10 000 pages or more, which would let a file of a million pages through
// the limits as a file of one.
func (img *Image) Pages() int { return max(img.Int("n-pages"), 1) }

// LoadedPages is the number of pages held, one below the other.
func (img *Image) LoadedPages() int { return img.Height() / max(img.PageHeight(), 1) }

// Bands is the number of bands, alpha included.
func (img *Image) Bands() int { return int(img.p.Bands) }

// Format is the type of each sample.
func (img *Image) Format() Format { return Format(img.p.BandFmt) }

// Interpretation is the image's colour space.
func (img *Image) Interpretation() Interpretation {
	return Interpretation(C.vips_image_guess_interpretation(img.p))
}

// HasAlpha reports whether the image has an alpha band.
func (img *Image) HasAlpha() bool { return C.vips_image_hasalpha(img.p) != 0 }

// Loader names the libvips loader that read the image, e.g. "gifload_buffer".
func (img *Image) Loader() string { return img.String("vips-loader") }

// Has reports whether the image has the metadata field name.
func (img *Image) Has(name string) bool {
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	return C.vips_image_get_typeof(img.p, n) != 0
}

// String returns a string field, or "" when there is none.
func (img *Image) String(name string) string {
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	var s *C.char
	if C.vips_image_get_typeof(img.p, n) == 0 || C.vips_image_get_string(img.p, n, &s) != 0 {
		C.vips_error_clear()
		return ""
	}
	return C.GoString(s)
}

// AsString returns any field as libvips prints it ("0 50 50" for an array
// of delays), or "" when there is none.
func (img *Image) AsString(name string) string {
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	var s *C.char
	if C.vips_image_get_typeof(img.p, n) == 0 || C.vips_image_get_as_string(img.p, n, &s) != 0 {
		C.vips_error_clear()
		return ""
	}
	defer C.g_free(C.gpointer(s))
	return C.GoString(s)
}

// Int returns an integer field, or 0 when there is none.
func (img *Image) Int(name string) int {
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	var v C.int
	if C.vips_image_get_typeof(img.p, n) == 0 || C.vips_image_get_int(img.p, n, &v) != 0 {
		C.vips_error_clear()
		return 0
	}
	return int(v)
}

// Blob returns a binary field (an ICC profile, XMP), or nil.
func (img *Image) Blob(name string) []byte {
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	var data unsafe.Pointer
	var size C.size_t
	if C.vips_image_get_typeof(img.p, n) == 0 || C.vips_image_get_blob(img.p, n, &data, &size) != 0 {
		C.vips_error_clear()
		return nil
	}
	return C.GoBytes(data, C.int(size))
}

// Fields lists the names of the image's metadata fields.
func (img *Image) Fields() []string {
	fields := C.vips_image_get_fields(img.p)
	defer C.g_strfreev(fields)
	var names []string
	for _, f := range unsafe.Slice(fields, 1<<20) {
		if f == nil {
			break
		}
		names = append(names, C.GoString(f))
	}
	return names
}

// Remove drops metadata fields. The image is copied first, since libvips may
// share an image's metadata with the images it was made from.
func (img *Image) Remove(names ...string) error {
	if err := img.apply(func(out **C.VipsImage) C.int { return C.fc_copy(img.p, out) }); err != nil {
		return err
	}
	for _, name := range names {
		n := C.CString(name)
		C.vips_image_remove(img.p, n)
		C.free(unsafe.Pointer(n))
	}
	return nil
}

// apply runs one libvips operation on the image and keeps its result.
func (img *Image) apply(op func(out **C.VipsImage) C.int) error {
	var out *C.VipsImage
	if op(&out) != 0 {
		return lastError()
	}
	C.g_object_unref(C.gpointer(img.p))
	img.p = out
	return nil
}

// Autorot turns the image upright by its EXIF orientation.
func (img *Image) Autorot() error {
	return img.apply(func(out **C.VipsImage) C.int { return C.fc_autorot(img.p, out) })
}

// ICCToSRGB converts the colours from the embedded profile to sRGB, at depth
// 8 or 16 bits per sample.
func (img *Image) ICCToSRGB(depth int) error {
	return img.apply(func(out **C.VipsImage) C.int { return C.fc_icc_to_srgb(img.p, out, C.int(depth)) })
}

// Colourspace converts the image to the interpretation space.
func (img *Image) Colourspace(space Interpretation) error {
	return img.apply(func(out **C.VipsImage) C.int {
		return C.fc_colourspace(img.p, out, C.VipsInterpretation(space))
	})
}

// Cast changes the sample type.
func (img *Image) Cast(format Format) error {
	return img.apply(func(out **C.VipsImage) C.int { return C.fc_cast(img.p, out, C.VipsBandFormat(format)) })
}

// Flatten removes the alpha band, blending the image onto an RGB colour given
// on the 0–255 scale.
func (img *Image) Flatten(r, g, b uint8) error {
	scale, maxAlpha := 1.0, 255.0
	if img.Format() == Ushort {
		scale, maxAlpha = 257, 65535
	}
	return img.apply(func(out **C.VipsImage) C.int {
		return C.fc_flatten(img.p, out, C.double(float64(r)*scale), C.double(float64(g)*scale), C.double(float64(b)*scale), C.double(maxAlpha))
	})
}

// Embed places the image at x, y on a canvas of width × height filled with
// background, one value per band.
func (img *Image) Embed(x, y, width, height int, background []float64) error {
	bg := (*C.double)(C.malloc(C.size_t(len(background)) * C.size_t(unsafe.Sizeof(C.double(0)))))
	defer C.free(unsafe.Pointer(bg))
	copy(unsafe.Slice((*float64)(unsafe.Pointer(bg)), len(background)), background)
	return img.apply(func(out **C.VipsImage) C.int {
		return C.fc_embed(img.p, out, C.int(x), C.int(y), C.int(width), C.int(height), bg, C.int(len(background)))
	})
}

// Page is page k (from 0) of an image whose pages are held one below the
// other, as an image of its own; img stays as it is. Pages taken in order
// decode an animation once, as its loader reads it frame after frame.
func (img *Image) Page(k int) (*Image, error) {
	h := img.PageHeight()
	return img.Rows(k*h, h)
}

// Rows is the band of height rows from row top, as an image of its own; img
// stays as it is.
func (img *Image) Rows(top, height int) (*Image, error) {
	var out *C.VipsImage
	if C.fc_extract(img.p, &out, 0, C.int(top), img.p.Xsize, C.int(height)) != 0 {
		return nil, lastError()
	}
	return &Image{p: out}, nil
}

// Save computes the pixels and writes the image in the format of suffix, with
// the saver's options: ".avif[Q=60,effort=0]".
func (img *Image) Save(suffix string) ([]byte, error) {
	s := C.CString(suffix)
	defer C.free(unsafe.Pointer(s))
	var buf unsafe.Pointer
	var n C.size_t
	if C.fc_save(img.p, s, &buf, &n) != 0 {
		return nil, lastError()
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// XRes is the image's horizontal resolution in pixels per inch, as its file
// says (libvips' default is 72).
func (img *Image) XRes() float64 { return float64(img.p.Xres) * 25.4 }

// Pixels computes the image and returns its samples, row after row, band
// after band within a pixel.
func (img *Image) Pixels() ([]byte, error) {
	var n C.size_t
	buf := C.vips_image_write_to_memory(img.p, &n)
	if buf == nil {
		return nil, lastError()
	}
	defer C.g_free(C.gpointer(buf))
	return C.GoBytes(buf, C.int(n)), nil
}

// lastError takes libvips' error buffer and clears it. The buffer is shared by
// the whole process; convert picks the line that concerns the file.
func lastError() error {
	s := C.vips_error_buffer_copy()
	defer C.g_free(C.gpointer(s))
	msg := C.GoString(s)
	if msg == "" {
		return ErrSilent
	}
	return errors.New(msg)
}

// ErrSilent is libvips failing with nothing in its error buffer, typically on
// a file that stops right after its header (its warnings went to the log).
var ErrSilent = errors.New("libvips failed without a message")
