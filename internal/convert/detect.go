package convert

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Type is an input type, detected from magic numbers only, never from a file name.
type Type int

// The input types fileconv knows.
const (
	TypeUnknown Type = iota
	TypeJPEG
	TypePNG
	TypeWEBP
	TypePDF
	TypeText
)

func (t Type) String() string {
	switch t {
	case TypeJPEG:
		return "JPEG"
	case TypePNG:
		return "PNG"
	case TypeWEBP:
		return "WEBP"
	case TypePDF:
		return "PDF"
	case TypeText:
		return "text"
	}
	return "unknown"
}

// IsImage reports whether t is one of the image types operations 1–3 accept.
func (t Type) IsImage() bool { return t == TypeJPEG || t == TypePNG || t == TypeWEBP }

// Detect returns the type of b from its first bytes, as the original system did:
// PDF "%PDF", JPEG FF D8 FF, PNG 89 50 4E 47, WEBP "RIFF....WEBP", and text for
// anything that is valid UTF-8 without NUL bytes. An empty b is TypeUnknown.
func Detect(b []byte) Type {
	switch {
	case len(b) == 0:
		return TypeUnknown
	case bytes.HasPrefix(b, []byte("%PDF")):
		return TypePDF
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return TypeJPEG
	case bytes.HasPrefix(b, []byte{0x89, 'P', 'N', 'G'}):
		return TypePNG
	case len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return TypeWEBP
	case utf8.Valid(b) && bytes.IndexByte(b, 0) < 0:
		return TypeText
	}
	return TypeUnknown
}

// notText explains why b, which Detect did not recognise, is not text: the offset
// of the first byte that is not UTF-8 or is NUL, whichever comes first.
func notText(b []byte) *Error {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		// The byte-order mark of UTF-16, as Windows Notepad saves "Unicode" text.
		return &Error{Kind: KindCorrupt, Message: "input is UTF-16 text, not UTF-8: save it as UTF-8 and send it again"}
	}
	for i := 0; i < len(b); {
		if b[i] == 0 {
			return &Error{Kind: KindCorrupt, Message: fmt.Sprintf("input is not valid UTF-8 text (NUL byte at offset %d)", i)}
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return &Error{Kind: KindCorrupt, Message: fmt.Sprintf("input is not valid UTF-8 text (first invalid byte at offset %d)", i)}
		}
		i += size
	}
	// Unreachable for what Detect calls unknown, kept so the function is total.
	return &Error{Kind: KindUnknownType, Message: "unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF"}
}
