package office

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkAgainstSoffice: ours has soffice's page count and most of its words.
func checkAgainstSoffice(t *testing.T, name string, ours, theirs []byte) {
	t.Helper()
	if !bytes.HasPrefix(ours, []byte("%PDF-")) {
		t.Fatalf("%s: the output is not a PDF: %q", name, ours[:min(len(ours), 16)])
	}
	if got, want := pdfPages(t, ours), pdfPages(t, theirs); got != want {
		t.Errorf("%s: %d pages; soffice --convert-to pdf makes %d", name, got, want)
	}
	share, missing := wordShare(pdftotext(t, theirs), pdftotext(t, ours))
	if share < 0.95 {
		t.Errorf("%s: the PDF has %.0f%% of the words of soffice's PDF; missing %.300q", name, 100*share, missing)
	}
}

// TestRealDocuments: every document of the shared test data converts to a
// PDF with the pages and words of soffice --convert-to pdf's.
func TestRealDocuments(t *testing.T) {
	p := pool(t)
	files, _ := filepath.Glob(filepath.Join(realDocs, "*"))
	if len(files) == 0 {
		t.Skipf("no documents in %s", realDocs)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			data := readFile(t, f)
			start := time.Now()
			out := convert(t, p, Job{Input: data, From: typeOf(name), To: "pdf"})
			t.Logf("%s to PDF in %v: %d pages", name, time.Since(start).Round(time.Millisecond), pdfPages(t, out))
			checkAgainstSoffice(t, name, out, soffice(t, name, data, "pdf"))
		})
	}
}

// legacy makes the other input types from the shared documents with
// soffice: DOC, RTF, XLS, ODS, PPT, ODP.
func legacy(t *testing.T) map[string][]byte {
	t.Helper()
	made := map[string][]byte{}
	for _, c := range []struct{ from, to string }{
		{"python-docx-tbl-having-tables.docx", "doc"},
		{"python-docx-txt-font-props.docx", "rtf"},
		{"excelize-MergeCell.xlsx", "xls"},
		{"excelize-Book1.xlsx", "ods"},
		{"python-pptx-cht-chart-props.pptx", "ppt"},
		{"python-pptx-cht-chart-props.pptx", "odp"},
	} {
		data := readFile(t, filepath.Join(realDocs, c.from))
		name := strings.TrimSuffix(c.from, filepath.Ext(c.from)) + "." + c.to
		made[name] = soffice(t, c.from, data, c.to)
	}
	return made
}

// TestLegacyFormats: DOC, RTF, XLS, ODS, PPT and ODP (made by soffice from
// the shared documents) convert like soffice converts them.
func TestLegacyFormats(t *testing.T) {
	p := pool(t)
	for name, data := range legacy(t) {
		t.Run(name, func(t *testing.T) {
			out := convert(t, p, Job{Input: data, From: typeOf(name), To: "pdf"})
			checkAgainstSoffice(t, name, out, soffice(t, name, data, "pdf"))
		})
	}
}

// TestRoundTrips: docx↔odt, xlsx↔ods, pptx↔odp and csv→xlsx make files
// LibreOffice reads back, with the pages of the original.
func TestRoundTrips(t *testing.T) {
	p := pool(t)
	csv := []byte("city,country,population\nParis,France,2102650\nBerlin,Germany,3755251\nMadrid,Spain,3332035\n")
	for _, c := range []struct {
		name string
		data []byte
		to   string
	}{
		{"python-docx-having-images.docx", nil, "odt"},
		{"python-docx-sct-section-props.docx", nil, "odt"},
		{"sample-files-writer.odt", nil, "docx"},
		{"excelize-Book1.xlsx", nil, "ods"},
		{"excelize-MergeCell.xlsx", nil, "ods"},
		{"python-pptx-cht-chart-props.pptx", nil, "odp"},
		{"cities.csv", csv, "xlsx"},
		{"cities.csv", csv, "ods"},
	} {
		t.Run(c.name+"→"+c.to, func(t *testing.T) {
			data := c.data
			if data == nil {
				data = readFile(t, filepath.Join(realDocs, c.name))
			}
			from := typeOf(c.name)
			direct := convert(t, p, Job{Input: data, From: from, To: "pdf"})
			converted := convert(t, p, Job{Input: data, From: from, To: c.to})
			if !bytes.HasPrefix(converted, []byte("PK\x03\x04")) {
				t.Fatalf("the %s is not a ZIP package: %q", c.to, converted[:min(len(converted), 8)])
			}
			back := convert(t, p, Job{Input: converted, From: c.to, To: "pdf"})
			if got, want := pdfPages(t, back), pdfPages(t, direct); got != want {
				t.Errorf("%s → %s → PDF has %d pages; %s → PDF has %d", c.name, c.to, got, c.name, want)
			}
			if share, missing := wordShare(pdftotext(t, direct), pdftotext(t, back)); share < 0.95 {
				t.Errorf("%s → %s → PDF has %.0f%% of the words; missing %.200q", c.name, c.to, 100*share, missing)
			}
			// soffice reads the file too.
			if n := pdfPages(t, soffice(t, "back."+c.to, converted, "pdf")); n != pdfPages(t, direct) {
				t.Errorf("soffice reads the %s as %d pages; want %d", c.to, n, pdfPages(t, direct))
			}
		})
	}
}

// TestCSV: separators, quotes, numbers and text, a Windows-1252 file, and a
// formula that stays text.
func TestCSV(t *testing.T) {
	p := pool(t)
	for _, c := range []struct {
		name string
		csv  []byte
		want []string
	}{
		{"comma", []byte("name,qty,note\nalpha,1,\"quoted, with comma\"\nbeta,2.5,plain\n"), []string{"alpha", "quoted, with comma", "2.5"}},
		{"semicolon", []byte("\xef\xbb\xbfname;qty\ngamma;7\ndelta;8\n"), []string{"gamma", "delta", "name"}},
		{"tab", []byte("a\tb\nepsilon\tzeta\n"), []string{"epsilon", "zeta"}},
		{"windows-1252", []byte("name,city\nJos\xe9,K\xf6ln\n"), []string{"José", "Köln"}},
		{"formula stays text", []byte("x,y\n=1+1,=HYPERLINK(\"http://127.0.0.1:9/\")\n"), []string{"=1+1", "=HYPERLINK"}},
		{"leading zeros stay", []byte("zip\n007\n"), []string{"007"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := pdftotext(t, convert(t, p, Job{Input: c.csv, From: "csv", To: "pdf"}))
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("the PDF's text lacks %q: %q", w, text)
				}
			}
		})
	}
	if _, err := p.Convert(context.Background(), Job{Input: []byte("\n\n"), From: "csv", To: "pdf"}); !errors.Is(err, ErrUnreadable) {
		t.Errorf("an empty CSV: %v; want ErrUnreadable", err)
	}
}

// TestHTML: an HTML page converts to PDF.
func TestHTML(t *testing.T) {
	p := pool(t)
	page := []byte(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body><h1>Quarterly report</h1><p>Revenue grew in <b>every</b> region.</p><table border="1"><tr><td>North</td><td>12</td></tr><tr><td>South</td><td>9</td></tr></table><p>Ünïcödé and 漢字.</p></body></html>`)
	text := pdftotext(t, convert(t, p, Job{Input: page, From: "html", To: "pdf"}))
	for _, w := range []string{"Quarterly report", "every", "North", "Ünïcödé", "漢字"} {
		if !strings.Contains(text, w) {
			t.Errorf("the PDF's text lacks %q: %q", w, text)
		}
	}
}

// TestOptions: pages, PDF/A-2b, landscape, page size, fit width.
func TestOptions(t *testing.T) {
	p := pool(t)
	docx := readFile(t, filepath.Join(realDocs, "python-docx-having-images.docx"))
	xlsx := readFile(t, filepath.Join(realDocs, "excelize-Book1.xlsx"))
	pptx := readFile(t, filepath.Join(realDocs, "python-pptx-cht-chart-props.pptx"))
	sections := readFile(t, filepath.Join(realDocs, "python-docx-sct-section-props.docx"))

	t.Run("pages", func(t *testing.T) {
		all := pdfPages(t, convert(t, p, Job{Input: xlsx, From: "xlsx", To: "pdf"}))
		if all < 3 {
			t.Fatalf("the workbook has %d pages; the test needs 3", all)
		}
		for pages, want := range map[string]int{"1": 1, "2-3": 2, "1,3": 2, " 1 - 2 ; 3": 3} {
			if got := pdfPages(t, convert(t, p, Job{Input: xlsx, From: "xlsx", To: "pdf", Pages: pages})); got != want {
				t.Errorf("pages %q: %d pages; want %d", pages, got, want)
			}
		}
		if got := pdfPages(t, convert(t, p, Job{Input: pptx, From: "pptx", To: "pdf", Pages: "2"})); got != 1 {
			t.Errorf("slide 2: %d pages; want 1", got)
		}
		_, err := p.Convert(context.Background(), Job{Input: xlsx, From: "xlsx", To: "pdf", Pages: "99"})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "no such pages") {
			t.Errorf("page 99 of %d: %v; want ErrUnsupported, no such pages", all, err)
		}
		for _, bad := range []string{"0", "a-b", "1-", "-3", "1,,2"} {
			if _, err := p.Convert(context.Background(), Job{Input: xlsx, From: "xlsx", To: "pdf", Pages: bad}); !errors.Is(err, ErrUnsupported) {
				t.Errorf("pages %q: %v; want ErrUnsupported", bad, err)
			}
		}
	})
	t.Run("pdfa", func(t *testing.T) {
		for _, j := range []Job{{Input: docx, From: "docx"}, {Input: xlsx, From: "xlsx"}, {Input: pptx, From: "pptx"}} {
			j.To, j.PDFA = "pdf", true
			meta := pdfinfo(t, convert(t, p, j), "-meta")
			if !strings.Contains(meta, "<pdfaid:part>2</pdfaid:part>") || !strings.Contains(meta, "<pdfaid:conformance>B</pdfaid:conformance>") {
				t.Errorf("%s: no PDF/A-2b identification in the metadata: %.400s", j.From, meta)
			}
		}
	})
	t.Run("landscape and page size", func(t *testing.T) {
		for _, c := range []struct {
			job  Job
			w, h float64 // points
		}{
			{Job{Input: docx, From: "docx", PageSize: "A4"}, 595.3, 841.9},
			{Job{Input: docx, From: "docx", PageSize: "Letter"}, 612, 792},
			{Job{Input: docx, From: "docx", Landscape: true}, 792, 612}, // the document's Letter, turned
			{Job{Input: docx, From: "docx", Landscape: true, PageSize: "a4"}, 841.9, 595.3},
			{Job{Input: xlsx, From: "xlsx", Landscape: true, PageSize: "A4"}, 841.9, 595.3},
			{Job{Input: xlsx, From: "xlsx", PageSize: "A4"}, 595.3, 841.9},
			// The first section is landscape, and stays so on A4.
			{Job{Input: sections, From: "docx", PageSize: "A4"}, 841.9, 595.3},
		} {
			c.job.To = "pdf"
			out := convert(t, p, c.job)
			w, h := pdfPageSize(t, out)
			if abs(w-c.w) > 2 || abs(h-c.h) > 2 {
				t.Errorf("%s landscape=%v page size %q: %.1f × %.1f pt; want %.1f × %.1f", c.job.From, c.job.Landscape, c.job.PageSize, w, h, c.w, c.h)
			}
			share, missing := wordShare(pdftotext(t, convert(t, p, Job{Input: c.job.Input, From: c.job.From, To: "pdf"})), pdftotext(t, out))
			if share < 0.95 {
				t.Errorf("%s with page settings lost words: %.200q", c.job.From, missing)
			}
		}
		// Presentations keep their slides.
		w, h := pdfPageSize(t, convert(t, p, Job{Input: pptx, From: "pptx", To: "pdf", Landscape: true, PageSize: "A4"}))
		w0, h0 := pdfPageSize(t, convert(t, p, Job{Input: pptx, From: "pptx", To: "pdf"}))
		if w != w0 || h != h0 {
			t.Errorf("a presentation's slides became %.1f × %.1f; they are %.1f × %.1f", w, h, w0, h0)
		}
	})
	t.Run("fit width", func(t *testing.T) {
		wide := wideCSV(40, 30)
		normal := pdfPages(t, convert(t, p, Job{Input: wide, From: "csv", To: "pdf"}))
		fitted := convert(t, p, Job{Input: wide, From: "csv", To: "pdf", FitWidth: true})
		if got := pdfPages(t, fitted); got >= normal || got != 1 {
			t.Errorf("40 columns fitted one page wide: %d pages; %d without fitting; want 1", got, normal)
		}
		if share, missing := wordShare(string(wide), pdftotext(t, fitted)); share < 0.95 {
			t.Errorf("fitted to width, the sheet lost words: %.200q", missing)
		}
		before := pdfPages(t, convert(t, p, Job{Input: xlsx, From: "xlsx", To: "pdf"}))
		after := pdfPages(t, convert(t, p, Job{Input: xlsx, From: "xlsx", To: "pdf", FitWidth: true}))
		if after >= before {
			t.Errorf("the workbook fitted to width has %d pages; %d without", after, before)
		}
	})
}

// wideCSV is a sheet of cols columns and rows rows of short words.
func wideCSV(cols, rows int) []byte {
	var b bytes.Buffer
	for r := range rows {
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteString("w")
			b.WriteString(strings.Repeat(string(rune('a'+c%26)), 3))
			b.WriteString(string(rune('a' + r%26)))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestPassword: an encrypted ODT (AES-256, made by LibreOffice) and DOC
// (RC4, Word 97) give ErrPassword without their password or with a wrong
// one, and convert with it.
func TestPassword(t *testing.T) {
	p := pool(t)
	for _, name := range []string{"secret.odt", "secret.doc"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/password", name))
			if err != nil {
				t.Fatal(err)
			}
			from := typeOf(name)
			for _, pw := range []string{"", "wrong"} {
				_, err := p.Convert(context.Background(), Job{Input: data, From: from, To: "pdf", Password: pw})
				if !errors.Is(err, ErrPassword) {
					t.Errorf("password %q: %v; want ErrPassword", pw, err)
				} else if strings.Contains(err.Error(), "/") {
					t.Errorf("the error names a path: %v", err)
				}
			}
			out := convert(t, p, Job{Input: data, From: from, To: "pdf", Password: "secret"})
			if text := pdftotext(t, out); !strings.Contains(text, "fileconv self-test") {
				t.Errorf("the decrypted document's text: %q", text)
			}
			// The pool goes on converting.
			convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
		})
	}
}

// TestUnsupported: conversions across families, unknown types, bad options
// and documents LibreOffice cannot read.
func TestUnsupported(t *testing.T) {
	p := pool(t)
	ctx := context.Background()
	for _, j := range []Job{
		{Input: selfTestXLSX, From: "xlsx", To: "docx"},
		{Input: selfTestDOCX, From: "docx", To: "pptx"},
		{Input: selfTestDOCX, From: "docx", To: "png"},
		{Input: selfTestDOCX, From: "pdf", To: "docx"},
		{Input: selfTestDOCX, From: "docx", To: "odt", PDFA: true},
		{Input: selfTestDOCX, From: "docx", To: "pdf", PageSize: "A3"},
	} {
		if _, err := p.Convert(ctx, j); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s → %s %+v: %v; want ErrUnsupported", j.From, j.To, j, err)
		}
	}
	for _, j := range []Job{
		{Input: []byte("PK\x03\x04 not really a zip"), From: "docx", To: "pdf"},
		{Input: selfTestXLSX, From: "docx", To: "pdf"}, // a spreadsheet named a DOCX
		{Input: nil, From: "docx", To: "pdf"},
	} {
		_, err := p.Convert(ctx, j)
		if !errors.Is(err, ErrUnreadable) {
			t.Errorf("%q as %s: %v; want ErrUnreadable", j.Input[:min(len(j.Input), 12)], j.From, err)
		} else if strings.Contains(err.Error(), "/dev/shm") || strings.Contains(err.Error(), "file://") {
			t.Errorf("the error names a path: %v", err)
		}
	}
	convert(t, p, Job{Input: selfTestDOCX, From: "docx", To: "pdf"})
}

// TestSelfTest and Available.
func TestSelfTest(t *testing.T) {
	p := pool(t)
	if err := p.SelfTest(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Processes != 2 || !strings.Contains(s.Version, "LibreOffice") || s.StartSeconds <= 0 {
		t.Errorf("stats: %+v", s)
	}
	t.Logf("stats: %+v", s)
	if err := New(Config{InstallDir: t.TempDir()}).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("a pool on an empty folder: %v; want 'not installed'", err)
	}
}

// TestConcurrent: more jobs than processes, at once.
func TestConcurrent(t *testing.T) {
	p := pool(t)
	docs := [][2]string{{"python-docx-par-known-paragraphs.docx", "docx"}, {"excelize-MergeCell.xlsx", "xlsx"}, {"sample-files-writer.odt", "odt"}, {"python-pptx-cht-chart-props.pptx", "pptx"}}
	errs := make(chan error, 12)
	for i := range 12 {
		d := docs[i%len(docs)]
		data := readFile(t, filepath.Join(realDocs, d[0]))
		go func() {
			out, err := p.Convert(context.Background(), Job{Input: data, From: d[1], To: "pdf"})
			if err == nil && !bytes.HasPrefix(out, []byte("%PDF-")) {
				err = errors.New("not a PDF")
			}
			errs <- err
		}()
	}
	for range 12 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
