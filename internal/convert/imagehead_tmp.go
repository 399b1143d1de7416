package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"
)

// Temporary until the header readers of every format land.
type imageHead struct{ Width, Height, Frames int }

var errNoHeadReader = errors.New("no header reader")

func readImageHead(k Kind, b []byte) (imageHead, error) {
	switch k {
	case KindJPEG, KindPNG, KindWEBP:
		w, h, err := imageHeader(k, b)
		return imageHead{w, h, 1}, err
	}
	return imageHead{}, errNoHeadReader
}

// imageHeader reads width and height from the header of an image of type t
// without decoding any pixel.
func imageHeader(t Kind, input []byte) (w, h int, err error) {
	var cfg image.Config
	r := bytes.NewReader(input)
	switch t {
	case KindJPEG:
		cfg, err = jpeg.DecodeConfig(r)
	case KindPNG:
		// The size sits at a fixed place in IHDR, the first chunk. Reading it
		// directly also covers sizes Go's decoder refuses as overflowing, so a
		// PNG claiming 2³¹×2³¹ pixels is reported as too large, not as corrupt.
		if len(input) >= 24 && string(input[12:16]) == "IHDR" {
			w := binary.BigEndian.Uint32(input[16:20])
			h := binary.BigEndian.Uint32(input[20:24])
			if w <= 1<<31-1 && h <= 1<<31-1 {
				return int(w), int(h), nil
			}
		}
		cfg, err = png.DecodeConfig(r)
	case KindWEBP:
		cfg, err = webp.DecodeConfig(r)
	default:
		return 0, 0, fmt.Errorf("%s is not an image type", t)
	}
	if err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}
