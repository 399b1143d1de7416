package convert

/*
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// glibc fixes its arena limit the first time a second thread allocates, after
// which mallopt(M_ARENA_MAX) no longer has any effect; the Go runtime starts
// threads before any Go code runs. A constructor runs before all of that, when
// the program is loaded.
#define FILECONV_MALLOC_ARENAS 2

__attribute__((constructor)) static void fileconv_malloc_settings(void) {
	mallopt(M_ARENA_MAX, FILECONV_MALLOC_ARENAS);
}

// malloc_heaps counts glibc's arenas (the <heap> elements of malloc_info).
static int malloc_heaps(void) {
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) return -1;
	malloc_info(0, f);
	fclose(f);
	int n = 0;
	for (char *p = buf; (p = strstr(p, "<heap nr=")) != NULL; p++) n++;
	free(buf);
	return n;
}
*/
import "C"

import (
	"runtime"
	"runtime/debug"
)

// ReleaseMemory hands memory that conversions no longer use back to the system:
// the Go heap's free pages and pooled buffers, what glibc keeps in its arenas
// after libvips frees its buffers, which it would otherwise hold on to
// indefinitely, and the idle PDF reader processes.
// It costs a few milliseconds, so callers run it when a worker goes idle.
func ReleaseMemory() {
	readers.stopIdle()
	// A sync.Pool keeps what it holds through one collection (its victim
	// cache) and lets go of it at the next, so the pooled request bodies need
	// two before FreeOSMemory can return their pages.
	runtime.GC()
	debug.FreeOSMemory()
	C.malloc_trim(0)
}

// mallocArenas is the most glibc malloc arenas a fileconv process uses (set when
// the program loads). By default glibc makes up to eight per core, one for each
// thread that allocates at once, and libvips' and poppler's threads spread their
// buffers over all of them, where freed memory stays; two keep a worker's size
// close to what it is using (the setting libvips-based services such as imgproxy
// recommend).
const mallocArenas = C.FILECONV_MALLOC_ARENAS

// mallocArenasInUse is how many arenas glibc has made so far.
func mallocArenasInUse() int { return int(C.malloc_heaps()) }
