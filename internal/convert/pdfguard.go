package convert

// A look at a PDF before poppler opens it.
//
// Poppler parses whatever it is given and cannot be interrupted or bounded once a
// call has started (see pdftext.go), and a few kilobytes are enough to make it
// work for hours or take gigabytes (docs/security.md has the measurements): a
// compressed stream that inflates to gigabytes, arrays nested a million deep, a
// page saving the graphics state (q) millions of times, a page tree that is a
// chain of a hundred thousand nodes. checkPDF reads the file once, in order, in
// bounded memory, and refuses those shapes with a limit the operator can change.
//
// It reads the file the way it is written, not the way poppler's cross-reference
// table may point into it, and cannot see inside encrypted streams, so a file
// built to look different to each can still get past it; it stops the bombs that
// are cheap to make, not a determined attacker (docs/security.md).

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/lzw"
	"compress/zlib"
	"context"
	"encoding/ascii85"
	"errors"
	"fmt"
	"io"
	"slices"

	tifflzw "golang.org/x/image/tiff/lzw"

	"github.com/fileconv/fileconv/internal/fail"
)

const (
	// maxPDFNestingLimit is poppler's own parser limit: past 500 levels it stops
	// building arrays and dictionaries and keeps every further bracket as a
	// separate object, about 60 bytes each.
	maxPDFNestingLimit = 500
	// operatorNestingFactor: graphics states (q) and marked-content sequences
	// (BMC, BDC) may be open this many times max-pdf-nesting deep. Each q costs
	// poppler about 1 KB and each BMC a scan of the ones open, so 4096 of them
	// (the default) cost a few MB and milliseconds; sloppy producers that never
	// close a q go well past the 28 the PDF specification once suggested.
	operatorNestingFactor = 16
	// maxTracked bounds each table the guard keeps (stream sizes, content
	// references, skipped streams), so that its own memory stays small, and the
	// values one object or operand may hold: poppler takes up to 100 bytes for
	// each, 40 times the file. No document within max-pdf-pages comes near it.
	maxTracked = 1 << 20
	// guardCheckEvery is how many bytes are decoded between looks at ctx.
	guardCheckEvery = 4 << 20
	// maxTokenText is how much of a name or keyword is kept; longer ones are
	// never names the guard looks for.
	maxTokenText = 32
	// maxEncryptRefs is how many different objects named as /Encrypt are looked
	// for; past that a file is taken for unencrypted, which only makes the
	// guard stricter.
	maxEncryptRefs = 8
)

// checkPDF is the guard; nil means poppler may have the file.
func (c *Converter) checkPDF(ctx context.Context, input []byte) error {
	g := &pdfGuard{
		ctx:        ctx,
		maxInflate: c.cfg.MaxPDFInflate,
		maxNesting: c.cfg.MaxPDFNesting,
		maxOpen:    c.cfg.MaxPDFNesting * operatorNestingFactor,
		maxPages:   c.cfg.MaxPDFPages,
		pageNodes:  map[int64]struct{}{},
		streams:    map[int64]streamStat{},
		marked:     map[int64]struct{}{},
		endstream:  nextIndex{word: []byte("endstream"), from: -1},
		endobj:     nextIndex{word: []byte("endobj"), from: -1},
	}
	return g.run(input)
}

type pdfGuard struct {
	ctx        context.Context
	maxInflate int64
	maxNesting int
	maxOpen    int
	maxPages   int

	inflated  int64              // decoded bytes so far
	lastCheck int64              // inflated at the last look at ctx
	pageNodes map[int64]struct{} // objects whose dictionary says /Type /Pages
	streams   map[int64]streamStat
	marked    map[int64]struct{} // objects referenced from /Contents, /AP or /CharProcs
	pages     [][]int64          // the /Contents references of each dictionary that has them
	nRefs     int
	skipped   []skippedStream

	// What is found inside streams counts only once the file is known not to be
	// encrypted: encrypted stream data is noise to the guard (and cannot be
	// checked at all).
	encrypted bool
	deferred  error
	damaged   int64

	// Where the stream data that lacks a correct /Length ends.
	endstream, endobj nextIndex

	encryptRefs [][2]int64 // objects trailers name as /Encrypt, at most maxEncryptRefs

	// Kept from one stream to the next.
	flate [2]io.ReadCloser
	store []byte
}

// streamLexer reads decoded stream data; one stream is read at a time, so its
// buffer is the guard's.
func (g *pdfGuard) streamLexer(r io.Reader) *lexer {
	if g.store == nil {
		g.store = make([]byte, 32<<10)
	}
	return &lexer{src: r, store: g.store}
}

// streamStat is what the guard remembers of a stream object.
type streamStat struct {
	decoded int64 // bytes its filters produce, every layer counted
	open    int   // q and BMC/BDC it leaves open at its end
}

// skippedStream is an image or embedded file, which poppler does not decode for
// text, kept in case a page draws it as content all the same.
type skippedStream struct {
	obj          int64
	start, end   int
	filters      []string
	earlyChange0 bool
}

func (g *pdfGuard) run(input []byte) error {
	s := &objScan{g: g, lx: &lexer{buf: input}, raw: input, cur: -1}
	if err := s.scan(); err != nil {
		return err
	}
	// A stream skipped as an image but listed as page content is content.
	for _, sk := range g.skipped {
		if _, ok := g.marked[sk.obj]; ok {
			d := dictSum{filters: sk.filters, earlyChange0: sk.earlyChange0}
			if err := g.stream(sk.obj, d, input[sk.start:sk.end], true, true); err != nil {
				return err
			}
		}
	}
	// Each named object costs a search of the file; files have one or two.
	for _, ref := range g.encryptRefs {
		g.encrypted = g.encrypted || findDictObject(input, ref[0], ref[1])
	}
	if err := g.checkPages(); err != nil {
		return err
	}
	if g.encrypted {
		return nil
	}
	if g.damaged > 0 {
		if err := g.charge(g.damaged); err != nil {
			return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF has a damaged compressed stream that could decompress to more than the limit of %d bytes (max-pdf-inflate)", g.maxInflate)}
		}
	}
	return g.deferred
}

// checkPages charges a page's content streams once more for each further time
// they are listed (poppler decodes them each time), and bounds the q and BMC/BDC
// a page leaves open across its streams, which poppler keeps until the page ends.
func (g *pdfGuard) checkPages() error {
	seen := map[int64]int{}
	var extra int64
	for _, refs := range g.pages {
		open := 0
		for _, r := range refs {
			st := g.streams[r]
			open += st.open
			if seen[r]++; seen[r] > 1 {
				extra = satAdd(extra, st.decoded)
			}
		}
		if open > g.maxOpen && !g.encrypted {
			return openLimit(open, g.maxOpen)
		}
	}
	if extra > 0 {
		return g.charge(extra)
	}
	return nil
}

// charge counts n more decoded bytes against max-pdf-inflate.
func (g *pdfGuard) charge(n int64) error {
	g.inflated = satAdd(g.inflated, n)
	if g.inflated > g.maxInflate {
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF streams decompress to more than the limit of %d bytes (max-pdf-inflate)", g.maxInflate)}
	}
	if g.inflated-g.lastCheck >= guardCheckEvery {
		g.lastCheck = g.inflated
		if g.ctx.Err() != nil {
			return cancelled(g.ctx)
		}
	}
	return nil
}

// deferErr records a finding in raw stream bytes, reported unless the file turns
// out to be encrypted.
func (g *pdfGuard) deferErr(err error) {
	if g.deferred == nil {
		g.deferred = err
	}
}

func nestingLimit(limit int) error {
	return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF nests arrays or dictionaries more than %d deep, over the limit (max-pdf-nesting)", limit)}
}

func openLimit(open, limit int) error {
	return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF page content leaves %d saved graphics states (q) or marked-content sequences (BMC/BDC) open, over the limit of %d (%d × max-pdf-nesting)", open, limit, operatorNestingFactor)}
}

func sizeLimit() error {
	return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF has an object or operand of more than %d values, more than text extraction reads", maxTracked)}
}

func trackLimit(what string) error {
	return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF has more than %d %s, more than the checks before text extraction follow", maxTracked, what)}
}

func satAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > (1<<63-1)/b {
		return 1<<63 - 1
	}
	return a * b
}

// Stream dictionaries.

// dictSum is what the guard needs from an object's dictionary.
type dictSum struct {
	typ, subtype         string
	filters              []string
	length               int64
	lengthSet, lengthRef bool
	objStmN, objStmFirst int64
	binary               bool  // fonts, ICC profiles, sampled images and functions
	earlyChange0         bool  // LZW with /EarlyChange 0
	encrypt              bool  // an /Encrypt dictionary given in place
	encryptRef           int64 // or the object that holds it, -1 if none
	encryptGen           int64
	trailer              bool
	contents             []int64 // references in its /Contents
}

// Filters the guard decodes, with the most each can expand its input, which
// bounds what poppler could make of a damaged stream: poppler reads on past
// damage (a reference to data before the start, say) where Go's decoders stop.
var filterRatio = map[string]int64{
	"FlateDecode":     1032,
	"Fl":              1032,
	"LZWDecode":       4096,
	"LZW":             4096,
	"RunLengthDecode": 64,
	"RL":              64,
	"ASCII85Decode":   4,
	"A85":             4,
	"ASCIIHexDecode":  1,
	"AHx":             1,
}

// imageFilters decode pixels; as content, poppler would read those pixels.
var imageFilters = map[string]bool{
	"DCTDecode": true, "DCT": true, "JPXDecode": true, "JBIG2Decode": true,
	"CCITTFaxDecode": true, "CCF": true,
}

// stream decodes one stream's data, charging what comes out, and checks it as
// content (content) or as objects (an object stream). certain says the stream is
// content for sure (a form, or listed as a page's content) rather than presumed
// to be for want of a label.
func (g *pdfGuard) stream(obj int64, d dictSum, data []byte, content, certain bool) error {
	if len(g.streams) >= maxTracked {
		return trackLimit("streams")
	}
	raw := bytes.NewReader(data)
	var r io.Reader = raw
	ratio := int64(1)
	applied := 0
	for layer, f := range d.filters {
		if imageFilters[f] {
			if certain {
				return &Error{Code: fail.ConversionFailed, Message: "corrupt PDF: page content compressed with " + f + ", an image filter"}
			}
			break
		}
		rf, ok := filterRatio[f]
		if !ok {
			break // a filter poppler may know and the guard does not (Crypt): stop here
		}
		next, err := g.decodeFilter(layer, f, r, d.earlyChange0)
		if err != nil {
			// A header poppler refuses too (not zlib, say): nothing comes out.
			r = nil
			break
		}
		ratio = satMul(ratio, rf)
		r = &chargeReader{r: next, g: g}
		applied++
	}
	if r == nil {
		g.streams[obj] = streamStat{}
		return nil
	}
	before := g.inflated
	var err error
	var open int
	switch {
	case d.typ == "ObjStm":
		s := &objScan{g: g, lx: g.streamLexer(r), cur: -1}
		err = s.scanObjStm(d.objStmN, d.objStmFirst)
	case content:
		open, err = g.content(g.streamLexer(r))
	default:
		_, err = io.Copy(io.Discard, r)
	}
	g.streams[obj] = streamStat{decoded: g.inflated - before, open: open}
	var ce *Error
	switch {
	case err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zlib.ErrChecksum):
		// Truncated data, or a checksum poppler does not check: nothing more follows.
		return nil
	case errors.As(err, &ce):
		if ce.Code == fail.LimitExceeded && g.inflated <= g.maxInflate && applied == 0 && !textLike(data) {
			// Found in raw bytes that may be encrypted noise: it counts only if
			// the file is not encrypted. Data that decoded through a filter, or
			// that is text, is what poppler will read either way.
			g.deferErr(err)
			return nil
		}
		return err
	}
	// Damaged data: assume the rest expands as far as its filters allow, and
	// holds anything at all if poppler is to read it as content.
	rest := int64(raw.Len())
	g.damaged = satAdd(g.damaged, satMul(rest, ratio))
	if content && rest >= 16 {
		g.deferErr(&Error{Code: fail.ConversionFailed, Message: "corrupt PDF: a compressed content stream is damaged"})
	}
	return nil
}

// textLike reports whether at most an eighth of b is neither printable ASCII
// nor white space, as content is and encrypted data is not.
func textLike(b []byte) bool {
	odd := 0
	for _, c := range b {
		if (c < ' ' || c > '~') && !isPDFSpace(c) {
			odd++
		}
	}
	return odd <= len(b)/8
}

// decodeFilter reads r through the filter name, the layer-th of its stream. The
// Flate readers are kept for the next stream: each costs some 40 KB of tables,
// more than most streams are long.
func (g *pdfGuard) decodeFilter(layer int, name string, r io.Reader, earlyChange0 bool) (io.Reader, error) {
	switch name {
	case "FlateDecode", "Fl":
		if layer >= len(g.flate) {
			return zlib.NewReader(r)
		}
		if z := g.flate[layer]; z != nil {
			return z, z.(zlib.Resetter).Reset(r, nil)
		}
		z, err := zlib.NewReader(r)
		if err == nil {
			g.flate[layer] = z
		}
		return z, err
	case "LZWDecode", "LZW":
		if earlyChange0 {
			return lzw.NewReader(r, lzw.MSB, 8), nil
		}
		return tifflzw.NewReader(r, tifflzw.MSB, 8), nil
	case "RunLengthDecode", "RL":
		return &runLengthReader{r: bufio.NewReader(r)}, nil
	case "ASCII85Decode", "A85":
		return ascii85.NewDecoder(&untilTilde{r: bufio.NewReader(r)}), nil
	case "ASCIIHexDecode", "AHx":
		return &hexReader{r: bufio.NewReader(r)}, nil
	}
	return nil, fmt.Errorf("filter %s", name)
}

// content checks decoded content-stream data: nesting of arrays and
// dictionaries, and of q and BMC/BDC, whose count left open it returns.
func (g *pdfGuard) content(lx *lexer) (int, error) {
	depth, q, mc, values := 0, 0, 0, 0
	for {
		t := lx.next()
		if depth > 0 {
			if values++; values > maxTracked {
				return q + mc, sizeLimit()
			}
		} else {
			values = 0
		}
		switch t {
		case tokEOF:
			return q + mc, lx.err
		case tokArrayOpen, tokDictOpen:
			if depth++; depth > g.maxNesting {
				return q + mc, nestingLimit(g.maxNesting)
			}
		case tokArrayClose, tokDictClose:
			depth = max(depth-1, 0)
		case tokKeyword:
			switch string(lx.text) {
			case "q":
				q++
			case "Q":
				q = max(q-1, 0)
			case "BMC", "BDC":
				mc++
			case "EMC":
				mc = max(mc-1, 0)
			case "ID":
				// Inline image data is bytes, not tokens.
				if !lx.skipInlineImage() {
					return q + mc, lx.err
				}
			}
			if q+mc > g.maxOpen {
				return q + mc, openLimit(q+mc, g.maxOpen)
			}
		}
	}
}

// Objects: the file itself and the data of object streams.

// objScan follows the objects of the file, or of one object stream, and the keys
// of each object's dictionary.
type objScan struct {
	g   *pdfGuard
	lx  *lexer
	raw []byte // the file, when scanning it; nil in an object stream

	depth  int
	values int   // values in the open object or operand, up to depth 0
	cur    int64 // the object being read, -1 outside one
	// The two tokens before this one, to see "N G obj" and "N G R".
	p1, p2     tokKind
	n1, n2     int64
	trailerNow bool // the next dictionary is a trailer

	inDict    bool // the object's own dictionary is open
	d         dictSum
	key       string // the key of the value being read
	expectKey bool
	early     bool // just read /EarlyChange inside /DecodeParms
	haveLast  bool // the object's dictionary just closed, so "stream" may follow
	last      dictSum

	offsets []objOffset // object stream: where each object starts
}

type objOffset struct{ at, obj int64 }

// Keys whose values the guard reads.
var watchedKeys = map[string]bool{
	"Type": true, "Subtype": true, "Filter": true, "Length": true, "N": true, "First": true,
	"DecodeParms": true, "Contents": true, "AP": true, "CharProcs": true, "Encrypt": true,
}

// binaryKeys are watched too: only binary data has them (fonts, ICC profiles,
// images, functions).
var binaryKeys = map[string]bool{
	"Length1": true, "Length2": true, "Length3": true, "Alternate": true,
	"Width": true, "Height": true, "BitsPerComponent": true, "FunctionType": true,
}

func (s *objScan) scan() error {
	lx := s.lx
	checked := int64(0)
	for {
		if lx.pos()-checked >= guardCheckEvery {
			checked = lx.pos()
			if s.g.ctx.Err() != nil {
				return cancelled(s.g.ctx)
			}
		}
		t := lx.next()
		if err := s.token(t); err != nil {
			return err
		}
		if t == tokEOF {
			return nil
		}
		s.p1, s.n1, s.p2, s.n2 = s.p2, s.n2, t, lx.num
	}
}

// scanObjStm reads an object stream: n pairs of object number and offset, then
// the objects from first on.
func (s *objScan) scanObjStm(n, first int64) error {
	lx := s.lx
	for i := int64(0); i < n && len(s.offsets) < maxTracked; i++ {
		if lx.next() != tokInt {
			break
		}
		obj := lx.num
		if lx.next() != tokInt {
			break
		}
		s.offsets = append(s.offsets, objOffset{at: first + lx.num, obj: obj})
	}
	slices.SortFunc(s.offsets, func(a, b objOffset) int { return cmp.Compare(a.at, b.at) })
	return s.scan()
}

// objectAt is the object of an object stream that holds the byte at pos.
func (s *objScan) objectAt(pos int64) int64 {
	i, found := slices.BinarySearchFunc(s.offsets, pos, func(o objOffset, p int64) int { return cmp.Compare(o.at, p) })
	switch {
	case found:
		return s.offsets[i].obj
	case i > 0:
		return s.offsets[i-1].obj
	}
	return -1
}

func (s *objScan) token(t tokKind) error {
	lx, g := s.lx, s.g
	if s.depth > 0 {
		if s.values++; s.values > maxTracked {
			return sizeLimit()
		}
	} else {
		s.values = 0
	}
	switch t {
	case tokEOF:
		return lx.err
	case tokDictOpen, tokArrayOpen:
		if s.inDict && s.depth == 1 && !s.expectKey && s.key == "Encrypt" {
			s.d.encrypt = true
		}
		if s.depth == 0 && t == tokDictOpen {
			s.inDict, s.expectKey, s.key = true, true, ""
			s.d = dictSum{trailer: s.trailerNow, encryptRef: -1}
			s.trailerNow = false
			if s.raw == nil {
				s.cur = s.objectAt(lx.pos() - 2)
			}
		}
		if s.depth++; s.depth > g.maxNesting {
			return nestingLimit(g.maxNesting)
		}
		s.haveLast = false
	case tokDictClose, tokArrayClose:
		s.depth = max(s.depth-1, 0)
		if !s.inDict {
			return nil
		}
		switch s.depth {
		case 1:
			s.expectKey = true
		case 0:
			s.inDict, s.haveLast, s.last = false, true, s.d
			return s.dictDone()
		}
	case tokName:
		if !s.inDict {
			return nil
		}
		name := string(lx.text)
		switch {
		case s.depth == 1 && s.expectKey:
			s.key, s.expectKey = "", false
			if (watchedKeys[name] || binaryKeys[name]) && !lx.long {
				s.key = name
				if binaryKeys[name] {
					s.d.binary = true
				}
			}
		case s.depth == 1:
			switch s.key {
			case "Type":
				s.d.typ = name
			case "Subtype":
				s.d.subtype = name
			case "Filter":
				s.d.filters = append(s.d.filters[:0], name)
			}
			s.expectKey = true
		case s.depth == 2 && s.key == "Filter" && len(s.d.filters) < 8:
			s.d.filters = append(s.d.filters, name)
		case s.key == "DecodeParms":
			s.early = name == "EarlyChange"
		}
	case tokInt:
		if s.inDict && s.depth == 1 && !s.expectKey {
			switch s.key {
			case "Length":
				s.d.length, s.d.lengthSet = lx.num, true
			case "N":
				s.d.objStmN = lx.num
			case "First":
				s.d.objStmFirst = lx.num
			}
			s.expectKey = true
		}
		if s.early && s.key == "DecodeParms" {
			s.d.earlyChange0 = lx.num == 0
		}
		s.early = false
	case tokKeyword:
		kw := string(lx.text)
		if kw == "R" && s.p1 == tokInt && s.p2 == tokInt {
			s.values -= 2 // a reference is one value, not three
			return s.ref(s.n1, s.n2)
		}
		if s.inDict && s.depth == 1 && !s.expectKey {
			s.expectKey = true // true, false, null
		}
		if s.raw == nil {
			return nil
		}
		switch kw {
		case "obj":
			// Each object starts afresh, so that one left unclosed by a damaged
			// file does not count against the next.
			if s.p1 == tokInt && s.p2 == tokInt {
				s.cur = s.n1
			}
			s.haveLast, s.inDict, s.depth = false, false, 0
		case "endobj":
			s.cur, s.haveLast, s.inDict, s.depth = -1, false, false, 0
		case "trailer":
			s.trailerNow = true
		case "stream":
			if s.haveLast && s.depth == 0 {
				s.haveLast = false
				return s.stream()
			}
		}
	default:
		if s.inDict && s.depth == 1 && !s.expectKey {
			s.expectKey = true
		}
	}
	return nil
}

// ref handles a reference "n gen R".
func (s *objScan) ref(n, gen int64) error {
	if !s.inDict {
		return nil
	}
	switch s.key {
	case "Encrypt":
		if s.depth == 1 {
			s.d.encryptRef, s.d.encryptGen = n, gen
		}
	case "Length":
		if s.depth == 1 {
			s.d.lengthRef = true
		}
	case "Contents":
		if s.g.nRefs >= maxTracked {
			return trackLimit("content stream references")
		}
		s.g.nRefs++
		s.d.contents = append(s.d.contents, n)
		s.g.marked[n] = struct{}{}
	case "AP", "CharProcs":
		if len(s.g.marked) >= maxTracked {
			return trackLimit("appearance and glyph streams")
		}
		s.g.marked[n] = struct{}{}
	}
	return nil
}

// dictDone acts on an object's dictionary once it is complete.
func (s *objScan) dictDone() error {
	g := s.g
	if s.d.trailer || s.d.typ == "XRef" {
		// Poppler takes a file whose /Encrypt names no object for a plain one,
		// and so must the guard, or a stray /Encrypt would switch it off.
		ref := [2]int64{s.d.encryptRef, s.d.encryptGen}
		switch {
		case s.d.encrypt:
			g.encrypted = true
		case ref[0] >= 0 && len(g.encryptRefs) < maxEncryptRefs && !slices.Contains(g.encryptRefs, ref):
			g.encryptRefs = append(g.encryptRefs, ref)
		}
	}
	if len(s.d.contents) > 0 {
		g.pages = append(g.pages, s.d.contents)
	}
	if s.d.typ == "Pages" && s.cur >= 0 {
		g.pageNodes[s.cur] = struct{}{}
		// A page tree over n pages needs fewer than n intermediate nodes; the
		// slack covers trees with a few single-child nodes.
		if maxNodes := g.maxPages + 64; len(g.pageNodes) > maxNodes {
			return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("PDF page tree has more than %d intermediate nodes (/Type /Pages), over the limit for %d pages (max-pdf-pages)", maxNodes, g.maxPages)}
		}
	}
	return nil
}

// stream handles the data after a "stream" keyword in the file: it finds where the
// data ends, decodes and checks it, and goes on after it.
func (s *objScan) stream() error {
	g, raw := s.g, s.raw
	start := s.lx.r
	// The keyword ends its line with CR LF or LF; a lone CR is tolerated.
	if start < len(raw) && raw[start] == '\r' {
		start++
	}
	if start < len(raw) && raw[start] == '\n' {
		start++
	}
	end := -1
	if d := s.last; d.lengthSet && !d.lengthRef && d.length >= 0 && d.length <= int64(len(raw)-start) {
		if e := start + int(d.length); endstreamAt(raw, e) {
			end = e
		}
	}
	if end < 0 {
		end = g.endstream.find(raw, start)
	}
	if end == len(raw) {
		// No endstream: end at the object's end, so that a broken stream does
		// not hide the rest of the file from the guard (poppler finds the
		// objects after it through the cross-reference table).
		end = g.endobj.find(raw, start)
	}
	s.lx.r = end

	d := s.last
	image := d.subtype == "Image"
	_, marked := g.marked[s.cur]
	certain := d.subtype == "Form" || marked
	binary := d.binary || d.objStmN > 0 || // fonts, images, functions; ICC profiles and object streams have /N
		d.subtype == "Type1C" || d.subtype == "CIDFontType0C" || d.subtype == "OpenType" ||
		d.typ == "XRef" || d.typ == "Metadata"
	if image || d.typ == "EmbeddedFile" {
		if len(g.skipped) >= maxTracked {
			return trackLimit("images")
		}
		g.skipped = append(g.skipped, skippedStream{obj: s.cur, start: start, end: end, filters: d.filters, earlyChange0: d.earlyChange0})
		return nil
	}
	// Neither labelled nor binary: page content (often written before the page
	// that lists it), a Type 3 glyph, a pattern or a CMap.
	content := certain || !binary
	return g.stream(s.cur, d, raw[start:end], content, certain)
}

// findDictObject reports whether the file defines object n gen as a dictionary.
func findDictObject(raw []byte, n, gen int64) bool {
	head := []byte(fmt.Sprintf("%d %d obj", n, gen))
	for i := 0; ; {
		j := bytes.Index(raw[i:], head)
		if j < 0 {
			return false
		}
		at := i + j
		i = at + len(head)
		if at > 0 && !isPDFSpace(raw[at-1]) && !isPDFDelim(raw[at-1]) {
			continue
		}
		rest := bytes.TrimLeft(raw[i:min(len(raw), i+64)], " \t\r\n\f\x00")
		if bytes.HasPrefix(rest, []byte("<<")) {
			return true
		}
	}
}

// endstreamAt reports whether the keyword endstream follows at i, after at most a
// line end.
func endstreamAt(raw []byte, i int) bool {
	for n := 0; n < 2 && i < len(raw) && (raw[i] == '\r' || raw[i] == '\n' || raw[i] == ' '); n++ {
		i++
	}
	return bytes.HasPrefix(raw[i:], []byte("endstream"))
}

// nextIndex finds the next occurrence of word in a file, keeping its last answer:
// a file of a million "stream" keywords and no "endstream" must not cost a
// million searches to its end.
type nextIndex struct {
	word     []byte
	from, at int // the last search started at from and found word at at (-1: nowhere)
}

// find is the start of the first word at or after from, or the end of raw.
func (n *nextIndex) find(raw []byte, from int) int {
	if n.from < 0 || from < n.from || n.at >= 0 && from > n.at {
		n.from, n.at = from, -1
		if i := bytes.Index(raw[from:], n.word); i >= 0 {
			n.at = from + i
		}
	}
	if n.at < 0 {
		return len(raw)
	}
	return n.at
}

// Tokens.

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokName
	tokInt
	tokReal
	tokString
	tokArrayOpen
	tokArrayClose
	tokDictOpen
	tokDictClose
	tokKeyword
	tokOther
)

// lexer splits PDF syntax into tokens in constant memory: strings and comments
// are skipped, names and keywords cut to maxTokenText bytes. It reads buf, and
// when src is set refills buf from it through store, keeping the last byte so
// that one byte can always be unread.
type lexer struct {
	buf   []byte
	r     int       // the next byte in buf
	src   io.Reader // nil when buf is the whole input
	store []byte
	base  int64 // the position of buf[0]
	err   error // a read error other than io.EOF

	text []byte
	long bool // text was cut
	num  int64
	word [maxTokenText]byte
}

// pos is the number of bytes read.
func (l *lexer) pos() int64 { return l.base + int64(l.r) }

func (l *lexer) read() (byte, bool) {
	if l.r < len(l.buf) {
		l.r++
		return l.buf[l.r-1], true
	}
	return l.fill()
}

func (l *lexer) fill() (byte, bool) {
	if l.src == nil || l.err != nil {
		return 0, false
	}
	keep := 0
	if len(l.buf) > 0 {
		l.store[0] = l.buf[len(l.buf)-1]
		keep = 1
	}
	l.base += int64(len(l.buf) - keep)
	l.buf, l.r = l.store[:keep], keep
	for range 100 {
		n, err := l.src.Read(l.store[keep:])
		l.buf = l.store[:keep+n]
		if err != nil && err != io.EOF {
			l.err = err
		}
		if n > 0 {
			l.r++
			return l.buf[l.r-1], true
		}
		if err != nil {
			l.src = nil
			return 0, false
		}
	}
	l.err = io.ErrNoProgress
	return 0, false
}

// unread steps back over the byte just read.
func (l *lexer) unread() { l.r-- }

func isPDFSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isPDFDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (l *lexer) next() tokKind {
	for {
		c, ok := l.read()
		if !ok {
			return tokEOF
		}
		switch {
		case isPDFSpace(c):
		case c == '%':
			for {
				c, ok := l.read()
				if !ok {
					return tokEOF
				}
				if c == '\n' || c == '\r' {
					break
				}
			}
		case c == '(':
			l.skipString()
			return tokString
		case c == '<':
			if c, ok := l.read(); ok {
				if c == '<' {
					return tokDictOpen
				}
				l.unread()
			}
			for {
				c, ok := l.read()
				if !ok || c == '>' {
					return tokString
				}
			}
		case c == '>':
			if c, ok := l.read(); ok {
				if c == '>' {
					return tokDictClose
				}
				l.unread()
			}
		case c == '[':
			return tokArrayOpen
		case c == ']':
			return tokArrayClose
		case c == '{' || c == '}' || c == ')':
			return tokOther
		case c == '/':
			l.readWord(0, false)
			return tokName
		default:
			l.readWord(c, true)
			return l.classify()
		}
	}
}

// readWord reads the regular characters of a name or keyword, after first if has.
func (l *lexer) readWord(first byte, has bool) {
	n := 0
	l.long = false
	if has {
		l.word[0] = first
		n = 1
	}
	for {
		c, ok := l.read()
		if !ok {
			break
		}
		if isPDFSpace(c) || isPDFDelim(c) {
			l.unread()
			break
		}
		if n < len(l.word) {
			l.word[n] = c
			n++
		} else {
			l.long = true
		}
	}
	l.text = l.word[:n]
}

// classify tells a number from a keyword; an integer's value goes in num.
func (l *lexer) classify() tokKind {
	t := l.text
	if l.long || len(t) == 0 {
		return tokKeyword
	}
	i := 0
	if t[0] == '+' || t[0] == '-' {
		i = 1
	}
	digits, dot := 0, false
	var v int64
	for ; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits++
			if v < 1<<50 {
				v = v*10 + int64(c-'0')
			}
		case c == '.' && !dot:
			dot = true
		default:
			return tokKeyword
		}
	}
	switch {
	case digits == 0:
		return tokKeyword
	case dot:
		return tokReal
	}
	if t[0] == '-' {
		v = -v
	}
	l.num = v
	return tokInt
}

func (l *lexer) skipString() {
	depth := 1
	for {
		c, ok := l.read()
		if !ok {
			return
		}
		switch c {
		case '\\':
			if _, ok := l.read(); !ok {
				return
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return
			}
		}
	}
}

// skipInlineImage skips the data after ID up to the EI that ends it: the first
// "EI" with white space before it and white space or a delimiter after. It
// reports whether anything follows.
func (l *lexer) skipInlineImage() bool {
	var b2, b1 byte = 'x', 'x' // the two bytes before c
	for {
		c, ok := l.read()
		if !ok {
			return false
		}
		if isPDFSpace(b2) && b1 == 'E' && c == 'I' {
			n, ok := l.read()
			if !ok {
				return false
			}
			l.unread()
			if isPDFSpace(n) || isPDFDelim(n) {
				return true
			}
		}
		b2, b1 = b1, c
	}
}

// Readers.

// chargeReader charges what a decoder produces to the guard's budget.
type chargeReader struct {
	r io.Reader
	g *pdfGuard
}

func (c *chargeReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if cerr := c.g.charge(int64(n)); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// runLengthReader decodes RunLengthDecode.
type runLengthReader struct {
	r       *bufio.Reader
	literal int  // literal bytes still to copy
	repeat  int  // times b is still to be written
	b       byte // the repeated byte
	done    bool
}

func (r *runLengthReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case r.repeat > 0:
			k := min(r.repeat, len(p)-n)
			for i := range k {
				p[n+i] = r.b
			}
			n += k
			r.repeat -= k
		case r.literal > 0:
			k, err := r.r.Read(p[n : n+min(r.literal, len(p)-n)])
			n += k
			r.literal -= k
			if err != nil {
				return n, eofAsUnexpected(err)
			}
		case r.done:
			return n, io.EOF
		default:
			l, err := r.r.ReadByte()
			if err != nil {
				r.done = true
				continue
			}
			switch {
			case l < 128:
				r.literal = int(l) + 1
			case l > 128:
				b, err := r.r.ReadByte()
				if err != nil {
					r.done = true
					continue
				}
				r.b, r.repeat = b, 257-int(l)
			default:
				r.done = true
			}
		}
	}
	return n, nil
}

func eofAsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// untilTilde ends ASCII85 data at its "~>" marker and drops white space, which
// encoding/ascii85 would otherwise take for part of the data.
type untilTilde struct {
	r    *bufio.Reader
	done bool
}

func (u *untilTilde) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !u.done {
		c, err := u.r.ReadByte()
		if err != nil || c == '~' {
			u.done = true
			break
		}
		if !isPDFSpace(c) {
			p[n] = c
			n++
		}
	}
	if n == 0 && u.done {
		return 0, io.EOF
	}
	return n, nil
}

// hexReader decodes ASCIIHexDecode.
type hexReader struct {
	r    *bufio.Reader
	hi   byte
	half bool // hi holds the first digit of a byte
	done bool
}

func (h *hexReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && !h.done {
		c, err := h.r.ReadByte()
		if err != nil || c == '>' {
			h.done = true
			if h.half {
				p[n] = h.hi << 4 // an odd last digit is followed by 0
				n++
				h.half = false
			}
			break
		}
		v, ok := hexVal(c)
		if !ok {
			continue
		}
		if h.half {
			p[n] = h.hi<<4 | v
			n++
		} else {
			h.hi = v
		}
		h.half = !h.half
	}
	if n == 0 && h.done {
		return 0, io.EOF
	}
	return n, nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
