// Command fileconv is the one binary of fileconv: client, master, worker and tools,
// chosen by subcommand. Run "fileconv" for the list.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fileconv/fileconv/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal asks for a graceful stop, a second one ends the
	// process at once: restoring the default handling is what does that.
	context.AfterFunc(ctx, stop)
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
