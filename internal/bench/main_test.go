package bench_test

import (
	"os"
	"testing"

	"github.com/fileconv/fileconv/internal/convert"
)

func TestMain(m *testing.M) {
	// Start libvips with the converters' settings before testfiles uses it
	// (govips's logging settings race with image finalizers otherwise).
	if _, err := convert.New(convert.Config{}); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
