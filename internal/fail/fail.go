// Package fail is fileconv's one error vocabulary. Every refusal or failure a user
// can see is an *Error with a Code; the v2 error code, the HTTP status, the Go
// client's sentinel error, the metric label and the way a v1.0 message is read
// back into a code all come from the table here, so adding a code touches one file.
package fail

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Code is the machine-readable kind of a failure, as protocol v2 and the HTTP API
// send it. Clients treat a code they do not know like Internal: a later server
// may add codes.
type Code string

// The codes. Their spellings are part of protocol v2 and of the HTTP API.
const (
	BadRequest           Code = "bad_request"
	Unauthorized         Code = "unauthorized"
	UnsupportedOperation Code = "unsupported_operation"
	TypeMismatch         Code = "type_mismatch"
	ChecksumMismatch     Code = "checksum_mismatch"
	TooLarge             Code = "too_large"
	LimitExceeded        Code = "limit_exceeded"
	ConversionFailed     Code = "conversion_failed"
	Busy                 Code = "busy"
	Unavailable          Code = "unavailable"
	Timeout              Code = "timeout"
	Internal             Code = "internal"
)

// Spec is everything derived from one code.
type Spec struct {
	Code Code
	// Meaning explains the code in the documentation's words.
	Meaning string
	// HTTPStatus is the status the HTTP API answers with.
	HTTPStatus int
	// Retryable: the same request may succeed later, unchanged.
	Retryable bool
	// Sentinel is what errors.Is matches for an *Error of this code.
	Sentinel error
	// V1Prefixes are the starts of the v1.0 messages of this code, which is how a
	// v1.0 answer (text only) is read back into a code.
	V1Prefixes []string
}

// specs is the table. Order matters only for V1Prefixes: the first match wins.
var specs = []Spec{
	{Unauthorized, "the token is wrong", http.StatusUnauthorized, false,
		errors.New("unauthorized"), []string{"Invalid authentication token"}},
	{Busy, "every worker is busy; wait retry_after_ms", http.StatusTooManyRequests, true,
		errors.New("server busy"), []string{"busy"}},
	{Unavailable, "no worker can take the job now", http.StatusServiceUnavailable, true,
		errors.New("server unavailable"), []string{"no worker is available", "unavailable"}},
	{ChecksumMismatch, "the body's digest differs from the request's", http.StatusBadGateway, false,
		errors.New("checksum mismatch"), []string{"Checksum mismatch"}},
	{BadRequest, "a malformed request; the message names the field and the fix", http.StatusBadRequest, false,
		errors.New("bad request"), []string{"Unsupported protocol version", "Invalid operation", "empty input", "could not read the 94-byte"}},
	{Timeout, "the job or the transfer took too long", http.StatusGatewayTimeout, true,
		errors.New("server timeout"), []string{"timed out", "the job took longer"}},
	{TypeMismatch, "the input's kind does not convert to the target", http.StatusUnsupportedMediaType, false,
		errors.New("input type does not fit the target"), []string{"unrecognised input", "input is not valid UTF-8", "input is UTF-16"}},
	{UnsupportedOperation, "this cluster does not offer the conversion or option", http.StatusUnprocessableEntity, false,
		errors.New("unsupported conversion or option"), []string{"no worker converts"}},
	{TooLarge, "the body is over the size limit", http.StatusRequestEntityTooLarge, false,
		errors.New("file too large"), nil},
	{LimitExceeded, "pixels, pages or another resource limit", http.StatusUnprocessableEntity, false,
		errors.New("limit exceeded"), nil},
	{ConversionFailed, "the input is damaged or cannot be converted", http.StatusUnprocessableEntity, false,
		errors.New("conversion failed"), nil},
	{Internal, "a bug or an unexpected failure on the server", http.StatusBadGateway, false,
		errors.New("internal server error"), nil},
}

var byCode = func() map[Code]*Spec {
	m := make(map[Code]*Spec, len(specs))
	for i := range specs {
		m[specs[i].Code] = &specs[i]
	}
	return m
}()

// Specs lists every code's spec, for documentation and tests.
func Specs() []Spec { return append([]Spec(nil), specs...) }

// Spec returns the code's spec; a code this server does not know gets Internal's.
func (c Code) Spec() Spec {
	if s, ok := byCode[c]; ok {
		return *s
	}
	return *byCode[Internal]
}

// Retryable reports whether the same request may succeed later, unchanged.
func (c Code) Retryable() bool { return c.Spec().Retryable }

// FromV1 infers the code of a v1.0 error message (without "ERROR: ").
func FromV1(msg string) Code {
	for _, s := range specs {
		for _, p := range s.V1Prefixes {
			if strings.HasPrefix(msg, p) {
				return s.Code
			}
		}
	}
	switch {
	case strings.HasPrefix(msg, "file is ") && strings.Contains(msg, "(max-body)"):
		return TooLarge
	case strings.Contains(msg, "detected: use operation") || strings.Contains(msg, ": it converts to "):
		return TypeMismatch
	case strings.Contains(msg, "over the limit"):
		return LimitExceeded
	}
	return Internal
}

// Error is a failure as the user sees it.
type Error struct {
	Code Code
	// Message is for a person, in the user's words: what was wrong and how to
	// fix it. It never mentions v1.0 operation numbers.
	Message string
	// V1Message, when set, replaces Message in a v1.0 answer, whose clients
	// name conversions by operation number.
	V1Message string
	// Cause is the underlying error, for logs only.
	Cause error
	// RetryAfter is how long the client should wait before retrying.
	RetryAfter time.Duration
	// JobID names the job in the servers' logs, when there was one.
	JobID string
}

// New makes an *Error with a message for a person.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Wrap makes an *Error whose cause is kept for logs.
func Wrap(code Code, msg string, cause error) *Error {
	return &Error{Code: code, Message: msg, Cause: cause}
}

func (e *Error) Error() string {
	// A message often ends with its cause already ("corrupt PDF: <poppler's
	// words>"); saying it twice would only lengthen log lines.
	if e.Cause != nil && !strings.HasSuffix(e.Message, e.Cause.Error()) {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Is matches the sentinel of the error's code.
func (e *Error) Is(target error) bool { return target == e.Code.Spec().Sentinel }

// TextV1 is the message a v1.0 answer carries after "ERROR: ".
func (e *Error) TextV1() string {
	if e.V1Message != "" {
		return e.V1Message
	}
	return e.Message
}

// As returns err as an *Error: one already, a context's end as Timeout, and
// anything else as Internal, so that a caller always has a message that is safe
// to show.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Wrap(Timeout, "conversion cancelled", err)
	}
	return Wrap(Internal, "conversion failed", err)
}
