package office

// The few LibreOfficeKit calls the child process makes. LibreOfficeKitInit.h
// dlopens LibreOffice's merged library from the install folder at run time,
// so this binary has no link-time dependency on LibreOffice: it builds with
// the headers alone (Debian libreofficekit-dev) and runs, without office
// conversions, where LibreOffice is absent.

/*
#cgo CFLAGS: -DLOK_USE_UNSTABLE_API
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include <signal.h>
#include <LibreOfficeKit/LibreOfficeKitInit.h>

// fc_onstack adds SA_ONSTACK to the signal handlers LibreOffice installed
// (sal's crash handlers): Go's runtime, whose handlers they call in turn,
// aborts the process when a handler runs without it ("non-Go code set up
// signal handler without SA_ONSTACK flag").
static void fc_onstack(void) {
	for (int sig = 1; sig < 65; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) != 0)
			continue;
		if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_ONSTACK))
			continue;
		sa.sa_flags |= SA_ONSTACK;
		sigaction(sig, &sa, NULL);
	}
}

// LibreOfficeKitEnums.h of LibreOffice 7.4 holds C++ that a C compiler
// refuses, so the few values used here are its, restated.
enum {
	fc_callback_password = 20,           // LOK_CALLBACK_DOCUMENT_PASSWORD
	fc_callback_password_to_modify = 21, // LOK_CALLBACK_DOCUMENT_PASSWORD_TO_MODIFY
};
static const unsigned long long fc_feature_password = 1ULL; // LOK_FEATURE_DOCUMENT_PASSWORD

static LibreOfficeKit *fc_kit;
// The document being loaded, its password (NULL for none), and how many
// times LibreOffice asked for one while loading it.
static char *fc_url;
static char *fc_password;
static int fc_asked;

// fc_callback answers LibreOffice's questions for a password. The first
// question gets the job's password, a second one (the password was wrong)
// gets none, which ends the load. The answer names the URL the load was
// given: for MS Office binary files LibreOffice 7.4 puts a short title in the
// payload, and an unknown URL crashes it.
static void fc_callback(int type, const char *payload, void *data) {
	(void)payload;
	(void)data;
	if (type != fc_callback_password && type != fc_callback_password_to_modify)
		return;
	fc_asked++;
	const char *pw = NULL;
	if (fc_password != NULL && fc_asked == 1)
		pw = fc_password;
	fc_kit->pClass->setDocumentPassword(fc_kit, fc_url, pw);
}

static int fc_init(const char *install, const char *profile) {
	fc_kit = lok_init_2(install, profile);
	fc_onstack();
	if (fc_kit == NULL)
		return 0;
	// Only "password to open" is asked through the callback: a document with
	// only a password to modify opens read-only, as LibreOffice does by itself.
	fc_kit->pClass->setOptionalFeatures(fc_kit, fc_feature_password);
	fc_kit->pClass->registerCallback(fc_kit, fc_callback, NULL);
	return 1;
}

static char *fc_take_error(void) {
	char *e = fc_kit->pClass->getError(fc_kit);
	return e;
}

static char *fc_version(void) {
	if (!LIBREOFFICEKIT_HAS(fc_kit, getVersionInfo))
		return NULL;
	return fc_kit->pClass->getVersionInfo(fc_kit);
}

static LibreOfficeKitDocument *fc_load(char *url, const char *options, char *password, int *asked) {
	fc_url = url;
	fc_password = password;
	fc_asked = 0;
	LibreOfficeKitDocument *d = fc_kit->pClass->documentLoadWithOptions(fc_kit, url, options);
	fc_onstack();
	*asked = fc_asked;
	fc_url = NULL;
	fc_password = NULL;
	return d;
}

static int fc_save(LibreOfficeKitDocument *d, const char *url, const char *format, const char *options) {
	return d->pClass->saveAs(d, url, format, options);
}

static int fc_type(LibreOfficeKitDocument *d) {
	return d->pClass->getDocumentType(d);
}

static int fc_parts(LibreOfficeKitDocument *d) {
	return d->pClass->getParts(d);
}

static void fc_destroy(LibreOfficeKitDocument *d) {
	d->pClass->destroy(d);
}
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// Document types as LibreOfficeKit reports them (LibreOfficeKitDocumentType).
const (
	docText         = 0
	docSpreadsheet  = 1
	docPresentation = 2
	docDrawing      = 3
)

// lokInit starts LibreOffice in this process: install is its program folder,
// profile the file: URL of the user profile.
func lokInit(install, profile string) error {
	ci, cp := C.CString(install), C.CString(profile)
	defer C.free(unsafe.Pointer(ci))
	defer C.free(unsafe.Pointer(cp))
	if C.fc_init(ci, cp) == 0 {
		return errors.New("LibreOfficeKit did not start (lok_init_2 returned nothing)")
	}
	return nil
}

func lokVersion() string {
	v := C.fc_version()
	if v == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(v))
	return C.GoString(v)
}

func lokError() string {
	e := C.fc_take_error()
	if e == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(e))
	return C.GoString(e)
}

type lokDoc struct{ d *C.LibreOfficeKitDocument }

// lokLoad opens url. asked says how many times LibreOffice asked for a
// password while loading it.
func lokLoad(url, options, password string) (doc lokDoc, asked int, err error) {
	cu, co := C.CString(url), C.CString(options)
	defer C.free(unsafe.Pointer(cu))
	defer C.free(unsafe.Pointer(co))
	var cpw *C.char
	if password != "" {
		cpw = C.CString(password)
		defer C.free(unsafe.Pointer(cpw))
	}
	var n C.int
	d := C.fc_load(cu, co, cpw, &n)
	if d == nil {
		msg := lokError()
		if msg == "" {
			msg = "LibreOffice could not load the document"
		}
		return lokDoc{}, int(n), errors.New(strings.TrimSpace(msg))
	}
	return lokDoc{d}, int(n), nil
}

func (d lokDoc) saveAs(url, format, options string) error {
	cu, cf, co := C.CString(url), C.CString(format), C.CString(options)
	defer C.free(unsafe.Pointer(cu))
	defer C.free(unsafe.Pointer(cf))
	defer C.free(unsafe.Pointer(co))
	if C.fc_save(d.d, cu, cf, co) == 0 {
		msg := lokError()
		if msg == "" {
			msg = "LibreOffice could not save the document as " + format
		}
		return errors.New(strings.TrimSpace(msg))
	}
	return nil
}

func (d lokDoc) kind() int  { return int(C.fc_type(d.d)) }
func (d lokDoc) parts() int { return int(C.fc_parts(d.d)) }

// close destroys the document; a closed or empty lokDoc is left alone.
func (d *lokDoc) close() {
	if d.d != nil {
		C.fc_destroy(d.d)
		d.d = nil
	}
}
