package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/fileconv/fileconv/internal/testnet"
	"github.com/fileconv/fileconv/internal/wire"
)

// A master that dies, or restarts, after taking a request and before answering
// loses nothing: the request is sent again, in either protocol.
func TestLostConnectionIsRetried(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		s := startServer(t, v1, func(n int, req wire.ConvertRequest, body []byte) reply {
			if n == 1 {
				return reply{drop: true}
			}
			return upper(n, req, body)
		})
		c := s.client()
		if v1 {
			c.Protocol = ProtocolV1
		}
		var out bytes.Buffer
		res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), &out, Options{})
		if err != nil || out.String() != "ABC" || res.Attempts != 2 || s.requests.Load() != 2 {
			t.Errorf("v1 %v: %v, %q, %+v, %d requests", v1, err, out.String(), res, s.requests.Load())
		}

		// Without retries, the error says what happened. (A pooled connection
		// would be replaced without counting as a retry: start afresh.)
		c.Close()
		s.requests.Store(0)
		c.MaxRetries = -1
		_, err = c.ConvertBytes(context.Background(), ToPNG, "a.txt", []byte("abc"))
		var le *lostError
		if !errors.As(err, &le) || errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "the connection to the server broke before the answer was complete") {
			t.Errorf("v1 %v, no retries: err = %v", v1, err)
		}
	}
}

// A connection lost in the middle of the answer is retried only when the partial
// result can be taken back: ConvertBytes owns its buffer, Convert's writer is
// the caller's.
func TestPartialResultIsNotRetriedIntoTheCallersOutput(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		input := bytes.Repeat([]byte("abc"), 1000)
		s := startServer(t, v1, func(n int, req wire.ConvertRequest, body []byte) reply {
			r := upper(n, req, body)
			if n%2 == 1 {
				r.cut = 100
			}
			return r
		})
		c := s.client()
		if v1 {
			c.Protocol = ProtocolV1
		}
		out, err := c.ConvertBytes(context.Background(), ToPNG, "a.txt", input)
		if err != nil || !bytes.Equal(out, bytes.ToUpper(input)) || s.requests.Load() != 2 {
			t.Errorf("v1 %v, ConvertBytes: %v, %d bytes, %d requests", v1, err, len(out), s.requests.Load())
		}

		var buf bytes.Buffer
		res, err := c.Convert(context.Background(), ToPNG, "a.txt", bytes.NewReader(input), &buf, Options{})
		if err == nil || res.Attempts != 1 || s.requests.Load() != 3 || buf.Len() != 100 {
			t.Errorf("v1 %v, Convert: %v, %+v, %d bytes written, %d requests", v1, err, res, buf.Len(), s.requests.Load())
		}
		if err != nil && !strings.Contains(err.Error(), "(100 of 3000 bytes)") {
			t.Errorf("v1 %v: the error does not say how much arrived: %v", v1, err)
		}
	}
}

// A server that refuses the client's certificate does so, in TLS 1.3, after the
// client's handshake has completed: that is a refusal, not a lost connection.
func TestRefusedClientCertificateIsNotRetried(t *testing.T) {
	cert, pool := testCert(t)
	s := testnet.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13},
		func(conn net.Conn) { conn.Read(make([]byte, 1)) })
	c := &Client{Addr: s.Addr, Token: "tok", TLSConfig: &tls.Config{RootCAs: pool}}
	res, err := c.Convert(context.Background(), ToPNG, "a.txt", strings.NewReader("abc"), &bytes.Buffer{}, Options{})
	var le *lostError
	if err == nil || res.Attempts != 1 || errors.As(err, &le) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %v, attempts %d", err, res.Attempts)
	}
}
