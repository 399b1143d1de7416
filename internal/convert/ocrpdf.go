package convert

// A searchable PDF: an image or a scanned PDF to a PDF whose pages look as
// they did and carry, over their pictures, the text OCR read on them as
// invisible text, which viewers search and copy from (to=pdf with ocr=).
//
// Each page gets its own text layer from Tesseract's PDF renderer in
// text-only mode (internal/ocr, pdf.go), and qpdf lays the layers over the
// pages as form XObjects (internal/qpdf, Overlay), as OCRmyPDF grafts its
// text onto the original pages. The pages themselves are never redrawn: a
// PDF keeps its vectors, fonts and images, an image keeps the bytes the image
// to PDF conversion gave it. One renderer a page, each on its own Tesseract,
// lets a job's pages be read in parallel on the cores free (takeOCRSlots),
// one thread each, as PDF → TXT reads them; qpdf then joins the layers in
// one pass.
//
// Everything runs in a reader process (pdfreader.go), where the job's
// deadline kills Tesseract, poppler and qpdf, none of which can be
// interrupted, and where a crash costs one job.
//
// Which pages: for → PDF, OCR is slow and so is off unless asked. ocr=always
// gives every page a layer, even a page that has text already (its words may
// then be found twice); ocr=auto gives one to the pages without text only,
// which leaves a PDF that is partly searchable or already OCRed as it was;
// an image's pages have no text, so for an image auto is always. Pages read
// by OCR are at most max-ocr-pages a job; the others are left as they are,
// and the result says which.

// #cgo pkg-config: poppler-glib
// #include <stdlib.h>
// #include <poppler.h>
//
// // fc_layer_open opens a PDF for its pages' text, poppler owning a copy.
// static PopplerDocument *fc_layer_open(const void *data, size_t len, GError **err) {
// 	GBytes *bytes = g_bytes_new(data, len);
// 	PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, err);
// 	g_bytes_unref(bytes);
// 	return doc;
// }
import "C"

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/wire"
)

// toolTextLayer is the reader's job of a searchable PDF. Its first file is
// the PDF; for an image, the others are the pictures of its pages, in order.
const toolTextLayer pdfTool = "text-layer"

// minLayerDPI is the least resolution a page is read at: a page so large
// that max-pixels allows less is left without a layer, since OCR reads
// nothing at that scale but a poster's headline.
const minLayerDPI = 50

// wantsTextLayer reports whether a conversion to PDF adds a text layer.
func (c *Converter) wantsTextLayer() bool {
	return c.opts.OCR == wire.OCRAlways || c.opts.OCR == wire.OCRAuto
}

// textLayerReady checks, before any work, that this worker can read what
// the request asks for.
func (c *Converter) textLayerReady() error {
	if !c.ocrOn() {
		return fail.New(fail.Unavailable, fmt.Sprintf("this worker has no OCR (Tesseract) to make a searchable PDF (ocr=%s)", c.opts.OCR))
	}
	_, err := c.ocrLanguages()
	return err
}

// searchablePDF is a PDF to a PDF with ocr=, checked by pdfToPDF.
func (c *Converter) searchablePDF(ctx context.Context, in Input) (Result, error) {
	if err := c.textLayerReady(); err != nil {
		return Result{}, err
	}
	return c.runTextLayer(ctx, KindPDF, in.Name, []File{{Name: "the PDF", Data: in.Data}})
}

// searchableImage is an image to a PDF with ocr=: the PDF as imageToPDF
// makes it, then each page's picture read and its layer laid over it.
func (c *Converter) searchableImage(ctx context.Context, in Input) (Result, error) {
	if err := c.textLayerReady(); err != nil {
		return Result{}, err
	}
	pictures, warnings, err := c.pictures(ctx, in)
	if err != nil {
		return Result{}, err
	}
	pdf, err := c.picturesToPDF(pictures)
	if err != nil {
		return Result{}, err
	}
	files := []File{{Name: "the PDF", Data: pdf}}
	for i, p := range pictures {
		files = append(files, File{Name: fmt.Sprintf("page %d", i+1), Data: p.data})
	}
	res, err := c.runTextLayer(ctx, in.Kind, in.Name, files)
	res.Warnings = append(warnings, res.Warnings...)
	return res, err
}

// runTextLayer runs the text layer's job in a reader, on the OCR threads
// free now (one at least), as many as it has pages at most: an image's are
// its pictures, a PDF's are known only in the reader.
func (c *Converter) runTextLayer(ctx context.Context, kind Kind, name string, files []File) (Result, error) {
	pages := runtime.NumCPU()
	if kind != KindPDF {
		pages = len(files) - 1
	}
	n, release := takeOCRSlots(min(pages, c.cfg.MaxOCRPages))
	defer release()
	if c.cfg.PDFInProcess {
		here := *c
		here.ocrThreads = max(1, n)
		return here.textLayerHere(ctx, name, files)
	}
	job := pdfJob{Config: c.cfg, Options: c.opts, Tool: toolTextLayer, Name: name, Threads: max(1, n)}
	if kind != KindPDF {
		// The pictures are decoded and read as an image's are: the reader
		// gets the memory of one (max-image-memory).
		job.Kind, job.Target = kind, "pdf"
	}
	data := job.pack(files)
	return c.inReader(ctx, job, Input{Kind: kind, Data: data})
}

// textLayerJob is the reader's side of runTextLayer.
func (c *Converter) textLayerJob(job pdfJob, input []byte) (Result, error) {
	if err := libvips.StartPlain(); err != nil {
		fmt.Fprintf(os.Stderr, "fileconv reader: start libvips: %v\n", err)
		return Result{}, errReaderBroken
	}
	files := job.files(input)
	if len(files) == 0 {
		return Result{}, fail.New(fail.Internal, "internal error: a text layer's job without its PDF")
	}
	return c.textLayerHere(context.Background(), job.Name, files)
}

// textLayerHere makes the searchable PDF in this process.
func (c *Converter) textLayerHere(ctx context.Context, name string, files []File) (Result, error) {
	lang, err := c.ocrLanguages()
	if err != nil {
		return Result{}, err
	}
	if len(files) > 1 {
		return c.layImages(ctx, files[0].Data, files[1:], lang)
	}
	return c.layPDF(ctx, name, files[0], lang)
}

// layerPage is a page to read for its layer: its number in the output (from
// 1), its number in the input (for messages: pages= may have cut the input),
// and how to get its picture, in grey, with the picture's resolution.
type layerPage struct {
	page, label int
	picture     func() (ocr.Gray, error)
}

// layPDF gives the pages of a PDF that ocr= picks a text layer. The PDF is
// first what pdf → pdf makes of it (decrypted, repaired, pages= cut), and
// split= cuts the searchable whole.
func (c *Converter) layPDF(ctx context.Context, name string, f File, lang string) (Result, error) {
	whole := *c
	whole.opts.Split = ""
	base, err := whole.pdfToolHere(toolRewrite, name, []File{f})
	if err != nil {
		return Result{}, err
	}
	texts, err := pdfPageTexts(ctx, base.Output)
	if err != nil {
		return Result{}, err
	}
	labels, err := c.inputPageNumbers(f.Data, len(texts))
	if err != nil {
		return Result{}, err
	}
	var pages []layerPage
	var tooLarge []int
	for i, t := range texts {
		if c.opts.OCR != wire.OCRAlways && strings.TrimSpace(t.text) != "" {
			continue
		}
		p := pdfPageOCR{index: t.index, width: t.width, height: t.height}
		dpi := c.ocrDPIFor(p)
		if dpi < minLayerDPI {
			tooLarge = append(tooLarge, labels[i])
			continue
		}
		pages = append(pages, layerPage{page: i + 1, label: labels[i], picture: func() (ocr.Gray, error) { return renderForLayer(base.Output, p, dpi) }})
	}
	warnings := base.Warnings
	if len(tooLarge) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s not read by OCR: too large to render at %d dpi or more within %d pixels (max-pixels)",
			pagesWord(tooLarge), minLayerDPI, min(c.cfg.MaxPixels, ocr.MaxPixels)))
	}
	out, warns, err := c.layPages(ctx, base.Output, pages, lang, 0)
	if err != nil {
		return Result{}, err
	}
	warnings = append(warnings, warns...)
	if c.opts.Split == "" {
		return Result{Output: out, Warnings: warnings}, nil
	}
	plain := *c
	plain.opts.Password = ""
	res, err := plain.splitPDF(name, out)
	res.Warnings = append(warnings, res.Warnings...)
	return res, err
}

// inputPageNumbers is the number in the input of each of the n pages that
// pdf → pdf made of it: pages= picks and orders them.
func (c *Converter) inputPageNumbers(pdf []byte, n int) ([]int, error) {
	var numbers []int
	if c.opts.Pages != "" {
		ranges, err := c.qpdfRanges(pdf, c.opts.Pages)
		if err != nil {
			return nil, err
		}
		for _, r := range ranges {
			for p := r.First; p <= r.Last; p++ {
				numbers = append(numbers, p)
			}
		}
	}
	if len(numbers) != n {
		numbers = make([]int, n)
		for i := range numbers {
			numbers[i] = i + 1
		}
	}
	return numbers, nil
}

// layImages gives each page of an image's PDF the layer of its picture,
// read at its own pixels, laid within the page's margin.
func (c *Converter) layImages(ctx context.Context, pdf []byte, pictures []File, lang string) (Result, error) {
	pages := make([]layerPage, len(pictures))
	for i, p := range pictures {
		pages[i] = layerPage{page: i + 1, label: i + 1, picture: func() (ocr.Gray, error) { return pictureForLayer(p.Data) }}
	}
	out, warnings, err := c.layPages(ctx, pdf, pages, lang, c.pictureMargin())
	if err != nil {
		return Result{}, err
	}
	return Result{Output: out, Warnings: warnings}, nil
}

// layPages reads pages, at most max-ocr-pages of them, and lays their layers
// over pdf's pages, within inset points of their edges.
func (c *Converter) layPages(ctx context.Context, pdf []byte, pages []layerPage, lang string, inset float64) ([]byte, []string, error) {
	var warnings []string
	if over := len(pages) - c.cfg.MaxOCRPages; over > 0 {
		warnings = append(warnings, fmt.Sprintf("%s not read by OCR: a job reads at most %d pages so (max-ocr-pages)",
			pagesWord(pageLabels(pages[c.cfg.MaxOCRPages:])), c.cfg.MaxOCRPages))
		pages = pages[:c.cfg.MaxOCRPages]
	}
	layers, illegible, err := c.readLayers(ctx, pages, lang)
	if err != nil {
		return nil, nil, err
	}
	if len(illegible) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s %s no legible text, even read by OCR: no text layer", pagesWord(illegible), holdHolds(len(illegible))))
	}
	if len(layers) == 0 {
		return pdf, warnings, nil
	}
	out, err := qpdf.Overlay(pdf, layers, inset)
	if err != nil {
		return nil, nil, &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("the text layers could not be laid over the pages: %v", err)}
	}
	return out, warnings, nil
}

func pageLabels(pages []layerPage) []int {
	ns := make([]int, len(pages))
	for i, p := range pages {
		ns[i] = p.label
	}
	return ns
}

// readLayers reads pages on c.ocrThreads threads, one Tesseract each, and
// returns their layers in page order, and the pages where OCR found nothing
// (by their labels).
func (c *Converter) readLayers(ctx context.Context, pages []layerPage, lang string) ([]qpdf.Layer, []int, error) {
	var (
		mu        sync.Mutex
		layers    []qpdf.Layer
		illegible []int
		firstErr  error
	)
	err := onThreads(ctx, pages, c.ocrThreads, func(p layerPage) {
		layer, legible, err := readLayer(p, lang)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil && firstErr == nil:
			firstErr = err
		case err == nil && legible:
			layers = append(layers, layer)
		case err == nil:
			illegible = append(illegible, p.label)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(layers, func(a, b qpdf.Layer) int { return a.Page - b.Page })
	slices.Sort(illegible)
	return layers, illegible, firstErr
}

// readLayer reads one page; legible is false when OCR found no word on it.
func readLayer(p layerPage, lang string) (layer qpdf.Layer, legible bool, err error) {
	img, err := p.picture()
	if err != nil {
		return qpdf.Layer{}, false, err
	}
	r, err := ocr.Get(lang)
	if err != nil {
		return qpdf.Layer{}, false, err
	}
	defer ocr.Put(r)
	page, pdf, err := r.ReadPDF(img)
	if err != nil {
		return qpdf.Layer{}, false, &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("page %d could not be read by OCR: %v", p.label, err)}
	}
	return qpdf.Layer{Page: p.page, PDF: pdf}, strings.TrimSpace(page.Text) != "", nil
}

// renderForLayer renders page p of pdf at dpi, as PDF → TXT does for OCR.
func renderForLayer(pdf []byte, p pdfPageOCR, dpi int) (ocr.Gray, error) {
	pdfPageOpen.Lock() // see pdfPageOpen: one thread opens a page at a time
	img, err := libvips.Load(pdf, fmt.Sprintf("page=%d,dpi=%d", p.index, dpi))
	pdfPageOpen.Unlock()
	if err != nil {
		return ocr.Gray{}, corrupt(KindPDF, vipsError(err))
	}
	defer img.Close()
	return grayForLayer(img, dpi)
}

// pictureForLayer decodes a page's picture (the PNG or JPEG that
// image → PDF made), shrunk if it has more pixels than OCR takes.
func pictureForLayer(data []byte) (ocr.Gray, error) {
	img, err := libvips.Load(data, "")
	if err != nil {
		return ocr.Gray{}, fail.Wrap(fail.Internal, "internal error: reading a page's picture back", vipsError(err))
	}
	w, h := img.Width(), img.Height()
	ppi := layerPPI(img.XRes())
	if w*h > ocr.MaxPixels {
		img.Close()
		// Thumbnail keeps the proportions within a box of the limit's area.
		scale := math.Sqrt(float64(ocr.MaxPixels) / float64(w*h))
		img, err = libvips.Thumbnail(data, int(float64(w)*scale), int(float64(h)*scale), libvips.SizeDown, libvips.CropNone, "")
		if err != nil {
			return ocr.Gray{}, fail.Wrap(fail.Internal, "internal error: shrinking a page's picture for OCR", vipsError(err))
		}
		ppi = max(1, int(float64(ppi)*scale))
	}
	defer img.Close()
	return grayForLayer(img, ppi)
}

// layerPPI is a picture's resolution for Tesseract, which sizes its
// expectations of letters by it: the picture's own, or 300 for none or one
// no scan has (as image → TXT reads it). The layer is fitted to the picture's
// place on the page whatever its resolution.
func layerPPI(xres float64) int {
	if xres < 70 || xres > 2400 {
		return ocrDPI
	}
	return int(xres + 0.5)
}

// grayForLayer is img in 8-bit grey, flattened on white, as Tesseract reads
// it for a text or a text layer.
func grayForLayer(img *libvips.Image, ppi int) (ocr.Gray, error) {
	if img.HasAlpha() {
		if err := img.Flatten(255, 255, 255); err != nil {
			return ocr.Gray{}, vipsError(err)
		}
	}
	if err := img.Colourspace(libvips.BW); err != nil {
		return ocr.Gray{}, vipsError(err)
	}
	if err := img.Cast(libvips.Uchar); err != nil {
		return ocr.Gray{}, vipsError(err)
	}
	pix, err := img.Pixels()
	if err != nil {
		return ocr.Gray{}, vipsError(err)
	}
	return ocr.Gray{Pix: pix, Width: img.Width(), Height: img.Height(), Stride: img.Width() * img.Bands(), PPI: ppi}, nil
}

// pdfPageTexts is each page's text and size, by poppler.
func pdfPageTexts(ctx context.Context, pdf []byte) ([]pageText, error) {
	var gerr *C.GError
	doc := C.fc_layer_open(unsafe.Pointer(unsafe.SliceData(pdf)), C.size_t(len(pdf)), &gerr)
	if doc == nil {
		return nil, popplerOpenError(gerr)
	}
	defer C.g_object_unref(C.gpointer(doc))
	n := int(C.poppler_document_get_n_pages(doc))
	texts := make([]pageText, 0, n)
	for i := range n {
		if ctx.Err() != nil {
			return nil, cancelled(ctx)
		}
		t, err := readPageText(doc, i)
		if err != nil {
			return nil, err
		}
		texts = append(texts, t)
	}
	return texts, nil
}
