// Package engines starts the conversion engines that run as processes of
// their own beside a worker — LibreOffice for office documents, Chromium for
// web pages and Markdown — self-tests each, and gives each that works to the
// workers' converters, which from then on announce its conversions. An
// engine that is missing or fails its self-test is logged and left out: the
// worker runs without its conversions and says so (issue 16).
package engines

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/htmlpdf"
	"github.com/fileconv/fileconv/internal/office"
)

// Config says which engines to start and how.
type Config struct {
	// Families are the families of engines turned on (convert.Families); nil
	// means all.
	Families []string
	// BrowserTabs is how many web pages print at once (default: one per core).
	BrowserTabs int
	// JavaScript lets web pages' inline scripts run; off by default.
	JavaScript bool
	// Office is the LibreOffice pool's settings (processes, recycling,
	// memory); its Logger is set here.
	Office office.Config
	Logger *slog.Logger
}

// selfTestTimeout bounds an engine's start and self-test.
const selfTestTimeout = 2 * time.Minute

// Engines are the engines of one process, shared by its workers.
type Engines struct {
	log     *slog.Logger
	mu      sync.Mutex
	convs   []*convert.Converter
	browser convert.BrowserEngine // once it passed its self-test
	office  convert.OfficeEngine  // once it passed its self-test
	pool    *htmlpdf.Pool
	offices *office.Pool
	stop    context.CancelFunc
	done    sync.WaitGroup
}

// Start starts the engines cfg turns on, each in the background: their
// self-tests take seconds, and a worker serves images and PDFs meanwhile.
func Start(cfg Config) *Engines {
	ctx, stop := context.WithCancel(context.Background())
	e := &Engines{log: cmpLogger(cfg.Logger), stop: stop}
	if on(cfg.Families, "html") {
		if err := htmlpdf.Available(); err != nil {
			e.log.Warn("web pages and Markdown are not converted here: Chromium is missing", "err", err)
		} else {
			e.pool = htmlpdf.New(htmlpdf.Config{Tabs: cfg.BrowserTabs, JavaScript: cfg.JavaScript, Logger: e.log})
			e.done.Go(func() { e.startBrowser(ctx) })
		}
	}
	if on(cfg.Families, "office") {
		if err := office.Available(); err != nil {
			e.log.Warn("office documents are not converted here: LibreOffice is missing", "err", err)
		} else {
			oc := cfg.Office
			oc.Logger = e.log
			e.offices = office.New(oc)
			e.done.Go(func() { e.startOffice(ctx) })
		}
	}
	return e
}

// startOffice starts LibreOffice's warm processes and hands them to the
// converters once a document of each family converts.
func (e *Engines) startOffice(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, selfTestTimeout)
	defer cancel()
	start := time.Now()
	if err := e.offices.SelfTest(ctx); err != nil {
		e.log.Warn("office documents are not converted here: LibreOffice failed its self-test", "err", err)
		return
	}
	e.log.Info("engine ready", "engine", "libreoffice", "took", time.Since(start).Round(time.Millisecond))
	e.mu.Lock()
	defer e.mu.Unlock()
	e.office = officeEngine{e.offices}
	for _, c := range e.convs {
		c.SetOfficeEngine(e.office)
	}
}

func cmpLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

func on(families []string, family string) bool {
	return families == nil || slices.Contains(families, family)
}

// startBrowser starts Chromium and hands it to the converters once a page
// prints.
func (e *Engines) startBrowser(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, selfTestTimeout)
	defer cancel()
	start := time.Now()
	if err := e.pool.SelfTest(ctx); err != nil {
		e.log.Warn("web pages and Markdown are not converted here: Chromium failed its self-test", "err", err)
		return
	}
	e.log.Info("engine ready", "engine", "chromium", "took", time.Since(start).Round(time.Millisecond))
	e.mu.Lock()
	defer e.mu.Unlock()
	e.browser = browser{e.pool}
	for _, c := range e.convs {
		c.SetBrowserEngine(e.browser)
	}
}

// WaitStarted waits until every engine has passed its self-test or failed
// it, for a process that must not convert before (a benchmark).
func (e *Engines) WaitStarted() { e.done.Wait() }

// Attach gives conv the engines that run, and those that pass their
// self-test later.
func (e *Engines) Attach(conv *convert.Converter) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.convs = append(e.convs, conv)
	if e.browser != nil {
		conv.SetBrowserEngine(e.browser)
	}
	if e.office != nil {
		conv.SetOfficeEngine(e.office)
	}
}

// Close stops the engines; the converters lose them first.
func (e *Engines) Close() error {
	e.stop()
	e.done.Wait()
	e.mu.Lock()
	for _, c := range e.convs {
		c.SetBrowserEngine(nil)
		c.SetOfficeEngine(nil)
	}
	e.mu.Unlock()
	var errs []error
	if e.pool != nil {
		errs = append(errs, e.pool.Close())
	}
	if e.offices != nil {
		errs = append(errs, e.offices.Close())
	}
	return errors.Join(errs...)
}

// browser is Chromium's pool as the converter's browser engine.
type browser struct{ pool *htmlpdf.Pool }

// RunsScripts says whether Chromium runs a page's scripts (--javascript).
func (b browser) RunsScripts() bool { return b.pool.JavaScript() }

func (b browser) Convert(ctx context.Context, job convert.BrowserJob) ([]byte, error) {
	html := job.Input
	if job.Markdown {
		var err error
		if html, err = htmlpdf.Markdown(job.Input); err != nil {
			return nil, fmt.Errorf("%w: %w", convert.ErrDocumentUnreadable, err)
		}
	}
	// The converter's margin is -1 for the default and 0 for none; the
	// pool's is 0 for the default and below 0 for none.
	margin := job.MarginPt
	switch {
	case margin < 0:
		margin = 0
	case margin == 0:
		margin = -1
	}
	out, err := b.pool.Convert(ctx, htmlpdf.Job{HTML: html, PageSize: job.PageSize, Landscape: job.Landscape, Margin: margin, Pages: job.Pages})
	return out, browserError(err)
}

// browserError turns the pool's errors into the converter's.
func browserError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, htmlpdf.ErrOptions):
		return &convert.Error{Code: fail.BadRequest, Cause: err, Message: err.Error()}
	case errors.Is(err, htmlpdf.ErrTooLarge):
		return &convert.Error{Code: fail.LimitExceeded, Cause: err, Message: "the PDF of the page is larger than the engine returns (256 MiB)"}
	case errors.Is(err, htmlpdf.ErrUnreadable):
		return fmt.Errorf("%w: %w", convert.ErrDocumentUnreadable, err)
	case errors.Is(err, htmlpdf.ErrCrashed):
		return fmt.Errorf("%w: %w", convert.ErrEngineCrashed, err)
	case errors.Is(err, htmlpdf.ErrClosed), errors.Is(err, htmlpdf.ErrUnavailable):
		return &convert.Error{Code: fail.Unavailable, Cause: err, Message: "this worker's browser engine (Chromium) is stopping or missing"}
	}
	return err
}
