package tlsconf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// pendingFile is one file of a set that must appear on disk complete or not at all.
type pendingFile struct {
	path string
	data []byte
	mode fs.FileMode
}

// writeFilesAtomically writes every file to a hidden temporary file next to its
// destination and renames them only once all are complete, so an interrupted run
// never leaves a truncated key, and the window in which only part of the set is in
// place is as short as a few renames. Existing destinations are replaced.
func writeFilesAtomically(files []pendingFile) (err error) {
	temps := make([]string, 0, len(files))
	defer func() {
		if err == nil {
			return
		}
		for _, tmp := range temps {
			_ = os.Remove(tmp) // gone already when its rename succeeded
		}
	}()
	for _, f := range files {
		tmp, err := writeTempFile(f)
		if err != nil {
			return err
		}
		temps = append(temps, tmp)
	}
	var dirs []string
	for i, f := range files {
		if err := os.Rename(temps[i], f.path); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if dir := filepath.Dir(f.path); !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	// Without this a crash soon after could lose the renames while the caller has
	// already reported the files as written.
	for _, dir := range dirs {
		syncDir(dir)
	}
	return nil
}

func writeTempFile(f pendingFile) (string, error) {
	// os.CreateTemp creates the file with mode 0600, so key material is never
	// readable by others, even for a moment.
	tmp, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	name := tmp.Name()
	fail := func(err error) (string, error) {
		_ = tmp.Close()
		_ = os.Remove(name)
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	// Chmod rather than relying on the umask, which could make certificates
	// unreadable for the other tiers.
	if err := tmp.Chmod(f.mode); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(f.data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("write %s: %w", f.path, err)
	}
	return name, nil
}

// syncDir is best effort: some platforms and file systems cannot sync a directory,
// and the files themselves are already complete.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// withMissingFileHint adds hint(path) to err when err is about a missing file, so
// the message says how to get the file as well as which one is missing.
func withMissingFileHint(err error, hint func(path string) string) error {
	var pathErr *fs.PathError
	if !errors.As(err, &pathErr) || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if h := hint(pathErr.Path); h != "" {
		return fmt.Errorf("%w: %s", err, h)
	}
	return err
}

// createHint applies to files given on the command line: a missing file of a
// development PKI folder is created by `fileconv certs`.
func createHint(path string) string {
	if !isPKIFileName(path) {
		return ""
	}
	return fmt.Sprintf("run \"fileconv certs --dir %s\" to create it", dirOf(path))
}

// restoreHint applies inside an existing PKI folder, where `fileconv certs` would
// refuse to overwrite the files still there.
func restoreHint(path string) string {
	return fmt.Sprintf("restore it, or move the PKI files out of %s and start again to create a new set (clients then need the new ca.pem)", dirOf(path))
}

// renewHint says how to replace an expired certificate.
func renewHint(certFile string) string {
	if isPKIFileName(certFile) {
		return fmt.Sprintf("replace it; \"fileconv up --dir %s\" renews development certificates", dirOf(certFile))
	}
	return "replace it with a renewed certificate"
}

func isPKIFileName(path string) bool {
	return slices.Contains(Paths("").names(), filepath.Base(path))
}

// dirOf returns the folder part of path as the user spelled it ("./.fileconv" rather
// than filepath.Dir's ".fileconv"), so hints can be pasted back into a shell.
func dirOf(path string) string {
	dir := strings.TrimSuffix(path, filepath.Base(path))
	if trimmed := strings.TrimRight(dir, `/\`); trimmed != "" {
		dir = trimmed
	}
	if dir == "" {
		return "."
	}
	return dir
}
