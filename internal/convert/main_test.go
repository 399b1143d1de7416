package convert

import (
	"flag"
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Damaged test files make libvips log warnings by the hundred; they are
	// only worth reading when asked for.
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}
