package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testnet"

	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files of send's output")

// convServer is a v2 server that "converts" by prefixing the body with the
// target, and refuses types that do not fit, with the worker's messages.
type convServer struct {
	addr     string
	delay    time.Duration
	inFlight atomic.Int32
	maxIn    atomic.Int32
	mu       sync.Mutex
	seen     []wire.ConvertRequest
}

func startConvServer(t *testing.T, dir string) *convServer {
	t.Helper()
	cert, err := tlsconf.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pemCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pemCA, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &convServer{}
	s.addr = testnet.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}}, s.serve).Addr
	return s
}

func (s *convServer) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	var preface [4]byte
	if _, err := io.ReadFull(br, preface[:]); err != nil || string(preface[:]) != wire.Version20 {
		return
	}
	for {
		req, body, ok := testnet.NextConvert(br, conn)
		if !ok {
			return
		}
		s.mu.Lock()
		s.seen = append(s.seen, req)
		s.mu.Unlock()
		n := s.inFlight.Add(1)
		for {
			m := s.maxIn.Load()
			if n <= m || s.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(s.delay)
		s.inFlight.Add(-1)
		if e := refusal(req, body); e != nil {
			wire.WriteErrorResponse(conn, e)
			continue
		}
		out := []byte(fmt.Sprintf("%s of %d bytes\n", req.Target, len(body)))
		testnet.WriteResult(conn, wire.Result{JobID: "job"}, out)
	}
}

func refusal(req wire.ConvertRequest, body []byte) *wire.ErrorResponse {
	if req.Token != "tok" {
		return &wire.ErrorResponse{Code: fail.Unauthorized, Message: "Invalid authentication token"}
	}
	// As a worker does: what the file is read as, then the conversion.
	kind, err := convert.KindFor(convert.Detect(body), req.Options)
	if err == nil {
		_, err = convert.Plan(kind, req.Target, req.Options, body)
	}
	if err != nil {
		e := fail.As(err)
		return &wire.ErrorResponse{Code: e.Code, Message: e.Message}
	}
	return nil
}

var (
	pngData  = append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, bytes.Repeat([]byte{0}, 100)...)
	jpegData = append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{1}, 50)...)
	webpData = []byte("RIFF\x20\x00\x00\x00WEBPVP8 xxxxxxxxxxxxxxxx")
	pdfData  = []byte("%PDF-1.4\n...")
	textData = []byte("Hello, world.\n")
)

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sendEnv is a working folder with a server, its CA, and no stray settings.
func sendEnv(t *testing.T) (dir string, s *convServer) {
	dir = t.TempDir()
	s = startConvServer(t, dir)
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, envPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	return dir, s
}

func (s *convServer) send(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = Run(context.Background(), append([]string{"send", "--addr", s.addr, "--ca", "ca.pem", "--token", "tok"}, args...), &o, &e)
	return o.String(), e.String(), code
}

var timing = regexp.MustCompile(`\d+\.\d\ds\)`)

func golden(t *testing.T, name, stdout, stderr string, code int) {
	t.Helper()
	got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, timing.ReplaceAllString(stdout, "T)"), stderr)
	file := filepath.Join(goldenDir, name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", file, got)
	}
}

var goldenDir = func() string { d, _ := filepath.Abs("testdata"); return d }()

func TestSendPlainGolden(t *testing.T) {
	dir, s := sendEnv(t)
	writeFiles(t, dir, map[string][]byte{"photo.png": pngData, "notes.txt": textData, "report.pdf": pdfData, "pics/a.png": pngData, "out/old.jpg": jpegData, "taken.png": pngData, "out/taken.jpg": jpegData})
	stdout, stderr, code := s.send("--to", "jpg", "photo.png", "notes.txt", "report.pdf", "missing.png", "*.webp", "pics", "taken.png", "-o", "out")
	golden(t, "send_plain", stdout, stderr, code)
	if b, _ := os.ReadFile("out/photo.jpg"); string(b) != "jpg of 108 bytes\n" {
		t.Errorf("out/photo.jpg holds %q", b)
	}
	if b, _ := os.ReadFile("out/taken.jpg"); !bytes.Equal(b, jpegData) {
		t.Error("an existing output was overwritten without --force")
	}
	leftovers, _ := filepath.Glob("out/.*.part")
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Everything converts: exit 0.
	if _, stderr, code := s.send("--to", "jpg", "--force", "photo.png", "taken.png", "-o", "out"); code != 0 || stderr != "" {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	// Without --to and not on a terminal: a usage error.
	if _, stderr, code := s.send("photo.png"); code != 2 || !strings.Contains(stderr, "--to") {
		t.Errorf("no --to: exit %d, stderr %q", code, stderr)
	}
}

func TestSendRecursiveAndGlobs(t *testing.T) {
	dir, s := sendEnv(t)
	os.Mkdir("out", 0o755)
	writeFiles(t, dir, map[string][]byte{
		"pics/a.png": pngData, "pics/b.jpg": jpegData, "pics/sub/c.webp": webpData, "pics/notes.txt": textData,
		"pics/.hidden.png": pngData, "pics/.git/x.png": pngData, "pics/doc.pdf": pdfData,
	})
	stdout, stderr, code := s.send("-r", "--to", "png", "pics", "-o", "out")
	golden(t, "send_recursive", stdout, stderr, code)
	for _, f := range []string{"out/a.png", "out/b.png", "out/sub/c.png"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	// A quoted pattern is expanded by send itself.
	stdout, stderr, code = s.send("--to", "webp", "pics/*.png", "pics/*.jpg")
	if code != 0 || !strings.Contains(stdout, filepath.FromSlash("pics/a.png -> pics/a.webp")) || !strings.Contains(stdout, filepath.FromSlash("pics/b.jpg -> pics/b.webp")) {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	// Two inputs with one output: the second is refused rather than clobbering.
	writeFiles(t, dir, map[string][]byte{"twins/x.png": pngData, "twins/x.jpg": jpegData})
	_, stderr, code = s.send("--to", "webp", "twins/x.png", "twins/x.jpg")
	if code != 1 || !strings.Contains(stderr, "would replace that of") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestSendJSON(t *testing.T) {
	dir, s := sendEnv(t)
	writeFiles(t, dir, map[string][]byte{"photo.png": pngData, "notes.txt": textData, "d/doc.txt": textData, "d/p.png": pngData})
	stdout, _, code := s.send("--json", "--to", "webp", "-r", "photo.png", "notes.txt", "d")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout)
	}
	want := []map[string]any{
		{"type": "file", "input": "photo.png", "output": "photo.webp", "status": "converted", "to": "webp", "bytes_in": 108.0, "bytes_out": 18.0, "job_id": "job", "attempts": 1.0, "protocol": "v2.0"},
		{"type": "file", "input": "notes.txt", "status": "failed", "code": "type_mismatch", "error": "text: it converts to pdf, not webp"},
		{"type": "file", "input": filepath.FromSlash("d/doc.txt"), "status": "skipped", "reason": "text, not converted to webp"},
		{"type": "file", "input": filepath.FromSlash("d/p.png"), "status": "converted", "output": filepath.FromSlash("d/p.webp")},
		{"type": "summary", "converted": 2.0, "failed": 1.0, "skipped": 1.0, "bytes_in": 216.0, "bytes_out": 36.0},
	}
	for i, w := range want {
		for k, v := range w {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
		if _, ok := lines[i]["seconds"]; !ok {
			t.Errorf("line %d has no seconds", i)
		}
	}
}

func TestSendConcurrency(t *testing.T) {
	dir, s := sendEnv(t)
	s.delay = 100 * time.Millisecond
	var names []string
	for i := range 8 {
		name := fmt.Sprintf("f%d.txt", i)
		writeFiles(t, dir, map[string][]byte{name: textData})
		names = append(names, name)
	}
	stdout, stderr, code := s.send(append([]string{"--to", "pdf", "--concurrency", "3"}, names...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if m := s.maxIn.Load(); m != 3 {
		t.Errorf("%d conversions at once with --concurrency 3", m)
	}
	// Lines come in the order of the command line, whichever finished first.
	for i, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !strings.HasPrefix(l, fmt.Sprintf("f%d.txt -> f%d.pdf (", i, i)) {
			t.Errorf("line %d: %q", i, l)
		}
	}
	if _, stderr, code := s.send("--to", "pdf", "--concurrency", "0", "f0.txt"); code != 2 {
		t.Errorf("--concurrency 0: exit %d %s", code, stderr)
	}
}

func TestSendConfigPrecedence(t *testing.T) {
	dir, s := sendEnv(t)
	writeFiles(t, dir, map[string][]byte{"photo.png": pngData})
	cfg := filepath.Join(dir, "xdg", "fileconv", "config")
	writeFiles(t, dir, map[string][]byte{"xdg/fileconv/config": []byte(
		"# send settings\naddr = " + s.addr + "\nca = \"ca.pem\"\ntoken = tok\nto = webp\nforce = true\n")})
	run := func(args ...string) (string, int) {
		var o, e bytes.Buffer
		code := Run(context.Background(), append([]string{"send"}, args...), &o, &e)
		return o.String() + e.String(), code
	}
	// The default config file alone is enough.
	if out, code := run("photo.png"); code != 0 || !strings.Contains(out, "photo.png -> photo.webp") {
		t.Fatalf("config file: exit %d: %s", code, out)
	}
	// The environment wins over the file...
	t.Setenv("FILECONV_TO", "png")
	if out, code := run("photo.png", "-o", "."); code != 1 || !strings.Contains(out, "would replace the input") {
		t.Errorf("env over config: exit %d: %s", code, out)
	}
	// ...and a flag over both.
	if out, code := run("--to", "jpg", "photo.png"); code != 0 || !strings.Contains(out, "photo.png -> photo.jpg") {
		t.Errorf("flag over env: exit %d: %s", code, out)
	}
	os.Unsetenv("FILECONV_TO")
	// --config names another file; a setting it lacks keeps its default.
	writeFiles(t, dir, map[string][]byte{"other.conf": []byte("addr=" + s.addr + "\nca=ca.pem\ntoken=tok\n--to = 1\n")})
	if out, code := run("--config", "other.conf", "--force", "photo.png"); code != 0 || !strings.Contains(out, "photo.png -> photo.jpg") {
		t.Errorf("--config: exit %d: %s", code, out)
	}
	for _, bad := range []string{"colour = blue\n", "just words\n", "concurrency = many\n"} {
		os.WriteFile(cfg, []byte(bad), 0o644)
		if out, code := run("--to", "jpg", "photo.png"); code != 2 || !strings.Contains(out, "config:1") {
			t.Errorf("config %q: exit %d: %s", bad, code, out)
		}
	}
	if out, code := run("--config", "nope.conf", "--to", "jpg", "photo.png"); code != 2 {
		t.Errorf("missing --config file: exit %d: %s", code, out)
	}
}

func TestSendOptions(t *testing.T) {
	dir, s := sendEnv(t)
	writeFiles(t, dir, map[string][]byte{"photo.png": pngData, "doc.pdf": pdfData})
	if _, stderr, code := s.send("--to", "webp", "--quality", "70", "photo.png"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, stderr, code := s.send("--to", "txt", "--pages", "1-2,5-", "doc.pdf"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if q, p := s.seen[0].Options.Quality, s.seen[1].Options.Pages; q != 70 || p != "1-2,5-" {
		t.Errorf("options sent: quality %d, pages %q", q, p)
	}
	for _, args := range [][]string{{"--to", "bmp"}, {"--to", "webp", "--lossless", "--quality", "5"}, {"--to", "pdf", "--page-size", "A5"}, {"--protocol", "v3", "--to", "png"}} {
		if _, stderr, code := s.send(append(args, "photo.png")...); code != 2 {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
}

func TestDetectFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		b    []byte
		want convert.Kind
	}{
		{pngData, convert.KindPNG}, {jpegData, convert.KindJPEG}, {webpData, convert.KindWEBP}, {pdfData, convert.KindPDF},
		{textData, convert.KindText}, {nil, kindEmpty}, {[]byte("a\x00b"), convert.KindUnknown},
		{[]byte("GIF89a..."), "gif"},
		// Not UTF-8, but text in another encoding, which the server decodes.
		{[]byte("caf\xe9 cr\xe8me"), convert.KindText}, {[]byte("\xff\xfeh\x00i\x00"), convert.KindText},
		// A sample may end inside a character.
		{append(bytes.Repeat([]byte("a"), sniffLen-1), "é"...), convert.KindText},
	} {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := detectFile(p); err != nil || got != c.want {
			t.Errorf("detectFile(%.20q) = %s, %v; want %s", c.b, got, err, c.want)
		}
	}
}
