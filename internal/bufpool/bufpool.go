// Package bufpool keeps byte slices for reuse, in power-of-two capacities. The
// master's retry buffers and the workers' request bodies are a megabyte or more
// each; allocated afresh for every request, they made the collector run every
// second or third request (a fifth of the master's relay CPU, a tenth of a
// worker's own). Pooled slices are still released by the collector when a
// process goes quiet (sync.Pool).
package bufpool

import (
	"math/bits"
	"sync"
)

// classes[c] holds *[]byte of capacity 1<<c.
var classes [bits.UintSize]sync.Pool

// Class is the power of two of the capacity Get gives for n bytes.
func Class(n uint64) int { return bits.Len64(max(n, 1) - 1) }

// Get returns an empty slice whose capacity is the least power of two that
// holds n bytes; its contents are whatever they were.
func Get(n uint64) []byte {
	c := Class(n)
	if p, ok := classes[c].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// Put hands b back for a later Get; nothing may use b afterwards. A slice whose
// capacity is not a power of two did not come from Get and is left to the
// collector.
func Put(b []byte) {
	c := uint64(cap(b))
	if c == 0 || c&(c-1) != 0 {
		return
	}
	classes[Class(c)].Put(&b)
}
