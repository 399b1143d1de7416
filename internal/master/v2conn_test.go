package master_test

import (
	"crypto/sha256"
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/wire"
)

func v2Conn(t *testing.T, c *cluster) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(wire.Version20)); err != nil {
		t.Fatal(err)
	}
	return conn
}

func sendConvert(t *testing.T, conn *tls.Conn, op wire.Operation, body []byte) {
	t.Helper()
	req := wire.ConvertRequest{Token: testToken, Op: op, Name: "a.txt", Size: uint64(len(body)), SHA256: sha256.Sum256(body)}
	if err := wire.WriteConvert(conn, req); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
}

// A v2 client may send its next request before the answer to the previous one;
// the answers come in order.
func TestV2Pipelining(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	conn := v2Conn(t, c)
	defer conn.Close()
	sendConvert(t, conn, wire.OpTextToPDF, []byte("first"))
	sendConvert(t, conn, wire.OpToJPEG, []byte("second, which is text"))
	wire.WritePing(conn, wire.Ping{ID: "third"})

	f, err := wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameResult {
		t.Fatalf("first answer: %v %v", f.Type, err)
	}
	io.CopyN(io.Discard, conn, int64(f.BodySize))
	f, err = wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameError {
		t.Fatalf("second answer: %v %v", f.Type, err)
	}
	if e, _ := wire.DecodeErrorResponse(f); e == nil || e.Code != wire.CodeTypeMismatch {
		t.Errorf("second answer %+v", e)
	}
	f, err = wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FramePong || !strings.Contains(string(f.Header), "third") {
		t.Fatalf("third answer: %v %s %v", f.Type, f.Header, err)
	}
}

func TestV2ClientGoneCancelsConversion(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	conn := v2Conn(t, c)
	sendConvert(t, conn, wire.OpTextToPDF, bigText(8<<20))
	// Until the worker has the whole body, a cut shows there as a failed read.
	c.Logs.WaitFor(t, "body received; converting")
	conn.Close()
	c.Logs.WaitFor(t, "outcome=client_gone")
}
