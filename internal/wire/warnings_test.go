package wire

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanWarnings(t *testing.T) {
	long := strings.Repeat("é", MaxWarningLen) // 2 bytes each: twice the limit
	var many []string
	for i := range MaxWarnings + 4 {
		many = append(many, fmt.Sprintf("warning %d", i+1))
	}
	for _, c := range []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"empty list", []string{}, nil},
		{"kept as they are", []string{"the GIF has 12 frames; the PNG holds the first", `"quoted", <b> & ünï`},
			[]string{"the GIF has 12 frames; the PNG holds the first", `"quoted", <b> & ünï`}},
		{"one line each", []string{"two\nlines\r\there", "a\u2028b\u0085c\x7fd"}, []string{"two lines  here", "a b c d"}},
		{"trimmed, empties dropped", []string{"  padded \n", "", " \t ", "\x00"}, []string{"padded"}},
		{"invalid UTF-8 replaced", []string{"bad \xff byte"}, []string{"bad \uFFFD byte"}},
		{"cut at a character", []string{long}, []string{strings.Repeat("é", (MaxWarningLen-len("…"))/2) + "…"}},
		{"exactly the limit", []string{strings.Repeat("x", MaxWarningLen)}, []string{strings.Repeat("x", MaxWarningLen)}},
		{"too many", many, append(many[:MaxWarnings-1:MaxWarnings-1], "5 more warnings were left out")},
		{"exactly the most", many[:MaxWarnings], many[:MaxWarnings]},
	} {
		got := CleanWarnings(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if again := CleanWarnings(got); !reflect.DeepEqual(again, got) {
			t.Errorf("%s: cleaning twice gave %q, then %q", c.name, got, again)
		}
		for _, w := range got {
			if len(w) > MaxWarningLen || !utf8.ValidString(w) {
				t.Errorf("%s: %q is over the limit or not UTF-8", c.name, w)
			}
		}
	}
}

// The RESULT header always fits, whatever the warnings: the most, the longest,
// each made of the characters JSON escapes, beside the other fields at their
// own worst.
func TestResultWarningsFitTheHeader(t *testing.T) {
	ctl := strings.Repeat("\x01", MaxIDLen)
	res := Result{JobID: ctl, SHA256: [32]byte{1}, InputType: ctl, ContentType: ctl, ReplacedChars: 1<<63 - 1}
	for range MaxWarnings + 1 {
		res.Warnings = append(res.Warnings, strings.Repeat(`"\`, MaxWarningLen))
	}
	var buf strings.Builder
	if err := WriteResult(&buf, res); err != nil {
		t.Fatalf("the largest RESULT does not fit: %v", err)
	}
	t.Logf("the largest RESULT header is %d bytes of %d", buf.Len()-FramePrefixSize, MaxHeaderSize)
}

// A reader cleans what a careless writer sent rather than refuse the file;
// warnings that are not strings are a broken header like any other.
func TestDecodeResultCleansWarnings(t *testing.T) {
	digest := fmt.Sprintf(`"sha256":"%x"`, sha256.Sum256(nil))
	long := strings.Repeat("w", 2*MaxWarningLen)
	many := strings.TrimSuffix(strings.Repeat(`"w",`, MaxWarnings+1), ",")
	for _, c := range []struct {
		warnings string
		want     []string
	}{
		{`null`, nil},
		{`[]`, nil},
		{`["line\nbreak","  ",""]`, []string{"line break"}},
		{`["` + long + `"]`, []string{long[:MaxWarningLen-len("…")] + "…"}},
		{`[` + many + `]`, append(slicesRepeat("w", MaxWarnings-1), "2 more warnings were left out")},
	} {
		res, err := DecodeResult(Frame{Type: FrameResult, Header: []byte(`{"job_id":"j",` + digest + `,"warnings":` + c.warnings + `}`)})
		if err != nil || !reflect.DeepEqual(res.Warnings, c.want) {
			t.Errorf("warnings %.60s: %q, %v; want %q", c.warnings, res.Warnings, err, c.want)
		}
	}
	for _, bad := range []string{`"one"`, `[1]`, `{"a":"b"}`} {
		_, err := DecodeResult(Frame{Type: FrameResult, Header: []byte(`{"job_id":"j",` + digest + `,"warnings":` + bad + `}`)})
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "warnings") {
			t.Errorf("warnings %s: %v, want a protocol error naming warnings", bad, err)
		}
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
