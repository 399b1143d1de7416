package convert

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/imagecmp"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// matrixInput is one input of the image matrix.
type matrixInput struct {
	name string
	data []byte
}

// matrixInputs are the real files of ../shared/testdata/images (when the
// folder is there), the fixtures made by libvips in testdata/images and
// images generated here.
func matrixInputs(t *testing.T) []matrixInput {
	var inputs []matrixInput
	for _, dir := range []string{"../../../shared/testdata/images", "testdata/images"} {
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil || len(files) == 0 {
			t.Logf("no images in %s: its part of the matrix is skipped", dir)
			continue
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".md") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, matrixInput{filepath.Base(f), b})
		}
	}
	photo := testfiles.Photo(64, 48)
	for _, f := range []testfiles.Format{testfiles.JPEG, testfiles.PNG, testfiles.WEBP} {
		inputs = append(inputs, matrixInput{"generated photo." + f.String(), mustEncode(t, photo, f)})
	}
	inputs = append(inputs, matrixInput{"generated transparent.png", mustEncode(t, testfiles.Transparent(40, 30), testfiles.PNG)})
	inputs = append(inputs, matrixInput{"generated 16-bit.png", mustEncode(t, testfiles.Deep(40, 30), testfiles.PNG)})
	anim, err := testfiles.AnimatedWEBP(30, 20, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}, color.NRGBA{0, 255, 0, 255})
	if err != nil {
		t.Fatal(err)
	}
	return append(inputs, matrixInput{"generated animated.webp", anim})
}

// unreadable are real files libvips 8.14 cannot read, with the reason: the
// matrix checks that they fail with a clear error instead.
var unreadable = map[string]string{
	// libtiff's RGBA reader refuses YCbCr subsampling, and ImageMagick's
	// colour space 7 (YCbCr) has no libvips mapping.
	"libvips-subsampled.tif": "subsampled",
}

// lossyTargets lose detail by design: they must keep an SSIM of lossyFloor
// against the input at the default quality. The others are exact, save GIF, whose
// palette of 256 colours is lossy on photos.
var lossyTargets = []string{"jpg", "webp", "avif", "heic", "jxl"}

// lossyFloor is the least SSIM a lossy target keeps at its default quality:
// 0.95, but JPEG's quality 75 (libjpeg's, Pillow's and the original system's)
// scores 0.945 on the test photo.
func lossyFloor(target string) float64 {
	if target == "jpg" {
		return 0.93
	}
	return 0.95
}

// TestImageMatrix converts every input to every image target and checks that
// the output decodes, has the right size after orientation and the right
// number of frames, and matches the input: SSIM ≥ 0.95 for lossy targets,
// identical pixels for lossless ones. It prints the table it checked.
func TestImageMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the matrix takes a minute")
	}
	c := converter(t)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-36s %-5s %7s %11s %9s %6s\n", "input", "to", "frames", "size", "bytes", "ssim")
	for _, in := range matrixInputs(t) {
		kind := Detect(in.data)
		if !kind.IsImage() {
			t.Errorf("%s: detected as %v, not an image", in.name, kind)
			continue
		}
		if reason, ok := unreadable[in.name]; ok {
			_, err := c.Convert(context.Background(), "png", in.data, wire.Options{})
			wantError(t, err, "conversion_failed", reason)
			fmt.Fprintf(&table, "%-36s %-5s refused: %v\n", in.name, "png", err)
			continue
		}
		ref := reference(t, in.data)
		for _, target := range TargetNames() {
			tg, ok := imageTargetNamed(target)
			if !ok {
				continue
			}
			t.Run(in.name+"/"+target, func(t *testing.T) {
				row := checkMatrixCell(t, c, in, kind, tg, ref)
				table.WriteString(row)
			})
		}
	}
	t.Log(table.String())
}

// referenceImage is the input as libvips reads it, upright, first frame.
type referenceImage struct {
	img     image.Image
	frames  int
	profile bool // an ICC profile, whose conversion makes pixels differ
	// opaque: no pixel is partly transparent, which GIF cannot hold.
	opaque bool
	// mixed: pages of different sizes, of which a target gets the first.
	mixed bool
}

func reference(t *testing.T, b []byte) referenceImage {
	t.Helper()
	kind := Detect(b)
	opts := "fail=false"
	if kindHasPages(kind) {
		opts += ",page=0"
	}
	v, err := libvips.Load(b, opts)
	if err != nil {
		t.Fatalf("reference load: %v", err)
	}
	defer v.Close()
	ref := referenceImage{frames: 1, profile: v.Has("icc-profile-data") || v.Interpretation() == libvips.CMYK}
	if isSequence(kind) {
		ref.frames = max(v.Pages(), 1)
		// Pages of different sizes cannot be held together: one is kept.
		if all, err := libvips.Load(b, "n=-1"); err != nil {
			ref.frames, ref.mixed = 1, true
		} else {
			all.Close()
		}
	}
	if err := v.Autorot(); err != nil {
		t.Fatalf("reference autorot: %v", err)
	}
	out, err := v.Save(".png")
	if err != nil {
		t.Fatalf("reference save: %v", err)
	}
	if ref.img, err = decodeWithVips(out); err != nil {
		t.Fatalf("reference decode: %v", err)
	}
	ref.opaque = isOpaque(ref.img)
	return ref
}

func checkMatrixCell(t *testing.T, c *Converter, in matrixInput, kind Kind, tg imageTarget, ref referenceImage) string {
	res, err := c.Convert(context.Background(), tg.name, in.data, wire.Options{})
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	want, _ := LookupTarget(tg.name)
	if got := Detect(res.Output); got.Info().MediaType != want.ContentType {
		t.Fatalf("output detected as %v, want %s", got, want.ContentType)
	}
	frames, w, h := framesOf(t, res.Output)
	wantFrames := 1
	if tg.frames {
		wantFrames = ref.frames
	}
	size := ref.img.Bounds().Size()
	if frames != wantFrames || w != size.X || h != size.Y {
		t.Errorf("output has %d frames of %d×%d, want %d of %d×%d", frames, w, h, wantFrames, size.X, size.Y)
	}
	if wantWarning := (ref.frames > 1 && !tg.frames) || ref.mixed; wantWarning != (len(res.Warnings) > 0) && kind != "heic" && kind != "ico" {
		t.Errorf("warnings %q for %d input frames", res.Warnings, ref.frames)
	}
	out, err := decodeWithVips(res.Output)
	if err != nil {
		t.Fatalf("decode the output: %v", err)
	}
	// A centre crop of at most 512×512 is compared: the Go loops below are
	// slow under the race detector, and a 12 MP photo has eight targets.
	refCrop, outCrop := centreCrop(ref.img, 512), centreCrop(out, 512)
	score := ssim(refCrop, outCrop)
	switch {
	case slices.Contains(lossyTargets, tg.name) && score < lossyFloor(tg.name):
		t.Errorf("SSIM %.4f against the input, want at least %.2f", score, lossyFloor(tg.name))
	case tg.name == "gif" && ref.opaque && score < 0.85:
		t.Errorf("SSIM %.4f against the input, want at least 0.85 for a 256-colour palette", score)
	case (tg.name == "png" || tg.name == "tiff") && !ref.profile:
		if x, y, ok := samePixels(refCrop, outCrop); !ok {
			t.Errorf("pixel (%d,%d) differs from the input's in a lossless target", x, y)
		}
	}
	return fmt.Sprintf("%-36s %-5s %7d %11s %9d %6.4f\n", in.name, tg.name, frames, fmt.Sprintf("%dx%d", w, h), len(res.Output), score)
}

// samePixels compares two images as 16-bit non-premultiplied RGBA, where a
// transparent pixel's colour does not count.
func samePixels(a, b image.Image) (int, int, bool) {
	r := a.Bounds()
	if r.Size() != b.Bounds().Size() {
		return 0, 0, false
	}
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			pa := color.NRGBA64Model.Convert(a.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA64)
			pb := color.NRGBA64Model.Convert(b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y)).(color.NRGBA64)
			if pa.A == 0 && pb.A == 0 {
				continue
			}
			if pa.R>>8 != pb.R>>8 || pa.G>>8 != pb.G>>8 || pa.B>>8 != pb.B>>8 || pa.A>>8 != pb.A>>8 {
				return x, y, false
			}
		}
	}
	return 0, 0, true
}

// ssim is the mean structural similarity of the luma of two images of the
// same size, each composited onto white, over 8×8 windows moved by 4
// (Wang et al., 2004, with their constants).
func ssim(a, b image.Image) float64 {
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	if b.Bounds().Dx() != w || b.Bounds().Dy() != h {
		return 0
	}
	return imagecmp.Planes(luma(a), luma(b), w, h)
}

// luma is the Rec. 601 luma of every pixel, composited onto white, 0–255.
func luma(img image.Image) []float64 {
	r := img.Bounds()
	out := make([]float64, 0, r.Dx()*r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, ca := img.At(x, y).RGBA() // premultiplied
			white := float64(0xFFFF - ca)
			l := 0.299*(float64(cr)+white) + 0.587*(float64(cg)+white) + 0.114*(float64(cb)+white)
			out = append(out, math.Min(l/257, 255))
		}
	}
	return out
}

func isOpaque(img image.Image) bool {
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xFFFF {
				return false
			}
		}
	}
	return true
}

// centreCrop is the centre of img, at most n×n.
func centreCrop(img image.Image, n int) image.Image {
	r := img.Bounds()
	w, h := min(r.Dx(), n), min(r.Dy(), n)
	x, y := r.Min.X+(r.Dx()-w)/2, r.Min.Y+(r.Dy()-h)/2
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return img
	}
	return sub.SubImage(image.Rect(x, y, x+w, y+h))
}
