package convert

import (
	"fmt"

	"github.com/fileconv/fileconv/internal/fail"
)

// A PDF's pages become pictures through the image pipeline: libvips reads the
// PDF with poppler (its pdfload), a page at a time, at the resolution asked
// for. What is particular to PDFs is checked here.

// checkPDF runs the structural checks of PDF → TXT (pdfguard.go: streams'
// inflated size, nesting, the page tree's count against max-pdf-pages)
// before poppler opens the file, and the resolution against max-pdf-dpi.
func (j *imageJob) checkPDF() error {
	if dpi := j.c.opts.DPI; dpi > j.c.cfg.MaxPDFDPI {
		return fail.New(fail.BadRequest, fmt.Sprintf("dpi %d is over this server's limit of %d (max-pdf-dpi); ask for less", dpi, j.c.cfg.MaxPDFDPI))
	}
	return j.c.checkPDF(j.ctx, j.input)
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
