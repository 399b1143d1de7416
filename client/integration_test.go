package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/testcluster"

	"github.com/fileconv/fileconv/client"
)

// startCluster runs a real master and worker in this process, over mutual TLS,
// and returns a client of it.
func startCluster(t *testing.T) *client.Client {
	t.Helper()
	return testcluster.Start(t, testcluster.Options{Quiet: true}).Client(t)
}

func testPNG(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAgainstARealCluster runs the client against the real master and worker,
// in whichever protocol the master speaks: v2, or v1.0 by falling back.
func TestAgainstARealCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master and a worker")
	}
	c := startCluster(t)
	ctx := context.Background()
	var pdf bytes.Buffer
	res, err := c.Convert(ctx, client.TextToPDF, "notes.txt", strings.NewReader("Hello, world.\n\nSecond paragraph.\n"), &pdf, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the master answered in protocol %s", res.Protocol)
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF")) || res.Size != int64(pdf.Len()) {
		t.Fatalf("not a PDF: %q, %+v", pdf.Bytes()[:min(pdf.Len(), 16)], res)
	}
	if res.Protocol == "v2.0" && (res.JobID == "" || res.SHA256 != sha256.Sum256(pdf.Bytes()) || res.InputType != "text") {
		t.Errorf("v2 result %+v", res)
	}
	text, err := c.ConvertBytes(ctx, client.PDFToText, "notes.pdf", pdf.Bytes())
	if err != nil || !strings.Contains(string(text), "Second paragraph.") {
		t.Errorf("PDF to text: %q, %v", text, err)
	}

	// Refusals are typed whatever the protocol, and not retried.
	res, err = c.Convert(ctx, client.ToJPEG, "notes.txt", strings.NewReader("just text"), io.Discard, client.Options{})
	var se *client.ServerError
	if !errors.Is(err, client.ErrTypeMismatch) || !errors.As(err, &se) || res.Attempts != 1 {
		t.Fatalf("text to JPEG: %v, %+v", err, res)
	}
	// v2 names targets; v1.0 keeps its operation numbers.
	want := "text: it converts to pdf, not jpg"
	if se.Protocol == "v1.0" {
		want = "text detected: use operation 4 (to PDF)"
	}
	if se.Message != want {
		t.Errorf("text to JPEG over %s: %q, want %q", se.Protocol, se.Message, want)
	}
	bad := &client.Client{Addr: c.Addr, Token: "wrong", TLSConfig: c.TLSConfig}
	if _, err := bad.ConvertBytes(ctx, client.ToPNG, "a.png", testPNG(t)); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}

	// Options need v2; with v1.0 they are refused before anything is sent.
	jpeg, err := c.Convert(ctx, client.ToJPEG, "a.png", bytes.NewReader(testPNG(t)), io.Discard, client.Options{ConvertOptions: client.ConvertOptions{Quality: 40}})
	switch {
	case res.Protocol == "v2.0" && err != nil:
		t.Errorf("quality 40 over v2: %v", err)
	case res.Protocol == "v1.0" && !errors.Is(err, client.ErrUnsupported):
		t.Errorf("quality 40 over v1.0: %v (%+v)", err, jpeg)
	}
	if err := c.Ping(ctx); err != nil {
		t.Error(err)
	}
}
