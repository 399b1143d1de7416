package client

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

// A RESULT's warnings reach the caller twice: in the Result, and through
// OnResult before the first byte of the file, for callers that stream it on.
func TestWarnings(t *testing.T) {
	warnings := []string{"the GIF has 12 frames; the PNG holds the first", "ünïcödé, with a comma"}
	s := startServer(t, false, func(n int, req wire.ConvertRequest, body []byte) reply {
		r := upper(n, req, body)
		r.warnings = warnings
		return r
	})
	c := s.client()
	defer c.Close()
	var out bytes.Buffer
	var announced []Result
	res, err := c.Convert(context.Background(), ToPNG, "a.gif", strings.NewReader("abc"), &out, Options{OnResult: func(r Result) {
		if out.Len() != 0 {
			t.Errorf("OnResult came after %d bytes of the result", out.Len())
		}
		announced = append(announced, r)
	}})
	if err != nil || out.String() != "ABC" {
		t.Fatalf("%q, %v", out.String(), err)
	}
	if !slices.Equal(res.Warnings, warnings) {
		t.Errorf("Result.Warnings = %q, want %q", res.Warnings, warnings)
	}
	if len(announced) != 1 {
		t.Fatalf("OnResult called %d times, want once", len(announced))
	}
	if a := announced[0]; !slices.Equal(a.Warnings, warnings) || a.JobID != "job1" || a.Size != 3 || a.Protocol != wire.Version20 || a.Attempts != 1 {
		t.Errorf("OnResult got %+v", a)
	}

	// v1.0 has no warnings, but OnResult still comes before the file.
	v1 := startServer(t, true, upper).client()
	v1.Protocol = ProtocolV1
	out.Reset()
	announced = nil
	res, err = v1.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), &out, Options{OnResult: func(r Result) {
		if out.Len() != 0 {
			t.Errorf("v1.0: OnResult came after %d bytes of the result", out.Len())
		}
		announced = append(announced, r)
	}})
	if err != nil || res.Warnings != nil || len(announced) != 1 || announced[0].Protocol != wire.Version10 || announced[0].Size != 3 {
		t.Errorf("v1.0: %+v, %v, announced %+v", res, err, announced)
	}
}
