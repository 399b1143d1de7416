package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

// RootCAs is asked at each new connection: the master is refused while the pool
// lacks its CA and accepted once the pool has it, without a new Client.
func TestRootCAsAskedAtEachConnection(t *testing.T) {
	s := startServer(t, false, upper)
	_, roots := testCert(t)
	var pool atomic.Pointer[x509.CertPool]
	pool.Store(x509.NewCertPool())
	c := s.client()
	c.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	c.RootCAs = pool.Load
	c.MaxRetries = -1
	defer c.Close()

	_, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Fatalf("with a pool without the master's CA: %v, want an unknown authority", err)
	}
	pool.Store(roots)
	if out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc")); err != nil || string(out) != "ABC" {
		t.Fatalf("with the master's CA: %q, %v", out, err)
	}
	if c.TLSConfig.RootCAs != nil {
		t.Error("the pool was written into TLSConfig, which callers may share")
	}
}

// TokenSource is asked at each request, in both protocols, so a rotated token
// is sent without a new Client.
func TestTokenSourceAskedAtEachRequest(t *testing.T) {
	for _, v1Only := range []bool{false, true} {
		echoToken := func(_ int, req wire.ConvertRequest, _ []byte) reply {
			return reply{body: []byte(strings.TrimRight(req.Token, "\x00"))}
		}
		s := startServer(t, v1Only, echoToken)
		var token atomic.Value
		token.Store("first")
		c := s.client()
		c.TokenSource = func() string { return token.Load().(string) }
		defer c.Close()
		for _, want := range []string{"first", "second"} {
			token.Store(want)
			out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
			if err != nil || string(out) != want {
				t.Errorf("v1 only %v: the server got token %q (%v), want %q", v1Only, out, err, want)
			}
		}
	}
}
