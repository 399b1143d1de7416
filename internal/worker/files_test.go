package worker

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

// Each file of a job of several files is checked on its own, whatever the
// pieces the body arrives in, and a mismatch names the file.
func TestFilesDigest(t *testing.T) {
	files := []wire.FilePart{
		{Name: "a.jpg", Size: 3, SHA256: sha256.Sum256([]byte("abc"))},
		{Name: "b.pdf", Size: 2, SHA256: sha256.Sum256([]byte("de"))},
	}
	for _, pieces := range [][]string{{"abcde"}, {"a", "bcd", "e"}, {"ab", "c", "de"}} {
		d := newFilesDigest(files)
		for _, p := range pieces {
			d.Write([]byte(p))
		}
		if msg := d.mismatch(); msg != "" {
			t.Errorf("%q: %s", pieces, msg)
		}
	}
	d := newFilesDigest(files)
	d.Write([]byte("abcdX"))
	if msg := d.mismatch(); !strings.Contains(msg, "file 2 (b.pdf)") {
		t.Errorf("a changed second file: %q", msg)
	}
	d = newFilesDigest(files)
	d.Write([]byte("abc"))
	if msg := d.mismatch(); !strings.Contains(msg, "file 2 (b.pdf) ended early") {
		t.Errorf("a short body: %q", msg)
	}
	got := splitFiles(files, []byte("abcde"))
	if len(got) != 2 || string(got[0].Data) != "abc" || string(got[1].Data) != "de" || got[1].Name != "b.pdf" {
		t.Errorf("splitFiles: %+v", got)
	}
}
