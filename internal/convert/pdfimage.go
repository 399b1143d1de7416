package convert

import (
	"context"
	"fmt"

	"github.com/fileconv/fileconv/internal/fail"
)

// A PDF's pages become pictures through the image pipeline: libvips reads the
// PDF with poppler (its pdfload), a page at a time, at the resolution asked
// for. What is particular to PDFs is checked here.

// checkPDFForImages runs the structural checks of PDF → TXT (pdfguard.go:
// streams' inflated size, nesting, the page tree's count against
// max-pdf-pages) before poppler opens the file, and the resolution against
// max-pdf-dpi.
func (c *Converter) checkPDFForImages(ctx context.Context, pdf []byte) error {
	if dpi := c.opts.DPI; dpi > c.cfg.MaxPDFDPI {
		return fail.New(fail.BadRequest, fmt.Sprintf("dpi %d is over this server's limit of %d (max-pdf-dpi); ask for less", dpi, c.cfg.MaxPDFDPI))
	}
	return c.checkPDF(ctx, pdf)
}

// dpi is the resolution pages are rendered at.
func (j *imageJob) dpi() int {
	if j.c.opts.DPI > 0 {
		return j.c.opts.DPI
	}
	return DefaultPDFDPI
}

// checkPDFPages checks the page's pixels and, when all pages are rendered
// (into a multi-page TIFF), all of them together against 4 × max-pixels; libvips
// renders every page at the size of the largest.
func (c *Converter) checkPDFPages(page, w, h, dpi, pages int, all bool) error {
	if err := c.checkPDFPage(page, w, h, dpi); err != nil {
		return err
	}
	if total := int64(w) * int64(h) * int64(pages); all && total > c.cfg.maxAnimationPixels() {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf(
			"the PDF's %d pages at %d dpi are %d pixels in all, over the limit of %d pixels for all pages together (4 × max-pixels); ask for a lower dpi, or one page with page=N",
			pages, dpi, total, c.cfg.maxAnimationPixels())}
	}
	return nil
}

// checkPDFPage checks one page's pixels, its box at dpi as poppler reports
// it before rendering anything, against max-pixels, in the page's own words.
func (c *Converter) checkPDFPage(page, w, h, dpi int) error {
	if w <= 0 || h <= 0 {
		return &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt PDF: page %d has a size of %d×%d pixels", page, w, h)}
	}
	if px := int64(w) * int64(h); px > c.cfg.MaxPixels {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf(
			"page %d of the PDF is %.1f × %.1f in, %d×%d pixels (%d) at %d dpi, over the limit of %d pixels (max-pixels); ask for a lower dpi or a width",
			page, float64(w)/float64(dpi), float64(h)/float64(dpi), w, h, px, dpi, c.cfg.MaxPixels)}
	}
	return nil
}

// pickRun reads the pages asked for into a TIFF: one run of them, which
// libvips's loader reads as its first page and count.
func (j *imageJob) pickRun() error {
	if j.kind != KindPDF || j.c.opts.Pages == "" {
		return nil
	}
	ranges, err := selectPages(j.c.opts.Pages, j.frames)
	if err != nil {
		return err
	}
	if len(ranges) != 1 {
		return fail.New(fail.BadRequest, fmt.Sprintf("pages %q: a TIFF holds one run of pages, such as pages=2-5; for pages apart, ask for png or jpg (a ZIP with a picture of each page)", j.c.opts.Pages))
	}
	j.run = ranges[0]
	if j.run.Last == 0 || j.run.Last > j.frames {
		j.run.Last = j.frames
	}
	return nil
}

// keptPages is how many pages of a PDF go into the result when all of
// those asked for do.
func (j *imageJob) keptPages() int {
	if j.run.First > 0 {
		return j.run.Last - j.run.First + 1
	}
	return j.frames
}
