package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/wire"
)

// OCR reads the text of pictures and of a PDF's pages that have none (a
// scan) with Tesseract (internal/ocr), always in a reader process: a
// Tesseract call cannot be interrupted, so the job's deadline kills the
// reader instead. A job reads its pages on as many threads as the process
// has cores free (ocrSlots), one at least, one Tesseract a thread.

// ocrReady is nil when Tesseract can read on this machine.
var ocrReady = sync.OnceValue(ocr.Available)

// ocrOn reports whether this converter reads pictures by OCR: its engines
// include the ocr family and Tesseract can read.
func (c *Converter) ocrOn() bool {
	return (c.cfg.Engines == nil || slices.Contains(c.cfg.Engines, "ocr")) && ocrReady() == nil
}

// OCRLanguages lists the languages this converter's OCR reads, none when it
// has no OCR.
func (c *Converter) OCRLanguages() []string {
	if !c.ocrOn() {
		return nil
	}
	return ocr.Languages()
}

// ocrDPI is the resolution a PDF's page is rendered at for OCR: Tesseract
// reads best at 300.
const ocrDPI = 300

// ocrSlots bounds the OCR threads of the process's jobs together to its
// cores.
var ocrSlots = make(chan struct{}, runtime.NumCPU())

// takeOCRSlots takes up to want of the OCR threads free now, perhaps none;
// release gives them back. A job that gets none still reads on one thread:
// the worker's concurrency already bounds its jobs, and a text PDF that
// needs no OCR should not wait for a scan's.
func takeOCRSlots(want int) (n int, release func()) {
	for n < want {
		select {
		case ocrSlots <- struct{}{}:
			n++
			continue
		default:
		}
		break
	}
	return n, func() {
		for range n {
			<-ocrSlots
		}
	}
}

// ocrLanguages checks the request's language set against those installed.
func (c *Converter) ocrLanguages() (string, error) {
	lang, err := ocr.CheckLanguages(c.opts.OCRLang())
	if err != nil {
		if errors.Is(err, ocr.ErrLanguage) {
			return "", &Error{Code: fail.BadRequest, Cause: err, Message: fmt.Sprintf(
				"lang=%s: OCR reads only the languages installed on this worker: %s", wire.Printable(c.opts.OCRLang()), strings.Join(ocr.Languages(), ", "))}
		}
		return "", &Error{Code: fail.Unavailable, Cause: err, Message: "this worker's OCR (Tesseract) has no language installed"}
	}
	return lang, nil
}

// imageToText reads the text of a picture, in a reader process.
func (c *Converter) imageToText(ctx context.Context, in Input) (Result, error) {
	if !c.ocrOn() {
		return Result{}, fail.New(fail.Unavailable, "this worker has no OCR (Tesseract) to read the text of a picture")
	}
	if _, err := c.ocrLanguages(); err != nil {
		return Result{}, err
	}
	if err := checkSVG(in.Kind, in.Data); err != nil {
		return Result{}, err
	}
	if head, err := readImageHead(in.Kind, in.Data); err == nil {
		if err := c.checkImageSize(in.Kind, head.Width, head.Height, head.Frames, false); err != nil {
			return Result{}, err
		}
	}
	_, release := takeOCRSlots(1)
	defer release()
	if c.cfg.PDFInProcess {
		return c.imageToTextHere(ctx, in)
	}
	return c.inReader(ctx, pdfJob{Size: len(in.Data), Config: c.cfg, Options: c.opts, Kind: in.Kind, Target: "txt", Name: in.Name}, in)
}

// ocrTarget takes a picture through the image pipeline (header checks,
// the page asked for, turned upright, in sRGB, flattened on white) to OCR.
var ocrTarget = imageTarget{name: "txt", label: "text"}

// imageToTextHere reads the text of a picture in this process.
func (c *Converter) imageToTextHere(ctx context.Context, in Input) (Result, error) {
	lang, err := c.ocrLanguages()
	if err != nil {
		return Result{}, err
	}
	job := &imageJob{ctx: ctx, c: c, kind: in.Kind, input: in.Data, target: ocrTarget}
	defer job.close()
	if err := job.prepare(); err != nil {
		return Result{}, err
	}
	page, err := readPicture(job.img, lang, layerPPI(job.img.XRes()))
	if err != nil {
		return Result{}, corrupt(in.Kind, err)
	}
	res := Result{Output: []byte(page.Text), Warnings: job.warnings}
	if strings.TrimSpace(page.Text) == "" {
		res.Warnings = append(res.Warnings, "OCR found no legible text in the picture")
	}
	return res, nil
}

// readPicture reads img's text with a Tesseract of lang.
func readPicture(img *libvips.Image, lang string, ppi int) (ocr.Page, error) {
	gray, err := grayForLayer(img, ppi)
	if err != nil {
		return ocr.Page{}, err
	}
	r, err := ocr.Get(lang)
	if err != nil {
		return ocr.Page{}, err
	}
	defer ocr.Put(r)
	return r.Read(gray)
}

// pdfPageOCR is a page of a PDF to read by OCR: its index from 0 and its
// size in points.
type pdfPageOCR struct {
	index         int
	width, height float64
}

// ocrDPIFor is the resolution page is rendered at: ocrDPI, or less for a
// page so large that its pixels would pass the limits.
func (c *Converter) ocrDPIFor(p pdfPageOCR) int {
	limit := float64(min(c.cfg.MaxPixels, ocr.MaxPixels))
	inches2 := p.width * p.height / (72 * 72)
	if inches2 <= 0 {
		return ocrDPI
	}
	return min(ocrDPI, int(math.Sqrt(limit/inches2)))
}

// ocrPDFPages reads pages of pdf by OCR on threads threads, and returns
// their texts by index.
func (c *Converter) ocrPDFPages(ctx context.Context, pdf []byte, pages []pdfPageOCR, lang string, threads int) (map[int]string, error) {
	texts := make(map[int]string, len(pages))
	var mu sync.Mutex
	var firstErr error
	err := onThreads(ctx, pages, threads, func(p pdfPageOCR) {
		text, err := c.ocrPDFPage(pdf, p, lang)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		texts[p.index] = text
	})
	if err != nil {
		return nil, err
	}
	return texts, firstErr
}

// onThreads calls work on each of items, on up to threads goroutines at once
// (one at least), and hands out no more items once ctx ends: it then returns
// the client's error for it. work locks what it shares.
func onThreads[T any](ctx context.Context, items []T, threads int, work func(T)) error {
	next := make(chan T)
	var wg sync.WaitGroup
	for range max(1, min(threads, len(items))) {
		wg.Go(func() {
			for item := range next {
				work(item)
			}
		})
	}
	for _, item := range items {
		if ctx.Err() != nil {
			break
		}
		next <- item
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return cancelled(ctx)
	}
	return nil
}

// pdfPageOpen lets one OCR thread of the process open a PDF's page at a
// time, for text (ocrPDFPage) and for a text layer (renderForLayer).
// Opening (libvips picks its loader, poppler parses the file) takes about
// 15 ms of a page's 2.5 s; two threads opening at once in a reader's first
// job failed about one job in a hundred, somewhere inside libvips or
// poppler ("libvips failed without a message"), and never did one at a time
// in 600 jobs. Rendering, the long part, stays parallel.
var pdfPageOpen sync.Mutex

// ocrPDFPage renders page p of pdf in grey and reads it.
func (c *Converter) ocrPDFPage(pdf []byte, p pdfPageOCR, lang string) (string, error) {
	dpi := c.ocrDPIFor(p)
	pdfPageOpen.Lock()
	img, err := libvips.Load(pdf, fmt.Sprintf("page=%d,dpi=%d", p.index, dpi))
	pdfPageOpen.Unlock()
	if err != nil {
		return "", corrupt(KindPDF, vipsError(err))
	}
	defer img.Close()
	page, err := readPicture(img, lang, dpi)
	if err != nil {
		return "", &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("page %d could not be read by OCR: %v", p.index+1, err)}
	}
	return page.Text, nil
}

// pageRuns writes page numbers (from 1) as runs: "1–3, 7".
func pageRuns(pages []int) string {
	var runs []string
	for i := 0; i < len(pages); {
		j := i
		for j+1 < len(pages) && pages[j+1] == pages[j]+1 {
			j++
		}
		if j > i {
			runs = append(runs, fmt.Sprintf("%d–%d", pages[i], pages[j]))
		} else {
			runs = append(runs, fmt.Sprint(pages[i]))
		}
		i = j + 1
	}
	return strings.Join(runs, ", ")
}

// pagesWord is "page 3" or "pages 1–3, 7".
func pagesWord(pages []int) string {
	if len(pages) == 1 {
		return "page " + pageRuns(pages)
	}
	return "pages " + pageRuns(pages)
}
