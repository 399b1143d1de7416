package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair with the kernel's interface directly,
// which is a few lines on Linux and spares a dependency.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	return ptm, pts
}

// terminalRun runs send with stdin, stdout and stderr on a pseudo-terminal and
// returns what the terminal showed. input is typed once output contains
// waitFor.
func terminalRun(t *testing.T, s *convServer, waitFor, input string, args ...string) (string, int) {
	t.Helper()
	ptm, pts := openPTY(t)
	defer ptm.Close()
	old := stdin
	stdin = pts
	defer func() { stdin = old }()

	var mu sync.Mutex
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	if input != "" {
		go func() {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				ready := strings.Contains(screen.String(), waitFor)
				mu.Unlock()
				if ready {
					io.WriteString(ptm, input)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The prompt never came: end the input, so that send stops
			// asking and the test fails on what the screen shows.
			t.Errorf("no %q on the screen after 10s", waitFor)
			io.WriteString(ptm, "\x04")
		}()
	}
	code := Run(context.Background(), append([]string{"send", "--addr", s.addr, "--ca", "ca.pem", "--token", "tok"}, args...), pts, pts)
	// Let the reader drain what is left, then end it.
	time.Sleep(100 * time.Millisecond)
	pts.Close()
	ptm.SetReadDeadline(time.Now().Add(time.Second))
	<-copied
	mu.Lock()
	defer mu.Unlock()
	return screen.String(), code
}

func TestSendProgressOnATerminal(t *testing.T) {
	dir, s := sendEnv(t)
	s.delay = 300 * time.Millisecond
	big := append(append([]byte{}, pngData...), bytes.Repeat([]byte{7}, 3<<20)...)
	writeFiles(t, dir, map[string][]byte{"big.png": big, "small.png": pngData, "notes.txt": textData})
	screen, code := terminalRun(t, s, "", "", "--to", "jpg", "--concurrency", "2", "big.png", "small.png", "notes.txt")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	for _, want := range []string{
		"\x1b[",              // the block of bars is redrawn in place
		"big.png",            // a bar per file
		"converting",         // ...showing its phase
		"total",              // and a total bar
		"MiB",                // in bytes
		"big.png -> big.jpg", // finished files stay on the screen
		"small.png -> small.jpg",
		"fileconv: notes.txt: text: it converts to pdf, not jpg",
		"2 converted, 1 failed, 0 skipped;", // and a summary at the end
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal did not show %q:\n%q", want, screen)
		}
	}
	// The summary is the last thing on the screen, after the bars are erased.
	tail := screen[strings.LastIndex(screen, "\x1b[J"):]
	if !strings.Contains(tail, "converted") || strings.Contains(tail, "total") {
		t.Errorf("screen ends with %q", tail)
	}
}

func TestSendMenuOnATerminal(t *testing.T) {
	dir, s := sendEnv(t)
	writeFiles(t, dir, map[string][]byte{"photo.png": pngData, "doc.pdf": pdfData})
	screen, code := terminalRun(t, s, "Choice (1-10): ", "3\r", "photo.png")
	if code != 0 || !strings.Contains(screen, "photo.png -> photo.webp") {
		t.Fatalf("exit %d:\n%s", code, screen)
	}
	if !strings.Contains(screen, "photo.png (a PNG image). Convert to:\r\n  1. jpg (JPEG image)\r\n  2. png (PNG image)\r\n  3. webp (WEBP image)\r\n") {
		t.Errorf("menu:\n%q", screen)
	}
	// A PDF is offered its text first, then its pages as pictures; a
	// target's name is an answer too.
	screen, code = terminalRun(t, s, "Choice (1-7): ", "txt\r", "doc.pdf")
	if code != 0 || !strings.Contains(screen, "doc.pdf -> doc.txt") || !strings.Contains(screen, "  1. txt (plain text)") {
		t.Errorf("exit %d:\n%q", code, screen)
	}
	// A .csv is offered a table's targets, and the screen says why.
	writeFiles(t, dir, map[string][]byte{"sales.csv": []byte("a,b\n1,2\n")})
	screen, code = terminalRun(t, s, "Choice (1, 2, 3): ", "xlsx\r", "sales.csv")
	if code != 0 || !strings.Contains(screen, "sales.csv -> sales.xlsx") || !strings.Contains(screen, "sales.csv is read as a CSV table, from its name (--from text sends it as plain text)") ||
		!strings.Contains(screen, "sales.csv (a CSV table). Convert to:\r\n  1. pdf") {
		t.Errorf("exit %d:\n%q", code, screen)
	}
	// A wrong answer is asked again.
	screen, code = terminalRun(t, s, "Choice (1-10): ", "12\r1\r", "photo.png", "--force")
	if code != 0 || !strings.Contains(screen, `"12" is not one of the choices`) || !strings.Contains(screen, "photo.png -> photo.jpg") {
		t.Errorf("exit %d:\n%q", code, screen)
	}
}
