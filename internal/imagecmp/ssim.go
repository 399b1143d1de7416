// Package imagecmp measures how close two pictures are, for the benchmarks
// that weigh encoders' settings and for the tests that check conversions.
package imagecmp

import (
	"fmt"

	"github.com/fileconv/fileconv/internal/libvips"
)

// SSIM is the structural similarity (Wang, Bovik, Sheikh and Simoncelli,
// 2004) of two encoded images of the same size, on their luma: 1 for the same
// pixels, lower as the second loses the first's structure. libvips decodes
// both, whatever their formats.
func SSIM(a, b []byte) (float64, error) {
	ya, w, h, err := luma(a)
	if err != nil {
		return 0, fmt.Errorf("first image: %w", err)
	}
	yb, wb, hb, err := luma(b)
	if err != nil {
		return 0, fmt.Errorf("second image: %w", err)
	}
	if w != wb || h != hb {
		return 0, fmt.Errorf("the images differ in size: %d×%d and %d×%d", w, h, wb, hb)
	}
	return Planes(ya, yb, w, h), nil
}

// luma decodes an image to its luma plane as libvips makes it (its sRGB to
// B_W), alpha flattened on white, 0–255.
func luma(encoded []byte) ([]float64, int, int, error) {
	if err := libvips.Start(); err != nil {
		return nil, 0, 0, err
	}
	img, err := libvips.Load(encoded, "")
	if err != nil {
		return nil, 0, 0, err
	}
	defer img.Close()
	if img.HasAlpha() {
		if err := img.Flatten(255, 255, 255); err != nil {
			return nil, 0, 0, err
		}
	}
	if err := img.Colourspace(libvips.BW); err != nil {
		return nil, 0, 0, err
	}
	if err := img.Cast(libvips.Uchar); err != nil {
		return nil, 0, 0, err
	}
	px, err := img.Pixels()
	if err != nil {
		return nil, 0, 0, err
	}
	if len(px) != img.Width()*img.Height() {
		return nil, 0, 0, fmt.Errorf("luma of %d bands", img.Bands())
	}
	plane := make([]float64, len(px))
	for i, v := range px {
		plane[i] = float64(v)
	}
	return plane, img.Width(), img.Height(), nil
}

// Planes is the mean SSIM of two w × h planes of samples on the 0–255 scale,
// over 8 × 8 windows every 4 pixels as ffmpeg's ssim filter and libjpeg-turbo's
// tjbench compute it, with the paper's constants for 8-bit samples. A plane
// smaller than a window is one window.
func Planes(a, b []float64, w, h int) float64 {
	const (
		c1 = (0.01 * 255) * (0.01 * 255)
		c2 = (0.03 * 255) * (0.03 * 255)
	)
	win := min(8, w, h)
	step := max(win/2, 1)
	n := float64(win * win)
	var sum float64
	var count int
	for y := 0; y+win <= h; y += step {
		for x := 0; x+win <= w; x += step {
			var sa, sb, saa, sbb, sab float64
			for j := range win {
				row := (y+j)*w + x
				for i := range win {
					pa, pb := a[row+i], b[row+i]
					sa, sb = sa+pa, sb+pb
					saa, sbb, sab = saa+pa*pa, sbb+pb*pb, sab+pa*pb
				}
			}
			ma, mb := sa/n, sb/n
			va, vb, cov := saa/n-ma*ma, sbb/n-mb*mb, sab/n-ma*mb
			sum += (2*ma*mb + c1) * (2*cov + c2) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
			count++
		}
	}
	if count == 0 {
		return 1
	}
	return sum / float64(count)
}
