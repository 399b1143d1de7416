package convert

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/wire"
)

// BenchmarkOCRScannedPDF reads a scanned 6-page PDF (pages of
// libreoffice-28pages.pdf rendered at 300 dpi, made a PDF of pictures) to
// text in this process on one thread and on two, and reports ms per page and
// the cores used (CPU time ÷ wall time), for docs/performance.md ("OCR").
// Tesseract reads OMP_THREAD_LIMIT when the process starts, as the readers
// of a worker are started with it, so the benchmark asks for it too:
//
//	OMP_THREAD_LIMIT=1 go test -run='^$' -bench=BenchmarkOCRScannedPDF -benchtime=1x ./internal/convert/
func BenchmarkOCRScannedPDF(b *testing.B) {
	skipWithoutOCR(b)
	if os.Getenv("OMP_THREAD_LIMIT") != "1" {
		b.Skip("run with OMP_THREAD_LIMIT=1: Tesseract's own OpenMP threads would measure something a worker never runs")
	}
	const pages = 6
	scan := scannedPDF(b, sharedPDF(b, "libreoffice-28pages.pdf"), pages)
	c, err := New(Config{PDFInProcess: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			here := *c
			here.ocrThreads = threads
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := here.pdfToTextHere(context.Background(), scan); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*pages), "ms/page")
			b.ReportMetric((processCPU()-cpu0).Seconds()/b.Elapsed().Seconds(), "cores")
		})
	}
}

// scannedPDF renders the first pages of pdf at 300 dpi as PNG and makes a
// PDF of those pictures, as a scanner would.
func scannedPDF(b *testing.B, pdf []byte, pages int) []byte {
	b.Helper()
	c := converter(b)
	ctx := context.Background()
	res, err := c.Convert(ctx, "png", pdf, wire.Options{DPI: 300, Pages: fmt.Sprintf("1-%d", pages)})
	if err != nil {
		b.Fatal(err)
	}
	var files []File
	for _, page := range zipPages(b, res) {
		files = append(files, File{Name: page.name, Data: page.data})
	}
	scan, err := c.Run(ctx, Job{Target: "pdf", Files: files})
	if err != nil {
		b.Fatal(err)
	}
	return scan.Output
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
