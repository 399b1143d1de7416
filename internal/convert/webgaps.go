package convert

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// A web page printed by fileconv loads nothing (docs/security.md): what it
// names on a server or in a file is missing from its PDF, and its scripts
// run only where the operator turned JavaScript on. The warnings here say
// so, from the document itself, before the browser sees it.

// ScriptRunner is a browser engine that can say whether it runs a page's
// scripts; an engine that cannot is taken to run none.
type ScriptRunner interface {
	RunsScripts() bool
}

// webGaps counts, by what they are, the things a page names that fileconv
// does not load, and remembers the first few addresses.
type webGaps struct {
	counts  map[string]int
	order   []string
	seen    []string
	scripts int // <script> elements, inline or not
	// scriptsRun: the engine runs scripts, so a script it does not load is
	// missing; otherwise no script runs, which one warning says.
	scriptsRun bool
}

const maxGapAddresses = 3

func (g *webGaps) add(what, ref string) {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") || hasScheme(ref, "data:") || hasScheme(ref, "about:") {
		return
	}
	if g.counts == nil {
		g.counts = map[string]int{}
	}
	if g.counts[what] == 0 {
		g.order = append(g.order, what)
	}
	g.counts[what]++
	if len(g.seen) < maxGapAddresses {
		g.seen = append(g.seen, ref)
	}
}

func hasScheme(ref, scheme string) bool {
	return len(ref) >= len(scheme) && strings.EqualFold(ref[:len(scheme)], scheme)
}

// What a page's elements load, by what the user would call it.
var loadedBy = map[atom.Atom]struct{ attr, what string }{
	atom.Img: {"src", "picture"}, atom.Input: {"src", "picture"}, atom.Image: {"href", "picture"},
	atom.Iframe: {"src", "frame"}, atom.Frame: {"src", "frame"},
	atom.Audio: {"src", "audio or video"}, atom.Video: {"src", "audio or video"}, atom.Source: {"src", "audio or video"},
	atom.Track: {"src", "audio or video"}, atom.Object: {"data", "embedded object"}, atom.Embed: {"src", "embedded object"},
	atom.Script: {"src", "script"},
}

// cssURL finds what a style sheet loads: url(...) and @import "...".
var cssURL = regexp.MustCompile(`(?i)url\(\s*['"]?([^'")\s]*)|@import\s+['"]([^'"]+)`)

func (g *webGaps) css(style string) {
	for _, m := range cssURL.FindAllStringSubmatch(style, -1) {
		g.add("picture or font of a style", m[1]+m[2])
	}
}

// scanHTML reads a page's tags for what they load.
func (g *webGaps) scanHTML(page []byte) {
	z := html.NewTokenizer(bytes.NewReader(page))
	inStyle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.TextToken:
			if inStyle {
				g.css(string(z.Text()))
			}
		case html.EndTagToken:
			inStyle = false
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			inStyle = t.DataAtom == atom.Style
			g.tag(t)
		}
	}
}

func (g *webGaps) tag(t html.Token) {
	attrs := map[string]string{}
	for _, a := range t.Attr {
		attrs[a.Key] = a.Val
	}
	if t.DataAtom == atom.Script {
		g.scripts++
	}
	if l, ok := loadedBy[t.DataAtom]; ok && (t.DataAtom != atom.Script || g.scriptsRun) {
		g.add(l.what, attrs[l.attr])
	}
	for _, src := range strings.Split(attrs["srcset"], ",") {
		if f := strings.Fields(src); len(f) > 0 {
			g.add("picture", f[0])
		}
	}
	if t.DataAtom == atom.Video {
		g.add("picture", attrs["poster"])
	}
	if t.DataAtom == atom.Link && strings.Contains(strings.ToLower(attrs["rel"]), "stylesheet") {
		g.add("style sheet", attrs["href"])
	}
	g.css(attrs["style"])
}

// scanMarkdown finds a Markdown document's pictures; its raw HTML is shown
// as text (internal/htmlpdf), so it loads nothing.
func (g *webGaps) scanMarkdown(md []byte) {
	doc := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser().Parse(text.NewReader(md))
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if img, ok := n.(*ast.Image); ok && entering {
			g.add("picture", string(img.Destination))
		}
		return ast.WalkContinue, nil
	})
}

// warnings says, in the user's words, what the PDF lacks.
func (g *webGaps) warnings(what string) []string {
	var out []string
	if n := len(g.order); n > 0 {
		var parts []string
		for _, w := range g.order {
			parts = append(parts, countOf(g.counts[w], w))
		}
		list := strings.Join(parts, ", ")
		if n > 1 {
			list = strings.Join(parts[:n-1], ", ") + " and " + parts[n-1]
		}
		total := 0
		for _, c := range g.counts {
			total += c
		}
		more := ""
		if total > len(g.seen) {
			more = ", …"
		}
		out = append(out, fmt.Sprintf("the %s names %s to load (%s%s): fileconv loads nothing from servers or files, so they are not in the PDF",
			what, list, strings.Join(g.seen, ", "), more))
	}
	if g.scripts > 0 && !g.scriptsRun {
		out = append(out, fmt.Sprintf("the %s's scripts did not run: JavaScript is off on this worker", what))
	}
	return out
}

// countOf is "1 picture", "2 pictures".
func countOf(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	plural := map[string]string{"audio or video": "audio or video files", "picture or font of a style": "pictures or fonts of styles"}[what]
	if plural == "" {
		plural = what + "s"
	}
	return fmt.Sprintf("%d %s", n, plural)
}

// webPageWarnings are the warnings of a web page (or Markdown) printed by
// engine.
func webPageWarnings(doc []byte, markdown bool, engine BrowserEngine) []string {
	runs, ok := engine.(ScriptRunner)
	g := webGaps{scriptsRun: ok && runs.RunsScripts()}
	what := "page"
	if markdown {
		what = "Markdown"
		g.scanMarkdown(doc)
	} else {
		g.scanHTML(doc)
	}
	return g.warnings(what)
}
