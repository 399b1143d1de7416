package master

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"log/slog"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// job is the state of one request as it crosses the master.
type job struct {
	id        string
	start     time.Time
	header    wire.Header
	client    *serve.Conn
	log       *slog.Logger
	worker    string
	inputType convert.Type
	bodyRead  uint64 // bytes of the body taken from the client so far
	outSize   uint64
	queueWait time.Duration
	retried   bool
}

func (m *Master) handle(ctx context.Context, raw *tls.Conn) {
	j := &job{id: serve.NewJobID(), start: time.Now()}
	j.client = &serve.Conn{Conn: raw, Idle: m.cfg.HeaderTimeout}
	j.log = m.log.With("job", j.id, "client", raw.RemoteAddr().String())

	h, err := wire.ReadHeader(j.client)
	if err != nil {
		m.rejectHeader(j, err)
		return
	}
	j.header = h
	j.log = j.log.With("op", int(h.Operation), "file", wire.Printable(h.Filename), "size", h.Size)
	if msg, outcome := m.check(h); msg != "" {
		if outcome == "unauthorized" {
			m.metrics.AuthFailed()
			j.log.Warn("authentication failed")
		}
		m.reject(j, outcome, msg)
		return
	}

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
}

// overflow answers a connection past MaxConns.
func (m *Master) overflow(ctx context.Context, raw *tls.Conn) {
	m.metrics.Rejected("max_conns")
	j := &job{id: serve.NewJobID(), start: time.Now(), client: &serve.Conn{Conn: raw, Idle: m.cfg.HeaderTimeout}}
	j.log = m.log.With("job", j.id, "client", raw.RemoteAddr().String())
	h, err := wire.ReadHeader(j.client)
	if err == nil {
		j.header = h
	}
	m.reject(j, "busy", fmt.Sprintf("busy: the server is at its limit of %d connections; retry in a few seconds", m.cfg.MaxConns))
}

// check validates a header; it returns the client's error message and the log
// outcome, or "" when the request may proceed.
func (m *Master) check(h wire.Header) (msg, outcome string) {
	if err := h.ValidateVersionAndOperation(); err != nil {
		return err.Error(), "bad_header"
	}
	if !m.cfg.Tokens.Match(h.Token) {
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

// reject answers with an error and then drains what the client is still sending,
// so that it reads the message rather than a connection reset.
func (m *Master) reject(j *job, outcome, msg string) {
	if outcome != "busy" {
		m.metrics.Rejected(outcome)
	}
	j.log.Info("job rejected", "outcome", outcome, "reason", msg, "duration", time.Since(j.start))
	j.client.Idle = m.cfg.IOTimeout
	_ = wire.WriteError(j.client, msg)
	serve.Drain(j.client.Conn, j.header.Size-j.bodyRead, m.cfg.DrainLimit, time.Second)
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
	defer m.retry.release(replay)
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
		switch result {
		case attemptDone:
			if outcome != "worker_failed" && outcome != "relay_failed" {
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
			n, err := io.CopyN(replay, j.client, int64(j.header.Size-j.bodyRead))
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

// attempt runs the job on one worker. replay, when not nil, keeps the body so
// that another attempt can send it again; it is filled on the first attempt.
func (m *Master) attempt(ctx context.Context, raw *tls.Conn, j *job, be *backend, replay *bytes.Buffer) (result attemptResult, outcome, msg string, err error) {
	wconn, err := m.dial(ctx, be)
	if err != nil {
		if ctx.Err() != nil {
			outcome, msg, err := m.fail(j, "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", m.cfg.JobTimeout), err)
			return attemptDone, outcome, msg, err
		}
		return attemptUnreachable, "", "", err
	}
	defer wconn.Close()
	worker := &serve.Conn{Conn: wconn, Idle: m.cfg.IOTimeout, Until: j.client.Until}

	fwd := j.header
	fwd.Token = wire.RelayJobPrefix + j.id
	hdr := fwd.Encode()
	if _, err := worker.Write(hdr[:]); err != nil {
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
			if outcome, msg, ok := m.relayEarlyAnswer(worker, j); ok {
				return attemptDone, outcome, msg, err
			}
			return attemptWorkerFailed, "", "", err
		}
	}
	j.log.Debug("request relayed; waiting for the worker's answer", "worker", j.worker)

	var clientGone atomic.Bool
	stopWatching := serve.WatchPeer(raw, func() {
		// Closing the worker's connection is what tells the worker to stop.
		clientGone.Store(true)
		wconn.Close()
	})
	// Waiting for the answer is waiting for the conversion: bounded by the job
	// deadline, not by the idle timeout.
	worker.Idle = m.cfg.JobTimeout
	size, err := wire.ReadResponseSize(worker)
	worker.Idle = m.cfg.IOTimeout
	if err != nil {
		stopWatching()
		switch {
		case clientGone.Load():
			return attemptDone, "client_gone", "", err
		case ctx.Err() != nil || isTimeout(err):
			outcome, msg, err := m.fail(j, "timeout", fmt.Sprintf("the job took longer than the %s limit (job-timeout)", m.cfg.JobTimeout), err)
			return attemptDone, outcome, msg, err
		}
		return attemptWorkerFailed, "", "", err
	}
	outcome, msg, err = m.relayAnswer(worker, j, size, buf)
	stopWatching()
	if clientGone.Load() && err != nil {
		return attemptDone, "client_gone", "", err
	}
	return attemptDone, outcome, msg, err
}

// relayAnswer streams a worker's answer of size bytes to the client. A short answer
// is read whole first so that an error's message can go in the log line.
func (m *Master) relayAnswer(worker *serve.Conn, j *job, size uint64, buf []byte) (outcome, msg string, err error) {
	j.outSize = size
	var sizeHdr [wire.ResponseSizeLen]byte
	binary.BigEndian.PutUint64(sizeHdr[:], size)
	if size <= uint64(len(buf)) {
		body := buf[:size]
		if _, err := io.ReadFull(worker, body); err != nil {
			return m.fail(j, "worker_failed", fmt.Sprintf("worker %s failed while sending the result", j.worker), err)
		}
		if _, err := j.client.Write(append(sizeHdr[:], body...)); err != nil {
			return "client_failed", "", fmt.Errorf("send result to client: %w", err)
		}
		if wire.IsError(body) {
			return "error", strings.TrimPrefix(string(body), wire.ErrorPrefix), nil
		}
		return "ok", "", nil
	}
	if _, err := j.client.Write(sizeHdr[:]); err != nil {
		return "client_failed", "", fmt.Errorf("send result to client: %w", err)
	}
	if _, err := io.CopyBuffer(j.client, io.LimitReader(worker, int64(size)), buf); err != nil {
		// Part of the answer is out: the client will see a short read, and the
		// log says whose fault it was.
		return "relay_failed", "", fmt.Errorf("relay result: %w", err)
	}
	return "ok", "", nil
}

// relayEarlyAnswer forwards an answer a worker sent before it had the whole body.
func (m *Master) relayEarlyAnswer(worker *serve.Conn, j *job) (outcome, msg string, ok bool) {
	worker.Idle = time.Second
	size, err := wire.ReadResponseSize(worker)
	if err != nil || size > 64<<10 {
		return "", "", false
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(worker, body); err != nil || !wire.IsError(body) {
		return "", "", false
	}
	j.outSize = size
	if err := wire.WriteResponse(j.client, body); err != nil {
		return "client_failed", "", true
	}
	serve.Drain(j.client.Conn, j.header.Size-j.bodyRead, m.cfg.DrainLimit, time.Second)
	return "error", strings.TrimPrefix(string(body), wire.ErrorPrefix), true
}

// fail tells the client why its job failed, if nothing of the answer was sent yet.
func (m *Master) fail(j *job, outcome, msg string, err error) (string, string, error) {
	_ = wire.WriteError(j.client, msg)
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
// to a worker that then failed, within a cap on their total memory.
type retryBudget struct {
	per, total int64
	mu         sync.Mutex
	used       int64
}

func (r *retryBudget) reserve(size uint64) *bytes.Buffer {
	if size > uint64(r.per) {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used+int64(size) > r.total {
		return nil
	}
	r.used += int64(size)
	return bytes.NewBuffer(make([]byte, 0, size))
}

func (r *retryBudget) release(b *bytes.Buffer) {
	if b == nil {
		return
	}
	r.mu.Lock()
	r.used -= int64(b.Cap())
	r.mu.Unlock()
}
