package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// Code is the machine-readable kind of a server's refusal, as protocol v2 sends it.
type Code = fail.Code

// The codes of protocol v2 (fail's table gives each one's meaning). A code this
// package does not know is treated as CodeInternal, since a newer server may
// add codes.
const (
	CodeBadRequest           = fail.BadRequest
	CodeUnauthorized         = fail.Unauthorized
	CodeUnsupportedOperation = fail.UnsupportedOperation
	CodeTypeMismatch         = fail.TypeMismatch
	CodeChecksumMismatch     = fail.ChecksumMismatch
	CodeTooLarge             = fail.TooLarge
	CodeLimitExceeded        = fail.LimitExceeded
	CodeConversionFailed     = fail.ConversionFailed
	CodeBusy                 = fail.Busy
	CodeUnavailable          = fail.Unavailable
	CodeTimeout              = fail.Timeout
	CodeInternal             = fail.Internal
)

// Errors to match with errors.Is: one per code, from fail's table. A
// *ServerError matches the one of its Code and ErrServer; ErrChecksum and
// ErrBadRequest also mark failures found on this side (a result whose SHA-256
// is wrong, options that cannot be sent).
var (
	ErrServer       = errors.New("server error")
	ErrBusy         = fail.Busy.Spec().Sentinel
	ErrUnavailable  = fail.Unavailable.Spec().Sentinel
	ErrTimeout      = fail.Timeout.Spec().Sentinel
	ErrUnauthorized = fail.Unauthorized.Spec().Sentinel
	ErrTooLarge     = fail.TooLarge.Spec().Sentinel
	ErrTypeMismatch = fail.TypeMismatch.Spec().Sentinel
	ErrChecksum     = fail.ChecksumMismatch.Spec().Sentinel
	ErrBadRequest   = fail.BadRequest.Spec().Sentinel
	ErrUnsupported  = fail.UnsupportedOperation.Spec().Sentinel
	ErrLimit        = fail.LimitExceeded.Spec().Sentinel
	ErrConversion   = fail.ConversionFailed.Spec().Sentinel
	ErrInternal     = fail.Internal.Spec().Sentinel
)

// ServerError is a conversion the server refused or could not do.
type ServerError struct {
	// Message is the server's explanation, for people.
	Message string
	// Code is the kind of error: sent by a v2 server, inferred from Message for
	// a v1.0 one (CodeInternal when the message is not recognised).
	Code Code
	// JobID identifies the job in the server's logs (v2 only; may be empty).
	JobID string
	// RetryAfter is how long the server asked the client to wait (v2 only).
	RetryAfter time.Duration
	// Protocol is "v1.0" or "v2.0", the protocol the answer came in.
	Protocol string
}

func (e *ServerError) Error() string {
	// v1.0 messages already start with their kind ("busy: ..."); v2 keeps it apart.
	if e.Protocol == wire.Version10 {
		return "server: " + e.Message
	}
	s := "server: " + string(e.Code) + ": " + e.Message
	if strings.HasPrefix(e.Message, string(e.Code)+":") {
		s = "server: " + e.Message // v1.0's "busy: ..." kept in v2
	}
	if e.JobID != "" {
		s += " (job " + e.JobID + ")"
	}
	return s
}

// Is lets errors.Is match ErrServer for every *ServerError, and the sentinel of
// its code (ErrBusy, ErrUnauthorized, ...).
func (e *ServerError) Is(target error) bool {
	if target == ErrServer {
		return true
	}
	return target == e.Code.Spec().Sentinel
}

// Temporary reports whether the same request may succeed later: the server was
// busy or had no worker.
func (e *ServerError) Temporary() bool { return e.Code == CodeBusy || e.Code == CodeUnavailable }

func newV1Error(msg string) *ServerError {
	return &ServerError{Message: msg, Code: fail.FromV1(msg), Protocol: wire.Version10}
}

func newV2Error(e *wire.ErrorResponse) *ServerError {
	return &ServerError{Message: e.Message, Code: e.Code, JobID: e.JobID, RetryAfter: e.RetryAfter, Protocol: wire.Version20}
}

// dialError is a failure to connect: nothing reached the server, so the request
// can be sent again unless the failure is about certificates, which waiting does
// not fix.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// lostError is a connection that broke after it was made and before the whole
// answer came: the server stopped, restarted or died, or the network failed.
// The server may have converted the file or not; either way a conversion
// changes nothing but its answer, so the request can be sent again as long as
// nothing of a partial answer stays in the output.
type lostError struct{ err error }

func (e *lostError) Error() string {
	return "the connection to the server broke before the answer was complete: " + e.err.Error()
}
func (e *lostError) Unwrap() error { return e.err }

// lost marks err, a failure to read from or write to the server, as a lost
// connection, unless the server refused the client's certificate.
func lost(err error) error {
	if refusedByTLS(err) {
		return err
	}
	return &lostError{err}
}

// refusedByTLS reports a failure of certificates or of the TLS handshake, sent
// by either side, which trying again does not fix.
func refusedByTLS(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	var aerr tls.AlertError
	var oerr *net.OpError
	// An alert from the server (a client certificate it refuses, which TLS 1.3
	// reports only after the handshake) is a net.OpError "remote error".
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) ||
		errors.As(err, &cerr) || errors.As(err, &aerr) || errors.As(err, &oerr) && oerr.Op == "remote error"
}

// retryable reports whether a failed attempt may be repeated unchanged, once
// the output holds nothing of it.
func retryable(err error) bool {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var de *dialError
	var le *lostError
	return errors.As(err, &de) && !refusedByTLS(err) || errors.As(err, &le)
}

func retryAfter(err error) time.Duration {
	var se *ServerError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

func checksumError(want, got [32]byte) error {
	return fmt.Errorf("the result's SHA-256 is %x but the server announced %x: %w", got, want, ErrChecksum)
}
