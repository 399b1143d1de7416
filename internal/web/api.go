package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fileconv/fileconv/client"
	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// The web tier's own error codes, besides fail's: refusals made before a
// request reaches the master, and the master's failure as seen from here.
const (
	codeForbidden       = "forbidden"
	codeNotFound        = "not_found"
	codeTooManyRequests = "too_many_requests"
	codeBadGateway      = "bad_gateway"
)

// webCodes describes them for the OpenAPI document, as fail's table does its own.
var webCodes = []struct{ Code, Meaning string }{
	{codeForbidden, "a cross-site request, or with --open a host name that is not loopback"},
	{codeNotFound, "no such endpoint"},
	{codeTooManyRequests, "over max-per-client conversions in flight; wait Retry-After"},
	{codeBadGateway, "the master cannot be reached, or it refused the web tier's token"},
}

// apiError is the JSON body of every error answer.
type apiError struct {
	status     int
	retryAfter time.Duration
	Code       string `json:"code"`
	Message    string `json:"message"`
	JobID      string `json:"job_id,omitempty"`
}

func writeError(w http.ResponseWriter, e apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Disposition")
	h.Del("Trailer")
	if e.retryAfter > 0 || e.status == http.StatusTooManyRequests || e.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfterSeconds(e.retryAfter))
	}
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(e)
}

// failure is an answer of one of fail's codes, with the status its table gives.
func failure(code fail.Code, msg string) apiError {
	return apiError{status: code.Spec().HTTPStatus, Code: string(code), Message: msg}
}

// convertError turns a failed conversion into the answer the caller gets.
func convertError(err error, ctx context.Context) apiError {
	var se *client.ServerError
	switch {
	case errors.As(err, &se):
		if se.Code == client.CodeUnauthorized {
			// Callers were checked here: the master refused the web tier's own token.
			return apiError{status: http.StatusBadGateway, Code: codeBadGateway, JobID: se.JobID,
				Message: "the master refused the web tier's token (check its --token-file): " + se.Message}
		}
		e := failure(se.Code, se.Message)
		e.JobID, e.retryAfter = se.JobID, se.RetryAfter
		if se.Code == client.CodeBusy || se.Code == client.CodeUnavailable {
			e.retryAfter = max(se.RetryAfter, time.Second)
		}
		return e
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return failure(fail.Timeout, "the conversion took longer than the web tier allows (convert-timeout)")
	case errors.Is(err, client.ErrBadRequest):
		return failure(fail.BadRequest, trimConvert(err.Error()))
	case errors.Is(err, client.ErrChecksum):
		return failure(fail.ChecksumMismatch, trimConvert(err.Error()))
	}
	return apiError{status: http.StatusBadGateway, Code: codeBadGateway, retryAfter: time.Second,
		Message: "cannot reach the master: " + trimConvert(err.Error())}
}

// trimConvert drops the client's "convert NAME: " prefix, which names the
// caller's own file back to it.
func trimConvert(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "convert "); ok {
		if i := strings.Index(rest, ": "); i >= 0 {
			return rest[i+2:]
		}
	}
	return msg
}

var (
	errMemory   = errors.New("memory")
	errTooLarge = errors.New("too large")
)

// request is a conversion as the caller asked for it.
type request struct {
	to   string
	opts client.Options
	name string
}

// set reads the target or an option from a query parameter or form field.
func (q *request) set(key, value string) error {
	switch key {
	case "to", "op":
		if n, err := strconv.Atoi(value); err == nil && wire.Operation(n).Valid() {
			q.to = wire.Operation(n).Target()
			return nil
		}
		to, err := convert.ParseTarget(value)
		q.to = to
		return err
	case "name", "filename":
		q.name = value
	case "page-size":
		return q.opts.Set("page_size", value)
	default:
		if slices.Contains(wire.OptionNames(), key) {
			return q.opts.Set(key, value)
		}
	}
	return nil
}

func (s *Server) handleConvert(w http.ResponseWriter, r *http.Request, caller string) {
	start := time.Now()
	var q request
	for key, values := range r.URL.Query() {
		if len(values) > 0 {
			if err := q.set(key, values[0]); err != nil {
				writeError(w, failure(fail.BadRequest, err.Error()))
				return
			}
		}
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isMultipart := mediaType == "multipart/form-data"
	if q.to == "" && !isMultipart {
		writeError(w, failure(fail.BadRequest, "say what to convert to: ?to="+strings.Join(madeTargets(), ", ")))
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes && !isMultipart {
		writeError(w, s.tooLarge(r.ContentLength))
		return
	}
	if !s.clients.acquire(caller) {
		writeError(w, apiError{status: http.StatusTooManyRequests, Code: codeTooManyRequests, retryAfter: time.Second,
			Message: fmt.Sprintf("you already have %d conversions in flight, the most one caller may have (max-per-client): wait for one to finish", s.cfg.MaxPerClient)})
		return
	}
	defer s.clients.release(caller)

	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) // not every ResponseWriter can
	var (
		files   []upload
		release func()
		err     error
	)
	if isMultipart {
		files, release, err = s.readMultipart(r, &q)
	} else {
		var data []byte
		data, release, err = s.readInput(r.Body, r.ContentLength)
		files = []upload{{data: data}}
	}
	if release != nil {
		defer release()
	}
	if err != nil {
		writeError(w, s.bodyError(err))
		return
	}
	_ = rc.SetReadDeadline(time.Time{})
	if q.to == "" {
		writeError(w, failure(fail.BadRequest,
			`say what to convert to: ?to=`+strings.Join(madeTargets(), "|")+`, or a form field "to"`))
		return
	}
	if msg := emptyFile(files); msg != "" {
		writeError(w, failure(fail.BadRequest, msg))
		return
	}
	if err := q.opts.Validate(); err != nil {
		writeError(w, failure(fail.BadRequest, err.Error()))
		return
	}

	s.convert(w, r, rc, q, files, caller, start)
}

// emptyFile says which file of a request is empty, or "".
func emptyFile(files []upload) string {
	for i, f := range files {
		switch {
		case len(f.data) > 0:
		case len(files) == 1:
			return "empty input: the file has 0 bytes"
		default:
			return fmt.Sprintf("file %d (%s) is empty: it has 0 bytes", i+1, wire.Printable(f.name))
		}
	}
	return ""
}

// bodyError is the answer to a request whose body could not be read.
func (s *Server) bodyError(err error) apiError {
	var ae apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, errTooLarge):
		return s.tooLarge(-1)
	case errors.Is(err, errMemory):
		// 503, not busy's 429: it is this server that is full, not the caller
		// who asks too much.
		return apiError{status: http.StatusServiceUnavailable, Code: string(fail.Busy), retryAfter: 2 * time.Second,
			Message: "the web tier is holding as many files in memory as it may (max-memory): try again shortly"}
	case errors.Is(err, errDeadline):
		// 408, not timeout's 504: the caller's upload was slow, not the cluster.
		return apiError{status: http.StatusRequestTimeout, Code: string(fail.Timeout), Message: "the upload took longer than the web tier allows (read-timeout)"}
	}
	return failure(fail.BadRequest, "reading the request body: "+err.Error())
}

// convert sends the caller's file to the master and streams the result back.
func (s *Server) convert(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, q request, files []upload, caller string, start time.Time) {
	in := cleanName(cmp.Or(q.name, files[0].name))
	if len(files) > 1 {
		in = cleanName(cmp.Or(q.name, "combined"))
	}
	out := outputName(in, q.to)
	target, _ := convert.LookupTarget(q.to)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ConvertTimeout)
	defer cancel()
	// The master announces the warnings before the file, and the headers go
	// out with its first byte: in time for the caller to read them as headers.
	var warnings []string
	contentType := target.ContentType
	opts := q.opts
	opts.OnResult = func(res client.Result) {
		warnings = res.Warnings
		if res.ContentType == convert.ZipContentType {
			// Several pages as pictures: the ZIP of them.
			contentType, out = res.ContentType, outputName(in, "zip")
		}
	}
	rw := &resultWriter{w: w, rc: rc, ioTimeout: s.cfg.ReadTimeout, header: func(h http.Header) {
		h.Set("Content-Type", contentType)
		h.Set("Content-Disposition", contentDisposition(out))
		h.Set("Cache-Control", "no-store")
		h.Set("Trailer", "Fileconv-Job-Id, Fileconv-Result-Sha256")
		setWarnings(h, warnings)
	}}
	s.stats.start()
	res, err := s.send(ctx, q.to, in, files, rw, opts)
	var size int64
	for _, f := range files {
		size += int64(len(f.data))
	}
	s.stats.finish(err == nil, size, res.Size, time.Since(start))
	log := s.cfg.Logger.With("to", q.to, "files", len(files), "bytes_in", size, "bytes_out", res.Size,
		"seconds", time.Since(start).Seconds(), "job_id", res.JobID, "caller", caller)
	if err != nil {
		ae := convertError(err, ctx)
		if r.Context().Err() != nil {
			log.Info("web conversion abandoned: the caller went away", "error", err)
			return
		}
		log.Info("web conversion failed", "code", ae.Code, "status", ae.status, "error", err)
		if rw.started {
			// Part of the result is out: break the response off (no final chunk) so
			// the caller cannot take it for a whole file.
			panic(http.ErrAbortHandler)
		}
		writeError(w, ae)
		return
	}
	if !rw.started {
		rw.start() // an empty result still gets its headers
	}
	w.Header().Set("Fileconv-Job-Id", res.JobID)
	if res.SHA256 != [32]byte{} {
		w.Header().Set("Fileconv-Result-Sha256", hex.EncodeToString(res.SHA256[:]))
	}
	if len(res.Warnings) > 0 {
		log = log.With("warnings", len(res.Warnings))
	}
	log.Info("web conversion", "input_type", res.InputType, "protocol", res.Protocol)
}

// send converts the one file, or the several files as one job.
func (s *Server) send(ctx context.Context, to, name string, files []upload, out io.Writer, opts client.Options) (client.Result, error) {
	if len(files) == 1 {
		return s.cfg.Client.Convert(ctx, to, name, bytes.NewReader(files[0].data), out, opts)
	}
	parts := make([]client.Part, len(files))
	for i, f := range files {
		parts[i] = client.Part{Name: f.name, Body: bytes.NewReader(f.data)}
	}
	return s.cfg.Client.ConvertFiles(ctx, to, name, parts, out, opts)
}

func (s *Server) tooLarge(size int64) apiError {
	msg := fmt.Sprintf("file is larger than the %s this server accepts (max-body)", formatSize(s.cfg.MaxBodyBytes))
	if size > 0 {
		msg = fmt.Sprintf("file is %s, over the %s this server accepts (max-body)", formatSize(size), formatSize(s.cfg.MaxBodyBytes))
	}
	return failure(fail.TooLarge, msg)
}

var errDeadline = errors.New("read deadline")

// readInput reads r into memory, up to MaxBodyBytes, counting what it holds
// against the shared memory budget. release gives the memory back.
func (s *Server) readInput(r io.Reader, hint int64) (data []byte, release func(), err error) {
	return s.readInputUpTo(r, hint, s.cfg.MaxBodyBytes)
}

// readInputUpTo is readInput with a limit of its own.
func (s *Server) readInputUpTo(r io.Reader, hint, limit int64) (data []byte, release func(), err error) {
	var reserved int64
	release = func() { s.mem.give(reserved); reserved = 0 }
	size := int64(64 << 10)
	if hint > 0 {
		size = hint + 1 // one more byte to see the end without growing
	}
	size = min(size, limit+1)
	if !s.mem.take(size) {
		return nil, release, errMemory
	}
	reserved = size
	buf := make([]byte, 0, size)
	for {
		if int64(len(buf)) == int64(cap(buf)) {
			if int64(len(buf)) > limit {
				return nil, release, errTooLarge
			}
			grow := min(int64(cap(buf))*2, limit+1)
			if !s.mem.take(grow) {
				return nil, release, errMemory
			}
			reserved += grow
			nb := make([]byte, len(buf), grow)
			copy(nb, buf)
			s.mem.give(int64(cap(buf)))
			reserved -= int64(cap(buf))
			buf = nb
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			if int64(len(buf)) > limit {
				return nil, release, errTooLarge
			}
			return buf, release, nil
		}
		if rerr != nil {
			if isTimeout(rerr) {
				return nil, release, fmt.Errorf("%w: %w", errDeadline, rerr)
			}
			var mbe *http.MaxBytesError
			if errors.As(rerr, &mbe) {
				return nil, release, errTooLarge
			}
			return nil, release, rerr
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// readMultipart reads the form fields and the file parts into memory, each
// file like a raw body, the files together within max-body. Nothing is
// spooled to disk (unlike Request.ParseMultipartForm). Several files are one
// job: combined into one PDF.
func (s *Server) readMultipart(r *http.Request, q *request) ([]upload, func(), error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, err
	}
	var (
		files    []upload
		releases []func()
		total    int64
	)
	release := func() {
		for _, f := range releases {
			f()
		}
	}
	for fields := 0; ; {
		part, err := mr.NextPart()
		switch {
		case err == io.EOF && len(files) == 0:
			return nil, release, failure(fail.BadRequest, `the form holds no file: send it in a part named "file"`)
		case err == io.EOF:
			return files, release, nil
		case err != nil && isTimeout(err):
			return nil, release, fmt.Errorf("%w: %w", errDeadline, err)
		case err != nil:
			return nil, release, err
		}
		if part.FileName() == "" && part.FormName() != "file" {
			if fields++; fields > 32 {
				return nil, release, errors.New("too many form fields")
			}
			if err := s.readField(part, q); err != nil {
				return nil, release, err
			}
			continue
		}
		if len(files) == wire.MaxFiles {
			return nil, release, failure(fail.LimitExceeded, fmt.Sprintf("more than %d files in one request; send them in smaller groups", wire.MaxFiles))
		}
		data, free, err := s.readInputUpTo(part, -1, s.cfg.MaxBodyBytes-total)
		releases = append(releases, free)
		if errors.Is(err, errTooLarge) && len(files) > 0 {
			return nil, release, failure(fail.TooLarge, fmt.Sprintf("the files together are larger than the %s this server accepts (max-body)", formatSize(s.cfg.MaxBodyBytes)))
		}
		if err != nil {
			return nil, release, err
		}
		total += int64(len(data))
		files = append(files, upload{name: part.FileName(), data: data})
	}
}

// upload is one file of a form.
type upload struct {
	name string
	data []byte
}

// readField reads a form field: the target or an option.
func (s *Server) readField(part *multipart.Part, q *request) error {
	value, err := io.ReadAll(io.LimitReader(part, wire.MaxPasswordLen+1))
	if err != nil {
		return err
	}
	if err := q.set(part.FormName(), strings.TrimSpace(string(value))); err != nil {
		return failure(fail.BadRequest, err.Error())
	}
	return nil
}

func (e apiError) Error() string { return e.Message }

// resultWriter sends the response headers with the first byte of the result,
// so that a refusal can still be answered with an error status.
type resultWriter struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	ioTimeout time.Duration
	header    func(http.Header)
	started   bool
}

func (rw *resultWriter) start() {
	rw.header(rw.w.Header())
	rw.w.WriteHeader(http.StatusOK)
	rw.started = true
}

func (rw *resultWriter) Write(p []byte) (int, error) {
	if !rw.started {
		rw.start()
	}
	_ = rw.rc.SetWriteDeadline(time.Now().Add(rw.ioTimeout))
	return rw.w.Write(p)
}

// cleanName keeps the last element of a caller's file name, without control
// characters; it only names the job and the result, never a path.
func cleanName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == "/" || name == ".." {
		return "file"
	}
	if len(name) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return name
}

// outputName is the input's name with the target's extension.
func outputName(in string, to string) string {
	base := strings.TrimSuffix(in, path.Ext(in))
	if base == "" {
		base = "file"
	}
	return base + "." + to
}

// contentDisposition is an attachment header with an ASCII filename for old
// clients and the exact UTF-8 name in filename* (RFC 6266, RFC 8187).
func contentDisposition(name string) string {
	var ascii, ext strings.Builder
	for _, r := range name {
		switch {
		case r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '/' || r == ';' || r == '%':
			ascii.WriteByte('_')
		default:
			ascii.WriteRune(r)
		}
	}
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			ext.WriteByte(b)
		} else {
			fmt.Fprintf(&ext, "%%%02X", b)
		}
	}
	return `attachment; filename="` + ascii.String() + `"; filename*=UTF-8''` + ext.String()
}

func isAttrChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Formats is the answer of GET /api/v1/formats.
type Formats struct {
	// Auth is "bearer" when callers must send a token, "none" when the server is open.
	Auth         string   `json:"auth"`
	MaxBodyBytes int64    `json:"max_body_bytes"`
	MaxPerClient int      `json:"max_per_client"`
	Targets      []Target `json:"targets"`
	Inputs       []Input  `json:"inputs"`
	// Conversions are the registry's entries, by the names a worker's
	// --disable-conversions takes.
	Conversions []Conversion `json:"conversions"`
	// OCRLanguages are the languages OCR reads on some worker (lang=), as
	// Tesseract names them: eng, deu, chi_sim, …
	OCRLanguages []string `json:"ocr_languages"`
}

// Conversion is one entry of the conversion registry.
type Conversion struct {
	Name    string   `json:"name"`
	From    []string `json:"from"`
	To      []string `json:"to"`
	Options []string `json:"options"`
	Engine  string   `json:"engine"`
	// Family is the group of engines a worker's --engines turns on.
	Family string   `json:"family"`
	Limits []string `json:"limits"`
}

// Target is an output format.
type Target struct {
	To string `json:"to"`
	// Op is the target's v1.0 operation number, when it has one.
	Op          int      `json:"op,omitempty"`
	ContentType string   `json:"content_type"`
	Description string   `json:"description"`
	Options     []string `json:"options"`
}

// Input is a detected input type and the targets it converts to, the default first.
type Input struct {
	Type      string   `json:"type"`
	Name      string   `json:"name"`
	MediaType string   `json:"media_type"`
	Detection string   `json:"detection"`
	Targets   []string `json:"targets"`
	// Default is empty for a kind that converts to nothing (from /detect only).
	Default string `json:"default,omitempty"`
}

// formats is the registry as the API shows it, its inputs restricted to what
// caps converts (nil: the whole registry, as the OpenAPI document shows it).
func (s *Server) formats(caps convert.Capabilities) Formats {
	f := Formats{Auth: "bearer", MaxBodyBytes: s.cfg.MaxBodyBytes, MaxPerClient: s.cfg.MaxPerClient}
	if s.cfg.Open {
		f.Auth = "none"
	}
	made := madeTargets()
	conversions := convert.Conversions()
	for _, t := range convert.Targets() {
		if !slices.Contains(made, t.Name) {
			continue
		}
		op, _ := wire.OperationOf(t.Name)
		target := Target{To: t.Name, Op: int(op), ContentType: t.ContentType, Description: t.Label, Options: []string{}}
		for _, c := range conversions {
			if slices.Contains(c.To, t.Name) {
				for _, o := range c.Options {
					if !slices.Contains(target.Options, o) {
						target.Options = append(target.Options, o)
					}
				}
			}
		}
		f.Targets = append(f.Targets, target)
	}
	for _, k := range convert.Kinds() {
		if in := restrict(inputOf(k, made), caps); len(in.Targets) > 0 {
			f.Inputs = append(f.Inputs, in)
		}
	}
	for _, c := range conversions {
		conv := Conversion{Name: c.Name, To: c.To, Options: append([]string{}, c.Options...), Engine: c.Engine, Family: c.Family, Limits: append([]string{}, c.Limits...)}
		for _, k := range c.From {
			conv.From = append(conv.From, string(k))
		}
		f.Conversions = append(f.Conversions, conv)
	}
	return f
}

// madeTargets lists the targets that some conversion makes, in the registry's
// order of targets. A target nobody makes is of no use to a caller.
func madeTargets() []string {
	var made []string
	for _, c := range convert.Conversions() {
		made = append(made, c.To...)
	}
	var names []string
	for _, name := range convert.TargetNames() {
		if slices.Contains(made, name) {
			names = append(names, name)
		}
	}
	return names
}

// inputOf describes kind k and its targets, the default first; made is
// madeTargets(). Targets follow the registry's order of targets, not the order
// in which conversions happen to be registered, so that the default stays put.
func inputOf(k convert.KindInfo, made []string) Input {
	from := convert.TargetsFrom(k.Kind)
	targets := []string{}
	for _, name := range made {
		if slices.Contains(from, name) {
			targets = append(targets, name)
		}
	}
	// Converting a file to its own format is rarely what a caller wants
	// first: that target goes last.
	if same, ok := convert.LookupTarget(string(k.Kind)); ok {
		if i := slices.Index(targets, same.Name); i >= 0 {
			targets = append(slices.Delete(targets, i, i+1), same.Name)
		}
	}
	// The default is the kind's first conversion in the registry (the PDF's
	// text before its pictures), unless that is its own format.
	own, _ := convert.LookupTarget(string(k.Kind))
	for _, first := range from {
		if i := slices.Index(targets, first); i >= 0 && first != own.Name {
			targets = append([]string{first}, slices.Delete(targets, i, i+1)...)
			break
		}
	}
	in := Input{Type: string(k.Kind), Name: k.Label, MediaType: k.MediaType, Detection: k.Detection, Targets: targets}
	if len(targets) > 0 {
		in.Default = targets[0]
	}
	return in
}

// maxDetectBytes bounds what POST /api/v1/detect reads: magic numbers sit in
// the first bytes, and a head that long is enough to tell text.
const maxDetectBytes = 64 << 10

// handleDetect names the kind of a file from its first bytes, as the workers
// will, and lists its targets. The page asks here rather than keep its own
// magic numbers, so that a kind the registry gains shows in the page by itself.
// It needs no token, like /formats: it converts nothing and reads little.
func (s *Server) handleDetect(w http.ResponseWriter, r *http.Request) {
	head, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDetectBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, failure(fail.TooLarge, fmt.Sprintf("send at most the first %s of the file", formatSize(maxDetectBytes))))
			return
		}
		writeError(w, failure(fail.BadRequest, "reading the request body: "+err.Error()))
		return
	}
	// size says the body is only the file's head, which may end inside a
	// UTF-8 character without the file being any less a text.
	whole := true
	if v := r.URL.Query().Get("size"); v != "" {
		size, err := strconv.ParseInt(v, 10, 64)
		if err != nil || size < 0 {
			writeError(w, failure(fail.BadRequest, fmt.Sprintf("size %q is not a number of bytes", v)))
			return
		}
		whole = size <= int64(len(head))
	}
	writeJSON(w, restrict(inputOf(convert.DetectRequest(head, whole, wire.Options{}, false).Info(), madeTargets()), s.offered.get(r.Context())))
}

func (s *Server) handleFormats(w http.ResponseWriter, r *http.Request) {
	f := s.formats(s.offered.get(r.Context()))
	f.OCRLanguages = s.offered.ocrLanguages(r.Context())
	writeJSON(w, f)
}

// Status is the answer of GET /api/v1/status.
type Status struct {
	Web WebStatus `json:"web"`
	// Master is the master's own /status (workers, health, jobs in flight), or
	// null with MasterError saying why it could not be had.
	Master      any    `json:"master"`
	MasterError string `json:"master_error,omitempty"`
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request, _ string) {
	inFlight, converted, failed, recent := s.stats.snapshot()
	st := Status{Web: WebStatus{
		InFlight: inFlight, Converted: converted, Failed: failed,
		MemoryInUse: s.mem.inUse(), MemoryLimit: s.cfg.MaxMemoryBytes,
		MaxBodyBytes: s.cfg.MaxBodyBytes, MaxPerClient: s.cfg.MaxPerClient,
		Recent: recent, ReadTimeoutSec: s.cfg.ReadTimeout.Seconds(),
	}}
	ctx, cancel := context.WithTimeout(r.Context(), DefaultStatusTimeout)
	defer cancel()
	st.Master, st.MasterError = s.masterStatus(ctx)
	writeJSON(w, st)
}

func (s *Server) masterStatus(ctx context.Context) (any, string) {
	if s.cfg.MasterStatus != nil {
		v, err := s.cfg.MasterStatus(ctx)
		if err != nil {
			return nil, err.Error()
		}
		return v, ""
	}
	if s.cfg.MasterAdmin == "" || s.cfg.MasterAdmin == "off" {
		return nil, "no master admin listener configured (--master-admin)"
	}
	url := "http://" + s.cfg.MasterAdmin + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Sprintf("the master's admin listener at %s does not answer: %v", s.cfg.MasterAdmin, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Sprintf("reading %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Sprintf("%s answered %s", url, resp.Status)
	}
	if !json.Valid(body) {
		return nil, url + " is not JSON"
	}
	return json.RawMessage(body), ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
