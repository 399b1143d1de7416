// Package bench is fileconv's load tool: it sends generated inputs to a master (or
// converts them in the process), sweeps file sizes, chunk sizes and concurrency,
// and reports requests/s, input MB/s, latency percentiles and errors by kind as a
// CSV, PNG graphs and a table.
package bench

import (
	"fmt"
	"image"
	"strings"
	"sync"

	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// Conversion is one of the eight conversions the sweeps measure.
type Conversion struct {
	// Name is the command-line name, e.g. "jpg-png".
	Name string
	// Label is the name in tables and graphs, e.g. "JPG→PNG".
	Label string
	// Input is the kind of input: jpeg, png, webp, text or pdf.
	Input string
	Op    wire.Operation
}

// Conversions are the eight conversions of the original's benchmark.
var Conversions = []Conversion{
	{"jpg-png", "JPG→PNG", "jpeg", wire.OpToPNG},
	{"jpg-webp", "JPG→WEBP", "jpeg", wire.OpToWEBP},
	{"png-jpg", "PNG→JPG", "png", wire.OpToJPEG},
	{"png-webp", "PNG→WEBP", "png", wire.OpToWEBP},
	{"webp-jpg", "WEBP→JPG", "webp", wire.OpToJPEG},
	{"webp-png", "WEBP→PNG", "webp", wire.OpToPNG},
	{"txt-pdf", "TXT→PDF", "text", wire.OpTextToPDF},
	{"pdf-txt", "PDF→TXT", "pdf", wire.OpPDFToText},
}

// ParseConversions reads "all" or a comma-separated list of names such as
// "jpg-png,txt-pdf" (also "jpg→png" or "JPG-PNG").
func ParseConversions(s string) ([]Conversion, error) {
	if strings.TrimSpace(s) == "" || strings.EqualFold(strings.TrimSpace(s), "all") {
		return Conversions, nil
	}
	var out []Conversion
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		name = strings.NewReplacer("→", "-", "jpeg", "jpg", "text", "txt", "2", "-").Replace(name)
		found := false
		for _, c := range Conversions {
			if c.Name == name {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown conversion %q: use all or some of %s", name, conversionNames())
		}
	}
	return out, nil
}

func conversionNames() string {
	var names []string
	for _, c := range Conversions {
		names = append(names, c.Name)
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

// Get returns an input of kind (jpeg, png, webp, text, pdf) whose size is within
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

func generate(kind, img string, size int) ([]byte, error) {
	format := map[string]testfiles.Format{"jpeg": testfiles.JPEG, "png": testfiles.PNG, "webp": testfiles.WEBP}
	switch kind {
	case "jpeg", "png", "webp":
		if img == ImageNoise {
			return noiseOfSize(format[kind], size)
		}
		return testfiles.ImageOfSize(format[kind], size)
	case "text":
		return []byte(testfiles.Paragraphs(size)), nil
	case "pdf":
		return testfiles.PDFOfSize(size)
	}
	return nil, fmt.Errorf("unknown input kind %q", kind)
}

// noiseOfSize encodes testfiles.Noise at the area that gives a file within 3 %
// of target bytes, as testfiles.ImageOfSize does for photos.
func noiseOfSize(f testfiles.Format, target int) ([]byte, error) {
	if target < 1024 {
		return nil, fmt.Errorf("the smallest target is 1024 bytes")
	}
	bpp := map[testfiles.Format]float64{testfiles.JPEG: 1.6, testfiles.PNG: 3.05, testfiles.WEBP: 1.3}[f]
	b, err := testfiles.EncodedOfSize(f, target, bpp, func(w, h int) image.Image { return testfiles.Noise(w, h, 1) })
	if err != nil {
		return nil, fmt.Errorf("noise: %w", err)
	}
	return b, nil
}
