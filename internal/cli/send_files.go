package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/wire"
)

// sendJob is one file of a send: where it comes from, where its result goes,
// and, once done, how it went.
type sendJob struct {
	idx int
	in  string
	// root is the directory argument a file was found under with -r; its
	// results keep their place below it inside -o.
	root string
	to   string
	kind convert.Kind
	// from is the reading its name proposes for a text (from=csv), sent
	// with the file's options.
	from string
	size int64
	out  string
	// skip says why a file found under a directory is not sent.
	skip string
	err  error
	res  resultInfo
	// counted marks a job the terminal's total counts.
	counted bool
}

type resultInfo struct {
	bytesOut int64
	seconds  float64
	jobID    string
	attempts int
	protocol string
	warnings []string
}

// expandArgs turns the command line's operands into files: an existing path is
// taken as it is, a pattern is expanded (for shells that do not, such as Windows'
// cmd, and for quoted patterns), and a directory is walked with -r. Problems
// become failed jobs, so that the other files still go.
func expandArgs(args []string, recursive bool) []*sendJob {
	var jobs []*sendJob
	add := func(j *sendJob) { j.idx = len(jobs); jobs = append(jobs, j) }
	for _, arg := range args {
		paths := []string{arg}
		if _, err := os.Lstat(arg); err != nil && strings.ContainsAny(arg, "*?[") {
			matches, gerr := filepath.Glob(arg)
			switch {
			case gerr != nil:
				add(&sendJob{in: arg, err: fmt.Errorf("bad pattern: %w", gerr)})
				continue
			case len(matches) == 0:
				add(&sendJob{in: arg, err: errors.New("no file matches the pattern")})
				continue
			}
			paths = matches
		}
		for _, p := range paths {
			st, err := os.Stat(p)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				add(&sendJob{in: p, err: errors.New("no such file or folder")})
			case err != nil:
				add(&sendJob{in: p, err: err})
			case st.IsDir() && !recursive:
				add(&sendJob{in: p, err: errors.New("is a folder: use -r to convert the files in it")})
			case st.IsDir():
				for _, j := range walkDir(p) {
					add(j)
				}
			default:
				add(&sendJob{in: p})
			}
		}
	}
	return jobs
}

// walkDir lists the regular files below root, leaving out hidden files and
// folders (dot files, version-control folders, our own .part files).
func walkDir(root string) []*sendJob {
	var jobs []*sendJob
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			jobs = append(jobs, &sendJob{in: path, err: err})
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			jobs = append(jobs, &sendJob{in: path, root: root})
		}
		return nil
	})
	if err != nil {
		jobs = append(jobs, &sendJob{in: root, err: err})
	}
	return jobs
}

// kindEmpty marks an empty file, which no kind describes.
const kindEmpty convert.Kind = "empty"

// sniffLen is how much of a file detection reads: enough for the magic numbers,
// and a fair sample to call a file text.
const sniffLen = 8 << 10

// detectFile tells a file's kind as the server will (from magic numbers, never
// from the name), so that the CLI offers and sends only what can work.
func detectFile(path string) (convert.Kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b := make([]byte, sniffLen)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	if n == 0 {
		return kindEmpty, nil
	}
	return convert.DetectRequest(b[:n], n < sniffLen, wire.Options{}, false), nil
}

// targets lists the targets of kind, from the conversion registry.
func targets(kind convert.Kind) []string { return convert.TargetsFrom(kind) }

func fits(kind convert.Kind, to string) bool { return slices.Contains(targets(kind), to) }

// family groups kinds that share their targets, so the menu asks once for all
// images, once for all texts, once for all PDFs.
func family(kind convert.Kind) string { return strings.Join(targets(kind), ",") }

func describeKind(kind convert.Kind) string {
	switch kind {
	case convert.KindText:
		return "text"
	case kindEmpty:
		return "empty"
	case convert.KindUnknown:
		return "of a type fileconv does not convert"
	}
	label := kind.Label()
	if strings.ContainsRune("AEIOU", rune(label[0])) {
		return "an " + label
	}
	return "a " + label
}

// outputPath is NAME.EXT for input NAME.anything, next to the input or in outDir.
func outputPath(in, outDir string, to string) string {
	return outputPathUnder(in, "", outDir, to)
}

// outputPathUnder is outputPath for a file found below the directory argument
// root: in outDir, its result keeps its place below root.
func outputPathUnder(in, root, outDir string, to string) string {
	base := filepath.Base(in)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if stem == "" {
		stem = base
	}
	dir := outDir
	switch {
	case dir == "":
		dir = filepath.Dir(in)
	case root != "":
		if rel, err := filepath.Rel(root, filepath.Dir(in)); err == nil && rel != "." {
			dir = filepath.Join(outDir, rel)
		}
	}
	return filepath.Join(dir, stem+"."+to)
}
