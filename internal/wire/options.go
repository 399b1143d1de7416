package wire

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Options tune a conversion. It is the one options type of fileconv: protocol v2
// carries it as JSON, the HTTP API and the CLI fill it with Set, and the
// conversion registry says which options each conversion accepts. The zero
// value asks for v1.0's behaviour: the server's configured quality (85 for JPEG,
// 80 for WEBP by default), lossy WEBP, A4 pages and every page of a PDF.
type Options struct {
	// Quality is the JPEG or lossy WEBP quality, 1 to 100; 0 means the server's default.
	Quality int `json:"quality,omitempty"`
	// Lossless asks for a lossless WEBP.
	Lossless bool `json:"lossless,omitempty"`
	// PageSize is "A4" or "Letter" for pages made from text; empty means A4.
	PageSize string `json:"page_size,omitempty"`
	// Layout is how a text is set on PDF pages: LayoutReflow (paragraphs,
	// the default) or LayoutPreserve (every line and space, monospaced).
	Layout string `json:"layout,omitempty"`
	// FontSize is the size of a text's letters on PDF pages, in points;
	// 0 means 11 (10 for LayoutPreserve).
	FontSize float64 `json:"font_size,omitempty"`
	// Charset names a text's encoding ("shift_jis", "windows-1251"); empty
	// means UTF-8 or the encoding the server recognises.
	Charset string `json:"charset,omitempty"`
	// Pages selects the pages of a PDF, e.g. "1-3,7,10-"; empty means all.
	Pages string `json:"pages,omitempty"`

	// Width and Height are the size wanted for an image, in pixels; 0 leaves
	// that side to the aspect ratio (or the input's size when both are 0).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Fit says how an image meets Width × Height: one of the Fit* values.
	Fit string `json:"fit,omitempty"`
	// Effort trades encoding time for a smaller file, on the encoder's own scale
	// (WEBP 0–6, AVIF 0–9, JPEG XL 3–9, PNG 0–9, GIF 1–10); 0 means the
	// server's default, chosen by measurement (docs/performance.md), and
	// EffortFastest asks for the encoder's 0.
	Effort int `json:"effort,omitempty"`
	// Page picks one frame or page (from 1) of an animation or multi-page
	// image when the target holds one picture; 0 means the first.
	Page int `json:"page,omitempty"`
	// DPI is the resolution a PDF's pages are rendered at; 0 means 150.
	DPI int `json:"dpi,omitempty"`
	// Background is the colour transparency is flattened on where the target
	// has none, and the colour of the bars of FitContain; empty means white.
	Background string `json:"background,omitempty"`
	// KeepICC keeps an image's colour profile instead of converting to sRGB.
	KeepICC bool `json:"keep_icc,omitempty"`
	// KeepMetadata keeps EXIF and XMP (never the GPS position: see KeepGPS).
	KeepMetadata bool `json:"keep_metadata,omitempty"`
	// KeepGPS keeps the GPS position too; it needs KeepMetadata.
	KeepGPS bool `json:"keep_gps,omitempty"`
	// Margin is the white space around a picture on a PDF page, a length
	// such as "10mm" or "0.5in" (ParseLength); empty means 10 mm on a
	// page_size page and none on a page the picture's size.
	Margin string `json:"margin,omitempty"`
	// Split cuts a PDF into several: "each" for a PDF per page, or page
	// ranges ("1-3,4-") for a PDF per range.
	Split string `json:"split,omitempty"`
	// Password opens an encrypted PDF or a protected office document. It is
	// a secret: String leaves it out.
	Password string `json:"password,omitempty"`
	// Landscape turns an office document's or a web page's pages sideways.
	Landscape bool `json:"landscape,omitempty"`
	// PDFA asks for an archival PDF (PDF/A-2b).
	PDFA bool `json:"pdfa,omitempty"`
	// FitWidth fits each sheet of a spreadsheet one page wide.
	FitWidth bool `json:"fit_width,omitempty"`
	// From says what a text is, which its bytes cannot: "csv" or "markdown";
	// "text" reads an HTML file as the text it is.
	From string `json:"from,omitempty"`
	// OCR says which pages of a PDF are read by OCR for their text: "auto"
	// (those without text; the default), "always" or "never". To PDF, it
	// says which pages get an invisible text layer (a searchable PDF):
	// none unless asked, since OCR is slow.
	OCR string `json:"ocr,omitempty"`
	// Lang is the language set OCR reads: "eng" (the default), "eng+deu", …
	Lang string `json:"lang,omitempty"`
}

// The values of Options.From.
var FromValues = []string{"csv", "markdown", "text"}

// The values of Options.OCR.
const (
	OCRAuto   = "auto"
	OCRAlways = "always"
	OCRNever  = "never"
)

// OCRValues are the values of Options.OCR.
var OCRValues = []string{OCRAuto, OCRAlways, OCRNever}

// DefaultLang is the OCR language set when a request gives none.
const DefaultLang = "eng"

// OCRLang is the request's OCR language set.
func (o Options) OCRLang() string {
	if o.Lang == "" {
		return DefaultLang
	}
	return o.Lang
}

// langSetRE is an OCR language set: Tesseract's names ("eng", "chi_sim"),
// at most 8, joined with "+". Which are installed, a worker knows.
var langSetRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{1,31}(\+[A-Za-z][A-Za-z0-9_]{1,31}){0,7}$`)

// String describes the options for logs, without the password.
func (o Options) String() string {
	if o.Password != "" {
		o.Password = "[redacted]"
	}
	type plain Options
	return fmt.Sprintf("%+v", plain(o))
}

// SplitEach is the Split that makes a PDF of every page.
const SplitEach = "each"

// MaxPasswordLen bounds a PDF password.
const MaxPasswordLen = 1024

// maxMarginPt bounds a margin: 200 mm, more than half of any page size
// offered.
const maxMarginPt = 200 * ptPerMM

const ptPerMM = 72 / 25.4

// ParseLength reads a length as "10mm", "1.5cm", "0.5in", "36pt" or a bare
// number of millimetres, and returns it in points.
func ParseLength(s string) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	unit := ptPerMM
	for suffix, pt := range map[string]float64{"mm": ptPerMM, "cm": 10 * ptPerMM, "in": 72, "pt": 1} {
		if rest, ok := strings.CutSuffix(t, suffix); ok {
			t, unit = strings.TrimSpace(rest), pt
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*unit > maxMarginPt || v != v {
		return 0, fmt.Errorf("%q is not a length from 0 to 200mm; write it as 10mm, 1.5cm, 0.5in or 36pt", printable(s))
	}
	return v * unit, nil
}

// How an image meets the size asked for (Options.Fit).
const (
	// FitInside scales the image down to fit inside the box, keeping its
	// aspect ratio; it never enlarges.
	FitInside = "inside"
	// FitContain scales the image to fit the box and pads it with Background
	// to exactly the box.
	FitContain = "contain"
	// FitCover scales the image to cover the box and crops the centre.
	FitCover = "cover"
	// FitFill stretches the image to exactly the box.
	FitFill = "fill"
)

// Fits lists the values of Options.Fit.
var Fits = []string{FitInside, FitContain, FitCover, FitFill}

// MaxDimension bounds Width and Height: libvips's own largest coordinate.
const MaxDimension = 10_000_000

// MaxDPI bounds Options.DPI on the wire; a worker's --max-pdf-dpi may be lower.
const MaxDPI = 2400

// EffortFastest is effort 0, the fastest, as Options carries it: 0 there means
// the server's default.
const EffortFastest = -1

// Page sizes for TXT→PDF.
const (
	PageSizeA4     = "A4"
	PageSizeLetter = "Letter"
)

// Layouts of a text on PDF pages (Options.Layout).
const (
	LayoutReflow   = "reflow"
	LayoutPreserve = "preserve"
)

// Font sizes of a text on PDF pages (Options.FontSize), in points.
const (
	MinFontSize = 4
	MaxFontSize = 72
)

// charsetRE is the shape of an encoding's name, as IANA and WHATWG spell
// them; which names a server decodes, it knows.
var charsetRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}$`)

// OptionSpec describes one option: its name on the wire, in the HTTP API and as
// a CLI flag, what it does, and how a value is set and checked.
type OptionSpec struct {
	Name string
	// Doc is a one-line description for help texts and the API documentation.
	Doc string
	// Values describes the accepted values, e.g. "1 to 100".
	Values string
	// Bool marks a yes-or-no option, which a flag may give without a value.
	Bool  bool
	isSet func(Options) bool
	set   func(*Options, string) error
	check func(Options) string
}

// optionSpecs lists every option. A new option is a field of Options and an
// entry here; the conversions that accept it name it in their registry entry.
var optionSpecs = []OptionSpec{
	{Name: "quality", Doc: "quality of a lossy image (JPEG, WEBP, AVIF, HEIC, JPEG XL)", Values: "1 (smallest file) to 100 (best quality)",
		isSet: func(o Options) bool { return o.Quality != 0 },
		set: func(o *Options, v string) (err error) {
			o.Quality, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil || o.Quality == 0 {
				return fmt.Errorf("quality: %q is not a whole number from 1 to 100", printable(v))
			}
			return nil
		},
		check: func(o Options) string {
			switch {
			case o.Quality < 1 || o.Quality > 100:
				return fmt.Sprintf("options.quality: %d is out of range; use 1 (smallest file) to 100 (best quality), or leave it out for the server's default", o.Quality)
			case o.Lossless:
				// libwebp reads quality as compression effort in lossless mode:
				// accepting both would let a client believe it traded fidelity for size.
				return "options.quality has no meaning for a lossless image; remove quality or lossless"
			}
			return ""
		}},
	{Name: "lossless", Doc: "lossless WEBP, AVIF or JPEG XL", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.Lossless },
		set: func(o *Options, v string) (err error) {
			return setBool(&o.Lossless, "lossless", v)
		}},
	{Name: "page_size", Doc: "page size of a PDF made from text", Values: PageSizeA4 + " or " + PageSizeLetter,
		isSet: func(o Options) bool { return o.PageSize != "" },
		set: func(o *Options, v string) error {
			for _, s := range []string{PageSizeA4, PageSizeLetter} {
				if strings.EqualFold(strings.TrimSpace(v), s) {
					o.PageSize = s
					return nil
				}
			}
			return fmt.Errorf("page_size: %q is not supported; use %s or %s", printable(v), PageSizeA4, PageSizeLetter)
		},
		check: func(o Options) string {
			if o.PageSize != PageSizeA4 && o.PageSize != PageSizeLetter {
				return fmt.Sprintf("options.page_size: %q is not supported; use %q or %q", printable(o.PageSize), PageSizeA4, PageSizeLetter)
			}
			return ""
		}},
	{Name: "layout", Doc: "how a text is set on PDF pages: paragraphs re-wrapped to the page, or every line and space kept in a monospaced font (code, logs, tables)", Values: LayoutReflow + " (the default) or " + LayoutPreserve,
		isSet: func(o Options) bool { return o.Layout != "" },
		set: func(o *Options, v string) error {
			o.Layout = strings.ToLower(strings.TrimSpace(v))
			if msg := checkLayout(*o); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "options."))
			}
			return nil
		},
		check: checkLayout},
	{Name: "font_size", Doc: "size of a text's letters on PDF pages, in points", Values: fmt.Sprintf("%d to %d; 11 by default (10 with layout=preserve: 80 columns on A4)", MinFontSize, MaxFontSize),
		isSet: func(o Options) bool { return o.FontSize != 0 },
		set: func(o *Options, v string) (err error) {
			o.FontSize, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || checkFontSize(*o) != "" {
				return fmt.Errorf("font_size: %q is not a size from %d to %d points", printable(v), MinFontSize, MaxFontSize)
			}
			return nil
		},
		check: checkFontSize},
	{Name: "charset", Doc: "the encoding of a text that is not UTF-8, when the server would not recognise it", Values: "an encoding's name: shift_jis, euc-jp, iso-2022-jp, gb18030, big5, euc-kr, windows-1251, iso-8859-7, koi8-r, utf-16le, …",
		isSet: func(o Options) bool { return o.Charset != "" },
		set: func(o *Options, v string) error {
			o.Charset = strings.TrimSpace(v)
			if msg := checkCharset(*o); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "options."))
			}
			return nil
		},
		check: checkCharset},
	{Name: "width", Doc: "width of the image made, in pixels", Values: "1 to 10000000; alone, the height follows the aspect ratio",
		isSet: func(o Options) bool { return o.Width != 0 },
		set:   func(o *Options, v string) error { return setDimension(&o.Width, "width", v) },
		check: func(o Options) string { return checkDimension(o.Width, "width") }},
	{Name: "height", Doc: "height of the image made, in pixels", Values: "1 to 10000000; alone, the width follows the aspect ratio",
		isSet: func(o Options) bool { return o.Height != 0 },
		set:   func(o *Options, v string) error { return setDimension(&o.Height, "height", v) },
		check: func(o Options) string { return checkDimension(o.Height, "height") }},
	{Name: "fit", Doc: "how the image meets width × height", Values: FitInside + " (shrink to fit, never enlarge; the default), " + FitContain + " (fit, then pad with background), " + FitCover + " (fill, then crop the centre) or " + FitFill + " (stretch)",
		isSet: func(o Options) bool { return o.Fit != "" },
		set: func(o *Options, v string) error {
			o.Fit = strings.ToLower(strings.TrimSpace(v))
			if !slices.Contains(Fits, o.Fit) {
				return fmt.Errorf("fit: %q is not one of %s", printable(v), strings.Join(Fits, ", "))
			}
			return nil
		},
		check: func(o Options) string {
			switch {
			case !slices.Contains(Fits, o.Fit):
				return fmt.Sprintf("options.fit: %q is not one of %s", printable(o.Fit), strings.Join(Fits, ", "))
			case o.Fit != FitInside && (o.Width == 0 || o.Height == 0):
				return fmt.Sprintf("options.fit %s needs both width and height", o.Fit)
			}
			return ""
		}},
	{Name: "effort", Doc: "encoding effort: more is slower and makes a smaller file", Values: "the encoder's own scale: WEBP 0–6, AVIF 0–9, JPEG XL 3–9, PNG 0–9, GIF 1–10",
		isSet: func(o Options) bool { return o.Effort != 0 },
		set: func(o *Options, v string) (err error) {
			o.Effort, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil || o.Effort < 0 || o.Effort > 10 {
				return fmt.Errorf("effort: %q is not a whole number from 0 to 10", printable(v))
			}
			if o.Effort == 0 {
				o.Effort = EffortFastest
			}
			return nil
		},
		check: func(o Options) string {
			if (o.Effort < 1 || o.Effort > 10) && o.Effort != EffortFastest {
				return fmt.Sprintf("options.effort: %d is out of range; use 0 to 10 on the encoder's scale (-1 for 0 in JSON), or leave it out for the server's default", o.Effort)
			}
			return ""
		}},
	{Name: "page", Doc: "the frame or page to keep of an animation or multi-page image when the target holds one picture", Values: "1 (the first) or more",
		isSet: func(o Options) bool { return o.Page != 0 },
		set: func(o *Options, v string) (err error) {
			o.Page, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil || o.Page < 1 {
				return fmt.Errorf("page: %q is not a page number (1 or more)", printable(v))
			}
			return nil
		},
		check: func(o Options) string {
			if o.Page < 1 {
				return fmt.Sprintf("options.page: %d is not a page number; pages count from 1", o.Page)
			}
			return ""
		}},
	{Name: "dpi", Doc: "resolution a PDF's pages are rendered at, in dots per inch", Values: "1 to the server's --max-pdf-dpi (600 by default); 150 when left out",
		isSet: func(o Options) bool { return o.DPI != 0 },
		set: func(o *Options, v string) (err error) {
			o.DPI, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil || o.DPI < 1 || o.DPI > MaxDPI {
				return fmt.Errorf("dpi: %q is not a resolution from 1 to %d", printable(v), MaxDPI)
			}
			return nil
		},
		check: func(o Options) string {
			if o.DPI < 1 || o.DPI > MaxDPI {
				return fmt.Sprintf("options.dpi: %d is out of range; use 1 to %d, or leave it out for 150", o.DPI, MaxDPI)
			}
			return ""
		}},
	{Name: "background", Doc: "colour under transparency where the target has none, and of the bars of fit=contain", Values: `white (the default), black, "#rrggbb" or "r,g,b"`,
		isSet: func(o Options) bool { return o.Background != "" },
		set: func(o *Options, v string) error {
			if _, err := ParseColour(v); err != nil {
				return fmt.Errorf("background: %w", err)
			}
			o.Background = strings.TrimSpace(v)
			return nil
		},
		check: func(o Options) string {
			if _, err := ParseColour(o.Background); err != nil {
				return "options.background: " + err.Error()
			}
			return ""
		}},
	{Name: "keep_icc", Doc: "keep the image's colour profile rather than convert the colours to sRGB", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.KeepICC },
		set:   func(o *Options, v string) error { return setBool(&o.KeepICC, "keep_icc", v) }},
	{Name: "keep_metadata", Doc: "keep EXIF and XMP metadata (without the GPS position unless keep_gps)", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.KeepMetadata },
		set:   func(o *Options, v string) error { return setBool(&o.KeepMetadata, "keep_metadata", v) }},
	{Name: "keep_gps", Doc: "keep the GPS position, with keep_metadata", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.KeepGPS },
		set:   func(o *Options, v string) error { return setBool(&o.KeepGPS, "keep_gps", v) },
		check: func(o Options) string {
			if !o.KeepMetadata {
				return "options.keep_gps needs keep_metadata: without it all metadata, the GPS position included, is removed"
			}
			return ""
		}},
	{Name: "margin", Doc: "white space around each picture on a PDF page", Values: "a length: 10mm (the default with page_size; none without), 0, 1.5cm, 0.5in or 36pt; a bare number is millimetres",
		isSet: func(o Options) bool { return o.Margin != "" },
		set: func(o *Options, v string) error {
			if _, err := ParseLength(v); err != nil {
				return fmt.Errorf("margin: %w", err)
			}
			o.Margin = strings.TrimSpace(v)
			return nil
		},
		check: func(o Options) string {
			if _, err := ParseLength(o.Margin); err != nil {
				return "options.margin: " + err.Error()
			}
			return ""
		}},
	{Name: "split", Doc: "cut a PDF into several PDFs, answered as a ZIP", Values: `"each" (a PDF per page) or page ranges, e.g. "1-3,4-" (a PDF per range)`,
		isSet: func(o Options) bool { return o.Split != "" },
		set: func(o *Options, v string) error {
			o.Split = strings.TrimSpace(v)
			if msg := checkSplit(*o); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "options."))
			}
			return nil
		},
		check: checkSplit},
	{Name: "password", Doc: "password of an encrypted PDF (the user or the owner password)", Values: fmt.Sprintf("up to %d bytes; never logged", MaxPasswordLen),
		isSet: func(o Options) bool { return o.Password != "" },
		set:   func(o *Options, v string) error { o.Password = v; return nil },
		check: func(o Options) string {
			if len(o.Password) > MaxPasswordLen {
				return fmt.Sprintf("options.password: %d bytes, over the limit of %d", len(o.Password), MaxPasswordLen)
			}
			return ""
		}},
	{Name: "from", Doc: "what a text is, which its bytes cannot say: a CSV table or Markdown; text reads an HTML file as plain text", Values: strings.Join(FromValues, ", "),
		isSet: func(o Options) bool { return o.From != "" },
		set: func(o *Options, v string) error {
			o.From = strings.ToLower(strings.TrimSpace(v))
			if msg := checkFrom(*o); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "options."))
			}
			return nil
		},
		check: checkFrom},
	{Name: "ocr", Doc: "which pages OCR reads: to text, a PDF's pages without a text layer (auto), every page, or none; to PDF, the pages that get an invisible text layer, making a searchable PDF (auto: those without text; an image's pages have none)", Values: "auto (the default to text), always, never (the default to PDF)",
		isSet: func(o Options) bool { return o.OCR != "" },
		set: func(o *Options, v string) error {
			o.OCR = strings.ToLower(strings.TrimSpace(v))
			if msg := checkOCR(*o); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "options."))
			}
			return nil
		},
		check: checkOCR},
	{Name: "lang", Doc: "the languages OCR reads, as Tesseract names them; /api/v1/formats lists those installed", Values: `eng (the default), or several joined with "+": eng+deu`,
		isSet: func(o Options) bool { return o.Lang != "" },
		set: func(o *Options, v string) error {
			o.Lang = strings.TrimSpace(v)
			if msg := checkLang(*o); msg != "" {
				return errors.New(strings.TrimPrefix(msg, "options."))
			}
			return nil
		},
		check: checkLang},
	{Name: "landscape", Doc: "pages turned sideways (office documents, web pages)", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.Landscape },
		set:   func(o *Options, v string) error { return setBool(&o.Landscape, "landscape", v) }},
	{Name: "pdfa", Doc: "an archival PDF, PDF/A-2b (office documents)", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.PDFA },
		set:   func(o *Options, v string) error { return setBool(&o.PDFA, "pdfa", v) }},
	{Name: "fit_width", Doc: "each sheet of a spreadsheet fitted one page wide", Values: "true or false", Bool: true,
		isSet: func(o Options) bool { return o.FitWidth },
		set:   func(o *Options, v string) error { return setBool(&o.FitWidth, "fit_width", v) }},
	{Name: "pages", Doc: "pages of a PDF: the text of those pages, or a picture of each (several come back as a ZIP)", Values: `page numbers and ranges, e.g. "1-3,7,10-"`,
		isSet: func(o Options) bool { return o.Pages != "" },
		set: func(o *Options, v string) error {
			if _, err := ParsePageRanges(v); err != nil {
				return fmt.Errorf("pages: %w", err)
			}
			o.Pages = v
			return nil
		},
		check: func(o Options) string {
			if _, err := ParsePageRanges(o.Pages); err != nil {
				return "options.pages: " + err.Error()
			}
			if o.Page != 0 {
				return "options.page and options.pages: give one; page=N is pages=N"
			}
			return ""
		}},
}

func setBool(field *bool, name, v string) (err error) {
	*field, err = strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("%s: %q is not true or false", name, printable(v))
	}
	return nil
}

func setDimension(field *int, name, v string) (err error) {
	*field, err = strconv.Atoi(strings.TrimSpace(v))
	if err != nil || *field < 1 || *field > MaxDimension {
		return fmt.Errorf("%s: %q is not a number of pixels from 1 to %d", name, printable(v), MaxDimension)
	}
	return nil
}

func checkDimension(v int, name string) string {
	if v < 1 || v > MaxDimension {
		return fmt.Sprintf("options.%s: %d is out of range; use 1 to %d pixels", name, v, MaxDimension)
	}
	return ""
}

// Colour is an 8-bit RGB colour.
type Colour struct{ R, G, B uint8 }

// ParseColour reads white, black, "#rrggbb" (or "rrggbb") or "r,g,b".
func ParseColour(s string) (Colour, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "white":
		return Colour{255, 255, 255}, nil
	case "black":
		return Colour{}, nil
	}
	if parts := strings.Split(s, ","); len(parts) == 3 {
		var c [3]uint8
		for i, p := range parts {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
			if err != nil {
				return Colour{}, fmt.Errorf("%q: each of r,g,b must be 0 to 255", printable(s))
			}
			c[i] = uint8(n)
		}
		return Colour{c[0], c[1], c[2]}, nil
	}
	hex := strings.TrimPrefix(s, "#")
	if n, err := strconv.ParseUint(hex, 16, 32); err == nil && len(hex) == 6 {
		return Colour{uint8(n >> 16), uint8(n >> 8), uint8(n)}, nil
	}
	return Colour{}, fmt.Errorf(`%q is not a colour; use white, black, "#rrggbb" or "r,g,b"`, printable(s))
}

// checkFrom checks from against FromValues.
func checkFrom(o Options) string {
	if !slices.Contains(FromValues, o.From) {
		return fmt.Sprintf("options.from: %q is none of %s", printable(o.From), strings.Join(FromValues, ", "))
	}
	return ""
}

func checkLayout(o Options) string {
	if o.Layout != LayoutReflow && o.Layout != LayoutPreserve {
		return fmt.Sprintf("options.layout: %q is neither %s nor %s", printable(o.Layout), LayoutReflow, LayoutPreserve)
	}
	return ""
}

func checkFontSize(o Options) string {
	if !(o.FontSize >= MinFontSize && o.FontSize <= MaxFontSize) {
		return fmt.Sprintf("options.font_size: %g is out of range; use %d to %d points, or leave it out for 11", o.FontSize, MinFontSize, MaxFontSize)
	}
	return ""
}

func checkCharset(o Options) string {
	if !charsetRE.MatchString(o.Charset) {
		return fmt.Sprintf("options.charset: %q is not an encoding's name (such as shift_jis, gb18030, windows-1251)", printable(o.Charset))
	}
	return ""
}

func checkOCR(o Options) string {
	if !slices.Contains(OCRValues, o.OCR) {
		return fmt.Sprintf("options.ocr: %q is none of %s", printable(o.OCR), strings.Join(OCRValues, ", "))
	}
	return ""
}

func checkLang(o Options) string {
	if !langSetRE.MatchString(o.Lang) {
		return fmt.Sprintf(`options.lang: %q is not a language set: Tesseract's names (eng, deu, chi_sim), up to 8 joined with "+"`, printable(o.Lang))
	}
	return ""
}

// checkSplit checks split: "each" or page ranges, and not with pages.
func checkSplit(o Options) string {
	if o.Split != SplitEach {
		if _, err := ParsePageRanges(o.Split); err != nil {
			return fmt.Sprintf(`options.split: %s; or "each" for a PDF per page`, err)
		}
	}
	if o.Pages != "" {
		return "options.split and options.pages: give one; split cuts the whole PDF"
	}
	return ""
}

// OptionSpecs lists every option fileconv knows.
func OptionSpecs() []OptionSpec { return slices.Clone(optionSpecs) }

// OptionNames lists every option's name.
func OptionNames() []string {
	names := make([]string, len(optionSpecs))
	for i, s := range optionSpecs {
		names[i] = s.Name
	}
	return names
}

func optionSpec(name string) *OptionSpec {
	for i := range optionSpecs {
		if strings.EqualFold(optionSpecs[i].Name, name) {
			return &optionSpecs[i]
		}
	}
	return nil
}

// Set parses one option from its text form, as the HTTP API's query and the
// CLI's flags give it. An unknown name is an error naming the known ones.
func (o *Options) Set(name, value string) error {
	spec := optionSpec(name)
	if spec == nil {
		return fmt.Errorf("unknown option %q; the options are %s", printable(name), strings.Join(OptionNames(), ", "))
	}
	return spec.set(o, value)
}

// Names lists the options that are set, in the order of OptionNames.
func (o Options) Names() []string {
	var names []string
	for _, s := range optionSpecs {
		if s.isSet(o) {
			names = append(names, s.Name)
		}
	}
	return names
}

// Validate checks the value of every option that is set; whether an option fits
// the conversion is Applies's business, once the input's kind is known.
func (o Options) Validate() error {
	if p := o.validate(); p != nil {
		return badRequest("%s", strings.Join(p, "; "))
	}
	return nil
}

func (o Options) validate() []string {
	var p []string
	for _, s := range optionSpecs {
		if s.isSet(o) && s.check != nil {
			if msg := s.check(o); msg != "" {
				p = append(p, msg)
			}
		}
	}
	return p
}

// Applies checks that every option set is one that accepted lists: an option the
// conversion would ignore is an error rather than silently dropped, so a client
// learns that its request will not do what it meant. what names the conversion
// for the message, e.g. "text to pdf".
func (o Options) Applies(accepted []string, what string) error {
	var p []string
	for _, name := range o.Names() {
		if !slices.Contains(accepted, name) {
			use := "it takes no options"
			if len(accepted) > 0 {
				use = "it takes " + strings.Join(accepted, ", ")
			}
			p = append(p, fmt.Sprintf("options.%s does not apply to %s (%s); remove it", name, what, use))
		}
	}
	if p != nil {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}
