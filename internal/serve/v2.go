package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/fileconv/fileconv/internal/wire"
)

// V2Loop is the frame loop of a protocol v2 connection, the same on both tiers.
type V2Loop struct {
	// Idle is how long the connection may sit between requests; IO bounds each
	// read and write within one.
	Idle, IO time.Duration
	// Stopping, once done, closes the connection when it is between requests.
	Stopping context.Context
	Logger   *slog.Logger
	// Convert serves one CONVERT frame (its body still to be read) and reports
	// whether the connection can carry another request.
	Convert func(f wire.Frame) bool
}

// Serve answers frames on conn (the deadline-setting wrapper of raw) until the peer
// closes, idles past Idle, a stop comes between requests, or the framing breaks.
// PINGs are answered here; an answer-type frame from the peer ends the connection.
func (l *V2Loop) Serve(raw net.Conn, conn *Conn) {
	guard := GuardIdle(l.Stopping, raw)
	defer guard.Release()
	for guard.SetIdle(true) {
		conn.Idle, conn.Until = l.Idle, time.Time{}
		f, err := wire.ReadFrameHeader(conn, 0)
		guard.SetIdle(false)
		conn.Idle = l.IO
		if err != nil {
			if errors.Is(err, wire.ErrProtocol) {
				l.Logger.Info("v2 protocol error; closing", "err", err)
				_ = wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: wire.CodeBadRequest, Message: err.Error()})
			}
			return
		}
		switch f.Type {
		case wire.FramePing:
			p, err := wire.DecodePing(f)
			if err != nil {
				_ = wire.WriteErrorResponse(conn, AsErrorResponse(err))
				return
			}
			if err := wire.WritePong(conn, wire.Pong{ID: p.ID}); err != nil {
				return
			}
		case wire.FrameConvert:
			if !l.Convert(f) {
				return
			}
		default:
			_ = wire.WriteErrorResponse(conn, &wire.ErrorResponse{Code: wire.CodeBadRequest, Message: "a " + f.Type.String() + " frame is an answer; send CONVERT or PING"})
			return
		}
	}
}

// AsErrorResponse returns err as the protocol's error answer; an error that is
// not one already is a bad request.
func AsErrorResponse(err error) *wire.ErrorResponse {
	var e *wire.ErrorResponse
	if errors.As(err, &e) {
		return e
	}
	return &wire.ErrorResponse{Code: wire.CodeBadRequest, Message: err.Error()}
}
