package worker

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
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

// serveV2 answers protocol v2 frames on one connection.
func (s *Server) serveV2(ctx context.Context, raw *tls.Conn, log *slog.Logger) {
	conn := &serve.Conn{Conn: raw, Idle: idleTimeout}
	loop := serve.V2Loop{Idle: idleTimeout, IO: s.cfg.IOTimeout, Stopping: s.stopping, Logger: log,
		Convert: func(f wire.Frame) bool {
			req, err := wire.DecodeConvertRequest(f)
			if err != nil {
				e := serve.AsErrorResponse(err)
				if e.Code != wire.CodeBadRequest {
					_ = wire.WriteErrorResponse(conn, e)
					serve.Drain(raw, f.BodySize, s.cfg.DrainLimit, time.Second)
					return false
				}
				return s.runJob(ctx, raw, conn, request{size: f.BodySize, invalid: e.Message, keepAlive: true}, v2Reply{conn}, log)
			}
			r := request{op: req.Op, name: req.Name, size: req.Size, token: req.Token, sha256: req.SHA256, md5: req.MD5, keepAlive: true,
				options: convert.Options{Quality: req.Options.Quality, Lossless: req.Options.Lossless, PageSize: req.Options.PageSize, Pages: req.Options.Pages}}
			return s.runJob(ctx, raw, conn, r, v2Reply{conn}, log)
		}}
	loop.Serve(raw, conn)
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
