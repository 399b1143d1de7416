package master

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/fileconv/fileconv/internal/bufpool"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// attemptEnd says how one try on one worker ended.
type attemptEnd int

const (
	attemptDone         attemptEnd = iota // answered (success or the worker's error), or the client failed
	attemptUnreachable                    // nothing past what the master holds reached the worker: move the job freely
	attemptWorkerFailed                   // the worker broke before answering: move it if the body can be replayed
)

// attempt runs the job on one worker, over protocol v2 whatever the client
// speaks, on a pooled connection when one is idle. replay, when not nil, holds
// the body read so far, so that another attempt can send it again.
func (m *Master) attempt(j *job, be *backend, replay *bytes.Buffer) (attemptEnd, error) {
	ctx := j.req.Context()
	wconn, err := m.workerConn(ctx, be)
	if err != nil {
		if ctx.Err() != nil {
			return attemptDone, m.ended(j, err)
		}
		return attemptUnreachable, err
	}
	// When the job's time is up, its client leaves, or the master's grace
	// period after a stop ends, closing the worker's connection ends any wait
	// on the worker and tells it to drop the conversion.
	cut := context.AfterFunc(ctx, func() { wconn.Close() })
	reusable := false
	defer func() {
		if cut() && reusable {
			m.putIdle(be, wconn)
		} else {
			wconn.Close()
		}
	}()
	deadline, _ := ctx.Deadline()
	worker := &serve.Conn{Conn: wconn, Idle: m.cfg.IOTimeout, Until: deadline}
	if end, answered, err := m.send(j, worker, replay); err != nil || answered {
		return end, err
	}
	j.log.Debug("request relayed; waiting for the worker's answer", "worker", j.worker)
	// Waiting for the answer is waiting for the conversion: bounded by the job
	// deadline, not by the idle timeout.
	worker.Idle = m.cfg.JobTimeout
	f, err := wire.ReadFrameHeader(worker, 0)
	worker.Idle = m.cfg.IOTimeout
	switch {
	case err != nil && (ctx.Err() != nil || isTimeout(err)):
		return attemptDone, m.ended(j, err)
	case err != nil:
		return attemptWorkerFailed, err
	case f.Type == wire.FrameError:
		err = m.relayError(j, f)
		reusable = err == nil
	case f.Type == wire.FrameResult:
		err = m.relayResult(worker, j, f)
		reusable = j.outcome == "ok"
	default:
		return attemptWorkerFailed, fmt.Errorf("worker answered with a %s frame", f.Type)
	}
	if err != nil && errors.Is(context.Cause(ctx), serve.ErrClientGone) {
		j.outcome = "client_gone"
	}
	return attemptDone, err
}

// send writes the CONVERT and the body to the worker: what the master already
// holds, then the rest as the client sends it. answered says that the worker
// refused the job before taking all of it and that its answer went to the client.
func (m *Master) send(j *job, worker *serve.Conn, replay *bytes.Buffer) (end attemptEnd, answered bool, err error) {
	held := j.head
	if replay != nil {
		held = replay.Bytes()
	}
	// Until the master reads past what it holds, a failed worker costs the job
	// nothing: it can go elsewhere whole.
	failed := func(err error) (attemptEnd, bool, error) {
		if j.req.BodyRead() == uint64(len(held)) {
			return attemptUnreachable, false, err
		}
		return attemptWorkerFailed, false, err
	}
	req := wire.ConvertRequest{Token: wire.RelayJobPrefix + j.req.JobID, Target: j.req.Target, Name: relayName(j.req.Name),
		Size: j.req.Size, SHA256: j.req.SHA256, MD5: j.req.MD5, Options: j.req.Options, Files: j.req.Files}
	if err := wire.WriteConvert(worker, req); err != nil {
		return failed(err)
	}
	if _, err := worker.Write(held); err != nil {
		return failed(err)
	}
	if j.req.BodyRead() == j.req.Size {
		return attemptDone, false, nil
	}
	buf := make([]byte, relayBufferSize)
	werr, cerr := copyBody(worker, j.req.Body, replay, buf)
	switch {
	case cerr != nil:
		return attemptDone, false, m.clientFailed(j, cerr)
	case werr != nil:
		// The worker may have answered early (a rejected request) and closed.
		// Its answer, if complete, is better than a retry.
		worker.Idle = time.Second
		if f, ferr := wire.ReadFrameHeader(worker, 0); ferr == nil && f.Type == wire.FrameError {
			return attemptDone, true, m.relayError(j, f)
		}
		return attemptWorkerFailed, false, werr
	}
	return attemptDone, false, nil
}

// copyBody relays the rest of the body to dst through buf, copying it to tee
// when set, and says which side failed, since the two are handled differently.
func copyBody(dst io.Writer, body io.Reader, tee *bytes.Buffer, buf []byte) (werr, cerr error) {
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if tee != nil {
				tee.Write(buf[:n])
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr, nil
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// relayName fits a v1.0 file name, or a v2 one, into what a worker accepts.
func relayName(name string) string {
	if len(name) > wire.MaxNameLen {
		return name[:wire.MaxNameLen]
	}
	return name
}

// relayError forwards a worker's ERROR to the client.
func (m *Master) relayError(j *job, f wire.Frame) error {
	e, err := wire.DecodeErrorResponse(f)
	if err != nil {
		j.outcome = "worker_failed"
		return fail.Wrap(fail.Unavailable, fmt.Sprintf("worker %s sent an answer that is not valid", j.worker), err)
	}
	j.outcome = string(e.Code)
	j.log.Info("the worker refused the job", "code", e.Code, "reason", e.Message)
	return j.w.Error(&fail.Error{Code: e.Code, Message: e.Message, RetryAfter: e.RetryAfter})
}

// relayResult streams a worker's RESULT to the client.
func (m *Master) relayResult(worker *serve.Conn, j *job, f wire.Frame) error {
	res, err := wire.DecodeResult(f)
	if err != nil {
		j.outcome = "worker_failed"
		return fail.Wrap(fail.Unavailable, fmt.Sprintf("worker %s sent an answer that is not valid", j.worker), err)
	}
	// res goes to the client's responder as decoded, warnings included: a v2
	// client gets them in its RESULT; v1.0 has no place for them.
	j.outSize, j.warnings = res.Size, len(res.Warnings)
	out, err := j.w.Result(res)
	if err != nil {
		j.outcome = "client_failed"
		return fmt.Errorf("send result to client: %w", err)
	}
	n, err := io.CopyBuffer(out, io.LimitReader(worker, int64(res.Size)), make([]byte, relayBufferSize))
	if err == nil && uint64(n) < res.Size {
		// A worker that closes its connection cleanly mid-answer ends the copy
		// without an error.
		err = fmt.Errorf("the worker sent %d of the %d bytes it announced: %w", n, res.Size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		// Part of the answer is out: the client will see a short read, and the
		// log says whose fault it was.
		j.outcome = "relay_failed"
		return fmt.Errorf("relay result: %w", err)
	}
	j.outcome = "ok"
	return nil
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
