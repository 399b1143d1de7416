package convert

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fileconv/fileconv/internal/childframe"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/libvips"
	"github.com/fileconv/fileconv/internal/wire"
)

// PDF → TXT runs poppler in a child process, a "PDF reader": a poppler call
// cannot be interrupted, some small files keep it busy for minutes (form
// XObjects that draw each other, docs/security.md) and a bug in it would take
// the whole worker down. In a child, the job's deadline kills the reader
// instead of leaving a slot busy, a crash fails one job, and the kernel bounds
// its memory (MaxPDFMemory). The child is this same executable, started with
// pdfReaderEnv set, and reads jobs from its stdin; the PDF goes through a pipe,
// never the disk.

// pdfReaderEnv, when set, makes the process a PDF reader for its parent. Its
// value is the memory limit in bytes; pdfReaderParentEnv is the worker's process
// id, which the reader compares its parent with.
const (
	pdfReaderEnv       = "FILECONV_INTERNAL_PDF_READER"
	pdfReaderParentEnv = "FILECONV_INTERNAL_PDF_READER_PARENT"
)

func init() {
	if v, ok := os.LookupEnv(pdfReaderEnv); ok {
		os.Exit(runPDFReader(v, os.Stdin, os.Stdout))
	}
}

// pdfJob is what the parent sends before the input itself: the converter's
// whole settings, so that a limit added to Config reaches the reader by
// itself. Readers also decode the image formats whose decoders are not
// hardened against hostile files (imagereader.go): Kind and Target are set
// for those, and empty for PDF → TXT.
type pdfJob struct {
	Size    int          `json:"size"`
	Config  Config       `json:"config"`
	Options wire.Options `json:"options"`
	Kind    Kind         `json:"kind,omitempty"`
	Target  string       `json:"target,omitempty"`
	Name    string       `json:"name,omitempty"`
	// Tool, for qpdf's jobs (pdftools.go), says what to do with the inputs:
	// the input holds one file of each of Sizes, named Names.
	Tool  pdfTool  `json:"tool,omitempty"`
	Sizes []int    `json:"sizes,omitempty"`
	Names []string `json:"names,omitempty"`
	// Threads is how many pages the job may read by OCR at once.
	Threads int `json:"threads,omitempty"`
}

// pack puts files one after another as the job's input, and their sizes and
// names in the job, for files to cut them apart in the reader.
func (j *pdfJob) pack(files []File) []byte {
	var data []byte
	for _, f := range files {
		j.Sizes = append(j.Sizes, len(f.Data))
		j.Names = append(j.Names, f.Name)
		data = append(data, f.Data...)
	}
	j.Size = len(data)
	return data
}

// files cuts the input of a qpdf job into its files; a job of inconsistent
// sizes (a bug) gets none, which qpdf refuses.
func (j pdfJob) files(input []byte) []File {
	var files []File
	for i, n := range j.Sizes {
		if n > len(input) || i >= len(j.Names) {
			return nil
		}
		files = append(files, File{Name: j.Names[i], Data: input[:n:n]})
		input = input[n:]
	}
	return files
}

// pdfAnswer is what the reader sends back before the output.
type pdfAnswer struct {
	Size     int       `json:"size"`
	Code     fail.Code `json:"code,omitempty"`
	Message  string    `json:"message,omitempty"`
	Failed   bool      `json:"failed,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
	Frames   int       `json:"frames,omitempty"`
	Replaced int       `json:"replaced,omitempty"`
	// ContentType is Result.ContentType.
	ContentType string `json:"content_type,omitempty"`
}

// runPDFReader serves jobs until its stdin closes and returns the exit code.
func runPDFReader(memLimit string, in io.Reader, out io.Writer) int {
	if n, err := strconv.ParseUint(memLimit, 10, 64); err == nil && n > 0 {
		// RLIMIT_DATA counts what the process has written to (heap, glibc arenas,
		// Go's heap), not address space it merely reserved.
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintf(os.Stderr, "fileconv PDF reader: cannot set its memory limit: %v\n", err)
			return 1
		}
	}
	parent, err := strconv.Atoi(os.Getenv(pdfReaderParentEnv))
	if err != nil {
		parent = os.Getppid()
	}
	go exitWithParent(parent)
	r, w := bufio.NewReader(in), bufio.NewWriter(out)
	for {
		var job pdfJob
		if err := childframe.Read(r, &job); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "fileconv PDF reader: %v\n", err)
			return 1
		}
		input := make([]byte, job.Size)
		if _, err := io.ReadFull(r, input); err != nil {
			fmt.Fprintf(os.Stderr, "fileconv PDF reader: read the PDF: %v\n", err)
			return 1
		}
		c := &Converter{cfg: job.Config.WithDefaults(), opts: job.Options, ocrThreads: max(1, job.Threads)}
		res, err := c.readerJob(job, input)
		if errors.Is(err, errReaderBroken) {
			return 1
		}
		answer := pdfAnswer{Size: len(res.Output), Warnings: res.Warnings, Frames: res.Frames, ContentType: res.ContentType, Replaced: res.Replaced}
		if err != nil {
			ce := AsError(err)
			answer = pdfAnswer{Failed: true, Code: ce.Code, Message: ce.Message}
			res.Output = nil
		}
		if err := childframe.Write(w, answer, res.Output); err != nil {
			return 1
		}
	}
}

// errReaderBroken ends a reader that cannot go on.
var errReaderBroken = errors.New("the reader cannot go on")

// readerJob runs one job in the reader.
func (c *Converter) readerJob(job pdfJob, input []byte) (Result, error) {
	switch {
	case job.Tool == toolTextLayer:
		return c.textLayerJob(job, input)
	case job.Tool != "":
		return c.pdfToolHere(job.Tool, job.Name, job.files(input))
	case job.Kind == KindText:
		return c.textInScriptsHere(context.Background(), input)
	}
	// Images, and a PDF's pages rendered for OCR, go through libvips.
	if job.Target != "" || c.opts.OCR != wire.OCRNever {
		if err := libvips.StartPlain(); err != nil {
			fmt.Fprintf(os.Stderr, "fileconv reader: start libvips: %v\n", err)
			return Result{}, errReaderBroken
		}
	}
	in := Input{Kind: job.Kind, Target: job.Target, Data: input, Name: job.Name}
	switch job.Target {
	case "":
		return c.pdfToTextHere(context.Background(), input)
	case "txt":
		return c.imageToTextHere(context.Background(), in)
	}
	return c.convertImageHere(context.Background(), in)
}

// exitWithParent ends a reader whose worker is gone (killed, say), even in the
// middle of a poppler call: closing its input is noticed only between jobs.
// The worker's id comes from the worker, since it may be gone before the reader
// has started.
func exitWithParent(parent int) {
	for {
		if os.Getppid() != parent {
			os.Exit(3)
		}
		time.Sleep(time.Second)
	}
}

// pdfReaders keeps idle readers for the next jobs.
type pdfReaders struct {
	mu   sync.Mutex
	idle []*pdfReader
}

// readers is shared by every Converter of the process, like libvips.
var readers pdfReaders

// readerStderr is where readers write; tests that make one fail on purpose
// silence it.
var readerStderr io.Writer = os.Stderr

type pdfReader struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	mem int64
}

// maxIdleReaders bounds the readers kept between jobs; more are started when
// more PDFs are read at once, and stopped after.
const maxIdleReaders = 4

func (p *pdfReaders) get(mem int64) (*pdfReader, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		r := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if r.mem == mem {
			p.mu.Unlock()
			return r, nil
		}
		r.stop()
	}
	p.mu.Unlock()
	return startPDFReader(mem)
}

func (p *pdfReaders) put(r *pdfReader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= maxIdleReaders {
		r.stop()
		return
	}
	p.idle = append(p.idle, r)
}

// stopIdle ends the idle readers, returning their memory to the system.
func (p *pdfReaders) stopIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, r := range idle {
		r.stop()
	}
}

func startPDFReader(mem int64) (*pdfReader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start a PDF reader: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), pdfReaderEnv+"="+strconv.FormatInt(mem, 10), pdfReaderParentEnv+"="+strconv.Itoa(os.Getpid()),
		// Tesseract (OCR) on one thread: a job reads its pages in parallel
		// itself, on the cores that are free (ocrconv.go). OpenMP reads this
		// when the process starts.
		"OMP_THREAD_LIMIT=1")
	// Poppler's notes on damaged files ("Syntax Error: ...") go where the
	// worker's own stderr goes, as when it ran in the worker.
	cmd.Stderr = readerStderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start a PDF reader: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start a PDF reader: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a PDF reader: %w", err)
	}
	return &pdfReader{cmd: cmd, in: in, out: bufio.NewReader(out), mem: mem}, nil
}

func (r *pdfReader) stop() {
	r.in.Close() // the reader exits at the end of its input
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
	}
	r.cmd.Wait()
}

// read sends one job and waits for its answer. A non-nil error means the
// reader is unusable (it died or the pipe broke); a conversion failure comes
// back in the answer.
func (r *pdfReader) read(job pdfJob, input []byte) (pdfAnswer, []byte, error) {
	w := bufio.NewWriter(r.in)
	if err := childframe.Write(w, job, input); err != nil {
		return pdfAnswer{}, nil, fmt.Errorf("send the PDF to its reader: %w", err)
	}
	var answer pdfAnswer
	if err := childframe.Read(r.out, &answer); err != nil {
		return pdfAnswer{}, nil, fmt.Errorf("read the answer of the PDF reader: %w", err)
	}
	text := make([]byte, answer.Size)
	if _, err := io.ReadFull(r.out, text); err != nil {
		return pdfAnswer{}, nil, fmt.Errorf("read the text from the PDF reader: %w", err)
	}
	return answer, text, nil
}

// pdfToText handles operation 5 in a PDF reader process, which is killed if ctx
// ends first.
func (c *Converter) pdfToText(ctx context.Context, in Input) (Result, error) {
	threads, release := 1, func() {}
	if c.opts.OCR != wire.OCRNever && c.ocrOn() {
		// Whether any page needs OCR is known only in the reader: the
		// threads free now are the job's, one at least.
		var n int
		n, release = takeOCRSlots(runtime.NumCPU())
		threads = max(1, n)
	}
	defer release()
	if c.cfg.PDFInProcess {
		here := *c
		here.ocrThreads = threads
		return here.pdfToTextHere(ctx, in.Data)
	}
	return c.inReader(ctx, pdfJob{Size: len(in.Data), Config: c.cfg, Options: c.opts, Threads: threads}, in)
}

// inReader runs job in a reader process, which is killed if ctx ends first.
func (c *Converter) inReader(ctx context.Context, job pdfJob, in Input) (Result, error) {
	input := in.Data
	mem, setting := c.cfg.MaxPDFMemory, "max-pdf-memory"
	if job.Target != "" {
		mem, setting = c.cfg.MaxImageMemory, "max-image-memory"
	}
	r, err := readers.get(mem)
	if err != nil {
		return Result{}, &Error{Code: fail.Internal, Message: "internal error: the PDF reader could not start", Cause: err}
	}
	type reply struct {
		answer pdfAnswer
		text   []byte
		err    error
	}
	done := make(chan reply, 1)
	go func() {
		answer, text, err := r.read(job, input)
		done <- reply{answer, text, err}
	}()
	var got reply
	select {
	case got = <-done:
	case <-ctx.Done():
		r.stop()
		<-done
		return Result{}, cancelled(ctx)
	}
	if got.err != nil {
		r.stop()
		state := "it stopped"
		if ps := r.cmd.ProcessState; ps != nil {
			state = ps.String()
		}
		return Result{}, &Error{Code: fail.ConversionFailed, Cause: got.err, Message: fmt.Sprintf(
			"%s could not be read: the reader process stopped on it (%s); the file is damaged or needs more than the %d MiB the reader may use (%s)",
			in.Kind.Info().Short, state, mem>>20, setting)}
	}
	readers.put(r)
	if got.answer.Failed {
		return Result{}, &Error{Code: got.answer.Code, Message: got.answer.Message}
	}
	return Result{Output: got.text, Warnings: got.answer.Warnings, Frames: got.answer.Frames, ContentType: got.answer.ContentType,
		Replaced: got.answer.Replaced}, nil
}
