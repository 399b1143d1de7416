package convert

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func convertWith(t testing.TB, target string, in []byte, opts wire.Options) Result {
	t.Helper()
	res, err := converter(t).Convert(context.Background(), target, in, opts)
	if err != nil {
		t.Fatalf("to %s with %+v: %v", target, opts, err)
	}
	return res
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/images/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImageResize covers width, height and the four fits on a 64×48 photo.
func TestImageResize(t *testing.T) {
	photo := mustEncode(t, testfiles.Photo(64, 48), testfiles.JPEG)
	tests := []struct {
		name string
		opts wire.Options
		w, h int
	}{
		{"width alone keeps the ratio", wire.Options{Width: 32}, 32, 24},
		{"height alone keeps the ratio", wire.Options{Height: 12}, 16, 12},
		{"inside never enlarges", wire.Options{Width: 200, Height: 200}, 64, 48},
		{"inside fits the box", wire.Options{Width: 40, Height: 40}, 40, 30},
		{"contain pads to the box", wire.Options{Width: 100, Height: 100, Fit: wire.FitContain}, 100, 100},
		{"cover crops to the box", wire.Options{Width: 30, Height: 30, Fit: wire.FitCover}, 30, 30},
		{"fill stretches to the box", wire.Options{Width: 100, Height: 20, Fit: wire.FitFill}, 100, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := decode(t, KindPNG, convertWith(t, "png", photo, tt.opts).Output)
			if got := out.Bounds().Size(); got != image.Pt(tt.w, tt.h) {
				t.Errorf("output is %v, want %dx%d", got, tt.w, tt.h)
			}
		})
	}
	// contain's bars are the background colour.
	out := decode(t, KindJPEG, convertWith(t, "jpg", photo, wire.Options{Width: 100, Height: 100, Fit: wire.FitContain, Background: "#ff0000"}).Output)
	if r, g, b, _ := rgb8(out, 50, 2); r < 200 || g > 60 || b > 60 {
		t.Errorf("the bar above the photo is (%d,%d,%d), want red", r, g, b)
	}
	// A size past the pixel limit is refused before anything is decoded.
	_, err := converter(t).Convert(context.Background(), "png", photo, wire.Options{Width: 20000, Height: 20000, Fit: wire.FitFill})
	wantError(t, err, fail.LimitExceeded, "20000×20000", "max-pixels")
}

// TestAnimationTiming: GIF to WEBP and back keeps every frame's delay and the
// loop count.
func TestAnimationTiming(t *testing.T) {
	gif := fixture(t, "anim.gif")
	webp := convertWith(t, "webp", gif, wire.Options{}).Output
	back := convertWith(t, "gif", webp, wire.Options{}).Output
	want := timingOf(t, gif)
	for name, b := range map[string][]byte{"WEBP": webp, "GIF again": back} {
		if got := timingOf(t, b); got != want {
			t.Errorf("%s: delays and loop %q, want %q", name, got, want)
		}
	}
}

// timingOf is an animation's frame delays and loop count as libvips reads them.
func timingOf(t *testing.T, b []byte) string {
	t.Helper()
	v, err := libvips.Load(b, "n=-1")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// A delay of 10 ms or less plays at 100 ms in every browser, and libvips
	// writes it so: the GIF's first frame, of delay 0, comes back as 100.
	var delays []string
	for _, d := range strings.Fields(v.AsString("delay")) {
		if n, err := strconv.Atoi(d); err == nil && n <= 10 {
			d = "100"
		}
		delays = append(delays, d)
	}
	return fmt.Sprintf("delays %s, loop %d", strings.Join(delays, " "), v.Int("loop"))
}

// TestImageResizeAnimation: an animation made smaller keeps its frames.
func TestImageResizeAnimation(t *testing.T) {
	frames, w, h := framesOf(t, convertWith(t, "webp", fixture(t, "anim.gif"), wire.Options{Width: 40}).Output)
	if frames != 5 || w != 40 || h != 36 {
		t.Errorf("%d frames of %dx%d, want 5 of 40x36", frames, w, h)
	}
	_, err := converter(t).Convert(context.Background(), "webp", fixture(t, "anim.gif"), wire.Options{Width: 40, Height: 40, Fit: wire.FitContain})
	wantError(t, err, fail.BadRequest, "fit=contain", "page=N")
}

// TestImagePage: page picks a frame and silences the warning; a page past the
// last is the client's mistake, named.
func TestImagePage(t *testing.T) {
	anim := fixture(t, "anim.gif")
	first, third := convertWith(t, "png", anim, wire.Options{}), convertWith(t, "png", anim, wire.Options{Page: 3})
	if len(first.Warnings) != 1 || len(third.Warnings) != 0 {
		t.Errorf("warnings %q for the first frame, %q for page=3", first.Warnings, third.Warnings)
	}
	if bytes.Equal(first.Output, third.Output) {
		t.Error("page=3 gave the first frame")
	}
	// One frame of an animation to an animated format is a still image.
	if frames, _, _ := framesOf(t, convertWith(t, "gif", anim, wire.Options{Page: 2}).Output); frames != 1 {
		t.Errorf("page=2 to GIF made %d frames", frames)
	}
	_, err := converter(t).Convert(context.Background(), "png", anim, wire.Options{Page: 9})
	wantError(t, err, fail.BadRequest, "page 9", "5 frames")
}

// TestImageMetadataOptions: metadata goes by default; keep_metadata keeps EXIF
// without the GPS position; keep_gps keeps that too.
func TestImageMetadataOptions(t *testing.T) {
	in, err := testfiles.WithEXIF(mustEncode(t, testfiles.Photo(64, 48), testfiles.JPEG), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !exifHasGPS(t, in) {
		t.Fatal("the test photo has no GPS position")
	}
	for _, tt := range []struct {
		opts      wire.Options
		exif, gps bool
	}{
		{wire.Options{}, false, false},
		{wire.Options{KeepMetadata: true}, true, false},
		{wire.Options{KeepMetadata: true, KeepGPS: true}, true, true},
	} {
		// exifHasGPS reads the EXIF of JPEG and WEBP; PNG's eXIf chunk
		// has no "Exif" prefix to find it by.
		for _, target := range []string{"jpg", "webp"} {
			out := convertWith(t, target, in, tt.opts).Output
			exif := bytes.Contains(out, []byte("Exif\x00\x00")) || bytes.Contains(out, []byte("eXIf"))
			if target == "jpg" && exif != tt.exif {
				t.Errorf("%s with %+v: EXIF kept %v", target, tt.opts, exif)
			}
			if gps := exif && exifHasGPS(t, out); gps != tt.gps {
				t.Errorf("%s with %+v: GPS kept %v", target, tt.opts, gps)
			}
		}
	}
}

// TestImageKeepICC: an image with a Display P3 profile is converted to sRGB
// and loses the profile, unless keep_icc.
func TestImageKeepICC(t *testing.T) {
	in, err := testfiles.ProfiledJPEG(testfiles.Photo(64, 48))
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		out := convertWith(t, "png", in, wire.Options{KeepICC: keep}).Output
		v, err := libvips.Load(out, "")
		if err != nil {
			t.Fatal(err)
		}
		if has := v.Has("icc-profile-data"); has != keep {
			t.Errorf("keep_icc=%v: the PNG has a profile: %v", keep, has)
		}
		v.Close()
	}
}

// TestImageBackground: transparency is flattened on the background colour
// where the target has none.
func TestImageBackground(t *testing.T) {
	clear := image.NewNRGBA(image.Rect(0, 0, 16, 16)) // transparent black
	clear.Set(8, 8, color.NRGBA{0, 0, 255, 255})
	in := mustEncode(t, clear, testfiles.PNG)
	white := decode(t, KindJPEG, convertWith(t, "jpg", in, wire.Options{}).Output)
	black := decode(t, KindJPEG, convertWith(t, "jpg", in, wire.Options{Background: "black"}).Output)
	// Transparent's top-left corner is fully transparent.
	if r, g, b, _ := rgb8(white, 0, 0); r < 240 || g < 240 || b < 240 {
		t.Errorf("on white: (%d,%d,%d)", r, g, b)
	}
	if r, g, b, _ := rgb8(black, 0, 0); r > 15 || g > 15 || b > 15 {
		t.Errorf("on black: (%d,%d,%d)", r, g, b)
	}
	// A target with transparency keeps it.
	if _, _, _, a := decode(t, KindPNG, convertWith(t, "png", in, wire.Options{}).Output).At(0, 0).RGBA(); a != 0 {
		t.Errorf("the PNG's transparent corner has alpha %d", a)
	}
}

// TestImageEffort: each encoder's own scale; past it is the client's mistake.
func TestImageEffort(t *testing.T) {
	photo := mustEncode(t, testfiles.Photo(64, 48), testfiles.PNG)
	for target, effort := range map[string]int{"webp": 6, "avif": wire.EffortFastest, "jxl": 9, "png": 9, "gif": 1} {
		convertWith(t, target, photo, wire.Options{Effort: effort})
	}
	_, err := converter(t).Convert(context.Background(), "webp", photo, wire.Options{Effort: 9})
	wantError(t, err, fail.BadRequest, "effort 9", "WEBP", "0 (fastest) to 6")
	_, err = converter(t).Convert(context.Background(), "tiff", photo, wire.Options{Effort: 3})
	wantError(t, err, fail.BadRequest, "options.effort does not apply")
}

// TestImageLossless: lossless WEBP, AVIF and JPEG XL give back the pixels.
func TestImageLossless(t *testing.T) {
	src := testfiles.Photo(32, 24)
	in := mustEncode(t, src, testfiles.PNG)
	for _, target := range []string{"webp", "jxl"} {
		out, err := decodeWithVips(convertWith(t, target, in, wire.Options{Lossless: true}).Output)
		if err != nil {
			t.Fatal(err)
		}
		if x, y, ok := samePixels(src, out); !ok {
			t.Errorf("%s lossless: pixel (%d,%d) differs", target, x, y)
		}
	}
}
