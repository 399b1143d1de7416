package convert

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/fail"
)

// Every real office document is told apart from its whole and from the
// first 16 KiB a master reads; a plain ZIP and a cut legacy document stay
// what can be said of them.
func TestDetectOfficeDocuments(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/office/*")
	if len(files) == 0 {
		t.Log("no documents in ../shared/testdata/office: only the repository's legacy ones")
	}
	legacy, _ := filepath.Glob("testdata/office/*.*[a-z]")
	for _, f := range append(files, legacy...) {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := Kind(strings.TrimPrefix(filepath.Ext(f), "."))
		if got := Detect(b); got != want {
			t.Errorf("%s: %s, want %s", filepath.Base(f), got, want)
		}
		head := want
		if want == KindXLS {
			head = KindOLE2 // its directory lies past the first 16 KiB
		}
		if got := DetectHead(b[:min(len(b), 16<<10)], false); got != head {
			t.Errorf("%s, first 16 KiB: %s, want %s", filepath.Base(f), got, head)
		}
	}
}

func TestDetectZIPs(t *testing.T) {
	zipOf := func(entries ...string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := 0; i < len(entries); i += 2 {
			w, _ := zw.Create(entries[i])
			w.Write([]byte(entries[i+1]))
		}
		zw.Close()
		return buf.Bytes()
	}
	contentTypes := func(main string) string {
		return `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="xlsx" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"/>` +
			`<Override PartName="/x/main.xml" ContentType="` + main + `"/></Types>`
	}
	for name, tt := range map[string]struct {
		in   []byte
		want Kind
	}{
		"plain ZIP":            {zipOf("a.txt", "hello"), "zip"},
		"DOCM with a workbook": {zipOf("[Content_Types].xml", contentTypes("application/vnd.ms-word.document.macroEnabled.main+xml")), KindDOCX},
		"slideshow":            {zipOf("[Content_Types].xml", contentTypes("application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml")), KindPPTX},
		"broken content types": {zipOf("[Content_Types].xml", "<Types><Override"), "zip"},
		"cut OLE2":             {[]byte(ole2Magic + strings.Repeat("\x00", 600)), KindOLE2},
	} {
		if got := Detect(tt.in); got != tt.want {
			t.Errorf("%s: %s, want %s", name, got, tt.want)
		}
	}
}

// FuzzDetectOffice: the office sniffers and the ZIP guard read any bytes, whole or cut, without
// panicking, in bounded time; seeded with real documents' first bytes.
func FuzzDetectOffice(f *testing.F) {
	files, _ := filepath.Glob("../../../shared/testdata/office/*")
	legacy, _ := filepath.Glob("testdata/office/*.*[a-z]")
	for _, p := range append(files, legacy...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 4<<10)])
		}
	}
	f.Add([]byte(zipLocalHeader + strings.Repeat("\x00", 26)))
	f.Add([]byte(ole2Magic + strings.Repeat("\xff", 600)))
	c := &Converter{cfg: Config{MaxOfficeInflate: 1 << 20}.WithDefaults()}
	f.Fuzz(func(t *testing.T, b []byte) {
		officeZipKind(b)
		ole2Kind(b)
		if err := c.checkOfficeZip(KindDOCX, b); err != nil {
			if ce := AsError(err); ce.Code != fail.LimitExceeded && ce.Code != fail.ConversionFailed {
				t.Fatalf("checkOfficeZip: %v", err)
			}
		}
		if k := Detect(b); k != DetectHead(b, true) {
			t.Fatalf("Detect and DetectHead disagree on %s", k)
		}
	})
}

// TestOfficeZipBombs: an office document's ZIP is refused when it holds too
// many parts or unpacks to more than max-office-inflate, and as corrupt when
// its directory lies about a part's size; a real document passes.
func TestOfficeZipBombs(t *testing.T) {
	c := &Converter{cfg: Config{MaxOfficeInflate: 1 << 20}.WithDefaults()}
	docx := func(size int, lie bool) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("[Content_Types].xml")
		w.Write([]byte(`<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`))
		w, _ = zw.Create("word/document.xml")
		w.Write(bytes.Repeat([]byte(" "), size))
		zw.Close()
		b := buf.Bytes()
		if lie {
			// The central directory's uncompressed size of document.xml says 1 byte.
			i := bytes.LastIndex(b, []byte("PK\x01\x02word"))
			if i < 0 {
				i = bytes.LastIndex(b, []byte("PK\x01\x02"))
			}
			copy(b[i+24:], []byte{1, 0, 0, 0})
		}
		return b
	}
	if got := Detect(docx(10, false)); got != KindDOCX {
		t.Fatalf("the test's DOCX is detected as %s", got)
	}
	if err := c.checkOfficeZip(KindDOCX, docx(100_000, false)); err != nil {
		t.Errorf("a small DOCX: %v", err)
	}
	wantError(t, c.checkOfficeZip(KindDOCX, docx(4<<20, false)), fail.LimitExceeded, "DOCX", "max-office-inflate")
	// A directory that understates a part: unpacking it finds the lie.
	wantError(t, c.checkOfficeZip(KindDOCX, docx(4<<20, true)), fail.ConversionFailed, "corrupt DOCX", "word/document.xml")
	many := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := range maxOfficeEntries + 1 {
			zw.Create(fmt.Sprintf("p%d", i))
		}
		zw.Close()
		return buf.Bytes()
	}
	wantError(t, c.checkOfficeZip(KindXLSX, many()), fail.LimitExceeded, "10001 parts")
	wantError(t, c.checkOfficeZip(KindODT, []byte("PK\x03\x04 not a zip")), fail.ConversionFailed, "corrupt ODT")
	if real, err := os.ReadFile("../../../shared/testdata/office/python-pptx-cht-chart-props.pptx"); err == nil {
		if err := converter(t).checkOfficeZip(KindPPTX, real); err != nil {
			t.Errorf("a real PPTX: %v", err)
		}
	}
}
