// Package testfiles generates deterministic test inputs for fileconv: photo-like and
// noise images, images with transparency, image files of a chosen size, files
// crafted by hand (EXIF orientation, decompression bombs), multilingual text and
// PDFs. The same arguments always give the same bytes, so tests and benchmarks
// need no files on disk. It is meant for tests only.
package testfiles

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Photo returns a w×h image that compresses like a photograph: smooth gradients
// (sky, ground), soft-edged shapes with shading, and a fine grain like a sensor's
// noise. A red block marks the top-left corner, so a test can tell orientations
// apart.
func Photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fw, fh := float64(w), float64(h)
	horizon := 0.62 * fh
	sunX, sunY, sunR := 0.72*fw, 0.22*fh, 0.09*math.Min(fw, fh)
	for y := 0; y < h; y++ {
		fy := float64(y)
		row := img.Pix[y*img.Stride:]
		for x := 0; x < w; x++ {
			fx := float64(x)
			var r, g, b float64
			if fy < horizon {
				t := fy / horizon // sky: deep blue to pale near the horizon
				r, g, b = 40+150*t, 90+120*t, 180+60*t
			} else {
				t := (fy - horizon) / (fh - horizon) // ground: green to brown
				r, g, b = 70+60*t, 120-40*t, 50-10*t
				r += 12 * math.Sin(fx/fw*40+t*9) // furrows
			}
			// The sun with a soft halo.
			if d := math.Hypot(fx-sunX, fy-sunY); d < 3*sunR {
				a := math.Max(0, 1-math.Max(0, d-sunR)/(2*sunR))
				r, g, b = mix(r, 255, a), mix(g, 235, a), mix(b, 180, a)
			}
			// Buildings: shaded blocks standing on the horizon.
			for i, bx := range [...]float64{0.08, 0.22, 0.41} {
				x0, x1 := bx*fw, (bx+0.1+0.02*float64(i))*fw
				top := horizon - (0.18+0.07*float64(i))*fh
				if fx >= x0 && fx < x1 && fy >= top && fy < horizon+0.02*fh {
					shade := 0.6 + 0.4*(fx-x0)/(x1-x0)
					r, g, b = 150*shade, (120+20*float64(i))*shade, 110*shade
					if int(fx/(fw*0.012))%3 == 1 && int(fy/(fh*0.02))%2 == 1 { // windows
						r, g, b = 230, 210, 120
					}
				}
			}
			// A tree: a dark green ellipse.
			if e := sq((fx-0.88*fw)/(0.07*fw)) + sq((fy-0.55*fh)/(0.12*fh)); e < 1 {
				r, g, b = 30+20*e, 80+40*e, 30
			}
			if fx < 0.06*fw && fy < 0.06*fh {
				r, g, b = 220, 20, 20
			}
			// Texture at several scales (grass, leaves, walls, thin clouds),
			// the detail that makes a photo cost what it costs to compress.
			tex := 0.5*valueNoise(x, y, 3) + 0.3*valueNoise(x+7919, y, 9) + 0.2*valueNoise(x, y+104729, 27)
			amp := 14.0
			if fy >= horizon {
				amp = 40
			}
			n := grain(x, y) + amp*tex
			p := row[4*x : 4*x+4 : 4*x+4]
			p[0], p[1], p[2], p[3] = clamp(r+n), clamp(g+n), clamp(b+n), 255
		}
	}
	return img
}

// Noise returns a w×h image of uniformly random opaque pixels: the worst case
// for every compressor. The same seed gives the same image.
func Noise(w, h int, seed uint64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := 0; i < len(img.Pix); i += 4 {
		v := rng.Uint32()
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = byte(v), byte(v>>8), byte(v>>16), 255
	}
	return img
}

// Transparent returns a w×h photo with transparency: the top-left quarter
// (x < w/4 and y < h/4) is fully transparent, over black colour values so that
// flattening must use the background rather than them; elsewhere the opacity
// falls from 255 on the left to 64 on the right.
func Transparent(w, h int) *image.NRGBA {
	src := Photo(w, h)
	img := image.NewNRGBA(src.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			if x < w/4 && y < h/4 {
				copy(img.Pix[i:i+4], []byte{0, 0, 0, 0})
				continue
			}
			copy(img.Pix[i:i+3], src.Pix[i:i+3])
			img.Pix[i+3] = byte(255 - 191*x/max(1, w-1))
		}
	}
	return img
}

// Gray returns Photo as 8-bit greyscale.
func Gray(w, h int) *image.Gray {
	src := Photo(w, h)
	img := image.NewGray(src.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetGray(x, y, color.GrayModel.Convert(src.RGBAAt(x, y)).(color.Gray))
		}
	}
	return img
}

// Deep returns Photo as 16 bits per channel, which PNG stores as such.
func Deep(w, h int) *image.RGBA64 {
	src := Photo(w, h)
	img := image.NewRGBA64(src.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := src.RGBAAt(x, y)
			// Spread the 8-bit values over 16 bits with a little extra detail.
			img.SetRGBA64(x, y, color.RGBA64{
				R: uint16(c.R)<<8 | uint16(x&0xff),
				G: uint16(c.G)<<8 | uint16(y&0xff),
				B: uint16(c.B) << 8,
				A: 0xffff,
			})
		}
	}
	return img
}

// valueNoise is smooth deterministic noise in [-1, 1] with features about scale
// pixels wide: hashed values on a lattice, interpolated.
func valueNoise(x, y, scale int) float64 {
	x0, y0 := x/scale, y/scale
	tx := float64(x%scale) / float64(scale)
	ty := float64(y%scale) / float64(scale)
	tx, ty = tx*tx*(3-2*tx), ty*ty*(3-2*ty)
	v := func(i, j int) float64 { return float64(hash32(i, j)%2001)/1000 - 1 }
	top := mix(v(x0, y0), v(x0+1, y0), tx)
	bottom := mix(v(x0, y0+1), v(x0+1, y0+1), tx)
	return mix(top, bottom, ty)
}

func hash32(x, y int) uint32 {
	h := uint32(x)*0x8da6b343 ^ uint32(y)*0xd8163841
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	h *= 0x297a2d39
	h ^= h >> 15
	return h
}

// grain is a deterministic pseudo-random offset in [-6, 6] for pixel (x, y).
func grain(x, y int) float64 { return float64(hash32(x, y)%13) - 6 }

func mix(a, b, t float64) float64 { return a + (b-a)*t }

func sq(v float64) float64 { return v * v }

func clamp(v float64) byte {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return byte(v + 0.5)
}
