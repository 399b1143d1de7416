package convert

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-fonts/dejavu/dejavusans"
	"golang.org/x/image/font/sfnt"
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

// textToPDF handles operation 4 with the original's paragraph rule: blank lines
// (empty or only whitespace) separate paragraphs; the lines of a paragraph are
// joined with a space and wrapped again to the page width.
func (c *Converter) textToPDF(ctx context.Context, input []byte) (Result, error) {
	input = bytes.TrimPrefix(input, []byte("\uFEFF"))
	d, err := newTextDoc(c.font, c.opts.PageSize)
	if err != nil {
		return Result{}, err
	}

	// Paragraphs are laid out as soon as they end, so memory beyond the input
	// and the PDF is one paragraph.
	var line, para strings.Builder
	endLine := func() error {
		text := strings.TrimSpace(line.String())
		line.Reset()
		if text != "" {
			if para.Len() > 0 {
				para.WriteByte(' ')
			}
			para.WriteString(text)
			return nil
		}
		return endParagraph(ctx, d, &para)
	}
	for i := 0; i < len(input); {
		r, size := utf8.DecodeRune(input[i:])
		i += size
		switch {
		case r == '\n':
			if err := endLine(); err != nil {
				return Result{}, err
			}
		case r == '\r':
			// Old Mac line ends; a CR LF pair counts once.
			if i < len(input) && input[i] == '\n' {
				i++
			}
			if err := endLine(); err != nil {
				return Result{}, err
			}
		case r == '\u2029': // PARAGRAPH SEPARATOR
			if err := endLine(); err != nil {
				return Result{}, err
			}
			if err := endParagraph(ctx, d, &para); err != nil {
				return Result{}, err
			}
		case r == '\t':
			line.WriteString(tabSpaces)
		case isDropped(r):
		case r == '\u2028': // LINE SEPARATOR joins like a line end inside a paragraph
			line.WriteByte(' ')
		case c.font.has(r):
			line.WriteRune(r)
		default:
			// Outside the BMP (emoji) or missing from DejaVu Sans (CJK). An invalid
			// byte cannot reach here: Detect accepted the input as UTF-8.
			line.WriteRune(c.font.replacement)
			d.replaced++
		}
	}
	if err := endLine(); err != nil {
		return Result{}, err
	}
	if err := endParagraph(ctx, d, &para); err != nil {
		return Result{}, err
	}
	out, err := d.finish()
	if err != nil {
		return Result{}, err
	}
	return Result{Output: out, Replaced: d.replaced}, nil
}

func endParagraph(ctx context.Context, d *textDoc, para *strings.Builder) error {
	if para.Len() == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return cancelled(ctx)
	}
	err := d.paragraph(ctx, para.String())
	para.Reset()
	return err
}

// textDoc is one PDF being written.
type textDoc struct {
	pdf      *fpdf.Fpdf
	font     *textFont
	width    float64 // of a line, in mm
	maxUnits int     // the same width in the font's 1/1000 em at fontSizePt
	paras    int
	replaced int
}

func newTextDoc(font *textFont, pageSize string) (*textDoc, error) {
	if pageSize == "" {
		pageSize = "A4"
	}
	pdf := fpdf.New("P", "mm", pageSize, "")
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
		pdf:      pdf,
		font:     font,
		width:    width,
		maxUnits: int(width * 1000 / unitSize),
	}, nil
}

// paragraph wraps p, which holds only characters the font has, at spaces, and
// inside a word only when the word alone is wider than the line. It runs in time
// linear in len(p): after a break at a space, only the part of the line after
// that space is measured again.
func (d *textDoc) paragraph(ctx context.Context, p string) error {
	if d.paras > 0 {
		d.pdf.Ln(paragraphGapMM)
	}
	d.paras++
	start, units, lastSpace, lines := 0, 0, -1, 0
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == ' ' {
			lastSpace = i
		}
		if r < 0x10000 {
			units += int(d.font.widths[r])
		}
		if units <= d.maxUnits || i == start {
			i += size
			continue
		}
		end := i // break before the rune that overflows, in the middle of a word
		if lastSpace > start {
			end = lastSpace
		}
		d.line(p[start:end])
		start = end
		for start < len(p) && p[start] == ' ' {
			start++
		}
		i, units, lastSpace = start, 0, -1
		if lines++; lines%linesPerCtxCheck == 0 && ctx.Err() != nil {
			return cancelled(ctx)
		}
	}
	if start < len(p) {
		d.line(p[start:])
	}
	return nil
}

func (d *textDoc) line(s string) {
	d.pdf.CellFormat(d.width, lineHeightMM, strings.TrimRight(s, " "), "", 1, "L", false, 0, "")
}

func (d *textDoc) finish() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("write the PDF: %w", err)
	}
	return buf.Bytes(), nil
}
