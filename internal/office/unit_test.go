package office

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
)

// These tests need no LibreOffice.

func TestJobCheck(t *testing.T) {
	ok := []Job{
		{From: "docx", To: "pdf"}, {From: "csv", To: "xlsx"}, {From: "csv", To: "ods"}, {From: "html", To: "odt"},
		{From: "ppt", To: "pptx"}, {From: "xls", To: "pdf", Pages: "1-3, 7", PDFA: true, PageSize: "letter", Landscape: true, FitWidth: true},
	}
	for _, j := range ok {
		j.Input = []byte("x")
		if err := j.check(); err != nil {
			t.Errorf("%+v: %v", j, err)
		}
	}
	bad := []Job{
		{From: "docx", To: "xlsx"}, {From: "pdf", To: "docx"}, {From: "docx", To: "png"}, {From: "csv", To: "docx"},
		{From: "docx", To: "pdf", Pages: "0"}, {From: "docx", To: "pdf", Pages: "1-"}, {From: "docx", To: "pdf", Pages: "x"},
		{From: "docx", To: "pdf", PageSize: "A5"}, {From: "docx", To: "odt", Pages: "1"},
	}
	for _, j := range bad {
		j.Input = []byte("x")
		if err := j.check(); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%+v: %v; want ErrUnsupported", j, err)
		}
	}
	if err := (&Job{From: "docx", To: "pdf"}).check(); !errors.Is(err, ErrUnreadable) {
		t.Errorf("an empty document: %v", err)
	}
}

func TestCSVToFODS(t *testing.T) {
	out, err := csvToFODS([]byte("a;b;c\n1;2,5;=SUM(A1)\n007;x\"y;\n"))
	if err != nil {
		t.Fatal(err)
	}
	wellFormed(t, out)
	s := string(out)
	for _, want := range []string{
		`office:value-type="float" office:value="1"`,
		`<text:p>2,5</text:p>`, // not a number in a comma-separated world: text
		`<text:p>=SUM(A1)</text:p>`,
		`<text:p>007</text:p>`,
		`<table:table-cell/>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the sheet lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "table:formula") {
		t.Error("a formula got through")
	}
	for _, c := range []struct {
		in   string
		want rune
	}{{"a,b;c,d", ','}, {"a;b;c", ';'}, {"a\tb\tc", '\t'}, {`"a;b;c",d`, ','}, {"single", ','}} {
		if got := csvSeparator([]byte(c.in)); got != c.want {
			t.Errorf("separator of %q: %q; want %q", c.in, got, c.want)
		}
	}
	if _, err := csvToFODS([]byte(strings.Repeat("x,", csvMaxColumns) + "x\n")); err == nil {
		t.Error("a line wider than a sheet was taken")
	}
}

// wellFormed fails unless b is well-formed XML.
func wellFormed(t testing.TB, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}

func TestChangeLayout(t *testing.T) {
	letter := `<style:page-layout-properties fo:page-width="8.5in" fo:page-height="11in" style:print-orientation="portrait" style:scale-to="100%">`
	for _, c := range []struct {
		job  wireJob
		tag  string
		want []string
	}{
		{wireJob{Landscape: true}, letter, []string{`fo:page-width="279.40mm"`, `fo:page-height="215.90mm"`, `style:print-orientation="landscape"`}},
		{wireJob{PageSize: "a4"}, letter, []string{`fo:page-width="210.00mm"`, `fo:page-height="297.00mm"`, `style:print-orientation="portrait"`}},
		{wireJob{PageSize: "a4"}, `<style:page-layout-properties fo:page-width="27.94cm" fo:page-height="21.59cm"/>`, []string{`fo:page-width="297.00mm"`, `style:print-orientation="landscape"`, `/>`}},
		{wireJob{FitWidth: true}, letter, []string{`style:scale-to-X="1"`, `style:scale-to-Y="0"`, `fo:page-width="8.5in"`}},
	} {
		got := changeLayout(c.tag, c.job)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%+v on %s: %s lacks %s", c.job, c.tag, got, w)
			}
		}
		if c.job.FitWidth && strings.Contains(got, "style:scale-to=") {
			t.Errorf("fit width kept the scale: %s", got)
		}
	}
	for s, want := range map[string]float64{"21cm": 210, "8.5in": 215.9, "72pt": 25.4, "10mm": 10} {
		if got, ok := toMM(s); !ok || got < want-0.01 || got > want+0.01 {
			t.Errorf("toMM(%q) = %v %v; want %v", s, got, ok, want)
		}
	}
}

func TestSetPagesKeepsThePackage(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
	w.Write([]byte("application/vnd.oasis.opendocument.text"))
	w, _ = zw.Create("styles.xml")
	w.Write([]byte(`<x><style:page-layout-properties fo:page-width="8.5in" fo:page-height="11in"/></x>`))
	w, _ = zw.Create("content.xml")
	w.Write([]byte(`<content/>`))
	zw.Close()
	out, err := setPages(b.Bytes(), wireJob{Landscape: true})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	if zr.File[0].Name != "mimetype" || zr.File[0].Method != zip.Store || len(zr.File) != 3 {
		t.Errorf("the package's entries changed: %v", zr.File)
	}
	rc, _ := zr.File[1].Open()
	styles, _ := io.ReadAll(rc)
	if !strings.Contains(string(styles), `style:print-orientation="landscape"`) {
		t.Errorf("styles.xml: %s", styles)
	}
}

func TestFileURLAndClean(t *testing.T) {
	if got := fileURL("/dev/shm/a b/ü#.docx"); got != "file:///dev/shm/a%20b/%C3%BC%23.docx" {
		t.Errorf("fileURL: %s", got)
	}
	msg := clean(errors.New(`Unsupported URL <file:///dev/shm/fileconv-office-1/job/input.docx>: "type detection failed" at ./framework/source/loadenv/loadenv.cxx:189`))
	if strings.Contains(msg, "/dev/shm") || strings.Contains(msg, "loadenv.cxx") {
		t.Errorf("clean left a path: %s", msg)
	}
}

func FuzzCSVToFODS(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n"))
	f.Add([]byte("\"x\"\"y\";=1+1\n\xff\xfe"))
	f.Add([]byte("\x00\x01,\"unterminated\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := csvToFODS(in)
		if err != nil {
			return
		}
		wellFormed(t, out)
		if bytes.Contains(out, []byte("table:formula")) {
			t.Fatal("a formula got through")
		}
	})
}

// fetchingElement matches the start of an element that loads something.
var fetchingElement = regexp.MustCompile(`(?i)<(script|link|iframe|frame|base|object|embed|applet|video|audio|source)[\s/>]`)

func FuzzCleanHTML(f *testing.F) {
	f.Add(linkingHTML("http://192.0.2.1/"))
	f.Add([]byte(`<p style="background:url(x">`))
	f.Add([]byte(`<svg><image xlink:href="file:///etc/passwd"/></svg><style>@import 'x'</style>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := cleanHTML(in)
		if err != nil {
			return
		}
		if m := fetchingElement.Find(out); m != nil {
			t.Fatalf("%s left in %q", m, out)
		}
	})
}
