package convert

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
)

// Sniffers for the image formats without a plain magic number.

// isPNM matches the netpbm family: P1–P6 (bitmap, greymap, pixmap, in ASCII or
// binary), P7 (PAM) and PF/Pf (float maps), each followed by white space.
func isPNM(b []byte) bool {
	if len(b) < 3 || b[0] != 'P' {
		return false
	}
	if !bytes.ContainsRune([]byte("1234567Ff"), rune(b[1])) {
		return false
	}
	switch b[2] {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// svgSniffLimit bounds how far into a file (or, for SVGZ, into its inflated
// start) the <svg> element is looked for: past the XML declaration, comments
// and a DOCTYPE, editors put it within the first kilobytes.
const svgSniffLimit = 8 << 10

// isSVG matches an XML document whose root element is svg, or such a document
// gzipped (SVGZ). It reads at most svgSniffLimit bytes, inflated or not, so a
// gzip bomb costs nothing here.
func isSVG(b []byte) bool {
	if bytes.HasPrefix(b, []byte{0x1F, 0x8B}) {
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return false
		}
		head, _ := io.ReadAll(io.LimitReader(z, svgSniffLimit))
		return svgRoot(head)
	}
	return svgRoot(b[:min(len(b), svgSniffLimit)])
}

// svgRoot reports whether the first element of an XML text is <svg, skipping
// a byte-order mark, white space, the XML declaration, processing
// instructions, comments and a DOCTYPE.
func svgRoot(b []byte) bool {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		var end []byte
		switch {
		case bytes.HasPrefix(b, []byte("<?")):
			end = []byte("?>")
		case bytes.HasPrefix(b, []byte("<!--")):
			end = []byte("-->")
		case bytes.HasPrefix(b, []byte("<!DOCTYPE")), bytes.HasPrefix(b, []byte("<!doctype")):
			n := doctypeEnd(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			continue
		default:
			rest, ok := bytes.CutPrefix(b, []byte("<svg"))
			if !ok {
				// A namespace prefix: <svg:svg xmlns:svg="...">.
				rest, ok = bytes.CutPrefix(b, []byte("<svg:svg"))
			}
			return ok && len(rest) > 0 && bytes.ContainsRune([]byte(" \t\r\n>/"), rune(rest[0]))
		}
		i := bytes.Index(b, end)
		if i < 0 {
			return false
		}
		b = b[i+len(end):]
	}
}

// isICO matches an icon or cursor directory that lists at least one image.
// The count matters: most TGA files start with the cursor's magic number (no
// image ID, no colour map, uncompressed true colour: 00 00 02 00), followed
// by the zero bytes of their empty colour map where an icon has its count.
func isICO(b []byte) bool {
	magic := bytes.HasPrefix(b, []byte("\x00\x00\x01\x00")) || bytes.HasPrefix(b, []byte("\x00\x00\x02\x00"))
	return magic && len(b) >= 6 && (b[4] != 0 || b[5] != 0)
}

// doctypeEnd returns the length of the DOCTYPE declaration b starts with, or
// -1 if it does not end in b. Its internal subset, in brackets, declares
// entities whose values and comments may hold '>' (Adobe Illustrator declares
// its namespaces there), so the end is the first '>' outside the brackets,
// quotes and comments.
func doctypeEnd(b []byte) int {
	var quote byte
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case bytes.HasPrefix(b[i:], []byte("<!--")):
			j := bytes.Index(b[i+4:], []byte("-->"))
			if j < 0 {
				return -1
			}
			i += 4 + j + 2
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == '>' && depth == 0:
			return i + 1
		}
	}
	return -1
}

// isTGA matches a Truevision TGA file. TGA has no magic number at its start,
// so the header's fields must all hold values TGA allows: a colour map type
// of 0 or 1 consistent with the image type, an image type libvips and
// ImageMagick read, a non-zero size and a usual pixel depth. The newer TGA 2
// files also end with a footer naming the format, which settles it.
func isTGA(b []byte) bool {
	if len(b) >= 18+26 && bytes.HasSuffix(b, []byte("TRUEVISION-XFILE.\x00")) {
		return true
	}
	if len(b) < 18 {
		return false
	}
	mapType, imageType, depth := b[1], b[2], b[16]
	switch imageType {
	case 1, 9: // colour-mapped
		if mapType != 1 {
			return false
		}
	case 2, 3, 10, 11: // true colour and greyscale
		if mapType > 1 {
			return false
		}
	default:
		return false
	}
	if mapType == 1 && !(b[7] == 15 || b[7] == 16 || b[7] == 24 || b[7] == 32) {
		return false
	}
	switch depth {
	case 8, 15, 16, 24, 32:
	default:
		return false
	}
	// Bits 6 and 7 of the descriptor are reserved (interleaving) and zero in
	// every file of the last thirty years.
	w, h := binary.LittleEndian.Uint16(b[12:14]), binary.LittleEndian.Uint16(b[14:16])
	return w > 0 && h > 0 && b[17]&0xC0 == 0
}
