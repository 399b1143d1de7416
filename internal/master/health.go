package master

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// watchWorkers resolves worker names again and probes every worker, each on its
// own interval, until ctx ends.
func (m *Master) watchWorkers(ctx context.Context) {
	probe := time.NewTicker(m.cfg.HealthInterval)
	defer probe.Stop()
	var resolve <-chan time.Time
	if m.resolver.hasNames() {
		t := time.NewTicker(m.cfg.ResolveInterval)
		defer t.Stop()
		resolve = t.C
	}
	// Probe at once: workers announce their capacity, and a dead one is found
	// before the first job tries it.
	m.probeAll(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-resolve:
			m.refreshWorkers(ctx)
		case <-probe.C:
			m.probeAll(ctx)
		}
	}
}

// refreshWorkers resolves --workers and updates the pool.
func (m *Master) refreshWorkers(ctx context.Context) {
	added, removed := m.pool.update(m.resolver.resolve(ctx))
	for _, b := range added {
		m.log.Info("worker added", "worker", b.addr, "name", b.serverName)
	}
	for _, b := range removed {
		m.log.Info("worker removed", "worker", b.addr, "name", b.serverName)
	}
}

// probeAll probes every worker at once, each bounded by the health interval, so
// a hung worker delays nobody's probe but its own.
func (m *Master) probeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, b := range m.pool.list() {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, max(m.cfg.HealthInterval, time.Second))
			defer cancel()
			st, err := m.probe(pctx, b)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				wasHealthy := m.pool.isHealthy(b)
				m.pool.failed(b, err)
				if wasHealthy {
					m.log.Warn("worker failed its health probe; ejected", "worker", b.addr, "err", err)
				}
				return
			}
			if !m.pool.isHealthy(b) {
				m.log.Info("worker healthy again", "worker", b.addr)
			}
			m.pool.announced(b, st.Capacity, st.Draining, capabilities(st.Converts), st.OCRLanguages...)
		})
	}
	wg.Wait()
}

// probe asks a worker how it is: a request with the probe marker, operation 0 and
// no body, answered with a JSON wire.WorkerStatus.
func (m *Master) probe(ctx context.Context, b *backend) (wire.WorkerStatus, error) {
	conn, err := m.dial(ctx, b)
	if err != nil {
		return wire.WorkerStatus{}, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	c := &serve.Conn{Conn: conn, Idle: m.cfg.IOTimeout, Until: deadline}
	h := wire.Header{Version: wire.Version10, Token: wire.ProbePrefix}
	hdr := h.Encode()
	if _, err := c.Write(hdr[:]); err != nil {
		return wire.WorkerStatus{}, fmt.Errorf("probe: %w", err)
	}
	size, err := wire.ReadResponseSize(c)
	if err != nil {
		return wire.WorkerStatus{}, fmt.Errorf("probe: %w", err)
	}
	if size > 4096 {
		return wire.WorkerStatus{}, fmt.Errorf("probe: answer of %d bytes is not a status", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c, body); err != nil {
		return wire.WorkerStatus{}, fmt.Errorf("probe: %w", err)
	}
	var st wire.WorkerStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return wire.WorkerStatus{}, fmt.Errorf("probe: not a worker status (%q): %w", wire.Printable(string(body[:min(len(body), 80)])), err)
	}
	return st, nil
}

// dial connects to a worker over (mutual) TLS, checking that its certificate
// holds the name it was found under.
func (m *Master) dial(ctx context.Context, b *backend) (*tls.Conn, error) {
	cfg := m.cfg.WorkerTLS
	if cfg.ServerName == "" || m.cfg.WorkerRootCAs != nil {
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = b.serverName
		}
		if m.cfg.WorkerRootCAs != nil {
			cfg.RootCAs = m.cfg.WorkerRootCAs()
		}
	}
	d := tls.Dialer{NetDialer: m.netDial, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", b.addr)
	if err != nil {
		return nil, err
	}
	return conn.(*tls.Conn), nil
}

// capabilities reads a worker's announcement; none (a worker from before
// capabilities) is nil, which the pool takes as the original conversions.
func capabilities(converts map[string][]string) convert.Capabilities {
	if len(converts) == 0 {
		return nil
	}
	caps := convert.Capabilities{}
	for kind, targets := range converts {
		caps[convert.Kind(kind)] = targets
	}
	return caps
}
