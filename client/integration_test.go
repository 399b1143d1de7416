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
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/worker"
)

const clusterToken = "integration-token"

// startCluster runs a real master and worker in this process, over mutual TLS
// on loopback, and returns a client for it.
func startCluster(t *testing.T) *client.Client {
	t.Helper()
	dir := t.TempDir()
	if err := tlsconf.GenerateDevPKI(dir, tlsconf.PKIOptions{}); err != nil {
		t.Fatal(err)
	}
	p := tlsconf.Paths(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	workerTLS, err := tlsconf.ServerConfig(p.WorkerCert, p.WorkerKey, p.CA)
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{TLS: workerTLS, Concurrency: 2, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { w.Serve(ctx, ctx, wln) })

	front, err := tlsconf.ServerConfig(p.MasterCert, p.MasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	toWorkers, err := tlsconf.ClientConfig(p.CA, p.MasterCert, p.MasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := master.ParseTokens(strings.NewReader(clusterToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := master.New(master.Config{TLS: front, WorkerTLS: toWorkers, Workers: []string{wln.Addr().String()}, Tokens: tokens, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { m.Serve(ctx, ctx, mln) })
	clientTLS, err := tlsconf.ClientConfig(p.CA, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Addr: mln.Addr().String(), Token: clusterToken, TLSConfig: clientTLS, Timeout: 30 * time.Second}
	t.Cleanup(func() { c.Close() })
	return c
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
	if !errors.Is(err, client.ErrTypeMismatch) || !errors.As(err, &se) || !strings.Contains(se.Message, "text detected") || res.Attempts != 1 {
		t.Errorf("text to JPEG: %v, %+v", err, res)
	}
	bad := &client.Client{Addr: c.Addr, Token: "wrong", TLSConfig: c.TLSConfig}
	if _, err := bad.ConvertBytes(ctx, client.ToPNG, "a.png", testPNG(t)); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}

	// Options need v2; with v1.0 they are refused before anything is sent.
	jpeg, err := c.Convert(ctx, client.ToJPEG, "a.png", bytes.NewReader(testPNG(t)), io.Discard, client.Options{Quality: 40})
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
