package master_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/ocr"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// Through a cluster: a picture's text and a scan's, and the refusals of
// languages no worker reads.
func TestOCRThroughTheMaster(t *testing.T) {
	if err := ocr.Available(); err != nil {
		t.Skipf("no OCR here (Debian tesseract-ocr-eng): %v", err)
	}
	c := startCluster(t, clusterOptions{Workers: 1})
	waitAnnounced(t, c, convert.KindPNG, "txt")
	scan, err := testfiles.TextPNG(50, "Routing by language")
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(c)
	ctx := context.Background()
	out, err := cl.ConvertBytes(ctx, "txt", "scan.png", scan)
	if err != nil || !strings.Contains(string(out), "Routing by language") {
		t.Fatalf("PNG to text: %q %v", out, err)
	}
	if w := c.Master.Status().Workers[0]; !slices.Contains(w.OCRLanguages, "eng") {
		t.Errorf("the worker's languages: %v", w.OCRLanguages)
	}
	var se *client.ServerError
	_, err = cl.Convert(ctx, "txt", "scan.png", bytes.NewReader(scan), io.Discard, client.Options{ConvertOptions: wire.Options{Lang: "zzz"}})
	if !errors.As(err, &se) || !strings.Contains(se.Message, "no worker here reads lang=zzz by OCR: the workers' OCR reads eng") {
		t.Errorf("an uninstalled language: %v", err)
	}
}
