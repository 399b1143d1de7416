package convert

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

// scriptingBrowser is a fakeBrowser that runs scripts.
type scriptingBrowser struct{ fakeBrowser }

func (scriptingBrowser) RunsScripts() bool { return true }

// A page's references to servers and files, and its scripts with JavaScript
// off, come back as warnings; what the document holds itself does not.
func TestWebPageWarnings(t *testing.T) {
	page := `<!DOCTYPE html><html><head>
<link rel="stylesheet" href="http://127.0.0.1:9/site.css"><link rel="icon" href="/favicon.ico">
<style>body { background: url("file:///etc/passwd") } .x { background: url(data:image/png;base64,AAAA) }</style>
<script src="https://cdn.example/app.js"></script><script>document.title = "x"</script></head>
<body><img src="logo.png"><img src="data:image/gif;base64,R0lGODlh"><img srcset="a.png 1x, b.png 2x">
<iframe src="file:///etc/hostname"></iframe><a href="https://example.org/">a link is not loaded</a>
<p style="background-image: url('http://example.org/bg.jpg')">text</p></body></html>`
	for _, tt := range []struct {
		engine BrowserEngine
		want   []string
	}{
		{&fakeBrowser{}, []string{
			"the page names 1 style sheet, 2 pictures or fonts of styles, 3 pictures and 1 frame to load " +
				"(http://127.0.0.1:9/site.css, file:///etc/passwd, logo.png, …): fileconv loads nothing from servers or files, so they are not in the PDF",
			"the page's scripts did not run: JavaScript is off on this worker",
		}},
		{&scriptingBrowser{}, []string{
			"the page names 1 style sheet, 2 pictures or fonts of styles, 1 script, 3 pictures and 1 frame to load " +
				"(http://127.0.0.1:9/site.css, file:///etc/passwd, https://cdn.example/app.js, …): fileconv loads nothing from servers or files, so they are not in the PDF",
		}},
	} {
		if got := webPageWarnings([]byte(page), false, tt.engine); !slices.Equal(got, tt.want) {
			t.Errorf("warnings:\n%q\nwant\n%q", got, tt.want)
		}
	}
	md := "# Notes\n\n![chart](https://example.org/chart.png) ![inline](data:image/png;base64,AAAA)\n\n<img src=http://x/raw.png>\n"
	want := []string{"the Markdown names 1 picture to load (https://example.org/chart.png): fileconv loads nothing from servers or files, so they are not in the PDF"}
	if got := webPageWarnings([]byte(md), true, &fakeBrowser{}); !slices.Equal(got, want) {
		t.Errorf("Markdown: %q", got)
	}
	self := "<!doctype html><style>p { color: red }</style><p>All here <img src=\"data:image/png;base64,AAAA\"> <a href=\"#top\">top</a>"
	if got := webPageWarnings([]byte(self), false, &fakeBrowser{}); len(got) != 0 {
		t.Errorf("a page that holds everything: %q", got)
	}
	// The warnings reach the result.
	base := converter(t)
	c := &Converter{cfg: base.cfg, font: base.font}
	c.SetBrowserEngine(&fakeBrowser{})
	res, err := c.Convert(context.Background(), "pdf", []byte(page), wire.Options{})
	if err != nil || len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "site.css") {
		t.Errorf("the result's warnings: %q, %v", res.Warnings, err)
	}
}

// FuzzWebGaps: any page or Markdown is read without panicking.
func FuzzWebGaps(f *testing.F) {
	f.Add([]byte(`<img srcset=", ,"><style>url(</style><link rel=stylesheet>`), false)
	f.Add([]byte("![a](<>)\n[x]: http://y\n![b][x]"), true)
	f.Fuzz(func(t *testing.T, doc []byte, markdown bool) {
		webPageWarnings(doc, markdown, &fakeBrowser{})
	})
}
