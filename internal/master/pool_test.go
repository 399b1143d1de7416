package master

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
)

// imageJob is what most pool tests ask of a worker: one of the original
// conversions, which every worker does.
var imageJob = need{kind: convert.KindPNG, target: "jpg"}

// fakeClock lets tests move time for back-offs without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testPool(t *testing.T, capacity int, addrs ...string) (*pool, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	p := newPool(poolConfig{queueSize: 2, queueTimeout: time.Second, defaultCapacity: capacity, ejectBase: time.Second, ejectMax: 8 * time.Second})
	p.now = clock.now
	var eps []endpoint
	for _, a := range addrs {
		eps = append(eps, endpoint{a, "w"})
	}
	p.update(eps)
	return p, clock
}

func mustAcquire(t *testing.T, p *pool, tried map[*backend]bool) *backend {
	t.Helper()
	b, _, err := p.acquire(context.Background(), imageJob, tried)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return b
}

func TestPoolLeastLoaded(t *testing.T) {
	p, _ := testPool(t, 4, "a:1", "b:1", "c:1")
	first, second, third := mustAcquire(t, p, nil), mustAcquire(t, p, nil), mustAcquire(t, p, nil)
	if first == second || second == third || first == third {
		t.Fatalf("three jobs on three idle workers went to %s, %s, %s", first.addr, second.addr, third.addr)
	}
	p.release(second)
	if got := mustAcquire(t, p, nil); got != second {
		t.Errorf("after %s finished, the next job went to %s", second.addr, got.addr)
	}
}

func TestPoolLoadRelativeToCapacity(t *testing.T) {
	p, _ := testPool(t, 1, "big:1", "small:1")
	big := p.backends[0]
	p.announced(big, 4, false, nil)
	counts := map[string]int{}
	for range 5 {
		counts[mustAcquire(t, p, nil).addr]++
	}
	if counts["big:1"] != 4 || counts["small:1"] != 1 {
		t.Errorf("5 jobs on capacities 4 and 1 went %v", counts)
	}
}

func TestPoolSpreadsTies(t *testing.T) {
	p, _ := testPool(t, 4, "a:1", "b:1", "c:1")
	counts := map[string]int{}
	for range 30 {
		b := mustAcquire(t, p, nil)
		counts[b.addr]++
		p.release(b)
	}
	for addr, n := range counts {
		if n != 10 {
			t.Errorf("%s got %d of 30 sequential jobs, want 10", addr, n)
		}
	}
}

func TestPoolSkipsTried(t *testing.T) {
	p, _ := testPool(t, 4, "a:1", "b:1")
	tried := map[*backend]bool{}
	for range 2 {
		b := mustAcquire(t, p, tried)
		tried[b] = true
		p.release(b)
	}
	if _, _, err := p.acquire(context.Background(), imageJob, tried); !errors.Is(err, errNoWorker) {
		t.Errorf("after every worker was tried: %v, want errNoWorker", err)
	}
}

// The health state machine: healthy → ejected for a back-off that doubles →
// probation once it passes (one job) → healthy on success.
func TestPoolEjectionBackoff(t *testing.T) {
	p, clock := testPool(t, 4, "a:1")
	a := p.backends[0]
	p.failed(a, errors.New("refused"))
	if _, _, err := p.acquire(context.Background(), imageJob, nil); !errors.Is(err, errNoWorker) {
		t.Fatalf("an ejected worker got a job (err %v)", err)
	}
	clock.advance(time.Second)
	b := mustAcquire(t, p, nil) // probation
	if st := p.statusLocked(a, clock.now()); st.State != "ejected" {
		// Taking the probation job pushes the next chance back.
		t.Errorf("state after the probation job was handed out: %s", st.State)
	}
	p.release(b)
	p.failed(a, errors.New("refused again"))
	clock.advance(time.Second)
	if _, _, err := p.acquire(context.Background(), imageJob, nil); !errors.Is(err, errNoWorker) {
		t.Fatal("after a second failure the worker came back within 1s")
	}
	clock.advance(time.Second) // the second failure's back-off is 2s
	b = mustAcquire(t, p, nil)
	p.release(b)
	p.succeeded(b)
	if st := p.statusLocked(a, clock.now()); st.State != "healthy" || st.Failures != 0 {
		t.Errorf("after success: %+v", st)
	}
	for range 10 {
		p.failed(a, errors.New("down"))
	}
	if left := a.ejectedUntil.Sub(clock.now()); left != 8*time.Second {
		t.Errorf("back-off after many failures is %s, want the 8s cap", left)
	}
}

func TestPoolDrainingGetsNoJobs(t *testing.T) {
	p, _ := testPool(t, 4, "a:1", "b:1")
	p.announced(p.backends[0], 4, true, nil)
	for range 5 {
		b := mustAcquire(t, p, nil)
		if b.addr != "b:1" {
			t.Fatalf("a draining worker got a job")
		}
		p.release(b)
	}
}

func TestPoolQueue(t *testing.T) {
	p, _ := testPool(t, 1, "a:1")
	p.now = time.Now
	busy := mustAcquire(t, p, nil)

	// A job waiting in the queue gets the slot when it frees up.
	got := make(chan *backend)
	go func() {
		b, _, err := p.acquire(context.Background(), imageJob, nil)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	waitFor(t, func() bool { _, w := p.snapshot(); return w == 1 })
	// The queue holds 2: a third waiter is refused at once.
	go p.acquire(context.Background(), imageJob, nil)
	waitFor(t, func() bool { _, w := p.snapshot(); return w == 2 })
	if _, _, err := p.acquire(context.Background(), imageJob, nil); !errors.Is(err, errQueueFull) {
		t.Errorf("a job past the queue's size: %v, want errQueueFull", err)
	}
	p.release(busy)
	select {
	case b := <-got:
		p.release(b)
	case <-time.After(5 * time.Second):
		t.Fatal("the queued job did not get the freed slot")
	}
}

func TestPoolQueueTimeoutAndCancel(t *testing.T) {
	p, _ := testPool(t, 1, "a:1")
	p.now = time.Now
	p.cfg.queueTimeout = 50 * time.Millisecond
	mustAcquire(t, p, nil)
	if _, wait, err := p.acquire(context.Background(), imageJob, nil); !errors.Is(err, errQueueTimeout) || wait < 50*time.Millisecond {
		t.Errorf("err %v after %s, want errQueueTimeout after 50ms", err, wait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.cfg.queueTimeout = time.Hour
	if _, _, err := p.acquire(ctx, imageJob, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	if _, w := p.snapshot(); w != 0 {
		t.Errorf("%d jobs still counted as waiting", w)
	}
}

func TestPoolUpdateKeepsState(t *testing.T) {
	p, _ := testPool(t, 4, "a:1", "b:1")
	a := mustAcquire(t, p, nil)
	added, removed := p.update([]endpoint{{"b:1", "w"}, {"c:1", "w"}})
	if len(added) != 1 || added[0].addr != "c:1" || len(removed) != 1 || removed[0] != a {
		t.Fatalf("added %v removed %v", added, removed)
	}
	// The removed worker finishes its job but gets no more.
	p.release(a)
	for range 6 {
		if b := mustAcquire(t, p, nil); b == a {
			t.Fatal("a removed worker got a job")
		}
	}
}

func TestPoolConcurrent(t *testing.T) {
	p, _ := testPool(t, 3, "a:1", "b:1")
	p.now = time.Now
	p.cfg.queueSize = 100
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			b, _, err := p.acquire(context.Background(), imageJob, nil)
			if err != nil {
				t.Error(err)
				return
			}
			p.mu.Lock()
			over := b.outstanding > b.capacity
			p.mu.Unlock()
			if over {
				t.Error("capacity exceeded")
			}
			p.release(b)
		})
	}
	wg.Wait()
	for _, b := range p.backends {
		if b.outstanding != 0 {
			t.Errorf("%s has %d outstanding after all released", b.addr, b.outstanding)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// gifJob needs a conversion that is not one of the originals: only a worker that
// announces it may get the job.
var gifJob = need{kind: "gif", target: "png"}

// capsWithGIF is the original conversions and GIF to PNG.
func capsWithGIF() convert.Capabilities {
	caps := convert.OriginalCapabilities()
	caps["gif"] = []string{"png"}
	return caps
}

func TestPoolRoutesByCapability(t *testing.T) {
	p, _ := testPool(t, 2, "a:1", "b:1")
	p.now = time.Now
	a, b := p.backends[0], p.backends[1]
	p.announced(a, 2, false, capsWithGIF())
	p.announced(b, 2, false, nil) // announces none: the originals
	if !p.anyCan(gifJob) || !p.anyCan(imageJob) || p.anyCan(need{kind: "gif", target: "webp"}) {
		t.Error("anyCan does not follow the announcements")
	}
	for range 2 {
		if got := mustAcquireFor(t, p, gifJob); got != a {
			t.Fatalf("a job only %s can do went to %s", a.addr, got.addr)
		}
	}
	// a is full: a GIF job waits for it, although b is idle.
	got := make(chan *backend, 1)
	go func() {
		w, _, _ := p.acquire(context.Background(), gifJob, nil)
		got <- w
	}()
	waitFor(t, func() bool { _, w := p.snapshot(); return w == 1 })
	// Jobs b can do are not held up behind it.
	for range 2 {
		if w, _, err := p.acquire(context.Background(), imageJob, nil); err != nil || w != b {
			t.Fatalf("an image job with %s idle and a GIF job queued: %v, %v", b.addr, w, err)
		}
	}
	p.release(a)
	select {
	case w := <-got:
		if w != a {
			t.Errorf("the queued GIF job got %v, want %s", w, a.addr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued GIF job did not get the freed slot")
	}
	// Nobody can do it: refused at once, not queued.
	if _, _, err := p.acquire(context.Background(), need{kind: "gif", target: "webp"}, nil); !errors.Is(err, errNoWorker) {
		t.Errorf("a job no worker can do: %v, want errNoWorker", err)
	}
	// What the refusal says: b is up but converts no GIF; both do images.
	if n := p.othersUsable(gifJob); n != 1 {
		t.Errorf("%d usable workers that do no GIF, want 1", n)
	}
	if n := p.othersUsable(imageJob); n != 0 {
		t.Errorf("%d usable workers that do no images, want 0", n)
	}
}

// A job waiting for the only worker that can do it stops waiting when that
// worker stops announcing it.
func TestPoolQueuedJobLosesItsOnlyWorker(t *testing.T) {
	p, _ := testPool(t, 1, "a:1", "b:1")
	p.now = time.Now
	a := p.backends[0]
	p.announced(a, 1, false, capsWithGIF())
	mustAcquireFor(t, p, gifJob)
	errc := make(chan error, 1)
	go func() {
		_, _, err := p.acquire(context.Background(), gifJob, nil)
		errc <- err
	}()
	waitFor(t, func() bool { _, w := p.snapshot(); return w == 1 })
	p.announced(a, 1, false, nil) // restarted without GIF
	select {
	case err := <-errc:
		if !errors.Is(err, errNoWorker) {
			t.Errorf("err %v, want errNoWorker", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job still waits for a worker that no longer does it")
	}
}

func mustAcquireFor(t *testing.T, p *pool, job need) *backend {
	t.Helper()
	b, _, err := p.acquire(context.Background(), job, nil)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return b
}
