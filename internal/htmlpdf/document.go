package htmlpdf

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// Paper sizes in inches (what page.PrintToPDF takes).
var paperSizes = map[string][2]float64{
	"a3":     {297 / 25.4, 420 / 25.4},
	"a4":     {210 / 25.4, 297 / 25.4},
	"a5":     {148 / 25.4, 210 / 25.4},
	"letter": {8.5, 11},
	"legal":  {8.5, 14},
}

// DefaultMargin is the margin of every side, in points, when Job.Margin is 0:
// 10 mm.
const DefaultMargin = 10 / 25.4 * 72

// printParams are a job's options checked and in Chromium's units (inches).
type printParams struct {
	width, height float64
	landscape     bool
	margin        float64
	pages         string
}

// pageRangesRE is the syntax of Job.Pages: "1-3,7", "2-", "-4" and spaces.
var pageRangesRE = regexp.MustCompile(`^\s*(\d*\s*-\s*\d*|\d+)\s*(,\s*(\d*\s*-\s*\d*|\d+)\s*)*$`)

// params checks the job's options.
func (j Job) params() (printParams, error) {
	var p printParams
	size := strings.ToLower(strings.TrimSpace(j.PageSize))
	if size == "" {
		size = "a4"
	}
	wh, ok := paperSizes[size]
	if !ok {
		return p, fmt.Errorf("%w: page size %q (A3, A4, A5, Letter or Legal)", ErrOptions, j.PageSize)
	}
	p.width, p.height = wh[0], wh[1]
	p.landscape = j.Landscape
	switch {
	case j.Margin == 0:
		p.margin = DefaultMargin / 72
	case j.Margin < 0:
		p.margin = 0
	default:
		p.margin = j.Margin / 72
	}
	// Chromium needs room for content: keep at least half of the short side.
	if short := min(p.width, p.height); 2*p.margin > short/2 {
		return p, fmt.Errorf("%w: a margin of %g pt leaves no room on a %s page", ErrOptions, j.Margin, j.PageSize)
	}
	if pages := strings.TrimSpace(j.Pages); pages != "" {
		if !pageRangesRE.MatchString(pages) || strings.Trim(pages, " -,") == "" {
			return p, fmt.Errorf("%w: pages %q (write ranges such as 1-3,7)", ErrOptions, j.Pages)
		}
		for r := range strings.SplitSeq(pages, ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			a, errA := strconv.Atoi(strings.TrimSpace(lo))
			b, errB := strconv.Atoi(strings.TrimSpace(hi))
			if (errA == nil && a == 0) || (errB == nil && b == 0) {
				return p, fmt.Errorf("%w: pages %q: pages count from 1", ErrOptions, j.Pages)
			}
			if isRange && errA == nil && errB == nil && a > b {
				return p, fmt.Errorf("%w: pages %q: the range %s goes backwards", ErrOptions, j.Pages, strings.TrimSpace(r))
			}
		}
		p.pages = pages
	}
	return p, nil
}

// decodeHTML returns the document as UTF-8: Chromium receives it as a string.
// The encoding is found as a browser finds it (byte order mark, <meta charset>
// in the first 1024 bytes, else UTF-8 if the bytes are valid UTF-8, else
// windows-1252).
func decodeHTML(b []byte) (string, error) {
	if err := checkText(b); err != nil {
		return "", err
	}
	enc, name, certain := charset.DetermineEncoding(b, "text/html")
	if utf8.Valid(b) && (name == "utf-8" || !certain) {
		// Valid UTF-8 with no byte order mark of another encoding: UTF-8,
		// whatever a <meta charset> says (bytes of a legacy encoding with
		// letters past ASCII are almost never valid UTF-8).
		return strings.TrimPrefix(string(b), "\uFEFF"), nil
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	return strings.TrimPrefix(strings.ToValidUTF8(string(out), "\uFFFD"), "\uFEFF"), nil
}

func hasUTF16BOM(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xfe, 0xff}) || bytes.HasPrefix(b, []byte{0xff, 0xfe})
}

// checkText refuses input that is empty or binary: a NUL byte in the first
// 4 KiB of a document that has no UTF-16 byte order mark.
func checkText(b []byte) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("%w: the document is empty", ErrUnreadable)
	}
	if !hasUTF16BOM(b) && bytes.IndexByte(b[:min(len(b), 4096)], 0) >= 0 {
		return fmt.Errorf("%w: the document is not text (it holds NUL bytes)", ErrUnreadable)
	}
	return nil
}

// contentPolicy is the Content-Security-Policy put at the top of every
// document: nothing loads from anywhere but data: (and blob:) URLs inside the
// document, and scripts run only inline and only when JavaScript is on.
func contentPolicy(js bool) string {
	script := "script-src 'none'"
	if js {
		script = "script-src 'unsafe-inline' 'unsafe-eval'"
	}
	return "default-src 'none'; " + script + "; style-src 'unsafe-inline' data:; img-src data: blob:; " +
		"font-src data:; media-src data: blob:; connect-src 'none'; frame-src 'none'; worker-src 'none'; " +
		"object-src 'none'; form-action 'none'; base-uri 'none'"
}

// leadRE matches what may come before a document's first tag without
// changing how it parses: a byte order mark, white space, comments and the
// doctype.
var leadRE = regexp.MustCompile(`^(?i)(\x{FEFF}|\s+|<!--[\s\S]*?-->|<!doctype[^>]*>)*`)

// withPolicy puts a <meta http-equiv="Content-Security-Policy"> before the
// document's first element (after a doctype, so the document keeps its
// standards or quirks mode). The parser moves it into <head>, where it applies
// to everything after it.
func withPolicy(doc string, js bool) string {
	meta := `<meta http-equiv="Content-Security-Policy" content="` + contentPolicy(js) + `">`
	n := len(leadRE.FindString(doc))
	return doc[:n] + meta + doc[n:]
}
