package master

import (
	"sync"
	"testing"
)

func TestBalancerLeastOutstanding(t *testing.T) {
	b := newBalancer([]string{"a:1", "b:1", "c:1"})
	first := b.acquire(nil)
	second := b.acquire(nil)
	third := b.acquire(nil)
	if first == second || second == third || first == third {
		t.Fatalf("three jobs on three idle workers went to %s, %s, %s", first.addr, second.addr, third.addr)
	}
	b.release(second)
	if got := b.acquire(nil); got != second {
		t.Errorf("after %s finished, the next job went to %s", second.addr, got.addr)
	}
}

func TestBalancerSkipsTried(t *testing.T) {
	b := newBalancer([]string{"a:1", "b:1"})
	tried := map[*backend]bool{}
	for range 2 {
		be := b.acquire(tried)
		if be == nil {
			t.Fatal("ran out of workers early")
		}
		tried[be] = true
		b.release(be)
	}
	if be := b.acquire(tried); be != nil {
		t.Errorf("acquire returned %s after every worker was tried", be.addr)
	}
}

func TestBalancerSpreadsTies(t *testing.T) {
	b := newBalancer([]string{"a:1", "b:1", "c:1"})
	count := map[string]int{}
	for range 30 {
		be := b.acquire(nil)
		count[be.addr]++
		b.release(be)
	}
	for addr, n := range count {
		if n != 10 {
			t.Errorf("%s got %d of 30 sequential jobs, want 10", addr, n)
		}
	}
}

func TestBalancerConcurrent(t *testing.T) {
	b := newBalancer([]string{"a:1", "b:1"})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			be := b.acquire(nil)
			b.release(be)
		})
	}
	wg.Wait()
	for _, be := range b.backends {
		if be.outstanding != 0 {
			t.Errorf("%s has %d outstanding after all released", be.addr, be.outstanding)
		}
	}
}
