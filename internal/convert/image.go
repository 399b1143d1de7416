package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// imageJob is one image conversion going through the pipeline of
// convertImage. Nothing is decoded until the sizes declared by the header have
// passed the limits: no decoder refuses a decompression bomb by itself (a
// 246-byte WEBP can declare 16383×16383 pixels, 2 GB once decoded).
//
// libvips calls cannot be interrupted once started, so ctx is checked between
// steps; saving, which decodes and encodes every pixel, is the one long step.
// Decoders that are not hardened against hostile files run in an image reader
// process that the deadline can kill (imagereader.go).
type imageJob struct {
	ctx      context.Context
	c        *Converter
	kind     Kind
	input    []byte
	target   imageTarget
	settings saveSettings
	img      *libvips.Image
	// frames is the number of frames or pages in the file; keepFrames says
	// they are all converted (an animation to an animation).
	frames     int
	keepFrames bool
	// run is the pages of a PDF that go into a TIFF when not all of them
	// do; zero for all.
	run      wire.PageRange
	warnings []string
}

// imageStep is one named step of the pipeline.
type imageStep struct {
	name string
	run  func(*imageJob) error
}

// imageSteps is the pipeline, in order.
var imageSteps = []imageStep{
	{"check the header", (*imageJob).checkHeader},
	{"load", (*imageJob).load},
	{"orient", (*imageJob).orient},
	{"colour", (*imageJob).colour},
	{"fit", (*imageJob).fit},
	{"flatten", (*imageJob).flatten},
	{"metadata", (*imageJob).metadata},
}

// convertImage converts an image of any kind libvips reads to an image target,
// in a reader process when the decoder or the encoder needs one.
func (c *Converter) convertImage(ctx context.Context, in Input) (Result, error) {
	if c.cfg.PDFInProcess || !needsReader(in.Kind, in.Target) {
		return c.convertImageHere(ctx, in)
	}
	// The header is checked here too: a bomb costs no reader its memory.
	if err := checkSVG(in.Kind, in.Data); err != nil {
		return Result{}, err
	}
	if head, err := readImageHead(in.Kind, in.Data); err == nil {
		if err := c.checkImageSize(in.Kind, head.Width, head.Height, head.Frames, false); err != nil {
			return Result{}, err
		}
	}
	job := pdfJob{Size: len(in.Data), Config: c.cfg, Options: c.opts, Kind: in.Kind, Target: in.Target, Name: in.Name}
	return c.inReader(ctx, job, in)
}

// needsReader reports whether converting kind to target runs in a reader
// process (docs/security.md). In the worker stay the decoders that years of
// fuzzing (OSS-Fuzz) have hardened and that finish in milliseconds per
// megapixel: libjpeg-turbo, libpng, libwebp, libnsgif, with the fast
// encoders. ImageMagick (BMP, ICO, TGA, PSD, PNM), libheif, OpenJPEG, libjxl,
// librsvg and libtiff read in a reader, where a crash fails one job and the
// deadline can stop them; so do the AVIF, HEIC and JPEG XL encoders, which
// take seconds on a large photo and cannot be interrupted.
func needsReader(kind Kind, target string) bool {
	switch kind {
	case KindJPEG, KindPNG, KindWEBP, KindGIF:
		return target == "avif" || target == "heic" || target == "jxl"
	}
	return true
}

// convertImageHere converts an image in this process.
func (c *Converter) convertImageHere(ctx context.Context, in Input) (Result, error) {
	if in.Kind == KindPDF && in.Target != "tiff" && c.opts.Page == 0 {
		return c.convertPDFPages(ctx, in)
	}
	target, ok := imageTargetNamed(in.Target)
	if !ok {
		return Result{}, fail.New(fail.Internal, fmt.Sprintf("internal error: %q is not an image target", in.Target))
	}
	settings, err := target.settings(c)
	if err != nil {
		return Result{}, err
	}
	if in.Kind == KindPDF {
		settings.pngFilter = "none"
	}
	job := &imageJob{ctx: ctx, c: c, kind: in.Kind, input: in.Data, target: target, settings: settings}
	defer job.close()
	// OpenJPEG decodes a JPEG 2000 codestream once, in order: a band read
	// before the save breaks it.
	job.settings.readOnce = job.resizing() || in.Kind == "jp2"
	if err := job.prepare(); err != nil {
		return Result{}, err
	}
	out, err := target.save(job.img, job.settings)
	if err != nil {
		// Saving is where the pixels are decoded, so a failure here is almost
		// always damaged image data past a valid header.
		return Result{}, corrupt(job.kind, vipsError(err))
	}
	return Result{Output: out, Warnings: job.warnings, Frames: job.frames}, nil
}

// prepare takes the job through imageSteps, up to the saving.
func (j *imageJob) prepare() error {
	for _, step := range imageSteps {
		if j.ctx.Err() != nil {
			return cancelled(j.ctx)
		}
		if err := step.run(j); err != nil {
			return err
		}
	}
	if j.ctx.Err() != nil {
		return cancelled(j.ctx)
	}
	return nil
}

func (j *imageJob) close() {
	if j.img != nil {
		j.img.Close()
	}
}

// checkHeader checks the sizes the header declares, read without libvips:
// Go's header readers read a few bytes, so a bomb is refused before any C
// decoder sees it. They are stricter than libvips in places (arithmetic JPEG,
// odd WEBP canvases), so their failure is not final: libvips reads the header
// too, and its sizes are checked just the same. An SVG has no such header;
// what its entities expand to and an SVGZ's compression are checked instead
// (svgguard.go).
func (j *imageJob) checkHeader() error {
	if j.kind == KindPDF {
		if j.c.pdfChecked {
			return nil
		}
		return j.c.checkPDFForImages(j.ctx, j.input)
	}
	if err := checkSVG(j.kind, j.input); err != nil {
		return err
	}
	head, err := readImageHead(j.kind, j.input)
	if err != nil {
		return nil
	}
	return j.c.checkImageSize(j.kind, head.Width, head.Height, head.Frames, j.wantsAllFrames(head.Frames))
}

// isSequence reports whether the frames or pages of kind belong together:
// an animation's frames, a TIFF document's pages. The images of a HEIC or an
// ICO are not a sequence (a photo with its depth map, one icon in several
// sizes).
func isSequence(k Kind) bool { return k == KindGIF || k == KindWEBP || k == KindTIFF }

// wantsAllFrames reports whether every one of frames is converted: they are
// a sequence, the target holds them and the client did not pick one.
func (j *imageJob) wantsAllFrames(frames int) bool {
	sequence := isSequence(j.kind)
	// A PDF's pages go together into a multi-page TIFF, never into an
	// animation.
	if j.kind == KindPDF {
		sequence = j.target.name == "tiff"
	}
	return frames > 1 && sequence && j.target.frames && j.c.opts.Page == 0
}

// load reads the header with libvips, checks its sizes, picks the frames and
// sets up the decoding, shrinking on load when a size was asked for.
func (j *imageJob) load() error {
	// The first page is read first, whatever the page asked for: libvips
	// refuses a page past the last without saying how many there are. A
	// PDF's pages rendered one by one have been counted: the page asked for
	// is opened at once, which saves poppler a reading of the file a page.
	first := 0
	if j.kind == KindPDF && j.c.pdfChecked {
		first = max(j.c.opts.Page, 1) - 1
	}
	img, err := j.open(j.pageOptionsAt(false, first))
	if err != nil {
		return err
	}
	j.img = img
	j.frames = 1
	if kindHasPages(j.kind) {
		j.frames = max(img.Pages(), 1)
	}
	if j.kind == KindPDF {
		if err := j.c.checkPDFPageCount(j.frames); err != nil {
			return err
		}
	}
	if err := j.pickRun(); err != nil {
		return err
	}
	if err := j.checkSize(img, first+1); err != nil {
		return err
	}
	if err := j.pickPage(); err != nil {
		return err
	}
	j.keepFrames = j.wantsAllFrames(j.frames)
	if !j.keepFrames && !j.resizing() && j.c.opts.Page <= first+1 {
		return nil
	}
	j.img.Close()
	j.img = nil
	j.img, err = j.reopen()
	if err != nil && j.keepFrames && strings.Contains(err.Error(), "differs from page") {
		// A pyramid TIFF, or a scan whose pages differ in size: libvips
		// holds the frames of an image one below the other, at one width.
		j.keepFrames = false
		j.warnings = append(j.warnings, fmt.Sprintf("the %s's %d pages differ in size; the %s holds the first", j.kind.Info().Short, j.frames, j.target.label))
		j.img, err = j.reopen()
	}
	if err == nil && j.c.opts.Page > 1 {
		err = j.checkSize(j.img, j.c.opts.Page)
	}
	return err
}

// checkSize checks the sizes libvips read from the header: of the page
// (from 1) of a PDF, or of the frames of an image.
func (j *imageJob) checkSize(img *libvips.Image, page int) error {
	if j.kind == KindPDF {
		return j.c.checkPDFPages(page, img.Width(), img.PageHeight(), j.dpi(), j.keptPages(), j.wantsAllFrames(j.frames))
	}
	return j.c.checkImageSize(j.kind, img.Width(), img.PageHeight(), j.frames, j.wantsAllFrames(j.frames))
}

// reopen loads the image again with the frames chosen and the size asked for.
func (j *imageJob) reopen() (*libvips.Image, error) {
	opts := j.pageOptions(j.keepFrames)
	if j.resizing() {
		return j.thumbnail(opts)
	}
	return j.open(opts)
}

// pickPage checks the page asked for and says, in a warning, which frame a
// still target got from an animation or a multi-page file.
func (j *imageJob) pickPage() error {
	page := max(j.c.opts.Page, 1)
	if page > j.frames {
		return fail.New(fail.BadRequest, fmt.Sprintf("page %d: the %s has %s", page, j.kind.Info().Short, countNoun(j.frames, j.frameNoun())))
	}
	if j.frames > 1 && !j.wantsAllFrames(j.frames) && j.c.opts.Page == 0 {
		j.warnings = append(j.warnings, fmt.Sprintf("the %s has %d %ss; the %s holds the first (choose another with page=N)",
			j.kind.Info().Short, j.frames, j.frameNoun(), j.target.label))
	}
	return nil
}

// frameNoun is what one picture of the input is called.
func (j *imageJob) frameNoun() string {
	switch j.kind {
	case KindGIF, KindWEBP:
		return "frame"
	case "ico", "heic", "avif":
		return "image"
	}
	return "page"
}

func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// kindHasPages reports whether libvips reads several frames or pages of k,
// with its loader's "page" and "n" options.
func kindHasPages(k Kind) bool {
	switch k {
	case KindGIF, KindWEBP, KindTIFF, "heic", "avif", "ico", KindPDF:
		return true
	}
	return false
}

// pageOptions are the loader options: strictness, and the frames to load:
// all of them, or the page asked for.
func (j *imageJob) pageOptions(all bool) string {
	return j.pageOptionsAt(all, max(j.c.opts.Page, 1)-1)
}

// pageOptionsAt are the loader options for all frames or page (from 0).
func (j *imageJob) pageOptionsAt(all bool, page int) string {
	// A strict decode fails at the first decoder warning, so that a truncated
	// file is an error rather than an image with a grey bottom half. libjpeg
	// also warns about flaws every viewer shrugs off (stray bytes before a
	// marker, left by some cameras and editors), so a JPEG that is complete
	// (it ends its last scan with an end-of-image marker) is decoded
	// leniently, as Pillow and browsers do.
	strict := j.kind != KindJPEG || !jpegComplete(j.input)
	opts := []string{fmt.Sprintf("fail=%t", strict)}
	if j.kind == KindPDF {
		opts = append(opts, fmt.Sprintf("dpi=%d", j.dpi()))
	}
	if kindHasPages(j.kind) {
		switch {
		case all && j.run.First > 0:
			opts = append(opts, fmt.Sprintf("page=%d,n=%d", j.run.First-1, j.run.Last-j.run.First+1))
		case all:
			opts = append(opts, "n=-1")
		default:
			opts = append(opts, fmt.Sprintf("page=%d", page))
		}
	}
	return strings.Join(opts, ",")
}

// open loads the header with libvips. libtiff refuses the YCbCr-subsampled
// TIFFs some scanners write, which ImageMagick reads.
func (j *imageJob) open(opts string) (*libvips.Image, error) {
	img, err := libvips.Load(j.input, opts)
	if err != nil && j.kind == KindTIFF && strings.Contains(err.Error(), "subsampled") {
		if magick, merr := libvips.LoadMagick(j.input, opts); merr == nil {
			img, err = magick, nil
		}
	}
	if err != nil {
		return nil, corrupt(j.kind, vipsError(err))
	}
	return img, nil
}

// jpegComplete reports whether an end-of-image marker follows the last
// start-of-scan marker. Neither byte pair can occur inside entropy-coded data
// (an FF there is always followed by 00 or a restart marker), so a file cut
// anywhere after its headers fails this test.
func jpegComplete(b []byte) bool {
	sos := bytes.LastIndex(b, []byte{0xFF, 0xDA})
	return sos >= 0 && bytes.Index(b[sos:], []byte{0xFF, 0xD9}) >= 0
}

// orient turns the image upright by its EXIF orientation. The thumbnail
// has done it already; an animation has no orientation to apply.
func (j *imageJob) orient() error {
	if j.resizing() || j.keepFrames {
		return nil
	}
	if err := j.img.Autorot(); err != nil {
		return corrupt(j.kind, fmt.Errorf("apply the EXIF orientation: %w", vipsError(err)))
	}
	return nil
}

// checkImageSize enforces MaxPixels and MaxFrames on what a header declares:
// each frame within MaxPixels, at most MaxFrames frames, and when all of them
// are converted, all of them together within MaxAnimationPixels.
func (c *Converter) checkImageSize(k Kind, w, h, frames int, all bool) error {
	if err := c.checkPixels(w, h); err != nil {
		return err
	}
	if frames > c.cfg.MaxFrames {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("the %s has %d frames or pages, over the limit of %d (max-frames)", k.Info().Short, frames, c.cfg.MaxFrames)}
	}
	if all {
		return c.checkAllFrames(k, w, h, frames)
	}
	return nil
}

// checkAllFrames bounds frames of w × h converted together to
// 4 × max-pixels.
func (c *Converter) checkAllFrames(k Kind, w, h, frames int) error {
	if total := int64(w) * int64(h) * int64(frames); total > c.cfg.maxAnimationPixels() {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("the %s has %d frames of %d×%d, %d pixels in all, over the limit of %d pixels for all frames together (4 × max-pixels); choose one frame with page=N",
			k.Info().Short, frames, w, h, total, c.cfg.maxAnimationPixels())}
	}
	return nil
}

// checkPixels enforces MaxPixels, naming the limit and its setting.
func (c *Converter) checkPixels(w, h int) error {
	px := int64(w) * int64(h)
	if w <= 0 || h <= 0 {
		return &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt image: it declares a size of %d×%d pixels", w, h)}
	}
	if px > c.cfg.MaxPixels {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("image is %d×%d (%d pixels), over the limit of %d pixels (max-pixels)", w, h, px, c.cfg.MaxPixels)}
	}
	return nil
}

// corrupt is the error for an image of type t that does not decode; cause gives
// the detail the client sees after "corrupt PNG image: ".
func corrupt(t Kind, cause error) *Error {
	var ce *Error
	if errors.As(cause, &ce) {
		return ce
	}
	what := t.Info().Short + " image"
	if !t.IsImage() {
		what = t.Info().Short
	}
	return &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt %s: %s", what, describeDecodeError(cause)), Cause: cause}
}

// describeDecodeError turns a Go decoder or libvips error into one short line.
func describeDecodeError(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, libvips.ErrSilent) {
		return "the file is truncated or damaged"
	}
	return err.Error()
}

// vipsError turns an error from libvips into a plain one worth showing: the
// innermost line of what libvips said. libvips keeps one error buffer per
// process, and a failing save adds its own line ("vips2png: unable to write
// to target") after the loader's, which is the one that says what is wrong
// with the file; so does ImageMagick's loader ("magick2vips: unable to read
// buffer") after ImageMagick's reason. The buffer is shared by concurrent
// jobs, so the line chosen is the last of its kind: anything older may be
// another job's. Some libraries break their message in two lines: libheif
// puts its error code on a line of its own, libxml2 the bytes that are not
// UTF-8; those lines continue the one before.
func vipsError(err error) error {
	if errors.Is(err, libvips.ErrSilent) {
		return err
	}
	s := err.Error()
	if i := strings.Index(s, "\nStack:"); i >= 0 {
		s = s[:i]
	}
	pick := ""
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case pick != "" && (strings.HasPrefix(line, "(") || strings.HasPrefix(line, "Bytes: ")):
			pick += " " + line
		case pick == "" || !strings.Contains(line, "unable to write to") && !strings.Contains(line, "unable to read "):
			pick = line
		}
	}
	// "VipsJpeg: ", "vipspng: ", "magick2vips: libMagick error: " name
	// libvips and ImageMagick internals, not the problem, and so does the
	// place in ImageMagick's source that ends its messages (" `' @
	// error/tga.c/ReadTGAImage/504").
	if name, rest, ok := strings.Cut(pick, ": "); ok && rest != "" &&
		(strings.HasPrefix(strings.ToLower(name), "vips") || strings.HasSuffix(name, "2vips")) {
		pick = strings.TrimPrefix(rest, "libMagick error: ")
	}
	if i := strings.LastIndex(pick, " `"); i > 0 && strings.Contains(pick[i:], "' @ ") {
		pick = pick[:i]
	}
	if pick == "" {
		return libvips.ErrSilent
	}
	return errors.New(printableMessage(pick))
}
