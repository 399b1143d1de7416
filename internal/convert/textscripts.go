package convert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/textenc"
	"github.com/fileconv/fileconv/internal/textpdf"
	"github.com/fileconv/fileconv/internal/wire"
)

// TXT → PDF in every script and encoding (issue 18). A protocol v1.0 client
// gets the original's conversion where the original could draw the text:
// UTF-8 only, through fpdf and DejaVu Sans (textToPDFFast), byte for byte
// as before; its texts in other scripts are typeset by Pango. Any other
// request has its text
// decoded (internal/textenc), then goes
//   - to the same fast path when DejaVu Sans draws every character and none
//     needs shaping or bidi, and the layout is the default one: fpdf lays out
//     a megabyte of Latin text about seven times faster than Pango;
//   - otherwise to Pango (internal/textpdf), in a reader process, like
//     poppler: a Pango call cannot be interrupted, and the job's deadline
//     then kills the process.

// textSniffLen bounds what is decoded to tell whether an input that is not
// UTF-8 is text: its start shows it.
const textSniffLen = 64 << 10

// DetectRequest is DetectHead for a request: for any client but a protocol
// v1.0 one, an input that is not UTF-8 but is text in another encoding (or
// in the one opts.Charset names) is text too. An input whose encoding is
// not recognised, or named wrongly, is also text, so that the conversion
// says what is wrong with it; binary data stays unrecognised.
func DetectRequest(head []byte, whole bool, opts wire.Options, v1 bool) Kind {
	kind := DetectHead(head, whole)
	if kind != KindUnknown || v1 || len(head) == 0 {
		return kind
	}
	_, err := textenc.Decode(head[:min(len(head), textSniffLen)], opts.Charset)
	if err == nil || !errors.Is(err, textenc.ErrBinary) {
		return KindText
	}
	return kind
}

// notTextV2 gives the refusal of an input that is not text the words of
// textenc, which reads more than UTF-8 for any client but a v1.0 one; a
// v1.0 client keeps the original's (V1Message).
func notTextV2(err *Error, head []byte) {
	if _, terr := textenc.Decode(head[:min(len(head), textSniffLen)], ""); terr != nil {
		err.V1Message, err.Message = err.Message, terr.Error()
	}
}

// textToPDF is the text-pdf conversion.
func (c *Converter) textToPDF(ctx context.Context, in Input) (Result, error) {
	if in.V1 && (!utf8.Valid(in.Data) || c.fastPathFits(in.Data)) {
		// The original's answers, word for word, to what is not UTF-8; a
		// UTF-8 text DejaVu cannot draw alone is typeset as for any client,
		// rather than as boxes (v1.0 carries no warnings, only the PDF).
		return c.textToPDFFast(ctx, in)
	}
	text, err := textenc.Decode(in.Data, c.opts.Charset)
	if err != nil {
		code := fail.TypeMismatch
		if errors.Is(err, textenc.ErrUnknownCharset) {
			code = fail.BadRequest
		}
		return Result{}, fail.Wrap(code, err.Error(), err)
	}
	var warnings []string
	if text.Invalid > 0 {
		warnings = append(warnings, fmt.Sprintf("%s were not valid %s and are shown as �", plural(text.Invalid, "byte sequence", "byte sequences"), text.Charset))
	}
	in.Data = text.UTF8
	var res Result
	switch {
	case c.fastPathFits(text.UTF8):
		res, err = c.textToPDFFast(ctx, in)
	case c.cfg.PDFInProcess:
		res, err = c.textInScriptsHere(ctx, text.UTF8)
	default:
		res, err = c.inReader(ctx, pdfJob{Size: len(text.UTF8), Config: c.cfg, Options: c.opts, Kind: KindText}, in)
	}
	res.Warnings = append(warnings, res.Warnings...)
	return res, err
}

// fastPathFits reports whether fpdf draws text as Pango would: the default
// layout and size, every character in DejaVu Sans, and none that needs
// shaping (combining marks, Arabic) or bidi (Hebrew, Arabic).
func (c *Converter) fastPathFits(text []byte) bool {
	if c.opts.Layout == wire.LayoutPreserve || c.opts.FontSize != 0 {
		return false
	}
	for i := 0; i < len(text); {
		if b := text[i]; b < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		i += size
		if isDropped(r) || r == '\u2028' || r == '\u2029' || i == size && r == '\uFEFF' {
			continue
		}
		if !c.font.has(r) || unicode.In(r, unicode.Mn, unicode.Me) {
			return false
		}
		if p, _ := bidi.LookupRune(r); p.Class() == bidi.R || p.Class() == bidi.AL || p.Class() == bidi.AN {
			return false
		}
	}
	return true
}

// textInScriptsHere typesets a decoded text with Pango, in this process: a
// reader's, or the worker's with PDFInProcess.
func (c *Converter) textInScriptsHere(ctx context.Context, text []byte) (Result, error) {
	res, err := textpdf.Render(ctx, text, textpdf.Options{
		Layout: textpdf.Layout(c.opts.Layout), FontSize: c.opts.FontSize, PageSize: c.opts.PageSize,
		Lang: hanLang(c.opts.Charset), MaxPages: c.cfg.MaxTextPages,
	})
	switch {
	case errors.Is(err, textpdf.ErrNoFonts):
		return c.textWithoutFonts(ctx, text)
	case errors.Is(err, textpdf.ErrTooManyPages):
		return Result{}, &Error{Code: fail.LimitExceeded, Cause: err, Message: fmt.Sprintf(
			"text makes more than %d pages of PDF, over the limit of %d pages (max-text-pages)", c.cfg.MaxTextPages, c.cfg.MaxTextPages)}
	case ctx.Err() != nil:
		return Result{}, cancelled(ctx)
	case err != nil:
		return Result{}, &Error{Code: fail.ConversionFailed, Cause: err, Message: "the text could not be typeset: " + err.Error()}
	}
	out := Result{Output: res.PDF, Replaced: res.Missing}
	if res.Missing > 0 {
		out.Warnings = []string{fmt.Sprintf("%s no installed font draws (%s) %s drawn as boxes",
			plural(res.Missing, "character", "characters"), codePoints(res.MissingChars), map[bool]string{true: "is", false: "are"}[res.Missing == 1])}
	}
	return out, nil
}

// textWithoutFonts is TXT → PDF on a machine where fontconfig finds no
// font: DejaVu Sans, which the binary holds, draws what it can.
func (c *Converter) textWithoutFonts(ctx context.Context, text []byte) (Result, error) {
	here := *c
	font, err := loadTextFont()
	if err != nil {
		return Result{}, fmt.Errorf("load the TXT → PDF font: %w", err)
	}
	here.font = font
	res, err := here.textToPDFFast(ctx, Input{Kind: KindText, Data: text})
	if err == nil && res.Replaced > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s no font of this server draws are shown as � (it has no fonts installed but DejaVu Sans)",
			plural(res.Replaced, "character", "characters")))
	}
	return res, err
}

// hanLang is the language whose forms of Han characters a text in charset
// was written for; "" lets textpdf guess from the text.
func hanLang(charset string) string {
	_, name, err := textenc.Lookup(charset)
	if err != nil {
		return ""
	}
	switch name {
	case "shift_jis", "euc-jp", "iso-2022-jp":
		return "ja"
	case "euc-kr":
		return "ko"
	case "big5":
		return "zh-tw"
	case "gbk", "gb18030", "hz-gb-2312":
		return "zh-cn"
	}
	return ""
}

// codePoints names characters as U+XXXX, with an ellipsis when there may
// be more than those named.
func codePoints(rs []rune) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("U+%04X", r))
	}
	return strings.Join(parts, ", ") + map[bool]string{true: " …", false: ""}[len(rs) >= textpdfSample]
}

// textpdfSample is how many distinct characters textpdf names at most.
const textpdfSample = 8

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
