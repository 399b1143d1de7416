package testfiles

import (
	"bytes"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"math"
	"strings"

	"github.com/fileconv/fileconv/internal/libvips"
)

// vipsFormat is a format Go cannot write, with the libvips saver options that
// make a file like the ones met in practice.
type vipsFormat struct {
	name   string
	suffix string
}

var vipsFormats = map[Format]vipsFormat{
	// LZW with a predictor: what image editors write by default, and what
	// libtiff decodes at its usual speed (an uncompressed TIFF would measure
	// little but memory copies).
	TIFF: {"TIFF", ".tif[compression=lzw,predictor=horizontal]"},
	// Phones write HEIC and AVIF at about these qualities; AVIF at libaom's
	// fastest effort, or making a large input would take minutes.
	HEIC: {"HEIC", ".heic[compression=hevc,Q=80]"},
	AVIF: {"AVIF", ".avif[compression=av1,Q=75,effort=0]"},
	JXL:  {"JXL", ".jxl[Q=90,effort=3]"},
}

// encodeVips hands img to libvips as an uncompressed PNG and saves it in f.
func encodeVips(img image.Image, f Format) ([]byte, error) {
	if err := libvips.Start(); err != nil {
		return nil, fmt.Errorf("start libvips: %w", err)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("hand the image to libvips: %w", err)
	}
	v, err := libvips.Load(buf.Bytes(), "")
	if err != nil {
		return nil, fmt.Errorf("libvips load: %w", err)
	}
	defer v.Close()
	out, err := v.Save(vipsFormats[f].suffix)
	if err != nil {
		return nil, fmt.Errorf("libvips save %v: %w", f, err)
	}
	return out, nil
}

// AnimatedGIF returns a GIF of frames frames of w×h, a camera panning across a
// Photo, dithered onto a fixed 256-colour palette as GIF makers do.
func AnimatedGIF(w, h, frames int) ([]byte, error) {
	step := max(1, w/20)
	scene := Photo(w+(frames-1)*step, h)
	anim := &gif.GIF{}
	for i := range frames {
		p := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		draw.FloydSteinberg.Draw(p, p.Rect, scene, image.Pt(i*step, 0))
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return nil, fmt.Errorf("encode GIF: %w", err)
	}
	return buf.Bytes(), nil
}

// AnimatedGIFOfSize returns an AnimatedGIF of frames frames (4:3) whose file
// is within 3 % of targetBytes.
func AnimatedGIFOfSize(targetBytes, frames int) ([]byte, error) {
	if targetBytes < 1024 {
		return nil, fmt.Errorf("GIF of size %d: the smallest target is 1024 bytes", targetBytes)
	}
	// A dithered photo takes about 0.8 bytes per pixel and frame.
	b, err := fitSize(targetBytes, 12, float64(targetBytes)/(0.8*float64(frames)), func(area float64) ([]byte, error) {
		h := max(8, int(math.Sqrt(area*3/4)))
		return AnimatedGIF(max(8, h*4/3), h, frames)
	})
	if err != nil {
		return nil, fmt.Errorf("animated GIF: %w", err)
	}
	return b, nil
}

// SVG returns a 1600×1200 drawing of a sky, the ground and shapes circles,
// rectangles and triangles, as an illustration or a chart is drawn: the cost
// of rendering it grows with shapes.
func SVG(shapes int) []byte {
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1200" viewBox="0 0 1600 1200">` + "\n" +
		`<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#285ab4"/><stop offset="1" stop-color="#bed2f0"/></linearGradient></defs>` + "\n" +
		`<rect width="1600" height="744" fill="url(#sky)"/><rect y="744" width="1600" height="456" fill="#467832"/>` + "\n")
	for i := range shapes {
		x, y := hash32(i, 1)%1600, hash32(i, 2)%1200
		s := 8 + hash32(i, 3)%90
		fill := fmt.Sprintf("#%06x", hash32(i, 4)&0xffffff)
		opacity := 0.3 + float64(hash32(i, 5)%70)/100
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="%d" fill="%s" fill-opacity="%.2f"/>`, x, y, s, fill, opacity)
		case 1:
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" fill-opacity="%.2f"/>`, x, y, s, s*2/3, fill, opacity)
		default:
			fmt.Fprintf(&b, `<polygon points="%d,%d %d,%d %d,%d" fill="%s" stroke="#202020" fill-opacity="%.2f"/>`, x, y, x+s, y+s/2, x, y+s, fill, opacity)
		}
		b.WriteByte('\n')
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// SVGOfSize returns an SVG whose file is within 3 % of targetBytes.
func SVGOfSize(targetBytes int) ([]byte, error) {
	if targetBytes < 1024 {
		return nil, fmt.Errorf("SVG of size %d: the smallest target is 1024 bytes", targetBytes)
	}
	// About 95 bytes per shape.
	b, err := fitSize(targetBytes, 12, float64(targetBytes)/95, func(shapes float64) ([]byte, error) {
		return SVG(max(0, int(shapes))), nil
	})
	if err != nil {
		return nil, fmt.Errorf("SVG: %w", err)
	}
	return b, nil
}
