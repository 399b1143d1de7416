// Package ocr reads the text of pictures with Tesseract 5 (the engine
// Stirling-PDF and OCRmyPDF use) through its C API, from pixels in memory.
//
// A Tesseract call cannot be interrupted and may take long on a large or
// hostile picture, so callers with hostile input run it in the worker's
// reader child processes (internal/convert), where the job's deadline kills
// it. A Reader holds one initialised Tesseract for one language set and
// reads one picture at a time; readers are kept for reuse (Get, Put), since
// loading a language's model takes a tenth of a second or more. Pictures are
// given as 8-bit grey pixels, never as files: Tesseract given a file name
// would also accept a URL (it links libcurl), and nothing here should be
// fetched or read from a disk.
//
// Tesseract runs its networks on several threads through OpenMP unless the
// environment says OMP_THREAD_LIMIT=1, which must be set when the process
// starts; fileconv runs pages in parallel itself, one thread each.
package ocr

// #cgo pkg-config: tesseract
// #include <stdlib.h>
// #include <tesseract/capi.h>
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// Gray is a picture of 8-bit grey pixels, row after row.
type Gray struct {
	Pix           []byte
	Width, Height int
	// Stride is the bytes of a row (Width when 0).
	Stride int
	// PPI is the picture's resolution in pixels per inch, which Tesseract
	// uses to size its expectations of letters; 0 means 300.
	PPI int
}

// Page is what Tesseract read on a picture.
type Page struct {
	Text string
	// Confidence is Tesseract's mean word confidence, 0 to 100.
	Confidence int
}

var (
	// ErrLanguage is a language that is not installed or not a language.
	ErrLanguage = errors.New("OCR language not installed")
	// ErrUnavailable is Tesseract unusable here: no language installed.
	ErrUnavailable = errors.New("OCR (Tesseract) is not available")
)

// MaxPixels bounds a picture given to Read: Tesseract holds several copies
// of it, and a page of A3 at 400 dpi is 31 Mpx.
const MaxPixels = 64_000_000

// Version is the version of the Tesseract library linked, e.g. "5.3.0".
func Version() string { return C.GoString(C.TessVersion()) }

// DataPath is the folder of the language models: $TESSDATA_PREFIX, or
// Debian's folder of Tesseract 5's.
func DataPath() string {
	if p := os.Getenv("TESSDATA_PREFIX"); p != "" {
		return p
	}
	return "/usr/share/tesseract-ocr/5/tessdata"
}

// langRE is a language's name: letters, digits and underscores
// ("chi_sim", "deu_latf"), so that it can only name a file in DataPath.
var langRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{1,31}$`)

// Languages lists the installed languages, sorted; "osd" (orientation and
// script detection) is a model but not a language.
func Languages() []string {
	entries, _ := os.ReadDir(DataPath())
	var langs []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".traineddata")
		if ok && name != "osd" && langRE.MatchString(name) {
			langs = append(langs, name)
		}
	}
	slices.Sort(langs)
	return langs
}

// CheckLanguages checks a language set such as "eng" or "eng+deu" against
// the installed languages and returns it in Tesseract's form.
func CheckLanguages(set string) (string, error) {
	installed := Languages()
	if len(installed) == 0 {
		return "", fmt.Errorf("%w: no language model in %s", ErrUnavailable, DataPath())
	}
	parts := strings.Split(strings.TrimSpace(set), "+")
	if len(parts) > 8 {
		return "", fmt.Errorf("%w: %d languages at once; give at most 8", ErrLanguage, len(parts))
	}
	for _, p := range parts {
		if !slices.Contains(installed, p) {
			return "", fmt.Errorf("%w: %q (installed: %s)", ErrLanguage, p, strings.Join(installed, ", "))
		}
	}
	return strings.Join(parts, "+"), nil
}

// Reader is one Tesseract, ready for one language set.
type Reader struct {
	lang string
	api  *C.TessBaseAPI
}

// NewReader loads the models of lang (CheckLanguages's form).
func NewReader(lang string) (*Reader, error) {
	lang, err := CheckLanguages(lang)
	if err != nil {
		return nil, err
	}
	api := C.TessBaseAPICreate()
	if api == nil {
		return nil, errors.New("ocr: TessBaseAPICreate failed")
	}
	path, clang := C.CString(DataPath()), C.CString(lang)
	defer C.free(unsafe.Pointer(path))
	defer C.free(unsafe.Pointer(clang))
	// OEM_LSTM_ONLY (1): the neural network, which the models Debian ships
	// are trained for.
	if C.TessBaseAPIInit2(api, path, clang, C.OEM_LSTM_ONLY) != 0 {
		C.TessBaseAPIDelete(api)
		return nil, fmt.Errorf("ocr: Tesseract could not load %q from %s", lang, DataPath())
	}
	r := &Reader{lang: lang, api: api}
	r.set("debug_file", "/dev/null") // its notes ("Estimating resolution") are not the worker's
	return r, nil
}

func (r *Reader) set(name, value string) {
	cn, cv := C.CString(name), C.CString(value)
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cv))
	C.TessBaseAPISetVariable(r.api, cn, cv)
}

// Lang is the reader's language set.
func (r *Reader) Lang() string { return r.lang }

// stride is the bytes of img's row.
func (img Gray) stride() int {
	if img.Stride == 0 {
		return img.Width
	}
	return img.Stride
}

// check says what is wrong with img, if anything.
func (img Gray) check() error {
	stride := img.stride()
	switch {
	case img.Width < 1 || img.Height < 1 || stride < img.Width:
		return fmt.Errorf("ocr: a picture of %d×%d pixels (stride %d)", img.Width, img.Height, stride)
	case img.Width*img.Height > MaxPixels:
		return fmt.Errorf("ocr: a picture of %d×%d pixels, over %d", img.Width, img.Height, MaxPixels)
	case len(img.Pix) < stride*(img.Height-1)+img.Width:
		return fmt.Errorf("ocr: %d bytes for a picture of %d×%d", len(img.Pix), img.Width, img.Height)
	}
	return nil
}

// resolution is img's PPI, 300 when it has none.
func (img Gray) resolution() int {
	if img.PPI <= 0 {
		return 300
	}
	return img.PPI
}

// Read reads the text of img.
func (r *Reader) Read(img Gray) (Page, error) {
	if err := img.check(); err != nil {
		return Page{}, err
	}
	var pin runtime.Pinner
	pin.Pin(unsafe.SliceData(img.Pix))
	defer pin.Unpin()
	C.TessBaseAPISetImage(r.api, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(img.Pix))), C.int(img.Width), C.int(img.Height), 1, C.int(img.stride()))
	C.TessBaseAPISetSourceResolution(r.api, C.int(img.resolution()))
	text := C.TessBaseAPIGetUTF8Text(r.api)
	// Tesseract keeps a pointer to the pixels until the next picture or Clear.
	defer C.TessBaseAPIClear(r.api)
	if text == nil {
		return Page{}, errors.New("ocr: Tesseract could not read the picture")
	}
	defer C.TessDeleteText(text)
	return Page{Text: C.GoString(text), Confidence: int(C.TessBaseAPIMeanTextConf(r.api))}, nil
}

// Close frees the reader's Tesseract.
func (r *Reader) Close() {
	if r.api != nil {
		C.TessBaseAPIEnd(r.api)
		C.TessBaseAPIDelete(r.api)
		r.api = nil
	}
}

// readers keeps readers between pictures, by language set.
var readers = struct {
	sync.Mutex
	idle map[string][]*Reader
}{idle: map[string][]*Reader{}}

// maxIdle bounds the readers kept per language set: one per thread that
// reads at once is all that is ever reused.
const maxIdle = 8

// Get returns a reader of lang, kept from before or new.
func Get(lang string) (*Reader, error) {
	lang, err := CheckLanguages(lang)
	if err != nil {
		return nil, err
	}
	readers.Lock()
	if idle := readers.idle[lang]; len(idle) > 0 {
		r := idle[len(idle)-1]
		readers.idle[lang] = idle[:len(idle)-1]
		readers.Unlock()
		return r, nil
	}
	readers.Unlock()
	return NewReader(lang)
}

// Put keeps r for the next Get of its language set.
func Put(r *Reader) {
	readers.Lock()
	defer readers.Unlock()
	if len(readers.idle[r.lang]) >= maxIdle {
		r.Close()
		return
	}
	readers.idle[r.lang] = append(readers.idle[r.lang], r)
}

// Available is nil when Tesseract can read here: its library is linked (this
// package would not load otherwise) and English, or another language, is
// installed.
func Available() error {
	if len(Languages()) == 0 {
		return fmt.Errorf("%w: no language model in %s (Debian tesseract-ocr-eng)", ErrUnavailable, DataPath())
	}
	if _, err := os.Stat(filepath.Join(DataPath(), Languages()[0]+".traineddata")); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
