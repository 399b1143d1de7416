package worker

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/serve"
	"github.com/fileconv/fileconv/internal/wire"
)

// idleTimeout is how long a v2 connection may sit between requests. It is longer
// than the master's idle time for pooled connections, so that the master, not
// the worker, closes them and never sends a job into a closing connection.
const idleTimeout = 2 * time.Minute

// serveV2 answers protocol v2 frames on one connection until the peer closes it,
// stays idle too long, or breaks the framing.
func (s *Server) serveV2(ctx context.Context, raw *tls.Conn, log *slog.Logger) {
	conn := &serve.Conn{Conn: raw, Idle: idleTimeout}
	guard := serve.GuardIdle(s.stopping, raw)
	defer guard.Release()
	for guard.SetIdle(true) {
		conn.Idle, conn.Until = idleTimeout, time.Time{}
		f, err := wire.ReadFrameHeader(conn, 0)
		guard.SetIdle(false)
		if err != nil {
			if errors.Is(err, wire.ErrProtocol) {
				log.Info("v2 protocol error; closing", "err", err)
				_ = wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: wire.CodeBadRequest, Message: err.Error()})
			}
			return
		}
		conn.Idle = s.cfg.IOTimeout
		switch f.Type {
		case wire.FramePing:
			p, err := wire.DecodePing(f)
			if err != nil {
				_ = wire.WriteErrorResponse(conn, asErrorResponse(err))
				return
			}
			if err := wire.WritePong(conn, wire.Pong{ID: p.ID}); err != nil {
				return
			}
		case wire.FrameConvert:
			req, err := wire.DecodeConvertRequest(f)
			var r request
			if err != nil {
				e := asErrorResponse(err)
				r = request{size: f.BodySize, invalid: e.Message}
				if e.Code != wire.CodeBadRequest {
					_ = wire.WriteErrorResponse(conn, e)
					serve.Drain(raw, f.BodySize, s.cfg.DrainLimit, time.Second)
					return
				}
			} else {
				r = request{op: req.Op, name: req.Name, size: req.Size, token: req.Token, sha256: req.SHA256, md5: req.MD5,
					options: convert.Options{Quality: req.Options.Quality, Lossless: req.Options.Lossless, PageSize: req.Options.PageSize, Pages: req.Options.Pages}}
			}
			if !s.runJob(ctx, raw, conn, r, v2Reply{conn}, log) {
				return
			}
		default:
			_ = wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: wire.CodeBadRequest, Message: "a " + f.Type.String() + " frame is an answer; send CONVERT or PING"})
			return
		}
	}
}

func asErrorResponse(err error) *wire.ErrorResponse {
	var e *wire.ErrorResponse
	if errors.As(err, &e) {
		return e
	}
	return &wire.ErrorResponse{Code: wire.CodeBadRequest, Message: err.Error()}
}

type v2Reply struct{ w io.Writer }

func (r v2Reply) result(jobID string, op wire.Operation, res convert.Result) error {
	err := wire.WriteResult(r.w, wire.Result{
		JobID: jobID, Size: uint64(len(res.Output)), SHA256: sha256.Sum256(res.Output),
		InputType: res.InputType.Name(), ContentType: op.ContentType(), ReplacedChars: res.Replaced,
	})
	if err != nil {
		return err
	}
	_, err = r.w.Write(res.Output)
	return err
}

func (r v2Reply) fail(jobID string, code wire.ErrorCode, msg string) error {
	return wire.WriteErrorResponse(r.w, &wire.ErrorResponse{JobID: jobID, Code: code, Message: msg})
}
