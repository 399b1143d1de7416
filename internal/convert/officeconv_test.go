package convert

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// fakeOffice stands in for LibreOffice: it records the jobs and answers err
// or a fixed output.
type fakeOffice struct {
	jobs []OfficeJob
	err  error
}

func (f *fakeOffice) Convert(_ context.Context, job OfficeJob) ([]byte, error) {
	f.jobs = append(f.jobs, job)
	if f.err != nil {
		return nil, f.err
	}
	return []byte("%PDF-1.7 from " + job.From), nil
}

// The office conversions exist while an office engine runs: the converter
// announces them, hands the engine the document with its options, checks the
// ZIP first, and words the engine's failures for the client.
func TestOfficeConversions(t *testing.T) {
	docx, err := os.ReadFile("../../../shared/testdata/office/python-docx-tbl-having-tables.docx")
	if err != nil {
		t.Skip("no ../shared/testdata/office")
	}
	base := converter(t)
	c := &Converter{cfg: base.cfg, font: base.font}
	if c.Capabilities().Can(KindDOCX, "pdf") {
		t.Fatal("DOCX to PDF announced without an office engine")
	}
	_, err = c.Convert(context.Background(), "pdf", docx, wire.Options{})
	wantError(t, err, fail.UnsupportedOperation, "its engine, LibreOffice, is not running here")
	engine := &fakeOffice{}
	c.SetOfficeEngine(engine)
	caps := c.Capabilities()
	if !caps.Can(KindDOCX, "pdf") || !caps.Can(KindDOCX, "odt") || !caps.Can(KindXLS, "xlsx") || caps.Can(KindDOCX, "xlsx") {
		t.Errorf("with an office engine: %v", caps)
	}
	res, err := c.Convert(context.Background(), "pdf", docx, wire.Options{PDFA: true, Pages: "1-2", Landscape: true})
	if err != nil || string(res.Output) != "%PDF-1.7 from docx" || res.Kind != KindDOCX {
		t.Fatalf("%q %v", res.Output, err)
	}
	if j := engine.jobs[0]; !j.PDFA || j.Pages != "1-2" || !j.Landscape || j.To != "pdf" {
		t.Errorf("the engine got %+v", j)
	}
	for _, tt := range []struct {
		err      error
		password string
		code     fail.Code
		want     string
	}{
		{fmt.Errorf("x: %w", ErrDocumentPassword), "", fail.BadRequest, "the DOCX is password-protected: give its password with the option password"},
		{ErrDocumentPassword, "nope", fail.BadRequest, "the password given does not open the DOCX"},
		{ErrDocumentUnreadable, "", fail.ConversionFailed, "corrupt DOCX: LibreOffice cannot open it"},
		{ErrEngineCrashed, "", fail.ConversionFailed, "LibreOffice stopped on the DOCX"},
	} {
		engine.err = tt.err
		_, err := c.Convert(context.Background(), "pdf", docx, wire.Options{Password: tt.password})
		wantError(t, err, tt.code, tt.want)
	}
	// A bomb never reaches the engine.
	engine.err, engine.jobs = nil, nil
	small := &Converter{cfg: Config{MaxOfficeInflate: 1 << 10}.WithDefaults(), font: base.font}
	small.SetOfficeEngine(engine)
	_, err = small.Convert(context.Background(), "pdf", docx, wire.Options{})
	wantError(t, err, fail.LimitExceeded, "max-office-inflate")
	if len(engine.jobs) != 0 {
		t.Error("the engine got a document over the limit")
	}
}

// fakeBrowser stands in for Chromium.
type fakeBrowser struct{ jobs []BrowserJob }

func (f *fakeBrowser) Convert(_ context.Context, job BrowserJob) ([]byte, error) {
	f.jobs = append(f.jobs, job)
	return []byte("%PDF-1.7 printed"), nil
}

// A web page is told from its first bytes; Markdown and CSV are texts the
// request names (from=); from=text reads a web page as text; a v1.0 client's
// web page is a text, as it was to the original system.
func TestWebPagesAndNamedTexts(t *testing.T) {
	for in, want := range map[string]bool{
		"<!DOCTYPE html><p>x": true, "\xEF\xBB\xBF  <!-- c --> <HTML lang=en>": true, "<html>": true,
		"<htmlx>": false, "hello <html>": false, "<!-- unclosed <html>": false,
	} {
		if got := isHTML([]byte(in)); got != want {
			t.Errorf("isHTML(%q) = %v", in, got)
		}
	}
	base := converter(t)
	c := &Converter{cfg: base.cfg, font: base.font}
	browser, office := &fakeBrowser{}, &fakeOffice{}
	c.SetBrowserEngine(browser)
	c.SetOfficeEngine(office)
	page := []byte("<!doctype html><h1>Hi</h1>")
	if res, err := c.Convert(context.Background(), "pdf", page, wire.Options{Landscape: true, Margin: "0.5in"}); err != nil || res.Kind != KindHTML {
		t.Fatalf("HTML: %v, %v", res.Kind, err)
	}
	if j := browser.jobs[0]; j.Markdown || !j.Landscape || j.MarginPt != 36 {
		t.Errorf("the browser got %+v", j)
	}
	if _, err := c.Convert(context.Background(), "pdf", []byte("# Title\n\n| a | b |\n"), wire.Options{From: "markdown"}); err != nil || !browser.jobs[1].Markdown {
		t.Errorf("Markdown: %v", err)
	}
	if res, err := c.Convert(context.Background(), "xlsx", []byte("a,b\n1,2\n"), wire.Options{From: "csv"}); err != nil || res.Kind != KindCSV || office.jobs[0].From != "csv" {
		t.Errorf("CSV to XLSX: %v %v", res.Kind, err)
	}
	if res, err := c.Convert(context.Background(), "pdf", page, wire.Options{From: "text"}); err != nil || res.Kind != KindText || len(browser.jobs) != 2 {
		t.Errorf("from=text: %v %v", res.Kind, err)
	}
	_, err := c.Convert(context.Background(), "pdf", mustEncode(t, testfiles.Photo(8, 8), testfiles.PNG), wire.Options{From: "csv"})
	wantError(t, err, fail.BadRequest, "from=csv reads a text as CSV; this file is a PNG image")
	if res, err := c.Run(context.Background(), Job{Target: "pdf", Input: page, V1: true}); err != nil || len(browser.jobs) != 2 {
		t.Errorf("a v1.0 web page: %v %v", res.Kind, err)
	}
	// RTF is Writer's, unless it is read as the text it is.
	rtf := []byte(`{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 Hello}`)
	if res, err := c.Convert(context.Background(), "docx", rtf, wire.Options{}); err != nil || res.Kind != KindRTF || office.jobs[1].From != "rtf" {
		t.Errorf("RTF to DOCX: %v %v", res.Kind, err)
	}
	if res, err := c.Convert(context.Background(), "pdf", rtf, wire.Options{From: "text"}); err != nil || res.Kind != KindText || len(office.jobs) != 2 {
		t.Errorf("RTF from=text: %v %v", res.Kind, err)
	}
	if _, err := c.Run(context.Background(), Job{Target: "pdf", Input: rtf, V1: true}); err != nil || len(office.jobs) != 2 {
		t.Errorf("a v1.0 RTF: %v", err)
	}
}
