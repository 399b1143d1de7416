package office

import (
	"bytes"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
)

// HTML is cleaned before LibreOffice sees it. LibreOffice's HTML import
// fetches a page's style sheets (<link rel="stylesheet">) over HTTP and
// from local files even with the profile's settings, which stop linked
// images of other documents; the network namespace stops the first, not the
// second. So a page keeps only what it holds itself:
//   - elements that load something are dropped: script, link, base, iframe,
//     frame, frameset, object, embed, applet, audio, video, source, track,
//     noscript, meta refresh, and comments;
//   - attributes that point at something to load (src, srcset, background,
//     poster, data, href outside <a> and <area>, xlink:href, ...) are dropped
//     unless they are data: URLs; a picture's source becomes a blank one;
//   - in style sheets and style attributes, @import rules are dropped and
//     url(...) that is not data: becomes none.
// Hyperlinks (<a href>) stay: they are not fetched, they become the PDF's
// links. The page is decoded from its declared or detected charset and
// handed on as UTF-8.

var dropElements = map[atom.Atom]bool{
	atom.Script: true, atom.Link: true, atom.Base: true, atom.Iframe: true, atom.Frame: true,
	atom.Frameset: true, atom.Object: true, atom.Embed: true, atom.Applet: true, atom.Audio: true,
	atom.Video: true, atom.Source: true, atom.Track: true, atom.Noscript: true,
	atom.Param: true,
}

var urlAttributes = map[string]bool{
	"src": true, "srcset": true, "background": true, "poster": true, "data": true, "href": true,
	"lowsrc": true, "dynsrc": true, "longdesc": true, "codebase": true, "action": true,
	"formaction": true, "manifest": true, "xlink:href": true, "cite": true, "profile": true,
	"archive": true, "classid": true, "usemap": true, "icon": true, "ping": true, "imagesrcset": true,
}

// blankGIF is a transparent 1×1 GIF.
const blankGIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"

var elementName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9:-]*$`)

var cssImport = regexp.MustCompile(`(?i)@import[^;]*;?`)

// cleanHTML returns the page with nothing left to fetch, in UTF-8.
func cleanHTML(page []byte) ([]byte, error) {
	enc, _, _ := charset.DetermineEncoding(page, "text/html")
	if utf8, err := enc.NewDecoder().Bytes(page); err == nil {
		page = utf8
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	cleanNode(doc)
	// The page is UTF-8 now, and says so first.
	if head := find(doc, atom.Head); head != nil {
		meta := &html.Node{Type: html.ElementNode, Data: "meta", DataAtom: atom.Meta, Attr: []html.Attribute{{Key: "charset", Val: "utf-8"}}}
		head.InsertBefore(meta, head.FirstChild)
	}
	var out bytes.Buffer
	if err := html.Render(&out, doc); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func cleanNode(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == html.CommentNode:
			n.RemoveChild(c)
		case c.Type == html.ElementNode && dropElement(c):
			n.RemoveChild(c)
		default:
			if c.Type == html.ElementNode {
				if !elementName.MatchString(c.Data) {
					// "<a<video>" makes an element of that name, which
					// another parser may read otherwise: a span it is.
					c.Data, c.DataAtom = "span", atom.Span
				}
				cleanAttributes(c)
			}
			if c.Type == html.TextNode && n.Type == html.ElementNode && n.DataAtom == atom.Style {
				c.Data = cleanCSS(c.Data)
			}
			cleanNode(c)
		}
		c = next
	}
}

func dropElement(n *html.Node) bool {
	if dropElements[n.DataAtom] {
		return true
	}
	if n.DataAtom == atom.Meta {
		// Refreshes, and charsets: the page is re-encoded.
		for _, a := range n.Attr {
			if k := strings.ToLower(a.Key); k == "http-equiv" || k == "charset" {
				return true
			}
		}
	}
	// SVG's <image> and <use> load through xlink:href, dropped below; its
	// <script> and <foreignObject> go.
	return n.Namespace == "svg" && (n.Data == "script" || n.Data == "foreignObject")
}

func cleanAttributes(n *html.Node) {
	keep := n.Attr[:0]
	for _, a := range n.Attr {
		key := strings.ToLower(a.Key)
		if a.Namespace != "" {
			key = a.Namespace + ":" + key
		}
		switch {
		case strings.HasPrefix(key, "on"): // event handlers
			continue
		case key == "style":
			a.Val = cleanCSS(a.Val)
		case key == "href" && (n.DataAtom == atom.A || n.DataAtom == atom.Area) && a.Namespace == "":
			// a hyperlink, never fetched
		case urlAttributes[key] || strings.HasSuffix(key, ":href"):
			if isDataURL(a.Val) && key != "srcset" {
				break
			}
			if key == "src" && (n.DataAtom == atom.Img || n.DataAtom == atom.Input) {
				// An empty picture keeps the layout; LibreOffice's import
				// trips on some pictures without a source.
				a.Val = blankGIF
				break
			}
			continue
		}
		keep = append(keep, a)
	}
	n.Attr = keep
}

// cleanCSS drops @import rules and every url() that is not a data: URL, and
// the "<" that style sheets never need (no parser can read markup in it).
func cleanCSS(css string) string {
	css = strings.ReplaceAll(css, "<", " ")
	css = cssImport.ReplaceAllString(css, "")
	var b strings.Builder
	for {
		i := strings.Index(strings.ToLower(css), "url(")
		if i < 0 {
			b.WriteString(css)
			return b.String()
		}
		b.WriteString(css[:i])
		rest := css[i+4:]
		j := strings.IndexByte(rest, ')')
		if j < 0 {
			b.WriteString("none")
			return b.String()
		}
		if arg := strings.Trim(strings.TrimSpace(rest[:j]), `"'`); isDataURL(arg) {
			b.WriteString(css[i : i+4+j+1])
		} else {
			b.WriteString("none")
		}
		css = rest[j+1:]
	}
}

func isDataURL(s string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "data:")
}

func find(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, a); f != nil {
			return f
		}
	}
	return nil
}
