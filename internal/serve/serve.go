// Package serve holds the connection plumbing the master and the worker share: an
// accept loop that runs each TLS handshake in the connection's own goroutine under a
// deadline, connections whose every read and write has a deadline, bounded draining
// of a rejected request, and a watcher that notices a peer that went away.
package serve

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Handler serves one connection whose TLS handshake has completed. It must return
// when ctx is cancelled; the loop closes the connection after it returns.
type Handler func(ctx context.Context, conn *tls.Conn)

// Loop accepts TLS connections and hands each to Handle in its own goroutine.
type Loop struct {
	// TLS is the server configuration for every accepted connection.
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake, so that a client that connects and
	// stays silent holds only its own goroutine, and only for this long.
	HandshakeTimeout time.Duration
	Handle           Handler
	Logger           *slog.Logger
	// OnHandshakeError, if set, is called after every failed handshake (for metrics).
	OnHandshakeError func(error)
	// MaxConns bounds the connections served at once; 0 means no bound. Past it,
	// a connection is handed to Overflow instead of Handle.
	MaxConns int
	// Overflow answers a connection over MaxConns, after its handshake: typically
	// a one-line "busy" error. Nil closes such connections at once.
	Overflow Handler
}

// maxOverflow bounds the goroutines answering connections over MaxConns; past it a
// connection is closed unanswered, so a flood costs the server nothing more.
func (l *Loop) maxOverflow() int { return l.MaxConns/8 + 16 }

// Serve accepts on ln until ctx is cancelled, then closes ln and waits for the
// connections in progress to finish. Handlers get a context that is cancelled only
// when hardStop is, so that jobs in flight may finish after a graceful stop.
func (l *Loop) Serve(ctx, hardStop context.Context, ln net.Listener) error {
	stopAccepting := context.AfterFunc(ctx, func() { ln.Close() })
	defer stopAccepting()
	var wg sync.WaitGroup
	defer wg.Wait()
	var (
		backoff  time.Duration
		active   = make(chan struct{}, max(l.MaxConns, 1))
		overflow = make(chan struct{}, l.maxOverflow())
	)
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isRetryableAccept(err) {
				// Out of file descriptors and the like: wait instead of spinning.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.Logger.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		backoff = 0
		if l.MaxConns <= 0 {
			wg.Go(func() { l.serveConn(hardStop, raw, l.Handle) })
			continue
		}
		select {
		case active <- struct{}{}:
			wg.Go(func() {
				defer func() { <-active }()
				l.serveConn(hardStop, raw, l.Handle)
			})
		default:
			select {
			case overflow <- struct{}{}:
				if l.Overflow == nil {
					<-overflow
					raw.Close()
					continue
				}
				wg.Go(func() {
					defer func() { <-overflow }()
					l.serveConn(hardStop, raw, l.Overflow)
				})
			default:
				raw.Close()
			}
		}
	}
}

// isRetryableAccept reports accept errors worth retrying (out of descriptors or
// buffers, a connection aborted before accept), which Go no longer marks Temporary.
func isRetryableAccept(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func (l *Loop) serveConn(ctx context.Context, raw net.Conn, handle Handler) {
	conn := tls.Server(raw, l.TLS)
	defer conn.Close()
	hsCtx, cancel := context.WithTimeout(ctx, l.HandshakeTimeout)
	err := conn.HandshakeContext(hsCtx)
	cancel()
	if err != nil {
		l.Logger.Info("TLS handshake failed", "client", raw.RemoteAddr().String(), "err", err)
		if l.OnHandshakeError != nil {
			l.OnHandshakeError(err)
		}
		return
	}
	handle(ctx, conn)
}

// Conn gives every Read and Write on a connection a deadline: at most Idle from
// now, and never past Until (the job's deadline) when Until is set.
type Conn struct {
	net.Conn
	Idle  time.Duration
	Until time.Time
	// Pending holds bytes already read from the peer (by a watcher) that Read
	// returns before reading the connection again.
	Pending []byte
}

func (c *Conn) deadline() time.Time {
	d := time.Now().Add(c.Idle)
	if !c.Until.IsZero() && c.Until.Before(d) {
		return c.Until
	}
	return d
}

func (c *Conn) Read(p []byte) (int, error) {
	if len(c.Pending) > 0 {
		n := copy(p, c.Pending)
		c.Pending = c.Pending[n:]
		return n, nil
	}
	if err := c.Conn.SetReadDeadline(c.deadline()); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *Conn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(c.deadline()); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// Drain reads and discards up to min(remaining, limit) bytes of a request that was
// rejected, for at most timeout, so that closing the connection does not reset it
// before the client has read the error: a TCP close with unread data sends RST,
// and the client's next read would fail instead of returning the message.
func Drain(conn net.Conn, remaining uint64, limit int64, timeout time.Duration) {
	n := int64(min(remaining, uint64(limit)))
	if n <= 0 {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	_, _ = io.CopyN(io.Discard, conn, n)
}

// WatchPeer notices that the peer closed its connection while the request is being
// served. It reads from conn in the background (the request has been read in full,
// so a read returns only when the peer goes away or sends more than it declared,
// which is discarded) and calls gone when the connection ends. The returned stop
// unblocks the reader and waits for it, so no goroutine outlives the request.
func WatchPeer(conn net.Conn, gone func()) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		done    = make(chan struct{})
	)
	// The deadline is cleared once, here: resetting it inside the loop could undo
	// the one stop sets and leave the reader blocked.
	_ = conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(done)
		var buf [512]byte
		for {
			if _, err := conn.Read(buf[:]); err != nil {
				mu.Lock()
				defer mu.Unlock()
				if !stopped {
					gone()
				}
				return
			}
		}
	}()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		_ = conn.SetReadDeadline(time.Now())
		<-done
	}
}

// maxKept bounds what WatchPeerKeep holds for the next request; past it the
// watcher stops reading, and TCP flow control holds the peer back.
const maxKept = 64 << 10

// WatchPeerKeep is WatchPeer for a connection that may carry the next request
// while this one is served (protocol v2): what the peer sends is kept, not
// discarded, and stop returns it so that the next read can start with it.
func WatchPeerKeep(conn net.Conn, gone func()) (stop func() []byte) {
	var (
		mu      sync.Mutex
		stopped bool
		kept    []byte
		done    = make(chan struct{})
	)
	_ = conn.SetReadDeadline(time.Time{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			mu.Lock()
			kept = append(kept, buf[:n]...)
			full := len(kept) >= maxKept
			if err != nil && !stopped {
				gone()
			}
			mu.Unlock()
			if err != nil || full {
				return
			}
		}
	}()
	return func() []byte {
		mu.Lock()
		stopped = true
		mu.Unlock()
		_ = conn.SetReadDeadline(time.Now())
		<-done
		return kept
	}
}

// NewJobID returns a random 16-hex-digit identifier for a job's log lines.
func NewJobID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TooLarge is the message for a body over the size limit, shared by both tiers so
// the client reads the same words whichever one refused it.
func TooLarge(size uint64, limit int64) string {
	return fmt.Sprintf("file is %d bytes, over the limit of %d bytes (max-body)", size, limit)
}

// TooManyFiles is the message for a job of more files than limit, shared by
// both tiers like TooLarge.
func TooManyFiles(n, limit int) string {
	return fmt.Sprintf("%d files in one job, over the limit of %d (max-files); send them in smaller groups", n, limit)
}

// IdleGuard closes a persistent connection when a graceful stop comes while the
// connection sits between requests, so that a stop is not held up by clients that
// keep connections open; a request in progress is left to finish.
type IdleGuard struct {
	conn    net.Conn
	idle    atomic.Bool
	stopped atomic.Bool
	release func() bool
}

// GuardIdle watches stopping for conn. Call Release when the connection is done.
func GuardIdle(stopping context.Context, conn net.Conn) *IdleGuard {
	g := &IdleGuard{conn: conn}
	g.release = context.AfterFunc(stopping, func() {
		// Stopped first, idle second; SetIdle does the reverse, so one of the
		// two always sees the other and the connection cannot be missed.
		g.stopped.Store(true)
		if g.idle.Load() {
			conn.Close()
		}
	})
	return g
}

// SetIdle marks the connection as waiting for its next request (true) or serving
// one (false). It reports false when the connection should not wait: a stop came.
func (g *IdleGuard) SetIdle(idle bool) bool {
	g.idle.Store(idle)
	return !(idle && g.stopped.Load())
}

// Release stops watching.
func (g *IdleGuard) Release() { g.release() }
