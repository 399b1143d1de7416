package convert

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-fonts/dejavu/dejavusans"
	"golang.org/x/image/font/sfnt"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/qpdf"
)

// Page layout of TXT → PDF: A4, 20 mm margins, DejaVu Sans 11 pt.
const (
	pageMarginMM   = 20
	fontFamily     = "DejaVuSans"
	fontSizePt     = 11
	lineHeightMM   = 5.2 // 1.35 × 11 pt
	paragraphGapMM = 3
	tabSpaces      = "    "
	// linesPerCtxCheck bounds the work done between two looks at ctx inside a
	// single huge paragraph.
	linesPerCtxCheck = 512
)

// pdfDate is written as the PDF's creation and modification date, so the same
// text always gives the same bytes (tests and caches compare them) and the PDF
// does not record when the server converted it.
var pdfDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// textFont is DejaVu Sans with what TXT → PDF needs to know about it, computed
// once per process: which characters it can draw and how wide they are.
type textFont struct {
	ttf []byte
	// covered is a bitset over the Basic Multilingual Plane. fpdf fails the whole
	// document on a character outside it, and draws an empty box for one inside
	// it that the font lacks; both are replaced by replacement.
	covered     [0x10000 / 64]uint64
	replacement rune
	// ascii says the font draws every printable ASCII character, which lets
	// TXT → PDF take runs of them without looking at each.
	ascii bool
	// widths are advance widths in 1/1000 em as fpdf counts them, so that lines
	// wrapped here fit exactly the cell fpdf draws them in.
	widths []uint16
}

var (
	fontOnce   sync.Once
	sharedFont *textFont
	fontErr    error
)

func loadTextFont() (*textFont, error) {
	fontOnce.Do(func() { sharedFont, fontErr = newTextFont(dejavusans.TTF) })
	return sharedFont, fontErr
}

func newTextFont(ttf []byte) (*textFont, error) {
	parsed, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("parse DejaVu Sans: %w", err)
	}
	f := &textFont{ttf: ttf, widths: make([]uint16, 0x10000)}
	var buf sfnt.Buffer
	for r := rune(0x20); r < 0x10000; r++ {
		if isDropped(r) {
			continue
		}
		gi, err := parsed.GlyphIndex(&buf, r)
		if err == nil && gi != 0 {
			f.covered[r/64] |= 1 << (r % 64)
		}
	}
	f.ascii = true
	for r := rune(0x21); r < 0x7f; r++ {
		f.ascii = f.ascii && f.has(r)
	}
	switch {
	case f.has(utf8.RuneError):
		f.replacement = utf8.RuneError
	default:
		f.replacement = '?'
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes(fontFamily, "", ttf)
	pdf.SetFont(fontFamily, "", fontSizePt)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("load DejaVu Sans into fpdf: %w", err)
	}
	var one [utf8.UTFMax]byte
	for r := rune(0x20); r < 0x10000; r++ {
		if f.has(r) {
			n := utf8.EncodeRune(one[:], r)
			f.widths[r] = uint16(pdf.GetStringSymbolWidth(string(one[:n])))
		}
	}
	return f, nil
}

func (f *textFont) has(r rune) bool {
	return r >= 0 && r < 0x10000 && f.covered[r/64]&(1<<(r%64)) != 0
}

// isDropped reports the control characters that TXT → PDF leaves out: C0 and C1
// controls and DEL. Line ends and tabs are handled before this is asked.
func isDropped(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

// textToPDFFast handles operation 4 with the original's paragraph rule: blank lines
// (empty or only whitespace) separate paragraphs; the lines of a paragraph are
// joined with a space and wrapped again to the page width.
//
// The text is laid out as it is read, so memory beyond the input and the PDF is
// one output line, and a text too long for max-text-pages stops as soon as it
// passes the limit, however it is split into lines.
func (c *Converter) textToPDFFast(ctx context.Context, in Input) (Result, error) {
	input := in.Data
	input = bytes.TrimPrefix(input, []byte("\uFEFF"))
	d, err := newTextDoc(c.font, c.opts.PageSize, c.cfg.MaxTextPages)
	if err != nil {
		return Result{}, err
	}
	l := &textLayout{d: d, ctx: ctx}
	var one [utf8.UTFMax]byte
	for i := 0; i < len(input); {
		// Runs of printable ASCII, the bulk of most texts, go in one piece
		// (a bounded one, so that a line of 100 MB is laid out as it is read).
		if j, end := i, min(len(input), i+wrapEvery); c.font.ascii && input[j] > ' ' && input[j] < 0x7f {
			for j < end && input[j] > ' ' && input[j] < 0x7f {
				j++
			}
			if err := l.text(input[i:j]); err != nil {
				return Result{}, err
			}
			i = j
			continue
		}
		r, size := utf8.DecodeRune(input[i:])
		i += size
		switch {
		case r == '\n':
			err = l.endLine()
		case r == '\r':
			// Old Mac line ends; a CR LF pair counts once.
			if i < len(input) && input[i] == '\n' {
				i++
			}
			err = l.endLine()
		case r == '\u2029': // PARAGRAPH SEPARATOR
			if err = l.endLine(); err == nil {
				err = l.endParagraph()
			}
		case r == '\t':
			l.space(tabSpaces)
		case isDropped(r):
		case r == '\u2028': // LINE SEPARATOR joins like a line end inside a paragraph
			l.space(" ")
		case c.font.has(r):
			n := utf8.EncodeRune(one[:], r)
			if unicode.IsSpace(r) {
				l.space(string(one[:n]))
			} else {
				err = l.text(one[:n])
			}
		default:
			// Outside the BMP (emoji) or missing from DejaVu Sans (CJK). An invalid
			// byte cannot reach here: Detect accepted the input as UTF-8.
			d.replaced++
			err = l.text(one[:utf8.EncodeRune(one[:], c.font.replacement)])
		}
		if err != nil {
			return Result{}, err
		}
	}
	if err := l.endLine(); err != nil {
		return Result{}, err
	}
	if err := l.endParagraph(); err != nil {
		return Result{}, err
	}
	out, err := d.finish()
	if err != nil {
		return Result{}, err
	}
	return Result{Output: out, Replaced: d.replaced}, nil
}

// textLayout applies the paragraph rule to text as it arrives: a line is trimmed
// (white space at either end dropped, as strings.TrimSpace would), joined to the
// one before with a space, and a line with no text ends the paragraph.
type textLayout struct {
	d        *textDoc
	ctx      context.Context
	lineText bool   // the current line has text
	paraText bool   // the current paragraph has text
	pending  []byte // white space since the line's last text, kept if more text follows
}

// text adds characters that are not white space.
func (l *textLayout) text(p []byte) error {
	d := l.d
	switch {
	case !l.lineText && l.paraText:
		d.buf = append(d.buf, ' ')
	case !l.lineText:
		d.beginParagraph()
	default:
		d.buf = append(d.buf, l.pending...)
	}
	l.lineText, l.pending = true, l.pending[:0]
	d.buf = append(d.buf, p...)
	if len(d.buf)-d.i >= wrapEvery {
		return d.wrap(l.ctx)
	}
	return nil
}

// space adds white space, which counts only between text on the same line.
func (l *textLayout) space(s string) {
	if l.lineText {
		l.pending = append(l.pending, s...)
	}
}

func (l *textLayout) endLine() error {
	l.pending = l.pending[:0]
	if l.lineText {
		l.lineText, l.paraText = false, true
		return nil
	}
	return l.endParagraph()
}

func (l *textLayout) endParagraph() error {
	if !l.paraText {
		return nil
	}
	l.paraText = false
	if l.ctx.Err() != nil {
		return cancelled(l.ctx)
	}
	return l.d.endParagraph(l.ctx)
}

// wrapEvery is how much text is gathered before it is laid out.
const wrapEvery = 4 << 10

// textDoc is one PDF being written.
type textDoc struct {
	pdf      *fpdf.Fpdf
	font     *textFont
	width    float64 // of a line, in mm
	maxUnits int     // the same width in the font's 1/1000 em at fontSizePt
	maxPages int
	paras    int
	replaced int

	// The paragraph being wrapped: buf[start:] is not drawn yet, buf[start:i]
	// has been measured (units wide; lastSpace is its last space, or -1).
	buf       []byte
	start, i  int
	units     int
	lastSpace int
	lines     int
}

func newTextDoc(font *textFont, pageSize string, maxPages int) (*textDoc, error) {
	if pageSize == "" {
		pageSize = "A4"
	}
	pdf := fpdf.New("P", "mm", pageSize, "")
	// fpdf compresses each page with a new flate writer, a megabyte of
	// tables zeroed for every page: 100 of 170 ms for a megabyte of text
	// (docs/performance.md). qpdf compresses the whole file in finish instead.
	pdf.SetCompression(false)
	pdf.SetMargins(pageMarginMM, pageMarginMM, pageMarginMM)
	pdf.SetAutoPageBreak(true, pageMarginMM)
	pdf.SetCellMargin(0)
	pdf.SetCreationDate(pdfDate)
	pdf.SetModificationDate(pdfDate)
	pdf.SetCatalogSort(true)
	pdf.SetProducer("fileconv", false)
	pdf.AddUTF8FontFromBytes(fontFamily, "", font.ttf)
	pdf.SetFont(fontFamily, "", fontSizePt)
	pdf.AddPage()
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("start the PDF: %w", err)
	}
	pageW, _ := pdf.GetPageSize()
	width := pageW - 2*pageMarginMM
	_, unitSize := pdf.GetFontSize()
	return &textDoc{
		pdf:       pdf,
		font:      font,
		width:     width,
		maxUnits:  int(width * 1000 / unitSize),
		maxPages:  maxPages,
		lastSpace: -1,
	}, nil
}

func (d *textDoc) beginParagraph() {
	if d.paras > 0 {
		d.pdf.Ln(paragraphGapMM)
	}
	d.paras++
}

// wrap draws the lines of the paragraph that are complete, breaking at spaces,
// and inside a word only when the word alone is wider than the line. It runs in
// time linear in the text: after a break at a space, only the part of the line
// after that space is measured again.
func (d *textDoc) wrap(ctx context.Context) error {
	for d.i < len(d.buf) {
		r, size := utf8.DecodeRune(d.buf[d.i:])
		if r == ' ' {
			d.lastSpace = d.i
		}
		if r < 0x10000 {
			d.units += int(d.font.widths[r])
		}
		if d.units <= d.maxUnits || d.i == d.start {
			d.i += size
			continue
		}
		end := d.i // break before the rune that overflows, in the middle of a word
		if d.lastSpace > d.start {
			end = d.lastSpace
		}
		if err := d.line(d.buf[d.start:end]); err != nil {
			return err
		}
		d.start = end
		for d.start < len(d.buf) && d.buf[d.start] == ' ' {
			d.start++
		}
		d.i, d.units, d.lastSpace = d.start, 0, -1
		if d.lines++; d.lines%linesPerCtxCheck == 0 && ctx.Err() != nil {
			return cancelled(ctx)
		}
	}
	// What is drawn is dropped once it is most of the buffer, so that a long
	// paragraph costs a copy of each byte at most once more.
	if d.start > wrapEvery && d.start > len(d.buf)/2 {
		n := copy(d.buf, d.buf[d.start:])
		d.buf = d.buf[:n]
		d.i -= d.start
		if d.lastSpace >= 0 {
			d.lastSpace -= d.start
		}
		d.start = 0
	}
	return nil
}

// endParagraph wraps what is left of the paragraph and draws its last line.
func (d *textDoc) endParagraph(ctx context.Context) error {
	if err := d.wrap(ctx); err != nil {
		return err
	}
	var err error
	if d.start < len(d.buf) {
		err = d.line(d.buf[d.start:])
	}
	d.buf, d.start, d.i, d.units, d.lastSpace = d.buf[:0], 0, 0, 0, -1
	return err
}

// line draws one line, and stops the conversion once it starts a page past
// max-text-pages.
func (d *textDoc) line(s []byte) error {
	d.pdf.CellFormat(d.width, lineHeightMM, strings.TrimRight(string(s), " "), "", 1, "L", false, 0, "")
	if d.pdf.PageNo() > d.maxPages {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("text makes more than %d pages of PDF, over the limit of %d pages (max-text-pages)", d.maxPages, d.maxPages)}
	}
	return nil
}

func (d *textDoc) finish() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("write the PDF: %w", err)
	}
	// The PDF is fpdf's, not a client's: qpdf may read it in this process.
	out, err := qpdf.Rewrite(qpdf.Input{PDF: buf.Bytes()})
	if err != nil {
		return nil, fmt.Errorf("compress the PDF: %w", err)
	}
	return out.PDF, nil
}
