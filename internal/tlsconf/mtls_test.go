package tlsconf

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMutualTLSRefusesUnknownAndExpiredClients: a server that requires client
// certificates refuses one from another CA and one from its own CA that has
// expired, and goes on serving a good one after both.
func TestMutualTLSRefusesUnknownAndExpiredClients(t *testing.T) {
	now := time.Now()
	ca, err := issueCA(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := issueCA(now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sans, err := parseHosts([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(notAfter time.Time, by *issued) tls.Certificate {
		t.Helper()
		c, err := issueLeaf(clientRole, sans, now.Add(-2*time.Hour), notAfter, by)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.tlsCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	server, err := issueLeaf(workerRole, sans, now.Add(-time.Hour), now.Add(time.Hour), &ca)
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := server.tlsCertificate()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := ServerConfigWith(serverCert, caFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					io.WriteString(c, "ok")
				}
			}()
		}
	}()
	pool, err := LoadCAPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(cert tls.Certificate) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
			&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		// In TLS 1.3 the server judges the client's certificate after the
		// client's side of the handshake is done: the refusal arrives on read.
		b, err := io.ReadAll(conn)
		if err == nil && string(b) != "ok" {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	for name, cert := range map[string]tls.Certificate{
		"another CA's":          leaf(now.Add(time.Hour), &stranger),
		"its own CA's, expired": leaf(now.Add(-time.Hour), &ca),
		"self-signed":           leaf(now.Add(time.Hour), nil),
	} {
		if err := dial(cert); err == nil {
			t.Errorf("a client certificate %s was accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if err := dial(leaf(now.Add(time.Hour), &ca)); err != nil {
		t.Errorf("a good client certificate after the refusals: %v", err)
	}
}
