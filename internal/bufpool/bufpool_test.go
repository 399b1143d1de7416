package bufpool

import "testing"

func TestGetRoundsUpToAPowerOfTwo(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want int
	}{{0, 1}, {1, 1}, {2, 2}, {3, 4}, {700_000, 1 << 20}, {1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20}} {
		if b := Get(tc.n); len(b) != 0 || cap(b) != tc.want {
			t.Errorf("Get(%d): len %d cap %d, want 0 and %d", tc.n, len(b), cap(b), tc.want)
		}
	}
}

func TestPutThenGetReuses(t *testing.T) {
	b := Get(1000)
	b = append(b, "kept"...)
	Put(b)
	// sync.Pool may drop what it holds at any time (a collection), so reuse is
	// likely, not certain; a slice of the right class is what must come back.
	for range 10 {
		got := Get(1000)
		if cap(got) != 1024 || len(got) != 0 {
			t.Fatalf("Get after Put: len %d cap %d", len(got), cap(got))
		}
		if string(got[:4]) == "kept" {
			return
		}
		Put(got)
	}
	t.Log("the pool never handed the slice back (a collection ran)")
}

func TestPutIgnoresForeignSlices(t *testing.T) {
	Put(make([]byte, 0, 1000)) // not a power of two: dropped
	Put(nil)
	if b := Get(1000); cap(b) != 1024 {
		t.Errorf("cap %d", cap(b))
	}
}
