package htmlpdf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestParams(t *testing.T) {
	for _, c := range []struct {
		job Job
		ok  bool
	}{
		{Job{}, true}, {Job{PageSize: "letter"}, true}, {Job{PageSize: " A3 "}, true},
		{Job{PageSize: "B5"}, false}, {Job{Margin: 200}, false}, {Job{Margin: -1}, true},
		{Job{Pages: "1-3,7"}, true}, {Job{Pages: " 2- , -4 "}, true}, {Job{Pages: "0"}, false},
		{Job{Pages: "3-1"}, false}, {Job{Pages: "a"}, false}, {Job{Pages: ","}, false}, {Job{Pages: "-"}, false},
		{Job{Pages: "1;2"}, false},
	} {
		_, err := c.job.params()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrOptions)) {
			t.Errorf("%+v: %v", c.job, err)
		}
	}
	pp, _ := Job{}.params()
	if math.Abs(pp.margin*25.4-10) > 1e-9 || math.Abs(pp.width*25.4-210) > 1e-9 {
		t.Errorf("defaults: %+v", pp)
	}
}

func TestPolicyPlacement(t *testing.T) {
	for in, prefix := range map[string]string{
		"<!DOCTYPE html><html><p>x":                  "<!DOCTYPE html><meta ",
		"\uFEFF <!-- c --> <!doctype html>\n<p>x":    "\uFEFF <!-- c --> <!doctype html>\n<meta ",
		"<p>no doctype":                              "<meta ",
		"<html><head><meta charset=utf-8></head>x":   "<meta ",
		"<!DOCTYPE html PUBLIC \"-//W3C//DTD\"><p>x": "<!DOCTYPE html PUBLIC \"-//W3C//DTD\"><meta ",
	} {
		if out := withPolicy(in, false); !strings.HasPrefix(out, prefix) || !strings.Contains(out, "default-src 'none'") {
			t.Errorf("%q → %q", in, out)
		}
	}
}

func TestDecodeHTML(t *testing.T) {
	sjis := append([]byte(`<meta charset="shift_jis"><p>`), 0x93, 0xfa, 0x96, 0x7b) // 日本
	for in, want := range map[string]string{
		string(sjis):                      "日本",
		"\xef\xbb\xbf<p>café":             "<p>café",
		"<p>caf\xe9":                      "<p>café", // windows-1252
		"\xff\xfe<\x00p\x00>\x00\xac\x20": "<p>€",
		"<meta charset=utf-8><p>ok":       "<meta charset=utf-8><p>ok",
	} {
		got, err := decodeHTML([]byte(in))
		if err != nil || !strings.Contains(got, want) || strings.HasPrefix(got, "\uFEFF") {
			t.Errorf("%q → %q, %v (want %q)", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "  \n", "PK\x03\x04\x00\x00binary"} {
		if _, err := decodeHTML([]byte(bad)); !errors.Is(err, ErrUnreadable) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestPageOptions checks paper sizes, orientation, margins and page ranges
// in what pdfinfo and pdftotext -bbox read back.
func TestPageOptions(t *testing.T) {
	p := newPool(t, Config{Tabs: 1})
	threePages := `<style>body { margin: 0 } p { break-after: page; margin: 0 }</style><p>PAGE-ONE</p><p>PAGE-TWO</p><p>PAGE-THREE</p>`
	const tolerance = 1.0 // points
	for _, c := range []struct {
		job           Job
		w, h          float64
		pages         int
		firstX        float64 // where the first word starts: the left margin
		words, absent []string
	}{
		{Job{}, 595.28, 841.89, 3, 28.35, []string{"PAGE-ONE", "PAGE-THREE"}, nil},
		{Job{PageSize: "Letter"}, 612, 792, 3, 28.35, nil, nil},
		{Job{PageSize: "A4", Landscape: true}, 841.89, 595.28, 3, 28.35, nil, nil},
		{Job{PageSize: "Letter", Landscape: true, Margin: 72}, 792, 612, 3, 72, nil, nil},
		{Job{Margin: -1}, 595.28, 841.89, 3, 0, nil, nil},
		{Job{Pages: "2"}, 595.28, 841.89, 1, 28.35, []string{"PAGE-TWO"}, []string{"PAGE-ONE", "PAGE-THREE"}},
		{Job{Pages: "1,3"}, 595.28, 841.89, 2, 28.35, []string{"PAGE-ONE", "PAGE-THREE"}, []string{"PAGE-TWO"}},
		{Job{Pages: "2-"}, 595.28, 841.89, 2, 28.35, []string{"PAGE-TWO", "PAGE-THREE"}, []string{"PAGE-ONE"}},
	} {
		c.job.HTML = []byte(threePages)
		pdf := convert(t, p, c.job)
		w, h, pages := pageSize(t, pdf)
		if math.Abs(w-c.w) > tolerance || math.Abs(h-c.h) > tolerance || pages != c.pages {
			t.Errorf("%+v: %.2f × %.2f pt, %d pages; want %.2f × %.2f, %d", c.job.desc(), w, h, pages, c.w, c.h, c.pages)
		}
		bbox := poppler(t, "pdftotext", pdf, "-bbox")
		m := regexp.MustCompile(`<word xMin="([\d.]+)"`).FindStringSubmatch(bbox)
		if m == nil {
			t.Fatalf("no word in\n%s", bbox)
		}
		if x, _ := strconv.ParseFloat(m[1], 64); math.Abs(x-c.firstX) > 2 {
			t.Errorf("%+v: the first word starts at x=%.2f pt; want the margin, %.2f", c.job.desc(), x, c.firstX)
		}
		text := pdfText(t, pdf)
		for _, w := range c.words {
			if !strings.Contains(text, w) {
				t.Errorf("%+v: %s missing", c.job.desc(), w)
			}
		}
		for _, w := range c.absent {
			if strings.Contains(text, w) {
				t.Errorf("%+v: %s should not be there", c.job.desc(), w)
			}
		}
	}
	// Ranges past the end are an options error, and the tab stays usable.
	_, err := p.Convert(context.Background(), Job{HTML: []byte(threePages), Pages: "7-9"})
	if !errors.Is(err, ErrOptions) {
		t.Errorf("pages 7-9 of 3: %v", err)
	} else {
		t.Logf("pages 7-9 of 3: %v", err)
	}
	convert(t, p, Job{HTML: []byte("<p>after</p>")})
	if s := p.Stats(); s.Starts != 1 {
		t.Errorf("%d starts", s.Starts)
	}
}

// TestEncodings: documents in Shift_JIS, windows-1251 and UTF-16 print their
// text.
func TestEncodings(t *testing.T) {
	p := newPool(t, Config{Tabs: 1})
	for name, c := range map[string]struct {
		doc  []byte
		want string
	}{
		"shift_jis":    {append([]byte(`<meta charset="shift_jis"><p>`), 0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea), "日本語"},
		"windows-1251": {append([]byte(`<meta http-equiv="Content-Type" content="text/html; charset=windows-1251"><p>`), 0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2), "Привет"},
		"utf-16le":     {[]byte("\xff\xfe<\x00p\x00>\x00\x2c\x67\xac\x20"), "本€"},
	} {
		text := pdfText(t, convert(t, p, Job{HTML: c.doc}))
		if !strings.Contains(text, c.want) {
			t.Errorf("%s: %q not in %q", name, c.want, text)
		}
	}
}

func (j Job) desc() string {
	return fmt.Sprintf("{%s landscape=%v margin=%g pages=%q}", j.PageSize, j.Landscape, j.Margin, j.Pages)
}
