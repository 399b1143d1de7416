package master_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/qpdf"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// A job of several files goes whole to a worker that combines them; more
// files than max-files are refused from the request's header.
func TestJobOfSeveralFiles(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) { cfg.MaxFiles = 2 }})
	cl := newClient(c)
	pdf, err := testfiles.PDF(2)
	if err != nil {
		t.Fatal(err)
	}
	parts := func(n int) []client.Part {
		var p []client.Part
		for range n {
			p = append(p, client.Part{Name: "p.pdf", Body: bytes.NewReader(pdf)})
		}
		return p
	}
	var out bytes.Buffer
	res, err := cl.ConvertFiles(context.Background(), "pdf", "book.pdf", parts(2), &out, client.Options{})
	if err != nil || res.InputType != "files" {
		t.Fatalf("two files: %v (input type %q)", err, res.InputType)
	}
	if n, err := qpdf.Pages(qpdf.Input{PDF: out.Bytes()}); n != 4 {
		t.Errorf("two PDFs of two pages made %d pages (%v)", n, err)
	}
	_, err = cl.ConvertFiles(context.Background(), "pdf", "book.pdf", parts(3), &bytes.Buffer{}, client.Options{})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != client.CodeLimitExceeded || !strings.Contains(se.Message, "3 files in one job, over the limit of 2 (max-files)") {
		t.Errorf("three files: %v", err)
	}
	_, err = cl.ConvertFiles(context.Background(), "png", "", parts(2), &bytes.Buffer{}, client.Options{})
	if !errors.Is(err, client.ErrTypeMismatch) || !strings.Contains(err.Error(), "several files: it converts to pdf, not png") {
		t.Errorf("several files to png: %v", err)
	}
}
