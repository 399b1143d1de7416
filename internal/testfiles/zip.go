package testfiles

import (
	"archive/zip"
	"bytes"
)

// ZipOf makes a ZIP package of files given as name, content, name, …: an
// office document's parts. A first entry named "mimetype" is stored, as
// OpenDocument requires.
func ZipOf(files ...string) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		h := &zip.FileHeader{Name: files[i], Method: zip.Deflate}
		if i == 0 && files[i] == "mimetype" {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(files[i+1])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
