package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fromOf is the from= the server was sent with the file named name.
func (s *convServer) fromOf(t *testing.T, name string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, req := range s.seen {
		if req.Name == name {
			return req.Options.From
		}
	}
	t.Fatalf("%s was not sent", name)
	return ""
}

// send reads a text named *.csv as a CSV table and *.md or *.markdown as
// Markdown, says so on stderr with how not to, and --from text sends it as
// the text it is.
func TestSendProposesReading(t *testing.T) {
	dir, s := sendEnv(t)
	csv := []byte("region,units\nnorth,12\n")
	writeFiles(t, dir, map[string][]byte{
		"sales.csv": csv, "notes.md": textData, "readme.markdown": textData, "plain.txt": textData,
		"picture.csv": pngData, // a name is no proof: a PNG stays a PNG
	})
	stdout, stderr, code := s.send("--to", "xlsx", "sales.csv")
	if code != 0 || stderr != "fileconv: sales.csv is read as a CSV table, from its name (--from text sends it as plain text)\n" {
		t.Errorf("a CSV to xlsx: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if from := s.fromOf(t, "sales.csv"); from != "csv" {
		t.Errorf("sales.csv was sent with from=%q", from)
	}
	if b, _ := os.ReadFile("sales.xlsx"); string(b) != "xlsx of 22 bytes\n" {
		t.Errorf("sales.xlsx holds %q", b)
	}

	_, stderr, code = s.send("--to", "pdf", "notes.md", "readme.markdown", "plain.txt", "picture.csv")
	if code != 0 || stderr != "fileconv: notes.md and readme.markdown are read as Markdown, from their names (--from text sends them as plain text)\n" {
		t.Errorf("Markdown to pdf: exit %d, stderr %q", code, stderr)
	}
	for name, want := range map[string]string{"notes.md": "markdown", "readme.markdown": "markdown", "plain.txt": "", "picture.csv": ""} {
		if from := s.fromOf(t, name); from != want {
			t.Errorf("%s was sent with from=%q, want %q", name, from, want)
		}
	}

	// --from text: the text as it is, and nothing to say.
	s.mu.Lock()
	s.seen = nil
	s.mu.Unlock()
	_, stderr, code = s.send("--to", "pdf", "--from", "text", "sales.csv")
	if code != 0 || stderr != "" {
		t.Errorf("--from text: exit %d, stderr %q", code, stderr)
	}
	if from := s.fromOf(t, "sales.csv"); from != "text" {
		t.Errorf("with --from text sales.csv was sent with from=%q", from)
	}
	if b, _ := os.ReadFile("sales.pdf"); string(b) != "pdf of 22 bytes\n" {
		t.Errorf("sales.pdf holds %q", b)
	}
}

// With -r, a folder's CSV files are read as tables, and only they fit xlsx;
// many files are named in one line.
func TestSendProposesReadingRecursive(t *testing.T) {
	dir, s := sendEnv(t)
	files := map[string][]byte{"d/notes.txt": textData}
	for _, name := range []string{"a", "b", "c", "e"} {
		files["d/"+name+".csv"] = []byte("x,y\n1,2\n")
	}
	writeFiles(t, dir, files)
	stdout, stderr, code := s.send("-r", "--to", "xlsx", "d")
	want := "fileconv: " + filepath.FromSlash("d/a.csv") + ", " + filepath.FromSlash("d/b.csv") + " and 2 more are read as CSV tables, from their names (--from text sends them as plain text)\n"
	if code != 0 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
	if !strings.Contains(stdout, filepath.FromSlash("d/notes.txt")+": skipped: text, not converted to xlsx") || strings.Count(stdout, ".xlsx (") != 4 {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestProposesReading(t *testing.T) {
	for _, c := range []struct {
		f    sendFlags
		want bool
	}{
		{sendFlags{}, true},
		{sendFlags{protocol: "auto"}, true},
		{sendFlags{protocol: "v1"}, false}, // v1.0 carries no from=
		{sendFlags{merge: true}, false},    // one from= would apply to every file
	} {
		if got := c.f.proposesReading(); got != c.want {
			t.Errorf("%+v: %v", c.f, got)
		}
	}
	var f sendFlags
	if err := f.opts.Set("from", "text"); err != nil || f.proposesReading() {
		t.Errorf("with --from text a reading is proposed (%v)", err)
	}
}
