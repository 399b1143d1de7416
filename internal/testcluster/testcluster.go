// Package testcluster starts a master and its workers in the test's process, on
// loopback with real mutual TLS from a fresh development PKI, for the tests of
// every package that needs a cluster to talk to. It is for tests only.
package testcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/master"
	"github.com/fileconv/fileconv/internal/tlsconf"
	"github.com/fileconv/fileconv/internal/worker"
)

// Token is a token every cluster accepts: the original system's default, so
// that tests also cover a 31-byte token; SecondToken is accepted too.
const (
	Token       = "super_secret_token_123456789012"
	SecondToken = "second-token"
)

// Options shape a cluster; the zero value is one worker.
type Options struct {
	// Workers is how many real workers run (default 1 unless FakeWorkers or
	// DeadWorkers are given).
	Workers int
	// DeadWorkers are addresses that refuse connections, listed first.
	DeadWorkers int
	// FakeWorkers are served with the cluster's worker certificate and listed
	// before the real ones; each gets every accepted connection.
	FakeWorkers []func(conn *tls.Conn)
	// DeadMaster leaves the master's address closed.
	DeadMaster bool
	Master     func(*master.Config)
	Worker     func(*worker.Config)
	// Quiet discards the logs instead of keeping them in Logs.
	Quiet bool
}

// Cluster is a running master and its workers.
type Cluster struct {
	Addr      string // the master's front door
	ClientTLS *tls.Config
	Logs      *LogBuffer
	Workers   []string // the real workers' addresses
	// Servers are the real workers, in the order of Workers: a test gives
	// one an engine through its Converter.
	Servers []*worker.Server
	Master  *master.Master
	PKI     tlsconf.PKIPaths
	// Stop asks the master for a graceful stop; HardStop ends its grace period,
	// cutting the jobs still in flight; Stopped is closed when its Serve has
	// returned.
	Stop, HardStop context.CancelFunc
	Stopped        chan struct{}
}

// Start runs a cluster until the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	dir := t.TempDir()
	if err := tlsconf.GenerateDevPKI(dir, tlsconf.PKIOptions{}); err != nil {
		t.Fatal(err)
	}
	p := tlsconf.Paths(dir)
	logs := &LogBuffer{}
	var handler slog.Handler = slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	if opts.Quiet {
		handler = slog.DiscardHandler
	}
	log := slog.New(handler)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})

	var addrs []string
	for range opts.DeadWorkers {
		addrs = append(addrs, closedAddr(t))
	}
	workerTLS, err := tlsconf.ServerConfig(p.WorkerCert, p.WorkerKey, p.CA)
	if err != nil {
		t.Fatal(err)
	}
	for _, fake := range opts.FakeWorkers {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", workerTLS)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		context.AfterFunc(ctx, func() { ln.Close() })
		wg.Go(func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Go(func() {
					defer conn.Close()
					fake(conn.(*tls.Conn))
				})
			}
		})
	}
	workers := opts.Workers
	if workers == 0 && opts.DeadWorkers == 0 && len(opts.FakeWorkers) == 0 {
		workers = 1
	}
	var (
		live    []string
		servers []*worker.Server
	)
	for i := range workers {
		cfg := worker.Config{TLS: workerTLS, Concurrency: 2, Logger: log.With("tier", "worker", "worker", i)}
		if opts.Worker != nil {
			opts.Worker(&cfg)
		}
		w, err := worker.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ln := listen(t)
		addrs = append(addrs, ln.Addr().String())
		live = append(live, ln.Addr().String())
		servers = append(servers, w)
		wg.Go(func() { w.Serve(ctx, ctx, ln) })
	}

	front, err := tlsconf.ServerConfig(p.MasterCert, p.MasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	toWorkers, err := tlsconf.ClientConfig(p.CA, p.MasterCert, p.MasterKey, "")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := master.ParseTokens(strings.NewReader(Token + "\n" + SecondToken + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := master.Config{TLS: front, WorkerTLS: toWorkers, Workers: addrs, Tokens: tokens, Logger: log.With("tier", "master")}
	if opts.Master != nil {
		opts.Master(&cfg)
	}
	m, err := master.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	graceful, stopMaster := context.WithCancel(ctx)
	hard, hardStop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	if opts.DeadMaster {
		ln.Close()
		close(stopped)
	} else {
		wg.Go(func() {
			defer close(stopped)
			m.Serve(graceful, hard, ln)
		})
	}
	clientTLS, err := tlsconf.ClientConfig(p.CA, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{Addr: ln.Addr().String(), ClientTLS: clientTLS, Logs: logs, Workers: live, Servers: servers, Master: m, PKI: p, Stop: stopMaster, HardStop: hardStop, Stopped: stopped}
}

// Client returns a client of the cluster with its token, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *client.Client {
	cl := &client.Client{Addr: c.Addr, Token: Token, TLSConfig: c.ClientTLS, Timeout: 30 * time.Second}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// WaitReady waits for the master's first health probes, so that a test's first
// request does not race them.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.Master.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("master not ready after 10s: %v", c.Master.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	ln := listen(t)
	defer ln.Close()
	return ln.Addr().String()
}

// LogBuffer collects log lines safely across goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor polls the logs for want: the tiers log after answering.
func (l *LogBuffer) WaitFor(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(l.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line contains %q; logs:\n%s", want, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
