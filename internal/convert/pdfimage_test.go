package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// pdfOfPage is minimalPDF with its one page w × h points large.
func pdfOfPage(w, h int) []byte {
	return bytes.Replace(minimalPDF, []byte("/MediaBox [0 0 200 200]"), fmt.Appendf(nil, "/MediaBox [0 0 %d %d]", w, h), 1)
}

// TestPDFToImages: a page at the resolution asked for, in every target.
func TestPDFToImages(t *testing.T) {
	for _, tt := range []struct {
		dpi  int
		size int
	}{{72, 200}, {0, 417}, {300, 833}} {
		res := convertWith(t, "png", minimalPDF, wire.Options{DPI: tt.dpi})
		if frames, w, h := framesOf(t, res.Output); frames != 1 || w != tt.size || h != tt.size {
			t.Errorf("dpi %d: %d pages of %dx%d, want one of %dx%[4]d", tt.dpi, frames, w, h, tt.size)
		}
		if len(res.Warnings) != 0 {
			t.Errorf("dpi %d: warnings %q for a one-page PDF", tt.dpi, res.Warnings)
		}
	}
	for _, target := range []string{"jpg", "webp", "tiff", "avif"} {
		res := convertWith(t, target, minimalPDF, wire.Options{Width: 100})
		if _, w, h := framesOf(t, res.Output); w != 100 || h != 100 {
			t.Errorf("to %s at width 100: %dx%d", target, w, h)
		}
	}
}

// TestPDFPagesToImages: every page of every real PDF renders at 72 dpi at
// the size pdfinfo gives it in points, into a ZIP named after the file;
// pages= picks some, and one page comes back as that picture.
func TestPDFPagesToImages(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/pdf/*.pdf")
	if len(files) == 0 {
		t.Skip("no PDFs in ../shared/testdata/pdf")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want := pdfinfoSizes(t, f)
			res, err := converter(t).Run(context.Background(), Job{Target: "png", Name: filepath.Base(f), Input: in, Options: wire.Options{DPI: 72}})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 1 {
				if _, w, h := framesOf(t, res.Output); res.ContentType != "" || [2]int{w, h} != want[0] {
					t.Errorf("one page: %q, %dx%d, want a PNG of %v", res.ContentType, w, h, want[0])
				}
				return
			}
			got := zipPages(t, res)
			stem := strings.TrimSuffix(filepath.Base(f), ".pdf")
			if len(got) != len(want) {
				t.Fatalf("%d pages in the ZIP, pdfinfo says %d", len(got), len(want))
			}
			for i, page := range got {
				if name := fmt.Sprintf("%s-p%03d.png", stem, i+1); page.name != name {
					t.Errorf("entry %d is %q, want %q", i, page.name, name)
				}
				if _, w, h := framesOf(t, page.data); [2]int{w, h} != want[i] {
					t.Errorf("page %d is %dx%d at 72 dpi, pdfinfo says %v", i+1, w, h, want[i])
				}
			}
			last := convertWith(t, "jpg", in, wire.Options{Pages: fmt.Sprint(len(want)), Width: 50})
			if _, w, _ := framesOf(t, last.Output); last.ContentType != "" || w != 50 || len(last.Warnings) != 0 {
				t.Errorf("pages=%d: %q, width %d, warnings %q", len(want), last.ContentType, w, last.Warnings)
			}
		})
	}
}

type zipEntry struct {
	name string
	data []byte
}

// zipPages reads the ZIP of pictures a result holds.
func zipPages(tb testing.TB, res Result) []zipEntry {
	tb.Helper()
	if res.ContentType != ZipContentType {
		tb.Fatalf("content type %q, want %q", res.ContentType, ZipContentType)
	}
	zr, err := zip.NewReader(bytes.NewReader(res.Output), int64(len(res.Output)))
	if err != nil {
		tb.Fatal(err)
	}
	var out []zipEntry
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, zipEntry{f.Name, data})
	}
	return out
}

// pdfinfoSizes is each page's size in points, rounded as poppler renders it
// at 72 dpi, as pdfinfo (poppler-utils) reports it.
func pdfinfoSizes(tb testing.TB, file string) [][2]int {
	tb.Helper()
	out, err := exec.Command("pdfinfo", "-f", "1", "-l", "100000", file).Output()
	if err != nil {
		tb.Skipf("pdfinfo (Debian poppler-utils): %v", err)
	}
	var sizes [][2]int
	for _, line := range strings.Split(string(out), "\n") {
		var page int
		var w, h float64
		if n, _ := fmt.Sscanf(line, "Page %d size: %g x %g pts", &page, &w, &h); n == 3 {
			sizes = append(sizes, [2]int{int(math.Round(w)), int(math.Round(h))})
		}
	}
	return sizes
}

// TestPDFPageSelection: pages= in every form, the ZIP's names, and the
// errors of a selection the PDF does not have.
func TestPDFPageSelection(t *testing.T) {
	in, err := testfiles.PDF(12)
	if err != nil {
		t.Fatal(err)
	}
	c := converter(t)
	for _, tt := range []struct {
		pages string
		want  []string
	}{
		{"", []string{"scan.v2-p001.png", "scan.v2-p002.png", "scan.v2-p012.png"}},
		{"2-3,11-", []string{"scan.v2-p002.png", "scan.v2-p003.png", "scan.v2-p011.png", "scan.v2-p012.png"}},
		{"11-40", []string{"scan.v2-p011.png", "scan.v2-p012.png"}},
	} {
		res, err := c.Run(context.Background(), Job{Target: "png", Name: "../scan.v2.pdf", Input: in, Options: wire.Options{Pages: tt.pages, Width: 40}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range zipPages(t, res) {
			names = append(names, e.name)
		}
		if tt.pages == "" && len(names) == 12 {
			names = []string{names[0], names[1], names[11]}
		}
		if res.Frames != 12 || !slices.Equal(names, tt.want) {
			t.Errorf("pages %q: %d frames, entries %q, want %q", tt.pages, res.Frames, names, tt.want)
		}
	}
	_, err = c.Convert(context.Background(), "png", in, wire.Options{Pages: "13-"})
	wantError(t, err, fail.BadRequest, `pages "13-"`, "only 12 pages")
	if err := (wire.Options{Pages: "2", Page: 2}).Validate(); err == nil || !strings.Contains(err.Error(), "page and options.pages") {
		t.Errorf("page and pages both: %v", err)
	}
	res := convertWith(t, "tiff", in, wire.Options{Pages: "3-5", DPI: 20})
	if frames, _, _ := framesOf(t, res.Output); frames != 3 || res.ContentType != "" {
		t.Errorf("pages=3-5 to tiff: %d pages, %q", frames, res.ContentType)
	}
	_, err = c.Convert(context.Background(), "tiff", in, wire.Options{Pages: "1,3"})
	wantError(t, err, fail.BadRequest, "one run of pages")
}

func TestEntryStem(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf": "report", "": "page", "../../etc/passwd": "passwd", `C:\x\y.pdf`: "y",
		".hidden.pdf": "hidden", "a\x00b\nc.pdf": "a_b_c", "日本語.pdf": "日本語", "...": "page",
	} {
		if got := entryStem(in); got != want {
			t.Errorf("entryStem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPDFToTIFF: every page of a PDF goes into one multi-page TIFF, at the
// size of the largest; page=N makes a TIFF of one page.
func TestPDFToTIFF(t *testing.T) {
	in, err := os.ReadFile("../../../shared/testdata/pdf/libreoffice-28pages.pdf")
	if err != nil {
		t.Skip("no ../shared/testdata/pdf/libreoffice-28pages.pdf")
	}
	res := convertWith(t, "tiff", in, wire.Options{DPI: 36})
	if frames, w, h := framesOf(t, res.Output); frames != 28 || w != 298 || h != 421 {
		t.Errorf("%d pages of %dx%d, want 28 of 298x421", frames, w, h)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q", res.Warnings)
	}
	if frames, _, _ := framesOf(t, convertWith(t, "tiff", in, wire.Options{DPI: 36, Page: 3}).Output); frames != 1 {
		t.Errorf("page=3: %d pages", frames)
	}
	_, err = converter(t).Convert(context.Background(), "tiff", in, wire.Options{DPI: 600})
	wantError(t, err, fail.LimitExceeded, "28 pages at 600 dpi", "4 × max-pixels", "page=N")
}

// TestPDFToImageLimits: a page too large at the resolution asked for is
// refused before rendering, with its numbers; so is a resolution over the
// server's and a page the PDF does not have.
func TestPDFToImageLimits(t *testing.T) {
	c := converter(t)
	_, err := c.Convert(context.Background(), "png", pdfOfPage(14400, 14400), wire.Options{DPI: 600})
	wantError(t, err, fail.LimitExceeded, "page 1 of the PDF is 200.0 × 200.0 in", "120000×120000", "600 dpi", "max-pixels")
	_, err = c.Convert(context.Background(), "png", minimalPDF, wire.Options{DPI: 1200})
	wantError(t, err, fail.BadRequest, "dpi 1200", "max-pdf-dpi")
	_, err = c.Convert(context.Background(), "png", minimalPDF, wire.Options{Page: 2})
	wantError(t, err, fail.BadRequest, "page 2", "1 page")
	// dpi means nothing to an image.
	_, err = c.Convert(context.Background(), "png", mustEncode(t, testfiles.Photo(16, 16), testfiles.PNG), wire.Options{DPI: 100})
	wantError(t, err, fail.BadRequest, "options.dpi does not apply")
}
