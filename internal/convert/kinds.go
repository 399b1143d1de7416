package convert

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/fileconv/fileconv/internal/fail"
)

// Kind is the kind of an input, detected from its magic numbers only, never from
// a file name: "jpeg", "pdf", "text", ... Protocol v2 reports it as input_type.
type Kind string

// The kinds whose conversions are built in. Kinds without a conversion are
// still told apart, so that a user hears "GIF image" rather than "unrecognised".
const (
	KindUnknown Kind = "unknown"
	KindJPEG    Kind = "jpeg"
	KindPNG     Kind = "png"
	KindWEBP    Kind = "webp"
	KindPDF     Kind = "pdf"
	KindText    Kind = "text"
	KindGIF     Kind = "gif"
	KindTIFF    Kind = "tiff"
	KindSVG     Kind = "svg"
	KindTGA     Kind = "tga"
	KindPNM     Kind = "pnm"
	// KindFiles is a job of several files, which no magic number tells: the
	// request says so (v2's CONVERT_FILES, several file parts in the API).
	KindFiles Kind = "files"
)

// KindInfo describes a kind for people and says how to recognise it.
type KindInfo struct {
	Kind Kind
	// Label names it in messages: "PNG image", "PDF", "text".
	Label string
	// Short is the format's own name: "PNG", "PDF", "text".
	Short     string
	MediaType string
	// Detection says, for the documentation, what Detect looks for.
	Detection string
	// Image kinds go through libvips.
	Image bool
	magic func(b []byte) bool
}

// ole2Magic starts an OLE2 compound file.
const ole2Magic = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"

// officeZipIs matches a ZIP that is an Office document of kind k.
func officeZipIs(k Kind) func([]byte) bool {
	return func(b []byte) bool { return officeZipKind(b) == k }
}

// ole2Is matches an OLE2 compound file that is a document of kind k.
func ole2Is(k Kind) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(ole2Magic)) && ole2Kind(b) == k }
}

func prefix(p string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(p)) }
}

// isobmff matches an ISO media file (HEIF, AVIF) whose ftyp box names one of brands.
func isobmff(brands ...string) func([]byte) bool {
	return func(b []byte) bool {
		return len(b) >= 12 && string(b[4:8]) == "ftyp" && slices.Contains(brands, string(b[8:12]))
	}
}

// kinds is every kind Detect knows, in the order it tries them; text comes last
// because it is what is left when no magic number matches.
var kinds = []KindInfo{
	{KindPDF, "PDF", "PDF", "application/pdf", `starts with "%PDF"`, false, prefix("%PDF")},
	{KindJPEG, "JPEG image", "JPEG", "image/jpeg", "starts with FF D8 FF", true, prefix("\xFF\xD8\xFF")},
	{KindPNG, "PNG image", "PNG", "image/png", "starts with 89 50 4E 47", true, prefix("\x89PNG")},
	{KindWEBP, "WEBP image", "WEBP", "image/webp", `"RIFF", 4 bytes, "WEBP"`, true,
		func(b []byte) bool { return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP" }},
	{KindGIF, "GIF image", "GIF", "image/gif", `starts with "GIF87a" or "GIF89a"`, true,
		func(b []byte) bool { return prefix("GIF87a")(b) || prefix("GIF89a")(b) }},
	// BigTIFF ("+" for "*") lifts TIFF's limit of 4 GB; some tools write it
	// whatever the size.
	{KindTIFF, "TIFF image", "TIFF", "image/tiff", `starts with "II*\0" or "MM\0*" (BigTIFF: "II+\0" or "MM\0+")`, true,
		func(b []byte) bool {
			return prefix("II*\x00")(b) || prefix("MM\x00*")(b) || prefix("II+\x00")(b) || prefix("MM\x00+")(b)
		}},
	{"bmp", "BMP image", "BMP", "image/bmp", `starts with "BM" and reserved zero bytes`, true,
		func(b []byte) bool {
			return len(b) >= 14 && string(b[:2]) == "BM" && string(b[6:10]) == "\x00\x00\x00\x00"
		}},
	{"ico", "ICO icon", "ICO", "image/vnd.microsoft.icon", "starts with 00 00 01 00 (icon) or 00 00 02 00 (cursor), then a count of images that is not zero", true, isICO},
	{"heic", "HEIC image", "HEIC", "image/heic", `an ftyp box of brand heic, heix, mif1 or msf1`, true, isobmff("heic", "heix", "mif1", "msf1", "hevc")},
	{"avif", "AVIF image", "AVIF", "image/avif", `an ftyp box of brand avif or avis`, true, isobmff("avif", "avis")},
	{"jxl", "JPEG XL image", "JPEG XL", "image/jxl", "starts with FF 0A or a JXL box", true,
		func(b []byte) bool { return prefix("\xFF\x0A")(b) || prefix("\x00\x00\x00\x0CJXL \x0D\x0A\x87\x0A")(b) }},
	{"jp2", "JPEG 2000 image", "JPEG 2000", "image/jp2", "starts with a jP box", true, prefix("\x00\x00\x00\x0CjP  \x0D\x0A\x87\x0A")},
	{"psd", "Photoshop document", "PSD", "image/vnd.adobe.photoshop", `starts with "8BPS"`, true, prefix("8BPS")},
	{KindPNM, "PNM image", "PNM", "image/x-portable-anymap", `"P1" to "P7", "PF" or "Pf", then a space or newline`, true, isPNM},
	{KindSVG, "SVG image", "SVG", "image/svg+xml", `an <svg> root element after the XML prolog, or such a file gzipped (SVGZ)`, true, isSVG},
	{KindTGA, "TGA image", "TGA", "image/x-tga", "an 18-byte TGA header with a known image type and pixel depth, or the TRUEVISION-XFILE footer", true, isTGA},
	{KindDOCX, "Word document (DOCX)", "DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a ZIP whose [Content_Types].xml names a WordprocessingML main part (DOCX, DOCM, DOTX)", false, officeZipIs(KindDOCX)},
	{KindXLSX, "Excel workbook (XLSX)", "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "a ZIP whose [Content_Types].xml names a SpreadsheetML main part (XLSX, XLSM, XLTX)", false, officeZipIs(KindXLSX)},
	{KindPPTX, "PowerPoint presentation (PPTX)", "PPTX", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "a ZIP whose [Content_Types].xml names a PresentationML main part (PPTX, PPSX, PPTM, POTX)", false, officeZipIs(KindPPTX)},
	{KindODT, "OpenDocument text (ODT)", "ODT", "application/vnd.oasis.opendocument.text", `a ZIP whose first entry, "mimetype", says application/vnd.oasis.opendocument.text`, false, officeZipIs(KindODT)},
	{KindODS, "OpenDocument spreadsheet (ODS)", "ODS", "application/vnd.oasis.opendocument.spreadsheet", `a ZIP whose first entry, "mimetype", says application/vnd.oasis.opendocument.spreadsheet`, false, officeZipIs(KindODS)},
	{KindODP, "OpenDocument presentation (ODP)", "ODP", "application/vnd.oasis.opendocument.presentation", `a ZIP whose first entry, "mimetype", says application/vnd.oasis.opendocument.presentation`, false, officeZipIs(KindODP)},
	{"zip", "ZIP archive", "ZIP", "application/zip", "starts with PK 03 04 and is no Office document", false, prefix("PK\x03\x04")},
	{KindDOC, "Word 97–2003 document (DOC)", "DOC", "application/msword", "an OLE2 compound file with a WordDocument stream", false, ole2Is(KindDOC)},
	{KindXLS, "Excel 97–2003 workbook (XLS)", "XLS", "application/vnd.ms-excel", "an OLE2 compound file with a Workbook (or Book) stream", false, ole2Is(KindXLS)},
	{KindPPT, "PowerPoint 97–2003 presentation (PPT)", "PPT", "application/vnd.ms-powerpoint", `an OLE2 compound file with a "PowerPoint Document" stream`, false, ole2Is(KindPPT)},
	{KindOLE2, "legacy Office document (DOC, XLS or PPT)", "OLE2", "application/x-ole-storage", "starts with D0 CF 11 E0 A1 B1 1A E1, its streams past the first bytes read", false, prefix(ole2Magic)},
	// RTF is 7-bit text, so it is told before text is.
	{KindRTF, "Rich Text document (RTF)", "RTF", "application/rtf", `starts with "{\rtf"`, false, prefix(`{\rtf`)},
	{KindHTML, "web page (HTML)", "HTML", "text/html", "starts, past a byte-order mark, white space and comments, with <!DOCTYPE html> or <html>", false, isHTML},
	{KindMarkdown, "Markdown text", "Markdown", "text/markdown", "a text sent with from=markdown", false, nil},
	{KindCSV, "CSV table", "CSV", "text/csv", "a text sent with from=csv", false, nil},
	{KindFiles, "several files", "files", "multipart/mixed", "a job of several files: v2's CONVERT_FILES, several file parts in the HTTP API", false, nil},
	{KindText, "text", "text", "text/plain", "valid UTF-8 without NUL bytes; for all but protocol v1.0 clients, also text in an encoding a byte-order mark, uchardet or charset names (UTF-16, Shift_JIS, GB18030, Big5, EUC-KR, Windows-125x, KOI8-R...)", false, nil},
}

// Kinds lists every kind Detect knows.
func Kinds() []KindInfo { return slices.Clone(kinds) }

// Info describes k; an unknown kind gets a description of its own.
func (k Kind) Info() KindInfo {
	for _, info := range kinds {
		if info.Kind == k {
			return info
		}
	}
	return KindInfo{Kind: KindUnknown, Label: "unrecognised input", Short: "unknown", MediaType: "application/octet-stream"}
}

// Label names k in messages.
func (k Kind) Label() string { return k.Info().Label }

// IsImage reports whether k is an image kind.
func (k Kind) IsImage() bool { return k.Info().Image }

// Detect returns the kind of b from its magic numbers; what matches none is text
// when it is valid UTF-8 without NUL bytes. An empty b is KindUnknown.
func Detect(b []byte) Kind { return DetectHead(b, true) }

// DetectHead is Detect on the first bytes of a file; whole says b is the whole
// file. A head may end in the middle of a UTF-8 character, which does not make
// it less of a text; the rest of the file is the converter's to check.
func DetectHead(b []byte, whole bool) Kind {
	if len(b) == 0 {
		return KindUnknown
	}
	for _, info := range kinds {
		if info.magic != nil && info.magic(b) {
			return info.Kind
		}
	}
	if !whole {
		b = cutPartialRune(b)
	}
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return KindText
	}
	return KindUnknown
}

// cutPartialRune drops the start of a character that a cut split.
func cutPartialRune(b []byte) []byte {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

// notText explains why b, which is not text, is not: the offset of the first
// byte that is not UTF-8 or is NUL, whichever comes first.
func notText(b []byte) *Error {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		// The byte-order mark of UTF-16, as Windows Notepad saves "Unicode" text.
		return &Error{Code: fail.TypeMismatch, Message: "input is UTF-16 text, not UTF-8: save it as UTF-8 and send it again"}
	}
	for i := 0; i < len(b); {
		if b[i] == 0 {
			return &Error{Code: fail.TypeMismatch, Message: fmt.Sprintf("input is not valid UTF-8 text (NUL byte at offset %d)", i)}
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return &Error{Code: fail.TypeMismatch, Message: fmt.Sprintf("input is not valid UTF-8 text (first invalid byte at offset %d)", i)}
		}
		i += size
	}
	return nil
}
