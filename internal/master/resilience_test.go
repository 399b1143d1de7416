package master_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/wire"
)

// brokenWorker answers probes like a healthy worker, then takes each job's whole
// body and closes the connection without answering: a worker that crashed mid-job.
func brokenWorker(conn *tls.Conn) { eatJobs(conn, "") }

// eatJobs answers probes like a healthy worker, then takes each job's whole body
// and writes answer, if any, before closing the connection.
func eatJobs(conn *tls.Conn, answer string) { eatJobsSlowly(conn, answer, 0) }

// eatJobsSlowly is eatJobs taking delay over each job.
func eatJobsSlowly(conn *tls.Conn, answer string, delay time.Duration) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var version [4]byte
	if _, err := io.ReadFull(conn, version[:]); err != nil {
		return
	}
	if string(version[:]) == wire.Version20 {
		// Jobs come over protocol v2.
		if f, err := wire.ReadFrameHeader(conn, 0); err == nil {
			io.CopyN(io.Discard, conn, int64(f.BodySize))
		}
		time.Sleep(delay)
		io.WriteString(conn, answer)
		return
	}
	h, err := wire.ReadHeader(io.MultiReader(bytes.NewReader(version[:]), conn))
	if err == nil && h.IsProbe() {
		body, _ := json.Marshal(wire.WorkerStatus{Capacity: 2})
		wire.WriteResponse(conn, body)
	}
}

// hungWorker completes TLS and then never answers anything.
func hungWorker(conn *tls.Conn) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, conn)
}

func bigText(size int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "Paragraph %d has a few words that make the PDF take a while to lay out.\n\n", i)
	}
	return []byte(b.String())
}

func TestRetryWhenWorkerFailsAfterTheBody(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, FakeWorkers: []func(*tls.Conn){brokenWorker}, Master: func(cfg *master.Config) {
		cfg.EjectBase = time.Millisecond
		cfg.EjectMax = time.Millisecond
	}})
	for i := range 8 {
		out, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hello"))
		if err != nil || !strings.HasPrefix(string(out), "%PDF") {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if !strings.Contains(c.Logs.String(), "worker failed during the job; retrying on another") || !strings.Contains(c.Logs.String(), "retried=true") {
		t.Errorf("no job was retried; logs:\n%s", c.Logs.String())
	}
}

func TestNoRetryPastTheRetryBuffer(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, FakeWorkers: []func(*tls.Conn){brokenWorker}, Master: func(cfg *master.Config) {
		cfg.RetryBufferBytes = 1024
		cfg.EjectBase = time.Millisecond
		cfg.EjectMax = time.Millisecond
	}})
	body := bigText(4096)
	cl := newClient(c)
	cl.MaxRetries = -1 // the client's own retry would hide the master's answer
	for range 8 {
		_, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", body)
		var se *client.ServerError
		if errors.As(err, &se) {
			if !strings.Contains(se.Message, "failed during the job") || !strings.Contains(se.Message, "retry buffer") {
				t.Errorf("message %q", se.Message)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Error("the broken worker never got a job")
}

// slowWorker is a worker that takes a second over each job and answers it with
// a valid (if tiny) PDF: a conversion whose length does not depend on the
// machine or the race detector.
func slowWorker(conn *tls.Conn) {
	pdf := []byte("%PDF-1.4\n%%EOF\n")
	var answer bytes.Buffer
	wire.WriteResult(&answer, wire.Result{JobID: "slow", Size: uint64(len(pdf)), SHA256: sha256.Sum256(pdf)})
	answer.Write(pdf)
	eatJobsSlowly(conn, answer.String(), time.Second)
}

func TestBusyWhenQueueIsFullOrTimesOut(t *testing.T) {
	c := startCluster(t, clusterOptions{FakeWorkers: []func(*tls.Conn){slowWorker}, Master: func(cfg *master.Config) {
		cfg.WorkerCapacity = 1
		cfg.QueueSize = 1
		cfg.QueueTimeout = 300 * time.Millisecond
	}})
	body := bigText(64 << 10)
	var (
		mu       sync.Mutex
		messages []string
		wg       sync.WaitGroup
	)
	// One converts for a second or so; the next waits in the queue until it
	// times out; the others find the queue full.
	for i := range 4 {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
			cl := newClient(c)
			cl.MaxRetries = -1 // see the master's busy answers, not the client's retries
			_, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				messages = append(messages, err.Error())
			} else {
				messages = append(messages, "ok")
			}
		})
	}
	wg.Wait()
	all := strings.Join(messages, "\n")
	if !strings.Contains(all, "ok") || !strings.Contains(all, "already waiting") || !strings.Contains(all, "stayed at capacity for 300ms") {
		t.Errorf("results:\n%s", all)
	}
}

func TestMaxConns(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, Master: func(cfg *master.Config) { cfg.MaxConns = 1 }})
	hold, err := tls.Dial("tcp", c.Addr, c.ClientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	time.Sleep(50 * time.Millisecond)
	_, err = newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hi"))
	if err == nil || !strings.Contains(err.Error(), "busy: the server is at its limit of 1 connections") {
		t.Errorf("err = %v, want busy", err)
	}
}

func TestHungWorkerIsEjected(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1, FakeWorkers: []func(*tls.Conn){hungWorker}, Master: func(cfg *master.Config) {
		cfg.HealthInterval = 100 * time.Millisecond
		cfg.IOTimeout = 300 * time.Millisecond
	}})
	waitForStatus(t, c, func(st master.Status) bool {
		for _, w := range st.Workers {
			if w.State == "ejected" {
				return true
			}
		}
		return false
	})
	for i := range 4 {
		if _, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hi")); err != nil {
			t.Fatalf("request %d with a hung worker ejected: %v", i, err)
		}
	}
	if st := c.Master.Status(); !st.Ready {
		t.Errorf("master not ready with one healthy worker: %s", st.NotReady)
	}
}

func TestWorkersAnnounceCapacity(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 2})
	waitForStatus(t, c, func(st master.Status) bool {
		for _, w := range st.Workers {
			if !w.Announced || w.Capacity != 2 || w.State != "healthy" {
				return false
			}
		}
		return len(st.Workers) == 2
	})
}

func TestGracefulStopFinishesJobsInFlight(t *testing.T) {
	c := startCluster(t, clusterOptions{Workers: 1})
	body := bigText(1 << 20)
	result := make(chan error, 1)
	go func() {
		_, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", body)
		result <- err
	}()
	c.Logs.WaitFor(t, "waiting for the worker's answer")
	c.Stop()
	waitForStatus(t, c, func(st master.Status) bool { return strings.Contains(st.NotReady, "stopping") })
	if err := <-result; err != nil {
		t.Errorf("the job in flight failed during a graceful stop: %v", err)
	}
	select {
	case <-c.Stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its last job")
	}
	if _, err := newClient(c).ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hi")); err == nil {
		t.Error("a stopped master took a new job")
	}
}

// At the end of the grace period a stopping master cuts the jobs still in
// flight: Serve returns without waiting for their conversions, the clients read
// that the master is stopping (which they retry), and the workers drop the
// conversions.
func TestGraceEndCutsJobsInFlight(t *testing.T) {
	for _, proto := range []string{client.ProtocolV2, client.ProtocolV1} {
		t.Run(proto, func(t *testing.T) {
			c := startCluster(t, clusterOptions{Workers: 1})
			// Seconds of conversion, far longer than the test needs to cut it.
			body := bigText(4 << 20)
			cl := newClient(c)
			cl.Protocol, cl.MaxRetries = proto, -1
			result := make(chan error, 1)
			go func() {
				_, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", body)
				result <- err
			}()
			// Until the worker has the whole body, a cut shows there as a failed read.
			c.Logs.WaitFor(t, "body received; converting")
			c.Stop()
			c.HardStop()
			select {
			case <-c.Stopped:
			case <-time.After(5 * time.Second):
				t.Fatal("Serve still waits for a job after the end of its grace period")
			}
			err := <-result
			if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "shutting down") {
				t.Errorf("the job cut by the stop ended with %v, want the master's unavailable answer", err)
			}
			c.Logs.WaitFor(t, "outcome=client_gone")
			if !strings.Contains(c.Logs.String(), "outcome=stopped") {
				t.Errorf("no job line with outcome=stopped; logs:\n%s", c.Logs.String())
			}
		})
	}
}

func waitForStatus(t *testing.T, c *cluster, cond func(master.Status) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond(c.Master.Status()) {
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(c.Master.Status(), "", "  ")
			t.Fatalf("status never reached the expected state:\n%s", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWorkerAnswerCutShortIsARelayFailure(t *testing.T) {
	var answer bytes.Buffer
	if err := wire.WriteResult(&answer, wire.Result{JobID: "j", Size: 1000, SHA256: [32]byte{1}}); err != nil {
		t.Fatal(err)
	}
	answer.WriteString("short")
	c := startCluster(t, clusterOptions{FakeWorkers: []func(*tls.Conn){func(conn *tls.Conn) { eatJobs(conn, answer.String()) }}})
	cl := newClient(c)
	cl.MaxRetries = -1
	if _, err := cl.ConvertBytes(context.Background(), client.TextToPDF, "a.txt", []byte("hello")); err == nil {
		t.Fatal("a cut answer converted without an error")
	}
	// The master logs the job after the client has its answer.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(c.Logs.String(), "the worker sent 5 of the 1000 bytes it announced"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no relay failure logged:\n%s", c.Logs.String())
		}
	}
}
