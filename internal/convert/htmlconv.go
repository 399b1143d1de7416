package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// Web pages and Markdown become PDFs through Chromium, an engine of its own
// (internal/htmlpdf) that the worker starts, self-tests and hands to the
// converter, like the office engine (officeconv.go).

// The kinds the browser engine reads. A Markdown or CSV file is a text that
// cannot say what it is: the request does (from=markdown, from=csv).
const (
	KindHTML     Kind = "html"
	KindMarkdown Kind = "markdown"
	KindCSV      Kind = "csv"
)

// BrowserJob is one document for the browser engine.
type BrowserJob struct {
	Input []byte
	// Markdown says Input is Markdown, to be rendered with the default
	// stylesheet; otherwise it is HTML.
	Markdown  bool
	PageSize  string
	Landscape bool
	// MarginPt is the pages' margin in points; -1 for the engine's default.
	MarginPt float64
	Pages    string
}

// BrowserEngine prints web pages to PDF: Chromium's warm tabs, or a stand-in
// in tests. Its errors wrap ErrDocumentUnreadable or ErrEngineCrashed.
type BrowserEngine interface {
	Convert(ctx context.Context, job BrowserJob) ([]byte, error)
}

// SetBrowserEngine gives the converter its browser engine (nil takes it
// away).
func (c *Converter) SetBrowserEngine(e BrowserEngine) { c.engineSlots().browser.set(e) }

// browserEngine is the browser engine, or nil.
func (c *Converter) browserEngine() BrowserEngine {
	if c.engines == nil {
		return nil
	}
	return c.engines.browser.get()
}

// convertWebPage prints an HTML or Markdown document with the browser engine.
func (c *Converter) convertWebPage(ctx context.Context, in Input) (Result, error) {
	engine := c.browserEngine()
	if engine == nil {
		return Result{}, fail.New(fail.Unavailable, "this worker's browser engine (Chromium) is not running")
	}
	margin := -1.0
	if c.opts.Margin != "" {
		margin, _ = wire.ParseLength(c.opts.Margin)
	}
	out, err := engine.Convert(ctx, BrowserJob{Input: in.Data, Markdown: in.Kind == KindMarkdown,
		PageSize: c.opts.PageSize, Landscape: c.opts.Landscape, MarginPt: margin, Pages: c.opts.Pages})
	if err != nil {
		what := in.Kind.Info().Short
		var ce *Error
		switch {
		case errors.As(err, &ce):
			return Result{}, ce
		case ctx.Err() != nil:
			return Result{}, cancelled(ctx)
		case errors.Is(err, ErrDocumentUnreadable):
			return Result{}, &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("the %s cannot be printed: %v", what, err)}
		case errors.Is(err, ErrEngineCrashed):
			return Result{}, &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("Chromium stopped on the %s: the page is more than it can print", what)}
		}
		return Result{}, &Error{Code: fail.Internal, Cause: err, Message: fmt.Sprintf("internal error: the browser engine failed on the %s", what)}
	}
	return Result{Output: out, Warnings: webPageWarnings(in.Data, in.Kind == KindMarkdown, engine)}, nil
}

// isHTML matches a document that starts, past a byte-order mark, white
// space and comments, with <!DOCTYPE html> or <html>.
func isHTML(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if !bytes.HasPrefix(b, []byte("<!--")) {
			break
		}
		end := bytes.Index(b, []byte("-->"))
		if end < 0 {
			return false
		}
		b = b[end+3:]
	}
	head := strings.ToLower(string(b[:min(len(b), 15)]))
	return strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") &&
		len(head) > 5 && strings.ContainsRune(" \t\r\n>", rune(head[5]))
}

// KindFor is the kind a job's input is converted as: the kind detected, or,
// for a text, the kind from= names (a CSV, a Markdown file); from=text reads
// an HTML or RTF file as the text it is.
func KindFor(detected Kind, opts wire.Options) (Kind, error) {
	want := Kind(opts.From)
	switch {
	case want == "":
		return detected, nil
	case want == KindText && (detected == KindHTML || detected == KindRTF || detected == KindText):
		return KindText, nil
	case detected == KindText && want != KindText:
		return want, nil
	}
	return "", fail.New(fail.BadRequest, fmt.Sprintf("from=%s reads a text as %s; this file is %s", opts.From, want.Info().Short, withArticle(detected.Label())))
}

// withArticle puts "a" or "an" before a label.
func withArticle(label string) string {
	if label != "" && strings.ContainsRune("AEIOUaeiou", rune(label[0])) {
		return "an " + label
	}
	return "a " + label
}
