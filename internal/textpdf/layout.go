package textpdf

import (
	"bytes"
	"context"
	"unicode"
	"unicode/utf8"
)

// chunk is how much text one Pango layout holds at most (a little more, to
// end on a whole character). Pango's work per layout grows with its text;
// 16 KiB keeps a layout's memory to a few megabytes and is long enough that
// laying the last line of each piece out again costs little.
const chunk = 16 << 10

// reflowTab is what a tab becomes in reflowed text, as in the fast path.
const reflowTab = "    "

// writer feeds the text to the document a layout at a time.
type writer struct {
	*doc
	ctx    context.Context
	gap    float64 // between paragraphs, in points
	buf    []byte  // the text not drawn yet
	inPara bool
	paras  int
}

// reflow applies the paragraph rule of TXT → PDF: blank lines (empty, or
// white space and control characters only) and U+2029 end paragraphs; the
// lines of a paragraph are trimmed and joined with one space.
func (w *writer) reflow(text []byte) error {
	for len(text) > 0 {
		line, rest, paraEnd := nextLine(text)
		text = rest
		line = bytes.TrimFunc(line, func(r rune) bool { return unicode.IsSpace(r) || isDropped(r) })
		if len(line) == 0 {
			if err := w.endParagraph(); err != nil {
				return err
			}
			continue
		}
		if w.inPara {
			w.buf = append(w.buf, ' ')
		} else {
			w.beginParagraph()
		}
		if err := w.add(line, reflowTab, ' '); err != nil {
			return err
		}
		if paraEnd {
			if err := w.endParagraph(); err != nil {
				return err
			}
		}
	}
	return w.endParagraph()
}

// preserve keeps the text's lines as they are, several lines to a layout.
func (w *writer) preserve(text []byte) error {
	for len(text) > 0 {
		line, rest, _ := nextLine(text)
		text = rest
		if err := w.add(line, "\t", '\n'); err != nil {
			return err
		}
		w.buf = append(w.buf, '\n')
		if len(w.buf) >= chunk {
			if err := w.flushLines(); err != nil {
				return err
			}
		}
	}
	return w.flushLines()
}

// add appends a line (or the part of one) to the text to draw, without the
// control characters no font draws, tabs as tab and U+2028 (LINE
// SEPARATOR) as lineSep; it draws what it holds when that passes chunk.
func (w *writer) add(line []byte, tab string, lineSep byte) error {
	for len(line) > 0 {
		n := min(len(line), chunk)
		for n < len(line) && !utf8.RuneStart(line[n]) {
			n++
		}
		w.buf = appendClean(w.buf, line[:n], tab, lineSep)
		line = line[n:]
		if len(w.buf) >= chunk {
			if err := w.flushPartial(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writer) beginParagraph() {
	if w.paras > 0 {
		w.space(w.gap)
	}
	w.paras++
	w.inPara = true
}

func (w *writer) endParagraph() error {
	if !w.inPara {
		return nil
	}
	w.inPara = false
	_, err := w.text(w.buf, false)
	w.buf = w.buf[:0]
	if err == nil {
		err = w.ctx.Err()
	}
	return err
}

// flushPartial draws all but the last line of a long paragraph or line, and
// keeps that one to be laid out again with what follows it.
func (w *writer) flushPartial() error {
	carry, err := w.text(w.buf, true)
	if err != nil {
		return err
	}
	w.buf = w.buf[:copy(w.buf, w.buf[carry:])]
	return w.ctx.Err()
}

// flushLines draws the whole lines held, for Preserve: the last line end
// is dropped, since a layout ends its last line itself.
func (w *writer) flushLines() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.text(w.buf[:len(w.buf)-1], false)
	w.buf = w.buf[:0]
	if err == nil {
		err = w.ctx.Err()
	}
	return err
}

// nextLine cuts the first line off text. Lines end with LF, CR LF, CR
// (old Macs) or U+2029 PARAGRAPH SEPARATOR, which also ends a paragraph.
func nextLine(text []byte) (line, rest []byte, paraEnd bool) {
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			return text[:i], text[i+1:], false
		case '\r':
			if i+1 < len(text) && text[i+1] == '\n' {
				return text[:i], text[i+2:], false
			}
			return text[:i], text[i+1:], false
		case 0xE2:
			if bytes.HasPrefix(text[i:], []byte("\u2029")) {
				return text[:i], text[i+3:], true
			}
		}
	}
	return text, nil, false
}

// isDropped reports the control characters left out of the PDF: C0 and C1
// controls and DEL, which no font draws (Pango would draw them as boxes).
// Tabs and line ends are handled before this is asked.
func isDropped(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

func appendClean(dst, p []byte, tab string, lineSep byte) []byte {
	for len(p) > 0 {
		// Runs of printable ASCII, most of most texts, go in one piece.
		i := 0
		for i < len(p) && p[i] >= 0x20 && p[i] < 0x7f {
			i++
		}
		dst, p = append(dst, p[:i]...), p[i:]
		if len(p) == 0 {
			break
		}
		r, size := utf8.DecodeRune(p)
		switch {
		case r == '\t':
			dst = append(dst, tab...)
		case r == '\u2028':
			dst = append(dst, lineSep)
		case isDropped(r):
		default:
			dst = append(dst, p[:size]...)
		}
		p = p[size:]
	}
	return dst
}

// guessLen bounds the text GuessLang reads.
const guessLen = 64 << 10

// GuessLang guesses the language that picks the forms of Han characters,
// which Unicode unifies but Japanese, Chinese and Korean draw differently:
// kana make a text Japanese, Hangul Korean, and Han alone Chinese
// (simplified; Options.Lang "zh-TW" or "zh-HK" asks for traditional forms).
// For other texts it returns "en": a language is needed, and the script of
// each run picks its own font.
func GuessLang(text []byte) string {
	var kana, hangul, han int
	for _, r := range string(text[:min(len(text), guessLen)]) {
		switch {
		case r < 0x1100:
		case unicode.In(r, unicode.Hiragana, unicode.Katakana):
			kana++
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case unicode.Is(unicode.Han, r):
			han++
		}
	}
	switch {
	case kana > 0:
		return "ja"
	case hangul > 0:
		return "ko"
	case han > 0:
		return "zh-cn"
	}
	return "en"
}
