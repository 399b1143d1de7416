package master_test

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/wire"
	"github.com/fileconv/fileconv/internal/worker"
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

func sendConvert(t *testing.T, conn *tls.Conn, target string, body []byte) {
	t.Helper()
	req := wire.ConvertRequest{Token: testToken, Target: target, Name: "a.txt", Size: uint64(len(body)), SHA256: sha256.Sum256(body)}
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
	sendConvert(t, conn, "pdf", []byte("first"))
	sendConvert(t, conn, "jpg", []byte("second, which is text"))
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
	if e, _ := wire.DecodeErrorResponse(f); e == nil || e.Code != fail.TypeMismatch {
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
	sendConvert(t, conn, "pdf", bigText(8<<20))
	// Until the worker has the whole body, a cut shows there as a failed read.
	c.Logs.WaitFor(t, "body received; converting")
	conn.Close()
	c.Logs.WaitFor(t, "outcome=client_gone")
}

// A worker that refuses a job before taking its body (here, over its own size
// limit) answers and closes while the master is still sending. The client gets
// that answer once, its connection carries on, and the worker is not blamed.
func TestWorkerEarlyRefusalIsAnsweredOnce(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Worker: func(cfg *worker.Config) {
		cfg.MaxBodyBytes = 1 << 20
		cfg.DrainLimit = 64 << 10
	}})
	conn := v2Conn(t, c)
	defer conn.Close()
	body := bigText(4 << 20)
	sent := make(chan error, 1)
	go func() {
		req := wire.ConvertRequest{Token: testToken, Target: "pdf", Name: "a.txt", Size: uint64(len(body)), SHA256: sha256.Sum256(body)}
		err := wire.WriteConvert(conn, req)
		if err == nil {
			_, err = conn.Write(body)
		}
		if err == nil {
			err = wire.WritePing(conn, wire.Ping{ID: "after"})
		}
		sent <- err
	}()
	defer func() {
		if err := <-sent; err != nil {
			t.Errorf("send: %v", err)
		}
	}()
	f, err := wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameError {
		t.Fatalf("first answer: %v %v", f.Type, err)
	}
	if e, _ := wire.DecodeErrorResponse(f); e == nil || e.Code != fail.TooLarge || !strings.Contains(e.Message, "over the limit of 1048576 bytes") {
		t.Errorf("first answer %+v, want the worker's too_large", e)
	}
	f, err = wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FramePong {
		e, _ := wire.DecodeErrorResponse(f)
		t.Fatalf("the answer after the refusal is %v %+v %v, want the PONG", f.Type, e, err)
	}
	c.Logs.WaitFor(t, "outcome=too_large input_type=text")
	if st := c.Master.Status(); st.Workers[0].State != "healthy" || st.Workers[0].Failures != 0 {
		t.Errorf("a worker that refused a job was blamed for it: %+v", st.Workers[0])
	}
	if logs := c.Logs.String(); strings.Contains(logs, "retrying on another") || strings.Contains(logs, "retried=true") {
		t.Errorf("a refused job was retried; logs:\n%s", logs)
	}
}

// A connection past MaxConns is answered busy and closed: it holds no slot of
// the connections answered that way while its client waits to retry.
func TestV2ConnectionPastMaxConnsIsClosed(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) { cfg.MaxConns = 1 }})
	hold := v2Conn(t, c)
	defer hold.Close()
	time.Sleep(50 * time.Millisecond)
	conn := v2Conn(t, c)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	sendConvert(t, conn, "pdf", []byte("hi"))
	f, err := wire.ReadFrameHeader(conn, 0)
	if err != nil || f.Type != wire.FrameError {
		t.Fatalf("answer: %v %v", f.Type, err)
	}
	if e, _ := wire.DecodeErrorResponse(f); e == nil || e.Code != fail.Busy || e.RetryAfter <= 0 {
		t.Errorf("answer %+v, want busy with a retry hint", e)
	}
	if f, err := wire.ReadFrameHeader(conn, 0); !errors.Is(err, io.EOF) {
		t.Errorf("after the busy answer: %v %v, want the connection closed", f.Type, err)
	}
}
