package bench_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/bench"
	"github.com/fileconv/fileconv/internal/imagecmp"
	"github.com/fileconv/fileconv/internal/libvips"
)

// encoderCandidates are the settings weighed for each target: the defaults
// chosen (docs/performance.md, "JPEG, WEBP and PNG defaults") and the others.
var encoderCandidates = map[string][]string{
	"png":  {"[compression=6,filter=all]", "[compression=3,filter=all]", "[compression=3,filter=up]", "[compression=2,filter=up]", "[compression=1,filter=up]", "[compression=0,filter=none]"},
	"jpg":  {"[Q=75]", "[Q=78,optimize_coding]", "[Q=80]", "[Q=85]"},
	"webp": {"[Q=80,effort=4]", "[Q=80,effort=3]", "[Q=80,effort=2]", "[Q=82,effort=2]", "[Q=80,effort=1]", "[Q=83,effort=1]"},
}

// TestEncoderTable prints, for each picture and each candidate setting, the
// milliseconds of decoding and encoding on one thread (the median of 5),
// the bytes and the SSIM to the input; and Pillow's, the original system's
// encoder, with its defaults. Run it alone, on an idle machine:
//
//	FILECONV_ENCODER_TABLE=1 VIPS_CONCURRENCY=1 go test ./internal/bench -run TestEncoderTable -v
func TestEncoderTable(t *testing.T) {
	if os.Getenv("FILECONV_ENCODER_TABLE") == "" {
		t.Skip("set FILECONV_ENCODER_TABLE=1 to measure the encoders (a few minutes)")
	}
	dir := t.TempDir()
	pictures := encoderPictures(t, dir)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-20s %-5s %-28s %9s %10s %7s\n", "picture", "to", "settings", "ms", "bytes", "ssim")
	for _, to := range []string{"png", "jpg", "webp"} {
		for _, pic := range pictures {
			in := pic.jpeg
			if to == "jpg" {
				in = pic.png
			}
			ms, size, ssim := pillow(t, in, to)
			fmt.Fprintf(&table, "%-20s %-5s %-28s %9.1f %10d %7.4f\n", pic.name, to, "Pillow (the original)", ms, size, ssim)
			for _, set := range encoderCandidates[to] {
				ms, out := encodeMedian(t, in, "."+to+strings.Replace(set, "]", ",strip]", 1))
				ssim, err := imagecmp.SSIM(in, out)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&table, "%-20s %-5s %-28s %9.1f %10d %7.4f\n", pic.name, to, set, ms, len(out), ssim)
			}
		}
	}
	t.Log(table.String())
}

type encoderPicture struct {
	name      string
	jpeg, png []byte
}

// encoderPictures are the bench's 1 MB photo and noise, and the real photos
// of the shared test files, each as a JPEG (the input of PNG and WEBP) and a
// PNG (the input of JPEG).
func encoderPictures(t *testing.T, dir string) []encoderPicture {
	var pics []encoderPicture
	for _, kind := range []string{bench.ImagePhoto, bench.ImageNoise} {
		in := &bench.Inputs{Image: kind}
		j, err := in.Get("jpeg", 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		p, err := in.Get("png", 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		pics = append(pics, encoderPicture{"bench " + kind, j, p})
	}
	shared := filepath.Join("..", "..", "..", "shared", "testdata", "images")
	for _, name := range []string{"libvips-avif-orientation-6.avif", "libheif-example.heic", "libvips-world.jp2", "libvips-sample.jpg"} {
		b, err := os.ReadFile(filepath.Join(shared, name))
		if err != nil {
			t.Fatalf("the shared test files: %v", err)
		}
		pics = append(pics, encoderPicture{strings.TrimSuffix(strings.TrimPrefix(name, "libvips-"), filepath.Ext(name)), reencode(t, b, ".jpg[Q=90]"), reencode(t, b, ".png")})
	}
	return pics
}

func reencode(t *testing.T, b []byte, suffix string) []byte {
	if err := libvips.Start(); err != nil {
		t.Fatal(err)
	}
	img, err := libvips.Load(b, "")
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	out, err := img.Save(suffix)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// encodeMedian decodes in and encodes it with suffix five times, and returns
// the median milliseconds and the last output.
func encodeMedian(t *testing.T, in []byte, suffix string) (float64, []byte) {
	var times []time.Duration
	var out []byte
	for range 5 {
		start := time.Now()
		img, err := libvips.Load(in, "")
		if err != nil {
			t.Fatal(err)
		}
		out, err = img.Save(suffix)
		img.Close()
		if err != nil {
			t.Fatalf("%s: %v", suffix, err)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return float64(times[2].Microseconds()) / 1000, out
}

// pillow runs the original's encoder with its defaults, as its worker saves
// (Debian's python3-pil, which ../shared/original/run.sh installs).
func pillow(t *testing.T, in []byte, to string) (float64, int, float64) {
	const script = `
import io, sys, time
from PIL import Image
data, fmt = sys.stdin.buffer.read(), sys.argv[1]
times = []
for _ in range(5):
    start = time.perf_counter()
    img = Image.open(io.BytesIO(data))
    if fmt == "JPEG" and img.mode in ("RGBA", "P"):
        img = img.convert("RGB")
    out = io.BytesIO()
    img.save(out, format=fmt)
    times.append(time.perf_counter() - start)
times.sort()
sys.stderr.write("%f\n" % (times[2] * 1000))
sys.stdout.buffer.write(out.getvalue())
`
	format := map[string]string{"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[to]
	cmd := exec.Command("/usr/bin/python3", "-c", script, format)
	cmd.Stdin = bytes.NewReader(in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("Pillow: %v: %s", err, stderr.String())
	}
	var ms float64
	fmt.Sscan(stderr.String(), &ms)
	ssim, err := imagecmp.SSIM(in, out)
	if err != nil {
		t.Fatal(err)
	}
	return ms, len(out), ssim
}
