package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sharedOffice holds real office documents (python-docx's, python-pptx's,
// excelize's test files), beside the repository.
const sharedOffice = "../../../shared/testdata/office"

// Office documents to PDF through fileconv up, once its LibreOffice has passed
// its self-test: a DOCX with send, a PPTX through the HTTP API.
func TestUpConvertsOfficeDocuments(t *testing.T) {
	if _, err := os.Stat("/usr/lib/libreoffice/program"); err != nil {
		t.Skip("no LibreOffice here (Debian libreoffice-core-nogui): office documents are not converted")
	}
	docx, err := os.ReadFile(filepath.Join(sharedOffice, "python-docx-tbl-having-tables.docx"))
	if err != nil {
		t.Skip("no ../shared/testdata/office")
	}
	pptx, err := os.ReadFile(filepath.Join(sharedOffice, "python-pptx-cht-chart-props.pptx"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr, api := upWithWeb(t, dir)
	waitOffers(t, api, "docx", "pdf")

	if err := os.WriteFile(filepath.Join(dir, "tables.docx"), docx, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "send", "--addr", addr, "--to", "pdf", "tables.docx"); code != 0 {
		t.Fatalf("send a DOCX: exit %d\n%s", code, errOut)
	}
	if n := pdfPages(t, readFile(t, filepath.Join(dir, "tables.pdf"))); n < 1 {
		t.Errorf("the DOCX made %d pages", n)
	}
	sendCSV(t, dir, addr)
	resp, out := api.convert("to=pdf&name=chart.pptx", pptx)
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("a PPTX answered %s", ct)
	}
	want := sofficePages(t, pptx, "pptx")
	if n := pdfPages(t, out); want > 0 && n != want {
		t.Errorf("the PPTX made %d pages, soffice makes %d", n, want)
	}
}

// sofficePages is the page count of soffice --convert-to pdf of doc, or 0
// when soffice cannot be run here.
func sofficePages(t *testing.T, doc []byte, ext string) int {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "doc."+ext)
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("soffice", "-env:UserInstallation=file://"+dir+"/profile", "--headless", "--convert-to", "pdf", "--outdir", dir, in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("soffice: %v: %s", err, strings.TrimSpace(string(out)))
		return 0
	}
	return pdfPages(t, readFile(t, filepath.Join(dir, "doc.pdf")))
}

// LibreOffice failing under a job, through fileconv up: a process killed in
// the middle of a job fails that job with a clear error, a process that hangs
// is killed at the job's deadline, and after each the next document converts
// on a fresh process. A password-protected document asks for its password.
func TestUpOfficeEngineFailures(t *testing.T) {
	if _, err := os.Stat("/usr/lib/libreoffice/program"); err != nil {
		t.Skip("no LibreOffice here (Debian libreoffice-core-nogui): office documents are not converted")
	}
	docx, err := os.ReadFile(filepath.Join(sharedOffice, "python-docx-par-known-paragraphs.docx"))
	if err != nil {
		t.Skip("no ../shared/testdata/office")
	}
	_, api, up := upWithWebFlags(t, t.TempDir(), "--job-timeout", "8s", "--office-processes", "1")
	waitOffers(t, api, "docx", "pdf")
	api.convert("to=pdf", docx) // the engine is warm

	// Killed mid-job: stopped first, so that the job is surely inside it.
	first := officeProcesses(t, up)
	signalAll(t, first, syscall.SIGSTOP)
	answer := make(chan string, 1)
	go func() { answer <- apiFailure(api, "to=pdf", docx) }()
	time.Sleep(time.Second)
	signalAll(t, first, syscall.SIGKILL)
	got := <-answer
	t.Logf("killed mid-job: %s", got)
	if !strings.Contains(got, "LibreOffice stopped on the DOCX") {
		t.Errorf("a job whose LibreOffice was killed: %s", got)
	}
	api.convert("to=pdf", docx)

	// Hung: stopped and left so; the job's deadline kills it.
	second := officeProcesses(t, up)
	if slices.Equal(first, second) {
		t.Fatalf("the killed process %v was not replaced", first)
	}
	signalAll(t, second, syscall.SIGSTOP)
	start := time.Now()
	got = apiFailure(api, "to=pdf", docx)
	t.Logf("hung, answered after %v: %s", time.Since(start).Round(time.Millisecond), got)
	if !strings.Contains(got, "8s") {
		t.Errorf("a job on a hung LibreOffice: %s", got)
	}
	waitGone(t, second)
	api.convert("to=pdf", docx)

	secret, err := os.ReadFile("../office/testdata/password/secret.odt")
	if err != nil {
		t.Fatal(err)
	}
	if got := apiFailure(api, "to=pdf", secret); !strings.Contains(got, "password-protected: give its password with the option password") {
		t.Errorf("an encrypted ODT without its password: %s", got)
	}
	if got := apiFailure(api, "to=pdf&password=wrong", secret); !strings.Contains(got, "the password given does not open the ODT") {
		t.Errorf("an encrypted ODT with a wrong password: %s", got)
	}
	if _, out := api.convert("to=pdf&password=secret", secret); !strings.Contains(pdfText(t, out), "fileconv self-test") {
		t.Error("the encrypted ODT's text is not in its PDF")
	}
}

// apiFailure posts a request that must fail and returns its status and body.
func apiFailure(api apiCaller, query string, body []byte) string {
	resp, out, err := api.try(query, "", body)
	switch {
	case err != nil:
		return err.Error()
	case resp.StatusCode == http.StatusOK:
		return "200 OK: the request did not fail"
	}
	return resp.Status + ": " + string(out)
}

// officeProcesses lists the pids of up's LibreOffice processes: its
// descendants started with the office child's environment variable.
func officeProcesses(t *testing.T, up *process) []int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !descendsFrom(pid, up.cmd.Process.Pid) {
				continue
			}
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if bytes.Contains(env, []byte("\x00FILECONV_INTERNAL_OFFICE=")) || bytes.HasPrefix(env, []byte("FILECONV_INTERNAL_OFFICE=")) {
				pids = append(pids, pid)
			}
		}
		if len(pids) > 0 {
			return pids
		}
	}
	t.Fatal("up runs no LibreOffice process")
	return nil
}

// descendsFrom reports whether pid is ancestor's child, grandchild, ...
func descendsFrom(pid, ancestor int) bool {
	for range 16 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 {
			return false
		}
		if pid, _ = strconv.Atoi(fields[1]); pid == ancestor {
			return true
		}
		if pid <= 1 {
			return false
		}
	}
	return false
}

func signalAll(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("signal %v to %d: %v", sig, pid, err)
		}
	}
}

// waitGone waits until none of pids runs.
func waitGone(t *testing.T, pids []int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !slices.ContainsFunc(pids, func(pid int) bool { return syscall.Kill(pid, 0) == nil }) {
			return
		}
	}
	t.Errorf("the hung processes %v were not killed", pids)
}
