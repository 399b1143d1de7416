package convert

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fileconv/fileconv/internal/childframe"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// formsBomb is a small PDF whose page draws a form that draws the next form
// twice, depth levels deep: 2^depth drawings of the last one. Nothing in it is
// large or deep, so no limit of the pre-scan applies, and poppler takes minutes
// over it at depth 16.
func formsBomb(depth int) []byte {
	b := newPDFBuilder()
	cat, pages, page, cont, font := b.next(), b.next(), b.next(), b.next(), b.next()
	forms := make([]int, depth+1)
	for i := range forms {
		forms[i] = b.next()
	}
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.page(page, pages, cont, font, fmt.Sprintf("/XObject << /X %d 0 R >>", forms[0]), []byte("/X Do\n"), "")
	b.helvetica(font)
	for i, n := range forms {
		res, content := fmt.Sprintf("/XObject << /X %d 0 R >>", n+1), "/X Do /X Do\n"
		if i == depth {
			res, content = fmt.Sprintf("/Font << /F1 %d 0 R >>", font), hostileText
		}
		b.stream(n, fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 200 200] /Resources << %s >>", res), []byte(content))
	}
	return b.finish(cat)
}

// textPDF makes a PDF of text with the converter itself.
func textPDF(t *testing.T, c *Converter, text string) []byte {
	t.Helper()
	return convertOK(t, c, wire.OpTextToPDF, []byte(text)).Output
}

func TestPDFReaderKilledAtDeadline(t *testing.T) {
	c := converter(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := convertOp(c, ctx, wire.OpPDFToText, formsBomb(18))
	elapsed := time.Since(start)
	wantError(t, err, fail.Timeout, "deadline")
	if elapsed > 20*time.Second {
		t.Errorf("the job ended %v after a deadline of 1 s", elapsed)
	}
	// The next PDF gets a reader of its own.
	pdf := textPDF(t, c, "after the bomb")
	if got := strings.TrimSpace(string(convertOK(t, c, wire.OpPDFToText, pdf).Output)); got != "after the bomb" {
		t.Errorf("extracted %q after a reader was killed", got)
	}
}

func TestPDFReaderOverItsMemory(t *testing.T) {
	base := converter(t)
	// Below what Validate allows: the reader cannot even start its work (and
	// says so at length on its stderr).
	readerStderr = io.Discard
	defer func() { readerStderr = os.Stderr }()
	starved := &Converter{cfg: Config{MaxPDFMemory: 1 << 20}.WithDefaults(), font: base.font}
	_, err := convertOp(starved, context.Background(), wire.OpPDFToText, minimalPDF)
	e := wantError(t, err, fail.ConversionFailed, "PDF could not be read: the reader process stopped on it", "max-pdf-memory")
	if e.Cause == nil {
		t.Error("no cause kept for the log")
	}
	if strings.Contains(e.Message, "\n") {
		t.Errorf("message of several lines: %q", e.Message)
	}
	convertOK(t, base, wire.OpPDFToText, minimalPDF)
}

func TestPDFReadersAreReusedAndReleased(t *testing.T) {
	c := converter(t)
	convertOK(t, c, wire.OpPDFToText, minimalPDF)
	readers.mu.Lock()
	idle := len(readers.idle)
	var pid int
	if idle > 0 {
		pid = readers.idle[len(readers.idle)-1].cmd.Process.Pid
	}
	readers.mu.Unlock()
	if idle == 0 {
		t.Fatal("no idle reader kept after a job")
	}
	convertOK(t, c, wire.OpPDFToText, minimalPDF)
	readers.mu.Lock()
	again := readers.idle[len(readers.idle)-1].cmd.Process.Pid
	readers.mu.Unlock()
	if again != pid {
		t.Errorf("a second job started reader %d instead of reusing %d", again, pid)
	}
	ReleaseMemory()
	readers.mu.Lock()
	idle = len(readers.idle)
	readers.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d readers left after ReleaseMemory", idle)
	}
}

func TestPDFReadersKeepJobsApart(t *testing.T) {
	c := converter(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		want := fmt.Sprintf("client %d wrote this", i)
		pdf := textPDF(t, c, want)
		wg.Go(func() {
			for range 3 {
				res, err := convertOp(c, context.Background(), wire.OpPDFToText, pdf)
				if err != nil {
					errs <- err
					return
				}
				if got := strings.TrimSpace(string(res.Output)); got != want {
					errs <- errors.New("got " + got + ", want " + want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPDFReaderEndsWithItsWorker: a reader busy in poppler when its worker dies
// does not run on as an orphan.
func TestPDFReaderEndsWithItsWorker(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pdf := formsBomb(18)
	var job bytes.Buffer
	w := bufio.NewWriter(&job)
	if err := childframe.Write(w, pdfJob{Size: len(pdf)}, pdf); err != nil {
		t.Fatal(err)
	}
	jobFile := filepath.Join(t.TempDir(), "job")
	if err := os.WriteFile(jobFile, job.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// sh plays the worker: it starts the reader on the bomb and exits a second
	// later, while poppler is busy.
	sh := exec.Command("sh", "-c", pdfReaderParentEnv+`=$$ "$0" < "$1" > /dev/null 2>&1 & echo $!; sleep 1`, exe, jobFile)
	sh.Env = append(os.Environ(), pdfReaderEnv+"=0")
	out, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("reader pid %q: %v", out, err)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	alive := func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// An ended process that nobody has reaped yet is a zombie (state Z).
		s := string(b)
		return !strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z")
	}
	deadline := time.Now().Add(15 * time.Second)
	for alive() {
		if time.Now().After(deadline) {
			t.Fatal("the reader still runs 15 s after its parent ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
