package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/testnet"
)

// syncBuffer is a bytes.Buffer that up may write while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Whoever reads up's banner may use what it names at once: the master is ready
// (the admin listener's /readyz says so), and the web page answers.
func TestUpBannerOnceReady(t *testing.T) {
	adminAddr, webAddr := testnet.FreeAddr(t), testnet.FreeAddr(t)
	var stdout, stderr syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- runUp(ctx, []string{"--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--workers", "2",
			"--admin", adminAddr, "--web", webAddr, "--batch-scheduling=false", "--grace", "5s"}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "Stop with Ctrl-C.") {
		select {
		case err := <-done:
			t.Fatalf("up ended before its banner: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 30s:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	banner := stdout.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  master   127\.0\.0\.1:\d+ \(TLS`),
		regexp.MustCompile(`(?m)^  workers  2 on 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+$`),
		regexp.MustCompile(`(?m)^  token    \S{32}$`),
		regexp.MustCompile(`(?m)^  admin    ` + regexp.QuoteMeta(adminAddr) + ` `),
		regexp.MustCompile(`(?m)^  web      ` + regexp.QuoteMeta("http://"+webAddr+"/") + ` `),
	} {
		if !want.MatchString(banner) {
			t.Errorf("the banner has no line matching %s:\n%s", want, banner)
		}
	}
	if code, body := httpGetCode(t, "http://"+adminAddr+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz right after the banner: %d %s", code, body)
	}
	if code, _ := httpGetCode(t, "http://"+webAddr+"/"); code != http.StatusOK {
		t.Errorf("the web page right after the banner: %d", code)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up after the stop: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("up still runs 20s after the stop")
	}
	if !strings.Contains(stderr.String(), "stopping: finishing jobs in flight") {
		t.Errorf("up did not log its stop:\n%s", stderr.String())
	}
}

func httpGetCode(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
