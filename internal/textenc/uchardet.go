package textenc

// #cgo pkg-config: uchardet
// #include <stdlib.h>
// #include <uchardet/uchardet.h>
import "C"

import (
	"strings"
	"unsafe"
)

// detectLimit bounds what uchardet reads. Its probers cost about the same
// per byte whatever the encoding, and a text's encoding shows in its first
// kilobytes; a text that turns to another encoding later is damaged anyway.
const detectLimit = 1 << 20

// detectChunk is what uchardet is given per call, so that it may stop early:
// it ignores data once its probers agree.
const detectChunk = 64 << 10

// uchardetGuess returns uchardet's name for the encoding of b ("SHIFT_JIS",
// "WINDOWS-1252", "ASCII", ...) upper-cased, or "" when it recognises none.
// Each call has its own detector: uchardet keeps no state between detectors,
// so calls may run at once.
func uchardetGuess(b []byte) string {
	ud := C.uchardet_new()
	if ud == nil {
		return ""
	}
	defer C.uchardet_delete(ud)
	b = b[:min(len(b), detectLimit)]
	for len(b) > 0 {
		n := min(len(b), detectChunk)
		// uchardet returns non-zero only when it cannot allocate: what it
		// read so far still counts.
		if C.uchardet_handle_data(ud, (*C.char)(unsafe.Pointer(&b[0])), C.size_t(n)) != 0 {
			break
		}
		b = b[n:]
	}
	C.uchardet_data_end(ud)
	return strings.ToUpper(C.GoString(C.uchardet_get_charset(ud)))
}
