package ocr

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
)

func skipWithoutTesseract(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no OCR here (Debian tesseract-ocr-eng): %v", err)
	}
}

var lines = []string{"The quick brown fox jumps over", "the lazy dog: 1234567890."}

func textPicture(t testing.TB) Gray {
	t.Helper()
	img, err := testfiles.TextImage(48, lines...)
	if err != nil {
		t.Fatal(err)
	}
	return Gray{Pix: img.Pix, Width: img.Rect.Dx(), Height: img.Rect.Dy(), Stride: img.Stride, PPI: 300}
}

func TestRead(t *testing.T) {
	skipWithoutTesseract(t)
	r, err := Get("eng")
	if err != nil {
		t.Fatal(err)
	}
	defer Put(r)
	page, err := r.Read(textPicture(t))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(page.Text), " ")
	if want := strings.Join(lines, " "); got != want {
		t.Errorf("read %q; want %q", got, want)
	}
	if page.Confidence < 80 {
		t.Errorf("confidence %d", page.Confidence)
	}
	blank := Gray{Pix: make([]byte, 200*100), Width: 200, Height: 100}
	for i := range blank.Pix {
		blank.Pix[i] = 255
	}
	if page, err := r.Read(blank); err != nil || strings.TrimSpace(page.Text) != "" {
		t.Errorf("a blank picture: %q, %v", page.Text, err)
	}
	for _, bad := range []Gray{{Width: 10, Height: 10}, {Pix: make([]byte, 100), Width: 0, Height: 10}, {Pix: make([]byte, 10), Width: 20000, Height: 20000}} {
		if _, err := r.Read(bad); err == nil {
			t.Errorf("%d×%d with %d bytes read", bad.Width, bad.Height, len(bad.Pix))
		}
	}
}

func TestLanguages(t *testing.T) {
	skipWithoutTesseract(t)
	langs := Languages()
	if len(langs) == 0 || langs[0] == "osd" {
		t.Fatalf("languages %q", langs)
	}
	for _, bad := range []string{"", "xx", "../../etc/passwd", "eng+", "eng+zzz", "osd"} {
		if _, err := CheckLanguages(bad); !errors.Is(err, ErrLanguage) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if set, err := CheckLanguages(" eng "); err != nil || set != "eng" {
		t.Errorf("eng: %q %v", set, err)
	}
}

// Readers of one language read at once, each its own picture.
func TestConcurrent(t *testing.T) {
	skipWithoutTesseract(t)
	pic := textPicture(t)
	onReaders(t, func(r *Reader) {
		if page, err := r.Read(pic); err != nil || !strings.Contains(page.Text, "quick brown fox") {
			t.Errorf("%q %v", page.Text, err)
		}
	})
}

// onReaders runs check on three readers of English at once.
func onReaders(t *testing.T, check func(r *Reader)) {
	t.Helper()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			r, err := Get("eng")
			if err != nil {
				t.Error(err)
				return
			}
			defer Put(r)
			check(r)
		})
	}
	wg.Wait()
}
