package master

import (
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	toks, err := ParseTokens(strings.NewReader("# cluster tokens\n\n  super_secret_token_123456789012  \nsecond\n"))
	if err != nil {
		t.Fatal(err)
	}
	if toks.Len() != 2 {
		t.Fatalf("Len = %d, want 2", toks.Len())
	}
	for tok, want := range map[string]bool{
		"super_secret_token_123456789012": true,
		"second":                          true,
		"secon":                           false,
		"second\x00":                      true, // NUL padding is not part of a token
		"":                                false,
		"# cluster tokens":                false,
		strings.Repeat("x", 33):           false,
	} {
		if got := toks.Match(tok); got != want {
			t.Errorf("Match(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestParseTokensErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "no token found",
		"# only a comment\n":    "no token found",
		strings.Repeat("x", 33): "33 bytes",
		"ok\nbad\x00token\n":    "line 2 holds a NUL",
	} {
		_, err := ParseTokens(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTokens(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}

func TestEmptyTokensMatchNothing(t *testing.T) {
	var toks Tokens
	if toks.Match("") || toks.Match("anything") {
		t.Error("the zero Tokens matched")
	}
}
