package master_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/wire"
)

// Hostile or broken peers each get a clear answer or a closed connection, and the
// master keeps serving everyone else.
func TestHostilePeers(t *testing.T) {
	garbageWorker := func(conn *tls.Conn) {
		eatJobs(conn, "this is not a protocol frame at all, just noise")
	}
	c := startCluster(t, clusterOptions{Workers: 1, FakeWorkers: []func(*tls.Conn){garbageWorker}, Master: func(cfg *master.Config) {
		cfg.HandshakeTimeout = time.Second
		cfg.IOTimeout = time.Second
	}})
	ok := func(what string) {
		t.Helper()
		if _, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("still serving")); err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
	}

	// Random bytes instead of a TLS handshake: closed, nothing else.
	raw, err := net.Dial("tcp", c.Addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02 random"))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, raw)
	raw.Close()
	ok("random bytes instead of TLS")

	// TLS 1.1 is refused.
	if conn, err := tls.Dial("tcp", c.Addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 client was accepted")
	}
	// No SNI (an IP address as the server name sends none) works.
	noSNI := c.ClientTLS.Clone()
	noSNI.ServerName = "127.0.0.1"
	cl := newClient(c)
	cl.TLSConfig = noSNI
	if _, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("x")); err != nil {
		t.Errorf("a client without SNI: %v", err)
	}

	// A file name with a newline and a path cannot break a log line.
	conn, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("text")
	h := wire.NewHeader(testToken, "../x\nlevel=ERROR msg=forged", wire.OpTextToPDF, body)
	hdr := h.Encode()
	conn.Write(append(hdr[:], body...))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn)
	conn.Close()
	c.Logs.WaitFor(t, `file="../x\\x0alevel=ERROR msg=forged"`)
	for _, line := range strings.Split(c.Logs.String(), "\n") {
		if strings.HasPrefix(line, "level=ERROR msg=forged") {
			t.Error("a file name forged a log line")
		}
	}

	// A client that never reads its answer is cut off by the write deadline,
	// and the master goes on.
	slow, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	big := []byte(strings.Repeat("a few words to make a large PDF answer. ", 200000))
	h = wire.NewHeader(testToken, "big.txt", wire.OpTextToPDF, big)
	hdr = h.Encode()
	go slow.Write(append(hdr[:], big...))
	defer slow.Close()
	ok("a client that does not read its answer")

	// The garbage worker's answers are failures: jobs move to the good worker.
	for i := range 4 {
		if _, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hello")); err != nil {
			t.Fatalf("request %d beside a worker answering garbage: %v", i, err)
		}
	}
}
