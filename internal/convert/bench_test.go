package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// BenchmarkConvert measures each conversion on inputs of 1 MB and 5 MB made by
// testfiles (photo-like images; multilingual text; a PDF of that text). The
// reported MB/s is input bytes per second on one core.
//
//	go test -run='^$' -bench=BenchmarkConvert -benchtime=3x ./internal/convert/
func BenchmarkConvert(b *testing.B) {
	c := converter(b)
	image := func(f testfiles.Format) func(int) ([]byte, error) {
		return func(n int) ([]byte, error) { return testfiles.ImageOfSize(f, n) }
	}
	conversions := []struct {
		name  string
		op    wire.Operation
		input func(n int) ([]byte, error)
	}{
		{"JPG→PNG", wire.OpToPNG, image(testfiles.JPEG)},
		{"JPG→WEBP", wire.OpToWEBP, image(testfiles.JPEG)},
		{"PNG→JPG", wire.OpToJPEG, image(testfiles.PNG)},
		{"PNG→WEBP", wire.OpToWEBP, image(testfiles.PNG)},
		{"WEBP→JPG", wire.OpToJPEG, image(testfiles.WEBP)},
		{"WEBP→PNG", wire.OpToPNG, image(testfiles.WEBP)},
		{"TXT→PDF", wire.OpTextToPDF, func(n int) ([]byte, error) { return []byte(testfiles.Paragraphs(n)), nil }},
		{"PDF→TXT", wire.OpPDFToText, testfiles.PDFOfSize},
	}
	sizes := []struct {
		name  string
		bytes int
	}{{"1MB", 1_000_000}, {"5MB", 5_000_000}}
	for _, conv := range conversions {
		for _, size := range sizes {
			b.Run(conv.name+"/"+size.name, func(b *testing.B) {
				in, err := conv.input(size.bytes)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := convertOp(c, context.Background(), conv.op, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// sharedPDF reads a PDF of ../shared/testdata/pdf, skipping the benchmark
// when it is absent.
func sharedPDF(b *testing.B, name string) []byte {
	b.Helper()
	in, err := os.ReadFile("../../../shared/testdata/pdf/" + name)
	if err != nil {
		b.Skipf("no ../shared/testdata/pdf/%s", name)
	}
	return in
}

// BenchmarkPDFThumbnail measures the most common request for a PDF: its first
// page as a 300 px wide PNG, from the 113-page pdftex-r-intro.pdf, through
// the PDF reader process as a worker runs it (docs/performance.md compares it
// with pdftoppm -f 1 -l 1 -scale-to-x 300 -scale-to-y -1 -png).
//
//	go test -run='^$' -bench=BenchmarkPDFThumbnail -benchtime=20x ./internal/convert/
func BenchmarkPDFThumbnail(b *testing.B) {
	c := converter(b)
	in := sharedPDF(b, "pdftex-r-intro.pdf")
	job := Job{Target: "png", Name: "pdftex-r-intro.pdf", Input: in, Options: wire.Options{Pages: "1", Width: 300}}
	// One untimed request first (b.Loop starts the clock): the reader
	// process it starts would otherwise weigh on a few runs.
	res, err := c.Run(context.Background(), job)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if res, err = c.Run(context.Background(), job); err != nil {
			b.Fatal(err)
		}
	}
	if res.ContentType != "" || Detect(res.Output) != KindPNG {
		b.Fatalf("output of %d bytes detected as %v (content type %q), want one PNG", len(res.Output), Detect(res.Output), res.ContentType)
	}
	b.ReportMetric(float64(len(res.Output)), "bytes")
}

// BenchmarkPDFPagesZIP measures every page of the 28-page
// libreoffice-28pages.pdf at 150 dpi to PNG, the ZIP of pages a worker
// answers, and reports ms per page (docs/performance.md compares it with
// pdftoppm -r 150 -png).
//
//	go test -run='^$' -bench=BenchmarkPDFPagesZIP -benchtime=3x ./internal/convert/
func BenchmarkPDFPagesZIP(b *testing.B) {
	c := converter(b)
	in := sharedPDF(b, "libreoffice-28pages.pdf")
	job := Job{Target: "png", Name: "libreoffice-28pages.pdf", Input: in, Options: wire.Options{DPI: 150}}
	var res Result
	for b.Loop() {
		var err error
		if res, err = c.Run(context.Background(), job); err != nil {
			b.Fatal(err)
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(res.Output), int64(len(res.Output)))
	if err != nil {
		b.Fatalf("output is not a ZIP: %v", err)
	}
	if len(zr.File) != 28 {
		b.Fatalf("the ZIP holds %d pages, want 28", len(zr.File))
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)/28, "ms/page")
	b.ReportMetric(float64(len(res.Output)), "bytes")
}
