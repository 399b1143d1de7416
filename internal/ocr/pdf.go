package ocr

// A searchable PDF's text layer comes from Tesseract's own PDF renderer in its
// text-only mode (TessPDFRendererCreate with textonly): a page of the
// picture's size holding, in render mode 3 (invisible) and Tesseract's
// glyphless font, every word it read, placed where the word is. The caller
// lays that page over the page that shows the picture (internal/qpdf's
// Overlay), so the picture itself is never re-encoded: a PDF's page keeps its
// vectors, fonts and images as they were, and an image keeps the bytes the
// image-to-PDF conversion gave it. The full renderer would instead embed its
// own copy of the picture, recompressed, on a page sized from pixels alone.
//
// The renderer writes only to a file it opens itself, named outputbase
// + ".pdf" (or stdout, which is the reader's channel to its worker). So
// that the document never reaches a disk, that file is a memfd: anonymous
// memory of this process. The name Tesseract opens is a symbolic link to
// /proc/self/fd/N in a folder that only this user can enter, under /dev/shm
// (memory) when there is one, made with 0700 and removed as soon as the
// renderer has opened it; the folder holds the link, never a byte of the
// document. Tesseract is given no input file name at all (pictures go in as a
// Pix made in memory), since with a name it reads the file, and libtesseract
// links libcurl, which would take a URL for one.

// #cgo pkg-config: lept
// #include <stdlib.h>
// #include <leptonica/allheaders.h>
// #include <tesseract/capi.h>
//
// // fc_pix copies grey pixels into a Pix, which keeps its bytes in 32-bit
// // words, most significant first: SET_DATA_BYTE places each byte so on
// // either byte order.
// static PIX *fc_pix(const unsigned char *src, int w, int h, int stride, int ppi) {
// 	PIX *pix = pixCreate(w, h, 8);
// 	if (pix == NULL)
// 		return NULL;
// 	l_uint32 *data = pixGetData(pix);
// 	int wpl = pixGetWpl(pix);
// 	for (int y = 0; y < h; y++) {
// 		l_uint32 *line = data + (size_t)y * wpl;
// 		const unsigned char *row = src + (size_t)y * stride;
// 		for (int x = 0; x < w; x++)
// 			SET_DATA_BYTE(line, x, row[x]);
// 	}
// 	pixSetResolution(pix, ppi, ppi);
// 	return pix;
// }
//
// static void fc_pix_destroy(PIX *pix) { pixDestroy(&pix); }
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ReadPDF reads img like Read and also returns Tesseract's text layer for
// it: a PDF of one page, img's size at its PPI, holding the words read as
// invisible text where they are on the picture. A picture without legible
// text gives a page without words.
func (r *Reader) ReadPDF(img Gray) (Page, []byte, error) {
	if err := img.check(); err != nil {
		return Page{}, nil, err
	}
	pix := C.fc_pix((*C.uchar)(unsafe.Pointer(unsafe.SliceData(img.Pix))), C.int(img.Width), C.int(img.Height), C.int(img.stride()), C.int(img.resolution()))
	if pix == nil {
		return Page{}, nil, fmt.Errorf("ocr: no memory for a picture of %d×%d pixels", img.Width, img.Height)
	}
	defer C.fc_pix_destroy(pix)
	out, err := newMemFile()
	if err != nil {
		return Page{}, nil, err
	}
	defer out.Close()
	renderer, err := r.textRenderer(out)
	if err != nil {
		return Page{}, nil, err
	}
	title := C.CString("")
	defer C.free(unsafe.Pointer(title))
	ok := C.TessResultRendererBeginDocument(renderer, title) != 0 &&
		C.TessBaseAPIProcessPage(r.api, pix, 0, nil, nil, 0, renderer) != 0
	// The results stay until Clear: the text for Page, read once.
	var page Page
	if ok {
		page = r.results()
		ok = C.TessResultRendererEndDocument(renderer) != 0
	}
	C.TessBaseAPIClear(r.api)
	// Deleting the renderer closes its stdio stream, which flushes the end.
	C.TessDeleteResultRenderer(renderer)
	if !ok {
		if _, err := os.Stat(filepath.Join(DataPath(), "pdf.ttf")); err != nil {
			// The layer's glyphless font, which Debian's libtesseract5 puts
			// beside the models; a TESSDATA_PREFIX of models alone lacks it.
			return Page{}, nil, fmt.Errorf("ocr: Tesseract's font for text layers is missing: %w", err)
		}
		return Page{}, nil, errors.New("ocr: Tesseract could not make the text layer of the picture")
	}
	pdf, err := out.bytes()
	if err != nil {
		return Page{}, nil, err
	}
	return page, pdf, nil
}

// results is the text and confidence of the picture last recognised.
func (r *Reader) results() Page {
	text := C.TessBaseAPIGetUTF8Text(r.api)
	if text == nil {
		return Page{}
	}
	defer C.TessDeleteText(text)
	return Page{Text: C.GoString(text), Confidence: int(C.TessBaseAPIMeanTextConf(r.api))}
}

// textRenderer makes a text-only PDF renderer that writes into out, through
// a link that is gone by the time it returns.
func (r *Reader) textRenderer(out *memFile) (*C.TessResultRenderer, error) {
	dir, err := os.MkdirTemp(privateRoot(), "fileconv-ocr-")
	if err != nil {
		return nil, fmt.Errorf("ocr: a folder for the text layer's link: %w", err)
	}
	defer os.RemoveAll(dir)
	base := filepath.Join(dir, "layer")
	if err := os.Symlink(fmt.Sprintf("/proc/self/fd/%d", out.Fd()), base+".pdf"); err != nil {
		return nil, fmt.Errorf("ocr: a link to the text layer's memory: %w", err)
	}
	cbase, cdata := C.CString(base), C.CString(DataPath())
	defer C.free(unsafe.Pointer(cbase))
	defer C.free(unsafe.Pointer(cdata))
	// textonly: the words without the picture (see the top of this file).
	renderer := C.TessPDFRendererCreate(cbase, cdata, 1)
	if renderer == nil {
		return nil, errors.New("ocr: Tesseract could not make a PDF renderer")
	}
	return renderer, nil
}

// privateRoot is where the folder of the renderer's link goes: /dev/shm,
// which is memory, or the system's temporary folder where there is none (the
// folder holds a link, not the document, either way).
func privateRoot() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && unix.Access("/dev/shm", unix.W_OK|unix.X_OK) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// memFile is a file in memory, private to this process.
type memFile struct{ *os.File }

func newMemFile() (*memFile, error) {
	fd, err := unix.MemfdCreate("fileconv-ocr-layer", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("ocr: memory for the text layer: %w", err)
	}
	return &memFile{os.NewFile(uintptr(fd), "fileconv-ocr-layer")}, nil
}

// bytes reads the whole file, which others wrote through their own opening
// of it: the offset of this one is still 0.
func (m *memFile) bytes() ([]byte, error) {
	fi, err := m.Stat()
	if err != nil {
		return nil, fmt.Errorf("ocr: the text layer: %w", err)
	}
	if fi.Size() == 0 || fi.Size() > maxLayer {
		return nil, fmt.Errorf("ocr: a text layer of %d bytes", fi.Size())
	}
	b := make([]byte, fi.Size())
	if _, err := m.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("ocr: the text layer: %w", err)
	}
	return b, nil
}

// maxLayer bounds a page's text layer: a page dense with small print holds
// some 10 000 words, of a hundred bytes each in the layer.
const maxLayer = 64 << 20
