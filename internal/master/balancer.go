package master

import (
	"sync"
)

// backend is one worker as the balancer sees it.
type backend struct {
	addr        string
	outstanding int
}

// balancer hands out workers, least outstanding jobs first, so a slow conversion
// on one worker does not queue new jobs behind it while another sits idle.
type balancer struct {
	mu       sync.Mutex
	backends []*backend
	next     int // where the search for a tie starts, rotated so ties spread evenly
}

func newBalancer(addrs []string) *balancer {
	b := &balancer{}
	for _, a := range addrs {
		b.backends = append(b.backends, &backend{addr: a})
	}
	return b
}

// acquire returns the worker with the fewest outstanding jobs among those not in
// tried, counting the job against it; nil when every worker has been tried.
// The caller must release what it acquires.
func (b *balancer) acquire(tried map[*backend]bool) *backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	var best *backend
	n := len(b.backends)
	for i := range n {
		be := b.backends[(b.next+i)%n]
		if tried[be] {
			continue
		}
		if best == nil || be.outstanding < best.outstanding {
			best = be
		}
	}
	if best != nil {
		best.outstanding++
		b.next = (b.next + 1) % n
	}
	return best
}

func (b *balancer) release(be *backend) {
	b.mu.Lock()
	be.outstanding--
	b.mu.Unlock()
}
