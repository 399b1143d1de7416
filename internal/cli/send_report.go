package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fileconv/fileconv/client"
)

// sendReporter shows a send as it goes: plain lines, JSON lines or, on a
// terminal, progress bars.
type sendReporter interface {
	start(jobs []*sendJob)
	progress(j *sendJob, p client.Progress)
	// done is called once per job, whatever became of it.
	done(j *sendJob)
	finish(s sendSummary)
}

type sendSummary struct {
	converted, failed, skipped int
	// warned counts the converted files that came with warnings.
	warned            int
	bytesIn, bytesOut int64
	elapsed           time.Duration
}

func (s sendSummary) String() string {
	warned := ""
	if s.warned > 0 {
		warned = fmt.Sprintf(" (%d with warnings)", s.warned)
	}
	return fmt.Sprintf("%d converted%s, %d failed, %d skipped; %s in, %s out; %.2fs",
		s.converted, warned, s.failed, s.skipped, humanBytes(s.bytesIn), humanBytes(s.bytesOut), s.elapsed.Seconds())
}

// inOrder releases finished jobs in the order of the command line, so that
// output does not depend on which conversion was quickest.
type inOrder struct {
	mu       sync.Mutex
	finished []bool
	jobs     []*sendJob
	next     int
	emit     func(*sendJob)
}

func (o *inOrder) start(jobs []*sendJob) {
	o.jobs, o.finished = jobs, make([]bool, len(jobs))
}

func (o *inOrder) done(j *sendJob) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished[j.idx] = true
	for o.next < len(o.jobs) && o.finished[o.next] {
		o.emit(o.jobs[o.next])
		o.next++
	}
}

// plainReporter prints "IN -> OUT (size, time)" on stdout for each converted
// file and "fileconv: IN: reason" on stderr for each failure, the way the first
// send did, for scripts and logs.
type plainReporter struct {
	inOrder
	stdout, stderr io.Writer
}

func newPlainReporter(stdout, stderr io.Writer) *plainReporter {
	r := &plainReporter{stdout: stdout, stderr: stderr}
	r.emit = r.line
	return r
}

func (r *plainReporter) line(j *sendJob) {
	switch {
	case j.err != nil:
		fmt.Fprintf(r.stderr, "fileconv: %s: %s\n", j.in, oneLine(failureReason(j.err)))
	case j.skip != "":
		fmt.Fprintf(r.stdout, "%s: skipped: %s\n", j.in, j.skip)
	default:
		fmt.Fprintln(r.stdout, convertedLine(j))
		printWarnings(r.stderr, j)
	}
}

func convertedLine(j *sendJob) string {
	return fmt.Sprintf("%s -> %s (%s, %.2fs)", j.in, j.out, humanBytes(j.res.bytesOut), j.res.seconds)
}

// printWarnings writes a line per warning of a converted file, on stderr
// beside failures: the file is there, but not quite as asked, and a line on
// stdout alone would read as plain success.
func printWarnings(w io.Writer, j *sendJob) {
	for _, warning := range j.res.warnings {
		fmt.Fprintf(w, "%s -> %s: warning: %s\n", j.in, j.out, oneLine(warning))
	}
}

func (r *plainReporter) progress(*sendJob, client.Progress) {}
func (r *plainReporter) finish(sendSummary)                 {}

// jsonReporter prints one JSON object per file, then one for the whole send.
type jsonReporter struct {
	inOrder
	enc    *json.Encoder
	stderr io.Writer
}

type jsonFile struct {
	Type     string  `json:"type"`
	Input    string  `json:"input"`
	Output   string  `json:"output,omitempty"`
	Status   string  `json:"status"`
	To       string  `json:"to,omitempty"`
	Kind     string  `json:"input_type,omitempty"`
	BytesIn  int64   `json:"bytes_in"`
	BytesOut int64   `json:"bytes_out"`
	Seconds  float64 `json:"seconds"`
	JobID    string  `json:"job_id,omitempty"`
	Attempts int     `json:"attempts,omitempty"`
	Protocol string  `json:"protocol,omitempty"`
	Error    string  `json:"error,omitempty"`
	Code     string  `json:"code,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	// Warnings of a converted file: it is there, but not quite as asked.
	Warnings []string `json:"warnings,omitempty"`
}

type jsonSummary struct {
	Type      string  `json:"type"`
	Converted int     `json:"converted"`
	Failed    int     `json:"failed"`
	Skipped   int     `json:"skipped"`
	Warned    int     `json:"with_warnings,omitempty"`
	BytesIn   int64   `json:"bytes_in"`
	BytesOut  int64   `json:"bytes_out"`
	Seconds   float64 `json:"seconds"`
}

func newJSONReporter(stdout, stderr io.Writer) *jsonReporter {
	r := &jsonReporter{enc: json.NewEncoder(stdout), stderr: stderr}
	r.enc.SetEscapeHTML(false)
	r.emit = r.line
	return r
}

func (r *jsonReporter) line(j *sendJob) {
	v := jsonFile{Type: "file", Input: j.in, Output: j.out, To: j.to, Kind: string(j.kind), BytesIn: j.size,
		BytesOut: j.res.bytesOut, Seconds: round3(j.res.seconds), JobID: j.res.jobID, Attempts: j.res.attempts, Protocol: j.res.protocol}
	switch {
	case j.err != nil:
		v.Status, v.Error = "failed", oneLine(failureReason(j.err))
		var se *client.ServerError
		if errors.As(j.err, &se) {
			v.Code = string(se.Code)
		}
		// Scripts read stdout; people still see what failed.
		fmt.Fprintf(r.stderr, "fileconv: %s: %s\n", j.in, v.Error)
	case j.skip != "":
		v.Status, v.Reason, v.Output = "skipped", j.skip, ""
	default:
		v.Status, v.Warnings = "converted", j.res.warnings
		printWarnings(r.stderr, j)
	}
	r.enc.Encode(v)
}

func (r *jsonReporter) progress(*sendJob, client.Progress) {}

func (r *jsonReporter) finish(s sendSummary) {
	r.enc.Encode(jsonSummary{Type: "summary", Converted: s.converted, Failed: s.failed, Skipped: s.skipped, Warned: s.warned,
		BytesIn: s.bytesIn, BytesOut: s.bytesOut, Seconds: round3(s.elapsed.Seconds())})
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// humanBytes writes n in binary units with one decimal, e.g. 12.3 KiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB"} {
		f /= 1024
		if f < 1024 || unit == "GiB" {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return ""
}
