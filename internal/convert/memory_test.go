package convert

import (
	"context"
	"sync"
	"testing"

	"github.com/fileconv/fileconv/internal/bufpool"
	"github.com/fileconv/fileconv/internal/testfiles"
	"github.com/fileconv/fileconv/internal/wire"
)

func TestReleaseMemoryAfterConversions(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := convertOp(c, context.Background(), wire.OpTextToPDF, []byte("some text")); err != nil {
		t.Fatal(err)
	}
	ReleaseMemory()
	// Conversions still work after the arenas were trimmed.
	if _, err := convertOp(c, context.Background(), wire.OpTextToPDF, []byte("more text")); err != nil {
		t.Fatal(err)
	}
}

func TestMallocArenasStayBounded(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	png, err := testfiles.Encode(testfiles.Photo(300, 200), testfiles.PNG)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("some text to typeset\n")
	// Many threads allocating at once is what makes glibc add arenas.
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 3 {
				var err error
				if i%2 == 0 {
					_, err = convertOp(c, context.Background(), wire.OpToWEBP, png)
				} else {
					_, err = convertOp(c, context.Background(), wire.OpTextToPDF, text)
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := mallocArenasInUse(); n < 1 || n > mallocArenas {
		t.Errorf("glibc has %d malloc arenas, want at most %d", n, mallocArenas)
	}
}

func TestReleaseMemoryEmptiesBufferPools(t *testing.T) {
	b := append(bufpool.Get(3<<20), "kept"...)
	bufpool.Put(b)
	ReleaseMemory()
	if got := bufpool.Get(3 << 20); string(got[:4]) == "kept" {
		t.Error("a pooled 4 MiB buffer outlived ReleaseMemory")
	}
}
