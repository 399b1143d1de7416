package htmlpdf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	jsonv2 "github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/inspector"
	cdpio "github.com/chromedp/cdproto/io"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// tab is a page of the browser, in a browser context of its own (an
// in-memory profile: no cookie, cache or storage is shared with other tabs or
// written to disk), that converts one document at a time.
type tab struct {
	br     *browser
	ctx    context.Context // the tab's chromedp context
	cancel context.CancelFunc
	target *chromedp.Target

	crashOnce sync.Once
	crashed   chan struct{}
}

// newTab opens a tab and sets it up: scripts on or off, dialogs answered,
// downloads denied, crashes noticed.
func (br *browser) newTab(ctx context.Context, p *Pool) (*tab, error) {
	tctx, cancel := chromedp.NewContext(br.ctx, chromedp.WithNewBrowserContext())
	t := &tab{br: br, ctx: tctx, cancel: cancel, crashed: make(chan struct{})}
	// The first Run binds the tab to the context it gets, so it gets tctx,
	// and ctx bounds the wait here.
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Do(tctx, chromedp.Func(t.setup)) }()
	select {
	case err := <-errc:
		if err != nil {
			t.close(&p.bg)
			return nil, err
		}
		return t, nil
	case <-ctx.Done():
		t.close(&p.bg)
		return nil, ctx.Err()
	case <-br.dead:
		t.close(&p.bg)
		return nil, errors.New("the browser exited")
	}
}

func (t *tab) setup(ctx context.Context, tg *chromedp.Target) error {
	t.target = tg
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *inspector.EventTargetCrashed, *inspector.EventDetached:
			t.crashOnce.Do(func() { close(t.crashed) })
		case *page.EventJavascriptDialogOpening:
			// alert(), confirm(), prompt() and beforeunload would block the
			// page: answer them at once.
			go func() {
				cctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
				defer cancel()
				_, _ = cdp.Call(cctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true, PromptText: ev.DefaultPrompt})
			}()
		}
	})
	if err != nil {
		return err
	}
	// chromedp turns on domains for its queries and its view of the DOM
	// (it fetches the document at every change); the pool needs none of it.
	for _, method := range []string{dom.Disable.Method, css.Disable.Method, network.Disable.Method, log.Disable.Method, runtime.Disable.Method} {
		if err := tg.Call(ctx, method, cdp.Empty{}, nil); err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
	}
	if _, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !t.br.js}); err != nil {
		return fmt.Errorf("turning JavaScript off: %w", err)
	}
	if t.br.js {
		// A page's own print() would make ours fail ("already being
		// printed"), and its close() would close the tab: both do nothing.
		if _, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: neutralize, RunImmediately: new(true),
		}); err != nil {
			return fmt.Errorf("preparing the page: %w", err)
		}
	}
	if id := chromedp.FromContext(ctx).BrowserContextID; id != "" {
		if _, err := cdp.Call(ctx, t.br.b, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorDeny, BrowserContextID: id,
		}); err != nil {
			return fmt.Errorf("denying downloads: %w", err)
		}
	}
	return nil
}

// neutralize runs before the scripts of every document and frame, with
// JavaScript on.
const neutralize = `(() => {
	const nothing = function () {};
	for (const name of ["print", "close"]) {
		try { Object.defineProperty(window, name, {value: nothing, writable: false, configurable: false}) } catch (e) {}
	}
})()`

func (t *tab) hasCrashed() bool {
	select {
	case <-t.crashed:
		return true
	default:
		return false
	}
}

func (t *tab) isDead() bool {
	return t.ctx.Err() != nil || t.hasCrashed() || t.br.isDead()
}

// close closes the tab in the background: the browser closes the page and
// its browser context, which ends the renderer, even one stuck in a loop.
func (t *tab) close(bg *sync.WaitGroup) {
	if t == nil {
		return
	}
	bg.Go(t.cancel)
}

// readyExpr is true once the document and its fonts have loaded.
const readyExpr = `document.readyState === "complete" && document.fonts.status === "loaded"`

// convert prints doc. ctx carries the job's deadline.
func (t *tab) convert(ctx context.Context, doc string, pp printParams, max int64) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-t.crashed:
		case <-t.br.dead:
		case <-ctx.Done():
		}
		cancel()
	}()
	tg := t.target
	tree, err := cdp.Call(ctx, tg, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	frame := tree.FrameTree.Frame.ID
	if _, err := cdp.Call(ctx, tg, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: frame, HTML: doc}); err != nil {
		return nil, fmt.Errorf("loading the document: %w", err)
	}
	// A document that navigates away (a meta refresh, a script) is not the
	// document any more.
	navs, unsubscribe := tg.Subscribe(page.FrameNavigated.Method)
	defer unsubscribe()
	for {
		res, err := cdp.Call(ctx, tg, runtime.Evaluate, runtime.EvaluateParams{Expression: readyExpr, ReturnByValue: new(true)})
		if err != nil {
			var cerr *cdproto.Error
			if errors.As(err, &cerr) && strings.Contains(cerr.Message, "navigated") {
				return nil, fmt.Errorf("%w: the document navigated away from itself", ErrUnreadable)
			}
			return nil, fmt.Errorf("waiting for the document to load: %w", err)
		}
		if string(res.Result.Value) == "true" {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the document to load: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	m := pp.margin
	res, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{
		Landscape:       new(pp.landscape),
		PrintBackground: new(true),
		PaperWidth:      pp.width,
		PaperHeight:     pp.height,
		MarginTop:       new(m),
		MarginBottom:    new(m),
		MarginLeft:      new(m),
		MarginRight:     new(m),
		PageRanges:      pp.pages,
		TransferMode:    page.PrintToPDFTransferModeReturnAsStream,
	})
	if err != nil {
		var cerr *cdproto.Error
		if errors.As(err, &cerr) && strings.Contains(strings.ToLower(cerr.Message), "range") {
			return nil, fmt.Errorf("%w: pages %q: %s", ErrOptions, pp.pages, cerr.Message)
		}
		return nil, fmt.Errorf("printing: %w", err)
	}
	pdf, err := readStream(ctx, tg, res.Stream, max)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case raw := <-navs:
			var ev page.EventFrameNavigated
			if jsonv2.Unmarshal(raw, &ev) == nil && ev.Frame != nil && ev.Frame.ParentID == "" {
				return nil, fmt.Errorf("%w: the document navigated away from itself (to %s)", ErrUnreadable, truncate(ev.Frame.URL, 100))
			}
			continue
		default:
		}
		break
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return nil, errNoPDF
	}
	return pdf, nil
}

// readStream reads the PDF from its stream, up to max bytes.
func readStream(ctx context.Context, tg *chromedp.Target, h cdpio.StreamHandle, max int64) (_ []byte, err error) {
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = cdp.Call(cctx, tg, cdpio.Close, cdpio.CloseParams{Handle: h})
	}()
	var buf bytes.Buffer
	for {
		res, err := cdp.Call(ctx, tg, cdpio.Read, cdpio.ReadParams{Handle: h, Size: 4 << 20})
		if err != nil {
			return nil, fmt.Errorf("reading the PDF: %w", err)
		}
		buf.Write(res.Data)
		if int64(buf.Len()) > max {
			return nil, fmt.Errorf("%w: more than %d MiB", ErrTooLarge, max>>20)
		}
		if res.EOF {
			return buf.Bytes(), nil
		}
	}
}

// reset makes the tab ready for the next document: a fresh blank page (a new
// document and window: no timer, listener, worker or scheduled refresh of the
// last document survives).
func (t *tab) reset() error {
	if t.isDead() {
		return errors.New("the tab is gone")
	}
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate("about:blank"))
}
