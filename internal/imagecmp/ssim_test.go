package imagecmp_test

import (
	"testing"

	"github.com/fileconv/fileconv/internal/imagecmp"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// TestSSIM checks the measure on real encodings: a lossless copy scores 1,
// a JPEG of the same picture less, a coarser JPEG less again, and pictures
// of different sizes are refused.
func TestSSIM(t *testing.T) {
	photo := testfiles.Photo(320, 240)
	png, err := testfiles.Encode(photo, testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	same, err := imagecmp.SSIM(png, png)
	if err != nil || same != 1 {
		t.Fatalf("a picture against itself: %v, %v", same, err)
	}
	jpeg, err := testfiles.Encode(photo, testfiles.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	lossy, err := imagecmp.SSIM(png, jpeg)
	if err != nil || lossy >= 1 || lossy < 0.8 {
		t.Errorf("a JPEG of it: %v, %v", lossy, err)
	}
	noise, err := testfiles.Encode(testfiles.Noise(320, 240, 1), testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	if other, err := imagecmp.SSIM(png, noise); err != nil || other >= lossy {
		t.Errorf("another picture: %v, %v (the JPEG: %v)", other, err, lossy)
	}
	small, err := testfiles.Encode(testfiles.Photo(32, 24), testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imagecmp.SSIM(png, small); err == nil {
		t.Error("pictures of different sizes compared")
	}
	if _, err := imagecmp.SSIM(png, []byte("not a picture")); err == nil {
		t.Error("a text compared as a picture")
	}
}
