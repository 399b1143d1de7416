// Package libvips starts libvips once per process with fileconv's settings, for
// the conversions (internal/convert) and the test files (internal/testfiles)
// alike. One start matters: govips keeps its logging settings in a variable that
// image finalizers read, so a second package setting them once images exist is
// a data race.
package libvips

// The cgo preamble reaches libvips directly only for the process-wide settings
// govips applies solely when it is the first to start libvips.

/*
#cgo pkg-config: vips
#include <vips/vips.h>

static void fc_log_to_stderr(void) {
	g_log_set_default_handler(g_log_default_handler, NULL);
}
*/
import "C"

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"
)

var (
	once     sync.Once
	startErr error
)

// Start starts libvips once per process; later calls return the first result.
func Start() error {
	once.Do(func() { startErr = start() })
	return startErr
}

func start() (err error) {
	// govips reports a libvips that fails to start (too old, vips_init failing) by
	// panicking; that is a setup error for the caller to return, not a crash.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	// libvips and glib warnings are mostly about a client's damaged file; they go
	// to the log at warn level, and govips' chatty info messages are dropped.
	vips.LoggingSettings(logVips, vips.LogLevelWarning)
	vips.Startup(&vips.Config{
		// One thread per operation: a worker runs one conversion per core already.
		ConcurrencyLevel: 1,
		// The operation cache keeps recent results and their inputs alive; in a
		// service that never sees the same image twice it only costs memory.
		MaxCacheSize:  0,
		MaxCacheMem:   0,
		MaxCacheFiles: 0,
	})
	// govips starts libvips with its own defaults when an image is made before
	// Start (a test may do that); apply the settings again so they hold either way.
	C.vips_concurrency_set(1)
	C.vips_cache_set_max(0)
	C.vips_cache_set_max_mem(0)
	C.vips_cache_set_max_files(0)
	return nil
}

func logVips(domain string, level vips.LogLevel, msg string) {
	switch level {
	case vips.LogLevelError, vips.LogLevelCritical:
		slog.Error("libvips", "domain", domain, "msg", msg)
	case vips.LogLevelWarning:
		slog.Warn("libvips", "domain", domain, "msg", msg)
	}
}

// LogToStderr hands the messages of libvips and glib to glib's own handler,
// which writes warnings to stderr, instead of govips' handler, which calls
// into Go. A process converting before its Go initialisation has finished
// needs it: Go holds every call into Go from a thread it did not start (a
// libvips worker warning about a damaged file) until initialisation is over,
// so that the worker, and the conversion waiting for it, hang. The reader
// processes of internal/convert run from an init function.
func LogToStderr() { C.fc_log_to_stderr() }
