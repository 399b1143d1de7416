package convert

/*
#include <malloc.h>

static void limit_arenas(int n) { mallopt(M_ARENA_MAX, n); }
*/
import "C"

import "runtime/debug"

// ReleaseMemory hands memory that conversions no longer use back to the system:
// the Go heap's free pages, and what glibc keeps in its arenas after libvips and
// poppler free their buffers, which it would otherwise hold on to indefinitely.
// It costs a few milliseconds, so callers run it when a worker goes idle.
func ReleaseMemory() {
	debug.FreeOSMemory()
	C.malloc_trim(0)
}

// mallocArenas bounds glibc's malloc arenas. By default glibc makes up to eight
// per core, one for each thread that allocates at once, and libvips' and
// poppler's threads spread their buffers over all of them, where freed memory
// stays; two keep a worker's size close to what it is using (the setting
// libvips-based services such as imgproxy recommend).
const mallocArenas = 2

func limitMallocArenas() { C.limit_arenas(mallocArenas) }
