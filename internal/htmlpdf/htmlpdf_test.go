package htmlpdf

import (
	"strings"
	"testing"
)

// TestScripts prints Latin, Greek, Cyrillic, CJK, Arabic and Hebrew: each
// word is in the PDF's text and every font is embedded.
func TestScripts(t *testing.T) {
	p := newPool(t, Config{Tabs: 1})
	words := []string{"Grüße", "naïve", "Καλημέρα", "Здравствуйте", "你好世界", "こんにちは", "안녕하세요", "مرحبا", "שלום"}
	html := `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>` +
		`<p lang="de">Grüße, naïve café</p><p lang="el">Καλημέρα κόσμε</p><p lang="ru">Здравствуйте, мир</p>` +
		`<p lang="zh">你好世界</p><p lang="ja">こんにちは</p><p lang="ko">안녕하세요</p>` +
		`<p lang="ar" dir="rtl">مرحبا بالعالم</p><p lang="he" dir="rtl">שלום עולם</p><p>Emoji 🚀👍</p></body></html>`
	pdf := convert(t, p, Job{HTML: []byte(html)})
	text := pdfText(t, pdf)
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("the PDF's text lacks %q:\n%s", w, text)
		}
	}
	fonts := poppler(t, "pdffonts", pdf)
	t.Logf("pdffonts:\n%s", fonts)
	lines := strings.Split(strings.TrimSpace(fonts), "\n")
	if len(lines) < 3 {
		t.Fatalf("pdffonts lists no font:\n%s", fonts)
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		// name type... encoding emb sub uni object ID: emb is the 5th field from the end.
		if len(f) < 6 || f[len(f)-5] != "yes" {
			t.Errorf("a font is not embedded: %s", l)
		}
	}
}
