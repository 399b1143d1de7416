package office

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fileconv/fileconv/internal/testfiles"
)

// zipOf makes a ZIP package of files (name, content), the first stored.
func zipOf(t testing.TB, files ...string) []byte {
	t.Helper()
	b, err := testfiles.ZipOf(files...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// linkedImageDOCX is a DOCX whose picture is linked (r:link, not embedded)
// to target, as Word's "Insert Picture > Link to File" makes.
func linkedImageDOCX(t testing.TB, target string) []byte {
	return zipOf(t,
		"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
		"word/_rels/document.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="`+target+`" TargetMode="External"/></Relationships>`,
		"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><w:body><w:p><w:r><w:t>A linked picture follows.</w:t></w:r></w:p><w:p><w:r><w:drawing><wp:inline><wp:extent cx="1905000" cy="1905000"/><wp:docPr id="1" name="Picture 1"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="linked.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:link="rId5"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="1905000" cy="1905000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p></w:body></w:document>`)
}

// linkedImageODT is an ODT whose image is a link to target.
func linkedImageODT(t testing.TB, target string) []byte {
	return zipOf(t,
		"mimetype", "application/vnd.oasis.opendocument.text",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:text2="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3"><office:body><office:text><text:p>A linked image follows.</text:p><text:p><draw:frame draw:name="img1" text:anchor-type="as-char" svg:width="3cm" svg:height="3cm"><draw:image xlink:href="`+target+`" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p></office:text></office:body></office:document-content>`,
		"META-INF/manifest.xml", `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`)
}

// linkedSectionODT is an ODT with a section linked to target (a document
// whose text Writer inserts when it updates links), whose own settings ask
// for links to be updated always.
func linkedSectionODT(t testing.TB, target string) []byte {
	return zipOf(t,
		"mimetype", "application/vnd.oasis.opendocument.text",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.3"><office:body><office:text><text:p>A linked section follows.</text:p><text:section text:name="Linked"><text:section-source xlink:href="`+target+`" xlink:type="simple" text:filter-name="HTML (StarWriter)"/><text:p>old text</text:p></text:section></office:text></office:body></office:document-content>`,
		"settings.xml", `<?xml version="1.0" encoding="UTF-8"?>
<office:document-settings xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:config="urn:oasis:names:tc:opendocument:xmlns:config:1.0" xmlns:ooo="http://openoffice.org/2004/office" office:version="1.3"><office:settings><config:config-item-set config:name="ooo:configuration-settings"><config:config-item config:name="LinkUpdateMode" config:type="short">2</config:config-item><config:config-item config:name="FieldAutoUpdate" config:type="boolean">true</config:config-item></config:config-item-set></office:settings></office:document-settings>`,
		"META-INF/manifest.xml", `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/><manifest:file-entry manifest:full-path="settings.xml" manifest:media-type="text/xml"/></manifest:manifest>`)
}

// linkedSheetODS is an ODS with a sheet linked to target, a cell that
// refers to a cell of target, and a WEBSERVICE formula, none with a saved
// result.
func linkedSheetODS(t testing.TB, target, base string) []byte {
	return zipOf(t,
		"mimetype", "application/vnd.oasis.opendocument.spreadsheet",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" office:version="1.3"><office:body><office:spreadsheet><table:table table:name="Sheet1"><table:table-row><table:table-cell office:value-type="string"><text:p>follows</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell table:formula="of:=['`+target+`'#$Sheet1.A1]"/><table:table-cell table:formula="of:=WEBSERVICE(&quot;`+base+`webservice&quot;)"/></table:table-row></table:table><table:table table:name="Linked"><table:table-source table:mode="copy-all" xlink:href="`+target+`" xlink:type="simple" table:filter-name="calc8"/><table:table-row><table:table-cell/></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>`,
		"META-INF/manifest.xml", `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`)
}

// linkingHTML is a page that refers to base+"…" in every way a page can.
func linkingHTML(base string) []byte {
	return []byte(`<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="stylesheet" href="` + base + `style.css"><link rel="icon" href="` + base + `icon.png">
<style>@import url("` + base + `import.css"); @import "` + base + `import2.css"; body { background: url(` + base + `bg.png) } @font-face { font-family: X; src: url('` + base + `font.ttf') }</style>
<base href="` + base + `"><meta http-equiv="refresh" content="0; url=` + base + `refresh.html"><script src="` + base + `script.js"></script><title>links</title></head>
<body background="` + base + `body.png"><p>An image, a frame and an object follow.</p><img src="` + base + `image.png" width="64" height="64" srcset="` + base + `image2.png 2x">
<iframe src="` + base + `frame.html"></iframe><object data="` + base + `object.png" type="image/png"></object><embed src="` + base + `embed.png">
<table background="` + base + `table.png"><tr><td background="` + base + `td.png">cell</td></tr></table><input type="image" src="` + base + `input.png">
<video poster="` + base + `poster.png" src="` + base + `video.mp4"></video><svg width="10" height="10"><image href="` + base + `svg.png" width="10" height="10"/><image xlink:href="` + base + `svg2.png" width="10" height="10"/></svg>
<p style="background-image:url(` + base + `style.png)">styled</p><noscript><img src="` + base + `noscript.png"></noscript><img src="image.png"><a href="` + base + `page.html">a hyperlink</a></body></html>`)
}

// tinyPNG is an 8×8 red PNG.
var tinyPNG = func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.Set(i%8, i/8, color.RGBA{255, 0, 0, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}()

// linkDocs are documents that link to base+"…" (a URL that ends with /).
func linkDocs(t testing.TB, base string) map[string]Job {
	return map[string]Job{
		"docx":        {Input: linkedImageDOCX(t, base+"linked.png"), From: "docx", To: "pdf"},
		"odt":         {Input: linkedImageODT(t, base+"linked.png"), From: "odt", To: "pdf"},
		"html":        {Input: linkingHTML(base), From: "html", To: "pdf"},
		"odt section": {Input: linkedSectionODT(t, base+"section.html"), From: "odt", To: "pdf"},
		"ods":         {Input: linkedSheetODS(t, base+"sheet.ods", base), From: "ods", To: "pdf"},
	}
}

// fileWatch counts opens and reads of the files of a folder (inotify).
type fileWatch struct{ fd int }

func watchFolder(t testing.TB, dir string) *fileWatch {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_OPEN|unix.IN_ACCESS); err != nil {
		t.Fatalf("inotify: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &fileWatch{fd}
}

// events drains the events seen so far: the names opened or read.
func (w *fileWatch) events() []string {
	var names []string
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if n <= 0 || err != nil {
			return names
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			names = append(names, name)
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}

// linkTargets is a server and a folder that the documents link to, counting
// what reaches them.
type linkTargets struct {
	server   *httptest.Server
	requests atomic.Int64
	paths    chan string
	dir      string
	watch    *fileWatch
}

func newLinkTargets(t *testing.T) *linkTargets {
	lt := &linkTargets{paths: make(chan string, 100), dir: t.TempDir()}
	lt.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lt.requests.Add(1)
		select {
		case lt.paths <- r.Method + " " + r.URL.Path:
		default:
		}
		w.Header().Set("Content-Type", "image/png")
		w.Write(tinyPNG)
	}))
	t.Cleanup(lt.server.Close)
	for _, name := range []string{"linked.png", "image.png", "image2.png", "object.png", "bg.png", "style.css", "frame.html", "icon.png", "import.css", "import2.css", "font.ttf", "refresh.html", "script.js", "body.png", "embed.png", "table.png", "td.png", "input.png", "poster.png", "video.mp4", "svg.png", "svg2.png", "style.png", "page.html", "noscript.png", "section.html", "sheet.ods"} {
		if err := os.WriteFile(filepath.Join(lt.dir, name), tinyPNG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lt.watch = watchFolder(t, lt.dir)
	return lt
}

func (lt *linkTargets) remote() string { return lt.server.URL + "/" }
func (lt *linkTargets) local() string  { return fileURL(lt.dir) + "/" }

// reached reports what reached the targets since the last call.
func (lt *linkTargets) reached() (requests []string, files []string) {
	time.Sleep(200 * time.Millisecond) // a late request
	for {
		select {
		case p := <-lt.paths:
			requests = append(requests, p)
		default:
			return requests, lt.watch.events()
		}
	}
}

// TestNoFetch: documents that link to a remote image (a server this test
// runs) or to a local file (a folder this test watches) make no request and
// read no file. Positive controls first: soffice --convert-to fetches and
// reads them, and so does this package's process with a profile that lacks
// its settings and without its network namespace; then the two walls, each
// alone: the profile (no namespace), and the pool as it runs.
func TestNoFetch(t *testing.T) {
	lt := newLinkTargets(t)

	t.Run("positive control: soffice fetches and reads", func(t *testing.T) {
		req, _ := soffice2(t, "remote.docx", linkedImageDOCX(t, lt.remote()+"linked.png"), lt)
		if len(req) == 0 {
			t.Error("soffice --convert-to made no request for the DOCX's linked image: the test proves nothing")
		}
		_, files := soffice2(t, "local.docx", linkedImageDOCX(t, lt.local()+"linked.png"), lt)
		if len(files) == 0 {
			t.Error("soffice --convert-to read no linked file: the test proves nothing")
		}
	})

	bare := newPool(t, Config{Processes: 1, test: testHooks{bareProfile: true, noNetNS: true, noLandlock: true}})
	t.Run("positive control: a bare profile fetches and reads", func(t *testing.T) {
		// The linked section and sheet, the ODS's external reference and
		// WEBSERVICE, and the cleaned HTML are not fetched even with a bare
		// profile (LibreOffice 7.4 updates links only for documents in
		// trusted locations): they are checked below without a control.
		for _, kind := range []string{"docx", "odt"} {
			convert(t, bare, linkDocs(t, lt.remote())[kind])
			if req, _ := lt.reached(); len(req) == 0 {
				t.Errorf("%s: LibreOfficeKit with a bare profile made no request: the test proves nothing", kind)
			}
			convert(t, bare, linkDocs(t, lt.local())[kind])
			if _, files := lt.reached(); len(files) == 0 {
				t.Errorf("%s: LibreOfficeKit with a bare profile read no linked file: the test proves nothing", kind)
			}
		}
	})

	t.Run("Landlock alone: nothing local is read", func(t *testing.T) {
		p := newPool(t, Config{Processes: 1, test: testHooks{bareProfile: true, noNetNS: true}})
		if !p.Stats().FilesLimited {
			t.Skip("no Landlock here")
		}
		for _, kind := range []string{"docx", "odt"} {
			convert(t, p, linkDocs(t, lt.local())[kind])
			if _, files := lt.reached(); len(files) > 0 {
				t.Errorf("%s: files %q were read", kind, files)
			}
		}
	})

	profileOnly := newPool(t, Config{Processes: 1, test: testHooks{noNetNS: true, noLandlock: true}})
	for name, p := range map[string]*Pool{"profile alone": profileOnly, "pool": pool(t)} {
		t.Run(name, func(t *testing.T) {
			for _, base := range []string{lt.remote(), lt.local()} {
				for kind, job := range linkDocs(t, base) {
					out := convert(t, p, job)
					if !strings.Contains(pdftotext(t, out), "follow") {
						t.Errorf("%s linking to %s: the text is missing", kind, base)
					}
					req, files := lt.reached()
					if len(req) > 0 {
						t.Errorf("%s linking to %s: requests %q reached the server", kind, base, req)
					}
					if len(files) > 0 {
						t.Errorf("%s linking to %s: files %q were opened or read", kind, base, files)
					}
				}
			}
		})
	}
}

// soffice2 converts with soffice and reports what reached the targets.
func soffice2(t *testing.T, name string, data []byte, lt *linkTargets) ([]string, []string) {
	t.Helper()
	lt.reached()
	sofficeMu.Lock()
	delete(sofficeCache, sofficeKey(name, "pdf", data))
	sofficeMu.Unlock()
	soffice(t, name, data, "pdf")
	return lt.reached()
}

// macroODT is an ODT with a Basic macro bound to its "open document" event
// (OnLoad) that writes sentinel.
func macroODT(t testing.TB, sentinel string) []byte {
	basic := fmt.Sprintf("Sub OnLoad\n  Open %q For Output As #1\n  Print #1, \"the macro ran\"\n  Close #1\nEnd Sub\n", sentinel)
	return zipOf(t,
		"mimetype", "application/vnd.oasis.opendocument.text",
		"content.xml", `<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" xmlns:ooo="http://openoffice.org/2004/office" xmlns:dom="http://www.w3.org/2001/xml-events" xmlns:xlink="http://www.w3.org/1999/xlink" office:version="1.3"><office:scripts><office:event-listeners><script:event-listener script:language="ooo:script" script:event-name="dom:load" xlink:href="vnd.sun.star.script:Standard.Module1.OnLoad?language=Basic&amp;location=document" xlink:type="simple"/></office:event-listeners></office:scripts><office:body><office:text><text:p>This document runs a macro when it opens.</text:p></office:text></office:body></office:document-content>`,
		"Basic/script-lc.xml", `<?xml version="1.0" encoding="UTF-8"?>
<library:libraries xmlns:library="http://openoffice.org/2000/library" xmlns:xlink="http://www.w3.org/1999/xlink"><library:library library:name="Standard" library:link="false" xlink:type="simple" xlink:href="Standard/script-lb.xml"/></library:libraries>`,
		"Basic/Standard/script-lb.xml", `<?xml version="1.0" encoding="UTF-8"?>
<library:library xmlns:library="http://openoffice.org/2000/library" library:name="Standard" library:readonly="false" library:passwordprotected="false"><library:element library:name="Module1"/></library:library>`,
		"Basic/Standard/Module1.xml", `<?xml version="1.0" encoding="UTF-8"?>
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic"><![CDATA[`+basic+`]]></script:module>`,
		"META-INF/manifest.xml", `<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/><manifest:file-entry manifest:full-path="Basic/" manifest:media-type="application/vnd.sun.star.basic-library"/><manifest:file-entry manifest:full-path="Basic/script-lc.xml" manifest:media-type="text/xml"/><manifest:file-entry manifest:full-path="Basic/Standard/" manifest:media-type="application/vnd.sun.star.basic-library"/><manifest:file-entry manifest:full-path="Basic/Standard/script-lb.xml" manifest:media-type="text/xml"/><manifest:file-entry manifest:full-path="Basic/Standard/Module1.xml" manifest:media-type="text/xml"/></manifest:manifest>`)
}

// TestMacrosNeverRun: an ODT whose "open document" event runs a Basic macro
// that writes a file. Positive control: LibreOfficeKit with macros enabled
// (its load options EnableMacrosExecution and MacroSecurityLevel=0) and a
// bare profile runs it. The pool as it runs does not; nor does a pool asked
// for macros through the load options, whose profile still disables them.
func TestMacrosNeverRun(t *testing.T) {
	enable := "EnableMacrosExecution=true,MacroSecurityLevel=0"
	run := func(t *testing.T, p *Pool, options string) bool {
		t.Helper()
		sentinel := filepath.Join(t.TempDir(), "macro-ran")
		job := Job{Input: macroODT(t, sentinel), From: "odt", To: "pdf", loadOptions: options}
		if !strings.Contains(pdftotext(t, convert(t, p, job)), "runs a macro") {
			t.Error("the document's text is missing")
		}
		_, err := os.Stat(sentinel)
		return err == nil
	}
	t.Run("positive control: macros enabled", func(t *testing.T) {
		p := newPool(t, Config{Processes: 1, test: testHooks{bareProfile: true, loadOptions: true, noLandlock: true}})
		if !run(t, p, enable) {
			t.Fatal("the macro did not run with macros enabled: the test proves nothing")
		}
	})
	t.Run("pool", func(t *testing.T) {
		if run(t, pool(t), "") {
			t.Error("the macro ran")
		}
	})
	t.Run("profile alone, macros asked for", func(t *testing.T) {
		p := newPool(t, Config{Processes: 1, test: testHooks{loadOptions: true, noLandlock: true}})
		if run(t, p, enable) {
			t.Error("the macro ran: the profile's DisableMacrosExecution did not stop it")
		}
	})
}

// TestDocumentsStayInMemory: each process's folder is on tmpfs, holds no
// document after its job (nor anything with the document's text: no
// recovery or autosave copy), and the process writes nothing in the
// worker's own HOME or TMPDIR.
func TestDocumentsStayInMemory(t *testing.T) {
	p := newPool(t, Config{Processes: 1})
	pid := onlyPid(t, p)
	dir := folderOf(p, pid)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != tmpfsMagic {
		t.Errorf("the folder %s is not on tmpfs (type %#x, %v)", dir, st.Type, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the folder's mode: %v %v; want 0700", fi.Mode(), err)
	}
	marker := "Zyxwvutsrq" + strconv.Itoa(os.Getpid())
	csv := []byte("marker\n" + marker + "\n")
	for _, to := range []string{"pdf", "xlsx", "ods"} {
		out := convert(t, p, Job{Input: csv, From: "csv", To: to})
		if to == "pdf" && !strings.Contains(pdftotext(t, out), marker) {
			t.Fatal("the marker is not in the PDF")
		}
	}
	convert(t, p, Job{Input: readFile(t, filepath.Join(realDocs, "python-docx-having-images.docx")), From: "docx", To: "pdf", Landscape: true})
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasPrefix(rel, "job/") {
			t.Errorf("%s is left in the job folder", rel)
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds the document's text", rel)
		}
		return nil
	})
	if pid != onlyPid(t, p) {
		t.Fatal("the process changed")
	}
	// Nothing of its own outside: its HOME and TMPDIR are in the folder.
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"HOME=" + dir + "/home", "TMPDIR=" + dir + "/tmp"} {
		if !bytes.Contains(env, []byte(v+"\x00")) {
			t.Errorf("the process's environment lacks %s", v)
		}
	}
	// The worker's own variables stay with the worker.
	for _, kv := range bytes.Split(env, []byte{0}) {
		k, _, _ := strings.Cut(string(kv), "=")
		if k != "" && !strings.HasPrefix(k, "FILECONV_INTERNAL_OFFICE") && !slices.Contains([]string{"HOME", "TMPDIR", "PATH", "LANG", "LANGUAGE", "TZ", "SAL_USE_VCLPLUGIN", "GODEBUG", "UNO_SHARED_PACKAGES_CACHE"}, k) && !strings.HasPrefix(k, "LC_") {
			t.Errorf("the process's environment has %s", k)
		}
	}
}

// TestIsolated: as root, each process has its own network namespace, whose
// only interface is a loopback that is down.
func TestIsolated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("as root only (a user namespace is used otherwise)")
	}
	p := pool(t)
	if s := p.Stats(); !s.Isolated || !s.FilesLimited {
		t.Fatalf("the processes are not isolated: %+v", s)
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	for _, pid := range p.pids() {
		ns, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
		if err != nil || ns == self {
			t.Errorf("process %d's network namespace %q (%v) is the worker's %q", pid, ns, err, self)
		}
		dev, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
		for _, line := range strings.Split(string(dev), "\n")[2:] {
			if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name != "lo" {
				t.Errorf("process %d sees interface %s", pid, name)
			}
		}
	}
}

// TestCleanHTML: a cleaned page names the base URL only in its hyperlink,
// keeps data: images, and is UTF-8.
func TestCleanHTML(t *testing.T) {
	base := "http://192.0.2.1:9/"
	out, err := cleanHTML(linkingHTML(base))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), base); n != 1 || !strings.Contains(string(out), `<a href="`+base+`page.html">`) {
		t.Errorf("the cleaned page names %s %d times; want once, in the hyperlink:\n%s", base, n, out)
	}
	img := `<img src="data:image/png;base64,AAAA"/>`
	if out, _ := cleanHTML([]byte(`<p style="background:url('data:image/png;base64,BBBB')">x</p>` + img)); !strings.Contains(string(out), img) || !strings.Contains(string(out), "data:image/png;base64,BBBB") {
		t.Errorf("data: URLs were dropped: %s", out)
	}
	latin1 := []byte("<html><head><meta charset=\"iso-8859-1\"></head><body><p>K\xf6ln</p></body></html>")
	if out, _ := cleanHTML(latin1); !strings.Contains(string(out), "Köln") || !strings.Contains(string(out), `<meta charset="utf-8"/>`) || strings.Contains(string(out), "iso-8859-1") {
		t.Errorf("a Latin-1 page became %s", out)
	}
}

// TestIsolatedUnprivileged: a worker that is not root starts its processes
// in a user namespace with their own network namespace. (Run the test
// binary as another user to see it: setpriv --reuid=65534 --regid=65534
// --clear-groups ./office.test -test.run Unprivileged.)
func TestIsolatedUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("as a user that is not root only")
	}
	p := newPool(t, Config{Processes: 1})
	if !p.Stats().Isolated {
		t.Skip("the kernel refuses unprivileged user namespaces here")
	}
	self, _ := os.Readlink("/proc/self/ns/net")
	selfUser, _ := os.Readlink("/proc/self/ns/user")
	pid := onlyPid(t, p)
	ns, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	user, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/user")
	if ns == self || user == selfUser {
		t.Errorf("the process's namespaces (net %s, user %s) are the worker's", ns, user)
	}
	out := convert(t, p, Job{Input: selfTestXLSX, From: "xlsx", To: "pdf"})
	if !strings.Contains(pdftotext(t, out), "fileconv") {
		t.Error("the conversion lost its text")
	}
}
