package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/libvips"
)

// File is a real file sent instead of generated inputs: a camera's photo
// measures what a user's conversion costs, where a generated input of the
// same size may hold another number of pixels.
type File struct {
	// Name is the file's name in the tables.
	Name string
	// Kind is what convert.Detect finds it to be, matched against
	// Conversion.Input.
	Kind string
	Data []byte
}

// ReadFile reads a file for Plan.Files.
func ReadFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	kind := convert.Detect(b)
	if kind == convert.KindUnknown {
		return File{}, fmt.Errorf("%s: not a kind of file fileconv converts", path)
	}
	return File{Name: filepath.Base(path), Kind: string(kind), Data: b}, nil
}

// megapixels is the number of pixels, in millions, that c decodes from input:
// every frame of an animation or a multi-page file kept whole, else the first
// picture, a PDF's first page at the default dpi; 0 when input is neither.
func megapixels(c Conversion, input []byte) float64 {
	pdf := c.Input == string(convert.KindPDF) && c.Target != "txt"
	if !convert.Kind(c.Input).IsImage() && !pdf || libvips.Start() != nil {
		return 0
	}
	options := ""
	if pdf {
		options = fmt.Sprintf("dpi=%d", convert.DefaultPDFDPI)
	}
	img, err := libvips.Load(input, options)
	if err != nil {
		return 0
	}
	defer img.Close()
	pictures := 1
	switch c.Input {
	case "gif", "webp", "tiff":
		if c.Target == "gif" || c.Target == "webp" || c.Target == "tiff" {
			pictures = max(img.Pages(), 1)
		}
	}
	return float64(img.Width()) * float64(img.PageHeight()) * float64(pictures) / 1e6
}
