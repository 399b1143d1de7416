package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

// ConvertFiles sends one CONVERT_FILES request whose body is the files in
// order, each with its size, digest and name; a file is read from where it
// stands; a retry sends them whole again.
func TestConvertFiles(t *testing.T) {
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		if n == 1 {
			return reply{drop: true} // a master that died: the client sends again
		}
		return upper(n, req, body)
	})
	c := s.client()
	defer c.Close()
	path := filepath.Join(t.TempDir(), "b.txt")
	if err := os.WriteFile(path, []byte("skip:bcd"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Seek(int64(len("skip:")), 0)
	var out bytes.Buffer
	res, err := c.ConvertFiles(context.Background(), "pdf", "book.pdf",
		[]Part{{Name: "dir/a.jpg", Body: strings.NewReader("a")}, {Name: path, Body: f}}, &out, Options{})
	if err != nil || out.String() != "ABCD" || res.Attempts != 2 {
		t.Fatalf("%q, attempts %d, %v", out.String(), res.Attempts, err)
	}
	req := s.seen[len(s.seen)-1]
	want := []wire.FilePart{{Name: "a.jpg", Size: 1, SHA256: sha256.Sum256([]byte("a"))}, {Name: "b.txt", Size: 3, SHA256: sha256.Sum256([]byte("bcd"))}}
	if len(req.Files) != 2 || req.Files[0] != want[0] || req.Files[1] != want[1] || req.Name != "book.pdf" || req.Size != 4 {
		t.Errorf("request %v, files %+v", req, req.Files)
	}
	if _, err := c.ConvertFiles(context.Background(), "pdf", "", []Part{{Name: "empty", Body: strings.NewReader("")}}, &out, Options{}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("an empty file: %v", err)
	}
}

// A server of v1.0 cannot combine files: the client says so instead of
// sending them one by one.
func TestConvertFilesNeedsV2(t *testing.T) {
	s := startServer(t, true, upper)
	c := s.client()
	defer c.Close()
	c.Protocol = ProtocolV1
	_, err := c.ConvertFiles(context.Background(), "pdf", "", []Part{{Name: "a", Body: strings.NewReader("a")}}, &bytes.Buffer{}, Options{})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "needs protocol v2") {
		t.Errorf("v1.0: %v", err)
	}
}
