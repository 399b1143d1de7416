// Package textpdf typesets plain text in any script as a PDF, with Pango
// (font fallback through fontconfig, shaping by HarfBuzz, bidi by FriBidi,
// line breaking by Unicode's rules and Thai dictionaries) drawing on a Cairo
// PDF surface that writes to memory and embeds a subset of every font used.
//
// Text is laid out a paragraph at a time, and a paragraph longer than a few
// kilobytes a piece at a time (the last line of each piece laid out again
// with the next), so memory stays bounded whatever the input.
//
// Characters no installed font draws are drawn as boxes holding their code
// point, and counted in Result.Missing for the caller to warn about.
//
// Thread safety: Pango's font map and caches are shared by the whole
// process and are not safe for concurrent use, so Render runs one call at a
// time (a mutex; a second caller waits). Run conversions in parallel in
// separate processes, as fileconv's reader processes do. A Pango call
// cannot be interrupted: ctx is checked between pieces of text, and a hard
// deadline needs the process to be killed.
package textpdf

// #cgo pkg-config: pangocairo pangoft2 fontconfig cairo-pdf
// #include <stdlib.h>
// #include "render.h"
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Layout is how lines of the text become lines of the PDF.
type Layout string

const (
	// Reflow reads blank lines as the ends of paragraphs and joins the
	// lines of a paragraph, wrapping them again at the margin: prose.
	Reflow Layout = "reflow"
	// Preserve keeps every line break and space, in a monospaced font, and
	// wraps only the lines wider than the page: code, logs, tables, art.
	Preserve Layout = "preserve"
)

// Layouts lists the values of Layout.
var Layouts = []Layout{Reflow, Preserve}

// Font sizes, in points. At 10 points a line of monospace on A4 within the
// margins holds 80 characters, a terminal's width.
const (
	DefaultFontSize         = 11
	DefaultPreserveFontSize = 10
	MinFontSize             = 4
	MaxFontSize             = 72
)

// Options say how to typeset.
type Options struct {
	Layout Layout // Reflow when empty
	// FontSize is in points; 0 is DefaultFontSize, or
	// DefaultPreserveFontSize for Preserve.
	FontSize float64
	// PageSize is "A4" (the default) or "Letter".
	PageSize string
	// Lang is the text's language as a BCP 47 tag ("ja", "zh-TW", "ko"),
	// which picks the forms of Han characters, which differ between
	// Japanese, Chinese and Korean. Empty means a guess from the text.
	Lang string
	// MaxPages bounds the pages; 0 means no bound.
	MaxPages int
}

// Result is a typeset text.
type Result struct {
	PDF   []byte
	Pages int
	// Missing counts the characters no installed font has, drawn as boxes.
	Missing int
	// MissingChars are the first few distinct ones.
	MissingChars []rune
}

var (
	// ErrTooManyPages is a text that needs more than Options.MaxPages.
	ErrTooManyPages = errors.New("too many pages")
	// ErrNoFonts is a machine without fonts, or whose fontconfig cannot
	// be loaded.
	ErrNoFonts = errors.New("no fonts: fontconfig found none")
)

// Page sizes in points, and the margin on every side (20 mm).
var pageSizes = map[string][2]float64{
	"a4":     {595.2756, 841.8898},
	"letter": {612, 792},
}

const marginPt = 20 * 72 / 25.4

// Font families, in order; fontconfig adds the fallbacks for what they
// lack, picking by the language of each run of text. Noto Sans first, for
// its coverage; Noto's Arabic and Hebrew next, since fontconfig's fallback
// would take DejaVu Sans for them (listed before them for sans-serif), whose
// Arabic is plainer and unlike Noto Sans. Han, kana and Hangul are left to
// the fallback, which picks Noto Sans CJK's Japanese, Chinese or Korean
// forms by the language.
const (
	proseFamilies = "Noto Sans,Noto Sans Arabic,Noto Sans Hebrew"
	monoFamilies  = "monospace"
)

// mu serialises every use of Pango (see the package comment).
var mu sync.Mutex

// Validate reports the first option out of range, in the user's words.
func (o Options) Validate() error {
	switch {
	case o.Layout != "" && o.Layout != Reflow && o.Layout != Preserve:
		return fmt.Errorf("layout %q: use reflow or preserve", o.Layout)
	case o.FontSize != 0 && (o.FontSize < MinFontSize || o.FontSize > MaxFontSize || o.FontSize != o.FontSize):
		return fmt.Errorf("font size %g: use %d to %d points", o.FontSize, MinFontSize, MaxFontSize)
	}
	if _, ok := pageSizes[strings.ToLower(o.pageSize())]; !ok {
		return fmt.Errorf("page size %q: use A4 or Letter", o.PageSize)
	}
	return nil
}

func (o Options) pageSize() string {
	if o.PageSize == "" {
		return "A4"
	}
	return o.PageSize
}

func (o Options) fontSize() float64 {
	switch {
	case o.FontSize != 0:
		return o.FontSize
	case o.Layout == Preserve:
		return DefaultPreserveFontSize
	}
	return DefaultFontSize
}

// Render typesets text, which must be UTF-8.
func Render(ctx context.Context, text []byte, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	if !utf8.Valid(text) {
		return Result{}, errors.New("textpdf: the text is not UTF-8 (decode it first)")
	}
	lang := o.Lang
	if lang == "" {
		lang = GuessLang(text)
	}
	families := proseFamilies
	if o.Layout == Preserve {
		families = monoFamilies
	}
	mu.Lock()
	defer mu.Unlock()
	d, err := newDoc(pageSizes[strings.ToLower(o.pageSize())], families, o.fontSize(), lang, o.MaxPages)
	if err != nil {
		return Result{}, err
	}
	defer C.tp_free(d.c)
	w := &writer{doc: d, ctx: ctx, gap: o.fontSize() * 0.75}
	if o.Layout == Preserve {
		err = w.preserve(text)
	} else {
		err = w.reflow(text)
	}
	if err != nil {
		return Result{}, err
	}
	return d.finish()
}

// doc is one PDF being written, on the C side.
type doc struct {
	c        *C.tp_doc
	maxPages int
}

func newDoc(size [2]float64, families string, fontSize float64, lang string, maxPages int) (*doc, error) {
	cFamilies, cLang := C.CString(families), C.CString(lang)
	defer C.free(unsafe.Pointer(cFamilies))
	defer C.free(unsafe.Pointer(cLang))
	var status C.int
	d := C.tp_new(C.double(size[0]), C.double(size[1]), C.double(marginPt), cFamilies, C.double(fontSize), cLang, C.int(maxPages), &status)
	switch {
	case status == C.TP_NO_FONTS:
		return nil, ErrNoFonts
	case d == nil:
		return nil, errors.New("textpdf: out of memory starting the PDF")
	case status != C.TP_OK:
		err := fmt.Errorf("textpdf: start the PDF: cairo: %s", C.GoString(C.tp_cairo_error(d)))
		C.tp_free(d)
		return nil, err
	}
	return &doc{c: d, maxPages: maxPages}, nil
}

// text lays out p and draws its lines; with partial, all but the last,
// returning where that one starts.
func (d *doc) text(p []byte, partial bool) (carry int, err error) {
	if len(p) == 0 {
		return 0, nil
	}
	var cCarry C.int
	part := C.int(0)
	if partial {
		part = 1
	}
	switch st := C.tp_text(d.c, (*C.char)(unsafe.Pointer(&p[0])), C.int(len(p)), part, &cCarry); st {
	case C.TP_OK:
		return int(cCarry), nil
	case C.TP_TOO_MANY_PAGES:
		return 0, fmt.Errorf("%w: the text makes more than %d pages", ErrTooManyPages, d.maxPages)
	default:
		return 0, fmt.Errorf("textpdf: draw the text: cairo: %s", C.GoString(C.tp_cairo_error(d.c)))
	}
}

// space moves down before the next line.
func (d *doc) space(pts float64) { C.tp_space(d.c, C.double(pts)) }

func (d *doc) finish() (Result, error) {
	var out *C.uchar
	var n C.size_t
	if C.tp_finish(d.c, &out, &n) != C.TP_OK {
		return Result{}, fmt.Errorf("textpdf: finish the PDF: cairo: %s", C.GoString(C.tp_cairo_error(d.c)))
	}
	defer C.free(unsafe.Pointer(out))
	res := Result{
		PDF:     bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n))),
		Pages:   int(C.tp_pages(d.c)),
		Missing: int(C.tp_unknown(d.c)),
	}
	var sample [C.TP_SAMPLE]C.uint32_t
	for _, r := range sample[:C.tp_unknown_sample(d.c, &sample[0])] {
		res.MissingChars = append(res.MissingChars, rune(r))
	}
	return res, nil
}
