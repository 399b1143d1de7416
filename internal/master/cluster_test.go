package master_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/testcluster"
	"github.com/fileconv/fileconv/internal/wire"
)

const testToken = testcluster.Token

type (
	cluster        = testcluster.Cluster
	clusterOptions = testcluster.Options
)

func startCluster(t testing.TB, opts clusterOptions) *cluster { return testcluster.Start(t, opts) }

func newClient(c *cluster) *client.Client {
	return &client.Client{Addr: c.Addr, Token: testToken, TLSConfig: c.ClientTLS, Timeout: 30 * time.Second}
}

// rawRequest sends a hand-made request and returns the whole answer body, which
// proves the connection was closed cleanly rather than reset.
func rawRequest(t *testing.T, c *cluster, header []byte, body []byte) string {
	t.Helper()
	conn, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append(header, body...)); err != nil {
		t.Fatalf("send: %v", err)
	}
	size, err := wire.ReadResponseSize(conn)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	answer := make([]byte, size)
	if _, err := io.ReadFull(conn, answer); err != nil {
		t.Fatalf("read answer body: %v", err)
	}
	return string(answer)
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func header(token string, op wire.Operation, body []byte) []byte {
	h := wire.NewHeader(token, "test.bin", op, body)
	b := h.Encode()
	return b[:]
}

func TestAllOperationsThroughTheClient(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 2})
	cl := newClient(c)
	ctx := context.Background()
	pngIn := testPNG(t, 64, 48)
	jpegIn, err := cl.ConvertBytes(ctx, client.ToJPEG, "in.png", pngIn)
	if err != nil {
		t.Fatal(err)
	}
	webpIn, err := cl.ConvertBytes(ctx, client.ToWEBP, "in.png", pngIn)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"png": pngIn, "jpeg": jpegIn, "webp": webpIn} {
		for _, op := range []string{client.ToJPEG, client.ToPNG, client.ToWEBP} {
			t.Run(name+" to "+op, func(t *testing.T) {
				out, err := cl.ConvertBytes(ctx, op, "in."+name, in)
				if err != nil {
					t.Fatal(err)
				}
				cfg, format, err := image.DecodeConfig(bytes.NewReader(out))
				if err != nil {
					t.Fatalf("result does not decode: %v", err)
				}
				if format != map[string]string{client.ToJPEG: "jpeg", client.ToPNG: "png", client.ToWEBP: "webp"}[op] {
					t.Errorf("result is %s", format)
				}
				if cfg.Width != 64 || cfg.Height != 48 {
					t.Errorf("result is %dx%d, want 64x48", cfg.Width, cfg.Height)
				}
			})
		}
	}
	text := "Première ligne du paragraphe,\nsuite du paragraphe.\n\nΔεύτερη παράγραφος. Второй абзац.\n"
	pdf, err := cl.ConvertBytes(ctx, client.TextToPDF, "in.txt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatalf("TXT->PDF result starts with %q", pdf[:min(len(pdf), 8)])
	}
	back, err := cl.ConvertBytes(ctx, client.PDFToText, "in.pdf", pdf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Fields(string(back)), strings.Fields(text); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("TXT->PDF->TXT lost words:\n got %q\nwant %q", got, want)
	}
}

func TestConcurrentClients(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 2})
	cl := newClient(c)
	in := testPNG(t, 120, 80)
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := range 24 {
		wg.Go(func() {
			op := []string{client.ToJPEG, client.ToPNG, client.ToWEBP}[i%3]
			out, err := cl.ConvertBytes(context.Background(), op, fmt.Sprintf("c%d.png", i), in)
			if err == nil {
				_, _, err = image.DecodeConfig(bytes.NewReader(out))
			}
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Both workers took a share.
	for _, w := range c.Workers {
		if !strings.Contains(c.Logs.String(), "worker="+w) {
			t.Errorf("worker %s got no job", w)
		}
	}
}

func TestBadRequests(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) { cfg.MaxBodyBytes = 1 << 20 }})
	body := []byte("some text")
	wholePNG := testPNG(t, 40, 40)
	corruptPNG := wholePNG[:len(wholePNG)/2]
	badVersion := header(testToken, wire.OpToJPEG, body)
	copy(badVersion, "v9.9")
	badChecksum := header(testToken, wire.OpTextToPDF, body)
	badChecksum[36] ^= 0xff
	tooLarge := header(testToken, wire.OpTextToPDF, body)
	tooLarge[82+5] = 0x20 // size 2 MiB and a bit, over the 1 MiB limit
	cases := []struct {
		name   string
		header []byte
		body   []byte
		want   string
	}{
		{"wrong token", header("wrong", wire.OpTextToPDF, body), body, "ERROR: Invalid authentication token"},
		{"no token", header("", wire.OpTextToPDF, body), body, "ERROR: Invalid authentication token"},
		{"second token works", header("second-token", wire.OpTextToPDF, body), body, "%PDF"},
		{"version", badVersion, body, `ERROR: Unsupported protocol version "v9.9"`},
		{"operation 0", header(testToken, 0, body), body, "ERROR: Invalid operation 0"},
		{"operation 99", header(testToken, 99, body), body, "ERROR: Invalid operation 99"},
		{"checksum mismatch", badChecksum, body, "ERROR: Checksum mismatch"},
		{"too large", tooLarge, body, "over the limit of 1048576 bytes (max-body)"},
		{"zero bytes", header(testToken, wire.OpTextToPDF, nil), nil, "ERROR: empty input: the file has 0 bytes"},
		{"corrupt image", header(testToken, wire.OpToJPEG, corruptPNG), corruptPNG, "ERROR: "},
		{"pdf as text", header(testToken, wire.OpTextToPDF, []byte("%PDF-1.4 x")), []byte("%PDF-1.4 x"), "ERROR: PDF detected: use operation 1, 2, 3 or 5 (to JPEG, PNG, WEBP or TXT)"},
		{"text as pdf", header(testToken, wire.OpPDFToText, body), body, "ERROR: text detected: use operation 4 (to PDF)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rawRequest(t, c, tc.header, tc.body)
			if !strings.Contains(got[:min(len(got), 200)], tc.want) {
				t.Errorf("answer %q, want it to contain %q", got[:min(len(got), 200)], tc.want)
			}
		})
	}
	if strings.Contains(c.Logs.String(), testToken) {
		t.Error("a token appears in the logs")
	}
}

// A rejected request whose body is still coming is drained, so the client reads
// the message instead of a connection reset, even for a large body.
func TestRejectedRequestIsDrained(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	body := bytes.Repeat([]byte("x"), 4<<20)
	got := rawRequest(t, c, header("wrong", wire.OpTextToPDF, body), body)
	if got != "ERROR: Invalid authentication token" {
		t.Errorf("answer %q", got)
	}
}

func TestShortBodyTimesOut(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) { cfg.IOTimeout = 300 * time.Millisecond }})
	body := []byte(strings.Repeat("text ", 200))
	got := rawRequest(t, c, header(testToken, wire.OpTextToPDF, body), body[:500])
	if !strings.Contains(got, "ERROR: timed out") {
		t.Errorf("answer %q, want a timeout error", got)
	}
}

func TestSilentClientsDoNotBlockOthers(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) {
		cfg.HeaderTimeout = 300 * time.Millisecond
		cfg.HandshakeTimeout = 300 * time.Millisecond
	}})
	// One connection that never starts TLS, one that never sends a header.
	silentTCP, err := net.Dial("tcp", c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silentTCP.Close()
	silentTLS, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer silentTLS.Close()

	if _, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hello")); err != nil {
		t.Fatalf("a client behind two silent ones: %v", err)
	}
	silentTLS.SetDeadline(time.Now().Add(5 * time.Second))
	size, err := wire.ReadResponseSize(silentTLS)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, size)
	io.ReadFull(silentTLS, msg)
	if !strings.Contains(string(msg), "timed out after 300ms waiting for the 94-byte request header") {
		t.Errorf("silent client got %q", msg)
	}
	silentTCP.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := silentTCP.Read(make([]byte, 1)); err == nil {
		t.Error("a connection that never shook hands was kept open")
	}
}

func TestClientGoneCancelsConversion(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	var text strings.Builder
	for i := 0; text.Len() < 8<<20; i++ {
		fmt.Fprintf(&text, "Paragraph %d has a few words that make the PDF take a while to lay out.\n\n", i)
	}
	body := []byte(text.String())
	conn, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(append(header(testToken, wire.OpTextToPDF, body), body...)); err != nil {
		t.Fatal(err)
	}
	// Until the worker has the whole body, a cut shows there as a failed read.
	c.Logs.WaitFor(t, "body received; converting")
	conn.Close()
	// Both tiers log the job as the client's leaving.
	c.Logs.WaitFor(t, `msg="job cancelled" tier=worker worker=0`)
	c.Logs.WaitFor(t, "outcome=client_gone")
	for _, line := range strings.Split(c.Logs.String(), "\n") {
		if strings.Contains(line, `msg="job done"`) && strings.Contains(line, "to=pdf file=test.bin size=8388") {
			t.Error("the worker finished a conversion whose client had gone")
		}
	}
	if !regexp.MustCompile(`msg="job finished" tier=master .*protocol=v1.0 .*outcome=client_gone`).MatchString(c.Logs.String()) {
		t.Errorf("the master did not log the job as client_gone; logs:\n%s", c.Logs.String())
	}
}

func TestFailoverToAReachableWorker(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, DeadWorkers: 2})
	for i := range 6 {
		if _, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hello")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if logs := c.Logs.String(); !strings.Contains(logs, "worker unreachable") && !strings.Contains(logs, "failed its health probe") {
		t.Error("no dead worker was noticed, so failover was not exercised")
	}
}

func TestNoWorkerAvailable(t *testing.T) {
	c := startCluster(t, clusterOptions{DeadWorkers: 2})
	_, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hello"))
	var se *client.ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "no worker is available") {
		t.Errorf("err = %v, want a server error saying no worker is available", err)
	}
}

// A v1.0 client reads the original system's refusals byte for byte, whether the
// master answers them from the first bytes of the body or a worker does from
// all of it.
func TestV1RefusalsAreByteExact(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	pngIn := testPNG(t, 16, 16)
	// Longer than what the master reads to learn the kind: the bytes that make
	// it no text come after.
	longText := bytes.Repeat([]byte("a line of text\n"), 2000)
	badLate := append(bytes.Clone(longText[:20000]), 0xff, 'x')
	cases := []struct {
		name string
		op   wire.Operation
		body []byte
		want string
	}{
		{"pdf to pdf", wire.OpTextToPDF, []byte("%PDF-1.4 x"), "ERROR: PDF detected: use operation 1, 2, 3 or 5 (to JPEG, PNG, WEBP or TXT)"},
		{"text to txt", wire.OpPDFToText, []byte("some text"), "ERROR: text detected: use operation 4 (to PDF)"},
		{"long text to jpeg", wire.OpToJPEG, longText, "ERROR: text detected: use operation 4 (to PDF)"},
		{"png to txt", wire.OpPDFToText, pngIn, "ERROR: PNG image detected: use operation 1, 2, 3 or 4 (to JPEG, PNG, WEBP or PDF)"},
		{"binary to jpeg", wire.OpToJPEG, []byte{0, 1, 2, 3, 0xff}, "ERROR: unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF"},
		{"zip to jpeg", wire.OpToJPEG, []byte("PK\x03\x04\x01\x00\x01\x00\x00\x00\x00;"), "ERROR: unrecognised input: expected a JPEG, PNG or WEBP image, UTF-8 text or a PDF"},
		{"binary to pdf", wire.OpTextToPDF, []byte("abc\xffdef"), "ERROR: input is not valid UTF-8 text (first invalid byte at offset 3)"},
		{"nul to pdf", wire.OpTextToPDF, []byte("abc\x00def"), "ERROR: input is not valid UTF-8 text (NUL byte at offset 3)"},
		{"utf-16 to pdf", wire.OpTextToPDF, []byte("\xff\xfeh\x00i\x00"), "ERROR: input is UTF-16 text, not UTF-8: save it as UTF-8 and send it again"},
		{"no text past the first bytes", wire.OpTextToPDF, badLate, "ERROR: input is not valid UTF-8 text (first invalid byte at offset 20000)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawRequest(t, c, header(testToken, tc.op, tc.body), tc.body); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
		})
	}
}
