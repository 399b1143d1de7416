package testnet

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// ReadConvert reads the body of the CONVERT frame f from r and decodes the
// request. refused is what a server answers when the frame's header is invalid
// (the body has been read, so the connection stays usable); err means the
// connection is broken.
func ReadConvert(r io.Reader, f wire.Frame) (req wire.ConvertRequest, body []byte, refused *wire.ErrorResponse, err error) {
	req, derr := wire.DecodeConvertRequest(f)
	body = make([]byte, f.BodySize)
	if _, err := io.ReadFull(r, body); err != nil {
		return req, nil, nil, fmt.Errorf("read body: %w", err)
	}
	if derr != nil {
		if !errors.As(derr, &refused) {
			refused = &wire.ErrorResponse{Code: fail.BadRequest, Message: derr.Error()}
		}
	}
	return req, body, refused, nil
}

// WriteResult answers a CONVERT request with out as the result, in one write.
func WriteResult(w io.Writer, res wire.Result, out []byte) error {
	res.Size = uint64(len(out))
	if res.SHA256 == ([32]byte{}) {
		res.SHA256 = sha256.Sum256(out)
	}
	var frame writeBuffer
	if err := wire.WriteResult(&frame, res); err != nil {
		return err
	}
	frame = append(frame, out...)
	_, err := w.Write(frame)
	return err
}

type writeBuffer []byte

func (b *writeBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// NextConvert reads frames from r until a valid CONVERT arrives, answering
// PINGs and refusing invalid CONVERTs on w, as a fake v2 server's loop does. ok
// is false once the connection ended, broke, or carried another frame type.
func NextConvert(r io.Reader, w io.Writer) (req wire.ConvertRequest, body []byte, ok bool) {
	for {
		f, err := wire.ReadFrameHeader(r, 0)
		if err != nil {
			return req, nil, false
		}
		switch f.Type {
		case wire.FramePing:
			p, _ := wire.DecodePing(f)
			wire.WritePong(w, wire.Pong{ID: p.ID})
			continue
		case wire.FrameConvert, wire.FrameConvertFiles:
		default:
			return req, nil, false
		}
		req, body, refused, err := ReadConvert(r, f)
		switch {
		case err != nil:
			return req, nil, false
		case refused != nil:
			wire.WriteErrorResponse(w, refused)
			continue
		}
		return req, body, true
	}
}
