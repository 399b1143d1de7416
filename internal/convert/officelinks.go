package convert

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strings"
)

// An office document may link pictures and other content from a server or
// a file instead of holding them; LibreOffice is kept from loading any
// (internal/office), so the PDF lacks them. officeLinkWarnings says so, from
// the package itself: an Office Open XML part's external relationships, an
// OpenDocument's xlink:href to anything outside the package.

// maxLinkScan bounds what is read of one part for links: the relationship
// parts are small, and the links of an OpenDocument are in its first
// megabytes in every real document.
const maxLinkScan = 16 << 20

// officeLinkWarnings are the warnings of an office document of kind k.
func officeLinkWarnings(k Kind, b []byte) []string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil
	}
	var links []string
	for _, f := range zr.File {
		switch {
		case strings.HasSuffix(f.Name, ".rels"):
			links = append(links, externalRelationships(f)...)
		case f.Name == "content.xml" || f.Name == "styles.xml":
			links = append(links, odfLinks(f)...)
		}
	}
	if len(links) == 0 {
		return nil
	}
	shown, more := links[:min(len(links), maxGapAddresses)], ""
	if len(links) > len(shown) {
		more = ", …"
	}
	return []string{fmt.Sprintf("the %s shows content it links to but does not hold (%s%s): fileconv loads nothing from servers or files, so the PDF lacks it",
		k.Info().Short, strings.Join(shown, ", "), more)}
}

// externalRelationships lists the targets of a relationship part's external
// relationships that bring content into the document: pictures, frames,
// sub-documents, objects. Hyperlinks stay links in the PDF.
func externalRelationships(f *zip.File) []string {
	var links []string
	eachElement(f, func(e xml.StartElement) {
		if e.Name.Local != "Relationship" || attr(e, "TargetMode") != "External" {
			return
		}
		switch path.Base(attr(e, "Type")) {
		case "image", "frame", "subDocument", "oleObject", "package", "video", "audio", "media", "attachedTemplate":
			links = append(links, attr(e, "Target"))
		}
	})
	return links
}

// odfLinks lists an OpenDocument part's links to content outside the
// package: pictures, objects and linked sections (text:section-source).
func odfLinks(f *zip.File) []string {
	var links []string
	eachElement(f, func(e xml.StartElement) {
		switch e.Name.Local {
		case "image", "object", "object-ole", "section-source", "plugin", "applet":
		default:
			return
		}
		href := attr(e, "href")
		if href == "" || href == "." || !outsidePackage(href) {
			return
		}
		links = append(links, href)
	})
	return links
}

// outsidePackage reports whether an OpenDocument link leaves the package:
// it has a scheme or is absolute, or climbs out of it (the package is a
// folder to the links inside it).
func outsidePackage(href string) bool {
	if strings.Contains(href, ":") || strings.HasPrefix(href, "/") {
		return true
	}
	return strings.HasPrefix(path.Clean(strings.TrimPrefix(href, "./")), "..")
}

// eachElement calls fn on each start element of f, reading at most
// maxLinkScan bytes; a part that is not XML ends the walk.
func eachElement(f *zip.File, fn func(xml.StartElement)) {
	r, err := f.Open()
	if err != nil {
		return
	}
	defer r.Close()
	d := xml.NewDecoder(io.LimitReader(r, maxLinkScan))
	d.Strict = false
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		if e, ok := tok.(xml.StartElement); ok {
			fn(e)
		}
	}
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
