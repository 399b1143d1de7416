package convert

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func zipParts(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := testfiles.ZipOf(parts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const relsNS = `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`

// Linked pictures, sections and objects are named in a warning; embedded
// ones, hyperlinks and the real documents' parts are not.
func TestOfficeLinkWarnings(t *testing.T) {
	docx := zipParts(t,
		"word/_rels/document.xml.rels", relsNS+
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/embedded.png"/>`+
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="http://127.0.0.1:9/linked.png" TargetMode="External"/>`+
			`<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://example.org/" TargetMode="External"/>`+
			`<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="file:///C:/photos/a.jpg" TargetMode="External"/>`+
			`</Relationships>`)
	want := []string{"the DOCX shows content it links to but does not hold (http://127.0.0.1:9/linked.png, file:///C:/photos/a.jpg): fileconv loads nothing from servers or files, so the PDF lacks it"}
	if got := officeLinkWarnings(KindDOCX, docx); !slices.Equal(got, want) {
		t.Errorf("DOCX: %q", got)
	}
	// The warning reaches the result of a conversion.
	detected := zipParts(t, "[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`+
		`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"word/_rels/document.xml.rels", relsNS+`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="http://127.0.0.1:9/linked.png" TargetMode="External"/></Relationships>`)
	base := converter(t)
	c := &Converter{cfg: base.cfg, font: base.font}
	c.SetOfficeEngine(&fakeOffice{})
	res, err := c.Convert(context.Background(), "pdf", detected, wire.Options{})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "(http://127.0.0.1:9/linked.png)") {
		t.Errorf("the conversion's warnings: %q, %v", res.Warnings, err)
	}
	content := `<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:xlink="http://www.w3.org/1999/xlink"><office:body><office:text>` +
		`<draw:image xlink:href="Pictures/inside.png"/><draw:image xlink:href="./Pictures/also.png"/><draw:object xlink:href="./Object 1"/>` +
		`<draw:image xlink:href="../outside.png"/><text:section-source xlink:href="https://example.org/part.html"/><text:a xlink:href="https://example.org/">a link</text:a>` +
		`<draw:image xlink:href="/etc/passwd"/><draw:image xlink:href="smb://host/share/c.png"/></office:text></office:body></office:document-content>`
	odt := zipParts(t, "mimetype", "application/vnd.oasis.opendocument.text", "content.xml", content)
	got := officeLinkWarnings(KindODT, odt)
	if len(got) != 1 || !strings.Contains(got[0], "(../outside.png, https://example.org/part.html, /etc/passwd, …)") {
		t.Errorf("ODT: %q", got)
	}
	files, _ := filepath.Glob("../../../shared/testdata/office/*.*x")
	odfs, _ := filepath.Glob("../../../shared/testdata/office/*.od?")
	for _, f := range append(files, odfs...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := officeLinkWarnings(Detect(b), b); len(got) != 0 {
			t.Errorf("%s: %q", filepath.Base(f), got)
		}
	}
}

// FuzzOfficeLinks: any ZIP is read for links without panicking.
func FuzzOfficeLinks(f *testing.F) {
	f.Add(zipParts(f, "a/_rels/b.rels", relsNS+`<Relationship TargetMode="External" Type="x/image" Target="http://h/"/>`))
	f.Add(zipParts(f, "content.xml", `<draw:image xlink:href="../x"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		officeLinkWarnings(KindDOCX, b)
	})
}
