package convert

import (
	"context"
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
