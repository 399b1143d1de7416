package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/fileconv/fileconv/internal/convert"
)

// A text's bytes cannot say it is a table or Markdown, and the server reads
// a text as plain text unless from= says otherwise. Its name can suggest it,
// but a name is no proof: send proposes the reading (from=csv, from=markdown)
// only when --from is not given, says so on stderr, and --from text turns it
// off.

// reading is what a name proposes a text be read as.
type reading struct {
	from     convert.Kind
	one, all string // "a CSV table", "CSV tables"
	exts     []string
}

var readings = []reading{
	{from: convert.KindCSV, one: "a CSV table", all: "CSV tables", exts: []string{".csv"}},
	{from: convert.KindMarkdown, one: "Markdown", all: "Markdown", exts: []string{".md", ".markdown"}},
}

// readingOf is the reading name suggests, or nil.
func readingOf(name string) *reading {
	ext := strings.ToLower(filepath.Ext(name))
	for i, r := range readings {
		for _, e := range r.exts {
			if ext == e {
				return &readings[i]
			}
		}
	}
	return nil
}

// proposesReading says whether send proposes readings from names: not when
// --from says what the files are, nor for a merge (one from= would apply to
// every file), nor over protocol v1.0, which carries no from=.
func (f *sendFlags) proposesReading() bool {
	switch f.protocol {
	case "v1", "1", "v1.0":
		return false
	}
	return f.opts.From == "" && !f.merge
}

// proposeReading reads j as its name suggests when it is a text and the
// reading converts to j.to (any, when the menu asks): j.from is then sent as
// from=, and j.kind is what the file converts as, for the menu and for
// skipping files that do not fit.
func proposeReading(j *sendJob) error {
	r := readingOf(j.in)
	if r == nil || j.to != "" && !fits(r.from, j.to) {
		return nil
	}
	if j.kind == "" {
		kind, err := detectFile(j.in)
		if err != nil {
			return err
		}
		j.kind = kind
	}
	if j.kind == convert.KindText {
		j.from, j.kind = string(r.from), r.from
	}
	return nil
}

// announceReadings tells, one line per reading, which files are read as
// their names suggest, and how not to: nothing the server is sent should
// depend on a file's name without the person seeing it.
func announceReadings(w io.Writer, jobs []*sendJob) {
	for _, r := range readings {
		var names []string
		for _, j := range jobs {
			if j.from == string(r.from) && j.err == nil && j.skip == "" {
				names = append(names, j.in)
			}
		}
		switch n := len(names); {
		case n == 0:
			continue
		case n == 1:
			fmt.Fprintf(w, "fileconv: %s is read as %s, from its name (--from text sends it as plain text)\n", names[0], r.one)
		default:
			if n > 3 {
				names = append(names[:2], fmt.Sprintf("%d more", n-2))
			}
			fmt.Fprintf(w, "fileconv: %s are read as %s, from their names (--from text sends them as plain text)\n", convert.JoinWords(names, "and"), r.all)
		}
	}
}
