// Package libvips starts libvips once per process with fileconv's settings, for
// the conversions (internal/convert) and the test files (internal/testfiles)
// alike. One start matters: govips keeps its logging settings in a variable that
// image finalizers read, so a second package setting them once images exist is
// a data race.
package libvips

// The cgo preamble reaches libvips directly only for the process-wide settings
// govips applies solely when it is the first to start libvips.

// #cgo pkg-config: vips
// #include <stdio.h>
// #include <vips/vips.h>
//
// // plain_log writes warnings and errors to stderr without calling into Go.
// static void plain_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {
// 	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
// 		fprintf(stderr, "fileconv reader: %s: %s\n", domain ? domain : "glib", msg);
// }
//
// static void fc_log_plainly(void) { g_log_set_default_handler(plain_log, NULL); }
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

// StartPlain starts libvips for a process that serves its parent from within
// package initialisation (a reader, internal/convert): libvips' messages go
// to stderr from C. Go's runtime holds every call from a C thread into Go
// until initialisation is over, so govips' logging handler, which is such a
// call, would hang the first libvips thread that warns, and with it the job.
func StartPlain() error {
	if err := Start(); err != nil {
		return err
	}
	C.fc_log_plainly()
	return nil
}

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
