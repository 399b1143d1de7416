package convert

// A small binding to poppler-glib, the library behind pdftotext.
//
// Poppler reports problems in damaged files ("Syntax Error: ...") on stderr
// through poppler's internal error callback; poppler-glib offers no way to
// replace or silence it (setErrorCallback is in poppler's private C++ headers,
// which Debian does not ship with libpoppler-glib-dev), so a worker's stderr
// carries those lines. The failure itself still comes back as a GError.
//
// Poppler looks for its own data files in /usr/share/poppler (Debian's
// poppler-data: CMaps for CJK encodings); without them such PDFs extract with
// gaps. That is read-only library data; no client data touches the disk.

// #cgo pkg-config: poppler-glib
// #include <stdlib.h>
// #include <poppler.h>
//
// // open_pdf copies data into a GBytes that the document owns, so no Go memory is
// // kept by C after the call returns.
// static PopplerDocument *open_pdf(const void *data, size_t len, GError **err) {
// 	GBytes *bytes = g_bytes_new(data, len);
// 	PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, err);
// 	g_bytes_unref(bytes);
// 	return doc;
// }
//
// static int is_poppler_error(GError *err, int code) {
// 	return err != NULL && err->domain == POPPLER_ERROR && err->code == code;
// }
import "C"

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"unsafe"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// pdfToTextHere handles operation 5 in this process: the text of every page in
// order, pages separated by a newline. Each poppler call runs to its end once
// started (there is no way to interrupt one), so ctx is checked between pages;
// pdfToText runs this in a PDF reader process that can be killed.
func (c *Converter) pdfToTextHere(ctx context.Context, input []byte) (Result, error) {
	if err := c.checkPDF(ctx, input); err != nil {
		return Result{}, err
	}
	var gerr *C.GError
	doc := C.open_pdf(unsafe.Pointer(unsafe.SliceData(input)), C.size_t(len(input)), &gerr)
	if doc == nil {
		return Result{}, popplerOpenError(gerr)
	}
	defer C.g_object_unref(C.gpointer(doc))

	n := int(C.poppler_document_get_n_pages(doc))
	if err := c.checkPDFPageCount(n); err != nil {
		return Result{}, err
	}

	pages, err := selectPages(c.opts.Pages, n)
	if err != nil {
		return Result{}, err
	}
	var texts []pageText
	for i := 0; i < n; i++ {
		if pages != nil && !pages.Contains(i+1) {
			continue
		}
		if ctx.Err() != nil {
			return Result{}, cancelled(ctx)
		}
		t, err := readPageText(doc, i)
		if err != nil {
			return Result{}, err
		}
		texts = append(texts, t)
	}
	warnings, err := c.ocrPages(ctx, input, texts)
	if err != nil {
		return Result{}, err
	}
	var out bytes.Buffer
	for i, t := range texts {
		if i > 0 {
			out.WriteByte('\n')
		}
		out.WriteString(t.text)
	}
	return Result{Output: out.Bytes(), Warnings: warnings}, nil
}

// pageText is a page's text, its index (from 0) and its size in points.
type pageText struct {
	index         int
	text          string
	width, height float64
}

func readPageText(doc *C.PopplerDocument, i int) (pageText, error) {
	page := C.poppler_document_get_page(doc, C.int(i))
	if page == nil {
		// Poppler returns no page for one whose object is missing or broken.
		return pageText{}, &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt PDF: page %d cannot be read", i+1)}
	}
	defer C.g_object_unref(C.gpointer(page))
	t := pageText{index: i}
	var w, h C.double
	C.poppler_page_get_size(page, &w, &h)
	t.width, t.height = float64(w), float64(h)
	text := C.poppler_page_get_text(page)
	if text == nil {
		return t, nil // a page without text, e.g. a scanned image
	}
	defer C.g_free(C.gpointer(text))
	t.text = C.GoString(text)
	return t, nil
}

// ocrPages reads by OCR the pages that ocr= asks for (by default those with
// no text), in place, and says what it could not read.
func (c *Converter) ocrPages(ctx context.Context, pdf []byte, texts []pageText) ([]string, error) {
	var want []int // positions in texts
	for i, t := range texts {
		if c.opts.OCR == wire.OCRAlways || strings.TrimSpace(t.text) == "" {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	numbers := func(at []int) []int {
		var ns []int
		for _, i := range at {
			ns = append(ns, texts[i].index+1)
		}
		return ns
	}
	switch {
	case c.opts.OCR == wire.OCRNever:
		return []string{fmt.Sprintf("%s %s no text layer, and ocr=never was asked: %s empty in the text",
			pagesWord(numbers(want)), hasHave(len(want)), isAre(len(want)))}, nil
	case !c.ocrOn():
		return []string{fmt.Sprintf("%s %s no text layer, and this worker has no OCR (Tesseract) to read %s: %s empty in the text",
			pagesWord(numbers(want)), hasHave(len(want)), itThem(len(want)), isAre(len(want)))}, nil
	}
	lang, err := c.ocrLanguages()
	if err != nil {
		return nil, err
	}
	var warnings []string
	if over := len(want) - c.cfg.MaxOCRPages; over > 0 {
		warnings = append(warnings, fmt.Sprintf("%s not read by OCR: a job reads at most %d pages so (max-ocr-pages)",
			pagesWord(numbers(want[c.cfg.MaxOCRPages:])), c.cfg.MaxOCRPages))
		want = want[:c.cfg.MaxOCRPages]
	}
	jobs := make([]pdfPageOCR, len(want))
	for k, i := range want {
		jobs[k] = pdfPageOCR{index: texts[i].index, width: texts[i].width, height: texts[i].height}
	}
	read, err := c.ocrPDFPages(ctx, pdf, jobs, lang, c.ocrThreads)
	if err != nil {
		return nil, err
	}
	var illegible []int
	for _, i := range want {
		text := read[texts[i].index]
		if strings.TrimSpace(text) == "" {
			illegible = append(illegible, i)
			continue
		}
		texts[i].text = text
	}
	if len(illegible) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s %s no legible text, even read by OCR", pagesWord(numbers(illegible)), holdHolds(len(illegible))))
	}
	return warnings, nil
}

func hasHave(n int) string   { return map[bool]string{true: "has", false: "have"}[n == 1] }
func isAre(n int) string     { return map[bool]string{true: "it is", false: "they are"}[n == 1] }
func itThem(n int) string    { return map[bool]string{true: "it", false: "them"}[n == 1] }
func holdHolds(n int) string { return map[bool]string{true: "holds", false: "hold"}[n == 1] }

// popplerOpenError turns the GError of a failed open into an *Error, freeing it.
func popplerOpenError(gerr *C.GError) *Error {
	if gerr == nil {
		return &Error{Code: fail.ConversionFailed, Message: "corrupt PDF: poppler could not open it"}
	}
	defer C.g_error_free(gerr)
	msg := strings.TrimSpace(C.GoString(gerr.message))
	if C.is_poppler_error(gerr, C.POPPLER_ERROR_ENCRYPTED) != 0 {
		return &Error{Code: fail.ConversionFailed, Message: "PDF is encrypted (password-protected): remove the password and send it again"}
	}
	if msg == "" {
		msg = "poppler could not open it"
	}
	return &Error{Code: fail.ConversionFailed, Message: "corrupt PDF: " + printableMessage(msg)}
}

// printableMessage makes a library's message safe to show: one line, bounded.
func printableMessage(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 300
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

// selectPages parses a page selection (protocol v2's "pages" option) against a
// document of n pages; nil means every page.
func selectPages(spec string, n int) (wire.PageRanges, error) {
	if spec == "" {
		return nil, nil
	}
	ranges, err := wire.ParsePageRanges(spec)
	if err != nil {
		return nil, &Error{Code: fail.BadRequest, Message: fmt.Sprintf("pages %q: %v", spec, err)}
	}
	if len(ranges) > 0 && ranges[0].First > n {
		return nil, &Error{Code: fail.BadRequest, Message: fmt.Sprintf("pages %q: the PDF has only %d pages", spec, n)}
	}
	return ranges, nil
}

// checkPDFPageCount checks the pages poppler or qpdf counts against
// max-pdf-pages.
func (c *Converter) checkPDFPageCount(n int) error {
	if n > c.cfg.MaxPDFPages {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF has %d pages, over the limit of %d pages (max-pdf-pages)", n, c.cfg.MaxPDFPages)}
	}
	return nil
}
