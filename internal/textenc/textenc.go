// Package textenc finds the character encoding of a text and decodes it to
// UTF-8: UTF-8 with or without a byte-order mark, UTF-16 and UTF-32 with one,
// the legacy encodings uchardet (freedesktop.org's detector, Mozilla's
// algorithm) recognises — Shift_JIS, EUC-JP, ISO-2022-JP, GB18030, Big5,
// EUC-KR, Windows-125x, ISO-8859-x, KOI8-R and more — and any encoding the
// caller names that golang.org/x/text knows. Data that is not text (NUL
// bytes, control characters) is refused with an error that says so.
//
// Names are read as the WHATWG Encoding Standard reads them (what browsers do
// with a page's charset): "latin1" and "iso-8859-1" are windows-1252,
// "shift_jis" is Microsoft's superset of it, "gb2312" is GBK, "euc-kr" is
// windows-949. Names the standard leaves out are looked up in IANA's registry
// ("ibm437", "hz-gb-2312").
//
// Everything here is safe for concurrent use.
package textenc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// How says how the encoding of a text was found.
type How string

const (
	// HowNamed is the caller's charset.
	HowNamed How = "named"
	// HowBOM is a byte-order mark at the start of the text.
	HowBOM How = "byte-order mark"
	// HowUTF8 is a text that is valid UTF-8, which a text in another
	// encoding almost never is.
	HowUTF8 How = "valid UTF-8"
	// HowDetected is uchardet's guess.
	HowDetected How = "detected"
)

// Text is a decoded text.
type Text struct {
	// UTF8 is the text in UTF-8 without a byte-order mark. It may share
	// memory with the input when that was UTF-8 already.
	UTF8 []byte
	// Charset is the encoding's name as the WHATWG standard (or else IANA)
	// spells it: "utf-8", "shift_jis", "utf-16le", "windows-1251".
	Charset string
	How     How
	// Invalid counts the byte sequences that were not valid in Charset and
	// became U+FFFD. For encodings other than UTF-8 it counts every U+FFFD
	// of the result: only GB18030 and UTF-16/32 can encode that character
	// itself, and texts hold it only where something was lost before.
	Invalid int
}

var (
	// ErrBinary is data that is not text.
	ErrBinary = errors.New("binary data, not text")
	// ErrUnknownCharset is a charset name no table here knows.
	ErrUnknownCharset = errors.New("unknown charset")
	// ErrUndetected is a text whose encoding was not recognised, or was
	// recognised as one no decoder here reads.
	ErrUndetected = errors.New("text encoding not recognised")
)

// Error is a refusal, with a message for the person who sent the text.
type Error struct {
	Err     error // one of the Err values above
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Decode returns b in UTF-8. charset, when not empty, names b's encoding; a
// byte-order mark overrides it, as in browsers. Without it the encoding is,
// in order: the byte-order mark's, UTF-8 when b is valid UTF-8, or uchardet's
// guess.
func Decode(b []byte, charset string) (Text, error) {
	if t, ok := decodeBOM(b); ok {
		return t, checkDecoded(t)
	}
	if strings.TrimSpace(charset) != "" {
		enc, name, err := Lookup(charset)
		if err != nil {
			return Text{}, err
		}
		t := decodeWith(b, enc, name, HowNamed)
		return t, checkDecoded(t)
	}
	if utf8.Valid(b) {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return Text{}, binaryError(b, i)
		}
		// ISO-2022-JP is 7-bit and so valid UTF-8: its escape sequences,
		// which no other text holds, tell it apart.
		if bytes.Contains(b, []byte("\x1b$")) && uchardetGuess(b) == "ISO-2022-JP" {
			return decodeWith(b, japanese.ISO2022JP, "iso-2022-jp", HowDetected), nil
		}
		return Text{UTF8: b, Charset: "utf-8", How: HowUTF8}, nil
	}
	if err := checkBinary(b); err != nil {
		return Text{}, err
	}
	if cut := truncatedUTF8(b); cut > 0 {
		// UTF-8 cut short inside its last character: a damaged UTF-8 file,
		// not another encoding's text.
		return Text{UTF8: append(b[:len(b)-cut:len(b)-cut], "\uFFFD"...), Charset: "utf-8", How: HowUTF8, Invalid: 1}, nil
	}
	guess := uchardetGuess(b)
	if guess == "" || guess == "ASCII" {
		return Text{}, &Error{Err: ErrUndetected, Message: "the text's encoding was not recognised: it is not UTF-8, and not " +
			"clearly any other encoding; name it with charset (e.g. charset=windows-1252, shift_jis, gb18030)"}
	}
	enc, name, err := Lookup(guess)
	if err != nil {
		return Text{}, &Error{Err: ErrUndetected, Message: fmt.Sprintf("the text looks like %s, an encoding this server does not "+
			"decode: convert it to UTF-8, or name its encoding with charset if that guess is wrong", guess)}
	}
	t := decodeWith(b, enc, name, HowDetected)
	return t, checkDecoded(t)
}

// boms are the byte-order marks, longest first: UTF-32LE's starts with
// UTF-16LE's.
var boms = []struct {
	mark []byte
	enc  encoding.Encoding
	name string
}{
	{[]byte{0xFF, 0xFE, 0, 0}, utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), "utf-32le"},
	{[]byte{0, 0, 0xFE, 0xFF}, utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), "utf-32be"},
	{[]byte{0xEF, 0xBB, 0xBF}, unicode.UTF8, "utf-8"},
	{[]byte{0xFF, 0xFE}, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf-16le"},
	{[]byte{0xFE, 0xFF}, unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf-16be"},
}

func decodeBOM(b []byte) (Text, bool) {
	for _, bom := range boms {
		if rest, ok := bytes.CutPrefix(b, bom.mark); ok {
			if bom.name == "utf-8" && utf8.Valid(rest) {
				return Text{UTF8: rest, Charset: "utf-8", How: HowBOM}, true
			}
			return decodeWith(rest, bom.enc, bom.name, HowBOM), true
		}
	}
	return Text{}, false
}

// decodeWith decodes b, which holds no byte-order mark any more. x/text's
// decoders replace what is invalid with U+FFFD rather than fail, which is
// what a reader of the text wants; Invalid counts them.
func decodeWith(b []byte, enc encoding.Encoding, name string, how How) Text {
	if name == "utf-8" {
		n := invalidUTF8(b)
		if n == 0 {
			return Text{UTF8: b, Charset: name, How: how}
		}
		return Text{UTF8: bytes.ToValidUTF8(b, []byte("\uFFFD")), Charset: name, How: how, Invalid: n}
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		// x/text's decoders replace rather than fail; this is the safety net
		// of one that would not.
		out = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return Text{UTF8: out, Charset: name, How: how, Invalid: bytes.Count(out, []byte("\uFFFD"))}
}

// truncatedUTF8 returns how many bytes of an incomplete character end b
// when b is valid UTF-8 up to them, and 0 otherwise.
func truncatedUTF8(b []byte) int {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) && utf8.Valid(b[:len(b)-i]) {
				return i
			}
			return 0
		}
	}
	return 0
}

// invalidUTF8 counts the invalid sequences of b as bytes.ToValidUTF8 replaces
// them: a run of invalid bytes becomes one U+FFFD.
func invalidUTF8(b []byte) int {
	n, inRun := 0, false
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		bad := r == utf8.RuneError && size == 1
		if bad && !inRun {
			n++
		}
		inRun = bad
		b = b[size:]
	}
	return n
}

// Lookup returns the encoding a charset name stands for and its canonical
// name.
func Lookup(charset string) (encoding.Encoding, string, error) {
	n := strings.ToLower(strings.TrimSpace(charset))
	if alias, ok := aliases[n]; ok {
		n = alias
	}
	switch n {
	case "utf-16", "utf16":
		// WHATWG reads a bare "utf-16" as little-endian; without a BOM
		// that is the Windows default, too.
		n = "utf-16le"
	case "utf-32", "utf32":
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), "utf-32le", nil
	case "utf-32le":
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), "utf-32le", nil
	case "utf-32be":
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), "utf-32be", nil
	}
	// WHATWG maps a few dangerous names (ISO-2022-KR, HZ) to its
	// "replacement" decoder, which turns a whole text into one U+FFFD.
	if enc, err := htmlindex.Get(n); err == nil && enc != encoding.Replacement {
		if name, err := htmlindex.Name(enc); err == nil {
			return enc, name, nil
		}
	}
	if enc, err := ianaindex.IANA.Encoding(n); err == nil && enc != nil {
		name, err := ianaindex.IANA.Name(enc)
		if err != nil {
			name = n
		}
		return enc, strings.ToLower(name), nil
	}
	return nil, "", &Error{Err: ErrUnknownCharset, Message: fmt.Sprintf("charset %q is not an encoding this server knows; "+
		"use a name such as utf-8, utf-16le, shift_jis, euc-jp, iso-2022-jp, gb18030, big5, euc-kr, windows-1251, iso-8859-7 or koi8-r",
		printable(charset))}
}

// aliases are names uchardet and Windows use that neither WHATWG nor IANA
// lists, each for the superset WHATWG decodes under the name it maps to.
var aliases = map[string]string{
	"uhc":          "euc-kr", // uchardet's name for Korean; WHATWG's euc-kr is UHC
	"cp949":        "euc-kr",
	"cp932":        "shift_jis", // WHATWG's shift_jis is Windows-31J
	"windows-31j":  "shift_jis",
	"cp936":        "gbk",
	"cp950":        "big5",
	"mac-cyrillic": "x-mac-cyrillic",
}

// printable cuts a name from a client to something safe to echo.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
