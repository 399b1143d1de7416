package master

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

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
	b, _, err := p.acquire(context.Background(), tried)
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
	p.announced(big, 4, false)
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
	if _, _, err := p.acquire(context.Background(), tried); !errors.Is(err, errNoWorker) {
		t.Errorf("after every worker was tried: %v, want errNoWorker", err)
	}
}

// The health state machine: healthy → ejected for a back-off that doubles →
// probation once it passes (one job) → healthy on success.
func TestPoolEjectionBackoff(t *testing.T) {
	p, clock := testPool(t, 4, "a:1")
	a := p.backends[0]
	p.failed(a, errors.New("refused"))
	if _, _, err := p.acquire(context.Background(), nil); !errors.Is(err, errNoWorker) {
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
	if _, _, err := p.acquire(context.Background(), nil); !errors.Is(err, errNoWorker) {
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
	p.announced(p.backends[0], 4, true)
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
		b, _, err := p.acquire(context.Background(), nil)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	waitFor(t, func() bool { _, w := p.snapshot(); return w == 1 })
	// The queue holds 2: a third waiter is refused at once.
	go p.acquire(context.Background(), nil)
	waitFor(t, func() bool { _, w := p.snapshot(); return w == 2 })
	if _, _, err := p.acquire(context.Background(), nil); !errors.Is(err, errQueueFull) {
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
	if _, wait, err := p.acquire(context.Background(), nil); !errors.Is(err, errQueueTimeout) || wait < 50*time.Millisecond {
		t.Errorf("err %v after %s, want errQueueTimeout after 50ms", err, wait)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.cfg.queueTimeout = time.Hour
	if _, _, err := p.acquire(ctx, nil); !errors.Is(err, context.Canceled) {
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
			b, _, err := p.acquire(context.Background(), nil)
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
