package master

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// clientIdleTimeout is how long a v2 client connection may sit between requests.
const clientIdleTimeout = 2 * time.Minute

// busyRetryAfter is what a client is told to wait before retrying a busy answer.
const busyRetryAfter = time.Second

// sniffLen is how much of a body the master reads before choosing a worker: enough
// for every kind's magic number, and for a text to look like one.
const sniffLen = 16 << 10

// minSniff is the least the master waits for before choosing a worker: the
// longest magic number detection looks at.
const minSniff = 16

// job is one request as it crosses the master.
type job struct {
	req       *serve.Request
	w         serve.Responder
	start     time.Time
	log       *slog.Logger
	head      []byte // the first bytes of the body, read to learn its kind
	need      need
	worker    string
	outSize   uint64
	warnings  int // counted only: the worker's line, under the same job id, has their words
	queueWait time.Duration
	retried   bool
	outcome   string
}

// door builds the connection layer for clients: handle serves each request.
func (m *Master) door(handle serve.RequestHandler) *serve.Door {
	return &serve.Door{HeaderTimeout: m.cfg.HeaderTimeout, Idle: clientIdleTimeout, IO: m.cfg.IOTimeout,
		JobTimeout: m.cfg.JobTimeout, DrainLimit: m.cfg.DrainLimit, Stopping: m.stopping, Logger: m.log, Handle: handle}
}

// handle serves one client request: admit it, learn the input's kind from its
// first bytes, relay it to a worker that can convert that kind to the target,
// and log its line.
func (m *Master) handle(req *serve.Request, w serve.Responder) {
	j := &job{req: req, w: w, start: time.Now(), need: need{kind: convert.KindUnknown, target: req.Target},
		log: m.log.With("job", req.JobID, "client", req.Peer, "protocol", req.Proto, "to", req.Target,
			"file", wire.Printable(req.Name), "size", req.Size)}
	if e := m.admit(j); e != nil {
		m.refuse(j, e)
		return
	}
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	done := m.metrics.JobStarted(req.Target)
	err := m.route(j)
	if err == nil {
		err = m.relay(j)
	}
	var e *fail.Error
	if errors.As(err, &e) {
		m.answer(j, e)
		err = e.Cause
	}
	done(j.outcome, int64(req.BodyRead()), int64(j.outSize))
	attrs := []any{"outcome", j.outcome, "input_type", string(j.need.kind), "worker", j.worker,
		"queue_wait", j.queueWait, "out_size", j.outSize, "duration", time.Since(j.start)}
	if j.retried {
		attrs = append(attrs, "retried", true)
	}
	if j.warnings > 0 {
		attrs = append(attrs, "warnings", j.warnings)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	j.log.Info("job finished", attrs...)
}

// admit checks what needs no worker: the door's findings, the token and the size.
func (m *Master) admit(j *job) *fail.Error {
	req := j.req
	switch {
	case req.Invalid != nil:
		return req.Invalid
	case !m.tokens.Match(req.Token):
		m.metrics.AuthFailed()
		delay, count := m.auth.failed(req.Peer)
		j.log.Warn("authentication failed", "failures_from_address", count, "delay", delay)
		sleepCtx(req.Context(), delay)
		return fail.New(fail.Unauthorized, "Invalid authentication token")
	case req.Size > uint64(m.cfg.MaxBodyBytes):
		return fail.New(fail.TooLarge, serve.TooLarge(req.Size, m.cfg.MaxBodyBytes))
	case req.Size == 0:
		return fail.New(fail.BadRequest, "empty input: the file has 0 bytes")
	case len(req.Files) > m.cfg.MaxFiles:
		return fail.New(fail.LimitExceeded, serve.TooManyFiles(len(req.Files), m.cfg.MaxFiles))
	}
	m.auth.succeeded(req.Peer)
	return nil
}

// refuse answers a request the master will not take and logs it.
func (m *Master) refuse(j *job, e *fail.Error) {
	j.outcome = string(e.Code)
	if e.Code != fail.Busy {
		m.metrics.Rejected(j.outcome)
	}
	j.log.Info("job rejected", "outcome", j.outcome, "reason", e.Message, "duration", time.Since(j.start))
	m.answer(j, e)
}

// answer writes e to the client, with the retry hint its code calls for.
func (m *Master) answer(j *job, e *fail.Error) {
	if j.outcome == "" || j.outcome == "ok" {
		j.outcome = string(e.Code)
	}
	if e.Code == fail.Busy && e.RetryAfter == 0 {
		e.RetryAfter = busyRetryAfter
	}
	_ = j.w.Error(e)
}

// route reads the first bytes of the body, detects the input's kind, finds its
// conversion in the registry and checks that some worker announces it, so that a
// request no worker can do is answered at once, in the user's words.
func (m *Master) route(j *job) error {
	if j.req.Files != nil {
		// Each file's kind is the worker's to read: a job of several files
		// goes to a worker that combines them into the target.
		j.need.kind = convert.KindFiles
		return m.routable(j)
	}
	// What arrives first is enough to tell the kind (a magic number, or a page
	// of text): waiting for all of sniffLen would hold up a slow sender's job.
	head := make([]byte, min(j.req.Size, sniffLen))
	n, err := io.ReadAtLeast(j.req.Body, head, min(len(head), minSniff))
	if err != nil {
		return m.clientFailed(j, err)
	}
	j.head = head[:n]
	kind, err := convert.KindFor(convert.DetectRequest(j.head, uint64(n) == j.req.Size, j.req.Options, j.req.FromV1()), j.req.Options)
	if err != nil {
		return fail.As(err)
	}
	j.need.kind = kind
	return m.routable(j)
}

// routable checks that the registry has the job's conversion and that some
// worker announces it.
func (m *Master) routable(j *job) error {
	plan := func() (convert.Conversion, error) {
		return convert.Plan(j.need.kind, j.req.Target, j.req.Options, j.head)
	}
	if j.req.FromV1() {
		plan = func() (convert.Conversion, error) { return convert.PlanV1(j.need.kind, j.req.Target, j.head) }
	}
	if _, err := plan(); err != nil {
		return fail.As(err)
	}
	if !m.pool.anyCan(j.need) {
		if j.need.kind.IsImage() && j.req.Target == "txt" {
			return fail.New(fail.UnsupportedOperation, fmt.Sprintf(
				"no worker converts %s to txt here: reading a picture's text needs OCR (Tesseract), which no worker of this cluster runs", j.need.kind.Label()))
		}
		return fail.New(fail.UnsupportedOperation, fmt.Sprintf("no worker converts %s to %s here", j.need.kind.Label(), j.req.Target))
	}
	return m.routeOCR(j)
}

// routeOCR sends a job that reads pictures by OCR to a worker whose OCR reads
// its languages. A PDF's text is read by OCR only where pages have none, and
// is still text without it: such a job goes to a worker without OCR when no
// worker has the languages (with ocr=auto), where its result says what was
// left unread. A searchable PDF (to pdf with ocr=always or auto) is OCR or
// nothing.
func (m *Master) routeOCR(j *job) error {
	opts := j.req.Options
	searchable := j.req.Target == "pdf" && (opts.OCR == wire.OCRAlways || opts.OCR == wire.OCRAuto)
	optional := j.need.kind == convert.KindPDF && opts.OCR != wire.OCRAlways && !searchable
	switch {
	case j.req.Target != "txt" && !searchable, j.need.kind == convert.KindPDF && opts.OCR == wire.OCRNever,
		!j.need.kind.IsImage() && j.need.kind != convert.KindPDF:
		return nil
	}
	j.need.ocrLangs = strings.Split(opts.OCRLang(), "+")
	if m.pool.anyCan(j.need) {
		return nil
	}
	if optional {
		j.need.ocrLangs = nil
		return nil
	}
	have := m.pool.ocrLanguages()
	switch {
	case len(have) == 0 && searchable:
		return fail.New(fail.UnsupportedOperation, fmt.Sprintf("no worker here makes a searchable PDF (ocr=%s): no worker of this cluster runs OCR (Tesseract)", opts.OCR))
	case len(have) == 0:
		return fail.New(fail.UnsupportedOperation, "no worker here reads a PDF's pages by OCR (ocr=always): no worker of this cluster runs OCR (Tesseract)")
	}
	return fail.New(fail.UnsupportedOperation, fmt.Sprintf("no worker here reads lang=%s by OCR: the workers' OCR reads %s",
		wire.Printable(opts.OCRLang()), strings.Join(have, ", ")))
}

// clientFailed is the end of a job whose client stopped sending its body.
func (m *Master) clientFailed(j *job, err error) error {
	if isTimeout(err) {
		// A slow client may still be listening: tell it why it is cut off.
		j.outcome = "client_timeout"
		return fail.Wrap(fail.Timeout, fmt.Sprintf("timed out after %s waiting for the rest of the file", m.cfg.IOTimeout), err)
	}
	j.outcome = "client_failed"
	return fmt.Errorf("receive body from client: %w", err)
}

// relay sends the job to a worker and the answer back, moving it to another
// worker when one cannot be reached or breaks before answering. Its error, when
// a *fail.Error, is the client's answer.
func (m *Master) relay(j *job) error {
	ctx := j.req.Context()
	replay := m.retry.reserve(j.req.Size)
	defer m.retry.release(replay, j.req.Size)
	if replay != nil {
		replay.Write(j.head)
	}
	tried := map[*backend]bool{}
	var failures []string
	for {
		be, wait, err := m.pool.acquire(ctx, j.need, tried)
		j.queueWait += wait
		m.metrics.QueueWait(wait)
		if err != nil {
			return m.noWorker(j, err, failures)
		}
		tried[be] = true
		j.worker = be.addr
		end, err := m.attempt(j, be, replay)
		m.pool.release(be)
		if end != attemptDone && stopped(ctx) {
			// Cut by the master's own stop, not by the worker: neither a
			// failure of the worker nor a reason to try another.
			end, err = attemptDone, m.ended(j, err)
		}
		switch end {
		case attemptDone:
			m.judge(be, j, err)
			return err
		case attemptUnreachable:
			m.pool.failed(be, err)
			m.metrics.WorkerJob(be.addr, "unreachable")
			j.log.Warn("worker unreachable; trying another", "worker", be.addr, "err", err)
			failures = append(failures, fmt.Sprintf("%s: %v", be.addr, err))
			continue
		}
		m.pool.failed(be, err)
		m.metrics.WorkerJob(be.addr, "worker_failed")
		failures = append(failures, fmt.Sprintf("%s: %v", be.addr, err))
		if err := m.canRetry(j, be, replay, failures); err != nil {
			return err
		}
		j.retried = true
		m.metrics.Retried()
		j.log.Warn("worker failed during the job; retrying on another", "worker", be.addr, "err", err)
	}
}

// judge records what a finished attempt says about the worker.
func (m *Master) judge(be *backend, j *job, err error) {
	var e *fail.Error
	switch {
	case errors.As(err, &e) && j.outcome == "timeout":
		// A worker that held a job past its deadline is as good as down.
		m.pool.failed(be, err)
	case j.outcome == "worker_failed", j.outcome == "relay_failed", j.outcome == "stopped":
	default:
		m.pool.succeeded(be)
	}
	m.metrics.WorkerJob(be.addr, j.outcome)
}

// canRetry says why a job whose worker broke after the body started going to it
// cannot go to another, or takes the rest of the body so that it can.
func (m *Master) canRetry(j *job, be *backend, replay *bytes.Buffer, failures []string) error {
	if j.retried {
		j.outcome = "worker_failed"
		return fail.New(fail.Unavailable, fmt.Sprintf("workers %s and %s both failed during the job", be.addr, strings.SplitN(failures[len(failures)-2], ": ", 2)[0]))
	}
	if replay == nil {
		j.outcome = "worker_failed"
		return fail.New(fail.Unavailable, fmt.Sprintf("worker %s failed during the job, and a file over the %d-byte retry buffer (retry-buffer) cannot be sent again: please retry", be.addr, m.cfg.RetryBufferBytes))
	}
	// Take the rest of the body now, so the next worker gets it whole. Hidden
	// from io.Copy, the buffer's ReadFrom, which wants 512 spare bytes before
	// every read, cannot grow it past its pooled size.
	if _, err := io.Copy(struct{ io.Writer }{replay}, j.req.Body); err != nil {
		return m.clientFailed(j, err)
	}
	return nil
}

// noWorker turns the pool's refusal into the client's error.
func (m *Master) noWorker(j *job, err error, failures []string) error {
	switch {
	case errors.Is(err, errQueueFull):
		return m.busy(j, fmt.Sprintf("busy: every worker is at capacity and %d jobs are already waiting; retry in a few seconds", m.cfg.QueueSize), err)
	case errors.Is(err, errQueueTimeout):
		return m.busy(j, fmt.Sprintf("busy: every worker stayed at capacity for %s (queue-timeout); retry in a few seconds", m.cfg.QueueTimeout), err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		err = m.ended(j, err)
		var e *fail.Error
		if errors.As(err, &e) && j.outcome == "timeout" {
			e.Message += " waiting for a worker"
		}
		return err
	}
	msg := "no worker is available"
	switch others := m.pool.othersUsable(j.need); {
	case len(failures) > 0:
		msg += ": " + strings.Join(failures, "; ")
	case others > 0:
		rest := fmt.Sprintf("the %d other workers here do not convert it", others)
		if others == 1 {
			rest = "the other worker here does not convert it"
		}
		msg = fmt.Sprintf("no worker that converts %s to %s is available: those that do are failing their health checks or shutting down, and %s; retry in a few seconds",
			j.need.kind.Label(), j.need.target, rest)
	default:
		msg += ": every worker is failing its health checks or shutting down"
	}
	m.metrics.Rejected(string(fail.Unavailable))
	j.outcome = string(fail.Unavailable)
	return fail.Wrap(fail.Unavailable, msg, err)
}

func (m *Master) busy(j *job, msg string, err error) error {
	m.metrics.Rejected(string(fail.Busy))
	j.outcome = string(fail.Busy)
	return &fail.Error{Code: fail.Busy, Message: msg, Cause: err, RetryAfter: busyRetryAfter}
}

// stoppedMessage tells a client whose job a stopping master cut that another
// master, or this one restarted, can take it: "unavailable" is what v1.0 and v2
// clients retry.
const stoppedMessage = "unavailable: the master is shutting down and its grace period (grace) ended before the job did; retry"

// stopped reports whether a job's context ended because the master's grace
// period after a stop did (the job's own deadline ends it as DeadlineExceeded,
// its client's leaving with serve.ErrClientGone).
func stopped(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled) && !errors.Is(context.Cause(ctx), serve.ErrClientGone)
}

// ended is the error of a job whose context ended before it did.
func (m *Master) ended(j *job, err error) error {
	ctx := j.req.Context()
	switch {
	case errors.Is(context.Cause(ctx), serve.ErrClientGone):
		j.outcome = "client_gone"
		return err
	case stopped(ctx):
		j.outcome = "stopped"
		return fail.Wrap(fail.Unavailable, stoppedMessage, err)
	}
	j.outcome = "timeout"
	return fail.Wrap(fail.Timeout, fmt.Sprintf("the job took longer than the %s limit (job-timeout)", m.cfg.JobTimeout), err)
}

// sleepCtx waits d unless ctx ends first; it reports whether the wait completed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
