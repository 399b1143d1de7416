package convert

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/xml"
	"io"
	"strings"
	"unicode/utf16"
)

// Office documents are containers: a ZIP (Office Open XML, OpenDocument) or
// an OLE2 compound file (Word 97 to 2003 and their kin). What kind of
// document one is, is written inside it: the sniffers here read just enough
// of it, from the whole file or from the first bytes a master holds, and give
// up (a plain ZIP, a legacy Office document) rather than guess.

// The office kinds.
const (
	KindDOCX Kind = "docx"
	KindXLSX Kind = "xlsx"
	KindPPTX Kind = "pptx"
	KindODT  Kind = "odt"
	KindODS  Kind = "ods"
	KindODP  Kind = "odp"
	KindDOC  Kind = "doc"
	KindXLS  Kind = "xls"
	KindPPT  Kind = "ppt"
	// KindOLE2 is a legacy Office document told apart from the others only
	// by streams past the bytes at hand.
	KindOLE2 Kind = "ole2"
	// KindRTF is a Rich Text Format document: a text whose first group is
	// {\rtf, which Word and WordPad write and LibreOffice's Writer reads.
	KindRTF Kind = "rtf"
)

// zipLocalHeader is the signature of a ZIP entry's local header.
const zipLocalHeader = "PK\x03\x04"

// maxContentTypes bounds what is inflated of [Content_Types].xml, which
// lists a few dozen parts.
const maxContentTypes = 256 << 10

// officeZipKind tells an Office Open XML or OpenDocument file from its first
// bytes or all of it; "" for any other ZIP.
func officeZipKind(b []byte) Kind {
	if !bytes.HasPrefix(b, []byte(zipLocalHeader)) {
		return ""
	}
	if k := odfKind(b); k != "" {
		return k
	}
	for _, e := range zipEntries(b) {
		if e.name == "[Content_Types].xml" {
			return ooxmlKind(e.data)
		}
	}
	return ""
}

// odfKind reads an OpenDocument file's first entry, which the standard
// requires to be "mimetype", stored, holding the document's media type.
func odfKind(b []byte) Kind {
	if len(b) < 30 || string(b[30:min(len(b), 38)]) != "mimetype" || binary.LittleEndian.Uint16(b[8:]) != 0 {
		return ""
	}
	start := 30 + 8 + int(binary.LittleEndian.Uint16(b[28:]))
	if start >= len(b) {
		return ""
	}
	mime := string(b[start:min(len(b), start+64)])
	for prefix, k := range map[string]Kind{
		"application/vnd.oasis.opendocument.text":         KindODT,
		"application/vnd.oasis.opendocument.spreadsheet":  KindODS,
		"application/vnd.oasis.opendocument.presentation": KindODP,
	} {
		// The templates ("text-template") and a master document go too.
		if strings.HasPrefix(mime, prefix) && !strings.HasPrefix(mime[len(prefix):], "-flat") {
			return k
		}
	}
	return ""
}

// zipLocalEntry is an entry found in a ZIP's first bytes, with as much of its data
// as they hold, inflated.
type zipLocalEntry struct {
	name string
	data []byte
}

// zipEntries finds the entries whose local headers are in b, in order. It
// looks for each header's signature rather than stepping over the data, whose
// size a streaming writer leaves out of the header.
func zipEntries(b []byte) []zipLocalEntry {
	var out []zipLocalEntry
	for off := 0; off+30 <= len(b) && len(out) < 64; {
		i := bytes.Index(b[off:], []byte(zipLocalHeader))
		if i < 0 || off+i+30 > len(b) {
			break
		}
		h := b[off+i:]
		nameLen, extraLen := int(binary.LittleEndian.Uint16(h[26:])), int(binary.LittleEndian.Uint16(h[28:]))
		if 30+nameLen+extraLen > len(h) {
			break
		}
		e := zipLocalEntry{name: string(h[30 : 30+nameLen])}
		data := h[30+nameLen+extraLen:]
		switch binary.LittleEndian.Uint16(h[8:]) {
		case zip.Store:
			e.data = data[:min(len(data), maxContentTypes)]
		case zip.Deflate:
			e.data, _ = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), maxContentTypes))
		}
		out = append(out, e)
		off += i + 30 + nameLen
	}
	return out
}

// ooxmlKind reads [Content_Types].xml: the main part's content type says
// which application made the file (macro-enabled files and templates
// included); the types of embedded parts (a chart's workbook in a document)
// do not count.
func ooxmlKind(contentTypes []byte) Kind {
	d := xml.NewDecoder(bytes.NewReader(contentTypes))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		el, ok := tok.(xml.StartElement)
		if !ok || el.Name.Local != "Override" {
			continue
		}
		for _, a := range el.Attr {
			if a.Name.Local == "ContentType" && strings.HasSuffix(a.Value, ".main+xml") {
				if k := mainPartKind(a.Value); k != "" {
					return k
				}
			}
		}
	}
}

// mainPartKind maps a main part's content type to its kind.
func mainPartKind(contentType string) Kind {
	for _, m := range []struct {
		words []string
		kind  Kind
	}{
		{[]string{"wordprocessingml", "ms-word."}, KindDOCX},
		{[]string{"spreadsheetml", "ms-excel."}, KindXLSX},
		{[]string{"presentationml", "ms-powerpoint."}, KindPPTX},
	} {
		for _, w := range m.words {
			if strings.Contains(contentType, w) {
				return m.kind
			}
		}
	}
	return ""
}

// ole2Kind tells a Word, Excel or PowerPoint 97–2003 file apart by the
// streams its directory lists; KindOLE2 when the directory is past b.
func ole2Kind(b []byte) Kind {
	const headerSize = 512
	if len(b) < headerSize {
		return KindOLE2
	}
	shift := binary.LittleEndian.Uint16(b[30:])
	if shift != 9 && shift != 12 {
		return KindOLE2
	}
	size := 1 << shift
	sector := func(id uint32) []byte {
		start := (int64(id) + 1) * int64(size)
		if id >= 0xFFFFFFFA || start+int64(size) > int64(len(b)) {
			return nil
		}
		return b[start : start+int64(size)]
	}
	next := ole2FAT(b, sector, size)
	dir := binary.LittleEndian.Uint32(b[48:])
	for range 64 {
		s := sector(dir)
		if s == nil {
			return KindOLE2
		}
		if k := ole2Streams(s); k != "" {
			return k
		}
		var ok bool
		if dir, ok = next(dir); !ok {
			break
		}
	}
	return KindOLE2
}

// ole2FAT returns the function that follows a sector chain through the
// file allocation table, whose first sectors the header lists.
func ole2FAT(b []byte, sector func(uint32) []byte, size int) func(uint32) (uint32, bool) {
	return func(id uint32) (uint32, bool) {
		perSector := uint32(size / 4)
		index := id / perSector
		if index >= 109 {
			return 0, false
		}
		fat := sector(binary.LittleEndian.Uint32(b[76+4*index:]))
		if fat == nil {
			return 0, false
		}
		nextID := binary.LittleEndian.Uint32(fat[4*(id%perSector):])
		return nextID, nextID < 0xFFFFFFFA
	}
}

// ole2Streams names the application of the streams in one directory sector.
func ole2Streams(s []byte) Kind {
	for off := 0; off+128 <= len(s); off += 128 {
		n := int(binary.LittleEndian.Uint16(s[off+64:]))
		if n < 2 || n > 64 {
			continue
		}
		units := make([]uint16, n/2-1) // without the terminating zero
		for i := range units {
			units[i] = binary.LittleEndian.Uint16(s[off+2*i:])
		}
		switch string(utf16.Decode(units)) {
		case "WordDocument":
			return KindDOC
		case "Workbook", "Book":
			return KindXLS
		case "PowerPoint Document":
			return KindPPT
		}
	}
	return ""
}
