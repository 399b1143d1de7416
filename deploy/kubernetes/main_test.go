// Package kubernetes holds no code: its tests check the Kubernetes manifests in
// this folder and deploy/Dockerfile against each other and against the fileconv
// binary, without a cluster or a container engine. The manifests are decoded
// strictly into the Kubernetes API types (an unknown or misspelt field fails),
// the kustomize overlays are rendered by a small subset of kustomize (resources,
// components, strategic-merge patches, images, secretGenerator), and each render
// is checked for consistency: labels and selectors, ports, probes, flags, the
// worker pools and their engines, the worker discovery name and its
// certificate, termination timing and memory.
package kubernetes

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"

	"github.com/fileconv/fileconv/internal/cli"
)

// TestMain doubles as the fileconv binary: started under the name "fileconv"
// (a symlink the tests make), the test binary runs the command line as
// cmd/fileconv does. The Dockerfile's HEALTHCHECK and the manifests' settings
// then run against the real master and worker without a second build.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "fileconv" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		context.AfterFunc(ctx, stop)
		os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// commandFlags are a subcommand's flags, name → environment variable, as its
// --help lists them. Empty when the command lists none (not built yet).
func commandFlags(t *testing.T, command string) map[string]string {
	t.Helper()
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagsCache[command]; ok {
		return f
	}
	var stdout, stderr bytes.Buffer
	cli.Run(context.Background(), []string{command, "--help"}, &stdout, &stderr)
	f := map[string]string{}
	for _, m := range helpFlag.FindAllStringSubmatch(stderr.String()+stdout.String(), -1) {
		f[m[1]] = m[2]
	}
	flagsCache[command] = f
	return f
}

var (
	flagsMu    sync.Mutex
	flagsCache = map[string]map[string]string{}
	helpFlag   = regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+)\s+\[(FILECONV_[A-Z0-9_]+)\]`)
)
