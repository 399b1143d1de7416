package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/wire"
)

// A PDF to a PDF (repaired, decrypted, some pages picked, or split into
// several) and several files into one PDF go through qpdf. qpdf has no limits
// of its own and a C++ library may abort on a file made for it, so it runs in
// the reader process, like poppler (pdfreader.go), after the structural
// checks of pdfguard.go.

// pdfTool is what the reader does with qpdf.
type pdfTool string

const (
	toolRewrite pdfTool = "rewrite" // the whole PDF, or the pages= asked for
	toolSplit   pdfTool = "split"   // a PDF per range of split=, in a ZIP
	toolMerge   pdfTool = "merge"   // every input's pages in one PDF
)

// pdfToPDF is the conversion of a PDF to a PDF.
func (c *Converter) pdfToPDF(ctx context.Context, in Input) (Result, error) {
	if err := c.checkPDF(ctx, in.Data); err != nil {
		return Result{}, err
	}
	if c.wantsTextLayer() {
		return c.searchablePDF(ctx, in) // ocrpdf.go
	}
	tool := toolRewrite
	if c.opts.Split != "" {
		tool = toolSplit
	}
	return c.runPDFTool(ctx, tool, in.Name, []File{{Name: "the PDF", Data: in.Data}})
}

// filesToPDF is the conversion of several files to one PDF: each file that
// is not a PDF becomes one through its own conversion, then qpdf joins them.
func (c *Converter) filesToPDF(ctx context.Context, in Input) (Result, error) {
	if len(in.Files) > c.cfg.MaxFiles {
		return Result{}, &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf(
			"%d files in one job, over the limit of %d (max-files); send them in smaller groups", len(in.Files), c.cfg.MaxFiles)}
	}
	pdfs := make([]File, len(in.Files))
	var warnings []string
	for i, f := range in.Files {
		if ctx.Err() != nil {
			return Result{}, cancelled(ctx)
		}
		label := fileLabel(i, f.Name)
		pdf, warns, err := c.fileAsPDF(ctx, f)
		if err != nil {
			e := AsError(err)
			return Result{}, &Error{Code: e.Code, Message: label + ": " + e.Message, Cause: e.Cause}
		}
		pdfs[i] = File{Name: label, Data: pdf}
		for _, w := range warns {
			warnings = append(warnings, label+": "+w)
		}
	}
	res, err := c.runPDFTool(ctx, toolMerge, in.Name, pdfs)
	res.Warnings = append(warnings, res.Warnings...)
	return res, err
}

// fileLabel names the i-th file of a job in messages: file 2 (scan.jpg).
func fileLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("file %d", i+1)
	}
	return fmt.Sprintf("file %d (%s)", i+1, wire.Printable(name))
}

// fileAsPDF is f as a PDF: itself, checked, or what its own conversion to
// PDF makes, with the options of the merge that conversion takes.
func (c *Converter) fileAsPDF(ctx context.Context, f File) ([]byte, []string, error) {
	kind := Detect(f.Data)
	if kind == KindPDF {
		return f.Data, nil, c.checkPDF(ctx, f.Data)
	}
	conv, err := Plan(kind, "pdf", wire.Options{}, f.Data)
	if err == nil && !c.offers(conv) {
		err = c.notOffered(conv, kind, "pdf")
	}
	if err != nil {
		return nil, nil, err
	}
	part := *c
	part.opts = wire.Options{}
	if slices.Contains(conv.Options, "page_size") {
		part.opts.PageSize = c.opts.PageSize
	}
	if slices.Contains(conv.Options, "margin") {
		part.opts.Margin = c.opts.Margin
	}
	res, err := conv.Run(&part, ctx, Input{Kind: kind, Target: "pdf", Data: f.Data, Name: f.Name})
	return res.Output, res.Warnings, err
}

// runPDFTool runs tool on files in a reader process (or here, for the
// reader itself and for tests).
func (c *Converter) runPDFTool(ctx context.Context, tool pdfTool, name string, files []File) (Result, error) {
	if c.cfg.PDFInProcess {
		return c.pdfToolHere(tool, name, files)
	}
	job := pdfJob{Config: c.cfg, Options: c.opts, Tool: tool, Name: name}
	data := job.pack(files)
	return c.inReader(ctx, job, Input{Kind: KindPDF, Data: data})
}

// pdfToolHere runs tool with qpdf in this process.
func (c *Converter) pdfToolHere(tool pdfTool, name string, files []File) (Result, error) {
	for _, f := range files {
		// Opening each file first names the one qpdf cannot open.
		n, err := qpdf.Pages(c.qpdfInput(f.Data))
		if err != nil {
			return Result{}, c.qpdfError(err, f.Name)
		}
		if err := c.checkPDFPageCount(n); err != nil {
			return Result{}, err
		}
	}
	switch tool {
	case toolMerge:
		inputs := make([]qpdf.Input, len(files))
		for i, f := range files {
			inputs[i] = c.qpdfInput(f.Data)
		}
		out, err := qpdf.Merge(inputs)
		res, err := c.pdfResult(out, err)
		res.Warnings = append(res.Warnings, leftWarnings(out.Left, files)...)
		return res, err
	case toolSplit:
		return c.splitPDF(name, files[0].Data)
	}
	return c.rewritePDF(files[0].Data)
}

func (c *Converter) qpdfInput(pdf []byte) qpdf.Input {
	return qpdf.Input{PDF: pdf, Password: c.opts.Password}
}

// rewritePDF is the PDF repaired and decrypted, or the pages asked for.
func (c *Converter) rewritePDF(pdf []byte) (Result, error) {
	if c.opts.Pages == "" {
		out, err := qpdf.Rewrite(c.qpdfInput(pdf))
		return c.pdfResult(out, err)
	}
	ranges, err := c.qpdfRanges(pdf, c.opts.Pages)
	if err != nil {
		return Result{}, err
	}
	parts, err := qpdf.Split(c.qpdfInput(pdf), ranges)
	if err != nil || len(parts) == 1 {
		return c.pdfResult(first(parts), err)
	}
	inputs := make([]qpdf.Input, len(parts))
	for i, p := range parts {
		inputs[i] = qpdf.Input{PDF: p.PDF}
	}
	out, err := qpdf.Merge(inputs)
	out.Repaired = out.Repaired || parts[0].Repaired
	out.Warnings = append(parts[0].Warnings, out.Warnings...)
	out.Left = parts[0].Left
	return c.pdfResult(out, err)
}

func first(outs []qpdf.Output) qpdf.Output {
	if len(outs) == 0 {
		return qpdf.Output{}
	}
	return outs[0]
}

// splitPDF cuts the PDF at split= into a ZIP of PDFs: NAME-p001.pdf for
// split=each, NAME-p001-003.pdf for a range.
func (c *Converter) splitPDF(name string, pdf []byte) (Result, error) {
	spec := c.opts.Split
	if spec == wire.SplitEach {
		spec = "1-"
	}
	ranges, err := c.qpdfRanges(pdf, spec)
	if err != nil {
		return Result{}, err
	}
	n, _ := qpdf.Pages(c.qpdfInput(pdf))
	if c.opts.Split == wire.SplitEach {
		ranges = ranges[:0]
		for p := 1; p <= n; p++ {
			ranges = append(ranges, qpdf.Range{First: p, Last: p})
		}
	}
	parts, err := qpdf.Split(c.qpdfInput(pdf), ranges)
	if err != nil {
		return Result{}, c.qpdfError(err, "the PDF")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	pageName := pageNamer(name, "pdf", n)
	for i, part := range parts {
		entry := pageName(ranges[i].First)
		if r := ranges[i]; r.Last != r.First {
			entry = fmt.Sprintf("%s-%0*d.pdf", entry[:len(entry)-len(".pdf")], max(3, len(fmt.Sprint(n))), r.Last)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: entry, Method: zip.Deflate, Modified: time.Now()})
		if err == nil {
			_, err = w.Write(part.PDF)
		}
		if err != nil {
			return Result{}, fail.Wrap(fail.Internal, "internal error: writing the ZIP of PDFs", err)
		}
	}
	if err := zw.Close(); err != nil {
		return Result{}, fail.Wrap(fail.Internal, "internal error: writing the ZIP of PDFs", err)
	}
	res, _ := c.pdfResult(first(parts), nil)
	return Result{Output: buf.Bytes(), Warnings: res.Warnings, ContentType: ZipContentType, Frames: n}, nil
}

// qpdfRanges reads a page selection against the PDF's pages: ranges past
// the end are cut there, and one that starts past it is an error.
func (c *Converter) qpdfRanges(pdf []byte, spec string) ([]qpdf.Range, error) {
	n, err := qpdf.Pages(c.qpdfInput(pdf))
	if err != nil {
		return nil, c.qpdfError(err, "the PDF")
	}
	sel, err := selectPages(spec, n)
	if err != nil {
		return nil, err
	}
	var ranges []qpdf.Range
	for _, r := range sel {
		last := r.Last
		if last == 0 || last > n {
			last = n
		}
		if r.First <= n {
			ranges = append(ranges, qpdf.Range{First: r.First, Last: last})
		}
	}
	return ranges, nil
}

// pdfResult is qpdf's output as a result, with a warning when qpdf had to
// repair an input.
func (c *Converter) pdfResult(out qpdf.Output, err error) (Result, error) {
	if err != nil {
		return Result{}, c.qpdfError(err, "the PDF")
	}
	res := Result{Output: out.PDF}
	if out.Repaired {
		detail := ""
		if len(out.Warnings) > 0 {
			detail = " (qpdf: " + out.Warnings[0] + ")"
		}
		res.Warnings = []string{"the PDF was damaged and has been repaired: check that nothing is missing" + detail}
	}
	if merged := len(out.Left) > 0 && out.Left[0].Input > 0; !merged {
		res.Warnings = append(res.Warnings, leftWarnings(out.Left, nil)...)
	}
	return res, nil
}

// leftWarnings says which parts of the inputs, kept by the document rather
// than by its pages, are not in a PDF made of their pages: of files, merged,
// or of the one PDF cut or split when files is nil.
func leftWarnings(left []qpdf.LeftBehind, files []File) []string {
	var warnings []string
	for _, l := range left {
		whose, into := "the PDF's", "the pages taken from it"
		if files != nil {
			whose, into = files[l.Input].Name+": its", "the merged PDF"
		}
		switch l.Part {
		case qpdf.Outline:
			warnings = append(warnings, fmt.Sprintf("%s bookmarks (outline) are not in %s", whose, into))
		case qpdf.Form:
			warnings = append(warnings, fmt.Sprintf("%s form fields are not in %s: what was filled in still shows, but can no longer be edited", whose, into))
		}
	}
	return warnings
}

// qpdfError is the client's error for what qpdf said about the PDF what.
func (c *Converter) qpdfError(err error, what string) error {
	switch {
	case errors.Is(err, qpdf.ErrPassword) && c.opts.Password == "":
		return &Error{Code: fail.BadRequest, Cause: err, Message: what + " is encrypted: give its password with the option password"}
	case errors.Is(err, qpdf.ErrPassword):
		return &Error{Code: fail.BadRequest, Cause: err, Message: "the password given does not open " + what + " (give the user or the owner password)"}
	case errors.Is(err, qpdf.ErrRange):
		return &Error{Code: fail.BadRequest, Cause: err, Message: what + ": " + err.Error()}
	case errors.Is(err, qpdf.ErrDamaged):
		return &Error{Code: fail.ConversionFailed, Cause: err, Message: "corrupt PDF: qpdf cannot read " + what + ", even with repairs"}
	}
	return &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("%s could not be processed: %v", what, err)}
}
