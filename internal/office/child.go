package office

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fileconv/fileconv/internal/childframe"
)

// childEnv, when set, makes the process a LibreOffice child of a Pool; its
// value is the child's private folder. childParentEnv is the worker's process
// id, childInstallEnv LibreOffice's program folder, childMemEnv the data limit
// in bytes.
const (
	childEnv        = "FILECONV_INTERNAL_OFFICE"
	childParentEnv  = "FILECONV_INTERNAL_OFFICE_PARENT"
	childInstallEnv = "FILECONV_INTERNAL_OFFICE_INSTALL"
	childMemEnv     = "FILECONV_INTERNAL_OFFICE_MEMORY"
	// childTestEnv weakens the child for tests (testHooks); a pool sets it
	// only when its Config says so, which only this package's tests can.
	childTestEnv = "FILECONV_INTERNAL_OFFICE_TEST"
)

// The child reads jobs from fd 3 and answers on fd 4: LibreOffice writes
// what it likes on stdout and stderr, which go to the worker's stderr.
const (
	childJobsFD    = 3
	childAnswersFD = 4
)

func init() {
	if dir, ok := os.LookupEnv(childEnv); ok {
		// LibreOfficeKit is called from the main thread only.
		runtime.LockOSThread()
		code := runChild(dir)
		// The folder goes with the process, however it ends (the pool
		// removes it too when it kills one).
		os.RemoveAll(dir)
		exit(code)
	}
}

// wireJob is what the pool sends before the input.
type wireJob struct {
	Size      int    `json:"size"`
	From      string `json:"from"`
	To        string `json:"to"`
	Pages     string `json:"pages,omitempty"`
	PDFA      bool   `json:"pdfa,omitempty"`
	Landscape bool   `json:"landscape,omitempty"`
	PageSize  string `json:"page_size,omitempty"`
	FitWidth  bool   `json:"fit_width,omitempty"`
	Password  string `json:"password,omitempty"`
	// TestLoadOptions replace the load options when the child runs with
	// childTestEnv=load-options.
	TestLoadOptions string `json:"test_load_options,omitempty"`
}

// Failure kinds in answers.
const (
	failPassword    = "password"
	failUnreadable  = "unreadable"
	failUnsupported = "unsupported"
	failOther       = "failed"
)

// wireAnswer is what the child sends before the output. The first answer,
// before any job, says the child is warm (Ready).
type wireAnswer struct {
	Size    int    `json:"size"`
	Fail    string `json:"fail,omitempty"`
	Message string `json:"message,omitempty"`
	Ready   bool   `json:"ready,omitempty"`
	Version string `json:"version,omitempty"`
	Millis  int64  `json:"ms,omitempty"`
	// Landlock is the ABI version the child's file access is limited with.
	Landlock int `json:"landlock,omitempty"`
}

// The self-test documents, made by LibreOffice from the flat OpenDocument
// files beside them (soffice --convert-to docx selftest.fodt, and so on).
var (
	//go:embed testdata/selftest/selftest.docx
	selfTestDOCX []byte
	//go:embed testdata/selftest/selftest.xlsx
	selfTestXLSX []byte
	//go:embed testdata/selftest/selftest.pptx
	selfTestPPTX []byte
)

func selfTestJobs() []Job {
	return []Job{
		{Input: selfTestDOCX, From: "docx", To: "pdf"},
		{Input: selfTestXLSX, From: "xlsx", To: "pdf"},
		{Input: selfTestPPTX, From: "pptx", To: "pdf"},
	}
}

type child struct {
	dir      string // the private folder
	jobs     string // its job folder
	landlock int    // the Landlock ABI its file access is limited with, 0 for none
}

// runChild serves jobs until fd 3 closes and returns the exit code.
func runChild(dir string) int {
	logf := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "fileconv office: "+format+"\n", a...) }
	// Its output goes to the worker: when the worker dies, a write must not
	// kill the child before it has removed its folder.
	signal.Ignore(syscall.SIGPIPE)
	if n, err := strconv.ParseUint(os.Getenv(childMemEnv), 10, 64); err == nil && n > 0 {
		if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			logf("cannot set the memory limit: %v", err)
			return 1
		}
	}
	parent, err := strconv.Atoi(os.Getenv(childParentEnv))
	if err != nil {
		parent = os.Getppid()
	}
	go exitWithParent(parent, dir)
	in := os.NewFile(childJobsFD, "jobs")
	out := os.NewFile(childAnswersFD, "answers")
	if in == nil || out == nil {
		logf("started without its pipes")
		return 1
	}
	r, w := bufio.NewReader(in), bufio.NewWriter(out)

	c := &child{dir: dir, jobs: filepath.Join(dir, "job")}
	start := time.Now()
	if err := c.start(); err != nil {
		logf("%v", err)
		childframe.Write(w, wireAnswer{Fail: failOther, Message: err.Error()}, nil)
		return 1
	}
	// Warm every module before taking jobs.
	for _, j := range selfTestJobs() {
		if _, err := c.convert(wireJob{From: j.From, To: j.To}, j.Input); err != nil {
			logf("warming up with a %s: %v", j.From, err)
			childframe.Write(w, wireAnswer{Fail: failOther, Message: fmt.Sprintf("the %s self-test failed: %v", strings.ToUpper(j.From), err)}, nil)
			return 1
		}
	}
	if err := childframe.Write(w, wireAnswer{Ready: true, Version: lokVersion(), Millis: time.Since(start).Milliseconds(), Landlock: c.landlock}, nil); err != nil {
		return 1
	}
	for {
		var job wireJob
		if err := childframe.Read(r, &job); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			logf("%v", err)
			return 1
		}
		input := make([]byte, job.Size)
		if _, err := io.ReadFull(r, input); err != nil {
			logf("read the document: %v", err)
			return 1
		}
		output, err := c.convert(job, input)
		answer := wireAnswer{Size: len(output)}
		if err != nil {
			answer = wireAnswer{Fail: failOther, Message: err.Error()}
			var f *failure
			if errors.As(err, &f) {
				answer.Fail = f.kind
			}
			output = nil
		}
		if err := childframe.Write(w, answer, output); err != nil {
			return 1
		}
	}
}

// exit ends the child at once: os.Exit's hooks (the race detector's report,
// under -race) can wait forever on LibreOffice's threads.
func exit(code int) {
	syscall.Exit(code)
}

// testHook says whether the pool started this child with a test hook.
func testHook(name string) bool {
	return slices.Contains(strings.Split(os.Getenv(childTestEnv), ","), name)
}

// exitWithParent ends a child whose worker is gone, even in the middle of a
// LibreOffice call, and removes its folder.
func exitWithParent(parent int, dir string) {
	for {
		if os.Getppid() != parent {
			os.RemoveAll(dir)
			exit(3)
		}
		time.Sleep(time.Second)
	}
}

func (c *child) start() error {
	install := os.Getenv(childInstallEnv)
	if install == "" {
		return errors.New("no LibreOffice folder given")
	}
	profile := filepath.Join(c.dir, "profile")
	// LibreOffice run by root writes the shared extensions' cache
	// (/var/spool/libreoffice on Debian), which Landlock forbids, and which
	// processes should not share: each keeps its own.
	os.Setenv("UNO_SHARED_PACKAGES_CACHE", fileURL(filepath.Join(profile, "shared-packages")))
	if err := writeProfile(profile, testHook("bare-profile")); err != nil {
		return fmt.Errorf("write the profile: %w", err)
	}
	if err := os.MkdirAll(c.jobs, 0o700); err != nil {
		return err
	}
	if !testHook("no-landlock") {
		abi, err := restrictFiles(c.dir, install)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fileconv office: LibreOffice runs without Landlock (its file access is not limited): %v\n", err)
		}
		c.landlock = abi
	}
	return lokInit(install, fileURL(profile))
}

// failure is a conversion error of a known kind.
type failure struct {
	kind string
	msg  string
}

func (f *failure) Error() string { return f.msg }

func fail(kind, format string, a ...any) error {
	return &failure{kind: kind, msg: fmt.Sprintf(format, a...)}
}

// loadExt is the extension the input is saved with: LibreOffice's type
// detection uses it with the content. CSV is turned into a flat OpenDocument
// spreadsheet first (csv.go).
var loadExt = map[string]string{
	"docx": "docx", "doc": "doc", "odt": "odt", "rtf": "rtf", "html": "html",
	"xlsx": "xlsx", "xls": "xls", "ods": "ods", "csv": "fods",
	"pptx": "pptx", "ppt": "ppt", "odp": "odp",
}

var familyOf = map[int]family{docText: text, docSpreadsheet: spreadsheet, docPresentation: presentation, docDrawing: presentation}

// convert runs one job. Its files live in the job folder only while it runs.
func (c *child) convert(job wireJob, input []byte) (out []byte, err error) {
	defer func() {
		// Remove whatever the job left, whatever happened.
		entries, _ := os.ReadDir(c.jobs)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(c.jobs, e.Name()))
		}
	}()
	ext, ok := loadExt[job.From]
	if !ok {
		return nil, fail(failUnsupported, "%q is not an office type this converts", job.From)
	}
	if job.From == "csv" {
		if input, err = csvToFODS(input); err != nil {
			return nil, fail(failUnreadable, "the CSV file cannot be read: %v", err)
		}
	}
	if job.From == "html" {
		if input, err = cleanHTML(input); err != nil {
			return nil, fail(failUnreadable, "the HTML page cannot be read: %v", err)
		}
	}
	inPath := filepath.Join(c.jobs, "input."+ext)
	if err := writeNew(inPath, input); err != nil {
		return nil, err
	}
	options := "Batch=true" // no dialog waits for an answer
	if job.TestLoadOptions != "" && testHook("load-options") {
		options = job.TestLoadOptions
	}
	doc, err := c.load(inPath, options, job.Password)
	if err != nil {
		return nil, err
	}
	defer func() { doc.close() }() // the last document, whichever it is
	fam := familyOf[doc.kind()]
	if want := inputs[job.From]; fam != want {
		return nil, fail(failUnreadable, "LibreOffice reads this file as a %s, not a %s", fam, strings.ToUpper(job.From))
	}
	if job.To != "pdf" && targets[job.To] != fam {
		return nil, fail(failUnsupported, "a %s cannot become %s", fam, strings.ToUpper(job.To))
	}
	if pageSettings(job, fam) {
		// Page settings are set in an OpenDocument copy (odfpage.go), which
		// is then converted.
		odf := map[family]string{text: "odt", spreadsheet: "ods"}[fam]
		mid := filepath.Join(c.jobs, "pages."+odf)
		if err := doc.saveAs(fileURL(mid), odf, ""); err != nil {
			return nil, fail(failOther, "LibreOffice could not prepare the pages: %s", clean(err))
		}
		doc.close()
		b, err := os.ReadFile(mid)
		if err != nil {
			return nil, err
		}
		os.Remove(mid)
		b, err = setPages(b, job)
		if err != nil {
			return nil, fail(failOther, "the page settings could not be applied: %v", err)
		}
		mid = filepath.Join(c.jobs, "paged."+odf)
		if err := writeNew(mid, b); err != nil {
			return nil, err
		}
		if doc, err = c.load(mid, options, ""); err != nil {
			return nil, err
		}
	}
	outPath := filepath.Join(c.jobs, "output."+job.To)
	if err := doc.saveAs(fileURL(outPath), job.To, saveOptions(job)); err != nil {
		if job.Pages != "" {
			// LibreOffice's PDF export fails on a range of pages the
			// document does not have.
			return nil, fail(failUnsupported, "pages %s: the document has no such pages", job.Pages)
		}
		return nil, fail(failOther, "LibreOffice could not write the %s: %s", strings.ToUpper(job.To), clean(err))
	}
	out, err = os.ReadFile(outPath)
	if err != nil {
		return nil, fail(failOther, "LibreOffice wrote no %s", strings.ToUpper(job.To))
	}
	if len(out) == 0 {
		if job.Pages != "" {
			return nil, fail(failUnsupported, "pages %q: the document has no such pages", job.Pages)
		}
		return nil, fail(failOther, "LibreOffice wrote an empty %s", strings.ToUpper(job.To))
	}
	return out, nil
}

// load opens a file of the job folder.
func (c *child) load(path, options, password string) (lokDoc, error) {
	doc, asked, err := lokLoad(fileURL(path), options, password)
	if err != nil {
		switch {
		case asked > 0 && password == "":
			return lokDoc{}, fail(failPassword, "the document is protected by a password: give it (password)")
		case asked > 0:
			return lokDoc{}, fail(failPassword, "the password does not open the document")
		}
		// LibreOffice's own words ("loadComponentFromURL returned an empty
		// reference", "type detection failed") go to the worker's debug log.
		fmt.Fprintf(os.Stderr, "load: %s\n", clean(err))
		return lokDoc{}, fail(failUnreadable, "LibreOffice cannot open the file: it is damaged, or not the type it was sent as")
	}
	return doc, nil
}

// saveOptions are the filter options of the output: PDF export settings as
// JSON, which LibreOffice 7.4's PDF filter reads as its FilterData.
func saveOptions(job wireJob) string {
	if job.To != "pdf" {
		return ""
	}
	type prop struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	data := map[string]prop{}
	if job.Pages != "" {
		data["PageRange"] = prop{"string", normalizePages(job.Pages)}
	}
	if job.PDFA {
		data["SelectPdfVersion"] = prop{"long", "2"} // PDF/A-2b
	}
	if len(data) == 0 {
		return ""
	}
	b, _ := json.Marshal(data)
	return string(b)
}

// normalizePages writes "1 - 3; 7" as LibreOffice's "1-3,7".
func normalizePages(p string) string {
	p = strings.ReplaceAll(p, " ", "")
	return strings.ReplaceAll(p, ";", ",")
}

// pageSettings says whether the job changes the pages of the document.
func pageSettings(job wireJob, fam family) bool {
	switch fam {
	case text:
		return job.Landscape || job.PageSize != ""
	case spreadsheet:
		return job.Landscape || job.PageSize != "" || job.FitWidth
	}
	return false
}

// clean removes the file names and URLs LibreOffice puts in its messages:
// they are the private folder's.
func clean(err error) string {
	s := err.Error()
	for {
		i := strings.Index(s, "file://")
		if i < 0 {
			break
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '>' && s[j] != '"' && s[j] != '\'' {
			j++
		}
		s = s[:i] + "the document" + s[j:]
	}
	if i := strings.Index(s, " at ./"); i >= 0 { // a source position
		s = s[:i]
	}
	return s
}

func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(b)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fileURL is the file: URL of an absolute path.
func fileURL(path string) string {
	var b strings.Builder
	b.WriteString("file://")
	for _, c := range []byte(path) {
		if c == '/' || c == '-' || c == '_' || c == '.' || c == '~' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
