package master

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"time"

	"github.com/fileconv/fileconv/internal/wire"
)

// idleConnTimeout is how long a pooled worker connection may wait for its next
// job. It is shorter than the worker's own idle timeout, so the master closes idle
// connections before the worker does and never sends a job into a closing one.
const idleConnTimeout = time.Minute

// idleConn is a worker connection that has finished its last exchange.
type idleConn struct {
	conn  *tls.Conn
	since time.Time
}

// workerConn returns a protocol v2 connection to b: an idle pooled one that is
// still alive, or a new one. Reusing connections spares a TLS handshake per job.
func (m *Master) workerConn(ctx context.Context, b *backend) (*tls.Conn, error) {
	for {
		c := m.pool.takeIdle(b)
		if c == nil {
			break
		}
		if time.Since(c.since) < idleConnTimeout && alive(c.conn) {
			return c.conn, nil
		}
		c.conn.Close()
	}
	conn, err := m.dial(ctx, b)
	if err != nil {
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Now().Add(m.cfg.IOTimeout))
	if _, err := conn.Write([]byte(wire.Version20)); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// alive reports whether an idle connection is still open: the worker sends
// nothing between jobs, so a read that times out at once means it is, and EOF or
// an error means the worker closed it.
func alive(c *tls.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// putIdle returns a connection whose exchange completed to b's pool.
func (m *Master) putIdle(b *backend, c *tls.Conn) {
	if !m.pool.putIdle(b, idleConn{conn: c, since: time.Now()}) {
		c.Close()
	}
}

func (p *pool) takeIdle(b *backend) *idleConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b.idle)
	if n == 0 {
		return nil
	}
	c := b.idle[n-1] // the most recent is the most likely alive
	b.idle = b.idle[:n-1]
	return &c
}

// putIdle keeps c for b's next job, up to b's capacity; it reports false when the
// connection should be closed instead.
func (p *pool) putIdle(b *backend, c idleConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.removed || len(b.idle) >= max(b.capacity, 1) {
		return false
	}
	b.idle = append(b.idle, c)
	return true
}

// closeIdle closes every pooled connection, at shutdown.
func (p *pool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.backends {
		for _, c := range b.idle {
			c.conn.Close()
		}
		b.idle = nil
	}
}
