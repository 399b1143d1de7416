package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func decodeError(t *testing.T, resp *http.Response) apiError {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var e apiError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	return e
}

func TestConvertRawBody(t *testing.T) {
	s := startStack(t, stackOptions{workers: 2})
	resp := s.post(t, "/api/v1/convert?to=jpg&name=holiday%20photo.png&quality=70", "image/png", bytes.NewReader(pngFile(t, 64, 48)), nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s: %s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Errorf("Content-Type %q", ct)
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || params["filename"] != "holiday photo.jpg" {
		t.Errorf("Content-Disposition %q: %v %v", resp.Header.Get("Content-Disposition"), params, err)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("result is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Errorf("result is %v, want 64×48", b)
	}
	if resp.Trailer.Get("Fileconv-Job-Id") == "" || len(resp.Trailer.Get("Fileconv-Result-Sha256")) != 64 {
		t.Errorf("trailers %v: want Fileconv-Job-Id and Fileconv-Result-Sha256", resp.Trailer)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
}

func multipartBody(t *testing.T, fields map[string]string, fileField, fileName string, data []byte) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile(fileField, fileName)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func TestConvertMultipart(t *testing.T) {
	s := startStack(t, stackOptions{})
	ct, body := multipartBody(t, map[string]string{"to": "pdf", "page_size": "Letter"}, "file", "notes/../Ünïcode \"notes\".txt", []byte("Hello, wörld.\n\nSecond paragraph.\n"))
	resp := s.post(t, "/api/v1/convert", ct, body, nil)
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s: %s", resp.Status, out)
	}
	if !bytes.HasPrefix(out, []byte("%PDF-")) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("not a PDF: %q %q", resp.Header.Get("Content-Type"), out[:min(len(out), 20)])
	}
	cd := resp.Header.Get("Content-Disposition")
	_, params, err := mime.ParseMediaType(cd)
	if err != nil || params["filename"] != `Ünïcode "notes".pdf` {
		t.Errorf("Content-Disposition %q parses to %q (%v)", cd, params["filename"], err)
	}
	if !strings.Contains(cd, `filename="_n_code _notes_.pdf"`) {
		t.Errorf("Content-Disposition %q: want an ASCII fallback", cd)
	}
	// The query wins over nothing; a form field after the file is ignored.
	ct, body = multipartBody(t, nil, "upload", "photo.png", pngFile(t, 16, 16))
	resp = s.post(t, "/api/v1/convert?to=webp", ct, body, nil)
	out, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(out, []byte("RIFF")) {
		t.Fatalf("multipart with ?to=webp: %s %q", resp.Status, out[:min(20, len(out))])
	}
}

func TestErrors(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.MaxBodyBytes = 1 << 20 }})
	png := pngFile(t, 8, 8)
	tests := []struct {
		name, path, ct string
		body           []byte
		header         map[string]string
		status         int
		code, message  string
		jobID          bool
	}{
		{name: "no token", path: "/api/v1/convert?to=jpg", body: png, header: map[string]string{"Authorization": ""},
			status: 401, code: "unauthorized", message: "no token"},
		{name: "wrong token", path: "/api/v1/convert?to=jpg", body: png, header: map[string]string{"Authorization": "Bearer nope"},
			status: 401, code: "unauthorized", message: "Invalid authentication token"},
		{name: "no target", path: "/api/v1/convert", body: png, status: 400, code: "bad_request", message: "?to="},
		{name: "unknown target", path: "/api/v1/convert?to=bmp", body: png, status: 400, code: "bad_request", message: `"bmp" is not a format fileconv makes; use jpg, png, webp, gif, tiff, avif, heic, jxl, pdf, txt, docx, odt, xlsx, ods, pptx or odp`},
		{name: "bad option", path: "/api/v1/convert?to=jpg&quality=500", body: png, status: 400, code: "bad_request", message: "quality"},
		{name: "option that does not apply", path: "/api/v1/convert?to=png&pages=1-2", body: png, status: 400, code: "bad_request",
			message: "options.pages does not apply to PNG image to png"},
		{name: "empty", path: "/api/v1/convert?to=jpg", body: nil, status: 400, code: "bad_request", message: "empty input"},
		{name: "type mismatch", path: "/api/v1/convert?to=jpg", body: []byte("just some text\n"), status: 415, code: "type_mismatch",
			message: "text: it converts to pdf, not jpg", jobID: true},
		{name: "damaged image", path: "/api/v1/convert?to=webp", body: png[:40], status: 422, code: "conversion_failed", jobID: true},
		{name: "too large", path: "/api/v1/convert?to=jpg", body: make([]byte, 1<<20+1), status: 413, code: "too_large", message: "max-body"},
		{name: "cross-site", path: "/api/v1/convert?to=jpg", body: png, header: map[string]string{"Sec-Fetch-Site": "cross-site"},
			status: 403, code: "forbidden", message: "cross-site"},
		{name: "foreign origin", path: "/api/v1/convert?to=jpg", body: png, header: map[string]string{"Origin": "https://evil.example"},
			status: 403, code: "forbidden", message: "evil.example"},
		{name: "unknown endpoint", path: "/api/v1/nothing", body: png, status: 404, code: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.post(t, tt.path, tt.ct, bytes.NewReader(tt.body), tt.header)
			if resp.StatusCode != tt.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			e := decodeError(t, resp)
			if e.Code != tt.code || !strings.Contains(e.Message, tt.message) {
				t.Errorf("got {%s %q}, want code %s and a message with %q", e.Code, e.Message, tt.code, tt.message)
			}
			if tt.jobID && e.JobID == "" {
				t.Errorf("no job_id in %+v", e)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// A chunked body (no Content-Length) over the limit is cut off too.
	resp := s.post(t, "/api/v1/convert?to=jpg", "", io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), strings.NewReader("x")), nil)
	if resp.StatusCode != 413 {
		t.Errorf("chunked body over the limit: %s", resp.Status)
	}
	if s.web.mem.inUse() != 0 {
		t.Errorf("memory budget not given back: %d bytes", s.web.mem.inUse())
	}
}

// SetTokens swaps the callers' tokens while the server runs; an empty list is
// refused and the tokens in use stay.
func TestSetTokens(t *testing.T) {
	s := startStack(t, stackOptions{})
	png := pngFile(t, 8, 8)
	status := func(token string) int {
		return s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(png), map[string]string{"Authorization": "Bearer " + token}).StatusCode
	}
	if got := status(callerToken); got != http.StatusOK {
		t.Fatalf("the first token: status %d", got)
	}
	rotated, err := master.ParseTokens(strings.NewReader("rotated-token\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.web.SetTokens(rotated); err != nil {
		t.Fatal(err)
	}
	if got := status("rotated-token"); got != http.StatusOK {
		t.Errorf("the new token: status %d", got)
	}
	if got := status(callerToken); got != http.StatusUnauthorized {
		t.Errorf("the replaced token: status %d, want 401", got)
	}
	if err := s.web.SetTokens(master.Tokens{}); err == nil {
		t.Error("an empty token list was taken")
	}
	if got := status("rotated-token"); got != http.StatusOK {
		t.Errorf("after a refused empty list: status %d", got)
	}
}

func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		err    error
		status int
		retry  string
	}{
		{&client.ServerError{Code: client.CodeBusy, Message: "busy: queue full", RetryAfter: 3 * time.Second}, 429, "3"},
		{&client.ServerError{Code: client.CodeBusy, Message: "busy"}, 429, "1"},
		{&client.ServerError{Code: client.CodeUnavailable, Message: "no worker"}, 503, "1"},
		{&client.ServerError{Code: client.CodeTimeout, Message: "slow"}, 504, ""},
		{&client.ServerError{Code: client.CodeLimitExceeded, Message: "pixels"}, 422, ""},
		{&client.ServerError{Code: client.CodeTooLarge, Message: "big"}, 413, ""},
		{&client.ServerError{Code: client.CodeInternal, Message: "bug"}, 502, ""},
		{&client.ServerError{Code: client.CodeUnauthorized, Message: "Invalid authentication token"}, 502, ""},
		{fmt.Errorf("convert x: %w", context.DeadlineExceeded), 504, ""},
		{errors.New("connect to 127.0.0.1:1: connection refused"), 502, "1"},
	} {
		rec := &headerRecorder{h: http.Header{}}
		writeError(rec, convertError(tt.err, ctx))
		if rec.status != tt.status || rec.h.Get("Retry-After") != tt.retry {
			t.Errorf("%v: status %d Retry-After %q, want %d %q", tt.err, rec.status, rec.h.Get("Retry-After"), tt.status, tt.retry)
		}
	}
}

type headerRecorder struct {
	h      http.Header
	status int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(s int)           { r.status = s }

func TestMasterDown(t *testing.T) {
	s := startStack(t, stackOptions{deadMaster: true})
	resp := s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)), nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %s, want 502", resp.Status)
	}
	if e := decodeError(t, resp); !strings.Contains(e.Message, "cannot reach the master") || !strings.Contains(e.Message, "connect to") {
		t.Errorf("message %q", e.Message)
	}
}

func TestConvertTimeout(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.ConvertTimeout = time.Nanosecond }})
	resp := s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)), nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %s, want 504", resp.Status)
	}
	if e := decodeError(t, resp); e.Code != "timeout" || !strings.Contains(e.Message, "convert-timeout") {
		t.Errorf("%+v", e)
	}
}

// TestPerClientCap holds one conversion in flight (its body still uploading)
// and shows that the same caller's next one is refused with 429, another
// caller's is not, and the slot comes back.
func TestPerClientCap(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.MaxPerClient = 1 }})
	pr, pw := io.Pipe()
	done := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/api/v1/convert?to=jpg", pr)
		req.Header.Set("Authorization", "Bearer "+callerToken)
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		done <- resp
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		s.web.clients.mu.Lock()
		n := len(s.web.clients.n)
		s.web.clients.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first request never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp := s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)), nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: %s (Retry-After %q), want 429 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	if e := decodeError(t, resp); !strings.Contains(e.Message, "max-per-client") {
		t.Errorf("message %q", e.Message)
	}
	pw.Write(pngFile(t, 8, 8))
	pw.Close()
	first := <-done
	if first == nil {
		return
	}
	io.Copy(io.Discard, first.Body)
	first.Body.Close()
	if first.StatusCode != 200 {
		t.Fatalf("first request: %s", first.Status)
	}
	resp = s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after the first finished: %s", resp.Status)
	}
}

func TestMemoryBudget(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.MaxBodyBytes = 1 << 20; c.MaxMemoryBytes = 2 << 20 }})
	if !s.web.mem.take(2<<20 - 1000) {
		t.Fatal("take")
	}
	resp := s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 64, 64)), nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %s, want 503 with Retry-After", resp.Status)
	}
	if e := decodeError(t, resp); !strings.Contains(e.Message, "max-memory") {
		t.Errorf("message %q", e.Message)
	}
	s.web.mem.give(2<<20 - 1000)
	resp = s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 64, 64)), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("with memory free: %s", resp.Status)
	}
}

// TestNoTemporaryFiles converts inputs larger than the client's 1 MiB spool
// threshold, as a stream of unknown length and as a form, and checks that
// nothing appeared in TMPDIR.
func TestNoTemporaryFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := startStack(t, stackOptions{})
	text := testfiles.Paragraphs(3 << 20 / 2)
	// io.MultiReader hides the length: the request is chunked.
	resp := s.post(t, "/api/v1/convert?to=pdf", "text/plain", io.MultiReader(strings.NewReader(text)), nil)
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.HasPrefix(out, []byte("%PDF")) {
		t.Fatalf("chunked text: %s %q", resp.Status, out[:min(len(out), 100)])
	}
	img, err := testfiles.ImageOfSize(testfiles.PNG, 3<<20/2)
	if err != nil {
		t.Fatal(err)
	}
	ct, body := multipartBody(t, map[string]string{"to": "jpg"}, "file", "big.png", img)
	resp = s.post(t, "/api/v1/convert", ct, io.MultiReader(body), nil)
	out, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("multipart image: %s %s", resp.Status, out)
	}
	if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temporary file left or made: %s", e.Name())
	}
	if s.web.mem.inUse() != 0 {
		t.Errorf("memory budget not given back: %d", s.web.mem.inUse())
	}
}

func TestFormatsStatusOpenAPI(t *testing.T) {
	s := startStack(t, stackOptions{workers: 2})
	resp := s.get(t, "/api/v1/formats", false)
	var f Formats
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || resp.StatusCode != 200 {
		t.Fatalf("formats: %s %v", resp.Status, err)
	}
	// The built-in registry, in its order; the default of an image is another
	// format than its own.
	images, wantInputs := expectedFormats()
	var types []string
	for _, in := range f.Inputs {
		types = append(types, in.Type)
		if want := wantInputs[in.Type]; !slices.Equal(in.Targets, want) || in.Default != want[0] || in.Name == "" {
			t.Errorf("input %+v, want targets %v", in, want)
		}
	}
	if !slices.Contains(f.OCRLanguages, "eng") {
		t.Errorf("formats: OCR languages %v", f.OCRLanguages)
	}
	if f.Auth != "bearer" || !slices.Equal(targetNames(f), append(slices.Clone(images), "pdf", "txt", "docx", "odt", "xlsx", "ods", "pptx", "odp")) || len(types) != len(wantInputs) {
		t.Errorf("formats %+v: inputs %v", f, types)
	}
	for _, tg := range f.Targets {
		want := expectedOptions(images, tg.To)
		if !slices.Equal(tg.Options, want) || tg.ContentType == "" || (tg.Op == 0) != (tg.To != "jpg" && tg.To != "png" && tg.To != "webp" && tg.To != "pdf" && tg.To != "txt") {
			t.Errorf("target %+v, want options %v", tg, want)
		}
	}

	// One conversion, so that the throughput shows it.
	r := s.post(t, "/api/v1/convert?to=png", "", bytes.NewReader(pngFile(t, 8, 8)), nil)
	io.Copy(io.Discard, r.Body)
	if resp := s.get(t, "/api/v1/status", false); resp.StatusCode != 401 {
		t.Errorf("status without token: %s", resp.Status)
	}
	resp = s.get(t, "/api/v1/status", true)
	var st struct {
		Web    WebStatus `json:"web"`
		Master struct {
			Ready   bool `json:"ready"`
			Workers []struct {
				State string `json:"state"`
			} `json:"workers"`
		} `json:"master"`
		MasterError string `json:"master_error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if !st.Master.Ready || len(st.Master.Workers) != 2 || st.Master.Workers[0].State != "healthy" || st.MasterError != "" {
		t.Errorf("master part: %+v", st)
	}
	if st.Web.Converted != 1 || st.Web.Recent.Converted != 1 || st.Web.Recent.BytesIn == 0 || st.Web.InFlight != 0 {
		t.Errorf("web part: %+v", st.Web)
	}

	doc := openAPIDoc(t, s)
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/api/v1/convert", "/api/v1/formats", "/api/v1/detect", "/api/v1/status", "/api/v1/openapi.json"} {
		if paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi %q", v)
	}
}

// TestOpenAPIEnums: the served document's enums are the registry's, the
// options' and fail's table, and no placeholder of the template is left.
func TestOpenAPIEnums(t *testing.T) {
	s := startStack(t, stackOptions{})
	resp := s.get(t, "/api/v1/openapi.json", false)
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"{conversions}", "{targets}", "{options}"} {
		if bytes.Contains(raw, []byte(p)) {
			t.Errorf("openapi.json still holds the placeholder %s", p)
		}
	}
	doc := openAPIDoc(t, s)
	to := enumAt(t, doc, "paths", "/api/v1/convert", "post", "parameters", "to", "schema")
	for _, want := range []string{"jpg", "jpeg", "png", "webp", "pdf", "txt", "1", "5"} {
		if !slices.Contains(to, want) {
			t.Errorf("to's enum %v lacks %s", to, want)
		}
	}
	form := enumAt(t, doc, "paths", "/api/v1/convert", "post", "requestBody", "content", "multipart/form-data", "schema", "properties", "to")
	if !slices.Equal(form, to) {
		t.Errorf("the form's to %v differs from the query's %v", form, to)
	}
	var codes []string
	for _, spec := range fail.Specs() {
		codes = append(codes, string(spec.Code))
	}
	for _, c := range webCodes {
		codes = append(codes, c.Code)
	}
	if got := enumAt(t, doc, "components", "schemas", "Error", "properties", "code"); !slices.Equal(got, codes) {
		t.Errorf("error codes %v, want %v", got, codes)
	}
	if got := enumAt(t, doc, "components", "schemas", "Formats", "properties", "targets", "items", "properties", "options", "items"); !slices.Equal(got, wire.OptionNames()) {
		t.Errorf("option names %v, want %v", got, wire.OptionNames())
	}
	for _, name := range wire.OptionNames() {
		if param := lookup(t, doc, "paths", "/api/v1/convert", "post", "parameters", name); param == nil {
			t.Errorf("no query parameter %s", name)
		}
	}
	if got := lookup(t, doc, "paths", "/api/v1/convert", "post", "parameters", "quality", "schema", "type"); got != "integer" {
		t.Errorf("quality is of type %v, want integer", got)
	}
	for _, ct := range []string{"image/jpeg", "application/pdf", "text/plain; charset=utf-8"} {
		if lookup(t, doc, "paths", "/api/v1/convert", "post", "responses", "200", "content", ct) == nil {
			t.Errorf("the 200 answer lacks the content type %s", ct)
		}
	}
	for _, spec := range fail.Specs() {
		if lookup(t, doc, "paths", "/api/v1/convert", "post", "responses", strconv.Itoa(spec.HTTPStatus)) == nil {
			t.Errorf("no response for %d (%s)", spec.HTTPStatus, spec.Code)
		}
	}
}

// openAPIDoc fetches the served OpenAPI document.
func openAPIDoc(t *testing.T, s *stack) map[string]any {
	t.Helper()
	resp := s.get(t, "/api/v1/openapi.json", false)
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// lookup walks a JSON document: a key of an object, or the name of a
// parameter in an array of them.
func lookup(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			v = nil
			for _, item := range x {
				if m, ok := item.(map[string]any); ok && m["name"] == k {
					v = m
				}
			}
		default:
			return nil
		}
	}
	return v
}

// enumAt is the enum of the schema at keys.
func enumAt(t *testing.T, doc map[string]any, keys ...string) []string {
	t.Helper()
	schema, _ := lookup(t, doc, keys...).(map[string]any)
	values, _ := schema["enum"].([]any)
	var enum []string
	for _, v := range values {
		s, _ := v.(string)
		enum = append(enum, s)
	}
	if enum == nil {
		t.Errorf("no enum at %s", strings.Join(keys, " "))
	}
	return enum
}

func TestStatusMasterAdminDown(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.MasterStatus = nil; c.MasterAdmin = "127.0.0.1:1" }})
	resp := s.get(t, "/api/v1/status", true)
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %v", resp.Status, err)
	}
	if st.Master != nil || !strings.Contains(st.MasterError, "does not answer") {
		t.Errorf("%+v", st)
	}
}

func TestOpenMode(t *testing.T) {
	s := startStack(t, stackOptions{web: func(c *Config) { c.Open = true }})
	resp := s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)), map[string]string{"Authorization": ""})
	if resp.StatusCode != 200 {
		t.Fatalf("open mode without token: %s", resp.Status)
	}
	// Same origin, as the page sends it.
	origin := s.srv.URL
	resp = s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)),
		map[string]string{"Authorization": "", "Origin": origin, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != 200 {
		t.Fatalf("same origin: %s", resp.Status)
	}
	resp = s.post(t, "/api/v1/convert?to=jpg", "", bytes.NewReader(pngFile(t, 8, 8)),
		map[string]string{"Authorization": "", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != 403 {
		t.Fatalf("cross-site in open mode: %s", resp.Status)
	}
	// DNS rebinding: a page of evil.example resolved to 127.0.0.1 names its own host.
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/api/v1/status", nil)
	req.Host = "evil.example:8080"
	r2, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	if r2.StatusCode != 403 {
		t.Fatalf("foreign Host in open mode: %s", r2.Status)
	}
	if f := s.get(t, "/api/v1/formats", false); f.StatusCode != 200 {
		t.Fatal(f.Status)
	} else {
		var fm Formats
		json.NewDecoder(f.Body).Decode(&fm)
		if fm.Auth != "none" {
			t.Errorf("auth %q in open mode", fm.Auth)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{Client: &client.Client{}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "no tokens") {
		t.Errorf("no tokens and not open: %v", err)
	}
	c = Config{Client: &client.Client{}, Open: true, MaxBodyBytes: 10 << 20, MaxMemoryBytes: 1 << 20}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max memory") {
		t.Errorf("memory below body: %v", err)
	}
	c = Config{Client: &client.Client{}, Open: true}
	if err := c.Validate(); err != nil || c.MaxBodyBytes != DefaultMaxBodyBytes || c.MaxPerClient != DefaultMaxPerClient {
		t.Errorf("defaults: %v %+v", err, c)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\Users\me\photo.PNG`: "photo.PNG", "": "file", "a\x00b\nc.png": "abc.png", "..": "file",
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := outputName(".hidden", client.ToPNG); got != "file.png" {
		t.Errorf("outputName(.hidden) = %q", got)
	}
	if got := contentDisposition(`a"b;c%.pdf`); got != `attachment; filename="a_b_c_.pdf"; filename*=UTF-8''a%22b%3Bc%25.pdf` {
		t.Errorf("contentDisposition = %s", got)
	}
}

func TestStatic(t *testing.T) {
	s := startStack(t, stackOptions{})
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		resp := s.get(t, p, false)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || len(b) == 0 {
			t.Errorf("%s: %s (%d bytes)", p, resp.Status, len(b))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", p, csp)
		}
	}
	if resp := s.get(t, "/nothing.html", false); resp.StatusCode != 404 {
		t.Errorf("/nothing.html: %s", resp.Status)
	}
}

// TestDetect: the page's question "what is this file?", answered from the
// first bytes as the workers would, without a token.
func TestDetect(t *testing.T) {
	s := startStack(t, stackOptions{})
	detect := func(path string, body []byte) (Input, *http.Response) {
		t.Helper()
		resp := s.post(t, path, "application/octet-stream", bytes.NewReader(body), map[string]string{"Authorization": ""})
		var in Input
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
				t.Fatal(err)
			}
		}
		return in, resp
	}
	png := pngFile(t, 8, 8)
	if in, resp := detect("/api/v1/detect?size=100000", png[:32]); resp.StatusCode != 200 || in.Type != "png" ||
		in.Name != "PNG image" || !slices.Equal(in.Targets, []string{"jpg", "webp", "gif", "tiff", "avif", "heic", "jxl", "pdf", "txt", "png"}) || in.Default != "jpg" {
		t.Errorf("PNG head: %s %+v", resp.Status, in)
	}
	// A kind the workers tell apart but do not convert: named, with no targets.
	if in, resp := detect("/api/v1/detect", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00")); resp.StatusCode != 200 || in.Type != "ole2" ||
		in.Targets == nil || len(in.Targets) != 0 || in.Default != "" {
		t.Errorf("OLE2: %s %+v", resp.Status, in)
	}
	// A head cut inside a character is still text, and so is a whole file
	// ending so: damaged UTF-8, which converts with the character replaced.
	cut := []byte("café au lait"[:4])
	if in, _ := detect("/api/v1/detect?size=2000", cut); in.Type != "text" || in.Default != "pdf" {
		t.Errorf("text head cut inside é: %+v", in)
	}
	if in, _ := detect("/api/v1/detect", cut); in.Type != "text" {
		t.Errorf("whole file ending inside é: %+v", in)
	}
	// Binary data is not text.
	if in, _ := detect("/api/v1/detect", []byte("\x01\x02\x00\x03binary")); in.Type != "unknown" {
		t.Errorf("binary: %+v", in)
	}
	if _, resp := detect("/api/v1/detect", make([]byte, maxDetectBytes+1)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over %d bytes: %s", maxDetectBytes, resp.Status)
	}
	if _, resp := detect("/api/v1/detect?size=-1", png); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("size -1: %s", resp.Status)
	}
	resp := s.post(t, "/api/v1/detect", "", bytes.NewReader(png), map[string]string{"Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site: %s", resp.Status)
	}
}

// expectedFormats is the built-in registry's image targets and, per input
// kind, its targets in order: an image's own format comes last, so that the
// default is another one.
func expectedFormats() (images []string, inputs map[string][]string) {
	images = []string{"jpg", "png", "webp", "gif", "tiff", "avif", "heic", "jxl"}
	imageTargets := func(own string) []string {
		// txt: OCR, which the test cluster's workers run (Tesseract is a
		// build dependency).
		out := append(slices.DeleteFunc(slices.Clone(images), func(s string) bool { return s == own }), "pdf", "txt")
		if own != "" {
			out = append(out, own)
		}
		return out
	}
	// The office documents' conversions are in the registry, but no worker
	// of the test cluster runs LibreOffice: none is offered.
	inputs = map[string][]string{"pdf": {"txt", "jpg", "png", "webp", "tiff", "avif", "pdf"}, "text": {"pdf"}, "files": {"pdf"}}
	for kind, own := range map[string]string{"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif", "tiff": "tiff", "heic": "heic", "avif": "avif", "jxl": "jxl",
		"bmp": "", "ico": "", "jp2": "", "psd": "", "pnm": "", "svg": "", "tga": ""} {
		inputs[kind] = imageTargets(own)
	}
	return images, inputs
}

// expectedOptions is what the built-in target to takes: every image target
// resizes; the encoders differ.
func expectedOptions(images []string, to string) []string {
	if !slices.Contains(images, to) {
		return map[string][]string{"pdf": {"page_size", "from", "layout", "font_size", "charset", "margin", "page", "ocr", "lang", "pages", "split", "password", "pdfa", "landscape", "fit_width"}, "txt": {"pages", "ocr", "lang", "page"},
			"docx": {"password"}, "odt": {"password"}, "xlsx": {"password", "from"}, "ods": {"password", "from"}, "pptx": {"password"}, "odp": {"password"}}[to] // page: of an image
	}
	want := []string{"width", "height", "fit", "background", "keep_icc", "keep_metadata", "keep_gps"}
	want = append(want, map[string][]string{"jpg": {"quality"}, "png": {"effort"}, "webp": {"quality", "lossless", "effort"},
		"gif": {"effort"}, "avif": {"quality", "lossless", "effort"}, "heic": {"quality"}, "jxl": {"quality", "lossless", "effort"}}[to]...)
	want = append(want, "page")
	if slices.Contains([]string{"jpg", "png", "webp", "tiff", "avif"}, to) {
		want = append(want, "dpi", "pages") // from a PDF
	}
	return want
}
