// Package office converts office documents (Word, Excel, PowerPoint,
// OpenDocument, RTF, CSV, HTML) to PDF and between their formats with
// LibreOffice, driven through LibreOfficeKit in warm child processes that the
// worker starts and supervises.
//
// # Processes
//
// A Pool keeps Config.Processes LibreOffice processes (one per core by
// default). Each is this same executable started again with an environment
// variable that makes this package's init() run the child loop instead of
// the program: it starts LibreOffice once through LibreOfficeKit (lok_init_2,
// about a second), converts a tiny DOCX, XLSX and PPTX so that the Writer,
// Calc and Impress modules are loaded, and only then takes jobs, one at a
// time, framed over two pipes. LibreOffice is not thread-safe and can hang
// or leak on hostile files, so:
//   - a job whose context ends (its deadline) kills its process group with
//     SIGKILL and a fresh process replaces it; the job fails with the
//     context's error;
//   - a process that dies mid-job (a LibreOffice crash) fails that job only,
//     with ErrCrashed, and is replaced;
//   - a process is replaced after Config.Recycle documents, or when its
//     resident memory passes Config.MaxMemory after a job;
//   - a process may not use more than 4×MaxMemory of data, and no less
//     than 2 GiB (RLIMIT_DATA);
//   - a process whose worker dies exits within a second.
//
// # Documents never reach a disk
//
// LibreOffice opens documents by URL. Each process gets a private folder
// (mode 0700) on a memory-backed file system — /dev/shm, a tmpfs, unless
// Config.WorkDir says otherwise; the pool refuses a folder that is not on
// tmpfs or ramfs — holding its LibreOffice profile, its TMPDIR and HOME, and
// the job's files: the input (written from memory by the process), the
// output LibreOffice saves, and for page settings an intermediate
// OpenDocument copy. The job's files are removed as soon as the job ends,
// whatever its outcome; the folder is removed when the process ends (by the
// process itself, or by the pool after killing it). Nothing is written
// elsewhere: TMPDIR and HOME point into the folder, the profile turns off
// autosave, recovery copies and lock files. (A memfd referenced as
// /proc/self/fd/N does not work: LibreOffice's type detection fails on it,
// and saving to one fails.)
//
// # Macros never run, nothing is fetched
//
// Each profile is written fresh, with the settings listed in
// profileSettings: macro security "very high" and macro execution disabled
// (on top of LibreOfficeKit loading every document with MacroExecutionMode
// NEVER_EXECUTE), Basic off, links never updated in Writer and Calc, linked
// content of untrusted documents blocked (BlockUntrustedRefererLinks: this
// is the setting that stops a DOCX's or ODT's linked picture, remote or
// local), no recalculation of spreadsheet formulas on load, rare legacy
// formats refused. HTML is cleaned before LibreOffice sees it (html.go): its
// import fetches style sheets whatever the settings say.
//
// Two walls stand behind the settings, in case one was missed:
//   - the network: processes start in a new network namespace (CLONE_NEWNET,
//     with CLONE_NEWUSER when the worker is not root) whose only interface
//     is a loopback that is down;
//   - local files: Landlock (landlock.go) limits each process to its folder,
//     the system's read-only trees and a few files of /etc, so no document
//     makes LibreOffice read the worker's keys, /tmp or users' files.
//
// Where the kernel refuses either, processes start without it and the pool
// logs a warning; Stats.Isolated and Stats.FilesLimited say which.
//
// # What converts, and the options
//
// Inputs: DOCX, DOC, ODT, RTF, HTML (Writer), XLSX, XLS, ODS, CSV (Calc),
// PPTX, PPT, ODP (Impress). Targets: PDF from every input; DOCX and ODT from
// text documents, XLSX and ODS from spreadsheets (CSV included), PPTX and
// ODP from presentations. Options:
//   - Pages ("1-3,7") and PDFA (PDF/A-2b) are the PDF export's own settings
//     (PageRange, SelectPdfVersion), for every family; pages the document
//     does not have give ErrUnsupported;
//   - Landscape and PageSize (A4, Letter) turn and resize every page style
//     of text documents and spreadsheets; FitWidth scales every sheet to
//     one page wide (odfpage.go). Presentations keep their slides;
//   - Password opens encrypted documents (ODF, and MS Office's own, like
//     Word 97's); without it, or with a wrong one, ErrPassword.
//
// # Calc through LibreOfficeKit with Debian's -nogui packages
//
// Every spreadsheet failed to load ("loadComponentFromURL returned an empty
// reference") while soffice --convert-to converted them: a view made
// through LibreOfficeKit is a visible one, and Calc builds its formula bar
// from modules/scalc/ui/inputbar.ui, a file the -nogui packages leave out
// (they ship no .ui file of the modules). soffice --convert-to loads
// documents hidden and never builds the bar. The profile hides the formula
// bar (profile.go), and every spreadsheet loads. CSV goes through csv.go:
// Calc's CSV import asks for its import dialog, whose library the -nogui
// packages leave out too.
package office

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Config sets up a Pool. Zero values take the defaults.
type Config struct {
	// Processes is the number of warm LibreOffice processes (default
	// runtime.NumCPU()).
	Processes int
	// Recycle is how many documents a process converts before it is
	// replaced (default 200).
	Recycle int
	// MaxMemory: a process whose resident memory passes it after a job is
	// replaced (default 1 GiB). A process may use at most 4×MaxMemory (and
	// no less than 2 GiB) of data while converting; past it the job fails.
	MaxMemory int64
	// Logger gets process starts, replacements and warnings (default
	// slog.Default()). Documents, their names and passwords are never logged.
	Logger *slog.Logger
	// InstallDir is LibreOffice's program folder (default the first of
	// /usr/lib/libreoffice/program, /opt/libreoffice*/program that holds it).
	InstallDir string
	// WorkDir is where each process's private folder is made; it must be on
	// a memory-backed file system (default /dev/shm). A process holds its
	// profile (about 1 MB) and, during a job, the input, the output and
	// LibreOffice's temporary files: give it a few times the largest
	// document per process (a container's default /dev/shm is 64 MB).
	WorkDir string

	test testHooks
}

// testHooks weaken the pool for tests that show a protection works by
// turning it off (positive controls). Only this package's tests set them.
type testHooks struct {
	noNetNS     bool // no network namespace
	noLandlock  bool // no Landlock
	bareProfile bool // a profile without profileSettings
	loadOptions bool // the child takes Job.loadOptions
}

// Job is one conversion.
type Job struct {
	Input []byte
	// From is the input's type: "docx", "doc", "odt", "rtf", "xlsx", "xls",
	// "ods", "pptx", "ppt", "odp", "csv" or "html".
	From string
	// To is "pdf", or the same family's "docx", "odt", "xlsx", "ods",
	// "pptx", "odp" (csv converts to xlsx and ods).
	To string
	// Pages, for PDF only, are the pages exported: "1-3,7"; "" for all.
	Pages string
	// PDFA makes a PDF/A-2b.
	PDFA bool
	// Landscape turns the pages of text documents and spreadsheets to
	// landscape; PageSize ("A4", "Letter"; "" keeps the document's) sets
	// their paper. Presentations keep their slide size.
	Landscape bool
	PageSize  string
	// FitWidth scales each sheet of a spreadsheet to one page wide.
	FitWidth bool
	// Password opens a password-protected document.
	Password string

	loadOptions string // LibreOfficeKit load options (tests, with testHooks.loadOptions)
}

// Errors a conversion returns, errors.Is-able. Their messages are for the
// people who sent the document; they hold no paths.
var (
	// ErrPassword: the document needs a password, or the one given is wrong.
	ErrPassword = errors.New("the document is protected by a password")
	// ErrUnreadable: LibreOffice cannot read the document as the type given.
	ErrUnreadable = errors.New("LibreOffice cannot read the document")
	// ErrCrashed: LibreOffice stopped while converting the document.
	ErrCrashed = errors.New("LibreOffice stopped while converting the document")
	// ErrUnsupported: a conversion or an option this package does not do.
	ErrUnsupported = errors.New("unsupported office conversion")
	// ErrClosed: the pool is closed.
	ErrClosed = errors.New("the office pool is closed")
)

// family of a type: the LibreOffice module that opens it.
type family int

const (
	noFamily family = iota
	text
	spreadsheet
	presentation
)

func (f family) String() string {
	switch f {
	case text:
		return "text document"
	case spreadsheet:
		return "spreadsheet"
	case presentation:
		return "presentation"
	}
	return "document"
}

var inputs = map[string]family{
	"docx": text, "doc": text, "odt": text, "rtf": text, "html": text,
	"xlsx": spreadsheet, "xls": spreadsheet, "ods": spreadsheet, "csv": spreadsheet,
	"pptx": presentation, "ppt": presentation, "odp": presentation,
}

var targets = map[string]family{
	"docx": text, "odt": text,
	"xlsx": spreadsheet, "ods": spreadsheet,
	"pptx": presentation, "odp": presentation,
}

// Inputs and Targets list what Convert takes, for a registry.
func Inputs() []string {
	return []string{"docx", "doc", "odt", "rtf", "xlsx", "xls", "ods", "csv", "pptx", "ppt", "odp", "html"}
}
func Targets() []string { return []string{"pdf", "docx", "odt", "xlsx", "ods", "pptx", "odp"} }

var pagesRE = regexp.MustCompile(`^\s*[1-9][0-9]{0,5}(\s*-\s*[1-9][0-9]{0,5})?(\s*[,;]\s*[1-9][0-9]{0,5}(\s*-\s*[1-9][0-9]{0,5})?)*\s*$`)

// check validates a job before any process sees it.
func (j *Job) check() error {
	from, ok := inputs[j.From]
	if !ok {
		return fmt.Errorf("%w: %q is not an office type this converts", ErrUnsupported, j.From)
	}
	if j.To != "pdf" {
		to, ok := targets[j.To]
		if !ok {
			return fmt.Errorf("%w: %q is not an office target", ErrUnsupported, j.To)
		}
		if to != from {
			return fmt.Errorf("%w: a %s cannot become %s", ErrUnsupported, from, strings.ToUpper(j.To))
		}
		if j.Pages != "" || j.PDFA {
			return fmt.Errorf("%w: pages and PDF/A are options of PDF output", ErrUnsupported)
		}
	}
	if j.Pages != "" && !pagesRE.MatchString(j.Pages) {
		return fmt.Errorf("%w: pages %q: give pages and ranges like 1-3,7", ErrUnsupported, j.Pages)
	}
	switch strings.ToLower(j.PageSize) {
	case "", "a4", "letter":
	default:
		return fmt.Errorf("%w: page size %q: A4 or Letter", ErrUnsupported, j.PageSize)
	}
	if len(j.Input) == 0 {
		return fmt.Errorf("%w: the document is empty", ErrUnreadable)
	}
	return nil
}

// Stats describes a pool, for docs and metrics.
type Stats struct {
	Processes int   // warm processes, busy or idle (not those starting)
	Ready     int   // warm processes waiting for a job
	Jobs      int64 // documents converted
	Failed    int64 // jobs that failed (any reason)
	Restarts  int64 // processes replaced: Recycled + Killed + Crashed
	Recycled  int64 // replaced after Recycle documents or above MaxMemory
	Killed    int64 // killed at a job's deadline
	Crashed   int64 // died on a job or while starting
	// RSS is each running process's resident memory, in bytes, and Private
	// the part of it that is the process's own (the rest, about 150 MB, is
	// LibreOffice's libraries, shared by every process); PeakRSS the largest
	// RSS seen after a job; StartSeconds the last warm start's duration.
	RSS          []int64
	Private      []int64
	PeakRSS      int64
	StartSeconds float64
	// Isolated: processes start in their own network namespace.
	Isolated bool
	// FilesLimited: Landlock limits the processes' file access (landlock.go).
	FilesLimited bool
	Version      string // LibreOffice's version, once a process has started
}

// installCandidates are the folders Available looks in.
func installCandidates() []string {
	c := []string{"/usr/lib/libreoffice/program"}
	opt, _ := filepath.Glob("/opt/libreoffice*/program")
	return append(c, opt...)
}

// findInstall returns LibreOffice's program folder, or what is missing.
func findInstall(dir string) (string, error) {
	dirs := installCandidates()
	if dir != "" {
		dirs = []string{dir}
	}
	var missing []string
	for _, d := range dirs {
		if !exists(filepath.Join(d, "libmergedlo.so")) && !exists(filepath.Join(d, "libsofficeapp.so")) {
			continue
		}
		// The modules: Writer, Calc, Impress.
		for lib, pkg := range map[string]string{
			"libswlo.so": "libreoffice-writer-nogui",
			"libsclo.so": "libreoffice-calc-nogui",
			"libsdlo.so": "libreoffice-impress-nogui",
		} {
			if !exists(filepath.Join(d, lib)) {
				missing = append(missing, pkg)
			}
		}
		if len(missing) > 0 {
			return "", fmt.Errorf("LibreOffice in %s lacks modules: install the Debian packages %s", d, strings.Join(missing, " "))
		}
		return d, nil
	}
	return "", fmt.Errorf("LibreOffice is not installed (no libmergedlo.so in %s): install the Debian packages libreoffice-core-nogui libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui", strings.Join(dirs, ", "))
}

// Available says whether LibreOffice is installed here, and if not what is
// missing. It does not start it: SelfTest does.
func Available() error {
	_, err := findInstall("")
	return err
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// dataLimit is a process's RLIMIT_DATA.
func (c Config) dataLimit() int64 {
	return max(4*c.MaxMemory, 2<<30)
}

func (c Config) withDefaults() Config {
	if c.Processes <= 0 {
		c.Processes = runtime.NumCPU()
	}
	if c.Recycle <= 0 {
		c.Recycle = 200
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 1 << 30
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.WorkDir == "" {
		c.WorkDir = "/dev/shm"
	}
	return c
}
