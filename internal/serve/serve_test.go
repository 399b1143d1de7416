package serve

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestWatchPeerNoticesClose(t *testing.T) {
	a, b := net.Pipe()
	gone := make(chan struct{})
	stop := WatchPeer(a, func() { close(gone) })
	b.Write([]byte("extra bytes are discarded"))
	b.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not notice the peer leave")
	}
	stop()
}

func TestWatchPeerStopsWithoutCallingGone(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	var called atomic.Bool
	stop := WatchPeer(a, func() { called.Store(true) })
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return: the reader goroutine would leak")
	}
	if called.Load() {
		t.Error("gone was called after stop")
	}
}

func TestConnDeadlines(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := &Conn{Conn: a, Idle: 50 * time.Millisecond}
	start := time.Now()
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read err %v, want a deadline error", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("idle deadline took %s", time.Since(start))
	}
	// Until caps the idle deadline.
	c = &Conn{Conn: a, Idle: time.Hour, Until: time.Now().Add(50 * time.Millisecond)}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write err %v, want a deadline error", err)
	}
}

func TestDrainIsBounded(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		chunk := make([]byte, 1024)
		for {
			if _, err := b.Write(chunk); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	Drain(a, 1<<40, 64<<10, 5*time.Second)
	if time.Since(start) > 4*time.Second {
		t.Errorf("Drain read past its byte limit for %s", time.Since(start))
	}
	start = time.Now()
	c, d := net.Pipe()
	defer d.Close()
	Drain(c, 1<<20, 1<<20, 100*time.Millisecond) // a silent peer
	if time.Since(start) > 2*time.Second {
		t.Errorf("Drain ignored its time limit: %s", time.Since(start))
	}
}

func TestJobIDs(t *testing.T) {
	a, b := NewJobID(), NewJobID()
	if len(a) != 16 || a == b {
		t.Errorf("job ids %q %q", a, b)
	}
}
