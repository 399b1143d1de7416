package office

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// realDocs holds office documents from real producers (see its README).
const realDocs = "../../../shared/testdata/office"

var (
	sharedPool     *Pool
	sharedPoolOnce sync.Once
	sharedPoolErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPool != nil {
		sharedPool.Close()
	}
	os.Exit(code)
}

// needOffice skips a test where LibreOffice is not installed.
func needOffice(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("LibreOffice is needed (make test installs it): %v", err)
	}
}

// testLogger logs warnings and above to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// pool is the pool most tests share: two warm processes.
func pool(t testing.TB) *Pool {
	t.Helper()
	needOffice(t)
	sharedPoolOnce.Do(func() {
		sharedPool = New(Config{Processes: 2, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sharedPoolErr = sharedPool.Start(ctx)
	})
	if sharedPoolErr != nil {
		t.Fatalf("start the shared pool: %v", sharedPoolErr)
	}
	return sharedPool
}

// newPool makes a pool of its own for a test, closed at its end.
func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	needOffice(t)
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	p := New(cfg)
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("start a pool: %v", err)
	}
	return p
}

func convert(t testing.TB, p *Pool, job Job) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := p.Convert(ctx, job)
	if err != nil {
		t.Fatalf("%s to %s: %v", job.From, job.To, err)
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	return b
}

// tool returns the path of a command the tests check outputs with.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check documents: install the Debian package %s (make test does)", name, pkg)
	}
	return p
}

func pdfinfo(t testing.TB, pdf []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, "pdfinfo", "poppler-utils"), append(args, "-")...)
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdfinfo: %v (%d bytes, starting %q)", err, len(pdf), pdf[:min(len(pdf), 16)])
	}
	return string(out)
}

var pagesLine = regexp.MustCompile(`(?m)^Pages:\s+(\d+)`)

func pdfPages(t testing.TB, pdf []byte) int {
	t.Helper()
	m := pagesLine.FindStringSubmatch(pdfinfo(t, pdf))
	if m == nil {
		t.Fatal("pdfinfo gave no page count")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

var pageSizeLine = regexp.MustCompile(`(?m)^Page size:\s+([0-9.]+) x ([0-9.]+) pts`)

// pdfPageSize is the first page's width and height in points.
func pdfPageSize(t testing.TB, pdf []byte) (float64, float64) {
	t.Helper()
	m := pageSizeLine.FindStringSubmatch(pdfinfo(t, pdf))
	if m == nil {
		t.Fatal("pdfinfo gave no page size")
	}
	w, _ := strconv.ParseFloat(m[1], 64)
	h, _ := strconv.ParseFloat(m[2], 64)
	return w, h
}

func pdftotext(t testing.TB, pdf []byte) string {
	t.Helper()
	cmd := exec.Command(tool(t, "pdftotext", "poppler-utils"), "-q", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// words are the distinct words of three letters or more in s.
func words(s string) map[string]bool {
	w := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(f)) >= 3 {
			w[strings.ToLower(f)] = true
		}
	}
	return w
}

// wordShare is the share of want's words that got has.
func wordShare(want, got string) (float64, []string) {
	w, g := words(want), words(got)
	if len(w) == 0 {
		return 1, nil
	}
	var missing []string
	for k := range w {
		if !g[k] {
			missing = append(missing, k)
		}
	}
	return 1 - float64(len(missing))/float64(len(w)), missing
}

var (
	sofficeMu    sync.Mutex
	sofficeCache = map[string][]byte{}
)

// soffice converts data (a file named name) with `soffice --headless
// --convert-to to` in a temporary folder and profile, as people do without
// this package.
func soffice(t testing.TB, name string, data []byte, to string) []byte {
	t.Helper()
	sofficeMu.Lock()
	defer sofficeMu.Unlock()
	key := sofficeKey(name, to, data)
	if b, ok := sofficeCache[key]; ok {
		return b
	}
	bin := tool(t, "soffice", "libreoffice-core-nogui")
	dir := t.TempDir()
	in := filepath.Join(dir, name)
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "-env:UserInstallation="+fileURL(filepath.Join(dir, "profile")), "--headless", "--convert-to", to, "--outdir", out, in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("soffice --convert-to %s %s: %v: %s", to, name, err, stderr.String())
	}
	ext := to
	if i := strings.IndexByte(ext, ':'); i >= 0 {
		ext = ext[:i]
	}
	b, err := os.ReadFile(filepath.Join(out, strings.TrimSuffix(name, filepath.Ext(name))+"."+ext))
	if err != nil {
		t.Fatalf("soffice --convert-to %s %s wrote nothing: %v: %s", to, name, err, stderr.String())
	}
	sofficeCache[key] = b
	return b
}

func sofficeKey(name, to string, data []byte) string {
	return fmt.Sprintf("%s|%s|%x", name, to, sha256.Sum256(data))
}

// typeOf is a file's type from its name.
func typeOf(name string) string {
	return strings.TrimPrefix(filepath.Ext(name), ".")
}
