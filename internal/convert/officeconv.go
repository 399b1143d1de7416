package convert

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/fileconv/fileconv/internal/fail"
)

// Office documents become PDFs, and move between Microsoft's and
// OpenDocument's formats, through LibreOffice, an engine of its own
// (internal/office) that the worker starts, self-tests and hands to the
// converter: convert holds only the interface. The ZIP of an Office Open XML
// or OpenDocument file is checked here first (officeguard.go).

// OfficeJob is one document for the office engine.
type OfficeJob struct {
	Input []byte
	// From is the input's kind ("docx", "xls", …; "ole2" for a legacy
	// document told apart no further), To the target ("pdf", "odt", …).
	From, To string
	// Pages, PDFA, Landscape, PageSize and FitWidth are the PDF's options;
	// Password opens a protected document.
	Pages     string
	PDFA      bool
	Landscape bool
	PageSize  string
	FitWidth  bool
	Password  string
}

// OfficeEngine converts office documents: LibreOffice's pool of warm
// processes, or a stand-in in tests. Its errors wrap the sentinels below.
type OfficeEngine interface {
	Convert(ctx context.Context, job OfficeJob) ([]byte, error)
}

// What an office engine's errors wrap, for the client's words.
var (
	// ErrDocumentPassword: the document is protected and the password is
	// missing or wrong.
	ErrDocumentPassword = errors.New("the document is password-protected")
	// ErrDocumentUnreadable: the engine cannot open the document.
	ErrDocumentUnreadable = errors.New("the document cannot be opened")
	// ErrEngineCrashed: the engine's process ended during the job.
	ErrEngineCrashed = errors.New("the engine stopped during the conversion")
)

// engines are the engines a converter runs besides those linked in;
// set once they pass their self-test, so they may arrive after the start.
type engines struct {
	office  engineSlot[OfficeEngine]
	browser engineSlot[BrowserEngine]
}

// engineSlot holds an engine that may come and go while jobs run.
type engineSlot[T comparable] struct{ p atomic.Pointer[T] }

func (s *engineSlot[T]) set(e T) {
	var none T
	if e == none {
		s.p.Store(nil)
		return
	}
	s.p.Store(&e)
}

func (s *engineSlot[T]) get() T {
	if e := s.p.Load(); e != nil {
		return *e
	}
	var none T
	return none
}

// engineSlots are the converter's engines; a converter made without New
// (in tests) gets them on first use.
func (c *Converter) engineSlots() *engines {
	if c.engines == nil {
		c.engines = &engines{}
	}
	return c.engines
}

// SetOfficeEngine gives the converter its office engine (nil takes it away):
// from then on it announces and runs the office conversions.
func (c *Converter) SetOfficeEngine(e OfficeEngine) { c.engineSlots().office.set(e) }

// officeEngine is the office engine, or nil.
func (c *Converter) officeEngine() OfficeEngine {
	if c.engines == nil {
		return nil
	}
	return c.engines.office.get()
}

// officeKinds are the kinds LibreOffice reads.
var officeKinds = []Kind{KindDOCX, KindXLSX, KindPPTX, KindODT, KindODS, KindODP, KindDOC, KindXLS, KindPPT, KindOLE2, KindRTF}

// officeZipKinds are the office kinds that are ZIPs.
var officeZipKinds = []Kind{KindDOCX, KindXLSX, KindPPTX, KindODT, KindODS, KindODP}

// convertOffice converts an office document with the office engine.
func (c *Converter) convertOffice(ctx context.Context, in Input) (Result, error) {
	engine := c.officeEngine()
	if engine == nil {
		return Result{}, fail.New(fail.Unavailable, "this worker's office engine (LibreOffice) is not running")
	}
	if isOfficeZip(in.Kind) {
		if err := c.checkOfficeZip(in.Kind, in.Data); err != nil {
			return Result{}, err
		}
	}
	o := c.opts
	out, err := engine.Convert(ctx, OfficeJob{Input: in.Data, From: string(in.Kind), To: in.Target,
		Pages: o.Pages, PDFA: o.PDFA, Landscape: o.Landscape, PageSize: o.PageSize, FitWidth: o.FitWidth, Password: o.Password})
	if err != nil {
		return Result{}, c.officeError(ctx, in.Kind, err)
	}
	res := Result{Output: out}
	if isOfficeZip(in.Kind) {
		res.Warnings = officeLinkWarnings(in.Kind, in.Data)
	}
	return res, nil
}

func isOfficeZip(k Kind) bool {
	for _, z := range officeZipKinds {
		if k == z {
			return true
		}
	}
	return false
}

// officeError is the client's error for what the office engine said of a
// document of kind k.
func (c *Converter) officeError(ctx context.Context, k Kind, err error) error {
	what := k.Info().Short
	switch {
	case ctx.Err() != nil:
		return cancelled(ctx)
	case errors.Is(err, ErrDocumentPassword) && c.opts.Password == "":
		return &Error{Code: fail.BadRequest, Cause: err, Message: fmt.Sprintf("the %s is password-protected: give its password with the option password", what)}
	case errors.Is(err, ErrDocumentPassword):
		return &Error{Code: fail.BadRequest, Cause: err, Message: fmt.Sprintf("the password given does not open the %s", what)}
	case errors.Is(err, ErrDocumentUnreadable):
		return &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf("corrupt %s: LibreOffice cannot open it", what)}
	case errors.Is(err, ErrEngineCrashed):
		return &Error{Code: fail.ConversionFailed, Cause: err, Message: fmt.Sprintf(
			"LibreOffice stopped on the %s (it crashed or ran out of memory): the file is damaged or more than it can convert", what)}
	}
	return &Error{Code: fail.Internal, Cause: err, Message: fmt.Sprintf("internal error: the office engine failed on the %s", what)}
}
