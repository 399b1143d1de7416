package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

func TestWireName(t *testing.T) {
	for in, want := range map[string]string{
		"photo.png":                      "photo.png",
		"/home/ana/pics/photo.png":       "photo.png",
		"../../etc/passwd":               "passwd",
		strings.Repeat("a", 40) + ".png": strings.Repeat("a", 30),
		strings.Repeat("é", 20):          strings.Repeat("é", 15),
		"x" + strings.Repeat("é", 20):    "x" + strings.Repeat("é", 14),
		"":                               "",
	} {
		if got := wireName(in); got != want {
			t.Errorf("wireName(%q) = %q, want %q", in, got, want)
		}
	}
}

func answer(body string) io.Reader {
	var b bytes.Buffer
	wire.WriteResponse(&b, []byte(body))
	return &b
}

func TestReadAnswer(t *testing.T) {
	var out bytes.Buffer
	n, err := readAnswer(answer("converted bytes"), &out, &reporter{})
	if err != nil || n != 15 || out.String() != "converted bytes" {
		t.Errorf("readAnswer = %d, %v, %q", n, err, out.String())
	}

	out.Reset()
	_, err = readAnswer(answer("ERROR: Invalid authentication token"), &out, &reporter{})
	var se *ServerError
	if !errors.As(err, &se) || se.Message != "Invalid authentication token" || !errors.Is(err, ErrServer) {
		t.Errorf("error answer gave %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("an error answer wrote %q to the output", out.String())
	}

	out.Reset()
	if n, err := readAnswer(answer(""), &out, &reporter{}); err != nil || n != 0 {
		t.Errorf("empty answer: %d, %v", n, err)
	}

	// An answer cut short is an error, not a short file.
	var short bytes.Buffer
	wire.WriteResponse(&short, []byte("0123456789"))
	short.Truncate(short.Len() - 3)
	if _, err := readAnswer(&short, io.Discard, &reporter{}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short answer gave %v", err)
	}
}
