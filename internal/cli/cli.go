// Package cli implements the fileconv command's subcommands; cmd/fileconv only
// hands it the arguments, the standard streams and a context cancelled on SIGINT
// or SIGTERM.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
)

// Version is the release, set at build time with
// -ldflags "-X github.com/fileconv/fileconv/internal/cli.Version=v1.2.3".
var Version = "dev"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"up", "run master and workers on this machine, with development certificates and a token", runUp},
		{"send", "convert files through a master", runSend},
		{"master", "run the orchestration tier (the front door on port 5000)", runMaster},
		{"worker", "run a processing tier worker (port 6000)", runWorker},
		{"web", "serve the web page and the HTTP API (a client of a master)", runWeb},
		{"bench", "measure a master (or the conversions in this process) and draw graphs", runBench},
		{"status", "print the workers, their health and load, as a master sees them", runStatus},
		{"certs", "create a cluster CA and certificates for master, workers and clients", runCerts},
		{"version", "print the version", runVersion},
	}
}

// Run executes the subcommand in args and returns the process exit status:
// 0 on success, 1 on failure, 2 for a command-line mistake.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "fileconv %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "fileconv %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "fileconv: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "fileconv converts images, text and PDFs on a cluster of workers.\n\nusage: fileconv COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\n\"fileconv COMMAND --help\" lists a command's flags and their environment variables.\n")
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fileconv %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
