package master

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/fileconv/fileconv/internal/wire"
)

// Tokens is the set of auth tokens the master accepts. There is no built-in
// default: a master without tokens refuses to start.
type Tokens struct {
	padded [][wire.TokenLen]byte
}

// ParseTokens reads one token per line. Blank lines and lines starting with '#' are
// skipped; surrounding spaces are trimmed. A token longer than the protocol's
// 32-byte field, or one holding a NUL byte, could never match and is an error.
func ParseTokens(r io.Reader) (Tokens, error) {
	var t Tokens
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		tok := strings.TrimSpace(sc.Text())
		if tok == "" || strings.HasPrefix(tok, "#") {
			continue
		}
		if len(tok) > wire.TokenLen {
			return Tokens{}, fmt.Errorf("token on line %d is %d bytes: the protocol carries at most %d", line, len(tok), wire.TokenLen)
		}
		if strings.IndexByte(tok, 0) >= 0 {
			return Tokens{}, fmt.Errorf("token on line %d holds a NUL byte, which the protocol uses as padding", line)
		}
		var p [wire.TokenLen]byte
		copy(p[:], tok)
		t.padded = append(t.padded, p)
	}
	if err := sc.Err(); err != nil {
		return Tokens{}, fmt.Errorf("read tokens: %w", err)
	}
	if len(t.padded) == 0 {
		return Tokens{}, errors.New("no token found: put at least one token on a line of its own")
	}
	return t, nil
}

// Len is the number of tokens.
func (t Tokens) Len() int { return len(t.padded) }

// Match reports whether got is one of the tokens. Every token is compared in
// constant time and the loop never stops early, so the time taken tells an
// attacker nothing about which bytes, or which token, came close.
func (t Tokens) Match(got string) bool {
	if len(got) > wire.TokenLen {
		return false
	}
	var p [wire.TokenLen]byte
	copy(p[:], got)
	found := 0
	for i := range t.padded {
		found |= subtle.ConstantTimeCompare(p[:], t.padded[i][:])
	}
	return found == 1
}

// LiveTokens are the Tokens a server accepts now: read by every request and
// replaced whole by a reload, while requests go on. The zero value accepts
// nothing.
type LiveTokens struct{ current atomic.Pointer[Tokens] }

// Match reports whether got is one of the current tokens.
func (l *LiveTokens) Match(got string) bool {
	t := l.current.Load()
	return t != nil && t.Match(got)
}

// Replace makes t the current tokens. An empty t is refused and the current
// ones stay, so that a token file caught empty does not shut everyone out.
func (l *LiveTokens) Replace(t Tokens) error {
	if t.Len() == 0 {
		return errors.New("no token: keeping the current ones")
	}
	l.current.Store(&t)
	return nil
}
