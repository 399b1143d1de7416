package master_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
	"github.com/fileconv/fileconv/internal/worker"
)

// A searchable PDF goes to a worker with OCR of its languages, and is
// refused, saying why, where no worker has it: it is OCR or nothing.
func TestSearchablePDFThroughTheMaster(t *testing.T) {
	if err := ocr.Available(); err != nil {
		t.Skipf("no OCR here (Debian tesseract-ocr-eng): %v", err)
	}
	scan, err := testfiles.TextPNG(50, "Searchable through the master")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	searchable := func(c *cluster, opts wire.Options) ([]byte, error) {
		var out bytes.Buffer
		_, err := newClient(c).Convert(ctx, "pdf", "scan.png", bytes.NewReader(scan), &out, client.Options{ConvertOptions: opts})
		return out.Bytes(), err
	}
	c := startCluster(t, clusterOptions{Workers: 1})
	waitAnnounced(t, c, convert.KindPNG, "txt")
	pdf, err := searchable(c, wire.Options{OCR: wire.OCRAlways})
	if err != nil {
		t.Fatal(err)
	}
	// Its text is a text layer now: read back without OCR.
	var text bytes.Buffer
	_, err = newClient(c).Convert(ctx, "txt", "scan.pdf", bytes.NewReader(pdf), &text, client.Options{ConvertOptions: wire.Options{OCR: wire.OCRNever}})
	if err != nil || !strings.Contains(text.String(), "Searchable through the master") {
		t.Errorf("the searchable PDF's text: %q, %v", text.String(), err)
	}
	var se *client.ServerError
	_, err = searchable(c, wire.Options{OCR: wire.OCRAuto, Lang: "zzz"})
	if !errors.As(err, &se) || !strings.Contains(se.Message, "no worker here reads lang=zzz by OCR: the workers' OCR reads eng") {
		t.Errorf("an uninstalled language: %v", err)
	}
	noOCR := startCluster(t, clusterOptions{Workers: 1, Worker: func(w *worker.Config) { w.Convert.Engines = []string{"images", "pdf"} }})
	waitAnnounced(t, noOCR, convert.KindPNG, "pdf")
	_, err = searchable(noOCR, wire.Options{OCR: wire.OCRAlways})
	if !errors.As(err, &se) || !strings.Contains(se.Message, "no worker here makes a searchable PDF (ocr=always): no worker of this cluster runs OCR (Tesseract)") {
		t.Errorf("a cluster without OCR: %v", err)
	}
	if _, err := searchable(noOCR, wire.Options{}); err != nil {
		t.Errorf("without ocr=, to PDF: %v", err)
	}
}
