package htmlpdf

import (
	"strings"
	"testing"
)

const sampleMarkdown = "# Quarterly report\n\n" +
	"Some *emphasis*, **strong**, ~~struck~~ and `inline code`; see https://example.com/page.\n\n" +
	"| Region | Sales | Δ |\n|:-------|------:|---|\n| Europe | 1 200 | +3 % |\n| Asia 亚洲 | 3 400 | −1 % |\n\n" +
	"```go\nfunc main() {\n\tfmt.Println(\"fenced code\")\n}\n```\n\n" +
	"- first item\n- second item\n  1. nested one\n\nTasks:\n\n" +
	"- [x] done task\n- [ ] open task\n\n" +
	"<script>alert('raw html')</script>\n\n" +
	"Inline <b>bold tag</b> and <img src=\"http://127.0.0.1:1/x.png\">.\n\n" +
	"> A quote in עברית and العربية.\n"

// TestMarkdownHTML checks the HTML goldmark makes: GFM features, the
// stylesheet, and raw HTML escaped.
func TestMarkdownHTML(t *testing.T) {
	out, err := Markdown([]byte(sampleMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	html := string(out)
	for _, want := range []string{
		"<!DOCTYPE html>", "<title>Quarterly report</title>", "<style>", "Noto Sans CJK SC",
		"<table>", `<th style="text-align:left">Region</th>`, "<del>struck</del>",
		`<a href="https://example.com/page">https://example.com/page</a>`,
		`<code class="language-go">`, `<input checked="" disabled="" type="checkbox"`,
		"&lt;script&gt;alert(&#39;raw html&#39;)&lt;/script&gt;", "&lt;b&gt;bold tag&lt;/b&gt;",
		"&lt;img src=&#34;http://127.0.0.1:1/x.png&#34;&gt;",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML lacks %s", want)
		}
	}
	for _, bad := range []string{"<script>", "<b>bold", "<img src"} {
		if strings.Contains(html, bad) {
			t.Errorf("raw HTML passed through: %s", bad)
		}
	}
	if _, err := Markdown([]byte("a\x00b")); err == nil {
		t.Error("binary Markdown was accepted")
	}
	// UTF-16 with a byte order mark and invalid UTF-8 are read.
	utf16 := []byte{0xff, 0xfe, '#', 0, ' ', 0, 'H', 0, 'i', 0, ' ', 0, 0xac, 0x20}
	if out, err := Markdown(utf16); err != nil || !strings.Contains(string(out), "<h1>Hi €</h1>") {
		t.Errorf("UTF-16: %v\n%s", err, out)
	}
	if out, err := Markdown([]byte("caf\xe9")); err != nil || !strings.Contains(string(out), "caf\uFFFD") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

// TestMarkdownPDF prints the sample: its table, code, list and the escaped
// script are in the PDF's text.
func TestMarkdownPDF(t *testing.T) {
	p := newPool(t, Config{Tabs: 1})
	html, err := Markdown([]byte(sampleMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	pdf := convert(t, p, Job{HTML: html})
	text := pdfText(t, pdf)
	for _, want := range []string{
		"Quarterly report", "Region", "Sales", "Europe", "1 200", "Asia", "亚洲", "fmt.Println(\"fenced code\")",
		"first item", "second item", "nested one", "done task", "open task",
		"<script>alert('raw html')</script>", "<b>bold tag</b>", "עברית", "العربية",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("text:\n%s", text)
	}
	fonts := poppler(t, "pdffonts", pdf)
	for _, want := range []string{"NotoSans-Regular", "DejaVuSansMono", "NotoSans-Bold"} {
		if !strings.Contains(fonts, want) {
			t.Errorf("pdffonts lacks %s (the stylesheet's fonts):\n%s", want, fonts)
		}
	}
}
