package client

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/testnet"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/wire"
)

// reply is what a fake server answers to one CONVERT.
type reply struct {
	body  []byte
	err   *wire.ErrorResponse
	bad   bool // announce a wrong SHA-256
	close bool // close the connection after answering
	drop  bool // close the connection without answering: a master that died
	cut   int  // announce the whole result, send this many bytes of it and close
	// warnings go in the RESULT
	warnings []string
}

// fakeServer is a v2 server (or, with v1Only, a v1.0 one) over real TLS on
// loopback, written with the wire package.
type fakeServer struct {
	t        *testing.T
	clientTL *tls.Config
	v1Only   bool
	handle   func(n int, req wire.ConvertRequest, body []byte) reply
	*testnet.Server
	requests atomic.Int32
	mu       sync.Mutex
	seen     []wire.ConvertRequest
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	roots    *x509.CertPool
)

func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	certOnce.Do(func() {
		var err error
		cert, err = tlsconf.SelfSigned("127.0.0.1")
		if err != nil {
			panic(err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			panic(err)
		}
		roots = x509.NewCertPool()
		roots.AddCert(leaf)
	})
	return cert, roots
}

func startServer(t *testing.T, v1Only bool, handle func(n int, req wire.ConvertRequest, body []byte) reply) *fakeServer {
	t.Helper()
	c, pool := testCert(t)
	s := &fakeServer{t: t, clientTL: &tls.Config{RootCAs: pool}, v1Only: v1Only, handle: handle}
	s.Server = testnet.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{c}}, s.serve)
	return s
}

func (s *fakeServer) client() *Client {
	return &Client{Addr: s.Addr, Token: "tok", TLSConfig: s.clientTL, RetryBackoff: time.Millisecond, Timeout: 10 * time.Second}
}

func (s *fakeServer) serve(conn net.Conn) {
	br := bufio.NewReader(conn)
	preface, err := br.Peek(4)
	if err != nil {
		return
	}
	if s.v1Only || string(preface) == wire.Version10 {
		s.serveV1(conn, br)
		return
	}
	br.Discard(4)
	for {
		req, body, ok := testnet.NextConvert(br, conn)
		if !ok {
			return
		}
		if !digestsMatch(req, body) {
			wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: fail.ChecksumMismatch, Message: "bad sum"})
			continue
		}
		n := int(s.requests.Add(1))
		s.mu.Lock()
		s.seen = append(s.seen, req)
		s.mu.Unlock()
		r := s.handle(n, req, body)
		if r.drop {
			return
		}
		if r.err != nil {
			wire.WriteErrorResponse(conn, r.err)
		} else {
			res := wire.Result{JobID: fmt.Sprintf("job%d", n), SHA256: sha256.Sum256(r.body), InputType: "text", ContentType: "text/plain",
				Warnings: r.warnings}
			if r.bad {
				res.SHA256[0] ^= 1
			}
			if r.cut > 0 {
				res.Size = uint64(len(r.body))
				var out bytes.Buffer
				wire.WriteResult(&out, res)
				out.Write(r.body[:r.cut])
				conn.Write(out.Bytes())
				return
			}
			testnet.WriteResult(conn, res, r.body)
		}
		if r.close {
			return
		}
	}
}

// serveV1 answers one v1.0 request as a master does, refusing v2's preface.
func (s *fakeServer) serveV1(conn net.Conn, br *bufio.Reader) {
	h, err := wire.ReadHeader(br)
	if err != nil {
		return
	}
	if err := h.ValidateVersionAndOperation(); err != nil {
		wire.WriteError(conn, err.Error())
		conn.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, br)
		return
	}
	body := make([]byte, h.Size)
	if _, err := io.ReadFull(br, body); err != nil {
		return
	}
	if md5.Sum(body) != h.Checksum {
		wire.WriteError(conn, "Checksum mismatch")
		return
	}
	n := int(s.requests.Add(1))
	r := s.handle(n, wire.ConvertRequest{Token: h.Token, Target: h.Operation.Target(), Name: h.Filename, Size: h.Size}, body)
	switch {
	case r.drop:
	case r.err != nil:
		wire.WriteError(conn, r.err.Message)
	case r.cut > 0:
		var out bytes.Buffer
		wire.WriteResponse(&out, r.body)
		conn.Write(out.Bytes()[:wire.ResponseSizeLen+r.cut])
	default:
		wire.WriteResponse(conn, r.body)
	}
}

// upper is a conversion that is easy to check.
func upper(_ int, _ wire.ConvertRequest, body []byte) reply {
	return reply{body: bytes.ToUpper(body)}
}

var errs = struct{ busy, unavailable, unauthorized *wire.ErrorResponse }{
	busy:         &wire.ErrorResponse{Code: fail.Busy, Message: "all workers are busy", RetryAfter: 5 * time.Millisecond},
	unavailable:  &wire.ErrorResponse{Code: fail.Unavailable, Message: "no worker is available"},
	unauthorized: &wire.ErrorResponse{Code: fail.Unauthorized, Message: "Invalid authentication token"},
}

var _ = errors.New

// digestsMatch checks the body's digest, or each file's in a request of
// several files.
func digestsMatch(req wire.ConvertRequest, body []byte) bool {
	if req.Files == nil {
		return sha256.Sum256(body) == req.SHA256
	}
	for _, f := range req.Files {
		if uint64(len(body)) < f.Size || sha256.Sum256(body[:f.Size]) != f.SHA256 {
			return false
		}
		body = body[f.Size:]
	}
	return len(body) == 0
}
