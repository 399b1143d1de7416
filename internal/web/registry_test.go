package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fileconv/fileconv/internal/convert"
)

// registerUpper adds one conversion, text to "upper", in the one place that
// says what converts to what: the registry. Nothing in the web tier is told.
func registerUpper(t *testing.T) {
	t.Helper()
	// A target cannot be unregistered, so a second run (-count 2) finds it
	// there; a target that no conversion makes is not shown anywhere.
	if _, ok := convert.LookupTarget("upper"); !ok {
		convert.RegisterTarget(convert.Target{Name: "upper", Label: "upper-case text", ContentType: "text/plain; charset=utf-8"})
	}
	convert.Register(convert.Conversion{
		Name: "test-upper", From: []convert.Kind{convert.KindText}, To: []string{"upper"}, Engine: "bytes.ToUpper",
		Run: func(_ *convert.Converter, _ context.Context, in convert.Input) (convert.Result, error) {
			return convert.Result{Output: bytes.ToUpper(in.Data)}, nil
		},
	})
	t.Cleanup(func() { convert.Unregister("test-upper") })
}

// TestRegisteredConversionShows registers text to "upper" and finds it in
// /api/v1/formats, /api/v1/detect, the OpenAPI document's enums and the page's
// drop-down and "accepted" line, and converts with it through the cluster,
// whose workers run in this process with the same registry.
func TestRegisteredConversionShows(t *testing.T) {
	registerUpper(t)
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})

	var f Formats
	if err := json.NewDecoder(s.get(t, "/api/v1/formats", false).Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(targetNames(f), "upper") {
		t.Errorf("formats' targets %v lack upper", targetNames(f))
	}
	for _, in := range f.Inputs {
		if in.Type == "text" && (!slices.Equal(in.Targets, []string{"pdf", "upper"}) || in.Default != "pdf") {
			t.Errorf("text converts to %v (default %s), want pdf then upper", in.Targets, in.Default)
		}
	}
	var in Input
	if err := json.NewDecoder(s.post(t, "/api/v1/detect", "", strings.NewReader("notes\n"), nil).Body).Decode(&in); err != nil || !slices.Contains(in.Targets, "upper") {
		t.Errorf("detect: %+v %v", in, err)
	}

	doc := openAPIDoc(t, s)
	for _, path := range [][]string{
		{"paths", "/api/v1/convert", "post", "parameters", "to", "schema"},
		{"paths", "/api/v1/convert", "post", "requestBody", "content", "multipart/form-data", "schema", "properties", "to"},
		{"components", "schemas", "Formats", "properties", "targets", "items", "properties", "to"},
		{"components", "schemas", "Input", "properties", "targets", "items"},
	} {
		if enum := enumAt(t, doc, path...); !slices.Contains(enum, "upper") {
			t.Errorf("the enum at %s is %v, without upper", strings.Join(path, " "), enum)
		}
	}

	resp := s.post(t, "/api/v1/convert?to=upper&name=notes.txt", "", strings.NewReader("hello, world\n"), nil)
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(out) != "HELLO, WORLD\n" {
		t.Errorf("convert to upper: %s %q", resp.Status, out)
	}

	t.Run("page", func(t *testing.T) { pageOffersUpper(t, s) })
}

// convertTextOnPage drops a text file on the page, chooses target for it and
// converts it, returning the browser for what the test checks next.
func convertTextOnPage(t *testing.T, s *stack, target string) context.Context {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(p, []byte("quiet words\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, t.TempDir())
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitReady(`body[data-ready="true"]`),
		chromedp.SetUploadFiles(`#file-input`, []string{p}),
		chromedp.WaitReady(row("notes.txt")+` option[value="`+target+`"]`),
		chromedp.SetValue(row("notes.txt")+` select`, target),
		chromedp.Click(row("notes.txt")+` button.convert`),
		chromedp.WaitReady(row("notes.txt")+`[data-status="done"]`),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// pageOffersUpper drives the page: the "accepted" line names UPPER, and a
// text file's drop-down offers upper, which converts.
func pageOffersUpper(t *testing.T, s *stack) {
	ctx := convertTextOnPage(t, s, "upper")
	accepted, err := chromedp.Run(ctx, chromedp.Text(`#accepted`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(accepted, "text to PDF or UPPER") {
		t.Errorf("the accepted line %q does not say text converts to UPPER", accepted)
	}
	state, err := chromedp.Run(ctx, chromedp.Text(row("notes.txt")+` .state`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(state, "notes.upper") {
		t.Errorf("the row says %q, want the result notes.upper", state)
	}
}
