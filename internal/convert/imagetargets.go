package convert

import (
	"archive/zip"
	"bytes"
	"fmt"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// imageTarget is an image format fileconv writes, with what it can hold: what
// the pipeline must flatten, keep or pick before saving depends on it.
type imageTarget struct {
	name  string
	label string
	// alpha: the format has transparency; without it, it is flattened on the
	// background colour.
	alpha bool
	// frames: the format holds an animation or several pages (GIF, WEBP,
	// TIFF); the others get one frame.
	frames bool
	// deep: the format holds 16 bits per sample, so 16-bit inputs keep them.
	deep bool
	// quality and lossless: the options the encoder takes.
	quality, lossless bool
	// effortMin..effortMax is the encoder's own effort scale, effortDefault the
	// one used unless the client asks (chosen by measurement:
	// docs/performance.md). A zero effortMax means the encoder has no effort.
	effortMin, effortMax, effortDefault int
	save                                func(img *libvips.Image, s saveSettings) ([]byte, error)
}

// saveSettings are the encoder's settings for one job.
type saveSettings struct {
	quality int
	effort  int
	// effortSet: the client chose the effort.
	effortSet bool
	lossless  bool
	strip     bool
	// pngCompression is the zlib level when no effort was asked for.
	pngCompression int
	// pngFilter is libpng's row filter: pngFilterByContent by default;
	// "none" for a PDF's rendered pages, whose flat colours and text it
	// encodes 3.5 to 6 times faster and up to 6 % smaller
	// (docs/performance.md).
	pngFilter string
	// readOnce: the pixels come from a pipeline that reads its file once,
	// top to bottom (a resize on load), so no band of rows can be read ahead
	// of the save and pngPlan cannot look; photo settings apply.
	readOnce bool
}

// imageTargets lists the image formats fileconv writes, in the order the
// registry offers them.
var imageTargets = []imageTarget{
	{name: "jpg", label: "JPEG", quality: true, save: saveJPEG},
	{name: "png", label: "PNG", alpha: true, deep: true, effortMin: 0, effortMax: 9, save: savePNG},
	// WEBP effort is libwebp's method; its default is the converter's
	// WEBPEffort.
	{name: "webp", label: "WEBP", alpha: true, frames: true, quality: true, lossless: true, effortMin: 0, effortMax: 6, save: saveWEBP},
	{name: "gif", label: "GIF", alpha: true, frames: true, effortMin: 1, effortMax: 10, effortDefault: 7, save: saveGIF},
	{name: "tiff", label: "TIFF", alpha: true, frames: true, deep: true, save: saveTIFF},
	// AVIF effort 0 (libaom's fastest speed) encodes a 12 MP photo in 0.5 s on
	// one core; effort 2 takes 2.3 s for a file a fifth smaller.
	{name: "avif", label: "AVIF", alpha: true, quality: true, lossless: true, effortMin: 0, effortMax: 9, effortDefault: 0, save: saveAVIF},
	// x265 through libheif ignores the effort libvips 8.14 passes: a 12 MP photo
	// takes about 5 s whatever its value, so HEIC offers none.
	{name: "heic", label: "HEIC", alpha: true, quality: true, save: saveHEIC},
	// libvips 8.14 takes JPEG XL efforts from 3; 3 encodes a 12 MP sRGB photo
	// in 0.6 s on one core, libjxl's default of 7 in 4.75 s for a file 2 %
	// smaller (docs/performance.md).
	{name: "jxl", label: "JPEG XL", alpha: true, quality: true, lossless: true, effortMin: 3, effortMax: 9, effortDefault: 3, save: saveJXL},
}

// pdfPageTarget is the picture of one page of a PDF made from images: an
// 8-bit PNG, which fpdf embeds losslessly (it reads no 16-bit PNG). It is not
// in the registry: images to PDF asks for it, in this process or a reader.
var pdfPageTarget = imageTarget{name: "pdf-page", label: "PDF", alpha: true, save: savePNG}

// pdfPagesTarget is the pictures of every frame of an animation for a PDF,
// as a ZIP of 8-bit PNGs: the animation decoded once, its frames in order.
// Asking for each frame alone would decode the frames before it again each
// time, a cost that grows with the square of their number.
var pdfPagesTarget = imageTarget{name: "pdf-pages", label: "PDF", alpha: true, frames: true, save: savePNGPages}

// savePNGPages saves each page of img as an 8-bit PNG, in a stored ZIP.
func savePNGPages(img *libvips.Image, s saveSettings) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for k := range img.LoadedPages() {
		page, err := img.Page(k)
		if err != nil {
			return nil, err
		}
		png, err := savePNG(page, s)
		page.Close()
		if err != nil {
			return nil, err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%06d.png", k+1), Method: zip.Store})
		if err == nil {
			_, err = w.Write(png)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// imageTargetNamed returns the image target called name.
func imageTargetNamed(name string) (imageTarget, bool) {
	for _, t := range append(imageTargets, pdfPageTarget, pdfPagesTarget) {
		if t.name == name {
			return t, true
		}
	}
	return imageTarget{}, false
}

// options lists the registry options of the conversions to t.
func (t imageTarget) options() []string {
	opts := []string{"width", "height", "fit", "background", "keep_icc", "keep_metadata", "keep_gps"}
	if t.quality {
		opts = append(opts, "quality")
	}
	if t.lossless {
		opts = append(opts, "lossless")
	}
	if t.effortMax > 0 {
		opts = append(opts, "effort")
	}
	// page picks one frame where the target holds one; a target that holds
	// every frame takes it too, to make a still image of one frame.
	return append(opts, "page")
}

// settings resolves the encoder settings of one job against the converter's
// defaults, and checks the effort against the encoder's own scale.
func (t imageTarget) settings(c *Converter) (saveSettings, error) {
	s := saveSettings{
		quality:        c.cfg.JPEGQuality,
		effort:         t.effortDefault,
		lossless:       c.opts.Lossless,
		strip:          !c.opts.KeepMetadata && !c.opts.KeepICC,
		pngCompression: c.cfg.PNGCompression,
		pngFilter:      pngFilterByContent,
	}
	switch t.name {
	case "webp":
		s.quality, s.effort = c.cfg.WEBPQuality, c.cfg.WEBPEffort
	case "avif", "heic":
		s.quality = defaultModernQuality
	case "jxl":
		// libvips maps JPEG XL's Q to libjxl's distance: 90 is distance 1,
		// libjxl's own default ("visually lossless"); libvips' 75 is 2.35,
		// which fell below an SSIM of 0.95 on small photos.
		s.quality = defaultJXLQuality
	}
	if c.opts.Quality > 0 {
		s.quality = c.opts.Quality
	}
	switch e := c.opts.Effort; {
	case e == 0:
	case e == wire.EffortFastest:
		s.effort, s.effortSet = 0, true
	default:
		s.effort, s.effortSet = e, true
	}
	if c.opts.Effort != 0 && (s.effort < t.effortMin || s.effort > t.effortMax) {
		return s, fail.New(fail.BadRequest, fmt.Sprintf("effort %d is out of range for %s: use %d (fastest) to %d (smallest)", s.effort, t.label, t.effortMin, t.effortMax))
	}
	return s, nil
}

// Default qualities of AVIF and HEIC, and of JPEG XL.
const (
	defaultModernQuality = 75
	defaultJXLQuality    = 90
)

// The savers write through libvips' option strings, one per format. strip
// drops what metadata is left; the pipeline has already removed what the job
// does not keep.

func saveJPEG(img *libvips.Image, s saveSettings) ([]byte, error) {
	// Baseline rather than progressive (libvips' default): faster to write and
	// to read, and lighter on the reader's memory. Standard Huffman tables, as
	// libjpeg's and Pillow's defaults: optimised ones save 3 to 8 % for a
	// third more encoding time.
	return img.Save(fmt.Sprintf(".jpg[Q=%d,strip=%t]", s.quality, s.strip))
}

func savePNG(img *libvips.Image, s saveSettings) ([]byte, error) {
	level, filter := s.pngCompression, s.pngFilter
	switch {
	case s.effortSet && filter == pngFilterByContent:
		// The client's level, with adaptive filters as libpng's default.
		level, filter = s.effort, "all"
	case s.effortSet:
		level = s.effort
	case filter == pngFilterByContent && s.readOnce:
		filter = "up"
	case filter == pngFilterByContent:
		var err error
		if level, filter, err = pngPlan(img, level); err != nil {
			return nil, err
		}
	}
	return img.Save(fmt.Sprintf(".png[compression=%d,filter=%s,strip=%t]", level, filter, s.strip))
}

// pngFilterByContent lets pngPlan choose the level and the filter.
const pngFilterByContent = "by-content"

// pngPlan chooses zlib's level and libpng's row filter by what a fast
// deflate makes of a band of 32 rows from the middle of the picture (a few
// milliseconds: the decoded pixels are already in memory). Measured on real
// photos, drawings and noise (docs/performance.md, "PNG by content"):
//   - the band keeps 95 % of its bytes or more: noise, or grain, which no
//     level shrinks; zlib only loses time on it (about 90 ms for 1 MP of
//     noise at every level, 3 times the decoding), so the rows are stored;
//   - it shrinks below a tenth: drawings, screenshots and pages, whose long
//     runs and repeats zlib's level 6 and adaptive filters find (files up to
//     1.8 times smaller than level 3 with the "up" filter) at little cost;
//   - else a photo: photoLevel with the "up" filter, faster than adaptive
//     filtering on every photo measured and at most 12 % larger than zlib's
//     level 6 with adaptive filters (Pillow's default).
//
// The band is the first of the picture's pixels decoded: its error is the
// picture's (a damaged file), which saving it whole would meet again.
func pngPlan(img *libvips.Image, photoLevel int) (level int, filter string, err error) {
	rows := min(32, img.Height())
	band, err := img.Rows((img.Height()-rows)/2, rows)
	if err != nil {
		return 0, "", err
	}
	defer band.Close()
	packed, err := band.Save(".png[compression=1,filter=up,strip=true]")
	if err != nil {
		return 0, "", err
	}
	sampleBytes := 1
	if img.Format() == libvips.Ushort {
		sampleBytes = 2
	}
	kept := float64(len(packed)) / float64(img.Width()*rows*img.Bands()*sampleBytes)
	switch {
	case kept >= 0.95:
		return 0, "none", nil
	case kept < 0.1:
		return max(photoLevel, 6), "all", nil
	}
	return photoLevel, "up", nil
}

func saveWEBP(img *libvips.Image, s saveSettings) ([]byte, error) {
	return img.Save(fmt.Sprintf(".webp[Q=%d,lossless=%t,effort=%d,strip=%t]", s.quality, s.lossless, s.effort, s.strip))
}

func saveGIF(img *libvips.Image, s saveSettings) ([]byte, error) {
	return img.Save(fmt.Sprintf(".gif[effort=%d,strip=%t]", s.effort, s.strip))
}

func saveTIFF(img *libvips.Image, s saveSettings) ([]byte, error) {
	// LZW with the horizontal predictor: lossless, and read by every TIFF
	// reader, where Deflate and ZSTD are not.
	return img.Save(fmt.Sprintf(".tif[compression=lzw,predictor=horizontal,strip=%t]", s.strip))
}

func saveAVIF(img *libvips.Image, s saveSettings) ([]byte, error) {
	return img.Save(fmt.Sprintf(".avif[compression=av1,Q=%d,lossless=%t,effort=%d,bitdepth=8,strip=%t]", s.quality, s.lossless, s.effort, s.strip))
}

func saveHEIC(img *libvips.Image, s saveSettings) ([]byte, error) {
	return img.Save(fmt.Sprintf(".heic[compression=hevc,Q=%d,bitdepth=8,strip=%t]", s.quality, s.strip))
}

func saveJXL(img *libvips.Image, s saveSettings) ([]byte, error) {
	return img.Save(fmt.Sprintf(".jxl[Q=%d,lossless=%t,effort=%d,strip=%t]", s.quality, s.lossless, s.effort, s.strip))
}
