package master_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/master"
)

// Clients of both protocol versions share a master at the same time, and get the
// same answers.
func TestV1AndV2ClientsAtOnce(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 2})
	in := testPNG(t, 64, 48)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			cl := newClient(c)
			cl.Protocol = []string{client.ProtocolV1, client.ProtocolV2}[i%2]
			out, err := cl.ConvertBytes(context.Background(), client.ToWEBP, "a.png", in)
			if err == nil {
				var cfg image.Config
				cfg, _, err = image.DecodeConfig(bytes.NewReader(out))
				if err == nil && (cfg.Width != 64 || cfg.Height != 48) {
					err = fmt.Errorf("%dx%d", cfg.Width, cfg.Height)
				}
			}
			if err != nil {
				errs <- fmt.Errorf("%s client %d: %w", cl.Protocol, i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A refusal in each protocol's form: v1.0 keeps the original system's
	// words, which name operation numbers (its operation 4 is text to PDF);
	// v2 names targets.
	for proto, tt := range map[string]struct{ to, want string }{
		client.ProtocolV1: {client.TextToPDF, "PDF detected: use operation 1, 2, 3 or 5 (to JPEG, PNG, WEBP or TXT)"},
		client.ProtocolV2: {"gif", "PDF: it converts to txt, png, jpg, webp, tiff, avif or pdf, not gif"},
	} {
		want := tt.want
		cl := newClient(c)
		cl.Protocol = proto
		_, err := cl.ConvertBytes(context.Background(), tt.to, "a.pdf", []byte("%PDF-1.4 tiny"))
		var se *client.ServerError
		if !errors.As(err, &se) || se.Message != want {
			t.Errorf("%s: %v, want the message %q", proto, err, want)
		}
		if !errors.Is(err, client.ErrTypeMismatch) {
			t.Errorf("%s error %v is not ErrTypeMismatch", proto, err)
		}
	}
}

// A v2 client keeps one connection for many files, and the master keeps its
// connections to the Workers: neither side pays a TLS handshake per file.
func TestV2KeepAlive(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	cl := newClient(c)
	defer cl.Close()
	for i := range 10 {
		if _, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte(fmt.Sprintf("file %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Ping(context.Background()); err != nil {
		t.Errorf("ping: %v", err)
	}
	// Each tier logs a job once its answer is out: wait for the last lines.
	jobLines := regexp.MustCompile(`msg="job finished" tier=master job=\S+ client=(\S+) protocol=v2.0 .*outcome=ok`)
	workerLines := regexp.MustCompile(`msg="job done" tier=worker worker=0 job=\S+ peer=(\S+) `)
	var logs string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		logs = c.Logs.String()
		if len(jobLines.FindAllString(logs, -1)) == 10 && len(workerLines.FindAllString(logs, -1)) == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 jobs were not logged as done by both tiers; logs:\n%s", logs)
		}
	}
	clients := map[string]bool{}
	for _, m := range jobLines.FindAllStringSubmatch(logs, -1) {
		clients[m[1]] = true
	}
	peers := map[string]bool{}
	for _, m := range workerLines.FindAllStringSubmatch(logs, -1) {
		peers[m[1]] = true
	}
	if len(clients) != 1 {
		t.Errorf("10 files came over %d client connections, want 1", len(clients))
	}
	if len(peers) != 1 {
		t.Errorf("the master used %d connections to the worker for 10 sequential jobs, want 1", len(peers))
	}
}

func TestV2TypedErrorsAndOptions(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) { cfg.MaxBodyBytes = 64 << 10 }})
	cl := newClient(c)
	cl.MaxRetries = -1
	ctx := context.Background()

	bad := newClient(c)
	bad.Token = "wrong"
	if _, err := bad.ConvertBytes(ctx, client.TextToPDF, "a.txt", []byte("x")); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := cl.ConvertBytes(ctx, client.TextToPDF, "a.txt", bytes.Repeat([]byte("x"), 100<<10)); !errors.Is(err, client.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	// The connection survives a refusal whose body was read.
	if _, err := cl.ConvertBytes(ctx, client.TextToPDF, "a.txt", []byte("still fine")); err != nil {
		t.Errorf("after a refusal: %v", err)
	}

	img := testPNG(t, 64, 48)
	var small, large bytes.Buffer
	if _, err := cl.Convert(ctx, client.ToJPEG, "a.png", bytes.NewReader(img), &small, client.Options{ConvertOptions: client.ConvertOptions{Quality: 10}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Convert(ctx, client.ToJPEG, "a.png", bytes.NewReader(img), &large, client.Options{ConvertOptions: client.ConvertOptions{Quality: 100}}); err != nil {
		t.Fatal(err)
	}
	if small.Len() >= large.Len() {
		t.Errorf("quality 10 gave %d bytes, quality 100 %d", small.Len(), large.Len())
	}
	var lossless bytes.Buffer
	if _, err := cl.Convert(ctx, client.ToWEBP, "a.png", bytes.NewReader(img), &lossless, client.Options{ConvertOptions: client.ConvertOptions{Lossless: true}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(lossless.Bytes()[:40], []byte("VP8L")) {
		t.Errorf("lossless WEBP is not VP8L: % x", lossless.Bytes()[:16])
	}

	var letter bytes.Buffer
	if _, err := cl.Convert(ctx, client.TextToPDF, "a.txt", strings.NewReader("page one"), &letter, client.Options{ConvertOptions: client.ConvertOptions{PageSize: "Letter"}}); err != nil {
		t.Fatal(err)
	}
	page, err := libvips.Load(letter.Bytes(), "page=0")
	if err != nil {
		t.Fatal(err)
	}
	if page.Width() != 612 || page.Height() != 792 {
		t.Errorf("a Letter page is %d×%d pt, not 612×792", page.Width(), page.Height())
	}
	page.Close()

	var text strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&text, "Paragraph number %d of the document.\n\n", i)
	}
	pdf, err := cl.ConvertBytes(ctx, client.TextToPDF, "a.txt", []byte(text.String()))
	if err != nil {
		t.Fatal(err)
	}
	var all, second bytes.Buffer
	if _, err := cl.Convert(ctx, client.PDFToText, "a.pdf", bytes.NewReader(pdf), &all, client.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Convert(ctx, client.PDFToText, "a.pdf", bytes.NewReader(pdf), &second, client.Options{ConvertOptions: client.ConvertOptions{Pages: "2"}}); err != nil {
		t.Fatal(err)
	}
	if second.Len() == 0 || second.Len() >= all.Len() || !strings.Contains(all.String(), strings.TrimSpace(second.String())) {
		t.Errorf("page 2 (%d bytes) is not a part of the whole text (%d bytes)", second.Len(), all.Len())
	}
	if _, err := cl.Convert(ctx, client.PDFToText, "a.pdf", bytes.NewReader(pdf), &second, client.Options{ConvertOptions: client.ConvertOptions{Pages: "99-"}}); !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("pages past the end: %v", err)
	}
}
