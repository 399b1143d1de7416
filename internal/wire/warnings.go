package wire

import (
	"fmt"
	"strings"
	"unicode"
)

// Limits of a RESULT's warnings. A warning is a sentence for a person, so these
// are generous; they exist so that a RESULT header always fits MaxHeaderSize,
// whatever the warnings hold: without control characters or invalid UTF-8, JSON
// at worst doubles a string (`"`, `\`, U+2028), and 16 × 2 × 400 bytes leave
// room for the other fields even at their own worst.
const (
	// MaxWarnings is the most warnings a RESULT carries.
	MaxWarnings = 16
	// MaxWarningLen bounds one warning, in bytes of UTF-8.
	MaxWarningLen = 400
)

// CleanWarnings returns ws as a RESULT carries them: valid UTF-8, control
// characters and line breaks turned into spaces, trimmed, empty ones dropped,
// each cut to MaxWarningLen bytes at a character boundary, and at most
// MaxWarnings of them, the last saying how many were left out.
//
// Writers and readers both apply it rather than refuse a RESULT: a warning is
// advice about a file that did convert, and losing the file over its advice
// would be worse than shortening the advice. Cleaning twice changes nothing,
// so a master that relays a RESULT sends on what it read.
func CleanWarnings(ws []string) []string {
	var out []string
	for _, w := range ws {
		w = strings.TrimSpace(strings.Map(warningRune, strings.ToValidUTF8(w, "\uFFFD")))
		if w != "" {
			out = append(out, truncate(w, MaxWarningLen))
		}
	}
	if len(out) > MaxWarnings {
		left := len(out) - (MaxWarnings - 1)
		out = append(out[:MaxWarnings-1], fmt.Sprintf("%d more warnings were left out", left))
	}
	return out
}

// warningRune keeps a warning on one line: a control character or a line
// separator would break a log line, a terminal's line or an HTTP header.
func warningRune(r rune) rune {
	if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
		return ' '
	}
	return r
}
