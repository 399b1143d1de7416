package cli

import (
	"context"
	"errors"
	"io"
)

// runWeb serves the web page and the HTTP API. (Being built: issue 5.)
func runWeb(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not available yet")
}
