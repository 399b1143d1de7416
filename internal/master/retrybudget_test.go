package master

import (
	"bytes"
	"testing"
)

func TestRetryBudgetReusesBuffersWithinItsCap(t *testing.T) {
	r := &retryBudget{per: 1 << 20, total: 2 << 20}
	if b := r.reserve(1<<20 + 1); b != nil {
		t.Error("a body over the per-job cap got a buffer")
	}
	a := r.reserve(700_000) // rounds up to 1 MiB
	b := r.reserve(1 << 20)
	if a == nil || b == nil || a.Cap() < 700_000 || b.Cap() < 1<<20 {
		t.Fatalf("buffers %v %v", a, b)
	}
	if c := r.reserve(10); c != nil {
		t.Error("a buffer beyond the total cap")
	}
	a.WriteString("the first client's body")
	r.release(a, 700_000)
	c := r.reserve(900_000)
	if c == nil {
		t.Fatal("no buffer after one was released")
	}
	if c.Len() != 0 {
		t.Errorf("a reused buffer holds %q from an earlier job", c.Bytes())
	}
	c.WriteString("x")
	if !bytes.Equal(c.Bytes(), []byte("x")) {
		t.Errorf("reused buffer reads %q", c.Bytes())
	}
	r.release(c, 900_000)
	r.release(b, 1<<20)
	if r.used != 0 {
		t.Errorf("%d bytes still counted after every buffer was released", r.used)
	}
	r.release(nil, 5) // jobs without a buffer release nothing
	if r.used != 0 {
		t.Errorf("releasing no buffer changed the count to %d", r.used)
	}
}
