package office

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Page settings (Landscape, PageSize, FitWidth) are made in OpenDocument:
// the document is saved as ODT or ODS (LibreOffice's own format, nothing is
// lost), the page layouts in its styles.xml are changed here, and the
// changed copy is converted. LibreOfficeKit has no call that changes page
// styles, and its UNO commands work on one page style of the current view.
// Every page layout changes: a document whose sections use several page
// styles gets them all turned or resized. Presentations are left as they are
// (their slides have one size and turning them would not move their content).

var (
	pageLayoutProps = regexp.MustCompile(`<style:page-layout-properties\b[^>]*?/?>`)
	xmlAttr         = regexp.MustCompile(`\s([A-Za-z][\w.-]*:[\w.-]+)="([^"]*)"`)
	length          = regexp.MustCompile(`^\s*([0-9]*\.?[0-9]+)\s*(cm|mm|in|pt|pc|px)?\s*$`)
)

// paper sizes in millimetres, portrait.
var papers = map[string][2]float64{
	"a4":     {210, 297},
	"letter": {215.9, 279.4},
}

// setPages changes the page layouts of an ODT or ODS file.
func setPages(odf []byte, job wireJob) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(odf), int64(len(odf)))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	found := false
	for _, f := range zr.File {
		if f.Name != "styles.xml" {
			if err := zw.Copy(f); err != nil {
				return nil, err
			}
			continue
		}
		found = true
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		styles, err := io.ReadAll(io.LimitReader(rc, 64<<20))
		rc.Close()
		if err != nil {
			return nil, err
		}
		styles = pageLayoutProps.ReplaceAllFunc(styles, func(tag []byte) []byte {
			return []byte(changeLayout(string(tag), job))
		})
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: f.Modified})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(styles); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, errors.New("no styles.xml")
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// changeLayout rewrites one style:page-layout-properties start tag.
func changeLayout(tag string, job wireJob) string {
	closing := ">"
	body := strings.TrimSuffix(tag, ">")
	if strings.HasSuffix(body, "/") {
		closing = "/>"
		body = strings.TrimSuffix(body, "/")
	}
	var names []string
	attrs := map[string]string{}
	for _, m := range xmlAttr.FindAllStringSubmatch(body, -1) {
		if _, ok := attrs[m[1]]; !ok {
			names = append(names, m[1])
		}
		attrs[m[1]] = m[2]
	}
	set := func(name, value string) {
		if _, ok := attrs[name]; !ok {
			names = append(names, name)
		}
		attrs[name] = value
	}
	del := func(name string) { delete(attrs, name) }

	if job.Landscape || job.PageSize != "" {
		w, okW := toMM(attrs["fo:page-width"])
		h, okH := toMM(attrs["fo:page-height"])
		if !okW || !okH {
			p := papers[defaultPaper()]
			w, h = p[0], p[1]
		}
		landscape := w > h || attrs["style:print-orientation"] == "landscape"
		if p, ok := papers[strings.ToLower(job.PageSize)]; ok {
			w, h = p[0], p[1]
		}
		if job.Landscape {
			landscape = true
		}
		short, long := min(w, h), max(w, h)
		if landscape {
			w, h = long, short
			set("style:print-orientation", "landscape")
		} else {
			w, h = short, long
			set("style:print-orientation", "portrait")
		}
		set("fo:page-width", fmt.Sprintf("%.2fmm", w))
		set("fo:page-height", fmt.Sprintf("%.2fmm", h))
	}
	if job.FitWidth {
		del("style:scale-to")
		del("style:scale-to-pages")
		set("style:scale-to-X", "1")
		set("style:scale-to-Y", "0")
	}
	var b strings.Builder
	b.WriteString("<style:page-layout-properties")
	for _, n := range names {
		if v, ok := attrs[n]; ok {
			fmt.Fprintf(&b, ` %s="%s"`, n, v)
		}
	}
	b.WriteString(closing)
	return b.String()
}

// toMM reads an ODF length.
func toMM(s string) (float64, bool) {
	m := length.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v <= 0 {
		return 0, false
	}
	switch m[2] {
	case "cm":
		v *= 10
	case "in":
		v *= 25.4
	case "pt":
		v *= 25.4 / 72
	case "pc":
		v *= 25.4 / 6
	case "px":
		v *= 25.4 / 96
	}
	return v, true
}

// defaultPaper is the paper LibreOffice gives a spreadsheet that names none:
// Letter in the United States and Canada and in the C locale (LibreOffice's
// en-US), A4 elsewhere.
func defaultPaper() string {
	loc := ""
	for _, k := range []string{"LC_ALL", "LC_PAPER", "LANG"} {
		if v := os.Getenv(k); v != "" {
			loc = v
			break
		}
	}
	i := strings.IndexByte(loc, '_')
	if i < 0 {
		return "letter"
	}
	territory := loc[i+1:]
	if j := strings.IndexAny(territory, ".@"); j >= 0 {
		territory = territory[:j]
	}
	switch territory {
	case "US", "CA", "MX", "PH", "CL", "CO", "VE", "PR", "CR", "GT", "SV", "NI", "PA", "DO":
		return "letter"
	}
	return "a4"
}
