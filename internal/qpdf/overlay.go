package qpdf

// #cgo CXXFLAGS: -std=c++17 -DPOINTERHOLDER_TRANSITION=4
// #include <stdlib.h>
// #include "overlay.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Layer is a one-page PDF to lay over a page of a document: a searchable
// PDF's invisible text.
type Layer struct {
	// Page is the document's page, from 1.
	Page int
	// PDF's first page is the layer.
	PDF []byte
}

// Overlay lays each layer over its page of doc, which must be a PDF qpdf
// wrote or one as plain (it is read without a password): the layer's page is
// made a form XObject, placed on the page upright as the page is shown
// (its /Rotate undone), scaled and centred, its proportions kept, to fill the
// crop box less inset points on each side. The pages keep their content,
// boxes and annotations; the output is written as Rewrite writes.
func Overlay(doc []byte, layers []Layer, inset float64) ([]byte, error) {
	if len(doc) == 0 {
		return nil, fmt.Errorf("qpdf: overlay: %w: the document is empty", ErrDamaged)
	}
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(unsafe.SliceData(doc))
	clayers := make([]C.fc_layer, len(layers))
	for i, l := range layers {
		if len(l.PDF) == 0 {
			return nil, fmt.Errorf("qpdf: overlay: the layer of page %d is empty", l.Page)
		}
		pin.Pin(unsafe.SliceData(l.PDF))
		clayers[i] = C.fc_layer{page: C.int(l.Page - 1), pdf: (*C.char)(unsafe.Pointer(unsafe.SliceData(l.PDF))), len: C.size_t(len(l.PDF))}
	}
	if len(clayers) > 0 {
		pin.Pin(unsafe.SliceData(clayers))
	}
	var out, msg *C.char
	var n C.size_t
	rc := C.fc_overlay((*C.char)(unsafe.Pointer(unsafe.SliceData(doc))), C.size_t(len(doc)), unsafe.SliceData(clayers), C.int(len(clayers)), C.double(inset), &out, &n, &msg)
	if rc != 0 {
		text := "qpdf failed without a message"
		if msg != nil {
			text = C.GoString(msg)
			C.free(unsafe.Pointer(msg))
		}
		return nil, fmt.Errorf("qpdf: overlay: %s", text)
	}
	defer C.free(unsafe.Pointer(out))
	if n == 0 {
		return nil, errors.New("qpdf: overlay: qpdf wrote nothing")
	}
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(out)), int(n))...), nil
}
