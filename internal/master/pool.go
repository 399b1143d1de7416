package master

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
)

// backend is one worker address as the pool sees it. Its fields after the first
// two are guarded by the pool's mutex.
type backend struct {
	addr       string // ip:port (or host:port) dialled
	serverName string // the name its certificate must hold: the host given in --workers

	outstanding  int
	capacity     int  // most jobs at once: configured, announced by the worker, or a default
	announced    bool // capacity came from the worker itself
	healthy      bool // false while ejected after failures
	draining     bool // the worker said it is shutting down
	failures     int  // consecutive failures, for the ejection back-off
	ejectedUntil time.Time
	lastError    string
	jobs         uint64
	removed      bool // no longer behind any name in --workers
	idle         []idleConn
	// caps is what the worker announced it converts; nil until it does, and
	// for a worker from before capabilities, which does the original ones.
	caps convert.Capabilities
	// ocrLangs are the languages the worker's OCR reads; none without OCR.
	ocrLangs []string
}

// need is what a job asks of a worker: to convert an input of kind to target.
type need struct {
	kind   convert.Kind
	target string
	// ocrLangs are the languages the worker's OCR must read, for a job that
	// reads pictures by OCR.
	ocrLangs []string
}

// canLocked reports whether b converts what n asks.
func (b *backend) canLocked(n need) bool {
	caps := b.caps
	if caps == nil {
		caps = originalCaps
	}
	for _, lang := range n.ocrLangs {
		if !slices.Contains(b.ocrLangs, lang) {
			return false
		}
	}
	return caps.Can(n.kind, n.target)
}

var originalCaps = convert.OriginalCapabilities()

// poolConfig holds what the pool needs of the master's Config.
type poolConfig struct {
	queueSize       int
	queueTimeout    time.Duration
	fixedCapacity   int // >0: the operator's capacity for every worker, overriding announcements
	defaultCapacity int // until a worker announces its own
	ejectBase       time.Duration
	ejectMax        time.Duration
}

// pool is the set of workers: who is healthy, how busy each one is, and the bounded
// queue of jobs waiting for a free slot. A job goes to the healthy worker with the
// fewest outstanding jobs, never past that worker's capacity; when every worker is
// full the job waits, and past the queue's size or time it is refused as busy.
type pool struct {
	cfg poolConfig
	now func() time.Time

	mu       sync.Mutex
	backends []*backend
	queue    []*waiter // jobs waiting for a slot, oldest first
	next     int       // rotates where ties are broken, so equal workers share evenly
	onChange func(*backend)
	onQueue  func(int)
}

func newPool(cfg poolConfig) *pool {
	return &pool{cfg: cfg, now: time.Now}
}

// Errors of acquire; the master turns them into client messages.
var (
	errQueueFull    = errors.New("queue full")
	errQueueTimeout = errors.New("queue timeout")
	errNoWorker     = errors.New("no healthy worker")
)

// endpoint is one address found behind a --workers entry.
type endpoint struct{ addr, serverName string }

// update replaces the set of workers with eps, keeping the state of those that
// stay. A worker that disappears finishes its jobs in flight but gets no more.
func (p *pool) update(eps []endpoint) (added, removed []*backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := make(map[endpoint]bool, len(eps))
	for _, ep := range eps {
		keep[ep] = true
	}
	var next []*backend
	have := map[endpoint]bool{}
	for _, b := range p.backends {
		ep := endpoint{b.addr, b.serverName}
		if keep[ep] {
			next = append(next, b)
			have[ep] = true
			continue
		}
		b.removed = true
		for _, c := range b.idle {
			c.conn.Close()
		}
		b.idle = nil
		removed = append(removed, b)
	}
	for _, ep := range eps {
		if have[ep] {
			continue
		}
		have[ep] = true
		capacity := p.cfg.defaultCapacity
		if p.cfg.fixedCapacity > 0 {
			capacity = p.cfg.fixedCapacity
		}
		// A new worker is trusted until it fails: the first probe or job tells.
		b := &backend{addr: ep.addr, serverName: ep.serverName, capacity: capacity, healthy: true}
		next = append(next, b)
		added = append(added, b)
	}
	slices.SortFunc(next, func(a, b *backend) int { return cmp.Compare(a.addr, b.addr) })
	p.backends = next
	p.notifyLocked(nil)
	return added, removed
}

// usable reports whether b may take a job now, capacity aside. An ejected worker
// whose back-off has passed gets one job on probation: success readmits it.
func (p *pool) usableLocked(b *backend, now time.Time) bool {
	return !b.removed && !b.draining && (b.healthy || !now.Before(b.ejectedUntil))
}

// othersUsable counts the usable workers that cannot do job: when none that
// can is usable, they tell the client that the cluster is up but not for
// this conversion.
func (p *pool) othersUsable(job need) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	now, n := p.now(), 0
	for _, b := range p.backends {
		if p.usableLocked(b, now) && !b.canLocked(job) {
			n++
		}
	}
	return n
}

// waiter is a job queued for a worker slot.
type waiter struct {
	need  need
	tried map[*backend]bool
	ready chan *backend // receives the worker handed to it, or nil for "none usable"
}

// pickLocked returns the usable worker with spare capacity and the least load
// relative to its capacity, not in tried; anyUsable says whether some worker
// could take the job once it has a free slot.
func (p *pool) pickLocked(job need, tried map[*backend]bool, now time.Time) (best *backend, anyUsable bool) {
	n := len(p.backends)
	for i := range n {
		b := p.backends[(p.next+i)%n]
		if tried[b] || !p.usableLocked(b, now) || !b.canLocked(job) {
			continue
		}
		anyUsable = true
		if b.outstanding >= b.capacity {
			continue
		}
		if best == nil || b.outstanding*best.capacity < best.outstanding*b.capacity {
			best = b
		}
	}
	return best, anyUsable
}

// takeLocked counts a job against b.
func (p *pool) takeLocked(b *backend, now time.Time) {
	b.outstanding++
	b.jobs++
	p.next++
	if !b.healthy {
		// On probation: push the next chance back so that only this one job
		// tests it.
		b.ejectedUntil = now.Add(p.cfg.ejectBase)
	}
	p.onChangeLocked(b)
}

// dispatchLocked hands free slots to queued jobs, oldest first, and tells those
// that no worker could ever take to stop waiting.
func (p *pool) dispatchLocked() {
	now := p.now()
	kept := p.queue[:0]
	for _, w := range p.queue {
		b, anyUsable := p.pickLocked(w.need, w.tried, now)
		switch {
		case b != nil:
			p.takeLocked(b, now)
			w.ready <- b
		case !anyUsable:
			w.ready <- nil
		default:
			kept = append(kept, w)
		}
	}
	clear(p.queue[len(kept):])
	p.queue = kept
}

// acquire returns a worker for a job, counting the job against it, waiting in the
// queue (first come, first served) while every usable worker is at capacity.
// Only workers that can do job are considered, so jobs queue per capability;
// tried holds workers this job already failed on. The caller must release what
// it acquires.
func (p *pool) acquire(ctx context.Context, job need, tried map[*backend]bool) (*backend, time.Duration, error) {
	start := p.now()
	p.mu.Lock()
	// Once the queued jobs have had their pick, a slot still free is one none of
	// them can use (jobs queue per capability): taking it jumps no one.
	p.dispatchLocked()
	b, anyUsable := p.pickLocked(job, tried, start)
	if b != nil {
		p.takeLocked(b, start)
		p.mu.Unlock()
		return b, 0, nil
	}
	if !anyUsable {
		p.mu.Unlock()
		return nil, 0, errNoWorker
	}
	if len(p.queue) >= p.cfg.queueSize {
		p.mu.Unlock()
		return nil, 0, errQueueFull
	}
	w := &waiter{need: job, tried: tried, ready: make(chan *backend, 1)}
	p.queue = append(p.queue, w)
	p.onQueueLocked()
	p.mu.Unlock()

	timer := time.NewTimer(p.cfg.queueTimeout)
	defer timer.Stop()
	var err error
	select {
	case b := <-w.ready:
		if b == nil {
			return nil, p.now().Sub(start), errNoWorker
		}
		return b, p.now().Sub(start), nil
	case <-timer.C:
		err = errQueueTimeout
	case <-ctx.Done():
		err = fmt.Errorf("waiting for a worker: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.queue, w); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
		p.onQueueLocked()
		return nil, p.now().Sub(start), err
	}
	// A worker was handed over just as the wait ended: give it back.
	if b := <-w.ready; b != nil {
		b.outstanding--
		p.dispatchLocked()
	}
	return nil, p.now().Sub(start), err
}

// release ends a job on b.
func (p *pool) release(b *backend) {
	p.mu.Lock()
	b.outstanding--
	p.notifyLocked(b)
	p.mu.Unlock()
}

// failed records that b could not be reached or broke during a job: it is ejected
// for a back-off that doubles with each consecutive failure.
func (p *pool) failed(b *backend, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.failures++
	b.healthy = false
	b.lastError = err.Error()
	backoff := p.cfg.ejectBase << min(b.failures-1, 16)
	if backoff > p.cfg.ejectMax || backoff <= 0 {
		backoff = p.cfg.ejectMax
	}
	b.ejectedUntil = p.now().Add(backoff)
	p.notifyLocked(b)
}

// succeeded records a job or probe that went well: b is healthy again.
func (p *pool) succeeded(b *backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.healthy && b.failures == 0 {
		return
	}
	b.failures = 0
	b.healthy = true
	b.lastError = ""
	p.notifyLocked(b)
}

// anyCan reports whether some worker in the cluster, healthy or not, announces
// that it converts what job asks: if none does, waiting cannot help.
func (p *pool) anyCan(job need) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.backends {
		if !b.removed && b.canLocked(job) {
			return true
		}
	}
	return false
}

// ocrLanguages lists the languages some worker's OCR reads, sorted.
func (p *pool) ocrLanguages() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var langs []string
	for _, b := range p.backends {
		if !b.removed {
			langs = append(langs, b.ocrLangs...)
		}
	}
	slices.Sort(langs)
	return slices.Compact(langs)
}

// announced records what a worker's probe said about itself.
func (p *pool) announced(b *backend, capacity int, draining bool, caps convert.Capabilities, ocrLangs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b.caps = caps
	b.ocrLangs = ocrLangs
	if p.cfg.fixedCapacity == 0 && capacity > 0 {
		b.capacity = capacity
		b.announced = true
	}
	b.draining = draining
	b.failures = 0
	b.healthy = true
	b.lastError = ""
	p.notifyLocked(b)
}

// notifyLocked hands freed slots to queued jobs and tells metrics about b.
func (p *pool) notifyLocked(b *backend) {
	p.dispatchLocked()
	if b != nil {
		p.onChangeLocked(b)
	}
}

func (p *pool) onChangeLocked(b *backend) {
	if p.onChange != nil {
		p.onChange(b)
	}
}

func (p *pool) onQueueLocked() {
	if p.onQueue != nil {
		p.onQueue(len(p.queue))
	}
}

// WorkerStatus is one worker as the master sees it, for /status and fileconv status.
type WorkerStatus struct {
	Addr       string    `json:"addr"`
	Name       string    `json:"name"`
	State      string    `json:"state"` // healthy, ejected, probation, draining
	InFlight   int       `json:"in_flight"`
	Capacity   int       `json:"capacity"`
	Announced  bool      `json:"capacity_announced"`
	Jobs       uint64    `json:"jobs"`
	Failures   int       `json:"consecutive_failures"`
	LastError  string    `json:"last_error,omitempty"`
	EjectedFor string    `json:"ejected_for,omitempty"`
	Since      time.Time `json:"-"`
	// Converts is what the worker converts: each input kind with its targets.
	Converts convert.Capabilities `json:"converts"`
	// OCRLanguages are the languages its OCR reads.
	OCRLanguages []string `json:"ocr_languages,omitempty"`
}

func (p *pool) snapshot() (workers []WorkerStatus, waiting int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for _, b := range p.backends {
		workers = append(workers, p.statusLocked(b, now))
	}
	return workers, len(p.queue)
}

func (p *pool) statusLocked(b *backend, now time.Time) WorkerStatus {
	s := WorkerStatus{Addr: b.addr, Name: b.serverName, InFlight: b.outstanding, Capacity: b.capacity,
		Announced: b.announced, Jobs: b.jobs, Failures: b.failures, LastError: b.lastError, Converts: b.caps, OCRLanguages: b.ocrLangs}
	if s.Converts == nil {
		s.Converts = originalCaps
	}
	switch {
	case b.draining:
		s.State = "draining"
	case b.healthy:
		s.State = "healthy"
	case now.Before(b.ejectedUntil):
		s.State = "ejected"
		s.EjectedFor = b.ejectedUntil.Sub(now).Round(time.Millisecond).String()
	default:
		s.State = "probation"
	}
	return s
}

// list returns the current backends, for the prober.
func (p *pool) list() []*backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.backends)
}

func (p *pool) isHealthy(b *backend) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return b.healthy
}
