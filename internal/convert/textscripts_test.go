package convert

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

// textV2 converts text to PDF as a v2 client asks, and reads the PDF's text
// back with poppler.
func textV2(t *testing.T, in []byte, opts wire.Options) (Result, string) {
	t.Helper()
	c := converter(t)
	res, err := c.Run(context.Background(), Job{Target: "pdf", Input: in, Options: opts})
	if err != nil {
		t.Fatalf("text to PDF: %v", err)
	}
	back := convertOK(t, c, wire.OpPDFToText, res.Output)
	return res, string(back.Output)
}

// byPango tells the two engines' PDFs apart: Cairo signs its own.
func byPango(pdf []byte) bool { return bytes.Contains(pdf, []byte("/Producer (cairo")) }

func squeeze(s string) string { return strings.Join(strings.Fields(s), "") }

func TestTextScriptsRouting(t *testing.T) {
	japanese := "羅生門が、朱雀大路にある以上は、この男の外にも、雨やみをする市女笠や揉烏帽子が、もう二三人はありそうなものである。"
	for _, tc := range []struct {
		name  string
		text  string
		opts  wire.Options
		pango bool
	}{
		{"latin stays on the fast path", testfiles.Paragraphs(3000), wire.Options{}, false},
		{"greek and cyrillic too", "Ελληνικά και Русский текст.", wire.Options{PageSize: wire.PageSizeLetter}, false},
		{"japanese", japanese, wire.Options{}, true},
		{"hebrew needs bidi", "שלום עולם and hello", wire.Options{}, true},
		{"arabic needs shaping", "مرحبا بالعالم", wire.Options{}, true},
		{"combining marks need shaping", "cafe\u0301 na\u0308ive", wire.Options{}, true},
		{"emoji", "a rocket 🚀", wire.Options{}, true},
		{"preserve", "code\n\tindented", wire.Options{Layout: wire.LayoutPreserve}, true},
		{"font size", "big letters", wire.Options{FontSize: 20}, true},
		{"reflow named", "plain", wire.Options{Layout: wire.LayoutReflow}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, back := textV2(t, []byte(tc.text), tc.opts)
			if byPango(res.Output) != tc.pango {
				t.Errorf("typeset by Pango: %v, want %v", byPango(res.Output), tc.pango)
			}
			if res.Replaced != 0 || len(res.Warnings) != 0 {
				t.Errorf("replaced %d, warnings %q; want none", res.Replaced, res.Warnings)
			}
			if !tc.pango || !strings.ContainsAny(tc.text, "שم") {
				// Poppler reads right-to-left runs in its own order.
				if got, want := squeeze(back), squeeze(strings.ReplaceAll(tc.text, "\t", "")); got != want && !strings.Contains(tc.text, "\u0301") {
					t.Errorf("read back %q, want %q", got, want)
				}
			}
		})
	}
}

// TestTextV1KeepsTheFastPath: a v1.0 client's Latin text takes the
// original's fast path; its Japanese is typeset by Pango, as a v2 client's.
func TestTextV1KeepsTheFastPath(t *testing.T) {
	res := convertOK(t, converter(t), wire.OpTextToPDF, []byte("Paris and text, déjà vu"))
	if byPango(res.Output) || res.Replaced != 0 {
		t.Errorf("v1.0 Latin: Pango %v, replaced %d; want the fast path", byPango(res.Output), res.Replaced)
	}
	res = convertOK(t, converter(t), wire.OpTextToPDF, []byte("東京 and text"))
	if !byPango(res.Output) || res.Replaced != 0 {
		t.Errorf("v1.0 Japanese: Pango %v, replaced %d; want Pango", byPango(res.Output), res.Replaced)
	}
}

func TestTextEncodingsV2(t *testing.T) {
	text := "東京は日本の首都です。いろはにほへと ちりぬるを。"
	sjis, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte(strings.Repeat(text, 20)))
	utf16, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte("Unicode text from Notepad, 東京"))
	for _, tc := range []struct {
		name string
		in   []byte
		opts wire.Options
		want string
	}{
		{"shift_jis detected", sjis, wire.Options{}, strings.Repeat(text, 20)},
		{"shift_jis named", sjis, wire.Options{Charset: "shift_jis"}, strings.Repeat(text, 20)},
		{"utf-16 with BOM", utf16, wire.Options{}, "Unicode text from Notepad, 東京"},
		{"latin-1 named", []byte("caf\xe9 cr\xe8me br\xfbl\xe9e"), wire.Options{Charset: "iso-8859-1"}, "café crème brûlée"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Through the master's check first, as a cluster routes it.
			if k := DetectRequest(tc.in, true, tc.opts, false); k != KindText {
				t.Fatalf("DetectRequest: %s, want text", k)
			}
			res, back := textV2(t, tc.in, tc.opts)
			if squeeze(back) != squeeze(tc.want) || len(res.Warnings) != 0 {
				t.Errorf("read back %q (warnings %q), want %q", back, res.Warnings, tc.want)
			}
		})
	}
	// A v1.0 client's Shift_JIS is refused as the original refused it.
	if k := DetectRequest(sjis, true, wire.Options{}, true); k != KindUnknown {
		t.Errorf("v1.0: Shift_JIS detected as %s", k)
	}
}

func TestTextRefusalsV2(t *testing.T) {
	c := converter(t)
	for _, tc := range []struct {
		name  string
		in    string
		opts  wire.Options
		code  fail.Code
		parts []string
	}{
		{"binary", "\x89PNX\r\n\x00\x00\x00\x0dIHDR", wire.Options{}, fail.TypeMismatch, []string{"binary data, not text (a NUL byte at offset 6)"}},
		{"utf-16 without BOM", "h\x00e\x00l\x00l\x00o\x00", wire.Options{}, fail.TypeMismatch, []string{"charset=utf-16le"}},
		{"unknown charset", "text", wire.Options{Charset: "klingon-8"}, fail.BadRequest, []string{"klingon-8", "shift_jis"}},
		{"control codes", strings.Repeat("\x01\x02\x03\x84\x85", 50), wire.Options{Charset: "windows-1252"}, fail.TypeMismatch, []string{"control codes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Run(context.Background(), Job{Target: "pdf", Input: []byte(tc.in), Options: tc.opts})
			wantError(t, err, tc.code, tc.parts...)
		})
	}
	// charset is an option of text to PDF only.
	png := mustEncode(t, testfiles.Photo(8, 8), testfiles.PNG)
	_, err := c.Run(context.Background(), Job{Target: "jpg", Input: png, Options: wire.Options{Charset: "big5"}})
	wantError(t, err, fail.BadRequest, "options.charset does not apply")
}

// TestTextMissingCharacterWarns: a character no installed font has comes
// back counted and named in a warning.
func TestTextMissingCharacterWarns(t *testing.T) {
	res, _ := textV2(t, []byte("private \U0010FFFD and \U0010FFFD and 東京"), wire.Options{})
	want := "2 characters no installed font draws (U+10FFFD) are drawn as boxes"
	if res.Replaced != 2 || len(res.Warnings) != 1 || res.Warnings[0] != want {
		t.Errorf("replaced %d, warnings %q; want 2 and %q", res.Replaced, res.Warnings, want)
	}
}

// TestTextScriptsDeadline: Pango runs in a reader process, which the job's
// deadline ends however long the text.
func TestTextScriptsDeadline(t *testing.T) {
	text := strings.Repeat("東京は日本の首都です。", 200_000) // 6 MB
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := converter(t).Run(ctx, Job{Target: "pdf", Input: []byte(text)})
	wantError(t, err, fail.Timeout)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a cancelled job took %v", took)
	}
}

// TestTextScriptsRealTexts: the module cache's Japanese, Chinese and Korean
// texts in their legacy encodings come back from the PDF as their UTF-8.
func TestTextScriptsRealTexts(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "golang.org/x/text@*/encoding/testdata"))
	if len(dirs) == 0 {
		t.Skip("golang.org/x/text's encoding/testdata is not in the module cache")
	}
	for file, utf8 := range map[string]string{
		"rashomon-euc-jp.txt":               "rashomon-utf-8.txt",
		"sunzi-bingfa-traditional-big5.txt": "sunzi-bingfa-traditional-utf-8.txt",
		"unsu-joh-eun-nal-euc-kr.txt":       "unsu-joh-eun-nal-utf-8.txt",
	} {
		t.Run(file, func(t *testing.T) {
			in := readTestFile(t, filepath.Join(dirs[len(dirs)-1], file))
			want := readTestFile(t, filepath.Join(dirs[len(dirs)-1], utf8))
			res, back := textV2(t, in, wire.Options{})
			if !byPango(res.Output) || res.Replaced != 0 {
				t.Errorf("Pango %v, replaced %d", byPango(res.Output), res.Replaced)
			}
			if squeeze(back) != squeeze(string(want)) {
				t.Errorf("read back %d letters, want %d", len([]rune(squeeze(back))), len([]rune(squeeze(string(want)))))
			}
		})
	}
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	return b
}

// BenchmarkTextScripts measures TXT → PDF as a v2 client gets it: a
// megabyte of Latin text on the fast path, and a megabyte of Japanese
// through Pango in a reader process (the text sent to it and the PDF back
// included).
//
//	go test -run '^$' -bench BenchmarkTextScripts -benchtime 3x ./internal/convert/
func BenchmarkTextScripts(b *testing.B) {
	c := converter(b)
	latin := []byte(testfiles.Paragraphs(1 << 20))
	japanese := bytes.Repeat([]byte("羅生門が、朱雀大路にある以上は、この男の外にも、雨やみをする市女笠や揉烏帽子が、もう二三人はありそうなものである。\n"), 1<<20/170)
	for _, bc := range []struct {
		name string
		in   []byte
		opts wire.Options
	}{
		{"latin-1MB-fast-path", latin, wire.Options{}},
		{"latin-1MB-pango", latin, wire.Options{Layout: wire.LayoutReflow, FontSize: 11}},
		{"japanese-1MB-pango", japanese, wire.Options{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := c.Run(context.Background(), Job{Target: "pdf", Input: bc.in, Options: bc.opts}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTextWithoutFonts: where fontconfig finds no font, a text Pango would
// typeset goes through DejaVu Sans (in the binary) with a warning. Pango's
// font map is made once per process: this runs in a child.
func TestTextWithoutFonts(t *testing.T) {
	if os.Getenv("CONVERT_NO_FONTS_CHILD") != "" {
		c, err := New(Config{PDFInProcess: true})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Run(context.Background(), Job{Target: "pdf", Input: []byte("東京 and Latin")})
		if err != nil || res.Replaced != 2 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "2 characters no font of this server draws") {
			t.Fatalf("got replaced %d, warnings %q, %v", res.Replaced, res.Warnings, err)
		}
		return
	}
	testfiles.RerunWithoutFonts(t, "TestTextWithoutFonts", "CONVERT_NO_FONTS_CHILD")
}
