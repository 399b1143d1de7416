package convert

import (
	"context"
	"testing"

	"github.com/fileconv/fileconv/internal/wire"
)

func TestReleaseMemoryAfterConversions(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Convert(context.Background(), wire.OpTextToPDF, []byte("some text")); err != nil {
		t.Fatal(err)
	}
	ReleaseMemory()
	// Conversions still work after the arenas were trimmed.
	if _, err := c.Convert(context.Background(), wire.OpTextToPDF, []byte("more text")); err != nil {
		t.Fatal(err)
	}
}
