package textenc

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

var (
	modTextOnce sync.Once
	modTextDir  string
)

// modTexts is x/text's folder of real texts in many encodings (Project
// Gutenberg's, converted by their producers), in the Go module cache.
func modTexts(t testing.TB) string {
	modTextOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return
		}
		dirs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "golang.org", "x", "text@*", "encoding", "testdata"))
		if len(dirs) > 0 {
			modTextDir = dirs[len(dirs)-1]
		}
	})
	if modTextDir == "" {
		t.Skip("golang.org/x/text's encoding/testdata is not in the module cache (go mod download golang.org/x/text)")
	}
	return modTextDir
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s is missing", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameText compares decoded text with its UTF-8 original, which some files
// end without the final line end the encoded one has.
func sameText(t *testing.T, got, want []byte) {
	t.Helper()
	got, want = bytes.TrimRight(got, "\r\n"), bytes.TrimRight(want, "\r\n")
	if bytes.Equal(got, want) {
		return
	}
	n := 0
	for n < len(got) && n < len(want) && got[n] == want[n] {
		n++
	}
	t.Errorf("decoded text differs from the UTF-8 original at byte %d of %d: got %q, want %q",
		n, len(want), got[n:min(len(got), n+40)], want[n:min(len(want), n+40)])
}

// TestDetectRealTexts decodes the Gutenberg texts in their legacy encodings
// with no charset given, as a user who does not know it would send them.
func TestDetectRealTexts(t *testing.T) {
	dir := modTexts(t)
	for _, tc := range []struct{ file, utf8, charset string }{
		{"rashomon-shift-jis.txt", "rashomon-utf-8.txt", "shift_jis"},
		{"rashomon-euc-jp.txt", "rashomon-utf-8.txt", "euc-jp"},
		{"rashomon-iso-2022-jp.txt", "rashomon-utf-8.txt", "iso-2022-jp"},
		{"sunzi-bingfa-simplified-gbk.txt", "sunzi-bingfa-simplified-utf-8.txt", "gb18030"},
		{"candide-gb18030.txt", "candide-utf-8.txt", "gb18030"},
		{"sunzi-bingfa-traditional-big5.txt", "sunzi-bingfa-traditional-utf-8.txt", "big5"},
		{"unsu-joh-eun-nal-euc-kr.txt", "unsu-joh-eun-nal-utf-8.txt", "euc-kr"},
		{"candide-windows-1252.txt", "candide-utf-8.txt", "windows-1252"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Decode(readFile(t, filepath.Join(dir, tc.file)), "")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Charset != tc.charset || got.How != HowDetected || got.Invalid != 0 {
				t.Errorf("got charset %q (%s), %d invalid; want %q detected, 0 invalid", got.Charset, got.How, got.Invalid, tc.charset)
			}
			sameText(t, got.UTF8, readFile(t, filepath.Join(dir, tc.utf8)))
		})
	}
}

// TestUnicodeForms covers UTF-8 with and without a BOM, UTF-16 and UTF-32
// with a BOM, and without one (refused, with the charset to name, then
// accepted with it).
func TestUnicodeForms(t *testing.T) {
	dir := modTexts(t)
	want := readFile(t, filepath.Join(dir, "candide-utf-8.txt"))
	le16 := readFile(t, filepath.Join(dir, "candide-utf-16le.txt"))
	be32 := readFile(t, filepath.Join(dir, "candide-utf-32be.txt"))
	be16, err := unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewEncoder().Bytes(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, charset, wantCharset string
		in                         []byte
		how                        How
	}{
		{"utf-8", "", "utf-8", want, HowUTF8},
		{"utf-8 BOM", "", "utf-8", append([]byte("\xEF\xBB\xBF"), want...), HowBOM},
		{"utf-16le BOM", "", "utf-16le", append([]byte{0xFF, 0xFE}, le16...), HowBOM},
		{"utf-16be BOM", "", "utf-16be", append([]byte{0xFE, 0xFF}, be16...), HowBOM},
		{"utf-32be BOM", "", "utf-32be", append([]byte{0, 0, 0xFE, 0xFF}, be32...), HowBOM},
		{"utf-16le named", "UTF-16LE", "utf-16le", le16, HowNamed},
		{"utf-16be named", "utf-16be", "utf-16be", be16, HowNamed},
		{"utf-32be named", "utf-32be", "utf-32be", be32, HowNamed},
		// The BOM wins over the name, as in browsers.
		{"BOM over name", "windows-1252", "utf-16le", append([]byte{0xFF, 0xFE}, le16...), HowBOM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in, tc.charset)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Charset != tc.wantCharset || got.How != tc.how {
				t.Errorf("got %q (%s), want %q (%s)", got.Charset, got.How, tc.wantCharset, tc.how)
			}
			sameText(t, got.UTF8, want)
		})
	}
	for _, tc := range []struct {
		in   []byte
		hint string
	}{{le16, "charset=utf-16le"}, {be16, "charset=utf-16be"}, {be32, "charset=utf-32be"}} {
		_, err := Decode(tc.in, "")
		if !errors.Is(err, ErrBinary) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("UTF-16/32 without BOM: got %v, want ErrBinary naming %s", err, tc.hint)
		}
	}
}

// greek is article 1 of the Universal Declaration of Human Rights and a
// pangram, in Greek.
const greek = `Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και τα δικαιώματα.
Είναι προικισμένοι με λογική και συνείδηση, και οφείλουν να συμπεριφέρονται μεταξύ τους
με πνεύμα αδελφοσύνης. Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.
Φάτε μερικά από αυτά τα μαλακά γαλλικά κουλουράκια και πίνετε λίγο τσάι.
Άλλοι έρχονται στην Αθήνα, Άνδρος και Άρτα.
`

// TestDetectEncoded encodes real texts as legacy tools would write them and
// detects them: GnuPG's Russian, Polish and Turkish help (Debian's
// gnupg-l10n), and Greek.
func TestDetectEncoded(t *testing.T) {
	gnupg := func(lang string) []byte {
		return readFile(t, "/usr/share/gnupg/help."+lang+".txt")
	}
	for _, tc := range []struct {
		name string
		text func() []byte
		enc  encoding.Encoding
		// charset is what the text is decoded as: WHATWG's superset of the
		// encoding it was written in.
		charset string
	}{
		{"russian windows-1251", func() []byte { return gnupg("ru") }, charmap.Windows1251, "windows-1251"},
		{"russian koi8-r", func() []byte { return gnupg("ru") }, charmap.KOI8R, "koi8-r"},
		{"russian iso-8859-5", func() []byte { return gnupg("ru") }, charmap.ISO8859_5, "iso-8859-5"},
		{"russian ibm866", func() []byte { return gnupg("ru") }, charmap.CodePage866, "ibm866"},
		{"polish windows-1250", func() []byte { return gnupg("pl") }, charmap.Windows1250, "windows-1250"},
		{"polish iso-8859-2", func() []byte { return gnupg("pl") }, charmap.ISO8859_2, "iso-8859-2"},
		{"turkish iso-8859-9", func() []byte { return gnupg("tr") }, charmap.ISO8859_9, "windows-1254"},
		{"greek iso-8859-7", func() []byte { return []byte(strings.Repeat(greek, 3)) }, charmap.ISO8859_7, "iso-8859-7"},
		{"greek windows-1253", func() []byte { return []byte(strings.Repeat(greek, 3)) }, charmap.Windows1253, "windows-1253"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.text()
			in, err := tc.enc.NewEncoder().Bytes(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(in, "")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Charset != tc.charset {
				t.Errorf("detected %q, want %q", got.Charset, tc.charset)
			}
			sameText(t, got.UTF8, want)
		})
	}
}

// TestNamedCharsets decodes with the names users give.
func TestNamedCharsets(t *testing.T) {
	dir := modTexts(t)
	for _, tc := range []struct{ file, utf8, charset, canonical string }{
		{"rashomon-shift-jis.txt", "rashomon-utf-8.txt", "shift_jis", "shift_jis"},
		{"rashomon-shift-jis.txt", "rashomon-utf-8.txt", "cp932", "shift_jis"},
		{"rashomon-euc-jp.txt", "rashomon-utf-8.txt", "EUC-JP", "euc-jp"},
		{"candide-gb18030.txt", "candide-utf-8.txt", "gb18030", "gb18030"},
		{"sunzi-bingfa-simplified-gbk.txt", "sunzi-bingfa-simplified-utf-8.txt", "gb2312", "gbk"},
		{"sunzi-bingfa-traditional-big5.txt", "sunzi-bingfa-traditional-utf-8.txt", "big5", "big5"},
		{"unsu-joh-eun-nal-euc-kr.txt", "unsu-joh-eun-nal-utf-8.txt", "euc-kr", "euc-kr"},
		// HZ is 7-bit, so never detected (it would take any text with "~{"
		// for Chinese), only named.
		{"sunzi-bingfa-gb-levels-1-and-2-hz-gb2312.txt", "sunzi-bingfa-gb-levels-1-and-2-utf-8.txt", "hz-gb-2312", "hz-gb-2312"},
	} {
		t.Run(tc.charset+" "+tc.file, func(t *testing.T) {
			got, err := Decode(readFile(t, filepath.Join(dir, tc.file)), tc.charset)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Charset != tc.canonical || got.How != HowNamed {
				t.Errorf("got %q (%s), want %q named", got.Charset, got.How, tc.canonical)
			}
			sameText(t, got.UTF8, readFile(t, filepath.Join(dir, tc.utf8)))
		})
	}
	for name, enc := range map[string]encoding.Encoding{"windows-1251": charmap.Windows1251, "iso-8859-7": charmap.ISO8859_7, "koi8-r": charmap.KOI8R} {
		in, _ := enc.NewEncoder().Bytes([]byte("Съешь же ещё"))
		if name == "iso-8859-7" {
			in, _ = enc.NewEncoder().Bytes([]byte("Η γρήγορη καφέ αλεπού"))
		}
		got, err := Decode(in, name)
		if err != nil || got.Charset != name || got.How != HowNamed {
			t.Errorf("%s: got %q %s %v", name, got.Charset, got.How, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")
	controls := bytes.Repeat([]byte("\x01\x02\x03\xff\xfe"), 100)
	for _, tc := range []struct {
		name, charset string
		in            []byte
		want          error
		says          string
	}{
		{"png", "", png, ErrBinary, "binary data"},
		{"controls", "", controls, ErrBinary, "control codes"},
		{"NUL in UTF-8", "", []byte("hello\x00world"), ErrBinary, "NUL byte at offset 5"},
		{"controls named", "windows-1252", controls, ErrBinary, "control codes"},
		{"NUL named", "koi8-r", []byte("abc\x00def"), ErrBinary, "NUL"},
		{"unknown name", "klingon-8", []byte("abc"), ErrUnknownCharset, "klingon-8"},
	} {
		_, err := Decode(tc.in, tc.charset)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
}

func TestUTF8Cases(t *testing.T) {
	// A text that is UTF-8 comes back as it is, control characters
	// included: the converter drops those it cannot draw.
	in := []byte("plain \x1b[31mred\x1b[0m text\x01 and ünïcödé")
	got, err := Decode(in, "")
	if err != nil || !bytes.Equal(got.UTF8, in) || got.How != HowUTF8 {
		t.Errorf("got %q %s %v", got.UTF8, got.How, err)
	}
	// UTF-8 named but damaged: each run of bad bytes becomes one U+FFFD.
	got, err = Decode([]byte("caf\xe9 cr\xe8me \xff\xfe"), "utf-8")
	if err != nil || got.Invalid != 3 || string(got.UTF8) != "caf\uFFFD cr\uFFFDme \uFFFD" {
		t.Errorf("got %q, %d invalid, %v", got.UTF8, got.Invalid, err)
	}
	// UTF-8 cut inside its last character.
	got, err = Decode([]byte("caf\xc3"), "")
	if err != nil || got.Charset != "utf-8" || got.Invalid != 1 || string(got.UTF8) != "caf\uFFFD" {
		t.Errorf("cut UTF-8: got %q %q %d %v", got.UTF8, got.Charset, got.Invalid, err)
	}
	// Not UTF-8 and too short to tell: a Latin-1 word.
	got, err = Decode([]byte("caf\xe9"), "")
	t.Logf("a short Latin-1 word: %q %q %v", got.UTF8, got.Charset, err)
}

func TestConcurrent(t *testing.T) {
	dir := modTexts(t)
	sjis := readFile(t, filepath.Join(dir, "rashomon-shift-jis.txt"))
	big5 := readFile(t, filepath.Join(dir, "sunzi-bingfa-traditional-big5.txt"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			in, want := sjis, "shift_jis"
			if i%2 == 1 {
				in, want = big5, "big5"
			}
			for range 20 {
				if got, err := Decode(in, ""); err != nil || got.Charset != want {
					t.Errorf("got %q %v, want %s", got.Charset, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzDecode checks that any bytes, with any charset name, give valid UTF-8
// or a refusal, never a panic; and that UTF-8 text comes back unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "hello", "caf\xe9", "\xEF\xBB\xBFbom", "\xFF\xFEa\x00", "\x00\x00\xFE\xFF\x00\x00\x00a",
		"\x1b$B$3$s$K$A$O\x1b(B", "~{<:Ky2;S{#,~}", "\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", "\xc4\xe3\xba\xc3"} {
		for _, cs := range []string{"", "shift_jis", "utf-16be", "gb18030", "nope"} {
			f.Add([]byte(s), cs)
		}
	}
	if dir := os.Getenv("FILECONV_FUZZ_TEXTS"); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		for _, file := range files {
			b, _ := os.ReadFile(file)
			f.Add(b[:min(len(b), 2048)], "")
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, charset string) {
		got, err := Decode(b, charset)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("error %v is not an *Error with a message", err)
			}
			return
		}
		if !utf8.Valid(got.UTF8) || got.Charset == "" || got.How == "" {
			t.Fatalf("Decode(%q, %q) = %q (%q, %q): not valid UTF-8 or undescribed", b, charset, got.UTF8, got.Charset, got.How)
		}
		if charset == "" && utf8.Valid(b) && !bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) && got.Charset == "utf-8" && !bytes.Equal(got.UTF8, b) {
			t.Fatalf("UTF-8 text %q came back changed: %q", b, got.UTF8)
		}
	})
}
