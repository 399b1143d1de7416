package master_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/testfiles"
)

// countingOffice stands in for LibreOffice on one worker.
type countingOffice struct{ jobs atomic.Int32 }

func (o *countingOffice) Convert(context.Context, convert.OfficeJob) ([]byte, error) {
	o.jobs.Add(1)
	return []byte("%PDF-1.7 office"), nil
}

// In a cluster where one of two workers runs an office engine, office jobs go
// to it alone, image jobs to both; with the engine gone, office jobs get a
// clear refusal and image jobs still convert.
func TestOfficeJobsGoToTheOfficeWorker(t *testing.T) {
	docx, err := os.ReadFile("../../../shared/testdata/office/python-docx-tbl-having-tables.docx")
	if err != nil {
		t.Skip("no ../shared/testdata/office")
	}
	c := startCluster(t, clusterOptions{Workers: 2})
	engine := &countingOffice{}
	c.Servers[1].Converter().SetOfficeEngine(engine)
	waitAnnounced(t, c, convert.KindDOCX, "pdf")
	cl := newClient(c)
	for range 6 {
		out, err := cl.ConvertBytes(context.Background(), "pdf", "a.docx", docx)
		if err != nil || !bytes.HasPrefix(out, []byte("%PDF")) {
			t.Fatalf("DOCX to PDF: %q %v", out, err)
		}
	}
	if n := engine.jobs.Load(); n != 6 {
		t.Errorf("the office worker converted %d of 6 documents", n)
	}
	c.Servers[1].Converter().SetOfficeEngine(nil)
	// Until the master's next probe the worker says why itself; then the
	// master does, without sending the job anywhere.
	var se *client.ServerError
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err = cl.ConvertBytes(context.Background(), "pdf", "a.docx", docx)
		if !errors.As(err, &se) || se.Message == "no worker converts Word document (DOCX) to pdf here" || time.Now().After(deadline) {
			break
		}
		if se.Message != "this worker does not convert Word document (DOCX) to pdf (its engine, LibreOffice, is not running here)" {
			t.Fatalf("while the master learns: %v", err)
		}
	}
	if !errors.Is(err, client.ErrUnsupported) || se.Message != "no worker converts Word document (DOCX) to pdf here" {
		t.Errorf("with no office worker: %v", err)
	}
	if _, err := cl.ConvertBytes(context.Background(), "jpg", "a.png", mustPNG(t)); err != nil {
		t.Errorf("an image with no office worker: %v", err)
	}
}

// waitAnnounced waits until a worker of c announces from → to to the master.
func waitAnnounced(t *testing.T, c *cluster, from convert.Kind, to string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, w := range c.Master.Status().Workers {
			if w.Converts.Can(from, to) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker announces %s to %s after 10 s", from, to)
		}
	}
}

func mustPNG(t *testing.T) []byte {
	t.Helper()
	b, err := testfiles.Encode(testfiles.Photo(16, 12), testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
