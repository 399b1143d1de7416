package textenc

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// sampleLen is how much of a text the checks for binary data read: binary
// formats show their NUL bytes and control codes from their first bytes.
const sampleLen = 64 << 10

// isControl reports the control characters that plain text does not hold.
// Tab, line and page ends are text; so are ESC (colours in logs, and
// ISO-2022's escapes) and SUB (DOS's end-of-file mark).
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1A, 0x1B:
		return false
	}
	return r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0x9F)
}

// tooManyControls says whether more than one character in a hundred is a
// control character: a text may hold a stray one, a binary file holds many.
func tooManyControls(controls, chars int) bool {
	return controls > 1 && controls*100 > chars
}

// checkBinary refuses raw bytes that are not UTF-8 and hold what no text in
// a legacy encoding holds. Every legacy encoding uchardet knows keeps the
// bytes below 0x20 for the ASCII controls.
func checkBinary(b []byte) error {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return binaryError(b, i)
	}
	sample := b[:min(len(b), sampleLen)]
	controls := 0
	for _, c := range sample {
		if c < 0x20 || c == 0x7F {
			if isControl(rune(c)) {
				controls++
			}
		}
	}
	if tooManyControls(controls, len(sample)) {
		return controlsError(controls, len(sample))
	}
	return nil
}

// checkDecoded refuses a decoded text that holds NUL characters or many
// controls: a binary file that happened to start with a byte-order mark, or
// was sent with a charset.
func checkDecoded(t Text) error {
	if i := bytes.IndexByte(t.UTF8, 0); i >= 0 {
		return &Error{Err: ErrBinary, Message: fmt.Sprintf("the input is binary data, not text: read as %s it holds NUL characters", t.Charset)}
	}
	sample := t.UTF8[:min(len(t.UTF8), sampleLen)]
	controls, chars := 0, 0
	for len(sample) > 0 {
		r, size := utf8.DecodeRune(sample)
		sample = sample[size:]
		chars++
		if isControl(r) {
			controls++
		}
	}
	if tooManyControls(controls, chars) {
		return controlsError(controls, chars)
	}
	return nil
}

func controlsError(controls, chars int) error {
	return &Error{Err: ErrBinary, Message: fmt.Sprintf("the input is binary data, not text: %d of its first %d characters are control codes", controls, chars)}
}

// binaryError describes a NUL byte at offset i. UTF-16 without a byte-order
// mark is the usual text with NUL bytes: every other byte of its Latin
// letters is one, and the message then says how to send it.
func binaryError(b []byte, i int) error {
	sample := b[:min(len(b), sampleLen)]
	if order := utf32Order(sample); order != "" {
		return &Error{Err: ErrBinary, Message: fmt.Sprintf("the input looks like UTF-32 text without a byte-order mark: send it with charset=%s, or save it as UTF-8", order)}
	}
	switch utf16Order(sample) {
	case "utf-16le":
		return &Error{Err: ErrBinary, Message: "the input looks like UTF-16 (little-endian) text without a byte-order mark: send it with charset=utf-16le, or save it as UTF-8"}
	case "utf-16be":
		return &Error{Err: ErrBinary, Message: "the input looks like UTF-16 (big-endian) text without a byte-order mark: send it with charset=utf-16be, or save it as UTF-8"}
	}
	return &Error{Err: ErrBinary, Message: fmt.Sprintf("the input is binary data, not text (a NUL byte at offset %d)", i)}
}

// utf16Order guesses the byte order of UTF-16 without a byte-order mark from
// where its NUL bytes are: the high bytes of Latin letters, all at even
// offsets (big-endian) or all at odd ones (little-endian).
func utf16Order(b []byte) string {
	var even, odd int
	for i, c := range b[:len(b)&^1] {
		if c == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	pairs := len(b) / 2
	switch {
	case pairs == 0:
		return ""
	case odd*4 >= pairs && even*20 <= odd:
		return "utf-16le"
	case even*4 >= pairs && odd*20 <= even:
		return "utf-16be"
	}
	return ""
}

// utf32Order guesses the byte order of UTF-32 without a byte-order mark: the
// two high bytes of every character of the first 64K code points are zero.
func utf32Order(b []byte) string {
	var zeros [4]int
	quads := len(b) / 4
	for i, c := range b[:quads*4] {
		if c == 0 {
			zeros[i%4]++
		}
	}
	mostly := func(n int) bool { return n*10 >= quads*9 }
	switch {
	case quads < 2:
		return ""
	case mostly(zeros[0]) && mostly(zeros[1]) && !mostly(zeros[3]):
		return "utf-32be"
	case mostly(zeros[2]) && mostly(zeros[3]) && !mostly(zeros[0]):
		return "utf-32le"
	}
	return ""
}
