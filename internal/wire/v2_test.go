package wire

import (
	"github.com/fileconv/fileconv/internal/fail"

	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The test vectors of docs/protocol.md, "Protocol v2". Each is the frame's 13-byte
// prefix in hex, then its JSON header as sent.
var v2Vectors = []struct {
	name   string
	write  func(io.Writer) error
	prefix string
	header string
}{
	{
		name:   "PING",
		write:  func(w io.Writer) error { return WritePing(w, Ping{}) },
		prefix: "02 00000002 0000000000000000",
		header: `{}`,
	},
	{
		name: "CONVERT",
		write: func(w io.Writer) error {
			return WriteConvert(w, ConvertRequest{
				Token: "super_secret_token_123456789012", Target: "jpg", Name: "photo.png",
				Size: 1234, SHA256: sha256.Sum256(make([]byte, 1234)), Options: Options{Quality: 80},
			})
		},
		prefix: "01 000000b5 00000000000004d2",
		header: `{"token":"super_secret_token_123456789012","to":"jpg","op":1,"name":"photo.png","sha256":"ad47fd9e87159d651a53b3dfba3ef200684a9ed88c2528b62e18f3881fe203b0","options":{"quality":80}}`,
	},
	{
		name: "CONVERT_FILES",
		write: func(w io.Writer) error {
			return WriteConvert(w, ConvertRequest{
				Token: "super_secret_token_123456789012", Target: "pdf", Size: 5, Options: Options{PageSize: "A4"},
				Files: []FilePart{
					{Name: "scan.jpg", Size: 2, SHA256: sha256.Sum256([]byte("ab"))},
					{Name: "notes.pdf", Size: 3, SHA256: sha256.Sum256([]byte("abc"))},
				},
			})
		},
		prefix: "03 00000130 0000000000000005",
		header: `{"token":"super_secret_token_123456789012","to":"pdf","options":{"page_size":"A4"},"files":[{"name":"scan.jpg","size":2,"sha256":"fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603"},{"name":"notes.pdf","size":3,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]}`,
	},
	{
		name: "RESULT",
		write: func(w io.Writer) error {
			return WriteResult(w, Result{
				JobID: "3f9a0c12d4e5b678", Size: 3, SHA256: sha256.Sum256([]byte("abc")),
				InputType: "pdf", ContentType: "text/plain; charset=utf-8",
			})
		},
		prefix: "81 000000ba 0000000000000003",
		header: `{"job_id":"3f9a0c12d4e5b678","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","input_type":"pdf","content_type":"text/plain; charset=utf-8","replaced_chars":0}`,
	},
	{
		name: "RESULT with a warning",
		write: func(w io.Writer) error {
			return WriteResult(w, Result{
				JobID: "3f9a0c12d4e5b678", Size: 3, SHA256: sha256.Sum256([]byte("abc")),
				InputType: "pdf", ContentType: "text/plain; charset=utf-8",
				Warnings: []string{"page 2 holds only images, so its text is empty"},
			})
		},
		prefix: "81 000000f8 0000000000000003",
		header: `{"job_id":"3f9a0c12d4e5b678","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","input_type":"pdf","content_type":"text/plain; charset=utf-8","replaced_chars":0,"warnings":["page 2 holds only images, so its text is empty"]}`,
	},
	{
		name: "ERROR busy",
		write: func(w io.Writer) error {
			return WriteErrorResponse(w, &ErrorResponse{
				JobID: "3f9a0c12d4e5b678", Code: fail.Busy, Message: "all workers are busy", RetryAfter: 2 * time.Second,
			})
		},
		prefix: "82 00000062 0000000000000000",
		header: `{"job_id":"3f9a0c12d4e5b678","code":"busy","message":"all workers are busy","retry_after_ms":2000}`,
	},
}

func TestV2Vectors(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range v2Vectors {
		var buf bytes.Buffer
		if err := v.write(&buf); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		got := buf.Bytes()
		prefix, err := hex.DecodeString(strings.ReplaceAll(v.prefix, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		want := append(prefix, v.header...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s frame\n got % x\n     %q\nwant % x\n     %q", v.name, got, got[min(len(got), FramePrefixSize):], want, v.header)
		}
		// The documented hlen must be the header's length, or the vector lies.
		if hlen := binary.BigEndian.Uint32(prefix[1:5]); int(hlen) != len(v.header) {
			t.Errorf("%s: prefix says hlen %d, header is %d bytes", v.name, hlen, len(v.header))
		}
		if !bytes.Contains(doc, []byte(v.prefix)) || !bytes.Contains(doc, []byte(v.header)) {
			t.Errorf("%s: docs/protocol.md does not hold the vector\n%s\n%s", v.name, v.prefix, v.header)
		}
	}
}

// Every frame type survives a trip through one stream, bodies included, in order:
// several requests on one connection.
func TestV2RoundTrip(t *testing.T) {
	input := []byte("hello, world\n")
	output := []byte("%PDF-1.7 ...")
	req := ConvertRequest{Token: "tök", Target: "pdf", Name: "a <b>.txt", Size: uint64(len(input)), SHA256: sha256.Sum256(input), Options: Options{PageSize: PageSizeLetter}}
	reqs := []ConvertRequest{
		req,
		{Token: "t", Target: "webp", Size: 1, SHA256: [32]byte{1}, Options: Options{Lossless: true}},
		{Token: "t", Target: "webp", Size: 1, SHA256: [32]byte{1}, Options: Options{Quality: 100}},
		{Token: "t", Target: "txt", Size: 1 << 40, SHA256: [32]byte{31: 1}, Options: Options{Pages: "1-3, 7,10-"}},
		{Token: strings.Repeat("k", MaxTokenLen), Target: "png", Name: strings.Repeat("n", MaxNameLen), Size: 1<<64 - 1, SHA256: [32]byte{1}},
	}
	res := Result{JobID: "j1", Size: uint64(len(output)), SHA256: sha256.Sum256(output), InputType: "text", ContentType: "application/pdf", ReplacedChars: 2, Warnings: []string{"2 characters have no glyph in the font; they show as ?", `a "quoted", \ ünïcödé warning <b>`}}
	errResp := &ErrorResponse{Code: fail.TypeMismatch, Message: `PDF detected: use operation 5 (to TXT) "quoted" \ ünï`}
	ping, pong := Ping{ID: "p1"}, Pong{ID: "p1", Server: "fileconv 1.2.3"}

	var stream bytes.Buffer
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(WriteConvert(&stream, req))
	stream.Write(input)
	must(WritePing(&stream, ping))
	must(WriteResult(&stream, res))
	stream.Write(output)
	must(WriteErrorResponse(&stream, errResp))
	must(WritePong(&stream, pong))
	for _, r := range reqs[1:] {
		must(WriteConvert(&stream, r))
	}

	r := &stream
	next := func(want FrameType) Frame {
		t.Helper()
		f, err := ReadFrameHeader(r, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != want {
			t.Fatalf("got %s, want %s", f.Type, want)
		}
		return f
	}
	body := func(f Frame) []byte {
		b := make([]byte, f.BodySize)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got, err := DecodeConvertRequest(next(FrameConvert)); err != nil || !reflect.DeepEqual(got, req) {
		t.Errorf("CONVERT: %v, %v; want %v", got, err, req)
	} else if b := body(Frame{BodySize: got.Size}); !bytes.Equal(b, input) || sha256.Sum256(b) != got.SHA256 {
		t.Errorf("CONVERT body %q", b)
	}
	if got, err := DecodePing(next(FramePing)); err != nil || got != ping {
		t.Errorf("PING: %+v, %v", got, err)
	}
	if got, err := DecodeResult(next(FrameResult)); err != nil || !reflect.DeepEqual(got, res) {
		t.Errorf("RESULT: %+v, %v; want %+v", got, err, res)
	} else if b := body(Frame{BodySize: got.Size}); !bytes.Equal(b, output) {
		t.Errorf("RESULT body %q", b)
	}
	if got, err := DecodeErrorResponse(next(FrameError)); err != nil || *got != *errResp {
		t.Errorf("ERROR: %+v, %v", got, err)
	}
	if got, err := DecodePong(next(FramePong)); err != nil || got != pong {
		t.Errorf("PONG: %+v, %v", got, err)
	}
	for _, want := range reqs[1:] {
		if got, err := DecodeConvertRequest(next(FrameConvert)); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("CONVERT: %v, %v; want %v", got, err, want)
		}
	}
	if _, err := ReadFrameHeader(r, 0); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

// A frame goes out in one Write, so it is not split over TLS records or packets.
func TestV2WriteFrameOneWrite(t *testing.T) {
	var w countWriter
	if err := WriteConvert(&w, ConvertRequest{Token: "t", Target: "png", Size: 10, SHA256: [32]byte{1}}); err != nil {
		t.Fatal(err)
	}
	if w.writes != 1 {
		t.Errorf("%d writes, want 1", w.writes)
	}
}

type countWriter struct{ writes int }

func (w *countWriter) Write(p []byte) (int, error) { w.writes++; return len(p), nil }

// The MarshalJSON methods give the same header as the typed writers, so WriteFrame
// with a public type is safe too.
func TestV2MarshalJSONMatchesWriters(t *testing.T) {
	req := ConvertRequest{Token: "t", Target: "jpg", Name: "<&>", Size: 5, SHA256: [32]byte{1}, Options: Options{Quality: 5}}
	var a, b bytes.Buffer
	if err := WriteConvert(&a, req); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&b, FrameConvert, req, req.Size); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("WriteConvert\n%q\nWriteFrame\n%q", a.Bytes(), b.Bytes())
	}
	if !bytes.Contains(a.Bytes(), []byte(`"name":"<&>"`)) {
		t.Errorf("name was escaped: %q", a.Bytes())
	}
}

// frame builds a raw frame around a JSON header, for requests the typed writers
// refuse to produce.
func frame(t FrameType, bodySize uint64, header string) []byte {
	b := make([]byte, FramePrefixSize, FramePrefixSize+len(header))
	b[0] = byte(t)
	binary.BigEndian.PutUint32(b[1:5], uint32(len(header)))
	binary.BigEndian.PutUint64(b[5:], bodySize)
	return append(b, header...)
}

const okDigest = `"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"`

func TestV2ConvertValidation(t *testing.T) {
	cases := []struct {
		name   string
		size   uint64
		header string
		code   ErrorCode
		want   []string // substrings of the message
	}{
		{"unknown op", 3, `{"token":"t","op":99,` + okDigest + `}`, fail.BadRequest, []string{`op: 99 is not an operation; send "to"`}},
		{"op and to disagree", 3, `{"token":"t","op":1,"to":"png",` + okDigest + `}`, fail.BadRequest, []string{`op 1 and to "png" disagree`}},
		{"bad target", 3, `{"token":"t","to":"p n g",` + okDigest + `}`, fail.BadRequest, []string{`to: "p n g" is not a format name`}},
		{"absent op", 3, `{"token":"t",` + okDigest + `}`, fail.BadRequest, []string{"to is required"}},
		{"negative op", 3, `{"token":"t","op":-1,` + okDigest + `}`, fail.BadRequest, []string{"op: expected a whole number, got number -1"}},
		{"string op", 3, `{"token":"t","op":"1",` + okDigest + `}`, fail.BadRequest, []string{"op: expected a whole number, got string"}},
		{"absent token", 3, `{"op":1,` + okDigest + `}`, fail.BadRequest, []string{"token is required"}},
		{"long token", 3, `{"token":"` + strings.Repeat("k", MaxTokenLen+1) + `","op":1,` + okDigest + `}`, fail.BadRequest, []string{"token: 257 bytes, over the limit of 256"}},
		{"long name", 3, `{"token":"t","op":1,"name":"` + strings.Repeat("n", 256) + `",` + okDigest + `}`, fail.BadRequest, []string{"name: 256 bytes"}},
		{"absent size", 0, `{"token":"t","op":1,` + okDigest + `}`, fail.BadRequest, []string{"empty input: the file has 0 bytes"}},
		{"absent sha256", 3, `{"token":"t","op":1}`, fail.BadRequest, []string{"sha256 is required"}},
		{"short sha256", 3, `{"token":"t","op":1,"sha256":"abcd"}`, fail.BadRequest, []string{"sha256: want 64 hex digits (the SHA-256 of the body), got 4 characters"}},
		{"bad hex", 3, `{"token":"t","op":1,"sha256":"` + strings.Repeat("zz", 32) + `"}`, fail.BadRequest, []string{"sha256: want 64 hex digits", "not one"}},
		{"several problems at once", 0, `{"op":7}`, fail.BadRequest, []string{"token is required", "op: 7", "empty input", "sha256 is required"}},
		{"quality out of range", 3, `{"token":"t","op":1,` + okDigest + `,"options":{"quality":101}}`, fail.BadRequest, []string{"options.quality: 101 is out of range; use 1"}},
		{"negative quality", 3, `{"token":"t","op":1,` + okDigest + `,"options":{"quality":-5}}`, fail.BadRequest, []string{"options.quality: -5 is out of range"}},
		{"quality with lossless", 3, `{"token":"t","op":3,` + okDigest + `,"options":{"quality":50,"lossless":true}}`, fail.BadRequest, []string{"remove quality or lossless"}},
		{"unknown page size", 3, `{"token":"t","op":4,` + okDigest + `,"options":{"page_size":"A5"}}`, fail.BadRequest, []string{`options.page_size: "A5" is not supported; use "A4" or "Letter"`}},
		{"backwards pages", 3, `{"token":"t","op":5,` + okDigest + `,"options":{"pages":"3-1"}}`, fail.BadRequest, []string{`options.pages: "3-1" runs backwards; write 1-3`}},
		{"overlapping pages", 3, `{"token":"t","op":5,` + okDigest + `,"options":{"pages":"1-3,2"}}`, fail.BadRequest, []string{`options.pages: "2" overlaps`}},
		{"page zero", 3, `{"token":"t","op":5,` + okDigest + `,"options":{"pages":"0-2"}}`, fail.BadRequest, []string{"pages are numbered from 1"}},
		{"string quality", 3, `{"token":"t","op":1,` + okDigest + `,"options":{"quality":"80"}}`, fail.BadRequest, []string{"options.quality: expected a whole number, got string"}},
		{"options not an object", 3, `{"token":"t","op":1,` + okDigest + `,"options":[]}`, fail.BadRequest, []string{"options: expected an object"}},
		{"unknown option", 3, `{"token":"t","op":1,` + okDigest + `,"options":{"quality":80,"resolution":300}}`, fail.UnsupportedOperation, []string{`option "resolution"`}},
		{"not JSON", 3, `{"token":`, fail.BadRequest, []string{"not valid JSON"}},
		{"trailing data", 3, `{} {}`, fail.BadRequest, []string{"not valid JSON"}},
		{"null", 3, `null`, fail.BadRequest, []string{"must be a JSON object"}},
		{"array", 3, `[]`, fail.BadRequest, []string{"must be a JSON object"}},
		{"invalid UTF-8", 3, "{\"token\":\"\xff\",\"op\":1," + okDigest + "}", fail.BadRequest, []string{"not valid UTF-8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeConvertRequest(Frame{Type: FrameConvert, BodySize: c.size, Header: []byte(c.header)})
			var e *ErrorResponse
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want an *ErrorResponse", err)
			}
			if e.Code != c.code {
				t.Errorf("code %s, want %s (%s)", e.Code, c.code, e.Message)
			}
			for _, w := range c.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q\nlacks %q", e.Message, w)
				}
			}
			if strings.Contains(e.Message, "kkkkkkkk") {
				t.Errorf("message echoes the token: %q", e.Message)
			}
		})
	}
}

func TestOptionsValidateAndApply(t *testing.T) {
	for _, o := range []Options{{}, {Quality: 1}, {Quality: 100}, {Lossless: true}, {PageSize: "Letter"}, {Pages: "2-"}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range []Options{{Quality: 101}, {Quality: -1}, {Quality: 80, Lossless: true}, {PageSize: "A3"}, {Pages: "3-1"}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	err := Options{Quality: 80}.Applies([]string{"page_size"}, "text to pdf")
	if err == nil || !strings.Contains(err.Error(), "options.quality does not apply to text to pdf (it takes page_size)") {
		t.Errorf("quality for text to pdf: %v", err)
	}
	var o Options
	for name, value := range map[string]string{"quality": "70", "lossless": "false", "page_size": "letter", "pages": "1-2"} {
		if err := o.Set(name, value); err != nil {
			t.Errorf("Set(%s, %s): %v", name, value, err)
		}
	}
	if want := (Options{Quality: 70, PageSize: PageSizeLetter, Pages: "1-2"}); o != want {
		t.Errorf("Set gave %+v, want %+v", o, want)
	}
	for name, value := range map[string]string{"quality": "0", "lossless": "maybe", "page_size": "A5", "pages": "x", "colour": "red"} {
		if err := o.Set(name, value); err == nil {
			t.Errorf("Set(%s, %s) accepted", name, value)
		}
	}
}

func TestParsePageRanges(t *testing.T) {
	good := map[string]PageRanges{
		"1":              {{1, 1}},
		"1-3,7":          {{1, 3}, {7, 7}},
		" 1 - 3 , 7 ,9-": {{1, 3}, {7, 7}, {9, 0}},
		"2-2":            {{2, 2}},
		"2147483647":     {{1<<31 - 1, 1<<31 - 1}},
	}
	for in, want := range good {
		got, err := ParsePageRanges(in)
		if err != nil || !equalRanges(got, want) {
			t.Errorf("ParsePageRanges(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                        "empty",
		"  ":                      "empty",
		"1,,2":                    "range 2 is empty",
		"1,":                      "range 2 is empty",
		"0":                       "numbered from 1",
		"a":                       "only have digits",
		"+1":                      "only have digits",
		"1-2-3":                   "only have digits",
		"-3":                      "missing",
		"3-1":                     "runs backwards",
		"1-3,3":                   "overlaps",
		"5,2":                     "overlaps",
		"1-,5":                    "overlaps",
		"2147483648":              "too large",
		strings.Repeat("1,", 200): "over the limit",
		"99999999999999999999999": "too large",
	}
	for in, want := range bad {
		if _, err := ParsePageRanges(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePageRanges(%q) = %v, want an error with %q", in, err, want)
		}
	}
	rs, _ := ParsePageRanges("1-3,7,10-")
	for p, want := range map[int]bool{0: false, 1: true, 3: true, 4: false, 7: true, 8: false, 10: true, 1000: true} {
		if rs.Contains(p) != want {
			t.Errorf("Contains(%d) = %v", p, !want)
		}
	}
}

func equalRanges(a, b PageRanges) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestV2ReadFrameHeaderErrors(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		max     int
		want    error
		unknown bool
	}{
		{"clean end", nil, 0, io.EOF, false},
		{"cut prefix", []byte{1, 0, 0}, 0, io.ErrUnexpectedEOF, false},
		{"cut header", frame(FramePing, 0, `{}`)[:FramePrefixSize+1], 0, io.ErrUnexpectedEOF, false},
		{"unknown type", frame(7, 0, `{}`), 0, ErrProtocol, true},
		{"unknown response type", frame(200, 0, `{}`), 0, ErrProtocol, true},
		{"type zero", frame(0, 0, `{}`), 0, ErrProtocol, true},
		{"empty header", frame(FramePing, 0, ``), 0, ErrProtocol, false},
		{"oversize header", frame(FrameConvert, 1, `{"x":"`+strings.Repeat("a", MaxHeaderSize)+`"}`), 0, ErrProtocol, false},
		{"over a lower limit", frame(FramePing, 0, `{"id":"12345"}`), 8, ErrProtocol, false},
		{"body on a PING", frame(FramePing, 5, `{}`), 0, ErrProtocol, false},
		{"body on an ERROR", frame(FrameError, 1, `{}`), 0, ErrProtocol, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFrameHeader(bytes.NewReader(c.in), c.max)
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if errors.Is(err, ErrUnknownFrameType) != c.unknown {
				t.Errorf("err = %v; unknown frame type: %v, want %v", err, !c.unknown, c.unknown)
			}
		})
	}
	// The oversize header is refused before it is read: the limit is on memory.
	r := &countReader{r: bytes.NewReader(frame(FrameConvert, 0, strings.Repeat(" ", MaxHeaderSize+1)))}
	if _, err := ReadFrameHeader(r, 0); err == nil || r.n > FramePrefixSize {
		t.Errorf("read %d bytes of an oversize frame (err %v)", r.n, err)
	}
	// A header exactly at the limit is fine.
	h := `{"x":"` + strings.Repeat("a", MaxHeaderSize-8) + `"}`
	if f, err := ReadFrameHeader(bytes.NewReader(frame(FramePing, 0, h)), 0); err != nil || len(f.Header) != MaxHeaderSize {
		t.Errorf("header of MaxHeaderSize: %v", err)
	}
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Newer peers may add header fields; older ones ignore them.
func TestV2ForwardCompatible(t *testing.T) {
	hdr := `{"token":"t","op":1,"name":"x.png",` + okDigest + `,"priority":"high","trace":{"id":[1,2]},"options":{"quality":80}}`
	req, err := DecodeConvertRequest(Frame{Type: FrameConvert, BodySize: 3, Header: []byte(hdr)})
	if err != nil || req.Target != "jpg" || req.Options.Quality != 80 || req.Name != "x.png" {
		t.Errorf("unknown fields broke the decode: %+v, %v", req, err)
	}
	res, err := DecodeResult(Frame{Type: FrameResult, BodySize: 3, Header: []byte(`{"job_id":"j",` + okDigest + `,"replaced_chars":1,"elapsed_ms":12}`)})
	if err != nil || res.JobID != "j" || res.ReplacedChars != 1 {
		t.Errorf("RESULT: %+v, %v", res, err)
	}
	// A code this version does not know is still an error response, not a broken one.
	e, err := DecodeErrorResponse(Frame{Type: FrameError, Header: []byte(`{"code":"quota_exhausted","message":"m","hint":"x"}`)})
	if err != nil || e.Code != "quota_exhausted" || e.Code.Retryable() {
		t.Errorf("ERROR with a new code: %+v, %v", e, err)
	}
	p, err := DecodePing(Frame{Type: FramePing, Header: []byte(`{"id":"x","want":["features"]}`)})
	if err != nil || p.ID != "x" {
		t.Errorf("PING: %+v, %v", p, err)
	}
}

func TestV2DecodeWrongType(t *testing.T) {
	f := Frame{Type: FramePing, Header: []byte(`{}`)}
	if _, err := DecodeConvertRequest(f); err == nil {
		t.Error("a PING decoded as a CONVERT")
	}
	if _, err := DecodeResult(f); !errors.Is(err, ErrProtocol) {
		t.Errorf("PING as RESULT: %v", err)
	}
}

func TestV2ResponseValidation(t *testing.T) {
	bad := []struct {
		t      FrameType
		header string
		want   string
	}{
		{FrameResult, `{` + okDigest + `}`, "job_id is required"},
		{FrameResult, `{"job_id":"j"}`, "sha256 is required"},
		{FrameResult, `{"job_id":"j","sha256":"xyz"}`, "sha256: want 64 hex digits"},
		{FrameResult, `{"job_id":"j",` + okDigest + `,"replaced_chars":-1}`, "replaced_chars: -1"},
		{FrameError, `{"message":"m"}`, "code"},
		{FrameError, `{"code":"Busy"}`, "not an error code"},
		{FrameError, `{"code":"busy","retry_after_ms":-1}`, "retry_after_ms: -1 is out of range"},
		{FrameError, `{"code":"busy","retry_after_ms":9223372036854775807}`, "out of range"},
		{FrameError, `{"code":"busy","message":"` + strings.Repeat("m", MaxMessageLen+1) + `"}`, "message: 2049 bytes"},
		{FramePong, `{"server":"` + strings.Repeat("s", MaxIDLen+1) + `"}`, "at most 128 bytes"},
	}
	for _, c := range bad {
		f := Frame{Type: c.t, Header: []byte(c.header)}
		var err error
		switch c.t {
		case FrameResult:
			_, err = DecodeResult(f)
		case FrameError:
			_, err = DecodeErrorResponse(f)
		case FramePong:
			_, err = DecodePong(f)
		}
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err = %v, want ErrProtocol and %q", c.t, c.header, err, c.want)
		}
	}
}

func TestV2ErrorResponse(t *testing.T) {
	for _, spec := range fail.Specs() {
		c := spec.Code
		if !validCode(c) {
			t.Errorf("%q is not a valid code", c)
		}
		want := c == fail.Busy || c == fail.Unavailable || c == fail.Timeout
		if c.Retryable() != want {
			t.Errorf("%s.Retryable() = %v", c, !want)
		}
	}
	if n := len(fail.Specs()); n != 12 {
		t.Errorf("%d codes", n)
	}
	e := &ErrorResponse{Code: fail.Busy, Message: "queue full", RetryAfter: 1500 * time.Microsecond}
	if got := e.Error(); got != "busy: queue full (retry after 1.5ms)" {
		t.Errorf("Error() = %q", got)
	}
	var err error = e
	var target *ErrorResponse
	if !errors.As(err, &target) {
		t.Error("not an error")
	}
	// A retry delay travels in whole milliseconds, rounded up.
	var buf bytes.Buffer
	if err := WriteErrorResponse(&buf, e); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"retry_after_ms":2`)) {
		t.Errorf("%q", buf.Bytes())
	}
	// An over-long message is cut at a character boundary rather than refused.
	buf.Reset()
	long := &ErrorResponse{Code: fail.ConversionFailed, Message: strings.Repeat("é", MaxMessageLen)}
	if err := WriteErrorResponse(&buf, long); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFrameHeader(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeErrorResponse(f)
	if err != nil || len(got.Message) > MaxMessageLen || !strings.HasSuffix(got.Message, "é…") {
		t.Errorf("long message: %d bytes, %v", len(got.Message), err)
	}
	if err := WriteErrorResponse(io.Discard, &ErrorResponse{Code: "Not A Code"}); err == nil {
		t.Error("bad code written")
	}
	if err := WriteErrorResponse(io.Discard, &ErrorResponse{Code: fail.Busy, RetryAfter: 48 * time.Hour}); err == nil {
		t.Error("retry after 48h written")
	}
}

func TestV2WritersRefuseInvalid(t *testing.T) {
	if err := WriteConvert(io.Discard, ConvertRequest{Token: "t", Target: "jpg", Size: 1}); err == nil {
		t.Error("CONVERT without a digest written")
	}
	if err := WriteResult(io.Discard, Result{SHA256: [32]byte{1}}); err == nil {
		t.Error("RESULT without a job id written")
	}
	if err := WriteFrame(io.Discard, FramePing, Ping{}, 1); err == nil {
		t.Error("PING with a body written")
	}
	if err := WriteFrame(io.Discard, 9, Ping{}, 0); !errors.Is(err, ErrUnknownFrameType) {
		t.Errorf("frame type 9: %v", err)
	}
	if err := WriteFrame(io.Discard, FramePing, []int{1}, 0); err == nil {
		t.Error("a header that is not an object written")
	}
	if err := WriteFrame(io.Discard, FramePing, map[string]string{"x": strings.Repeat("a", MaxHeaderSize)}, 0); err == nil {
		t.Error("oversize header written")
	}
	if err := WritePing(io.Discard, Ping{ID: strings.Repeat("i", MaxIDLen+1)}); err == nil {
		t.Error("long ping id written")
	}
}

func TestV2ConvertRequestStringHidesToken(t *testing.T) {
	req := ConvertRequest{Token: "hunter2-secret", Target: "jpg", Name: "a\nb", Size: 3}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, req); strings.Contains(s, "hunter2") || strings.Contains(s, "\n") {
			t.Errorf("%s: %s", format, s)
		}
	}
}

func TestV2FrameType(t *testing.T) {
	for _, ft := range []FrameType{FrameConvert, FramePing} {
		if !ft.IsRequest() || !ft.Valid() {
			t.Errorf("%s", ft)
		}
	}
	for _, ft := range []FrameType{FrameResult, FrameError, FramePong} {
		if ft.IsRequest() || !ft.Valid() {
			t.Errorf("%s", ft)
		}
	}
	if FrameType(7).String() != "frame type 7" || FrameResult.String() != "RESULT" {
		t.Error("String")
	}
}

func TestV2WriteFrameAllocs(t *testing.T) {
	req := ConvertRequest{Token: "t", Target: "jpg", Name: "photo.png", Size: 1234, SHA256: [32]byte{1}}
	WriteConvert(io.Discard, req) // warm the pool
	n := testing.AllocsPerRun(100, func() { _ = WriteConvert(io.Discard, req) })
	// The JSON encoder and the hex digest; the frame buffer is pooled.
	if n > 8 {
		t.Errorf("WriteConvert: %.0f allocations", n)
	}
}

// FuzzV2ReadFrame feeds arbitrary streams to the frame reader and the decoders. It
// must never panic, and any frame that decodes must re-encode to the same value.
func FuzzV2ReadFrame(f *testing.F) {
	for _, v := range v2Vectors {
		var buf bytes.Buffer
		if err := v.write(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(append(frame(FramePing, 0, `{"id":"a"}`), frame(FrameConvert, 2, `{"token":"t","op":5,`+okDigest+`,"options":{"pages":"1-"}}`)...))
	f.Add(frame(FramePong, 0, `{"id":"a","server":"fileconv 1"}`))
	f.Add(frame(FrameError, 0, `{"code":"busy","retry_after_ms":1}`))
	f.Add(frame(FrameResult, 0, `{"job_id":"j",`+okDigest+`,"warnings":["a\nb"," ","\u2028x\ud800","\"q\""]}`))
	f.Add([]byte("v2.0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for range 16 {
			fr, err := ReadFrameHeader(r, 0)
			if err != nil {
				return
			}
			if len(fr.Header) == 0 || len(fr.Header) > MaxHeaderSize || !fr.Type.Valid() {
				t.Fatalf("accepted %s with a %d-byte header", fr.Type, len(fr.Header))
			}
			checkReencode(t, fr)
			if _, err := io.CopyN(io.Discard, r, int64(min(fr.BodySize, 1<<20))); err != nil {
				return
			}
		}
	})
}

// FuzzV2DecodeConvert feeds arbitrary JSON to the CONVERT decoder.
func FuzzV2DecodeConvert(f *testing.F) {
	for _, s := range []string{
		`{"token":"super_secret_token_123456789012","op":1,"name":"photo.png",` + okDigest + `,"options":{"quality":80}}`,
		`{"token":"t","op":3,` + okDigest + `,"options":{"lossless":true}}`,
		`{"token":"t","op":4,` + okDigest + `,"options":{"page_size":"Letter"}}`,
		`{"token":"t","op":5,` + okDigest + `,"options":{"pages":"1-3,7,10-"}}`,
		`{"TOKEN":"t","Op":5,"SHA256":"` + strings.Repeat("AB", 32) + `","options":{"Pages":" 2 "},"x":null}`,
		`{"token":"\u00e9\ud800","op":1,` + okDigest + `}`,
		`{}`, `null`, `{"op":1e2}`,
	} {
		f.Add([]byte(s), uint64(1234))
	}
	f.Fuzz(func(t *testing.T, b []byte, size uint64) {
		req, err := DecodeConvertRequest(Frame{Type: FrameConvert, BodySize: size, Header: b})
		if err != nil {
			var e *ErrorResponse
			if !errors.As(err, &e) || (e.Code != fail.BadRequest && e.Code != fail.UnsupportedOperation) || e.Message == "" {
				t.Fatalf("error %v is not a bad_request *ErrorResponse", err)
			}
			if len(e.Message) > 64<<10 {
				t.Fatalf("%d-byte message", len(e.Message))
			}
			return
		}
		if req.Size != size {
			t.Fatalf("size %d, want %d", req.Size, size)
		}
		if _, err := ParsePageRanges(req.Options.Pages); req.Options.Pages != "" && err != nil {
			t.Fatalf("accepted pages %q: %v", req.Options.Pages, err)
		}
		var buf bytes.Buffer
		if err := WriteConvert(&buf, req); err != nil {
			t.Fatalf("re-encode %v: %v", req, err)
		}
		fr, err := ReadFrameHeader(&buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeConvertRequest(fr)
		if err != nil || !reflect.DeepEqual(again, req) {
			t.Fatalf("re-encode changed the request:\n%v\n%v (%v)", req, again, err)
		}
	})
}

// checkReencode decodes fr by its type and, on success, writes it again and checks
// that the copy decodes to the same value.
func checkReencode(t *testing.T, fr Frame) {
	t.Helper()
	var buf bytes.Buffer
	var werr error
	var same func(Frame) bool
	switch fr.Type {
	case FrameConvert, FrameConvertFiles:
		v, err := DecodeConvertRequest(fr)
		if err != nil {
			return
		}
		werr = WriteConvert(&buf, v)
		same = func(g Frame) bool { w, err := DecodeConvertRequest(g); return err == nil && reflect.DeepEqual(w, v) }
	case FramePing:
		v, err := DecodePing(fr)
		if err != nil {
			return
		}
		werr = WritePing(&buf, v)
		same = func(g Frame) bool { w, err := DecodePing(g); return err == nil && w == v }
	case FrameResult:
		v, err := DecodeResult(fr)
		if err != nil {
			return
		}
		werr = WriteResult(&buf, v)
		same = func(g Frame) bool { w, err := DecodeResult(g); return err == nil && reflect.DeepEqual(w, v) }
	case FrameError:
		v, err := DecodeErrorResponse(fr)
		if err != nil {
			return
		}
		werr = WriteErrorResponse(&buf, v)
		same = func(g Frame) bool { w, err := DecodeErrorResponse(g); return err == nil && *w == *v }
	case FramePong:
		v, err := DecodePong(fr)
		if err != nil {
			return
		}
		werr = WritePong(&buf, v)
		same = func(g Frame) bool { w, err := DecodePong(g); return err == nil && w == v }
	}
	if werr != nil {
		t.Fatalf("re-encode %s %q: %v", fr.Type, fr.Header, werr)
	}
	g, err := ReadFrameHeader(&buf, 0)
	if err != nil || g.Type != fr.Type || g.BodySize != fr.BodySize || !same(g) {
		t.Fatalf("re-encode changed %s %q into %q (%v)", fr.Type, fr.Header, g.Header, err)
	}
}

// A request of several files: its frame type, its round trip, and every
// way its files can be wrong, each named.
func TestConvertFiles(t *testing.T) {
	req := ConvertRequest{Token: "t", Target: "pdf", Size: 3, Files: []FilePart{
		{Name: "a.jpg", Size: 1, SHA256: sha256.Sum256([]byte("a"))}, {Size: 2, SHA256: sha256.Sum256([]byte("bc"))}}}
	var buf bytes.Buffer
	if err := WriteConvert(&buf, req); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFrameHeader(&buf, 0)
	if err != nil || f.Type != FrameConvertFiles || f.Type.String() != "CONVERT_FILES" {
		t.Fatalf("%v %v", f.Type, err)
	}
	if got, err := DecodeConvertRequest(f); err != nil || !reflect.DeepEqual(got, req) {
		t.Errorf("round trip: %v (%v), want %v", got, err, req)
	}
	for _, tt := range []struct {
		typ    FrameType
		header string
		size   uint64
		want   string
	}{
		{FrameConvert, `{"token":"t","to":"pdf","sha256":"` + strings.Repeat("0", 63) + `1","files":[{"size":1,"sha256":"x"}]}`, 1, "CONVERT_FILES frame (type 3)"},
		{FrameConvertFiles, `{"token":"t","to":"pdf"}`, 1, "files is required"},
		{FrameConvertFiles, `{"token":"t","to":"pdf","files":[{"size":1,"sha256":"` + strings.Repeat("a", 64) + `"}]}`, 2, "add up to 1 bytes, but the body is 2"},
		{FrameConvertFiles, `{"token":"t","to":"pdf","files":[{"size":0,"sha256":"` + strings.Repeat("a", 64) + `"}]}`, 1, "files[0]: empty input"},
		{FrameConvertFiles, `{"token":"t","to":"pdf","files":[{"size":1,"sha256":"zz"}]}`, 1, "files[0].sha256"},
	} {
		_, err := DecodeConvertRequest(Frame{Type: tt.typ, BodySize: tt.size, Header: []byte(tt.header)})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.header, err, tt.want)
		}
	}
}

// FuzzV2DecodeConvertFiles: a CONVERT_FILES header never panics, and one
// that decodes adds up and re-encodes to itself.
func FuzzV2DecodeConvertFiles(f *testing.F) {
	f.Add([]byte(`{"token":"t","to":"pdf","files":[{"size":1234,`+okDigest+`}]}`), uint64(1234))
	f.Add([]byte(`{"token":"t","to":"pdf","files":[{"name":"a","size":1,`+okDigest+`},{"size":2,`+okDigest+`}]}`), uint64(3))
	f.Fuzz(func(t *testing.T, b []byte, size uint64) {
		fr := Frame{Type: FrameConvertFiles, BodySize: size, Header: b}
		req, err := DecodeConvertRequest(fr)
		if err != nil {
			return
		}
		var sum uint64
		for _, p := range req.Files {
			sum += p.Size
		}
		if sum != size || len(req.Files) == 0 {
			t.Fatalf("accepted %d files of %d bytes for a body of %d", len(req.Files), sum, size)
		}
		checkReencode(t, fr)
	})
}
