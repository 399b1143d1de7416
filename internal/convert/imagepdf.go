package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// Images to PDF: a page per image, frame or page of the input. A JPEG that
// needs no turning is embedded as it is, its bytes untouched (no loss, no
// time); everything else goes through the image pipeline to an 8-bit PNG,
// which the PDF holds losslessly. A page is the picture at its resolution
// (72 dpi when it states none), or, with page_size, an A4 or Letter page with
// the picture fitted inside its margins.

// picture is one page's image as the PDF embeds it.
type picture struct {
	data []byte
	typ  string // fpdf's image type: "JPG" or "PNG"
}

// imageToPDF makes a PDF of an image, a page per frame.
func (c *Converter) imageToPDF(ctx context.Context, in Input) (Result, error) {
	if c.wantsTextLayer() {
		return c.searchableImage(ctx, in) // ocrpdf.go
	}
	pictures, warnings, err := c.pictures(ctx, in)
	if err != nil {
		return Result{}, err
	}
	out, err := c.picturesToPDF(pictures)
	if err != nil {
		return Result{}, err
	}
	return Result{Output: out, Warnings: warnings}, nil
}

// pictures are the pages' images: the JPEG itself, or each frame as PNG
// (the one of page=N when asked). An image that is not a sequence (the images
// of a HEIC or an ICO) gives its first, and the warning that says so.
func (c *Converter) pictures(ctx context.Context, in Input) ([]picture, []string, error) {
	if in.Kind == KindJPEG && c.jpegAsIs(in.Data) {
		return []picture{{in.Data, "JPG"}}, nil, nil
	}
	first, err := c.convertImage(ctx, Input{Kind: in.Kind, Target: pdfPageTarget.name, Data: in.Data})
	if err != nil {
		return nil, nil, err
	}
	pictures := []picture{{first.Output, "PNG"}}
	switch {
	case !isSequence(in.Kind) || c.opts.Page > 0 || first.Frames == 1:
		return pictures, first.Warnings, nil
	case in.Kind == KindGIF || in.Kind == KindWEBP:
		return c.animationPictures(ctx, in)
	}
	// A TIFF's pages are read where they are: one at a time, each within
	// max-pixels, however many there are.
	for page := 2; page <= first.Frames; page++ {
		sub := *c
		sub.opts = wire.Options{Page: page}
		res, err := sub.convertImage(ctx, Input{Kind: in.Kind, Target: pdfPageTarget.name, Data: in.Data})
		if err != nil {
			return nil, nil, fmt.Errorf("page %d: %w", page, err)
		}
		pictures = append(pictures, picture{res.Output, "PNG"})
	}
	return pictures, nil, nil
}

// animationPictures are the frames of an animation, decoded once, its
// frames together within 4 × max-pixels as for any animation kept whole.
func (c *Converter) animationPictures(ctx context.Context, in Input) ([]picture, []string, error) {
	res, err := c.convertImage(ctx, Input{Kind: in.Kind, Target: pdfPagesTarget.name, Data: in.Data})
	if err != nil {
		return nil, nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(res.Output), int64(len(res.Output)))
	if err != nil {
		return nil, nil, fail.Wrap(fail.Internal, "internal error: reading the frames back", err)
	}
	pictures := make([]picture, 0, len(zr.File))
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			return nil, nil, fail.Wrap(fail.Internal, "internal error: reading the frames back", err)
		}
		png, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, nil, fail.Wrap(fail.Internal, "internal error: reading the frames back", err)
		}
		pictures = append(pictures, picture{png, "PNG"})
	}
	return pictures, res.Warnings, nil
}

// jpegAsIs reports whether a JPEG can go into the PDF untouched: upright (no
// EXIF orientation to apply) and in RGB or grey, the colour spaces every PDF
// reader shows right. Its size passes the pixel limit like any image's.
func (c *Converter) jpegAsIs(b []byte) bool {
	head, err := readImageHead(KindJPEG, b)
	if err != nil || c.checkPixels(head.Width, head.Height) != nil {
		return false
	}
	img, err := libvips.Load(b, "")
	if err != nil {
		return false
	}
	defer img.Close()
	space := img.Interpretation()
	return img.Int("orientation") <= 1 && (space == libvips.SRGB || space == libvips.BW) && img.Bands() != 2 && img.Bands() <= 3
}

// noResolution reports whether an image px pixels wide that fpdf sizes at
// widthPt points states no resolution of its own: libvips writes its default
// of one pixel a millimetre (25.4 dpi) for images that had none (GIF, most
// PNGs), which would make a page three times the picture's size.
func noResolution(px int, widthPt float64) bool {
	dpi := float64(px) * 72 / widthPt
	return dpi > 25 && dpi < 26
}

// pdfPageMarginPt is the margin of a page_size page, in points (10 mm).
const pdfPageMarginPt = 28.35

// pictureMargin is the margin asked for (checked by wire.Options), or the
// default: 10 mm on a page_size page, none on a page the picture's size.
func (c *Converter) pictureMargin() float64 {
	if m, err := wire.ParseLength(c.opts.Margin); err == nil && c.opts.Margin != "" {
		return m
	}
	if c.opts.PageSize != "" {
		return pdfPageMarginPt
	}
	return 0
}

// picturesToPDF writes the pictures, a page each.
func (c *Converter) picturesToPDF(pictures []picture) ([]byte, error) {
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "pt", Size: fpdf.SizeType{Wd: 595, Ht: 842}})
	pdf.SetCreationDate(time.Unix(0, 0).UTC())
	pdf.SetModificationDate(time.Unix(0, 0).UTC())
	pdf.SetProducer("fileconv", false)
	pdf.SetAutoPageBreak(false, 0)
	for i, p := range pictures {
		name := fmt.Sprintf("p%d", i)
		opts := fpdf.ImageOptions{ImageType: p.typ, ReadDpi: true}
		info := pdf.RegisterImageOptionsReader(name, opts, bytes.NewReader(p.data))
		if pdf.Err() {
			return nil, fail.Wrap(fail.ConversionFailed, "the PDF could not hold an image: "+pdf.Error().Error(), pdf.Error())
		}
		if head, err := readImageHead(map[string]Kind{"JPG": KindJPEG, "PNG": KindPNG}[p.typ], p.data); err == nil && noResolution(head.Width, info.Width()) {
			info.SetDpi(72)
		}
		w, h := info.Extent()
		margin := c.pictureMargin()
		x, y, pw, ph := margin, margin, w+2*margin, h+2*margin
		if size := c.opts.PageSize; size != "" {
			pw, ph = pageSizePt(size)
			scale := min((pw-2*margin)/w, (ph-2*margin)/h)
			w, h = w*scale, h*scale
			x, y = (pw-w)/2, (ph-h)/2
		}
		pdf.AddPageFormat("P", fpdf.SizeType{Wd: pw, Ht: ph})
		pdf.ImageOptions(name, x, y, w, h, false, opts, 0, "")
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fail.Wrap(fail.ConversionFailed, "the PDF could not be written: "+err.Error(), err)
	}
	return out.Bytes(), nil
}

// pageSizePt is the size of an A4 or Letter page, in points.
func pageSizePt(size string) (float64, float64) {
	if size == wire.PageSizeLetter {
		return 612, 792
	}
	return 595.28, 841.89
}
