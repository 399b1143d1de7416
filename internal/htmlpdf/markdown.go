package htmlpdf

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Stylesheet is the default stylesheet of Markdown documents.
//
//go:embed style.css
var Stylesheet string

// markdown is GitHub-flavoured Markdown (tables, strikethrough, autolinks,
// task lists) whose raw HTML is shown as text.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithRendererOptions(
		renderer.WithNodeRenderers(util.Prioritized(escapeRawHTML{}, 100)),
	),
)

// Markdown renders GitHub-flavoured Markdown (tables, fenced code, task
// lists, strikethrough, autolinks) as a whole HTML document with the default
// stylesheet. Raw HTML in the Markdown is escaped: it shows as the text it
// is. The input is UTF-8 (or UTF-16 with a byte order mark); invalid bytes
// show as U+FFFD.
func Markdown(md []byte) ([]byte, error) {
	src, err := markdownText(md)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := markdown.Convert(src, &body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	var out bytes.Buffer
	out.Grow(body.Len() + len(Stylesheet) + 256)
	out.WriteString("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>")
	out.WriteString(html.EscapeString(markdownTitle(src)))
	out.WriteString("</title>\n<style>\n")
	out.WriteString(Stylesheet)
	out.WriteString("</style>\n</head>\n<body>\n<main class=\"markdown\">\n")
	out.Write(body.Bytes())
	out.WriteString("</main>\n</body>\n</html>\n")
	return out.Bytes(), nil
}

// markdownText checks and decodes the Markdown.
func markdownText(md []byte) ([]byte, error) {
	if len(md) >= 2 && (md[0] == 0xfe && md[1] == 0xff || md[0] == 0xff && md[1] == 0xfe) {
		big := md[0] == 0xfe
		md = md[2:]
		u := make([]uint16, len(md)/2)
		for i := range u {
			if big {
				u[i] = uint16(md[2*i])<<8 | uint16(md[2*i+1])
			} else {
				u[i] = uint16(md[2*i+1])<<8 | uint16(md[2*i])
			}
		}
		md = []byte(string(utf16.Decode(u)))
	}
	md = bytes.TrimPrefix(md, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(md[:min(len(md), 4096)], 0) >= 0 {
		return nil, fmt.Errorf("%w: the Markdown is not text (it holds NUL bytes)", ErrUnreadable)
	}
	if !utf8.Valid(md) {
		md = bytes.ToValidUTF8(md, []byte("\uFFFD"))
	}
	return md, nil
}

// markdownTitle is the text of the first heading, for the PDF's title.
func markdownTitle(src []byte) string {
	doc := markdown.Parser().Parse(text.NewReader(src))
	var title string
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			title = strings.TrimSpace(string(nodeText(h, src)))
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	return title
}

func nodeText(n ast.Node, src []byte) []byte {
	var b bytes.Buffer
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if t, ok := c.(*ast.Text); ok {
			b.Write(t.Segment.Value(src))
		} else {
			b.Write(nodeText(c, src))
		}
	}
	return b.Bytes()
}

// escapeRawHTML renders raw HTML (inline and blocks) as escaped text.
type escapeRawHTML struct{}

func (escapeRawHTML) RegisterFuncs(r renderer.NodeRendererFuncRegisterer) {
	r.Register(ast.KindRawHTML, func(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			segs := n.(*ast.RawHTML).Segments
			for i := range segs.Len() {
				s := segs.At(i)
				_, _ = w.WriteString(html.EscapeString(string(s.Value(src))))
			}
		}
		return ast.WalkSkipChildren, nil
	})
	r.Register(ast.KindHTMLBlock, func(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		b := n.(*ast.HTMLBlock)
		if entering {
			_, _ = w.WriteString(`<pre class="raw-html">`)
			lines := b.Lines()
			for i := range lines.Len() {
				s := lines.At(i)
				_, _ = w.WriteString(html.EscapeString(string(s.Value(src))))
			}
		} else {
			if b.HasClosure() {
				_, _ = w.WriteString(html.EscapeString(string(b.ClosureLine.Value(src))))
			}
			_, _ = w.WriteString("</pre>\n")
		}
		return ast.WalkContinue, nil
	})
}

var _ renderer.NodeRenderer = escapeRawHTML{}
