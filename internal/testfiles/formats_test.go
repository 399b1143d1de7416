package testfiles

import (
	"bytes"
	"image/gif"
	"testing"

	"github.com/fileconv/fileconv/internal/libvips"
)

// vipsSize reads the size libvips gives a file, which fails on anything it
// does not read.
func vipsSize(t *testing.T, b []byte) (w, h int, loader string) {
	t.Helper()
	if err := libvips.Start(); err != nil {
		t.Fatal(err)
	}
	img, err := libvips.Load(b, "")
	if err != nil {
		t.Fatalf("libvips does not read it: %v", err)
	}
	defer img.Close()
	return img.Width(), img.Height(), img.Loader()
}

func TestVipsFormats(t *testing.T) {
	img := Photo(120, 90)
	for f, loader := range map[Format]string{TIFF: "tiffload_buffer", HEIC: "heifload_buffer", AVIF: "heifload_buffer", JXL: "jxlload_buffer"} {
		a, err := Encode(img, f)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		b, _ := Encode(img, f)
		if !bytes.Equal(a, b) {
			t.Errorf("%v: two encodings differ", f)
		}
		if w, h, l := vipsSize(t, a); w != 120 || h != 90 || l != loader {
			t.Errorf("%v: read as %dx%d by %s, want 120x90 by %s", f, w, h, l, loader)
		}
		sized, err := ImageOfSize(f, 20_000)
		if err != nil {
			t.Fatalf("%v of 20000 bytes: %v", f, err)
		}
		if d := absDiff(len(sized), 20_000); d*100 > 3*20_000 {
			t.Errorf("%v: %d bytes for a target of 20000", f, len(sized))
		}
	}
}

func TestAnimatedGIF(t *testing.T) {
	b, err := AnimatedGIFOfSize(50_000, 5)
	if err != nil {
		t.Fatal(err)
	}
	if d := absDiff(len(b), 50_000); d*100 > 3*50_000 {
		t.Errorf("%d bytes for a target of 50000", len(b))
	}
	anim, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(anim.Image) != 5 || bytes.Equal(anim.Image[0].Pix, anim.Image[4].Pix) {
		t.Errorf("%d frames, the first and last alike: %v", len(anim.Image), len(anim.Image) > 4 && bytes.Equal(anim.Image[0].Pix, anim.Image[4].Pix))
	}
	again, _ := AnimatedGIFOfSize(50_000, 5)
	if !bytes.Equal(b, again) {
		t.Error("two GIFs of the same size differ")
	}
}

func TestSVG(t *testing.T) {
	b, err := SVGOfSize(100_000)
	if err != nil {
		t.Fatal(err)
	}
	if d := absDiff(len(b), 100_000); d*100 > 3*100_000 {
		t.Errorf("%d bytes for a target of 100000", len(b))
	}
	if w, h, l := vipsSize(t, b); w != 1600 || h != 1200 || l != "svgload_buffer" {
		t.Errorf("read as %dx%d by %s, want 1600x1200 by svgload_buffer", w, h, l)
	}
}
