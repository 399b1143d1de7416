package testfiles

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/image/webp"
)

func TestImagesAreDeterministic(t *testing.T) {
	for name, gen := range map[string]func() image.Image{
		"Photo":       func() image.Image { return Photo(64, 48) },
		"Noise":       func() image.Image { return Noise(64, 48, 3) },
		"Transparent": func() image.Image { return Transparent(64, 48) },
		"Gray":        func() image.Image { return Gray(64, 48) },
		"Deep":        func() image.Image { return Deep(64, 48) },
	} {
		a, b := gen(), gen()
		if a.Bounds() != image.Rect(0, 0, 64, 48) {
			t.Errorf("%s: bounds %v", name, a.Bounds())
		}
		for _, f := range []Format{JPEG, PNG, WEBP} {
			ea, err := Encode(a, f)
			if err != nil {
				t.Fatalf("%s %v: %v", name, f, err)
			}
			eb, err := Encode(b, f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ea, eb) {
				t.Errorf("%s %v: two encodings differ", name, f)
			}
		}
	}
	if bytes.Equal(Noise(8, 8, 1).Pix, Noise(8, 8, 2).Pix) {
		t.Error("Noise ignores its seed")
	}
}

func TestEncodeDecodes(t *testing.T) {
	img := Photo(120, 90)
	for f, dec := range map[Format]func([]byte) (image.Image, error){
		JPEG: func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
		PNG:  func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		WEBP: func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
	} {
		b, err := Encode(img, f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := dec(b)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if out.Bounds().Size() != image.Pt(120, 90) {
			t.Errorf("%v: decoded size %v", f, out.Bounds().Size())
		}
	}
	if _, err := Encode(img, Format(42)); err == nil {
		t.Error("Encode accepted an unknown format")
	}
}

func TestImageOfSize(t *testing.T) {
	for _, f := range []Format{JPEG, PNG, WEBP} {
		for _, target := range []int{20_000, 300_000} {
			b, err := ImageOfSize(f, target)
			if err != nil {
				t.Fatalf("%v %d: %v", f, target, err)
			}
			if d := absDiff(len(b), target); d*100 > 3*target {
				t.Errorf("%v: %d bytes for a target of %d", f, len(b), target)
			}
			again, _ := ImageOfSize(f, target)
			if &again[0] != &b[0] {
				t.Errorf("%v: a second call did not reuse the first result", f)
			}
		}
	}
}

func TestSolidWEBP(t *testing.T) {
	want := color.NRGBA{R: 10, G: 200, B: 30, A: 128}
	b, err := SolidWEBP(33, 17, want)
	if err != nil {
		t.Fatal(err)
	}
	img, err := webp.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Size() != image.Pt(33, 17) {
		t.Errorf("size %v", img.Bounds().Size())
	}
	if got := color.NRGBAModel.Convert(img.At(20, 9)).(color.NRGBA); got != want {
		t.Errorf("colour %v, want %v", got, want)
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(mustSolid(t, 16383, 16383)))
	if err != nil || cfg.Width != 16383 || cfg.Height != 16383 {
		t.Errorf("bomb header: %v, %v", cfg, err)
	}
	if _, err := SolidWEBP(0, 5, want); err == nil {
		t.Error("accepted a zero width")
	}
}

func mustSolid(t *testing.T, w, h int) []byte {
	b, err := SolidWEBP(w, h, color.NRGBA{A: 255})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnimatedWEBP(t *testing.T) {
	b, err := AnimatedWEBP(20, 10, color.NRGBA{R: 255, A: 255}, color.NRGBA{B: 255, A: 255}, color.NRGBA{G: 255, A: 255})
	if err != nil {
		t.Fatal(err)
	}
	params := vips.NewImportParams()
	params.NumPages.Set(-1)
	img, err := vips.LoadImageFromBuffer(b, params)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Pages() != 3 || img.Width() != 20 || img.PageHeight() != 10 {
		t.Errorf("libvips reads %d pages of %dx%d, want 3 of 20x10", img.Pages(), img.Width(), img.PageHeight())
	}
}

func TestPNGBombAndHeader(t *testing.T) {
	b, err := PNGBomb(100, 50)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Size() != image.Pt(100, 50) {
		t.Errorf("bomb decodes to %v", img.Bounds().Size())
	}
	// Many repeated chunks and a remainder, decoded in full by Go.
	b, err = PNGBomb(3001, 2999)
	if err != nil {
		t.Fatal(err)
	}
	img, err = png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := img.(*image.Gray); !ok || g.Bounds().Size() != image.Pt(3001, 2999) || g.GrayAt(3000, 2998).Y != 0 {
		t.Errorf("large bomb decodes to %T %v", img, img.Bounds())
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(PNGHeader(50000, 40000)))
	if err != nil || cfg.Width != 50000 || cfg.Height != 40000 {
		t.Errorf("header: %+v, %v", cfg, err)
	}
}

func TestWithEXIF(t *testing.T) {
	jpg, err := Encode(Photo(30, 20), JPEG)
	if err != nil {
		t.Fatal(err)
	}
	b, err := WithEXIF(jpg, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xff\xd8\xff\xe1")) || !bytes.Contains(b, []byte("Exif\x00\x00II*\x00")) {
		t.Error("no EXIF segment after the start marker")
	}
	img, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Orientation() != 6 {
		t.Errorf("libvips reads orientation %d, want 6", img.Orientation())
	}
	if !strings.Contains(strings.Join(img.ImageFields(), " "), "GPSLatitude") {
		t.Errorf("libvips finds no GPS latitude in %v", img.ImageFields())
	}
	if _, err := WithEXIF([]byte("not a jpeg"), 6); err == nil {
		t.Error("accepted a non-JPEG")
	}
}

func TestCMYKAndProfiledJPEG(t *testing.T) {
	for name, gen := range map[string]func(image.Image) ([]byte, error){"CMYK": CMYKJPEG, "P3": ProfiledJPEG} {
		b, err := gen(Photo(40, 30))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img, err := vips.NewImageFromBuffer(b)
		if err != nil {
			t.Fatal(err)
		}
		if name == "CMYK" && img.Interpretation() != vips.InterpretationCMYK {
			t.Errorf("CMYK JPEG reads as interpretation %v", img.Interpretation())
		}
		if name == "P3" && !img.HasICCProfile() {
			t.Error("P3 JPEG has no ICC profile")
		}
		img.Close()
	}
}

func TestParagraphs(t *testing.T) {
	for _, n := range []int{1, 100, 10_000} {
		s := Paragraphs(n)
		if len(s) > n || len(s) < n-utf8.UTFMax {
			t.Errorf("Paragraphs(%d) is %d bytes", n, len(s))
		}
		if !utf8.ValidString(s) {
			t.Errorf("Paragraphs(%d) is not valid UTF-8", n)
		}
	}
	s := Paragraphs(10_000)
	if s != Paragraphs(10_000) {
		t.Error("not deterministic")
	}
	if !strings.Contains(s, "\n\n") {
		t.Error("no blank line between paragraphs")
	}
	for _, line := range strings.Split(s, "\n") {
		if utf8.RuneCountInString(line) > 72 {
			t.Errorf("line longer than 72 characters: %q", line)
		}
	}
	for _, script := range []string{"é", "ł", "λ", "ж"} {
		if !strings.Contains(strings.ToLower(s), script) {
			t.Errorf("no %q in the text", script)
		}
	}
}

func TestPDFs(t *testing.T) {
	b, err := PDF(3)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("%PDF-")) || !bytes.Contains(b, []byte("/Count 3")) {
		t.Error("PDF(3) is not a three-page PDF")
	}
	again, _ := PDF(3)
	if !bytes.Equal(b, again) {
		t.Error("PDF is not deterministic")
	}
	enc, err := EncryptedPDF("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(enc, []byte("/Encrypt")) {
		t.Error("EncryptedPDF has no /Encrypt dictionary")
	}
	big, err := PDFOfSize(200_000)
	if err != nil {
		t.Fatal(err)
	}
	if d := absDiff(len(big), 200_000); d*100 > 3*200_000 {
		t.Errorf("PDFOfSize(200000) is %d bytes", len(big))
	}
}
