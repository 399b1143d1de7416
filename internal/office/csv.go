package office

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// CSV is turned into a flat OpenDocument spreadsheet (.fods) here, which
// LibreOffice then opens like any spreadsheet. LibreOffice 7.4's own CSV
// import does not work through LibreOfficeKit with Debian's -nogui packages:
// it posts its import dialog, whose library (libscuilo.so) they leave out,
// and the process crashes even when the filter options are given; with the
// library present the load returns nothing.
//
// The conversion: UTF-8 (a BOM is dropped), or Windows-1252 when the bytes
// are not UTF-8; the separator is the one of comma, semicolon and tab found
// most often in the first line outside quotes; a field that is a plain
// decimal number becomes a number, anything else text — a field starting
// with "=" stays text, never a formula; column widths follow the longest
// field (capped).

// Calc's limits in LibreOffice 7.4.
const (
	csvMaxRows    = 1 << 20
	csvMaxColumns = 1024
)

var csvNumber = regexp.MustCompile(`^[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?$`)

func csvToFODS(b []byte) ([]byte, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		d, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err != nil {
			return nil, errors.New("its text is neither UTF-8 nor Windows-1252")
		}
		b = d
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma = csvSeparator(b)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	var body bytes.Buffer
	var widths []int
	rows := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", rows+1, errors.Unwrap(err))
		}
		rows++
		if rows > csvMaxRows {
			return nil, fmt.Errorf("more than %d rows", csvMaxRows)
		}
		if len(rec) > csvMaxColumns {
			return nil, fmt.Errorf("line %d has %d fields; a sheet holds %d columns", rows, len(rec), csvMaxColumns)
		}
		for len(widths) < len(rec) {
			widths = append(widths, 0)
		}
		body.WriteString("<table:table-row>")
		for i, f := range rec {
			if n := utf8.RuneCountInString(f); n > widths[i] {
				widths[i] = n
			}
			switch {
			case f == "":
				body.WriteString("<table:table-cell/>")
			case csvNumber.MatchString(f):
				fmt.Fprintf(&body, `<table:table-cell office:value-type="float" office:value="%s"><text:p>%s</text:p></table:table-cell>`, f, f)
			default:
				body.WriteString(`<table:table-cell office:value-type="string"><text:p>`)
				xmlText(&body, f)
				body.WriteString("</text:p></table:table-cell>")
			}
		}
		body.WriteString("</table:table-row>\n")
	}
	if rows == 0 {
		return nil, errors.New("it holds no rows")
	}

	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:automatic-styles>
`)
	// One column style per width, in steps of a character.
	styles := map[int]bool{}
	for _, w := range widths {
		w = csvWidth(w)
		if !styles[w] {
			styles[w] = true
			fmt.Fprintf(&out, `<style:style style:name="co%d" style:family="table-column"><style:table-column-properties style:column-width="%.2fmm"/></style:style>`+"\n", w, float64(w)*2.1+2)
		}
	}
	out.WriteString("</office:automatic-styles>\n<office:body><office:spreadsheet><table:table table:name=\"Sheet1\">\n")
	for _, w := range widths {
		fmt.Fprintf(&out, `<table:table-column table:style-name="co%d"/>`, csvWidth(w))
	}
	out.WriteString("\n")
	out.Write(body.Bytes())
	out.WriteString("</table:table></office:spreadsheet></office:body></office:document>\n")
	return out.Bytes(), nil
}

// csvWidth is a column's width in characters: between 8 and 60.
func csvWidth(n int) int {
	return min(max(n+1, 8), 60)
}

// csvSeparator picks the separator of the first line.
func csvSeparator(b []byte) rune {
	counts := map[byte]int{}
	quoted := false
	for _, c := range b {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if c == '\n' && !quoted {
			break
		}
		if !quoted && (c == ',' || c == ';' || c == '\t') {
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

// xmlText escapes s as XML character data, dropping the characters XML 1.0
// cannot hold.
func xmlText(b *bytes.Buffer, s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r != 0xFFFE && r != 0xFFFF {
			return r
		}
		return -1
	}, s)
	xml.EscapeText(b, []byte(s))
}
