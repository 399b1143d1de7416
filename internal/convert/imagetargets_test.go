package convert

import (
	"context"
	"image"
	"image/color"
	"image/draw"
	"testing"

	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// TestPNGPlan checks that a PNG's settings follow its picture: noise stored,
// a drawing at level 6 with adaptive filters, a photo at the photo level
// with the "up" filter.
func TestPNGPlan(t *testing.T) {
	drawing := image.NewRGBA(image.Rect(0, 0, 400, 300))
	draw.Draw(drawing, drawing.Bounds(), image.White, image.Point{}, draw.Src)
	for i, c := range []color.RGBA{{200, 30, 30, 255}, {30, 120, 200, 255}, {40, 160, 60, 255}} {
		draw.Draw(drawing, image.Rect(40+i*110, 60, 130+i*110, 240), &image.Uniform{c}, image.Point{}, draw.Src)
	}
	for _, tc := range []struct {
		name   string
		img    image.Image
		level  int
		filter string
	}{
		{"noise", testfiles.Noise(400, 300, 7), 0, "none"},
		{"drawing", drawing, 6, "all"},
		{"photo", testfiles.Photo(400, 300), 3, "up"},
	} {
		png, err := testfiles.Encode(tc.img, testfiles.PNG)
		if err != nil {
			t.Fatal(err)
		}
		if err := libvips.Start(); err != nil {
			t.Fatal(err)
		}
		img, err := libvips.Load(png, "")
		if err != nil {
			t.Fatal(err)
		}
		level, filter, err := pngPlan(img, 3)
		img.Close()
		if err != nil {
			t.Fatal(err)
		}
		if level != tc.level || filter != tc.filter {
			t.Errorf("%s: level %d, filter %s; want %d, %s", tc.name, level, filter, tc.level, tc.filter)
		}
	}
}

// TestPNGOfNoiseIsStored converts noise to PNG: the rows are stored, so the
// file is the pixels and a little more, and they come back unchanged.
func TestPNGOfNoiseIsStored(t *testing.T) {
	noise := testfiles.Noise(300, 200, 3)
	in, err := testfiles.Encode(noise, testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	res, err := converter(t).Convert(context.Background(), "png", in, wire.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw := 300 * 200 * 3
	if n := len(res.Output); n < raw || n > raw*101/100 {
		t.Errorf("%d bytes for %d bytes of pixels: not stored", n, raw)
	}
	out, err := decodeWithVips(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	if x, y, ok := samePixels(noise, out); !ok {
		t.Errorf("pixel (%d,%d) changed", x, y)
	}
}
