package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/wire"
)

// noteWarnings are what the test conversion says: a comma, a percent sign, a
// plus and non-ASCII, each of which a header value must encode.
var noteWarnings = []string{"the text has 3 tabs, drawn as spaces", "ünïcödé: 100% + \"more\""}

// registerNoted adds text to "noted", a conversion that upper-cases the text
// and warns, until the test ends.
func registerNoted(t *testing.T) {
	t.Helper()
	if _, ok := convert.LookupTarget("noted"); !ok {
		convert.RegisterTarget(convert.Target{Name: "noted", Label: "upper-case text with warnings", ContentType: "text/plain; charset=utf-8"})
	}
	convert.Register(convert.Conversion{
		Name: "test-noted", From: []convert.Kind{convert.KindText}, To: []string{"noted"},
		Run: func(_ *convert.Converter, _ context.Context, in convert.Input) (convert.Result, error) {
			return convert.Result{Output: bytes.ToUpper(in.Data), Warnings: noteWarnings}, nil
		},
	})
	t.Cleanup(func() { convert.Unregister("test-noted") })
}

// waitAnnounced waits until every worker announces text to target: until its
// first probe, a worker is taken to do the original conversions only.
func waitAnnounced(t *testing.T, s *stack, target string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st := s.master.Status()
		if len(st.Workers) > 0 && !slices.ContainsFunc(st.Workers, func(w master.WorkerStatus) bool {
			return !w.Announced || !w.Converts.Can(convert.KindText, target)
		}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers never announced text to %s", target)
		}
	}
}

func decodeWarnings(t *testing.T, h http.Header) []string {
	t.Helper()
	var ws []string
	for _, v := range h.Values(warningsHeader) {
		w, err := url.PathUnescape(v)
		if err != nil {
			t.Fatalf("header value %q: %v", v, err)
		}
		ws = append(ws, w)
	}
	return ws
}

func TestEncodeWarning(t *testing.T) {
	for _, w := range append(noteWarnings, "plain words stay readable", "a%2Cb is not a comma", "tab\there, line\r\nbreak") {
		v := encodeWarning(w)
		if strings.ContainsAny(v, ",+\r\n\t") || strings.IndexFunc(v, func(r rune) bool { return r > 0x7e }) >= 0 {
			t.Errorf("%q encodes as %q", w, v)
		}
		if back, err := url.PathUnescape(v); err != nil || back != w {
			t.Errorf("%q encodes as %q, which decodes to %q (%v)", w, v, back, err)
		}
	}
	if v := encodeWarning("the GIF has 12 frames; the PNG holds the first"); v != "the GIF has 12 frames; the PNG holds the first" {
		t.Errorf("an ASCII warning without commas is encoded: %q", v)
	}

	// The most and longest warnings the protocol carries, non-ASCII: what the
	// answer's headers hold stays bounded, and says how many were left out.
	var many []string
	for range wire.MaxWarnings {
		many = append(many, strings.Repeat("é", wire.MaxWarningLen/2))
	}
	h := http.Header{}
	setWarnings(h, many)
	size := 0
	for _, v := range h.Values(warningsHeader) {
		size += len(v)
	}
	got := decodeWarnings(t, h)
	if size > maxWarningsHeader || len(got) < 2 || got[0] != many[0] || got[len(got)-1] != "15 more warnings were left out of this answer" {
		t.Errorf("%d bytes of header for %d warnings: %q", size, len(got), got)
	}
}

// TestWarningsHeader converts through the cluster with a conversion that
// warns: the answer carries each warning in a header line of its own, a
// conversion without warnings has none, and a browser shows them.
func TestWarningsHeader(t *testing.T) {
	registerNoted(t)
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})
	waitAnnounced(t, s, "noted")

	resp := s.post(t, "/api/v1/convert?to=noted&name=notes.txt", "", strings.NewReader("quiet words\n"), nil)
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(out) != "QUIET WORDS\n" {
		t.Fatalf("convert to noted: %s %q", resp.Status, out)
	}
	if got := decodeWarnings(t, resp.Header); !slices.Equal(got, noteWarnings) {
		t.Errorf("warnings %q (header %q), want %q", got, resp.Header.Values(warningsHeader), noteWarnings)
	}
	resp = s.post(t, "/api/v1/convert?to=pdf&name=notes.txt", "", strings.NewReader("quiet words\n"), nil)
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || resp.Header.Values(warningsHeader) != nil {
		t.Errorf("a conversion without warnings: %s, warnings %q", resp.Status, resp.Header.Values(warningsHeader))
	}
	s.logs.WaitFor(t, "msg=\"web conversion\"")
	if !strings.Contains(s.logs.String(), "to=noted") || !strings.Contains(s.logs.String(), "warnings=2") {
		t.Errorf("the web tier's line does not count the warnings:\n%s", s.logs.String())
	}

	if _, err := object(openAPIDoc(t, s), "paths", "/api/v1/convert", "post", "responses", "200", "headers", warningsHeader); err != nil {
		t.Errorf("the OpenAPI document does not describe the header: %v", err)
	}

	t.Run("page", func(t *testing.T) { pageShowsWarnings(t, s) })
}

// pageShowsWarnings drives the page: a result with warnings reads "Done, with
// warnings" and lists them under the file.
func pageShowsWarnings(t *testing.T, s *stack) {
	ctx := convertTextOnPage(t, s, "noted")
	state, err := chromedp.Run(ctx, chromedp.Text(row("notes.txt")+` .state`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(state, "Done, with warnings: notes.noted") {
		t.Errorf("the row says %q, want Done, with warnings", state)
	}
	note, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('li[data-name="notes.txt"] .note li')).map(li => li.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(note, noteWarnings) {
		t.Errorf("the note under the file lists %q, want %q", note, noteWarnings)
	}
}
