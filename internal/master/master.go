// Package master is the orchestration tier: the TLS front door that checks each
// request's header and token, picks a healthy worker with a free slot and relays
// the body to it and the answer back through a fixed buffer, so its memory per
// connection is constant whatever the file size. Nothing touches the disk.
package master

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/metrics"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// Config configures a master. Zero durations and sizes mean their defaults.
type Config struct {
	// TLS is the front door's configuration (with ClientCAs set, clients must
	// present a certificate).
	TLS *tls.Config
	// WorkerTLS is used to dial workers: the cluster CA to verify them and the
	// master's certificate to present (mutual TLS). Its ServerName, if empty, is
	// the host named in Workers, also for the addresses a name resolves to.
	WorkerTLS *tls.Config
	// WorkerRootCAs, when set, is asked at each dial for the pool that verifies
	// workers, in place of WorkerTLS.RootCAs, so that a reloaded CA bundle applies
	// from the next connection on.
	WorkerRootCAs func() *x509.CertPool
	// Workers are host:port entries; a DNS name stands for every address behind
	// it and is resolved again every ResolveInterval.
	Workers []string
	// Tokens are the accepted auth tokens; at least one is required.
	Tokens Tokens
	// MaxBodyBytes is the largest body accepted. Default 256 MiB.
	MaxBodyBytes int64
	// MaxFiles bounds the files of a job of several files; their bytes
	// together are bounded by MaxBodyBytes. Default convert.DefaultMaxFiles.
	MaxFiles int
	// MaxConns bounds the client connections served at once; past it a client
	// gets "ERROR: busy". Default 1024.
	MaxConns int
	// HandshakeTimeout bounds the TLS handshake. Default 10 seconds.
	HandshakeTimeout time.Duration
	// HeaderTimeout bounds the wait for the 94-byte header. Default 10 seconds.
	HeaderTimeout time.Duration
	// IOTimeout is the longest a read or write may wait for a peer. Default 30 seconds.
	IOTimeout time.Duration
	// JobTimeout bounds one job from its header to the end of its answer.
	// Default 3 minutes: longer than a worker's 2, so that the worker's own, more
	// precise timeout message reaches the client first.
	JobTimeout time.Duration
	// DialTimeout bounds connecting to a worker. Default 5 seconds.
	DialTimeout time.Duration
	// DrainLimit is how much of a rejected request is read and discarded so that
	// the client sees the error instead of a reset. Default 8 MiB.
	DrainLimit int64

	// QueueSize is how many jobs may wait for a free worker slot. Default 256.
	QueueSize int
	// QueueTimeout is the longest a job waits for a slot before "busy". Default 30 seconds.
	QueueTimeout time.Duration
	// WorkerCapacity, when set, is every worker's capacity, overriding what the
	// workers announce. Otherwise a worker's own --concurrency counts, and 4 until
	// its first probe says.
	WorkerCapacity int
	// HealthInterval is how often each worker is probed. Default 2 seconds.
	HealthInterval time.Duration
	// ResolveInterval is how often worker names are resolved again. Default 10 seconds.
	ResolveInterval time.Duration
	// EjectBase and EjectMax bound how long a failing worker is left out: the
	// first failure ejects it for EjectBase, each further one doubles that, up to
	// EjectMax. Defaults 1 second and 30 seconds.
	EjectBase, EjectMax time.Duration
	// RetryBufferBytes is the largest body kept in memory so that a job whose
	// worker fails after receiving it can be retried once elsewhere. Default 8 MiB.
	RetryBufferBytes int64
	// RetryBufferTotal caps the memory of all retry buffers together; a job that
	// finds it full is relayed without one. Default 256 MiB.
	RetryBufferTotal int64

	// Metrics receives the master's measurements; nil records nothing.
	Metrics *metrics.Master
	// Logger receives one line per job; default slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes     = 256 << 20
	DefaultMaxConns         = 1024
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultHeaderTimeout    = 10 * time.Second
	DefaultIOTimeout        = 30 * time.Second
	DefaultJobTimeout       = 3 * time.Minute
	DefaultDialTimeout      = 5 * time.Second
	DefaultDrainLimit       = 8 << 20
	DefaultQueueSize        = 256
	DefaultQueueTimeout     = 30 * time.Second
	DefaultHealthInterval   = 2 * time.Second
	DefaultResolveInterval  = 10 * time.Second
	DefaultEjectBase        = time.Second
	DefaultEjectMax         = 30 * time.Second
	DefaultRetryBufferBytes = 8 << 20
	DefaultRetryBufferTotal = 256 << 20

	// capacityBeforeProbe is a worker's capacity until it announces its own.
	capacityBeforeProbe = 4
	// relayBufferSize matches the original clients' 64 KiB writes.
	relayBufferSize = 64 << 10
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.MaxFiles = cmp.Or(c.MaxFiles, convert.DefaultMaxFiles)
	c.MaxConns = cmp.Or(c.MaxConns, DefaultMaxConns)
	c.HandshakeTimeout = cmp.Or(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.HeaderTimeout = cmp.Or(c.HeaderTimeout, DefaultHeaderTimeout)
	c.IOTimeout = cmp.Or(c.IOTimeout, DefaultIOTimeout)
	c.JobTimeout = cmp.Or(c.JobTimeout, DefaultJobTimeout)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.DrainLimit = cmp.Or(c.DrainLimit, DefaultDrainLimit)
	c.QueueSize = cmp.Or(c.QueueSize, DefaultQueueSize)
	c.QueueTimeout = cmp.Or(c.QueueTimeout, DefaultQueueTimeout)
	c.HealthInterval = cmp.Or(c.HealthInterval, DefaultHealthInterval)
	c.ResolveInterval = cmp.Or(c.ResolveInterval, DefaultResolveInterval)
	c.EjectBase = cmp.Or(c.EjectBase, DefaultEjectBase)
	c.EjectMax = cmp.Or(c.EjectMax, DefaultEjectMax)
	c.RetryBufferBytes = cmp.Or(c.RetryBufferBytes, DefaultRetryBufferBytes)
	c.RetryBufferTotal = cmp.Or(c.RetryBufferTotal, DefaultRetryBufferTotal)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return c
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.TLS == nil:
		return errors.New("master: no TLS configuration for the front door: give --cert and --key")
	case c.WorkerTLS == nil:
		return errors.New("master: no TLS configuration for workers: give --ca (and --cert/--key for mutual TLS)")
	case len(c.Workers) == 0:
		return errors.New("master: no workers: give --workers host:port[,host:port...]")
	case c.Tokens.Len() == 0:
		return errors.New("master: no auth token: give --token-file FILE or FILECONV_TOKENS (one token per line)")
	case c.MaxFiles < 0 || c.MaxFiles > wire.MaxFiles:
		return fmt.Errorf("master: --max-files %d: must be 1 to %d", c.MaxFiles, wire.MaxFiles)
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("master: --max-body %d: must be positive", c.MaxBodyBytes)
	case c.MaxConns < 0 || c.QueueSize < 0 || c.WorkerCapacity < 0:
		return errors.New("master: --max-conns, --queue-size and --worker-capacity must be positive")
	case c.RetryBufferBytes < 0 || c.RetryBufferTotal < 0:
		return errors.New("master: --retry-buffer and --retry-buffer-total must be positive")
	case c.HandshakeTimeout < 0 || c.HeaderTimeout < 0 || c.IOTimeout < 0 || c.JobTimeout < 0 || c.DialTimeout < 0 ||
		c.QueueTimeout < 0 || c.HealthInterval < 0 || c.ResolveInterval < 0 || c.EjectBase < 0 || c.EjectMax < 0:
		return errors.New("master: timeouts and intervals must be positive")
	}
	if _, err := parseTargets(c.Workers); err != nil {
		return fmt.Errorf("master: %w", err)
	}
	return nil
}

// Master is a running orchestration tier.
type Master struct {
	cfg      Config
	pool     *pool
	resolver *resolver
	log      *slog.Logger
	metrics  *metrics.Master
	retry    *retryBudget
	netDial  *net.Dialer
	inFlight atomic.Int64
	tokens   LiveTokens // replaced by SetTokens without a restart
	auth     *authLimiter
	// stopping is done once a graceful stop is asked for; idle client connections
	// are then closed and Ready reports it.
	stopping context.Context
	stop     context.CancelFunc
	started  chan struct{} // closed once the first resolution has filled the pool
}

// New validates cfg.
func New(cfg Config) (*Master, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	targets, _ := parseTargets(cfg.Workers)
	workerTLS := cfg.WorkerTLS.Clone()
	if workerTLS.ClientSessionCache == nil {
		// Resuming TLS sessions makes the master's connection per job to a
		// worker far cheaper than a full handshake.
		workerTLS.ClientSessionCache = tls.NewLRUClientSessionCache(1024)
	}
	cfg.WorkerTLS = workerTLS
	m := &Master{
		cfg:      cfg,
		log:      cfg.Logger,
		metrics:  cfg.Metrics,
		resolver: newResolver(targets, cfg.Logger),
		retry:    &retryBudget{per: cfg.RetryBufferBytes, total: cfg.RetryBufferTotal},
		netDial:  &net.Dialer{Timeout: cfg.DialTimeout},
		started:  make(chan struct{}),
	}
	m.stopping, m.stop = context.WithCancel(context.Background())
	m.auth = newAuthLimiter()
	if err := m.tokens.Replace(cfg.Tokens); err != nil {
		return nil, fmt.Errorf("master: %w", err)
	}
	m.pool = newPool(poolConfig{
		queueSize:       cfg.QueueSize,
		queueTimeout:    cfg.QueueTimeout,
		fixedCapacity:   cfg.WorkerCapacity,
		defaultCapacity: capacityBeforeProbe,
		ejectBase:       cfg.EjectBase,
		ejectMax:        cfg.EjectMax,
	})
	m.pool.onChange = m.recordWorker
	m.pool.onQueue = m.metrics.SetQueueLength
	return m, nil
}

// Serve answers clients on ln until ctx is cancelled; then it reports not ready,
// stops accepting and waits for the jobs in flight, which are cut only if
// hardStop is cancelled.
func (m *Master) Serve(ctx, hardStop context.Context, ln net.Listener) error {
	m.refreshWorkers(ctx)
	close(m.started)
	var wg sync.WaitGroup
	watchCtx, stopWatching := context.WithCancel(hardStop)
	wg.Go(func() { m.watchWorkers(watchCtx) })
	defer func() {
		stopWatching()
		wg.Wait()
		m.pool.closeIdle()
	}()
	stopNotify := context.AfterFunc(ctx, m.stop)
	defer stopNotify()
	door := m.door(m.handle)
	// Past MaxConns a connection gets one answer, busy, then it closes, so that
	// it does not keep one of the slots for such connections.
	overflowDoor := m.door(m.overflow)
	overflowDoor.Once = true
	loop := serve.Loop{
		TLS: m.cfg.TLS, HandshakeTimeout: m.cfg.HandshakeTimeout, Logger: m.log,
		Handle:           func(ctx context.Context, c *tls.Conn) { door.Serve(ctx, c) },
		MaxConns:         m.cfg.MaxConns,
		Overflow:         func(ctx context.Context, c *tls.Conn) { overflowDoor.Serve(ctx, c) },
		OnHandshakeError: func(error) { m.metrics.HandshakeFailed() },
	}
	return loop.Serve(ctx, hardStop, ln)
}

// SetTokens replaces the accepted tokens, for a reload (SIGHUP or a changed token
// file) without a restart; jobs in flight are not affected.
func (m *Master) SetTokens(t Tokens) error {
	if err := m.tokens.Replace(t); err != nil {
		return fmt.Errorf("master: %w", err)
	}
	return nil
}

// Ready is nil while the master can take jobs: it is not stopping and at least
// one worker is healthy. The admin listener serves it as /readyz.
func (m *Master) Ready() error {
	if m.stopping.Err() != nil {
		return errors.New("stopping: finishing jobs in flight before exit")
	}
	workers, _ := m.pool.snapshot()
	for _, w := range workers {
		if w.State == "healthy" {
			return nil
		}
	}
	return fmt.Errorf("no healthy worker among %d", len(workers))
}

// Status is the cluster as the master sees it, served as /status for
// "fileconv status".
type Status struct {
	Ready       bool           `json:"ready"`
	NotReady    string         `json:"not_ready,omitempty"`
	JobsRunning int64          `json:"jobs_in_flight"`
	Queued      int            `json:"queued"`
	QueueSize   int            `json:"queue_size"`
	Workers     []WorkerStatus `json:"workers"`
}

// Status reports the workers, their health and load.
func (m *Master) Status() Status {
	workers, waiting := m.pool.snapshot()
	st := Status{Ready: true, JobsRunning: m.inFlight.Load(), Queued: waiting, QueueSize: m.cfg.QueueSize, Workers: workers}
	if err := m.Ready(); err != nil {
		st.Ready, st.NotReady = false, err.Error()
	}
	return st
}

// recordWorker mirrors a worker's state into the metrics; the pool calls it with
// its lock held.
func (m *Master) recordWorker(b *backend) {
	if b.removed {
		m.metrics.RemoveWorker(b.addr)
		return
	}
	m.metrics.SetWorker(b.addr, b.healthy && !b.draining, b.outstanding, b.capacity)
}

// overflow answers a request on a connection past MaxConns.
func (m *Master) overflow(req *serve.Request, w serve.Responder) {
	m.metrics.Rejected("max_conns")
	j := &job{req: req, w: w, start: time.Now(), log: m.log.With("job", req.JobID, "client", req.Peer)}
	m.refuse(j, &fail.Error{Code: fail.Busy, Message: fmt.Sprintf("busy: the server is at its limit of %d connections; retry in a few seconds", m.cfg.MaxConns)})
}
