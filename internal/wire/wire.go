// Package wire implements protocol v1.0 of fileconv, byte-compatible with the
// original system's clients: a 94-byte request header followed by the body, and a
// response made of an 8-byte size followed by the converted file or an error text.
//
// The layout is fixed; see docs/protocol.md. All integers are big-endian.
package wire

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Field sizes and offsets of the v1.0 header (Python struct "!4s32s16s30sQI").
const (
	HeaderSize = 94

	versionLen  = 4
	TokenLen    = 32
	checksumLen = 16
	FilenameLen = 30

	offVersion   = 0
	offToken     = offVersion + versionLen
	offChecksum  = offToken + TokenLen
	offFilename  = offChecksum + checksumLen
	offSize      = offFilename + FilenameLen
	offOperation = offSize + 8

	// ResponseSizeLen is the length of the size prefix of every response.
	ResponseSizeLen = 8
)

// Version10 is the only version string protocol v1.0 accepts.
const Version10 = "v1.0"

// ErrorPrefix starts every error response body in v1.0; it is how the original
// clients tell a failure from a converted file.
const ErrorPrefix = "ERROR: "

// RelayJobPrefix starts the auth field of a request the master relays to a worker:
// the master replaces the client's token with this prefix and its job id, so that a
// worker never sees a client's secret and both tiers log the same id. Workers
// authenticate the master by its certificate, not by this field.
const RelayJobPrefix = "fcjob:"

// ProbePrefix fills the auth field of the master's health probe: a request with
// operation 0 and no body, which a worker answers with a JSON WorkerStatus instead
// of an error. Only peers that passed the worker's TLS checks can send it.
const ProbePrefix = "fcprobe:"

// WorkerStatus is a worker's answer to a probe: how many conversions it runs at
// once, how many jobs it holds, whether it is shutting down and what it converts.
type WorkerStatus struct {
	Capacity int  `json:"capacity"`
	InFlight int  `json:"in_flight"`
	Draining bool `json:"draining"`
	// Converts is what the worker can convert: each input kind with its
	// targets. A worker that sends none (one from before capabilities) is taken
	// to do the original conversions.
	Converts map[string][]string `json:"converts,omitempty"`
	// OCRLanguages are the languages the worker's OCR reads (Tesseract's
	// names); none when it has no OCR.
	OCRLanguages []string `json:"ocr_languages,omitempty"`
}

// IsProbe reports whether h is the master's health probe.
func (h Header) IsProbe() bool {
	return h.Token == ProbePrefix && h.Operation == 0 && h.Size == 0 && h.Version == Version10
}

// Operation is the conversion a request asks for.
type Operation uint32

// The operations of protocol v1.0. Their numbers are part of the wire format.
const (
	OpToJPEG    Operation = 1
	OpToPNG     Operation = 2
	OpToWEBP    Operation = 3
	OpTextToPDF Operation = 4
	OpPDFToText Operation = 5
)

// Operations lists every known operation in wire order.
var Operations = []Operation{OpToJPEG, OpToPNG, OpToWEBP, OpTextToPDF, OpPDFToText}

// Valid reports whether op is one of the operations of protocol v1.0.
func (op Operation) Valid() bool { return op >= OpToJPEG && op <= OpPDFToText }

// opTargets are the targets of the v1.0 operations, in operation order. v1.0
// names conversions by number; everything past the door names them by target.
var opTargets = [...]string{OpToJPEG: "jpg", OpToPNG: "png", OpToWEBP: "webp", OpTextToPDF: "pdf", OpPDFToText: "txt"}

// Target is the target format of a v1.0 operation, e.g. "jpg"; "" for an
// invalid one.
func (op Operation) Target() string {
	if !op.Valid() {
		return ""
	}
	return opTargets[op]
}

// OperationOf is the v1.0 operation that makes target, if there is one.
func OperationOf(target string) (Operation, bool) {
	for _, op := range Operations {
		if opTargets[op] == target {
			return op, true
		}
	}
	return 0, false
}

// String names the operation as v1.0's messages do, e.g. "to JPEG" or "PDF to TXT".
func (op Operation) String() string {
	switch op {
	case OpToJPEG:
		return "to JPEG"
	case OpToPNG:
		return "to PNG"
	case OpToWEBP:
		return "to WEBP"
	case OpTextToPDF:
		return "TXT to PDF"
	case OpPDFToText:
		return "PDF to TXT"
	}
	return fmt.Sprintf("operation %d", uint32(op))
}

// Format names the operation's output as v1.0's messages do: "JPEG", "TXT".
func (op Operation) Format() string {
	if op == OpToJPEG {
		return "JPEG"
	}
	return strings.ToUpper(op.Target())
}

// MaxTargetLen bounds a target's name.
const MaxTargetLen = 16

// ValidTargetName reports whether s is spelled as a target name can be: a short
// lower-case identifier. Whether the target exists is the registry's business.
func ValidTargetName(s string) bool {
	if s == "" || len(s) > MaxTargetLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Header is a decoded v1.0 request header.
type Header struct {
	// Version is the 4-byte version field as sent, e.g. "v1.0".
	Version string
	// Token is the auth field with its NUL padding removed. It is a secret: never log it.
	Token string
	// Checksum is the MD5 digest of the body.
	Checksum [16]byte
	// Filename is the client's file name with NUL padding removed and any invalid
	// UTF-8 (a character cut at byte 30) replaced; it is informational only and must
	// never be used as a path.
	Filename string
	// Size is the length of the body that follows the header.
	Size uint64
	// Operation is the requested conversion; it may be unknown (see Operation.Valid).
	Operation Operation
}

// NewHeader builds a v1.0 header for body, computing its checksum and size.
func NewHeader(token, filename string, op Operation, body []byte) Header {
	return Header{
		Version:   Version10,
		Token:     token,
		Checksum:  md5.Sum(body),
		Filename:  filename,
		Size:      uint64(len(body)),
		Operation: op,
	}
}

// MarshalBinary encodes h into exactly HeaderSize bytes. Strings longer than their
// field are cut, as the original clients do; a cut file name may end in half a
// character, which the decoder tolerates.
func (h Header) MarshalBinary() ([]byte, error) {
	b := h.Encode()
	return b[:], nil
}

// Encode is MarshalBinary without the error, for callers that want an array.
func (h Header) Encode() [HeaderSize]byte {
	var b [HeaderSize]byte
	copy(b[offVersion:offToken], h.Version)
	copy(b[offToken:offChecksum], h.Token)
	copy(b[offChecksum:offFilename], h.Checksum[:])
	copy(b[offFilename:offSize], h.Filename)
	binary.BigEndian.PutUint64(b[offSize:offOperation], h.Size)
	binary.BigEndian.PutUint32(b[offOperation:HeaderSize], uint32(h.Operation))
	return b
}

// ErrShortHeader is returned when fewer than HeaderSize bytes are available.
var ErrShortHeader = errors.New("header is shorter than 94 bytes")

// UnmarshalBinary decodes a header from exactly HeaderSize bytes. It checks only the
// framing; Validate checks the meaning.
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) != HeaderSize {
		return fmt.Errorf("decode header: got %d bytes: %w", len(b), ErrShortHeader)
	}
	h.Version = string(b[offVersion:offToken])
	h.Token = string(trimNUL(b[offToken:offChecksum]))
	copy(h.Checksum[:], b[offChecksum:offFilename])
	// Dropping invalid UTF-8 can expose NUL padding, so trim after it too.
	h.Filename = strings.TrimRight(strings.ToValidUTF8(string(trimNUL(b[offFilename:offSize])), ""), "\x00")
	h.Size = binary.BigEndian.Uint64(b[offSize:offOperation])
	h.Operation = Operation(binary.BigEndian.Uint32(b[offOperation:HeaderSize]))
	return nil
}

// ReadHeader reads and decodes one header from r.
func ReadHeader(r io.Reader) (Header, error) {
	var b [HeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = ErrShortHeader
		}
		return Header{}, fmt.Errorf("read header: %w", err)
	}
	var h Header
	err := h.UnmarshalBinary(b[:])
	return h, err
}

// trimNUL removes the NUL padding at the end of a fixed-size field.
func trimNUL(b []byte) []byte { return bytes.TrimRight(b, "\x00") }

// ValidateError is a header the server rejects; its message is sent to the client
// after ErrorPrefix.
type ValidateError struct{ Message string }

func (e *ValidateError) Error() string { return e.Message }

// ValidateVersionAndOperation checks the fields every tier checks: the version and
// the operation number. The size limit and the token are the server's business.
func (h Header) ValidateVersionAndOperation() error {
	if h.Version != Version10 {
		return &ValidateError{fmt.Sprintf("Unsupported protocol version \"%s\": this server speaks \"%s\"", printable(h.Version), Version10)}
	}
	if !h.Operation.Valid() {
		return &ValidateError{fmt.Sprintf("Invalid operation %d: use 1 (to JPEG), 2 (to PNG), 3 (to WEBP), 4 (TXT to PDF) or 5 (PDF to TXT)", uint32(h.Operation))}
	}
	return nil
}

// printable makes an untrusted short string safe to put in a message or log line.
func printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r&0xff)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Printable is printable for other packages: it escapes control characters and
// invalid UTF-8 so that an untrusted name never breaks a log line or a message.
func Printable(s string) string { return printable(s) }

// WriteResponse writes a complete response: the 8-byte size, then body.
func WriteResponse(w io.Writer, body []byte) error {
	var size [ResponseSizeLen]byte
	binary.BigEndian.PutUint64(size[:], uint64(len(body)))
	if _, err := w.Write(size[:]); err != nil {
		return fmt.Errorf("write response size: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("write response body: %w", err)
	}
	return nil
}

// WriteError writes an error response: ErrorPrefix followed by msg.
func WriteError(w io.Writer, msg string) error {
	return WriteResponse(w, []byte(ErrorPrefix+msg))
}

// ReadResponseSize reads the 8-byte size that starts every response.
func ReadResponseSize(r io.Reader) (uint64, error) {
	var b [ResponseSizeLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("read response size: %w", err)
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

// IsError reports whether a response body is a v1.0 error. A PDF-to-TXT result
// whose text starts with "ERROR: " is indistinguishable from one; v1.0 cannot tell.
func IsError(body []byte) bool { return bytes.HasPrefix(body, []byte(ErrorPrefix)) }
