package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/testcluster"
)

// send reports a conversion's warnings through a real cluster: a stderr line
// each beside the file's line, a "warnings" array in --json, and a summary
// that does not read as plain success.
func TestSendWarnings(t *testing.T) {
	out := []byte("first frame")
	warnings := []string{"the GIF has 12 frames; the PNG holds the first", "ünïcödé, \"quoted\""}
	convert.Register(convert.Conversion{Name: "test-gif-warn", From: []convert.Kind{"ole2"}, To: []string{"png"},
		Run: func(*convert.Converter, context.Context, convert.Input) (convert.Result, error) {
			return convert.Result{Output: out, Warnings: warnings}, nil
		}})
	t.Cleanup(func() { convert.Unregister("test-gif-warn") })
	c := testcluster.Start(t, testcluster.Options{Quiet: true})
	// Until its first probe a worker is taken to do the original conversions only.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st := c.Master.Status(); len(st.Workers) == 1 && st.Workers[0].Converts.Can("ole2", "png") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker never announced GIF to PNG")
		}
	}
	dir, _ := sendEnv(t)
	writeFiles(t, dir, map[string][]byte{"anim.gif": []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 and some streams"), "notes.txt": textData})
	send := func(args ...string) (string, string, int) {
		var o, e bytes.Buffer
		code := Run(context.Background(), append([]string{"send", "--addr", c.Addr, "--ca", c.PKI.CA, "--token", testcluster.Token}, args...), &o, &e)
		return o.String(), e.String(), code
	}

	stdout, stderr, code := send("--to", "png", "anim.gif")
	wantErr := "anim.gif -> anim.png: warning: the GIF has 12 frames; the PNG holds the first\n" +
		"anim.gif -> anim.png: warning: ünïcödé, \"quoted\"\n"
	if code != 0 || !strings.HasPrefix(stdout, "anim.gif -> anim.png (") || stderr != wantErr {
		t.Errorf("exit %d\n--- stdout\n%s--- stderr\n%s--- want stderr\n%s", code, stdout, stderr, wantErr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "anim.png")); !bytes.Equal(b, out) {
		t.Errorf("anim.png holds %q", b)
	}

	stdout, stderr, code = send("--json", "--force", "--to", "pdf", "notes.txt")
	if code != 0 || strings.Contains(stdout, "warnings") || stderr != "" {
		t.Errorf("a file without warnings: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = send("--json", "--force", "--to", "png", "anim.gif")
	var file struct {
		Status   string   `json:"status"`
		Warnings []string `json:"warnings"`
	}
	var summary struct {
		Converted    int `json:"converted"`
		WithWarnings int `json:"with_warnings"`
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &file) != nil || json.Unmarshal([]byte(lines[1]), &summary) != nil {
		t.Fatalf("--json: exit %d\n%s", code, stdout)
	}
	if code != 0 || file.Status != "converted" || !slices.Equal(file.Warnings, warnings) || summary.Converted != 1 || summary.WithWarnings != 1 {
		t.Errorf("--json: exit %d, file %+v, summary %+v\n%s", code, file, summary, stdout)
	}
	if stderr != wantErr {
		t.Errorf("--json stderr:\n%s--- want\n%s", stderr, wantErr)
	}
}
