package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
)

// Several pages of a PDF as pictures come back as one ZIP holding a picture
// per page, NAME-p001.png and on: the one container every system opens. One
// page comes back as that picture; a TIFF holds its pages itself (image.go).

// ZipContentType is the media type of a result that holds several files.
const ZipContentType = "application/zip"

// convertPDFPages renders the pages asked for (pages=, or every page) of a
// PDF, each through the image pipeline.
func (c *Converter) convertPDFPages(ctx context.Context, in Input) (Result, error) {
	if err := c.checkPDFForImages(ctx, in.Data); err != nil {
		return Result{}, err
	}
	if c.opts.Pages == "1" {
		// The thumbnail, the most asked for: the first page exists whatever
		// the count, which its own load reads and checks.
		return c.onPage(1).convertImageHere(ctx, in)
	}
	n, err := pdfPageCount(in.Data)
	if err == nil {
		err = c.checkPDFPageCount(n)
	}
	if err != nil {
		return Result{}, err
	}
	pages, err := c.pdfPageList(n)
	if err != nil {
		return Result{}, err
	}
	if len(pages) == 1 {
		res, err := c.onPage(pages[0]).convertImageHere(ctx, in)
		res.Frames = n
		return res, err
	}
	return c.zipPDFPages(ctx, in, pages, n)
}

// onPage is c set to render page of a PDF whose structure is checked.
func (c *Converter) onPage(page int) *Converter {
	pc := *c
	pc.opts.Page, pc.opts.Pages = page, ""
	pc.pdfChecked = true
	return &pc
}

// pdfPageCount reads how many pages poppler finds in pdf.
func pdfPageCount(pdf []byte) (int, error) {
	img, err := libvips.Load(pdf, "page=0")
	if err != nil {
		return 0, corrupt(KindPDF, vipsError(err))
	}
	defer img.Close()
	return max(img.Pages(), 1), nil
}

// pdfPageList lists the pages (from 1) of a PDF of n pages that pages=
// selects, or all of them.
func (c *Converter) pdfPageList(n int) ([]int, error) {
	ranges, err := selectPages(c.opts.Pages, n)
	if err != nil {
		return nil, err
	}
	var pages []int
	for p := 1; p <= n; p++ {
		if ranges == nil || ranges.Contains(p) {
			pages = append(pages, p)
		}
	}
	return pages, nil
}

// zipPDFPages renders pages one at a time into a ZIP. The ZIP grows in the
// reader's memory, so it is bounded to a quarter of max-image-memory rather
// than left to end the reader.
func (c *Converter) zipPDFPages(ctx context.Context, in Input, pages []int, n int) (Result, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	name := pageNamer(in.Name, in.Target, n)
	modified := time.Now()
	var warnings []string
	for _, p := range pages {
		if ctx.Err() != nil {
			return Result{}, cancelled(ctx)
		}
		res, err := c.onPage(p).convertImageHere(ctx, in)
		if err != nil {
			return Result{}, pageError(p, err)
		}
		// Pictures are compressed already: stored, they cost no time to unzip.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name(p), Method: zip.Store, Modified: modified})
		if err == nil {
			_, err = w.Write(res.Output)
		}
		if err != nil {
			return Result{}, fail.Wrap(fail.Internal, "internal error: writing the ZIP of pages", err)
		}
		for _, w := range res.Warnings {
			if !slices.Contains(warnings, w) {
				warnings = append(warnings, w)
			}
		}
		if limit := c.cfg.MaxImageMemory / 4; int64(buf.Len()) > limit {
			return Result{}, &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf(
				"the pictures of the PDF's pages come to more than %d MiB by page %d of %d (a quarter of max-image-memory); ask for fewer pages (pages=), a lower dpi or a width",
				limit>>20, p, len(pages))}
		}
	}
	if err := zw.Close(); err != nil {
		return Result{}, fail.Wrap(fail.Internal, "internal error: writing the ZIP of pages", err)
	}
	return Result{Output: buf.Bytes(), Warnings: warnings, Frames: n, ContentType: ZipContentType}, nil
}

// pageError says which page a failure came from, unless it says already.
func pageError(page int, err error) error {
	e := AsError(err)
	if strings.Contains(e.Message, "page "+strconv.Itoa(page)) {
		return e
	}
	return &Error{Code: e.Code, Message: fmt.Sprintf("page %d: %s", page, e.Message), Cause: e.Cause}
}

// pageNamer names the picture of each page after the client's file:
// report.pdf gives report-p001.png, with as many digits as the last page
// needs (at least three, so that the names sort in page order).
func pageNamer(fileName, ext string, pages int) func(page int) string {
	stem := entryStem(fileName)
	digits := max(3, len(strconv.Itoa(pages)))
	return func(page int) string { return fmt.Sprintf("%s-p%0*d.%s", stem, digits, page, ext) }
}

// entryStem is a file name's stem made safe as a ZIP entry: the client's
// name is informational, so nothing in it may become a path or a hidden file
// on the machine that unpacks the ZIP.
func entryStem(fileName string) string {
	base := path.Base(strings.ReplaceAll(fileName, `\`, "/"))
	base = strings.TrimSuffix(base, path.Ext(base))
	var b strings.Builder
	for _, r := range base {
		switch {
		case b.Len() >= 100:
		case unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" -_.()+,", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	stem := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	if stem == "" || stem == "/" {
		return "page"
	}
	return stem
}
