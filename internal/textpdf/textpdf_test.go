package textpdf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"

	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/textenc"
)

// Real texts in scripts the modules' test data lacks: article 1 of the
// Universal Declaration of Human Rights in Thai, Hindi, Hebrew and Arabic
// (the UN's translations), with Latin words and numbers mixed into the
// right-to-left ones.
const (
	thai = "มนุษย์ทั้งหลายเกิดมามีอิสระและเสมอภาคกันในเกียรติศักดิ์และสิทธิ ต่างมีเหตุผลและมโนธรรม " +
		"และควรปฏิบัติต่อกันด้วยเจตนารมณ์แห่งภราดรภาพ"
	hindi = "सभी मनुष्यों को गौरव और अधिकारों के मामले में जन्मजात स्वतन्त्रता और समानता प्राप्त है। " +
		"उन्हें बुद्धि और अन्तरात्मा की देन प्राप्त है और परस्पर उन्हें भाईचारे के भाव से बर्ताव करना चाहिए।"
	hebrew = "כל בני אדם נולדו בני חורין ושווים בערכם ובזכויותיהם. כולם חוננו בתבונה ובמצפון, " +
		"לפיכך חובה עליהם לנהוג איש ברעהו ברוח של אחווה. (Article 1, UDHR 1948)"
	arabic = "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وهم قد وهبوا العقل والوجدان " +
		"وعليهم أن يعامل بعضهم بعضًا بروح الإخاء. The PDF of fileconv 2.0 keeps it, 1948."
	greek         = "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα."
	russian       = "Все люди рождаются свободными и равными в своем достоинстве и правах. Они наделены разумом и совестью."
	greekCyrillic = greek + "\n\n" + russian
	// Emoji of Unicode 9 and before, which a monochrome font (Symbola) draws
	// as outlines that keep their text.
	emoji = "Emoji: 😀 🚀 ❤ ☕ 🎉 👍 ✈ ☺ 🐍 🌍 — and text around them."
)

func needTools(t testing.TB) {
	for _, tool := range []string{"pdftotext", "pdffonts", "fc-list"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian poppler-utils, fontconfig)", tool)
		}
	}
}

func render(t testing.TB, text string, o Options) Result {
	t.Helper()
	res, err := Render(context.Background(), []byte(text), o)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if !bytes.HasPrefix(res.PDF, []byte("%PDF-")) {
		t.Fatalf("output starts %q, not a PDF", res.PDF[:min(len(res.PDF), 16)])
	}
	return res
}

// tool runs a poppler tool on pdf, written to a test folder: the tools read
// files, not pipes.
func tool(t testing.TB, pdf []byte, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(name, append(args, path, "-")...).Output()
	if name == "pdffonts" || name == "pdfinfo" {
		out, err = exec.Command(name, append(args, path)...).Output()
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out)
}

// checkFontsEmbedded reads pdffonts' table: every font's "emb" is "yes".
func checkFontsEmbedded(t *testing.T, pdf []byte) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(tool(t, pdf, "pdffonts")), "\n")
	if len(lines) < 3 {
		t.Fatalf("pdffonts lists no font:\n%s", strings.Join(lines, "\n"))
	}
	// The columns' offsets come from the dashes under the header.
	cols := regexp.MustCompile(`-+`).FindAllStringIndex(lines[1], -1)
	var names []string
	for _, l := range lines[2:] {
		name := strings.TrimSpace(l[:cols[0][1]])
		emb := strings.TrimSpace(l[cols[3][0]:min(len(l), cols[3][1])])
		if emb != "yes" {
			t.Errorf("font %s is not embedded (emb %q)", name, emb)
		}
		names = append(names, name)
	}
	return names
}

// letters normalises text for comparison: NFC, without white space and the
// bidi controls pdftotext adds around right-to-left runs.
func letters(s string) []rune {
	var out []rune
	for _, r := range norm.NFC.String(s) {
		switch {
		case unicode.IsSpace(r), r == 0x200E, r == 0x200F, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		default:
			out = append(out, r)
		}
	}
	return out
}

// checkText compares what pdftotext reads from the PDF with the input,
// letter for letter. pdftotext -raw gives the letters in the order they
// are drawn, which is the input's for left-to-right text; for text with
// right-to-left runs it is the screen's order around the runs it could not
// put back in logical order, so there the comparison is of the letters as
// a multiset: each is there as many times as in the input.
func checkText(t *testing.T, pdf []byte, input string, rtl bool) {
	t.Helper()
	got, want := letters(tool(t, pdf, "pdftotext", "-raw", "-enc", "UTF-8")), letters(input)
	if !rtl {
		if !slices.Equal(got, want) {
			n := 0
			for n < len(got) && n < len(want) && got[n] == want[n] {
				n++
			}
			t.Errorf("pdftotext differs from the input at letter %d of %d: got %q, want %q",
				n, len(want), string(got[n:min(len(got), n+20)]), string(want[n:min(len(want), n+20)]))
		}
		return
	}
	count := map[rune]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	for r, n := range count {
		if n != 0 {
			t.Errorf("pdftotext has %q %d times less than the input", r, n)
		}
	}
}

func modText(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env GOMODCACHE: %v", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "golang.org", "x", "text@*", "encoding", "testdata"))
	if len(dirs) == 0 {
		t.Skip("golang.org/x/text's encoding/testdata is not in the module cache (go mod download golang.org/x/text)")
	}
	b, err := os.ReadFile(filepath.Join(dirs[len(dirs)-1], name))
	if err != nil {
		t.Skipf("%s: %v", name, err)
	}
	return string(b)
}

// TestScripts typesets a text in each script and reads it back.
func TestScripts(t *testing.T) {
	needTools(t)
	for _, tc := range []struct {
		name string
		text func(*testing.T) string
		rtl  bool
		// font matches the name of a font that must be embedded.
		font string
	}{
		{"chinese simplified", func(t *testing.T) string { return modText(t, "sunzi-bingfa-simplified-utf-8.txt") }, false, "NotoSans(Mono)?CJK"},
		{"chinese traditional", func(t *testing.T) string { return modText(t, "sunzi-bingfa-traditional-utf-8.txt") }, false, "NotoSans(Mono)?CJK"},
		{"japanese", func(t *testing.T) string { return modText(t, "rashomon-utf-8.txt") }, false, "NotoSans(Mono)?CJKjp"},
		{"korean", func(t *testing.T) string { return modText(t, "unsu-joh-eun-nal-utf-8.txt") }, false, "NotoSans(Mono)?CJKkr"},
		{"thai", func(*testing.T) string { return strings.Repeat(thai+" ", 12) }, false, "NotoSansThai"},
		{"devanagari", func(*testing.T) string { return strings.Repeat(hindi+" ", 6) }, false, "NotoSansDevanagari"},
		{"hebrew and latin", func(*testing.T) string { return strings.Repeat(hebrew+" ", 6) }, true, "NotoSansHebrew|DejaVuSansMono"},
		{"arabic and latin", func(*testing.T) string { return strings.Repeat(arabic+" ", 6) }, true, "NotoSansArabic"},
		{"emoji", func(*testing.T) string { return emoji }, false, "Symbola"},
		{"greek and cyrillic", func(*testing.T) string { return greekCyrillic }, false, "NotoSans-Regular|DejaVuSansMono"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.font == "Symbola" && exec.Command("fc-list", "-q", "Symbola").Run() != nil {
				t.Skip("Symbola is not installed (Debian fonts-symbola): emoji would be colour bitmaps, without their text")
			}
			text := tc.text(t)
			for _, layout := range Layouts {
				res := render(t, text, Options{Layout: layout})
				if res.Missing != 0 {
					t.Errorf("%s: %d characters drawn as boxes (%q), want none", layout, res.Missing, res.MissingChars)
				}
				fonts := checkFontsEmbedded(t, res.PDF)
				if !slices.ContainsFunc(fonts, regexp.MustCompile(tc.font).MatchString) {
					t.Errorf("%s: no %s among the fonts %v", layout, tc.font, fonts)
				}
				checkText(t, res.PDF, text, tc.rtl)
				checkMargins(t, res.PDF)
			}
		})
	}
}

var (
	pageRE = regexp.MustCompile(`<page width="([\d.]+)" height="([\d.]+)">`)
	wordRE = regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`)
)

// checkMargins reads every word's box (pdftotext -bbox): none passes a
// margin, whatever the script's way of breaking lines (Thai has no spaces
// between words, Chinese and Japanese none at all).
func checkMargins(t *testing.T, pdf []byte) {
	t.Helper()
	out := tool(t, pdf, "pdftotext", "-bbox")
	page := pageRE.FindStringSubmatch(out)
	if page == nil {
		t.Fatal("pdftotext -bbox: no page")
	}
	w, _ := strconv.ParseFloat(page[1], 64)
	// 1 pt of slack: glyph outlines may reach past their advance.
	lo, hi := marginPt-1, w-marginPt+1
	for _, m := range wordRE.FindAllStringSubmatch(out, -1) {
		x0, _ := strconv.ParseFloat(m[1], 64)
		x1, _ := strconv.ParseFloat(m[3], 64)
		if x0 < lo || x1 > hi {
			t.Errorf("word %q spans x %.1f to %.1f, outside the margins %.1f to %.1f", m[5], x0, x1, lo, hi)
			return
		}
	}
}

// TestMissingCharacters: a character no installed font has is drawn as a
// box and counted; one that a font has is not.
func TestMissingCharacters(t *testing.T) {
	needTools(t)
	res := render(t, "private use \U0010FFFD and again \U0010FFFD, then Latin.", Options{})
	if res.Missing != 2 || !slices.Equal(res.MissingChars, []rune{0x10FFFD}) {
		t.Errorf("got %d missing %q, want 2 of U+10FFFD", res.Missing, res.MissingChars)
	}
	// Runic: drawn when a font has it (Noto Sans Runic, fonts-noto-core).
	out, err := exec.Command("fc-list", ":charset=16a0", "family").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	if strings.TrimSpace(string(out)) == "" {
		want = 3
	}
	if res := render(t, "ᚠᚢᚦ runes", Options{}); res.Missing != want {
		t.Errorf("runic: %d missing, want %d (fc-list has %q)", res.Missing, want, out)
	}
}

// TestPreserve keeps line breaks, blank lines and indentation, and wraps a
// line wider than the page inside the margins.
func TestPreserve(t *testing.T) {
	needTools(t)
	code := "func main() {\n\tif x {\n\t\treturn 1 // tab-indented\n\t}\n\n\n    spaced   out    words\n}\n"
	long := strings.Repeat("0123456789", 30)
	res := render(t, code+long+"\n", Options{Layout: Preserve})
	checkMargins(t, res.PDF)
	got := strings.Split(strings.TrimRight(tool(t, res.PDF, "pdftotext", "-layout"), "\n\f"), "\n")
	want := strings.Split(strings.ReplaceAll(code, "\t", "        "), "\n")
	for i, w := range want[:len(want)-1] {
		if i >= len(got) || strings.TrimSpace(got[i]) != strings.TrimSpace(w) {
			t.Fatalf("line %d: got %q, want %q (all: %q)", i+1, got[min(i, len(got)-1)], w, got)
		}
	}
	// Indentation: each level is further right.
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	if !(indent(got[0]) < indent(got[1]) && indent(got[1]) < indent(got[2])) {
		t.Errorf("indentation lost: %q", got[:3])
	}
	wrapped := strings.Join(got[len(want)-1:], "")
	if strings.ReplaceAll(wrapped, " ", "") != long {
		t.Errorf("the long line comes back as %q", got[len(want)-1:])
	}
	if len(got)-len(want)+1 < 3 {
		t.Errorf("a line of 300 digits took %d lines, want at least 3 at 80 a line", len(got)-len(want)+1)
	}
}

// TestReflowParagraphs follows the fast path's rule: lines of a paragraph
// joined, blank lines between paragraphs.
func TestReflowParagraphs(t *testing.T) {
	needTools(t)
	res := render(t, "one\ntwo  three\n \t\nfour\r\nfive\rsix\u2029seven", Options{})
	got := strings.Fields(strings.ReplaceAll(tool(t, res.PDF, "pdftotext", "-raw"), "\n", " | "))
	if s := strings.Join(got, " "); s != "one two three | four five six | seven | \f" && s != "one two three | four five six | seven |" {
		t.Errorf("got %q", s)
	}
}

func TestOptions(t *testing.T) {
	needTools(t)
	text := testfiles.Paragraphs(20_000)
	a4 := render(t, text, Options{})
	letter := render(t, text, Options{PageSize: "Letter"})
	if info := tool(t, letter.PDF, "pdfinfo"); !strings.Contains(info, "612 x 792 pts (letter)") {
		t.Errorf("Letter pages: pdfinfo says %q", info)
	}
	if info := tool(t, a4.PDF, "pdfinfo"); !strings.Contains(info, "595.276 x 841.89 pts (A4)") {
		t.Errorf("A4 pages: pdfinfo says %q", info)
	}
	big := render(t, text, Options{FontSize: 22})
	if big.Pages < 3*a4.Pages {
		t.Errorf("22 pt took %d pages, 11 pt %d: want about four times as many", big.Pages, a4.Pages)
	}
	_, err := Render(context.Background(), []byte(text), Options{MaxPages: 2})
	if !errors.Is(err, ErrTooManyPages) {
		t.Errorf("MaxPages 2: got %v, want ErrTooManyPages", err)
	}
	for _, o := range []Options{{Layout: "justify"}, {FontSize: 2}, {FontSize: 100}, {PageSize: "A3"}} {
		if _, err := Render(context.Background(), []byte("x"), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	again := render(t, text, Options{})
	if !bytes.Equal(again.PDF, a4.PDF) {
		t.Error("the same text gave two different PDFs")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Render(ctx, []byte(text), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

// TestLongParagraph: a paragraph of a megabyte is laid out in pieces, and
// none of its words is lost or doubled at the seams.
func TestLongParagraph(t *testing.T) {
	needTools(t)
	words := strings.Fields(testfiles.Paragraphs(200_000))
	text := strings.Join(words, " ")
	for _, layout := range Layouts {
		res := render(t, text, Options{Layout: layout})
		got := strings.Fields(strings.ReplaceAll(tool(t, res.PDF, "pdftotext", "-raw"), "\f", ""))
		if layout == Reflow && !slices.Equal(got, words) {
			t.Errorf("%s: %d words back of %d", layout, len(got), len(words))
		}
		if layout == Preserve && !slices.Equal(letters(strings.Join(got, "")), letters(text)) {
			t.Errorf("%s: letters differ", layout)
		}
	}
	cjk := strings.Repeat(strings.Join(strings.Fields(modText(t, "rashomon-utf-8.txt")), ""), 4)
	res := render(t, cjk, Options{})
	checkText(t, res.PDF, cjk, false)
}

func TestGuessLang(t *testing.T) {
	for text, want := range map[string]string{
		"東京は日本の首都です。": "ja", "漢字": "zh-cn", "한국어 漢字": "ko", "plain": "en", "Ελληνικά": "en",
	} {
		if got := GuessLang([]byte(text)); got != want {
			t.Errorf("GuessLang(%q) = %q, want %q", text, got, want)
		}
	}
}

// TestConcurrentCallers: Render is safe to call from several goroutines
// (they take turns).
func TestConcurrentCallers(t *testing.T) {
	var wg sync.WaitGroup
	results := make([][]byte, 4)
	for i := range results {
		wg.Go(func() {
			res, err := Render(context.Background(), []byte(thai+hebrew+emoji), Options{})
			if err != nil {
				t.Error(err)
			}
			results[i] = res.PDF
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		if !bytes.Equal(r, results[0]) {
			t.Error("concurrent calls gave different PDFs")
		}
	}
}

// TestEncodings: texts in legacy encodings, decoded by textenc as the
// converter does, come back from the PDF as their UTF-8 originals.
func TestEncodings(t *testing.T) {
	needTools(t)
	for _, tc := range []struct{ file, utf8 string }{
		{"rashomon-shift-jis.txt", "rashomon-utf-8.txt"},
		{"rashomon-euc-jp.txt", "rashomon-utf-8.txt"},
		{"rashomon-iso-2022-jp.txt", "rashomon-utf-8.txt"},
		{"sunzi-bingfa-simplified-gbk.txt", "sunzi-bingfa-simplified-utf-8.txt"},
		{"sunzi-bingfa-traditional-big5.txt", "sunzi-bingfa-traditional-utf-8.txt"},
		{"unsu-joh-eun-nal-euc-kr.txt", "unsu-joh-eun-nal-utf-8.txt"},
		{"candide-gb18030.txt", "candide-utf-8.txt"},
		{"candide-windows-1252.txt", "candide-utf-8.txt"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			decoded, err := textenc.Decode([]byte(modText(t, tc.file)), "")
			if err != nil {
				t.Fatal(err)
			}
			res := render(t, string(decoded.UTF8), Options{})
			if res.Missing != 0 {
				t.Errorf("%d characters drawn as boxes: %q", res.Missing, res.MissingChars)
			}
			checkFontsEmbedded(t, res.PDF)
			checkText(t, res.PDF, modText(t, tc.utf8), false)
		})
	}
	for _, tc := range []struct {
		charset, text string
		enc           encoding.Encoding
	}{
		{"windows-1251", russian, charmap.Windows1251},
		{"koi8-r", russian, charmap.KOI8R},
		{"iso-8859-7", greek, charmap.ISO8859_7},
	} {
		t.Run(tc.charset, func(t *testing.T) {
			in, err := tc.enc.NewEncoder().Bytes([]byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := textenc.Decode(in, tc.charset)
			if err != nil {
				t.Fatal(err)
			}
			res := render(t, string(decoded.UTF8), Options{})
			checkFontsEmbedded(t, res.PDF)
			checkText(t, res.PDF, tc.text, false)
		})
	}
}

// peakRSS is the process's peak resident memory (VmHWM), in MiB.
func peakRSS() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkRender typesets a megabyte of Latin text (paragraphs of
// testfiles) and of Japanese (Rashomon, repeated).
func BenchmarkRender(b *testing.B) {
	latin := []byte(testfiles.Paragraphs(1 << 20))
	var cjk []byte
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "golang.org/x/text@*/encoding/testdata/rashomon-utf-8.txt"))
		if len(files) > 0 {
			one, _ := os.ReadFile(files[0])
			for len(cjk) < 1<<20 {
				cjk = append(cjk, one...)
			}
		}
	}
	for _, bc := range []struct {
		name string
		text []byte
		o    Options
	}{
		{"latin-1MB-reflow", latin, Options{}},
		{"latin-1MB-preserve", latin, Options{Layout: Preserve}},
		{"cjk-1MB-reflow", cjk, Options{}},
		{"cjk-1MB-preserve", cjk, Options{Layout: Preserve}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if len(bc.text) == 0 {
				b.Skip("no Japanese text in the module cache")
			}
			b.SetBytes(int64(len(bc.text)))
			var res Result
			for b.Loop() {
				var err error
				if res, err = Render(context.Background(), bc.text, bc.o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Pages), "pages")
			b.ReportMetric(float64(len(res.PDF))/(1<<20), "MiB-pdf")
			b.ReportMetric(peakRSS(), "MiB-peak-rss")
		})
	}
}

// TestNoFonts: on a machine where fontconfig finds no font, Render says so
// (ErrNoFonts) rather than make a PDF of boxes. The font map is made once per
// process, so this runs in a child with a configuration that lists no fonts.
func TestNoFonts(t *testing.T) {
	if os.Getenv("TEXTPDF_NO_FONTS_CHILD") != "" {
		_, err := Render(context.Background(), []byte("text"), Options{})
		if !errors.Is(err, ErrNoFonts) {
			t.Fatalf("got %v, want ErrNoFonts", err)
		}
		return
	}
	testfiles.RerunWithoutFonts(t, "TestNoFonts", "TEXTPDF_NO_FONTS_CHILD")
}
