package master

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fileconv/fileconv/internal/bufpool"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// clientIdleTimeout is how long a v2 client connection may sit between requests.
const clientIdleTimeout = 2 * time.Minute

// busyRetryAfter is what a v2 client is told to wait before retrying a busy answer.
const busyRetryAfter = time.Second

// job is the state of one request as it crosses the master.
type job struct {
	id        string
	proto     int // 1 or 2: the protocol the client speaks
	start     time.Time
	header    wire.Header // v1.0's header; for v2, the same fields from the CONVERT
	sha256    [32]byte    // v2 only
	options   wire.ConvertOptions
	client    *serve.Conn
	log       *slog.Logger
	worker    string
	inputType convert.Type
	bodyRead  uint64 // bytes of the body taken from the client so far
	outSize   uint64
	queueWait time.Duration
	retried   bool
	answered  bool // the client has its whole answer: a v2 connection may carry on
}

func (m *Master) handle(ctx context.Context, raw *tls.Conn) {
	conn := &serve.Conn{Conn: raw, Idle: m.cfg.HeaderTimeout}
	// The first four bytes say which protocol the client speaks.
	var version [4]byte
	if _, err := io.ReadFull(conn, version[:]); err != nil {
		j := &job{id: serve.NewJobID(), proto: 1, start: time.Now(), client: conn}
		j.log = m.log.With("job", j.id, "client", raw.RemoteAddr().String())
		m.rejectHeader(j, err)
		return
	}
	if string(version[:]) == wire.Version20 {
		m.serveV2(ctx, raw, conn)
		return
	}
	j := &job{id: serve.NewJobID(), proto: 1, start: time.Now(), client: conn}
	j.log = m.log.With("job", j.id, "client", raw.RemoteAddr().String())
	h, err := wire.ReadHeader(io.MultiReader(bytes.NewReader(version[:]), conn))
	if err != nil {
		m.rejectHeader(j, err)
		return
	}
	j.header = h
	m.runJob(ctx, raw, j)
}

// serveV2 answers protocol v2 frames on one client connection.
func (m *Master) serveV2(ctx context.Context, raw *tls.Conn, conn *serve.Conn) {
	log := m.log.With("client", raw.RemoteAddr().String(), "protocol", "v2")
	loop := serve.V2Loop{Idle: clientIdleTimeout, IO: m.cfg.IOTimeout, Stopping: m.stopping, Logger: log,
		Convert: func(f wire.Frame) bool {
			j := &job{id: serve.NewJobID(), proto: 2, start: time.Now(), client: conn}
			j.log = log.With("job", j.id)
			j.header = wire.Header{Version: wire.Version10, Size: f.BodySize}
			req, err := wire.DecodeConvertRequest(f)
			if err != nil {
				e := serve.AsErrorResponse(err)
				m.rejectCode(j, "bad_request", e.Code, e.Message)
				return j.bodyRead == j.header.Size
			}
			j.header = wire.Header{Version: wire.Version10, Token: req.Token, Filename: req.Name, Size: req.Size, Operation: req.Op}
			j.sha256, j.options = req.SHA256, req.Options
			return m.runJob(ctx, raw, j)
		}}
	loop.Serve(raw, conn)
}

// runJob checks a request, relays it and logs its line. It reports whether the
// client's connection can carry another request.
func (m *Master) runJob(ctx context.Context, raw *tls.Conn, j *job) bool {
	h := j.header
	j.log = j.log.With("op", int(h.Operation), "file", wire.Printable(h.Filename), "size", h.Size)
	if msg, outcome := m.check(h, j.proto); msg != "" {
		if outcome == "unauthorized" {
			m.metrics.AuthFailed()
			delay, count := m.auth.failed(raw.RemoteAddr().String())
			j.log.Warn("authentication failed", "failures_from_address", count, "delay", delay)
			if !sleepCtx(ctx, delay) {
				return false
			}
		}
		m.reject(j, outcome, msg)
		return j.bodyRead == h.Size
	}
	m.auth.succeeded(raw.RemoteAddr().String())

	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	done := m.metrics.JobStarted(strconv.Itoa(int(h.Operation)))
	j.client.Idle = m.cfg.IOTimeout
	j.client.Until = j.start.Add(m.cfg.JobTimeout)
	jobCtx, cancel := context.WithDeadline(ctx, j.client.Until)
	defer cancel()
	outcome, msg, err := m.relay(jobCtx, raw, j)
	done(outcome, int64(j.bodyRead), int64(j.outSize))

	attrs := []any{"outcome", outcome, "input_type", j.inputType.String(), "worker", j.worker,
		"queue_wait", j.queueWait, "out_size", j.outSize, "duration", time.Since(j.start)}
	if j.retried {
		attrs = append(attrs, "retried", true)
	}
	if msg != "" {
		attrs = append(attrs, "reason", msg)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	j.log.Info("job finished", attrs...)
	return j.answered && j.bodyRead == h.Size
}

// overflow answers a connection past MaxConns.
func (m *Master) overflow(ctx context.Context, raw *tls.Conn) {
	m.metrics.Rejected("max_conns")
	j := &job{id: serve.NewJobID(), proto: 1, start: time.Now(), client: &serve.Conn{Conn: raw, Idle: m.cfg.HeaderTimeout}}
	j.log = m.log.With("job", j.id, "client", raw.RemoteAddr().String())
	var version [4]byte
	if _, err := io.ReadFull(j.client, version[:]); err != nil {
		return
	}
	if string(version[:]) == wire.Version20 {
		j.proto = 2
		if f, err := wire.ReadFrameHeader(j.client, 0); err == nil {
			j.header.Size = f.BodySize
		}
	} else if h, err := wire.ReadHeader(io.MultiReader(bytes.NewReader(version[:]), j.client)); err == nil {
		j.header = h
	}
	m.reject(j, "busy", fmt.Sprintf("busy: the server is at its limit of %d connections; retry in a few seconds", m.cfg.MaxConns))
}

// check validates a header; it returns the client's error message and the log
// outcome, or "" when the request may proceed.
func (m *Master) check(h wire.Header, proto int) (msg, outcome string) {
	if proto == 1 {
		if err := h.ValidateVersionAndOperation(); err != nil {
			return err.Error(), "bad_header"
		}
	}
	if !m.tokens.Match(h.Token) {
		return "Invalid authentication token", "unauthorized"
	}
	if h.Size > uint64(m.cfg.MaxBodyBytes) {
		return serve.TooLarge(h.Size, m.cfg.MaxBodyBytes), "too_large"
	}
	if h.Size == 0 {
		return "empty input: the file has 0 bytes", "empty"
	}
	return "", ""
}

func (m *Master) rejectHeader(j *job, err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		// Connected, shook hands and left: a TCP health check, not a job.
		j.log.Debug("connection closed before a header")
		return
	case errors.As(err, &ne) && ne.Timeout():
		m.reject(j, "header_timeout", fmt.Sprintf("timed out after %s waiting for the 94-byte request header", m.cfg.HeaderTimeout))
	default:
		m.reject(j, "bad_header", "could not read the 94-byte request header: "+err.Error())
	}
}

// codes maps log outcomes to protocol v2 error codes.
var codes = map[string]wire.ErrorCode{
	"unauthorized":   wire.CodeUnauthorized,
	"bad_header":     wire.CodeBadRequest,
	"bad_request":    wire.CodeBadRequest,
	"empty":          wire.CodeBadRequest,
	"too_large":      wire.CodeTooLarge,
	"header_timeout": wire.CodeTimeout,
	"client_timeout": wire.CodeTimeout,
	"timeout":        wire.CodeTimeout,
	"busy":           wire.CodeBusy,
	"unavailable":    wire.CodeUnavailable,
	"worker_failed":  wire.CodeUnavailable,
	"stopped":        wire.CodeUnavailable,
}

// reject answers with an error and then drains what the client is still sending,
// so that it reads the message rather than a connection reset.
func (m *Master) reject(j *job, outcome, msg string) {
	code, ok := codes[outcome]
	if !ok {
		code = wire.CodeInternal
	}
	m.rejectCode(j, outcome, code, msg)
}

func (m *Master) rejectCode(j *job, outcome string, code wire.ErrorCode, msg string) {
	if outcome != "busy" {
		m.metrics.Rejected(outcome)
	}
	j.log.Info("job rejected", "outcome", outcome, "reason", msg, "duration", time.Since(j.start))
	j.client.Idle = m.cfg.IOTimeout
	m.writeError(j, code, msg)
	remaining := j.header.Size - j.bodyRead
	if j.proto == 2 && remaining <= uint64(m.cfg.DrainLimit) {
		// A v2 connection survives a rejected request once its body is read.
		if n, err := io.CopyN(io.Discard, j.client, int64(remaining)); err == nil {
			j.bodyRead += uint64(n)
			return
		}
	}
	serve.Drain(j.client.Conn, remaining, m.cfg.DrainLimit, time.Second)
}

// writeError answers a job with an error in the client's protocol.
func (m *Master) writeError(j *job, code wire.ErrorCode, msg string) {
	// The job's deadline may be what failed it; the message still deserves its
	// write. (A write that times out leaves TLS broken: the client would read
	// "bad record MAC" instead of the reason.)
	j.client.Until = time.Time{}
	if j.proto == 1 {
		_ = wire.WriteError(j.client, msg)
		return
	}
	e := &wire.ErrorResponse{JobID: j.id, Code: code, Message: msg}
	if code == wire.CodeBusy {
		e.RetryAfter = busyRetryAfter
	}
	if len(e.Message) > wire.MaxMessageLen {
		e.Message = e.Message[:wire.MaxMessageLen]
	}
	_ = wire.WriteErrorResponse(j.client, e)
}

// attemptResult says how one try on one worker ended.
type attemptResult int

const (
	attemptDone         attemptResult = iota // answered (success or the worker's error), or the client failed
	attemptUnreachable                       // nothing reached the worker: move the job freely
	attemptWorkerFailed                      // the worker broke before answering: move it if the body can be replayed
)

// relay sends the job to a worker and the answer back, moving it to another
// worker when one cannot be reached or breaks before answering. It returns the
// outcome for the log line and, for failures, the client's message and the cause.
func (m *Master) relay(ctx context.Context, raw *tls.Conn, j *job) (outcome, msg string, err error) {
	replay := m.retry.reserve(j.header.Size)
	defer m.retry.release(replay, j.header.Size)
	tried := map[*backend]bool{}
	var failures []string
	for {
		be, wait, err := m.pool.acquire(ctx, tried)
		j.queueWait += wait
		m.metrics.QueueWait(wait)
		if err != nil {
			return m.noWorker(j, err, failures)
		}
		tried[be] = true
		j.worker = be.addr
		result, outcome, msg, err := m.attempt(ctx, raw, j, be, replay)
		m.pool.release(be)
		if result != attemptDone && stopped(ctx) {
			// Cut by the master's own stop, not by the worker: neither a
			// failure of the worker nor a reason to try another.
			outcome, msg, err := m.ended(ctx, j, err)
			m.metrics.WorkerJob(be.addr, outcome)
			return outcome, msg, err
		}
		switch result {
		case attemptDone:
			switch outcome {
			case "timeout":
				// A worker that held a job past its deadline is as good as down.
				m.pool.failed(be, err)
			case "worker_failed", "relay_failed", "stopped":
			default:
				m.pool.succeeded(be)
			}
			m.metrics.WorkerJob(be.addr, outcome)
			return outcome, msg, err
		case attemptUnreachable:
			m.pool.failed(be, err)
			m.metrics.WorkerJob(be.addr, "unreachable")
			j.log.Warn("worker unreachable; trying another", "worker", be.addr, "err", err)
			failures = append(failures, fmt.Sprintf("%s: %v", be.addr, err))
			continue
		}
		// The worker broke after the body started going to it.
		m.pool.failed(be, err)
		m.metrics.WorkerJob(be.addr, "worker_failed")
		failures = append(failures, fmt.Sprintf("%s: %v", be.addr, err))
		if j.retried {
			return m.fail(j, "worker_failed", fmt.Sprintf("workers %s and %s both failed during the job", j.worker, strings.SplitN(failures[len(failures)-2], ": ", 2)[0]), err)
		}
		if replay == nil && j.bodyRead > 0 {
			return m.fail(j, "worker_failed", fmt.Sprintf("worker %s failed during the job, and a file over the %d-byte retry buffer (retry-buffer) cannot be sent again: please retry", be.addr, m.cfg.RetryBufferBytes), err)
		}
		if replay != nil && j.bodyRead < j.header.Size {
			// Take the rest of the body now, so the next worker gets it whole.
			// Hidden from io.Copy, the buffer's ReadFrom, which wants 512 spare
			// bytes before every read, cannot grow it past its pooled size.
			n, err := io.CopyN(struct{ io.Writer }{replay}, j.client, int64(j.header.Size-j.bodyRead))
			j.bodyRead += uint64(n)
			if err != nil {
				return "client_failed", "", fmt.Errorf("receive body from client: %w", err)
			}
		}
		j.retried = true
		m.metrics.Retried()
		j.log.Warn("worker failed during the job; retrying on another", "worker", be.addr, "err", err)
	}
}

// noWorker turns the pool's refusal into the client's error.
func (m *Master) noWorker(j *job, err error, failures []string) (string, string, error) {
	switch {
	case errors.Is(err, errQueueFull):
		return m.busy(j, fmt.Sprintf("busy: every worker is at capacity and %d jobs are already waiting; retry in a few seconds", m.cfg.QueueSize), err)
	case errors.Is(err, errQueueTimeout):
		return m.busy(j, fmt.Sprintf("busy: every worker stayed at capacity for %s (queue-timeout); retry in a few seconds", m.cfg.QueueTimeout), err)
	case errors.Is(err, context.DeadlineExceeded):
		return m.fail(j, "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout) waiting for a worker", m.cfg.JobTimeout), err)
	case errors.Is(err, context.Canceled):
		return m.fail(j, "stopped", stoppedMessage, err)
	}
	msg := "no worker is available"
	if len(failures) > 0 {
		msg += ": " + strings.Join(failures, "; ")
	} else {
		msg += ": every worker is failing its health checks or shutting down"
	}
	m.reject(j, "unavailable", msg)
	return "unavailable", msg, err
}

func (m *Master) busy(j *job, msg string, err error) (string, string, error) {
	m.metrics.Rejected("busy")
	m.reject(j, "busy", msg)
	return "busy", msg, err
}

// attempt runs the job on one worker, over protocol v2 whatever the client
// speaks, on a pooled connection when one is idle. replay, when not nil, keeps
// the body so that another attempt can send it again; the first attempt fills it.
func (m *Master) attempt(ctx context.Context, raw *tls.Conn, j *job, be *backend, replay *bytes.Buffer) (result attemptResult, outcome, msg string, err error) {
	wconn, err := m.workerConn(ctx, be)
	if err != nil {
		if ctx.Err() != nil {
			outcome, msg, err := m.ended(ctx, j, err)
			return attemptDone, outcome, msg, err
		}
		return attemptUnreachable, "", "", err
	}
	// When the job's time is up, or the master's grace period after a stop,
	// closing the worker's connection ends any wait on the worker and tells it
	// to drop the conversion. (Read and write deadlines alone would leave a
	// stopping master waiting for the job deadline.)
	cut := context.AfterFunc(ctx, func() { wconn.Close() })
	reusable := false
	defer func() {
		if cut() && reusable {
			m.putIdle(be, wconn)
		} else {
			wconn.Close()
		}
	}()
	worker := &serve.Conn{Conn: wconn, Idle: m.cfg.IOTimeout, Until: j.client.Until}

	req := wire.ConvertRequest{Token: wire.RelayJobPrefix + j.id, Op: j.header.Operation, Name: relayName(j.header.Filename),
		Size: j.header.Size, SHA256: j.sha256, Options: j.options}
	if j.proto == 1 {
		req.MD5 = j.header.Checksum
	}
	if err := wire.WriteConvert(worker, req); err != nil {
		if j.bodyRead == 0 {
			return attemptUnreachable, "", "", err
		}
		return attemptWorkerFailed, "", "", err
	}

	buf := make([]byte, relayBufferSize)
	if replay != nil && replay.Len() > 0 {
		if _, err := worker.Write(replay.Bytes()); err != nil {
			return attemptWorkerFailed, "", "", err
		}
	}
	if j.bodyRead < j.header.Size {
		var tee io.Writer
		if replay != nil {
			tee = replay
		}
		side, err := m.copyBody(worker, j, tee, buf)
		if err != nil {
			if side == sideClient {
				if isTimeout(err) {
					// A slow client may still be listening: tell it why it is cut off.
					outcome, msg, err := m.fail(j, "client_timeout", fmt.Sprintf("timed out after %s waiting for the rest of the file", m.cfg.IOTimeout), err)
					return attemptDone, outcome, msg, err
				}
				return attemptDone, "client_failed", "", fmt.Errorf("receive body from client: %w", err)
			}
			// The worker may have answered early (a rejected request) and
			// closed. Its answer, if complete, is better than a retry.
			worker.Idle = time.Second
			if f, ferr := wire.ReadFrameHeader(worker, 0); ferr == nil && f.Type == wire.FrameError {
				outcome, msg, err := m.relayError(j, f)
				m.rejectCode(j, "early_error", wire.CodeBadRequest, "") // drains only; the answer is out
				return attemptDone, outcome, msg, err
			}
			return attemptWorkerFailed, "", "", err
		}
	}
	j.log.Debug("request relayed; waiting for the worker's answer", "worker", j.worker)

	// Reading from the client while the worker converts tells when it leaves.
	// A v1.0 client sends nothing more; a v2 client may send its next request,
	// which is kept for the next read.
	var clientGone atomic.Bool
	gone := func() {
		// Closing the worker's connection is what tells the worker to stop.
		clientGone.Store(true)
		wconn.Close()
	}
	var stopWatching func()
	if j.proto == 1 {
		stopWatching = serve.WatchPeer(raw, gone)
	} else {
		stopKeeping := serve.WatchPeerKeep(raw, gone)
		stopWatching = func() {
			if stopKeeping != nil {
				j.client.Pending = append(j.client.Pending, stopKeeping()...)
				stopKeeping = nil
			}
		}
	}
	// Waiting for the answer is waiting for the conversion: bounded by the job
	// deadline, not by the idle timeout.
	worker.Idle = m.cfg.JobTimeout
	f, err := wire.ReadFrameHeader(worker, 0)
	worker.Idle = m.cfg.IOTimeout
	if err != nil {
		stopWatching()
		switch {
		case clientGone.Load():
			return attemptDone, "client_gone", "", err
		case ctx.Err() != nil || isTimeout(err):
			outcome, msg, err := m.ended(ctx, j, err)
			return attemptDone, outcome, msg, err
		}
		return attemptWorkerFailed, "", "", err
	}
	switch f.Type {
	case wire.FrameError:
		outcome, msg, err = m.relayError(j, f)
		reusable = err == nil
	case wire.FrameResult:
		outcome, msg, err = m.relayResult(worker, j, f, buf)
		reusable = outcome == "ok"
	default:
		err = fmt.Errorf("worker answered with a %s frame", f.Type)
		stopWatching()
		return attemptWorkerFailed, "", "", err
	}
	stopWatching()
	if clientGone.Load() && err != nil {
		return attemptDone, "client_gone", "", err
	}
	return attemptDone, outcome, msg, err
}

// relayName fits a v1.0 file name, or a v2 one, into what a worker accepts.
func relayName(name string) string {
	if len(name) > wire.MaxNameLen {
		return name[:wire.MaxNameLen]
	}
	return name
}

// relayError forwards a worker's ERROR to the client in the client's protocol.
func (m *Master) relayError(j *job, f wire.Frame) (outcome, msg string, err error) {
	e, err := wire.DecodeErrorResponse(f)
	if err != nil {
		return m.fail(j, "worker_failed", fmt.Sprintf("worker %s sent an answer that is not valid", j.worker), err)
	}
	e.JobID = j.id
	m.writeError(j, e.Code, e.Message)
	j.answered = true
	return "error", e.Message, nil
}

// relayResult streams a worker's RESULT to the client: for v1.0 as an 8-byte size
// and the file, for v2 as the same RESULT frame.
func (m *Master) relayResult(worker *serve.Conn, j *job, f wire.Frame, buf []byte) (outcome, msg string, err error) {
	res, err := wire.DecodeResult(f)
	if err != nil {
		return m.fail(j, "worker_failed", fmt.Sprintf("worker %s sent an answer that is not valid", j.worker), err)
	}
	j.outSize = res.Size
	res.JobID = j.id
	if j.proto == 1 {
		var sizeHdr [wire.ResponseSizeLen]byte
		binary.BigEndian.PutUint64(sizeHdr[:], res.Size)
		_, err = j.client.Write(sizeHdr[:])
	} else {
		err = wire.WriteResult(j.client, res)
	}
	if err != nil {
		return "client_failed", "", fmt.Errorf("send result to client: %w", err)
	}
	n, err := io.CopyBuffer(j.client, io.LimitReader(worker, int64(res.Size)), buf)
	if err == nil && uint64(n) < res.Size {
		// A worker that closes its connection cleanly mid-answer ends the copy
		// without an error.
		err = fmt.Errorf("the worker sent %d of the %d bytes it announced: %w", n, res.Size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		// Part of the answer is out: the client will see a short read, and the
		// log says whose fault it was.
		return "relay_failed", "", fmt.Errorf("relay result: %w", err)
	}
	j.answered = true
	return "ok", "", nil
}

// stoppedMessage tells a client whose job a stopping master cut that another
// master, or this one restarted, can take it: "unavailable" is what v1.0 and v2
// clients retry.
const stoppedMessage = "unavailable: the master is shutting down and its grace period (grace) ended before the job did; retry"

// stopped reports whether a job's context ended because the master's grace
// period after a stop did (the job's own deadline ends it as DeadlineExceeded).
func stopped(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// ended answers a job whose context ended before it did.
func (m *Master) ended(ctx context.Context, j *job, err error) (string, string, error) {
	if stopped(ctx) {
		return m.fail(j, "stopped", stoppedMessage, err)
	}
	return m.fail(j, "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", m.cfg.JobTimeout), err)
}

// fail tells the client why its job failed, if nothing of the answer was sent yet.
func (m *Master) fail(j *job, outcome, msg string, err error) (string, string, error) {
	code, ok := codes[outcome]
	if !ok {
		code = wire.CodeInternal
	}
	m.writeError(j, code, msg)
	return outcome, msg, err
}

type side int

const (
	sideClient side = iota
	sideWorker
)

// copyBody relays the rest of the body from the client to the worker through buf,
// copying it to tee when set, and says which side failed, since the two failures
// are handled differently. The first bytes tell the input type for the log.
func (m *Master) copyBody(dst io.Writer, j *job, tee io.Writer, buf []byte) (side, error) {
	for j.bodyRead < j.header.Size {
		n, err := j.client.Read(buf[:min(uint64(len(buf)), j.header.Size-j.bodyRead)])
		if n > 0 {
			if j.bodyRead == 0 {
				j.inputType = convert.Detect(buf[:n])
			}
			j.bodyRead += uint64(n)
			if tee != nil {
				tee.Write(buf[:n])
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return sideWorker, werr
			}
		}
		if err != nil && j.bodyRead < j.header.Size {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("the client sent %d of the %d bytes its header announced: %w", j.bodyRead, j.header.Size, io.ErrUnexpectedEOF)
			}
			return sideClient, err
		}
	}
	return sideClient, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// retryBudget hands out the buffers that let a job be retried after its body went
// to a worker that then failed, within a cap on their total memory. Buffers come
// from bufpool, in power-of-two sizes, and are counted at that size.
type retryBudget struct {
	per, total int64
	mu         sync.Mutex
	used       int64
}

func (r *retryBudget) reserve(size uint64) *bytes.Buffer {
	if size > uint64(r.per) {
		return nil
	}
	held := int64(1) << bufpool.Class(size)
	r.mu.Lock()
	if r.used+held > r.total {
		r.mu.Unlock()
		return nil
	}
	r.used += held
	r.mu.Unlock()
	return bytes.NewBuffer(bufpool.Get(size))
}

// release returns the buffer reserve gave for size.
func (r *retryBudget) release(b *bytes.Buffer, size uint64) {
	if b == nil {
		return
	}
	r.mu.Lock()
	r.used -= int64(1) << bufpool.Class(size)
	r.mu.Unlock()
	b.Reset()
	bufpool.Put(b.AvailableBuffer())
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
