package wire

// Protocol v2.0: typed, checksummed frames, several requests per connection.
//
// A v2.0 connection starts with the 4 bytes "v2.0" from the client, in the place of
// v1.0's version field, so one port serves both versions. Then both sides exchange
// frames: a fixed 13-byte prefix (type, header length, body length), a JSON header
// and, for CONVERT and RESULT, a body. The body length lives in the binary prefix
// rather than in the JSON so that the stream never depends on how a JSON parser
// reads a header: a malformed or unknown header can be answered and skipped, and a
// relay cannot disagree with its peer about where a body ends.
//
// The functions here never read or write bodies: callers stream exactly BodySize
// bytes after the header, which lets a master relay files in constant memory.
// See docs/protocol.md, "Protocol v2".

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fileconv/fileconv/internal/fail"
)

// Version20 is the preface a v2.0 client sends once, before its first frame.
const Version20 = "v2.0"

// Limits of protocol v2.0. They bound what a peer can make the other side hold in
// memory or write to its logs before any authentication has happened.
const (
	// FramePrefixSize is the length of the binary part of every frame: type (1 byte),
	// header length (4 bytes) and body length (8 bytes), big-endian.
	FramePrefixSize = 13
	// MaxHeaderSize is the largest JSON header either side accepts.
	MaxHeaderSize = 16 << 10
	// MaxTokenLen is the longest auth token a CONVERT may carry.
	MaxTokenLen = 256
	// MaxNameLen is the longest file name a CONVERT may carry, as on common file systems.
	MaxNameLen = 255
	// MaxIDLen bounds job ids, ping ids and other short identifiers.
	MaxIDLen = 128
	// MaxPagesLen bounds the page selection of a PDF→TXT request.
	MaxPagesLen = 256
	// MaxMessageLen bounds an ERROR's message. With JSON escaping (at worst 6 bytes
	// a byte) any valid ERROR still fits MaxHeaderSize, so a master can always relay
	// a worker's ERROR as it decoded it.
	MaxMessageLen = 2048
	// MaxRetryAfter bounds retry_after_ms, so that a hostile server cannot park a
	// client forever and the millisecond count always fits a time.Duration.
	MaxRetryAfter = 24 * time.Hour
)

// FrameType is the first byte of a frame. Requests have the high bit clear and
// responses have it set, so a peer can tell the direction of a type it does not know.
type FrameType uint8

// The frame types of protocol v2.0. Their numbers are part of the wire format.
const (
	FrameConvert      FrameType = 1   // request: convert the body that follows
	FramePing         FrameType = 2   // request: is the server alive?
	FrameConvertFiles FrameType = 3   // request: convert the files that follow, one after another, into one result
	FrameResult       FrameType = 129 // response: the converted file follows
	FrameError        FrameType = 130 // response: the request failed
	FramePong         FrameType = 131 // response to a PING
)

// String names the frame type as the documentation does, e.g. "CONVERT".
func (t FrameType) String() string {
	switch t {
	case FrameConvert:
		return "CONVERT"
	case FramePing:
		return "PING"
	case FrameConvertFiles:
		return "CONVERT_FILES"
	case FrameResult:
		return "RESULT"
	case FrameError:
		return "ERROR"
	case FramePong:
		return "PONG"
	}
	return fmt.Sprintf("frame type %d", uint8(t))
}

// Valid reports whether t is a frame type of protocol v2.0.
func (t FrameType) Valid() bool {
	switch t {
	case FrameConvert, FramePing, FrameConvertFiles, FrameResult, FrameError, FramePong:
		return true
	}
	return false
}

// IsRequest reports whether t travels from client to server.
func (t FrameType) IsRequest() bool { return t&0x80 == 0 }

// HasBody reports whether frames of type t may carry a body; all others must
// declare a body length of 0.
func (t FrameType) HasBody() bool {
	return t == FrameConvert || t == FrameConvertFiles || t == FrameResult
}

// ErrProtocol marks a frame that breaks the framing rules (oversize or empty header,
// unknown type, a body where none belongs). After it the stream cannot be trusted:
// a server answers ERROR bad_request and closes the connection.
var ErrProtocol = errors.New("v2 protocol violation")

// ErrUnknownFrameType is returned, together with ErrProtocol, for a type byte that
// protocol v2.0 does not define.
var ErrUnknownFrameType = errors.New("unknown frame type")

// Frame is a frame's prefix and JSON header; its body, if any, is still unread.
type Frame struct {
	Type FrameType
	// BodySize is the number of body bytes that follow the header on the stream.
	BodySize uint64
	// Header is the raw JSON header; decode it with the Decode function for Type.
	Header []byte
}

// ReadFrameHeader reads a frame's prefix and JSON header from r, leaving the body
// unread. maxHeader lowers the header limit; 0 (or anything above MaxHeaderSize)
// means MaxHeaderSize.
//
// It returns io.EOF, unwrapped, only when r ends cleanly before the first byte of a
// frame, so that a server loop can tell an idle client hanging up from a cut frame.
// Framing errors wrap ErrProtocol; the returned Frame then still holds the type and
// sizes from the prefix, for logging.
func ReadFrameHeader(r io.Reader, maxHeader int) (Frame, error) {
	if maxHeader <= 0 || maxHeader > MaxHeaderSize {
		maxHeader = MaxHeaderSize
	}
	var p [FramePrefixSize]byte
	if n, err := io.ReadFull(r, p[:]); err != nil {
		if err == io.EOF && n == 0 {
			return Frame{}, io.EOF
		}
		return Frame{}, fmt.Errorf("read v2 frame prefix: %w", err)
	}
	f := Frame{Type: FrameType(p[0]), BodySize: binary.BigEndian.Uint64(p[5:])}
	hlen := binary.BigEndian.Uint32(p[1:5])
	switch {
	case !f.Type.Valid():
		return f, fmt.Errorf("read v2 frame: type byte %d: %w: %w", p[0], ErrUnknownFrameType, ErrProtocol)
	case hlen == 0:
		return f, fmt.Errorf("read v2 %s frame: the header is empty; send at least {}: %w", f.Type, ErrProtocol)
	case uint64(hlen) > uint64(maxHeader):
		return f, fmt.Errorf("read v2 %s frame: the header is %d bytes, over the limit of %d: %w", f.Type, hlen, maxHeader, ErrProtocol)
	case f.BodySize != 0 && !f.Type.HasBody():
		return f, fmt.Errorf("read v2 %s frame: it declares a %d-byte body but %s frames have none: %w", f.Type, f.BodySize, f.Type, ErrProtocol)
	}
	f.Header = make([]byte, hlen)
	if _, err := io.ReadFull(r, f.Header); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return f, fmt.Errorf("read v2 %s frame header (%d bytes): %w", f.Type, hlen, err)
	}
	return f, nil
}

// framePool recycles the buffers WriteFrame assembles frames in: a frame is
// written once per request on a hot path, and most headers are a few hundred bytes.
var framePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteFrame writes a frame's prefix and header: header is marshalled to JSON, and
// bodySize is the number of body bytes the caller writes next. Prefix and header go
// out in one Write, so that a frame never spans two TLS records needlessly.
// Prefer the typed writers (WriteConvert, WriteResult, ...), which validate first.
func WriteFrame(w io.Writer, t FrameType, header any, bodySize uint64) error {
	if !t.Valid() {
		return fmt.Errorf("write v2 frame: type byte %d: %w", uint8(t), ErrUnknownFrameType)
	}
	if bodySize != 0 && !t.HasBody() {
		return fmt.Errorf("write v2 %s frame: %s frames have no body, got a body size of %d", t, t, bodySize)
	}
	buf := framePool.Get().(*bytes.Buffer)
	defer func() {
		// A rare huge header must not pin its buffer in the pool.
		if buf.Cap() <= 4*MaxHeaderSize {
			framePool.Put(buf)
		}
	}()
	buf.Reset()
	buf.Write(make([]byte, FramePrefixSize))
	enc := json.NewEncoder(buf)
	// "<" in a file name has no business being escaped: nobody embeds this in HTML,
	// and the vectors in docs/protocol.md stay readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil {
		return fmt.Errorf("write v2 %s frame: encode header: %w", t, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	hlen := len(b) - FramePrefixSize
	if hlen > MaxHeaderSize {
		return fmt.Errorf("write v2 %s frame: the header is %d bytes, over the limit of %d", t, hlen, MaxHeaderSize)
	}
	if b[FramePrefixSize] != '{' {
		return fmt.Errorf("write v2 %s frame: the header must be a JSON object, got %T", t, header)
	}
	b[0] = byte(t)
	binary.BigEndian.PutUint32(b[1:5], uint32(hlen))
	binary.BigEndian.PutUint64(b[5:FramePrefixSize], bodySize)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write v2 %s frame: %w", t, err)
	}
	return nil
}

// ErrorCode is the machine-readable kind of an ERROR response: fail's codes,
// whose table gives each one's meaning. Clients must treat a code they do not
// know like fail.Internal: a later server may add codes.
type ErrorCode = fail.Code

// validCode accepts any lower-case identifier, not just the known codes, so that
// clients keep working when a newer server adds one.
func validCode(c ErrorCode) bool {
	if len(c) == 0 || len(c) > 64 || c[0] < 'a' || c[0] > 'z' {
		return false
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; (b < 'a' || b > 'z') && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}

// ErrorResponse is the header of an ERROR frame. It is also how the decoders here
// report a bad request, so a server can send their error as it is.
type ErrorResponse struct {
	// JobID is empty when the request failed before a job was created.
	JobID   string
	Code    ErrorCode
	Message string
	// RetryAfter is how long to wait before retrying; it travels in whole
	// milliseconds, rounded up so a client never comes back too early.
	RetryAfter time.Duration
}

// Error formats the response for a person, e.g. "busy: 3 jobs queued (retry after 2s)".
func (e *ErrorResponse) Error() string {
	s := string(e.Code) + ": " + e.Message
	if e.RetryAfter > 0 {
		s += " (retry after " + e.RetryAfter.String() + ")"
	}
	return s
}

// badRequest builds the error the request decoders return.
func badRequest(format string, args ...any) *ErrorResponse {
	return &ErrorResponse{Code: fail.BadRequest, Message: fmt.Sprintf(format, args...)}
}

type errorJSON struct {
	JobID        string    `json:"job_id,omitempty"`
	Code         ErrorCode `json:"code"`
	Message      string    `json:"message"`
	RetryAfterMS int64     `json:"retry_after_ms,omitempty"`
}

// MarshalJSON encodes the ERROR header.
func (e ErrorResponse) MarshalJSON() ([]byte, error) { return marshal(e.wire()) }

func (e *ErrorResponse) wire() errorJSON {
	ms := int64(e.RetryAfter / time.Millisecond)
	if e.RetryAfter%time.Millisecond > 0 {
		ms++
	}
	return errorJSON{JobID: e.JobID, Code: e.Code, Message: truncate(e.Message, MaxMessageLen), RetryAfterMS: ms}
}

// truncate cuts s to at most n bytes at a character boundary. Writers truncate long
// messages rather than fail, because losing the error would be worse.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "…"
	s = s[:n-len(more)]
	// Drop the bytes of a character the cut split in two.
	for len(s) > 0 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s + more
}

func (e *ErrorResponse) validate() []string {
	var p []string
	if !validCode(e.Code) {
		p = append(p, fmt.Sprintf("code: %q is not an error code; use a lower-case identifier such as %q", printable(string(e.Code)), fail.Internal))
	}
	if len(e.JobID) > MaxIDLen {
		p = append(p, fmt.Sprintf("job_id: %d bytes, over the limit of %d", len(e.JobID), MaxIDLen))
	}
	if e.RetryAfter < 0 || e.RetryAfter > MaxRetryAfter {
		p = append(p, fmt.Sprintf("retry_after_ms: %d is out of range; use 0 to %d", e.RetryAfter.Milliseconds(), MaxRetryAfter.Milliseconds()))
	}
	return p
}

// WriteErrorResponse writes an ERROR frame.
func WriteErrorResponse(w io.Writer, e *ErrorResponse) error {
	if p := e.validate(); p != nil {
		return invalid("ERROR", p)
	}
	return WriteFrame(w, FrameError, e.wire(), 0)
}

// DecodeErrorResponse decodes and checks the header of an ERROR frame. Its errors
// wrap ErrProtocol: a client that gets one should stop using the connection.
func DecodeErrorResponse(f Frame) (*ErrorResponse, error) {
	var j errorJSON
	if msg := decodeHeader(f, FrameError, &j); msg != "" {
		return nil, fmt.Errorf("%s: %w", msg, ErrProtocol)
	}
	e := &ErrorResponse{JobID: j.JobID, Code: j.Code, Message: j.Message}
	// Range-check before multiplying: a huge count would overflow time.Duration.
	var p []string
	if j.RetryAfterMS < 0 || j.RetryAfterMS > MaxRetryAfter.Milliseconds() {
		p = append(p, fmt.Sprintf("retry_after_ms: %d is out of range; use 0 to %d", j.RetryAfterMS, MaxRetryAfter.Milliseconds()))
	} else {
		e.RetryAfter = time.Duration(j.RetryAfterMS) * time.Millisecond
	}
	if len(e.Message) > MaxMessageLen {
		p = append(p, fmt.Sprintf("message: %d bytes, over the limit of %d", len(e.Message), MaxMessageLen))
	}
	if p = append(p, e.validate()...); p != nil {
		return nil, fmt.Errorf("%w: %w", invalid("ERROR", p), ErrProtocol)
	}
	return e, nil
}

// PageRange is a run of 1-based pages, both ends included. Last is 0 for a range
// that runs to the end of the document, written "7-".
type PageRange struct{ First, Last int }

// PageRanges is a page selection in ascending order without overlaps.
type PageRanges []PageRange

// Contains reports whether page (1-based) is selected.
func (rs PageRanges) Contains(page int) bool {
	for _, r := range rs {
		if page >= r.First && (r.Last == 0 || page <= r.Last) {
			return true
		}
	}
	return false
}

// ParsePageRanges parses a page selection such as "1-3,7,10-": page numbers from 1
// and ranges separated by commas, spaces allowed around them. Ranges must ascend
// and not overlap, so that a selection has one meaning whichever order pages are
// emitted in: the text of the selected pages, in document order.
func ParsePageRanges(s string) (PageRanges, error) {
	const how = `use page numbers from 1 and ranges in ascending order, e.g. "1-3,7,10-"`
	if len(s) > MaxPagesLen {
		return nil, fmt.Errorf("%d bytes, over the limit of %d; select fewer ranges", len(s), MaxPagesLen)
	}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("the selection is empty; %s, or leave it out for every page", how)
	}
	var rs PageRanges
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("range %d is empty; %s", i+1, how)
		}
		first, last, isRange := strings.Cut(part, "-")
		var r PageRange
		var err error
		if r.First, err = parsePage(first); err != nil {
			return nil, fmt.Errorf("%q: %w; %s", printable(part), err, how)
		}
		switch {
		case !isRange:
			r.Last = r.First
		case strings.TrimSpace(last) == "":
			r.Last = 0
		default:
			if r.Last, err = parsePage(last); err != nil {
				return nil, fmt.Errorf("%q: %w; %s", printable(part), err, how)
			}
			if r.Last < r.First {
				return nil, fmt.Errorf("%q runs backwards; write %d-%d", printable(part), r.Last, r.First)
			}
		}
		if n := len(rs); n > 0 && (rs[n-1].Last == 0 || r.First <= rs[n-1].Last) {
			return nil, fmt.Errorf("%q overlaps or comes before the range in front of it; %s", printable(part), how)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func parsePage(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("a page number is missing")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("a page number may only have digits")
		}
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("page %s is too large (the limit is %d)", s, math.MaxInt32)
	}
	if n == 0 {
		return 0, errors.New("pages are numbered from 1")
	}
	return int(n), nil
}

// ConvertRequest is a CONVERT frame: its header and the size of its body.
type ConvertRequest struct {
	// Token authenticates the client. It is a secret: String redacts it.
	Token string
	// Target names the format wanted: "jpg", "pdf", ... (the conversion
	// registry's targets). It travels as "to".
	// When the target has a v1.0 operation number, that travels too, as "op",
	// so that a worker from before targets still understands the request; a
	// request from such a client may carry "op" alone.
	Target string
	// Name is the client's file name, informational only: log it with Printable and
	// never use it as a path or to pick a converter.
	Name string
	// Size is the body length; it travels in the frame prefix.
	Size uint64
	// SHA256 is the digest of the body; it travels as 64 hex digits.
	SHA256 [32]byte
	// MD5 may stand in for SHA256 when a master relays a v1.0 request, whose
	// header carries only an MD5 that the master cannot turn into a SHA-256
	// without holding the whole body. Clients send SHA256.
	MD5     [16]byte
	Options Options
	// Files, when set, makes the request a CONVERT_FILES: the body is these
	// files one after another, in order, and each has its own digest (SHA256
	// is then unused).
	Files []FilePart
}

// FilePart is one file of a CONVERT_FILES request.
type FilePart struct {
	Name   string
	Size   uint64
	SHA256 [32]byte
}

type filePartJSON struct {
	Name   string `json:"name,omitempty"`
	Size   uint64 `json:"size"`
	SHA256 string `json:"sha256"`
}

type convertJSON struct {
	Token   string         `json:"token"`
	To      string         `json:"to,omitempty"`
	Op      uint32         `json:"op,omitempty"`
	Name    string         `json:"name,omitempty"`
	SHA256  string         `json:"sha256,omitempty"`
	MD5     string         `json:"md5,omitempty"`
	Options Options        `json:"options,omitzero"`
	Files   []filePartJSON `json:"files,omitempty"`
}

// MarshalJSON encodes the CONVERT header; Size is not part of it.
func (r ConvertRequest) MarshalJSON() ([]byte, error) { return marshal(r.wire()) }

func (r ConvertRequest) wire() convertJSON {
	j := convertJSON{Token: r.Token, To: r.Target, Name: r.Name, Options: r.Options}
	// Servers from before targets know no CONVERT_FILES: op is of no use there.
	if op, ok := OperationOf(r.Target); ok && r.Files == nil {
		j.Op = uint32(op)
	}
	if r.SHA256 != ([32]byte{}) {
		j.SHA256 = hex.EncodeToString(r.SHA256[:])
	}
	if r.MD5 != ([16]byte{}) {
		j.MD5 = hex.EncodeToString(r.MD5[:])
	}
	for _, f := range r.Files {
		j.Files = append(j.Files, filePartJSON{Name: f.Name, Size: f.Size, SHA256: hex.EncodeToString(f.SHA256[:])})
	}
	return j
}

// frameType is CONVERT, or CONVERT_FILES for a request of several files.
func (r ConvertRequest) frameType() FrameType {
	if r.Files != nil {
		return FrameConvertFiles
	}
	return FrameConvert
}

// String describes the request for logs without its token.
func (r ConvertRequest) String() string {
	return fmt.Sprintf("CONVERT to %s, %q, %d bytes, sha256 %x, options %+v", printable(r.Target), printable(r.Name), r.Size, r.SHA256, r.Options)
}

// GoString keeps %#v from printing the token either.
func (r ConvertRequest) GoString() string { return r.String() }

// Validate checks every field; it reports all problems at once, each naming its
// field and how to fix it.
func (r ConvertRequest) Validate() error {
	if p := r.validate(); p != nil {
		return invalid("CONVERT", p)
	}
	return nil
}

func (r ConvertRequest) validate() []string {
	var p []string
	switch {
	case r.Token == "":
		p = append(p, "token is required")
	case len(r.Token) > MaxTokenLen:
		p = append(p, fmt.Sprintf("token: %d bytes, over the limit of %d", len(r.Token), MaxTokenLen))
	}
	if !ValidTargetName(r.Target) {
		p = append(p, fmt.Sprintf(`to: %q is not a format name; use one such as "png" or "pdf"`, printable(r.Target)))
	}
	if len(r.Name) > MaxNameLen {
		p = append(p, fmt.Sprintf("name: %d bytes, over the limit of %d; send the last element of the path only", len(r.Name), MaxNameLen))
	}
	if r.Size == 0 {
		p = append(p, "empty input: the file has 0 bytes")
	}
	if r.Files != nil {
		p = append(p, r.validateFiles()...)
	} else if r.SHA256 == ([32]byte{}) && r.MD5 == ([16]byte{}) {
		p = append(p, "sha256 is required: the SHA-256 digest of the body as 64 hex digits")
	}
	return append(p, r.Options.validate()...)
}

// MaxFiles bounds the files of one CONVERT_FILES request; servers may allow
// fewer (max-files).
const MaxFiles = 1000

// validateFiles checks the files of a CONVERT_FILES request: they add up to
// the body, each is there and has its digest.
func (r ConvertRequest) validateFiles() []string {
	var p []string
	if len(r.Files) == 0 || len(r.Files) > MaxFiles {
		return append(p, fmt.Sprintf("files: %d files; send 1 to %d", len(r.Files), MaxFiles))
	}
	var sum uint64
	for i, f := range r.Files {
		switch {
		case f.Size == 0:
			p = append(p, fmt.Sprintf("files[%d]: empty input: the file has 0 bytes", i))
		case f.SHA256 == ([32]byte{}):
			p = append(p, fmt.Sprintf("files[%d]: sha256 is required: the SHA-256 digest of the file as 64 hex digits", i))
		case len(f.Name) > MaxNameLen:
			p = append(p, fmt.Sprintf("files[%d].name: %d bytes, over the limit of %d", i, len(f.Name), MaxNameLen))
		}
		sum += f.Size
	}
	if sum != r.Size {
		p = append(p, fmt.Sprintf("files: their sizes add up to %d bytes, but the body is %d; the body is the files one after another", sum, r.Size))
	}
	return p
}

// target reads the target from "to", or from v1.0's "op" when "to" is absent.
func (j convertJSON) target() (string, string) {
	op := Operation(j.Op)
	switch {
	case j.To == "" && j.Op == 0:
		return "", `to is required: the format wanted, e.g. "png" or "pdf"`
	case j.To == "" && !op.Valid():
		return "", fmt.Sprintf(`op: %d is not an operation; send "to" with a format name, e.g. "png"`, j.Op)
	case j.To == "":
		return op.Target(), ""
	case j.Op != 0 && op.Target() != strings.ToLower(j.To):
		return "", fmt.Sprintf("op %d and to %q disagree; send to alone", j.Op, printable(j.To))
	}
	return strings.ToLower(j.To), ""
}

// WriteConvert validates req and writes its CONVERT frame; the caller then writes
// exactly req.Size body bytes.
func WriteConvert(w io.Writer, req ConvertRequest) error {
	if err := req.Validate(); err != nil {
		return err
	}
	return WriteFrame(w, req.frameType(), req.wire(), req.Size)
}

// DecodeConvertRequest decodes and validates a CONVERT frame's header. Errors are
// *ErrorResponse with fail.BadRequest, ready to send. The body (f.BodySize bytes)
// still follows on the stream whatever the outcome, so a server may discard it and
// keep the connection, or close.
func DecodeConvertRequest(f Frame) (ConvertRequest, error) {
	var j struct {
		convertJSON
		// Options are read twice: once to learn their names, once for their values.
		Options json.RawMessage `json:"options"`
	}
	want := FrameConvert
	if f.Type == FrameConvertFiles {
		want = FrameConvertFiles
	}
	if msg := decodeHeader(f, want, &j); msg != "" {
		return ConvertRequest{}, badRequest("%s", msg)
	}
	req := ConvertRequest{Token: j.Token, Name: j.Name, Size: f.BodySize}
	target, targetProblem := j.target()
	// A missing target is reported below among the other problems, not as the
	// spelling of an empty name.
	req.Target = cmp.Or(target, "x")
	var unknown []string
	if len(j.Options) > 0 && string(j.Options) != "null" {
		var names map[string]json.RawMessage
		if err := json.Unmarshal(j.Options, &names); err != nil {
			return ConvertRequest{}, badRequest("invalid CONVERT header: options: expected an object, e.g. {\"quality\": 80}")
		}
		for k := range names {
			if !knownOption(k) {
				unknown = append(unknown, strconv.Quote(printable(k)))
			}
		}
		if msg := decodeHeader(Frame{Type: FrameConvert, Header: j.Options}, FrameConvert, &req.Options); msg != "" {
			return ConvertRequest{}, badRequest("%s", strings.Replace(msg, "header: ", "header: options.", 1))
		}
	}
	var p []string
	if j.SHA256 != "" {
		if err := decodeDigest(req.SHA256[:], j.SHA256); err != nil {
			p = append(p, "sha256: "+err.Error())
			// Any non-zero value keeps validate from also calling the digest missing;
			// the request is rejected anyway.
			req.SHA256[0] = 1
		}
	}
	if j.MD5 != "" {
		if err := decodeDigest(req.MD5[:], j.MD5); err != nil {
			p = append(p, "md5: "+err.Error())
			req.MD5[0] = 1
		}
	}
	if targetProblem != "" {
		p = append(p, targetProblem)
	}
	p = append(p, decodeFiles(&req, f.Type, j.Files)...)
	if p = append(p, req.validate()...); p != nil {
		return ConvertRequest{}, invalid("CONVERT", p)
	}
	if unknown != nil {
		// Ignoring an option would hand the client a file it did not ask for, so
		// unlike unknown header fields, unknown options are refused.
		slices.Sort(unknown)
		return ConvertRequest{}, &ErrorResponse{Code: fail.UnsupportedOperation, Message: fmt.Sprintf(
			"this server does not support the option %s; it knows %s", strings.Join(unknown, ", "), strings.Join(OptionNames(), ", "))}
	}
	return req, nil
}

// decodeFiles reads the files of a CONVERT_FILES frame into req, and says
// what is wrong with them, or with files in a CONVERT.
func decodeFiles(req *ConvertRequest, t FrameType, files []filePartJSON) []string {
	switch {
	case t == FrameConvert && files != nil:
		return []string{"files: a request of several files is a CONVERT_FILES frame (type 3), not a CONVERT"}
	case t == FrameConvert:
		return nil
	case len(files) == 0:
		return []string{"files is required in CONVERT_FILES: a list of {name, size, sha256}, one per file, in the body's order"}
	}
	var p []string
	req.Files = make([]FilePart, len(files))
	for i, f := range files {
		req.Files[i] = FilePart{Name: f.Name, Size: f.Size}
		if err := decodeDigest(req.Files[i].SHA256[:], f.SHA256); err != nil {
			p = append(p, fmt.Sprintf("files[%d].sha256: %v", i, err))
			req.Files[i].SHA256[0] = 1
		}
	}
	return p
}

// knownOption matches option names as encoding/json does, ignoring case.
func knownOption(k string) bool { return optionSpec(k) != nil }

func decodeDigest(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits (the SHA-256 of the body), got %d characters", 2*len(dst), utf8.RuneCountInString(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("want %d hex digits (the SHA-256 of the body), found a character that is not one", 2*len(dst))
	}
	return nil
}

// Result is a RESULT frame: the header of a converted file and the size of the body
// that follows it.
type Result struct {
	JobID string
	// Size is the length of the converted file; it travels in the frame prefix.
	Size uint64
	// SHA256 is the digest of the converted file, so the client can tell that it
	// arrived whole.
	SHA256 [32]byte
	// InputType is the type the server detected: "jpeg", "png", "webp", "text" or "pdf".
	InputType string
	// ContentType is the media type of the result, e.g. "image/jpeg".
	ContentType string
	// ReplacedChars counts characters of a text the PDF could not show and replaced.
	ReplacedChars int
	// Warnings say, in the user's words, what the conversion left out or changed.
	// They travel cleaned (CleanWarnings): writers and readers shorten them to
	// the protocol's limits rather than refuse a file that did convert.
	Warnings []string
}

type resultJSON struct {
	JobID         string   `json:"job_id"`
	SHA256        string   `json:"sha256"`
	InputType     string   `json:"input_type,omitempty"`
	ContentType   string   `json:"content_type,omitempty"`
	ReplacedChars int      `json:"replaced_chars"`
	Warnings      []string `json:"warnings,omitempty"`
}

// MarshalJSON encodes the RESULT header; Size is not part of it.
func (r Result) MarshalJSON() ([]byte, error) { return marshal(r.wire()) }

func (r Result) wire() resultJSON {
	return resultJSON{JobID: r.JobID, SHA256: hex.EncodeToString(r.SHA256[:]), InputType: r.InputType, ContentType: r.ContentType,
		ReplacedChars: r.ReplacedChars, Warnings: CleanWarnings(r.Warnings)}
}

func (r Result) validate() []string {
	var p []string
	switch {
	case r.JobID == "":
		p = append(p, "job_id is required")
	case len(r.JobID) > MaxIDLen:
		p = append(p, fmt.Sprintf("job_id: %d bytes, over the limit of %d", len(r.JobID), MaxIDLen))
	}
	if r.SHA256 == ([32]byte{}) {
		p = append(p, "sha256 is required: the SHA-256 digest of the result as 64 hex digits")
	}
	if len(r.InputType) > MaxIDLen || len(r.ContentType) > MaxIDLen {
		p = append(p, fmt.Sprintf("input_type and content_type: at most %d bytes each", MaxIDLen))
	}
	if r.ReplacedChars < 0 {
		p = append(p, fmt.Sprintf("replaced_chars: %d is negative", r.ReplacedChars))
	}
	return p
}

// WriteResult validates res and writes its RESULT frame; the caller then writes
// exactly res.Size bytes.
func WriteResult(w io.Writer, res Result) error {
	if p := res.validate(); p != nil {
		return invalid("RESULT", p)
	}
	return WriteFrame(w, FrameResult, res.wire(), res.Size)
}

// DecodeResult decodes and checks a RESULT frame's header. Its errors wrap
// ErrProtocol. Warnings are cleaned (CleanWarnings), never a reason to refuse.
func DecodeResult(f Frame) (Result, error) {
	var j resultJSON
	if msg := decodeHeader(f, FrameResult, &j); msg != "" {
		return Result{}, fmt.Errorf("%s: %w", msg, ErrProtocol)
	}
	res := Result{JobID: j.JobID, Size: f.BodySize, InputType: j.InputType, ContentType: j.ContentType, ReplacedChars: j.ReplacedChars,
		Warnings: CleanWarnings(j.Warnings)}
	var p []string
	if j.SHA256 != "" {
		if err := decodeDigest(res.SHA256[:], j.SHA256); err != nil {
			p = append(p, "sha256: "+err.Error())
			res.SHA256[0] = 1 // see DecodeConvertRequest
		}
	}
	if p = append(p, res.validate()...); p != nil {
		return Result{}, fmt.Errorf("%w: %w", invalid("RESULT", p), ErrProtocol)
	}
	return res, nil
}

// Ping is a PING frame. ID, if set, comes back in the PONG, so a client that sends
// several can match them.
type Ping struct {
	ID string `json:"id,omitempty"`
}

// Pong answers a PING.
type Pong struct {
	ID string `json:"id,omitempty"`
	// Server is "fileconv <version>". A server may leave it out: a PING needs no
	// token, and the version helps an attacker pick an exploit.
	Server string `json:"server,omitempty"`
}

// WritePing writes a PING frame.
func WritePing(w io.Writer, p Ping) error {
	if len(p.ID) > MaxIDLen {
		return invalid("PING", []string{fmt.Sprintf("id: %d bytes, over the limit of %d", len(p.ID), MaxIDLen)})
	}
	return WriteFrame(w, FramePing, p, 0)
}

// DecodePing decodes a PING frame's header. Errors are *ErrorResponse with
// fail.BadRequest.
func DecodePing(f Frame) (Ping, error) {
	var p Ping
	if msg := decodeHeader(f, FramePing, &p); msg != "" {
		return Ping{}, badRequest("%s", msg)
	}
	if len(p.ID) > MaxIDLen {
		return Ping{}, invalid("PING", []string{fmt.Sprintf("id: %d bytes, over the limit of %d", len(p.ID), MaxIDLen)})
	}
	return p, nil
}

// WritePong writes a PONG frame.
func WritePong(w io.Writer, p Pong) error {
	if len(p.ID) > MaxIDLen || len(p.Server) > MaxIDLen {
		return invalid("PONG", []string{fmt.Sprintf("id and server: at most %d bytes each", MaxIDLen)})
	}
	return WriteFrame(w, FramePong, p, 0)
}

// DecodePong decodes a PONG frame's header. Its errors wrap ErrProtocol.
func DecodePong(f Frame) (Pong, error) {
	var p Pong
	if msg := decodeHeader(f, FramePong, &p); msg != "" {
		return Pong{}, fmt.Errorf("%s: %w", msg, ErrProtocol)
	}
	if len(p.ID) > MaxIDLen || len(p.Server) > MaxIDLen {
		return Pong{}, fmt.Errorf("%w: %w", invalid("PONG", []string{fmt.Sprintf("id and server: at most %d bytes each", MaxIDLen)}), ErrProtocol)
	}
	return p, nil
}

// invalid joins field problems into one bad_request, so a client can fix them all
// in one round trip.
func invalid(what string, problems []string) *ErrorResponse {
	return badRequest("invalid %s header: %s", what, strings.Join(problems, "; "))
}

// decodeHeader unmarshals a frame's JSON header into v and returns a message for a
// person, or "" on success. Unknown fields are ignored, for forward compatibility.
func decodeHeader(f Frame, want FrameType, v any) string {
	if f.Type != want {
		return fmt.Sprintf("got a %s frame where a %s was expected", f.Type, want)
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; a peer that sends
	// it is broken, and saying so is kinder than converting under a mangled name.
	if !utf8.Valid(f.Header) {
		return fmt.Sprintf("invalid %s header: it is not valid UTF-8", want)
	}
	// Unmarshal accepts null and leaves v zero; a header must be an object.
	if t := bytes.TrimLeft(f.Header, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Sprintf("invalid %s header: it must be a JSON object, e.g. {}", want)
	}
	err := json.Unmarshal(f.Header, v)
	if err == nil {
		return ""
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid %s header: not valid JSON at byte %d (%v)", want, syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Sprintf("invalid %s header: %s: expected %s, got %s", want, typ.Field, jsonKind(typ), typ.Value)
	}
	return fmt.Sprintf("invalid %s header: %v", want, err)
}

// jsonKind names the JSON value a Go field needs, for error messages.
func jsonKind(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return e.Type.String()
}

// marshal is json.Marshal without HTML escaping, so that the MarshalJSON methods
// give the same bytes as the typed writers.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
