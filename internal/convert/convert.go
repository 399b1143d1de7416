// Package convert detects the type of an input from its magic numbers and converts
// it in memory. It is pure: bytes in, bytes out, limits enforced, no network and no
// disk. Every error it returns to a caller is an *Error whose Message can be shown to
// the client as it is.
package convert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// Config holds the conversion limits and output settings. The zero value of a field
// means its default (see WithDefaults).
type Config struct {
	// MaxPixels bounds width × height of an input image, checked from its header
	// before any pixel is decoded. Default 64 megapixels (about 256 MB as RGBA).
	MaxPixels int64
	// MaxFrames bounds the frames of an animation or the pages of a multi-page
	// image, read from the header. Default 1000. The frames converted together
	// (an animation kept as one) are also bounded to 4 × MaxPixels in all.
	MaxFrames int
	// MaxPDFPages bounds the pages of a PDF input for PDF → TXT. Default 2000.
	MaxPDFPages int
	// MaxOCRPages bounds the pages of a PDF a job reads by OCR, at a second
	// or two a page and core. Default 100; the pages past it are left as they
	// are, and the result says so.
	MaxOCRPages int
	// MaxOfficeInflate bounds what the parts of an office document's ZIP
	// (DOCX, XLSX, PPTX, ODT, ODS, ODP) unpack to, checked before LibreOffice
	// opens it. Default 512 MiB.
	MaxOfficeInflate int64
	// MaxFiles bounds the files of a job of several files (merged into one
	// PDF). Default 50, at most wire.MaxFiles.
	MaxFiles int
	// MaxPDFInflate bounds the bytes the compressed streams of a PDF decode to,
	// checked before poppler opens it. Default 256 MiB, the largest body: a
	// compressed PDF then gives poppler no more to read than an uncompressed one
	// could, where a 1 MB deflate stream can otherwise hold a gigabyte.
	MaxPDFInflate int64
	// MaxPDFNesting bounds how deep the arrays and dictionaries of a PDF nest,
	// and, 16 times as deep, the graphics states (q) and marked-content
	// sequences (BMC/BDC) its content leaves open. Default 256, at most 500:
	// poppler's parser stops nesting at 500 and from there keeps every further
	// bracket as an object of its own.
	MaxPDFNesting int
	// MaxPDFMemory bounds the memory of the process that reads a PDF for
	// PDF → TXT (RLIMIT_DATA of the PDF reader). Default 1 GiB; at least
	// 128 MiB.
	MaxPDFMemory int64
	// MaxImageMemory bounds the memory of the reader process that decodes an
	// image whose decoder runs there (ImageMagick, libheif, OpenJPEG, libjxl,
	// librsvg, libtiff) or encodes AVIF, HEIC or JPEG XL. Default 2 GiB: a
	// 12 MP photo from AVIF to JPEG XL took 650 MB resident here, and libjxl
	// reserves more than it touches; at least 128 MiB.
	MaxImageMemory int64
	// MaxPDFDPI bounds the resolution a PDF's pages are rendered at.
	// Default 600.
	MaxPDFDPI int
	// PDFInProcess runs poppler in this process instead of a PDF reader
	// process: about a millisecond faster per PDF, but a PDF that keeps poppler
	// busy then holds its slot until poppler returns, whatever the deadline, and
	// a crash in poppler ends the process. For the reader itself and for tests.
	PDFInProcess bool
	// MaxTextPages bounds the pages of the PDF that TXT → PDF writes. Default
	// 10 000 (about 50 MB of dense text, a few seconds and 300 MB): the cost is
	// in pages, not bytes, and a text of short paragraphs makes a page of every
	// hundred bytes.
	MaxTextPages int
	// JPEGQuality is the JPEG output quality, 1–100. Default 75, libjpeg's and
	// Pillow's (so the original system's): 85 made files 1.3 to 1.5 times
	// larger (docs/performance.md, "JPEG, WEBP and PNG defaults").
	JPEGQuality int
	// WEBPQuality is the lossy WEBP output quality, 1–100. Default 80.
	WEBPQuality int
	// WEBPEffort is libwebp's method for WEBP output, 1–6 (0: the default,
	// 4, libwebp's and the original system's). 2 encodes photos about twice
	// as fast, for files 2 to 6 % larger with an SSIM 0.2 to 0.3 % lower
	// (noise: 1.6 times larger; docs/performance.md); a request's effort
	// overrides it.
	WEBPEffort int
	// PNGCompression is the zlib level of photos saved as PNG, 1–9 (drawings
	// and noise get their own: pngPlan). Default 3: PNG encoding is the
	// slowest step of every conversion to PNG, and on photos level 3 with the
	// "up" filter ran 1.6 to 4 times faster than zlib's usual 6 with adaptive
	// filters, for files at most 12 % larger (docs/performance.md).
	PNGCompression int
	// Disable names registry entries this converter does not offer.
	Disable []string
	// Engines names the families of engines this converter uses (Families);
	// nil means all of them. A worker of office engines alone, or of images
	// alone, makes pools of workers of different sizes.
	Engines []string
}

// Defaults of Config.
const (
	DefaultMaxPixels        = 64_000_000
	DefaultMaxFrames        = 1000
	DefaultMaxPDFPages      = 2000
	DefaultMaxOCRPages      = 100
	DefaultMaxFiles         = 50
	DefaultMaxOfficeInflate = 512 << 20
	DefaultMaxPDFInflate    = 256 << 20
	DefaultMaxPDFNesting    = 256
	DefaultMaxTextPages     = 10_000
	DefaultMaxPDFMemory     = 1 << 30
	DefaultMaxImageMemory   = 2 << 30
	DefaultMaxPDFDPI        = 600
	DefaultPDFDPI           = 150
	minPDFMemory            = 128 << 20
	DefaultJPEGQuality      = 75
	DefaultWEBPQuality      = 80
	DefaultWEBPEffort       = 4
	DefaultPNGCompression   = 3
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.MaxPixels = cmp.Or(c.MaxPixels, DefaultMaxPixels)
	c.MaxFrames = cmp.Or(c.MaxFrames, DefaultMaxFrames)
	c.MaxPDFPages = cmp.Or(c.MaxPDFPages, DefaultMaxPDFPages)
	c.MaxOCRPages = cmp.Or(c.MaxOCRPages, DefaultMaxOCRPages)
	c.MaxFiles = cmp.Or(c.MaxFiles, DefaultMaxFiles)
	c.MaxOfficeInflate = cmp.Or(c.MaxOfficeInflate, DefaultMaxOfficeInflate)
	c.MaxPDFInflate = cmp.Or(c.MaxPDFInflate, DefaultMaxPDFInflate)
	c.MaxPDFNesting = cmp.Or(c.MaxPDFNesting, DefaultMaxPDFNesting)
	c.MaxTextPages = cmp.Or(c.MaxTextPages, DefaultMaxTextPages)
	c.MaxPDFMemory = cmp.Or(c.MaxPDFMemory, DefaultMaxPDFMemory)
	c.MaxImageMemory = cmp.Or(c.MaxImageMemory, DefaultMaxImageMemory)
	c.MaxPDFDPI = cmp.Or(c.MaxPDFDPI, DefaultMaxPDFDPI)
	c.JPEGQuality = cmp.Or(c.JPEGQuality, DefaultJPEGQuality)
	c.WEBPQuality = cmp.Or(c.WEBPQuality, DefaultWEBPQuality)
	c.WEBPEffort = cmp.Or(c.WEBPEffort, DefaultWEBPEffort)
	c.PNGCompression = cmp.Or(c.PNGCompression, DefaultPNGCompression)
	return c
}

// maxAnimationPixels bounds the pixels of all the frames converted together.
func (c Config) maxAnimationPixels() int64 { return 4 * c.MaxPixels }

// Validate reports the first setting that is out of range, naming it.
func (c Config) Validate() error {
	switch {
	case c.MaxPixels < 0:
		return fmt.Errorf("max pixels %d: must be positive", c.MaxPixels)
	case c.MaxFrames < 0:
		return fmt.Errorf("max frames %d: must be positive", c.MaxFrames)
	case c.MaxPDFPages < 0:
		return fmt.Errorf("max PDF pages %d: must be positive", c.MaxPDFPages)
	case c.MaxOCRPages < 0:
		return fmt.Errorf("max OCR pages %d: must be positive", c.MaxOCRPages)
	case c.MaxFiles < 0 || c.MaxFiles > wire.MaxFiles:
		return fmt.Errorf("max files %d: must be 1 to %d", c.MaxFiles, wire.MaxFiles)
	case c.MaxOfficeInflate < 0:
		return fmt.Errorf("max office inflate %d: must be positive", c.MaxOfficeInflate)
	case c.MaxPDFInflate < 0:
		return fmt.Errorf("max PDF inflate %d: must be positive", c.MaxPDFInflate)
	case c.MaxPDFNesting < 0 || c.MaxPDFNesting > maxPDFNestingLimit:
		return fmt.Errorf("max PDF nesting %d: must be 1 to %d (poppler's parser stops nesting there)", c.MaxPDFNesting, maxPDFNestingLimit)
	case c.MaxPDFMemory != 0 && c.MaxPDFMemory < minPDFMemory:
		return fmt.Errorf("max PDF memory %d: must be at least %d (128 MiB): the PDF reader needs that much to start", c.MaxPDFMemory, minPDFMemory)
	case c.MaxImageMemory != 0 && c.MaxImageMemory < minPDFMemory:
		return fmt.Errorf("max image memory %d: must be at least %d (128 MiB): the reader needs that much to start", c.MaxImageMemory, minPDFMemory)
	case c.MaxPDFDPI < 0 || c.MaxPDFDPI > wire.MaxDPI:
		return fmt.Errorf("max PDF dpi %d: must be 1 to %d", c.MaxPDFDPI, wire.MaxDPI)
	case c.MaxTextPages < 0:
		return fmt.Errorf("max text pages %d: must be positive", c.MaxTextPages)
	case c.JPEGQuality < 0 || c.JPEGQuality > 100:
		return fmt.Errorf("JPEG quality %d: must be 1 to 100", c.JPEGQuality)
	case c.WEBPQuality < 0 || c.WEBPQuality > 100:
		return fmt.Errorf("WEBP quality %d: must be 1 to 100", c.WEBPQuality)
	case c.WEBPEffort < 0 || c.WEBPEffort > 6:
		return fmt.Errorf("WEBP effort %d: must be 1 (fastest) to 6 (smallest)", c.WEBPEffort)
	case c.PNGCompression < 0 || c.PNGCompression > 9:
		return fmt.Errorf("PNG compression %d: must be 0 to 9", c.PNGCompression)
	}
	for _, name := range c.Engines {
		if !slices.Contains(Families, name) {
			return fmt.Errorf("engines %q: no such family; the families are %s", name, strings.Join(Families, ", "))
		}
	}
	for _, name := range c.Disable {
		if !slices.ContainsFunc(Conversions(), func(conv Conversion) bool { return conv.Name == name }) {
			var names []string
			for _, conv := range Conversions() {
				names = append(names, conv.Name)
			}
			return fmt.Errorf("disable conversion %q: no such registry entry; the entries are %s", name, strings.Join(names, ", "))
		}
	}
	return nil
}

// Error is a conversion failure: fail's one error type. Message is meant for the
// client: it says what was wrong and, where it can, how to fix it.
type Error = fail.Error

// AsError returns err as an *Error, so that a caller always has a client-safe
// message.
func AsError(err error) *Error { return fail.As(err) }

// Result is a finished conversion.
type Result struct {
	Output []byte
	// Kind is the input's detected kind.
	Kind Kind
	// Replaced counts characters of a text input that the embedded font cannot draw
	// and that were replaced (TXT → PDF only); the caller logs it.
	Replaced int
	// Warnings say, in the user's words, what the conversion had to leave out or
	// change ("the animation has 12 frames; the PNG holds the first"). A result
	// with warnings is still a success, but never a silent one.
	Warnings []string
	// Frames is the number of frames or pages of an image input.
	Frames int
	// ContentType is the media type of Output when it is not the target's:
	// application/zip for several pages as pictures.
	ContentType string
}

// DefaultConcurrency is the number of conversions a worker runs at once by default.
func DefaultConcurrency() int { return runtime.NumCPU() }

// Converter converts inputs under one Config. It is safe for concurrent use; each
// call to Convert uses one core (libvips runs one thread per operation), so a
// worker bounds the calls in flight rather than the threads inside one.
type Converter struct {
	cfg  Config
	font *textFont
	opts wire.Options // per-request options; zero for the defaults
	// pdfChecked says the PDF's structure has been checked already, for the
	// pages of one job rendered one by one.
	pdfChecked bool
	// engines is shared by the copies a job makes of its converter.
	engines *engines
	// ocrThreads is how many of a job's pages a reader reads by OCR at once
	// (pdfJob.Threads).
	ocrThreads int
}

// New validates cfg (after WithDefaults) and prepares what every conversion
// shares: libvips, started once per process, and the font used for TXT → PDF.
func New(cfg Config) (*Converter, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("convert config: %w", err)
	}
	if err := libvips.Start(); err != nil {
		return nil, fmt.Errorf("start libvips: %w", err)
	}
	font, err := loadTextFont()
	if err != nil {
		return nil, fmt.Errorf("load the TXT → PDF font: %w", err)
	}
	return &Converter{cfg: cfg, font: font, engines: &engines{}}, nil
}

// Config returns the settings in use, defaults filled in.
func (c *Converter) Config() Config { return c.cfg }

// Families are the groups of engines a worker may run (--engines): images
// (libvips), pdf (poppler, qpdf, fpdf), office (LibreOffice), html
// (Chromium), ocr (Tesseract).
var Families = []string{"images", "pdf", "office", "html", "ocr"}

// Capabilities lists what this converter offers: every registry entry not
// disabled by Config.Disable whose family of engines it runs.
func (c *Converter) Capabilities() Capabilities { return capabilitiesOf(c.offers) }

// offers reports whether this converter runs conv: not disabled, of a
// family turned on, whose engine is running.
func (c *Converter) offers(conv Conversion) bool {
	if slices.Contains(c.cfg.Disable, conv.Name) || c.cfg.Engines != nil && !slices.Contains(c.cfg.Engines, conv.Family) {
		return false
	}
	switch conv.Family {
	case "office":
		return c.officeEngine() != nil
	case "html":
		return c.browserEngine() != nil
	case "ocr":
		return c.ocrOn()
	}
	return true
}

// notOffered is the error of a conversion this converter does not run.
func (c *Converter) notOffered(conv Conversion, from Kind, to string) error {
	why := "disabled"
	switch {
	case slices.Contains(c.cfg.Disable, conv.Name):
	case c.cfg.Engines != nil && !slices.Contains(c.cfg.Engines, conv.Family):
		why = "its " + conv.Family + " engines are off: --engines"
	default:
		why = "its engine, " + conv.Engine + ", is not running here"
	}
	return fail.New(fail.UnsupportedOperation, fmt.Sprintf("this worker does not convert %s to %s (%s)", from.Label(), to, why))
}

// Job is one conversion as a worker hands it over.
type Job struct {
	Target string
	// Name is the client's file name, informational (Input.Name).
	Name  string
	Input []byte
	// Files, for a job of several files, are the files Input holds one
	// after another.
	Files   []File
	Options wire.Options
	// V1 marks a job of a protocol v1.0 client (PlanV1).
	V1 bool
}

// File is one file of a job of several files.
type File struct {
	// Name is the client's file name, informational.
	Name string
	Data []byte
}

// Convert converts input to target with opts: Run for a file without a name.
func (c *Converter) Convert(ctx context.Context, target string, input []byte, opts wire.Options) (Result, error) {
	return c.Run(ctx, Job{Target: target, Input: input, Options: opts})
}

// Run detects the kind of the job's input, finds its conversion to the target
// in the registry, checks the options and the limits and converts. Every
// error is an *Error whose Message is ready for the client. The input is only
// read, never kept or modified.
func (c *Converter) Run(ctx context.Context, job Job) (Result, error) {
	target, input, opts := job.Target, job.Input, job.Options
	if len(input) == 0 && job.Files == nil {
		return Result{}, &Error{Code: fail.BadRequest, Message: "empty input: the file has 0 bytes"}
	}
	if err := ctx.Err(); err != nil {
		return Result{}, cancelled(ctx)
	}
	kind, err := KindFor(DetectRequest(input, true, opts, job.V1), opts)
	if err != nil {
		return Result{Kind: Detect(input)}, err
	}
	if job.Files != nil {
		kind = KindFiles
	}
	plan := func() (Conversion, error) { return Plan(kind, target, opts, input) }
	if job.V1 {
		plan = func() (Conversion, error) { return PlanV1(kind, target, input) }
	}
	conv, err := plan()
	if err == nil && !c.offers(conv) {
		err = c.notOffered(conv, kind, target)
	}
	if err != nil {
		return Result{Kind: kind}, err
	}
	tuned := c
	if opts != (wire.Options{}) {
		// The encoders read quality and the rest from opts
		// (imageTarget.settings), over the configured defaults.
		copied := *c
		copied.opts = opts
		tuned = &copied
	}
	res, err := conv.Run(tuned, ctx, Input{Kind: kind, Target: target, Data: input, Name: job.Name, Files: job.Files, V1: job.V1})
	res.Kind = kind
	if err != nil {
		return res, AsError(err)
	}
	return res, nil
}

// cancelled is the error of a conversion whose context ended.
func cancelled(ctx context.Context) *Error {
	msg := "conversion cancelled"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		msg = "conversion cancelled: it ran past its deadline"
	}
	return &Error{Code: fail.Timeout, Message: msg, Cause: context.Cause(ctx)}
}
