package convert

import (
	"bytes"
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
