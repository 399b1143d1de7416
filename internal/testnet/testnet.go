// Package testnet runs small TLS servers on loopback for tests: fake masters and
// workers whose behaviour a test writes itself. It is for tests only.
package testnet

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a TLS listener on loopback serving every connection with a handler.
type Server struct {
	Addr string
	// Accepts counts the connections accepted so far.
	Accepts atomic.Int32
}

// ServeTLS accepts TLS connections on loopback until the test ends, handing each
// to handle in its own goroutine; open connections are closed at the end.
func ServeTLS(t testing.TB, conf *tls.Config, handle func(net.Conn)) *Server {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		conns sync.Map
	)
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.Accepts.Add(1)
			conns.Store(conn, true)
			wg.Go(func() {
				defer conn.Close()
				handle(conn)
			})
		}
	})
	return s
}

// FreeAddr is a loopback address nothing listens on, for a server under test
// that binds its address itself: tests never bind fixed ports.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
