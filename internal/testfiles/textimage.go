package testfiles

import (
	"image"
	"image/draw"

	"github.com/go-fonts/dejavu/dejavusans"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// TextImage draws lines of black text in DejaVu Sans on white, px pixels
// high a line, as a scan of a printed page looks to OCR.
func TextImage(px float64, lines ...string) (*image.Gray, error) {
	f, err := opentype.Parse(dejavusans.TTF)
	if err != nil {
		return nil, err
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: px, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	defer face.Close()
	width := 0
	for _, l := range lines {
		width = max(width, font.MeasureString(face, l).Ceil())
	}
	margin := int(2 * px)
	lineHeight := int(1.5 * px)
	img := image.NewGray(image.Rect(0, 0, width+2*margin, len(lines)*lineHeight+2*margin))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: img, Src: image.Black, Face: face}
	for i, l := range lines {
		d.Dot = fixed.P(margin, margin+(i+1)*lineHeight-int(px/3))
		d.DrawString(l)
	}
	return img, nil
}

// TextPNG is TextImage encoded as a PNG: a scan to send for OCR.
func TextPNG(px float64, lines ...string) ([]byte, error) {
	img, err := TextImage(px, lines...)
	if err != nil {
		return nil, err
	}
	return Encode(img, PNG)
}
