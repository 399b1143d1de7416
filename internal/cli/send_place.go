package cli

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
)

// placement says where a finished result goes.
type placement struct {
	// force overwrites what is there; zip keeps a ZIP of pages as one file
	// instead of unpacking it into a folder.
	force, zip bool
}

// place gives the complete result in tmp its name: out, or for a ZIP of a
// PDF's pages (one picture per page), out's folder of pictures or out.zip. It
// returns where the result went.
func place(tmp, out string, res client.Result, p placement) (string, error) {
	if res.ContentType != convert.ZipContentType {
		return out, link(tmp, out, p.force)
	}
	stem := strings.TrimSuffix(out, filepath.Ext(out))
	if p.zip {
		return stem + ".zip", link(tmp, stem+".zip", p.force)
	}
	return stem + string(filepath.Separator), unzipInto(tmp, stem, p.force)
}

// link names tmp out. Without force a hard link fails if out appeared
// meanwhile, where a rename would replace it.
func link(tmp, out string, force bool) error {
	if force {
		return os.Rename(tmp, out)
	}
	if err := os.Link(tmp, out); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: use --force to overwrite it", out)
		}
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// unzipInto writes the pictures of the ZIP in file into the folder dir. The
// server names them (report-p001.png); a name that could leave the folder is
// refused all the same.
func unzipInto(file, dir string, force bool) error {
	zr, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("read the ZIP of pages: %w", err)
	}
	defer zr.Close()
	if err := os.Mkdir(dir, 0o755); err != nil && !(force && errors.Is(err, os.ErrExist)) {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: use --force to write the pages into it, or --zip for one file", dir)
		}
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, f := range zr.File {
		if f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") || f.FileInfo().IsDir() {
			return fmt.Errorf("the ZIP of pages holds %q, which is not a plain file name", f.Name)
		}
		if err := unzipOne(f, filepath.Join(dir, f.Name)); err != nil {
			return err
		}
	}
	return nil
}

func unzipOne(f *zip.File, path string) error {
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("read %s from the ZIP of pages: %w", f.Name, err)
	}
	defer r.Close()
	w, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
