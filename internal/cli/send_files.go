package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

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
	op   wire.Operation
	kind string
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

// Kinds of input, as the server detects them (from magic numbers, never from
// the name), so that the CLI offers and sends only what can work.
const (
	kindJPEG    = "JPEG"
	kindPNG     = "PNG"
	kindWEBP    = "WEBP"
	kindPDF     = "PDF"
	kindText    = "text"
	kindEmpty   = "empty"
	kindUnknown = "unknown"
)

// sniffLen is how much of a file detection reads: enough for the magic numbers,
// and a fair sample to call a file text.
const sniffLen = 8 << 10

func detectFile(path string) (string, error) {
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
	return detectKind(b[:n], n == sniffLen), nil
}

func detectKind(b []byte, truncated bool) string {
	switch {
	case len(b) == 0:
		return kindEmpty
	case bytes.HasPrefix(b, []byte("%PDF")):
		return kindPDF
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return kindJPEG
	case bytes.HasPrefix(b, []byte{0x89, 'P', 'N', 'G'}):
		return kindPNG
	case len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return kindWEBP
	}
	if truncated {
		// The sample may end inside a character.
		for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1]
		}
	}
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return kindText
	}
	return kindUnknown
}

// targets lists the operations that accept kind, in the original menu's numbering.
func targets(kind string) []wire.Operation {
	switch kind {
	case kindJPEG, kindPNG, kindWEBP:
		return []wire.Operation{wire.OpToJPEG, wire.OpToPNG, wire.OpToWEBP}
	case kindText:
		return []wire.Operation{wire.OpTextToPDF}
	case kindPDF:
		return []wire.Operation{wire.OpPDFToText}
	}
	return nil
}

func fits(kind string, op wire.Operation) bool {
	for _, t := range targets(kind) {
		if t == op {
			return true
		}
	}
	return false
}

// family groups kinds that share their targets, so the menu asks once for all
// images, once for all texts, once for all PDFs.
func family(kind string) string {
	switch kind {
	case kindJPEG, kindPNG, kindWEBP:
		return "image"
	}
	return kind
}

func describeKind(kind string) string {
	switch kind {
	case kindJPEG, kindPNG, kindWEBP:
		return "a " + kind + " image"
	case kindPDF:
		return "a PDF"
	case kindText:
		return "text"
	case kindEmpty:
		return "empty"
	}
	return "of a type fileconv does not convert"
}

// outputPath is NAME.EXT for input NAME.anything, next to the input or in outDir.
func outputPath(in, outDir string, op wire.Operation) string {
	return outputPathUnder(in, "", outDir, op)
}

// outputPathUnder is outputPath for a file found below the directory argument
// root: in outDir, its result keeps its place below root.
func outputPathUnder(in, root, outDir string, op wire.Operation) string {
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
	return filepath.Join(dir, stem+"."+op.Extension())
}
