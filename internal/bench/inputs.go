// Package bench is fileconv's load tool: it sends generated inputs (or given
// files) to a master (or converts them in the process), sweeps file sizes,
// chunk sizes and concurrency, and reports requests/s, input MB/s, latency
// percentiles and errors by kind as a CSV, PNG graphs and a table.
package bench

import (
	"fmt"
	"html"
	"image"
	"slices"
	"strings"
	"sync"

	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// Conversion is one conversion the sweeps measure.
type Conversion struct {
	// Name is the command-line name, e.g. "jpg-png".
	Name string
	// Label is the name in tables and graphs, e.g. "JPG→PNG".
	Label string
	// Input is the kind of input, as convert.Detect names it: jpeg, png, webp,
	// gif, tiff, heic, avif, svg, text or pdf.
	Input string
	// Target is the format asked for, as protocol v2 names it: jpg, avif, pdf.
	Target string
}

// Op is the v1.0 operation of the conversion; v1.0 has none for the targets
// that came after it (avif, heic, jxl, gif, tiff).
func (c Conversion) Op() (wire.Operation, bool) { return wire.OperationOf(c.Target) }

// Conversions are the eight conversions of the original's benchmark: "all".
var Conversions = []Conversion{
	{"jpg-png", "JPG→PNG", "jpeg", "png"},
	{"jpg-webp", "JPG→WEBP", "jpeg", "webp"},
	{"png-jpg", "PNG→JPG", "png", "jpg"},
	{"png-webp", "PNG→WEBP", "png", "webp"},
	{"webp-jpg", "WEBP→JPG", "webp", "jpg"},
	{"webp-png", "WEBP→PNG", "webp", "png"},
	{"txt-pdf", "TXT→PDF", "text", "pdf"},
	{"pdf-txt", "PDF→TXT", "pdf", "txt"},
}

// ImageConversions are conversions from and to the formats beyond the
// original three, one per decoder or encoder worth measuring: "images".
var ImageConversions = []Conversion{
	{"heic-jpg", "HEIC→JPG", "heic", "jpg"},
	// Every frame of the animation is converted.
	{"gif-webp", "GIF→WEBP", "gif", "webp"},
	{"tiff-png", "TIFF→PNG", "tiff", "png"},
	{"svg-png", "SVG→PNG", "svg", "png"},
	{"png-avif", "PNG→AVIF", "png", "avif"},
	{"jpg-avif", "JPG→AVIF", "jpeg", "avif"},
	{"jpg-heic", "JPG→HEIC", "jpeg", "heic"},
	{"jpg-jxl", "JPG→JXL", "jpeg", "jxl"},
	// A PDF's first page as a picture, and a photo as a PDF.
	{"pdf-png", "PDF→PNG", "pdf", "png"},
	// qpdf rewriting a PDF (repaired, compressed, object streams).
	{"pdf-pdf", "PDF→PDF", "pdf", "pdf"},
	{"jpg-pdf", "JPG→PDF", "jpeg", "pdf"},
	{"png-pdf", "PNG→PDF", "png", "pdf"},
}

// OfficeConversions are documents printed to PDF by LibreOffice and
// Chromium: "office". A generated document would measure nothing a user
// sends, so the office ones take real documents (--files); a web page is
// generated.
var OfficeConversions = []Conversion{
	{"docx-pdf", "DOCX→PDF", "docx", "pdf"},
	{"xlsx-pdf", "XLSX→PDF", "xlsx", "pdf"},
	{"pptx-pdf", "PPTX→PDF", "pptx", "pdf"},
	{"odt-pdf", "ODT→PDF", "odt", "pdf"},
	{"html-pdf", "HTML→PDF", "html", "pdf"},
}

// RegistryConversions stand for every entry of the conversion registry but
// the merging of several files (which one request of the bench cannot
// send): one pair per entry, on the input its engine is most often given,
// for --overhead: "registry". TestRegistryConversions keeps the list whole.
var RegistryConversions = []Conversion{
	{"png-jpg", "PNG→JPG", "png", "jpg"},
	{"jpg-png", "JPG→PNG", "jpeg", "png"},
	{"jpg-webp", "JPG→WEBP", "jpeg", "webp"},
	{"png-gif", "PNG→GIF", "png", "gif"},
	{"png-tiff", "PNG→TIFF", "png", "tiff"},
	{"png-avif", "PNG→AVIF", "png", "avif"},
	{"jpg-heic", "JPG→HEIC", "jpeg", "heic"},
	{"jpg-jxl", "JPG→JXL", "jpeg", "jxl"},
	{"txt-pdf", "TXT→PDF", "text", "pdf"},
	{"jpg-pdf", "JPG→PDF", "jpeg", "pdf"},
	{"pdf-txt", "PDF→TXT", "pdf", "txt"},
	// OCR of a scanned page.
	{"scan-txt", "scan→TXT", "scan", "txt"},
	{"pdf-png", "PDF→PNG", "pdf", "png"},
	{"pdf-jpg", "PDF→JPG", "pdf", "jpg"},
	{"pdf-webp", "PDF→WEBP", "pdf", "webp"},
	{"pdf-tiff", "PDF→TIFF", "pdf", "tiff"},
	{"pdf-avif", "PDF→AVIF", "pdf", "avif"},
	{"pdf-pdf", "PDF→PDF", "pdf", "pdf"},
	{"docx-pdf", "DOCX→PDF", "docx", "pdf"},
	{"odt-docx", "ODT→DOCX", "odt", "docx"},
	{"docx-odt", "DOCX→ODT", "docx", "odt"},
	{"xlsx-xlsx", "XLSX→XLSX", "xlsx", "xlsx"},
	{"xlsx-ods", "XLSX→ODS", "xlsx", "ods"},
	{"pptx-pptx", "PPTX→PPTX", "pptx", "pptx"},
	{"pptx-odp", "PPTX→ODP", "pptx", "odp"},
	{"html-pdf", "HTML→PDF", "html", "pdf"},
}

// documentKinds are the inputs the bench does not generate: a made-up office
// document would measure nothing a user sends.
var documentKinds = []string{"docx", "xlsx", "pptx", "odt"}

// NeedsFiles reports whether c has no generated input: its documents come
// from --files.
func (c Conversion) NeedsFiles() bool { return slices.Contains(documentKinds, c.Input) }

// ParseConversions reads a comma-separated list of names such as
// "jpg-png,heic-jpg" (also "jpg→png" or "JPG-PNG"), where "all" stands for
// Conversions, "images" for ImageConversions and "office" for
// OfficeConversions; empty means all.
func ParseConversions(s string) ([]Conversion, error) {
	if strings.TrimSpace(s) == "" {
		return Conversions, nil
	}
	var out []Conversion
	known := slices.Concat(Conversions, ImageConversions, OfficeConversions, RegistryConversions)
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		name = strings.NewReplacer("→", "-", "jpeg", "jpg", "text", "txt", "tiff", "tiff", "tif", "tiff", "2", "-").Replace(name)
		switch name {
		case "all":
			out = append(out, Conversions...)
			continue
		case "images":
			out = append(out, ImageConversions...)
			continue
		case "office":
			out = append(out, OfficeConversions...)
			continue
		case "registry":
			out = append(out, RegistryConversions...)
			continue
		}
		i := slices.IndexFunc(known, func(c Conversion) bool { return c.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown conversion %q: use all, images, office, registry or some of %s", name, conversionNames(known))
		}
		out = append(out, known[i])
	}
	return out, nil
}

func conversionNames(cs []Conversion) string {
	var names []string
	for _, c := range cs {
		if !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ",")
}

// Image kinds for Inputs.
const (
	ImagePhoto = "photo" // smooth gradients, shapes and grain: compresses like a photograph
	ImageNoise = "noise" // random pixels: the worst case for every codec
)

// Inputs makes and remembers the generated inputs. The same (kind, size) always
// gives the same bytes.
type Inputs struct {
	// Image is ImagePhoto (the default) or ImageNoise.
	Image string

	mu    sync.Mutex
	cache map[inputKey][]byte
}

type inputKey struct {
	kind, image string
	size        int
}

// Get returns an input of kind (a Conversion's Input) whose size is within
// 3 % of size bytes. Callers must not modify it.
func (in *Inputs) Get(kind string, size int) ([]byte, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	img := in.Image
	if img == "" {
		img = ImagePhoto
	}
	key := inputKey{kind, img, size}
	if b, ok := in.cache[key]; ok {
		return b, nil
	}
	b, err := generate(kind, img, size)
	if err != nil {
		return nil, fmt.Errorf("generate a %s input of %d bytes: %w", kind, size, err)
	}
	if in.cache == nil {
		in.cache = map[inputKey][]byte{}
	}
	in.cache[key] = b
	return b, nil
}

// photoFormats are the input kinds made by encoding a Photo (or Noise).
var photoFormats = map[string]testfiles.Format{
	"jpeg": testfiles.JPEG, "png": testfiles.PNG, "webp": testfiles.WEBP,
	"tiff": testfiles.TIFF, "heic": testfiles.HEIC, "avif": testfiles.AVIF, "jxl": testfiles.JXL,
}

// GIFFrames is the number of frames of a generated GIF input.
const GIFFrames = 5

func generate(kind, img string, size int) ([]byte, error) {
	if f, ok := photoFormats[kind]; ok {
		if img == ImageNoise {
			return noiseOfSize(f, size)
		}
		return testfiles.ImageOfSize(f, size)
	}
	if img == ImageNoise && (kind == "gif" || kind == "svg") {
		return nil, fmt.Errorf("there is no %s of noise: use --image %s", kind, ImagePhoto)
	}
	switch kind {
	case "gif":
		return testfiles.AnimatedGIFOfSize(size, GIFFrames)
	case "svg":
		return testfiles.SVGOfSize(size)
	case "text":
		return []byte(testfiles.Paragraphs(size)), nil
	case "pdf":
		return testfiles.PDFOfSize(size)
	case "html":
		return webPage(size), nil
	case "scan":
		return scan()
	}
	return nil, fmt.Errorf("unknown input kind %q", kind)
}

// noiseOfSize encodes testfiles.Noise at the area that gives a file within 3 %
// of target bytes, as testfiles.ImageOfSize does for photos.
func noiseOfSize(f testfiles.Format, target int) ([]byte, error) {
	if target < 1024 {
		return nil, fmt.Errorf("the smallest target is 1024 bytes")
	}
	bpp := map[testfiles.Format]float64{testfiles.JPEG: 1.6, testfiles.PNG: 3.05, testfiles.WEBP: 1.3,
		testfiles.TIFF: 3.2, testfiles.HEIC: 1.2, testfiles.AVIF: 1, testfiles.JXL: 1.5}[f]
	b, err := testfiles.EncodedOfSize(f, target, bpp, func(w, h int) image.Image { return testfiles.Noise(w, h, 1) })
	if err != nil {
		return nil, fmt.Errorf("noise: %w", err)
	}
	return b, nil
}

// webPage is a web page of about size bytes: paragraphs of text under a
// heading. The markup's share depends on the paragraphs, so the text is
// sized once more from the first try.
func webPage(size int) []byte {
	page := func(text int) []byte {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Report</title></head><body>\n<h1>Report</h1>\n")
		for _, p := range strings.Split(testfiles.Paragraphs(text), "\n\n") {
			b.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
		}
		b.WriteString("</body></html>\n")
		return []byte(b.String())
	}
	first := page(size)
	return page(max(1, size*size/len(first)))
}

// scan is a page of text as a scanner at 300 dpi makes it: 11-point type,
// forty lines, as a PNG. Its size is its own: OCR's cost is the page's.
func scan() ([]byte, error) {
	lines := strings.Split(testfiles.Paragraphs(40*70), " ")
	var page []string
	for len(lines) > 0 && len(page) < 40 {
		n := min(10, len(lines))
		page = append(page, strings.Join(lines[:n], " "))
		lines = lines[n:]
	}
	return testfiles.TextPNG(46, page...)
}
