package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"

	"github.com/fileconv/fileconv/client"
)

// termReporter draws, below the lines of finished files, a block of progress
// bars: one per file in flight and one for the total. progressbar draws a single
// bar on the current line, so each bar renders into memory and this reporter
// redraws the block, moving the cursor up over its previous drawing.
type termReporter struct {
	mu       sync.Mutex
	out, err io.Writer
	width    int
	active   []*termBar
	total    *progressbar.ProgressBar
	// drawn is the number of lines of the block on the screen.
	drawn         int
	files, ended  int
	sent, allSize int64
	stop          chan struct{}
	stopped       chan struct{}
}

type termBar struct {
	job   *sendJob
	phase client.Phase
	bar   *progressbar.ProgressBar
	// sent is what the total has counted for this file.
	sent int64
}

// redrawEvery keeps spinners and rates moving while nothing reports.
const redrawEvery = 150 * time.Millisecond

func newTermReporter(out, errw io.Writer, width int) *termReporter {
	return &termReporter{out: out, err: errw, width: width, stop: make(chan struct{}), stopped: make(chan struct{})}
}

func (r *termReporter) newBar(limit int64, desc string, bytes bool) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(io.Discard),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(max(10, min(30, r.width/4))),
		progressbar.OptionThrottle(0),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSpinnerType(14),
		// Without this, a spinner renders from a goroutine of its own, racing with
		// redraw and outliving the file; redraw advances it instead.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	}
	b := progressbar.NewOptions64(limit, opts...)
	b.RenderBlank()
	return b
}

func (r *termReporter) start(jobs []*sendJob) {
	for _, j := range jobs {
		if j.err == nil && j.skip == "" {
			j.counted = true
			r.files++
			r.allSize += j.size
		}
	}
	r.total = r.newBar(max(r.allSize, 1), r.totalDesc(), true)
	go r.tick()
}

func (r *termReporter) totalDesc() string {
	return fmt.Sprintf("total %d/%d files", r.ended, r.files)
}

func (r *termReporter) tick() {
	defer close(r.stopped)
	t := time.NewTicker(redrawEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mu.Lock()
			r.redraw()
			r.mu.Unlock()
		}
	}
}

func (r *termReporter) progress(j *sendJob, p client.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tb := r.find(j)
	if tb == nil {
		tb = &termBar{job: j}
		r.active = append(r.active, tb)
	}
	if tb.phase != p.Phase {
		tb.phase = p.Phase
		desc := fitName(j.in, 24) + " " + phaseLabel(p.Phase)
		if p.Attempt > 1 && p.Phase == client.Uploading {
			desc += fmt.Sprintf(" (try %d)", p.Attempt)
		}
		if p.Phase == client.Converting || p.Total <= 0 {
			tb.bar = r.newBar(-1, desc, false)
		} else {
			tb.bar = r.newBar(p.Total, desc, true)
		}
	}
	if p.Phase != client.Converting && p.Total > 0 {
		tb.bar.Set64(p.Done)
	}
	if p.Phase == client.Uploading {
		// A retry uploads again; the total counts each byte once.
		if d := p.Done - tb.sent; d > 0 {
			r.sent += d
			tb.sent = p.Done
			r.total.Set64(min(r.sent, r.allSize))
		}
	}
}

func (r *termReporter) find(j *sendJob) *termBar {
	for _, tb := range r.active {
		if tb.job == j {
			return tb
		}
	}
	return nil
}

func phaseLabel(p client.Phase) string {
	switch p {
	case client.Uploading:
		return "sending    "
	case client.Converting:
		return "converting "
	case client.Downloading:
		return "receiving  "
	}
	return ""
}

// fitName pads or cuts a name to n columns, keeping its end, where names differ.
func fitName(s string, n int) string {
	if c := utf8.RuneCountInString(s); c <= n {
		return s + strings.Repeat(" ", n-c)
	}
	rs := []rune(s)
	return "…" + string(rs[len(rs)-n+1:])
}

func (r *termReporter) done(j *sendJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tb := r.find(j); tb != nil {
		r.sent += j.size - tb.sent
		for i, x := range r.active {
			if x == tb {
				r.active = append(r.active[:i], r.active[i+1:]...)
				break
			}
		}
	} else if j.counted {
		r.sent += j.size
	}
	if j.counted {
		r.ended++
	}
	r.total.Describe(r.totalDesc())
	r.total.Set64(min(r.sent, r.allSize))
	r.clear()
	switch {
	case j.err != nil:
		fmt.Fprintf(r.err, "fileconv: %s: %s\n", j.in, oneLine(failureReason(j.err)))
	case j.skip != "":
		fmt.Fprintf(r.out, "%s: skipped: %s\n", j.in, j.skip)
	default:
		fmt.Fprintln(r.out, convertedLine(j))
		printWarnings(r.err, j)
	}
	r.redraw()
}

// clear moves the cursor to the top of the block and erases it.
func (r *termReporter) clear() {
	if r.drawn > 0 {
		fmt.Fprintf(r.out, "\x1b[%dA\r\x1b[J", r.drawn)
		r.drawn = 0
	}
}

func (r *termReporter) redraw() {
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", r.drawn)
	}
	lines := 0
	for _, tb := range r.active {
		tb.bar.Add64(0) // re-render: spinner, rate and time left move on
		b.WriteString(r.fit(tb.bar.String()))
		b.WriteString("\n")
		lines++
	}
	if r.total != nil {
		b.WriteString(r.fit(r.total.String()))
		b.WriteString("\n")
		lines++
	}
	io.WriteString(r.out, b.String())
	r.drawn = lines
}

// fit keeps a rendered bar to one line of the terminal: a wrapped line would
// throw off the cursor arithmetic of the next redraw.
func (r *termReporter) fit(s string) string {
	s = strings.TrimRight(strings.Trim(s, "\r"), " ")
	if rs := []rune(s); len(rs) >= r.width {
		s = string(rs[:r.width-1])
	}
	return s
}

func (r *termReporter) finish(s sendSummary) {
	close(r.stop)
	<-r.stopped
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear()
	fmt.Fprintln(r.out, s.String())
}
