package cli

import (
	"context"
	"errors"
	"io"
)

// runBench is the load tool. (Being built: issue 6.)
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not available yet")
}
