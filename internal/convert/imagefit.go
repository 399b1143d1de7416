package convert

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// resizing reports whether the client asked for a size.
func (j *imageJob) resizing() bool { return j.c.opts.Width > 0 || j.c.opts.Height > 0 }

// thumbnail loads the image at the size asked for. The box sides left out are
// libvips' largest coordinate, so that only the other side decides.
func (j *imageJob) thumbnail(opts string) (*libvips.Image, error) {
	o := j.c.opts
	w, h := o.Width, o.Height
	if w == 0 {
		w = wire.MaxDimension
	}
	if h == 0 {
		h = wire.MaxDimension
	}
	if o.Fit != "" && o.Fit != wire.FitInside {
		// The other fits make exactly w × h, enlarging if need be. The
		// number of frames has passed its limit (max-frames, or a PDF's
		// max-pdf-pages) when the header was read.
		err := j.c.checkPixels(w, h)
		if err == nil && j.keepFrames {
			err = j.c.checkAllFrames(j.kind, w, h, j.frames)
		}
		if err != nil {
			return nil, fail.New(fail.LimitExceeded, "the size asked for: "+err.Error())
		}
	}
	size, crop := libvips.SizeDown, libvips.CropNone
	switch o.Fit {
	case wire.FitContain:
		size = libvips.SizeBoth
	case wire.FitCover:
		size, crop = libvips.SizeBoth, libvips.CropCentre
	case wire.FitFill:
		size = libvips.SizeForce
	}
	img, err := libvips.Thumbnail(j.input, w, h, size, crop, opts)
	if err != nil {
		return nil, corrupt(j.kind, vipsError(err))
	}
	return img, nil
}

// fit pads the image to the box for fit=contain; thumbnail has done the rest.
func (j *imageJob) fit() error {
	o := j.c.opts
	if o.Fit != wire.FitContain {
		return nil
	}
	if j.keepFrames && j.img.LoadedPages() > 1 {
		return fail.New(fail.BadRequest, fmt.Sprintf("fit=contain cannot pad the frames of an animation; use fit=inside, or page=N for one frame"))
	}
	w, h := j.img.Width(), j.img.Height()
	if w == o.Width && h == o.Height {
		return nil
	}
	bg := j.background()
	values := []float64{float64(bg.R), float64(bg.G), float64(bg.B)}
	switch bands := j.img.Bands(); {
	case bands <= 2:
		values = values[:1]
		if bands == 2 {
			values = append(values, 255)
		}
	case bands >= 4:
		values = append(values, 255)
	}
	if err := j.img.Embed((o.Width-w)/2, (o.Height-h)/2, o.Width, o.Height, values); err != nil {
		return corrupt(j.kind, fmt.Errorf("pad to %d×%d: %w", o.Width, o.Height, vipsError(err)))
	}
	return nil
}

// background is the colour asked for, white by default.
func (j *imageJob) background() wire.Colour {
	if j.c.opts.Background == "" {
		return wire.Colour{R: 255, G: 255, B: 255}
	}
	c, _ := wire.ParseColour(j.c.opts.Background) // checked with the options
	return c
}

// colour converts the image to sRGB: from its ICC profile when it has one
// (unless keep_icc), else from its colour space (CMYK, Lab, greyscale), at 16
// bits per sample where the input and the target have them, else at 8.
func (j *imageJob) colour() error {
	img := j.img
	deep := j.target.deep && img.Format() == libvips.Ushort
	depth := 8
	if deep {
		depth = 16
	}
	if j.kind == "jxl" && img.Has("icc-profile-data") {
		// libvips 8.14 hands over JPEG XL pixels already in sRGB, with a
		// profile libjxl made up from the file's colour encoding that does
		// not describe them: applied, it washes the picture out.
		if err := img.Remove("icc-profile-data"); err != nil {
			return corrupt(j.kind, fmt.Errorf("remove the ICC profile: %w", vipsError(err)))
		}
	}
	if img.Has("icc-profile-data") && !(j.c.opts.KeepICC && j.keepsProfile()) {
		// "srgb" is libvips' built-in profile, so nothing is read from disk. A
		// profile lcms cannot parse is dropped rather than failing the image:
		// the pixels are still usable, only their colours approximate.
		if err := img.ICCToSRGB(depth); err != nil {
			j.warnings = append(j.warnings, "the image's colour profile could not be read and was ignored: colours may be slightly off")
			if err := img.Remove("icc-profile-data"); err != nil {
				return corrupt(j.kind, fmt.Errorf("remove the ICC profile: %w", vipsError(err)))
			}
		}
	}
	return j.toSRGB(deep)
}

// keepsProfile reports whether the image's profile can travel as it is: an
// RGB or greyscale image keeps it, a CMYK one is converted all the same,
// since only TIFF and JPEG hold CMYK.
func (j *imageJob) keepsProfile() bool {
	return j.img.Interpretation() != libvips.CMYK
}

func (j *imageJob) toSRGB(deep bool) error {
	img := j.img
	space := img.Interpretation()
	want := libvips.SRGB
	if deep {
		want = libvips.RGB16
		if space == libvips.Grey16 {
			want = libvips.Grey16
		}
	}
	if space != want || (!deep && img.Format() != libvips.Uchar) {
		if err := img.Colourspace(want); err != nil {
			return corrupt(j.kind, fmt.Errorf("convert the %s colour space to sRGB: %w", interpretationName(space), vipsError(err)))
		}
	}
	if !deep && img.Format() != libvips.Uchar {
		if err := img.Cast(libvips.Uchar); err != nil {
			return corrupt(j.kind, fmt.Errorf("convert to 8 bits per sample: %w", vipsError(err)))
		}
	}
	return nil
}

func interpretationName(i libvips.Interpretation) string {
	switch i {
	case libvips.CMYK:
		return "CMYK"
	case libvips.BW:
		return "greyscale"
	case libvips.Grey16:
		return "16-bit greyscale"
	case libvips.RGB16:
		return "16-bit RGB"
	case libvips.SRGB:
		return "sRGB"
	case libvips.LAB:
		return "Lab"
	}
	return fmt.Sprintf("libvips interpretation %d", int(i))
}

// flatten blends transparency onto the background where the target has none.
//
// A PDF's page comes rendered on white with an alpha band opaque everywhere:
// without it, the PNG of a page is 14–16 % smaller.
func (j *imageJob) flatten() error {
	if j.target.alpha && j.kind != KindPDF || !j.img.HasAlpha() {
		return nil
	}
	bg := j.background()
	if err := j.img.Flatten(bg.R, bg.G, bg.B); err != nil {
		return corrupt(j.kind, fmt.Errorf("flatten transparency: %w", vipsError(err)))
	}
	return nil
}

// frameFields describe an animation and its pages; they stay whatever else
// goes.
var frameFields = []string{"n-pages", "page-height", "delay", "loop", "gif-delay", "gif-loop"}

// metadata removes what the job does not keep. By default that is every
// field (EXIF with its GPS position, XMP, IPTC, the ICC profile once the
// pixels are sRGB); keep_metadata keeps EXIF and XMP but the GPS position
// unless keep_gps. The savers' strip option is not enough on its own:
// libvips 8.14's WEBP writer ignores it and writes an EXIF block built from
// the image's fields, the GPS position included.
func (j *imageJob) metadata() error {
	o := j.c.opts
	var drop []string
	for _, f := range j.img.Fields() {
		switch {
		case slices.Contains(frameFields, f):
		case f == "icc-profile-data":
			if !o.KeepICC {
				drop = append(drop, f)
			}
		case !o.KeepMetadata:
			drop = append(drop, f)
		case o.KeepGPS:
		case strings.HasPrefix(f, "exif-ifd3-"), f == "xmp-data" && j.xmpHasGPS():
			drop = append(drop, f)
		}
	}
	if len(drop) == 0 {
		return nil
	}
	if err := j.img.Remove(drop...); err != nil {
		return corrupt(j.kind, fmt.Errorf("remove metadata: %w", vipsError(err)))
	}
	return nil
}

// xmpHasGPS reports whether the XMP packet holds a position: it is dropped
// whole then, since fileconv does not rewrite XML.
func (j *imageJob) xmpHasGPS() bool {
	xmp := j.img.Blob("xmp-data")
	has := strings.Contains(string(xmp), "GPS")
	if has {
		j.warnings = append(j.warnings, "the XMP metadata was removed: it holds a GPS position (keep_gps keeps it)")
	}
	return has
}
