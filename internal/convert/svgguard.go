package convert

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"regexp"

	"github.com/fileconv/fileconv/internal/fail"
)

// Two things in an SVG cost librsvg 2.54 more than its size says, and are
// checked here, in Go, before it sees the file.
//
// It expands the entities an SVG declares in its DOCTYPE, and libxml2's check
// against expansion bombs does not apply to the way librsvg substitutes them:
// one 4 KB entity named 100 000 times in a 400 KB file made 400 MB of text,
// which librsvg laid out in 15 GB before it gave up. Entities are rarely more
// than names for namespaces (Adobe Illustrator's), so the text they add is
// bounded by the size of the file itself; only a bomb needs more.
//
// It inflates an SVGZ through GLib, which loops for ever, at full speed, on
// any byte after the end of the gzip stream (a second gzip member included).
// The SVGZ is inflated here first, to its end, within maxSVGZInflate.

// minSVGEntityLimit is the least text an SVG's entities may add.
const minSVGEntityLimit = 1 << 20

// maxSVGZInflate bounds what an SVGZ inflates to, as max-pdf-inflate's
// default does a PDF's streams: the largest body.
const maxSVGZInflate = 256 << 20

// svgEntityDecl matches the declaration of a general entity with a literal
// value; parameter entities (%) and external ones (SYSTEM, PUBLIC) are not
// expanded into the document by librsvg.
var svgEntityDecl = regexp.MustCompile(`<!ENTITY\s+([^\s%"'>]+)\s+(?:"([^"]*)"|'([^']*)')`)

// checkSVG refuses an SVG whose entities would add more text than the file
// holds (at least minSVGEntityLimit bytes), and an SVGZ that is damaged,
// followed by anything or too large once inflated. It reads the DOCTYPE from
// the start of the file, where Detect found it, then the rest of the
// document, in constant memory.
func checkSVG(k Kind, b []byte) error {
	if k != KindSVG {
		return nil
	}
	src := bytes.NewReader(b)
	doc := &io.LimitedReader{R: src, N: maxSVGZInflate + 1}
	var z *gzip.Reader
	if bytes.HasPrefix(b, []byte{0x1F, 0x8B}) {
		var err error
		if z, err = gzip.NewReader(src); err != nil {
			return corrupt(k, fmt.Errorf("its gzip compression is damaged (%w)", err))
		}
		z.Multistream(false)
		doc.R = z
	}
	r := bufio.NewReaderSize(doc, svgSniffLimit)
	head, _ := r.Peek(svgSniffLimit)
	sizes, end, err := svgEntitySizes(head)
	if err != nil {
		return err
	}
	if len(sizes) > 0 {
		r.Discard(end)
		if limit := max(int64(len(b)), minSVGEntityLimit); svgEntityText(r, sizes, limit) > limit {
			return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf(
				"the SVG's entities (<!ENTITY> in its DOCTYPE) expand to more than %d bytes of text, over the limit of the file's size (at least 1 MiB)", limit)}
		}
	}
	if z == nil {
		return nil
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return corrupt(k, fmt.Errorf("its gzip compression is damaged (%w)", err))
	}
	switch {
	case doc.N <= 0:
		return &Error{Code: fail.LimitExceeded, Message: fmt.Sprintf("the SVGZ inflates to more than %d MiB, over the limit", maxSVGZInflate>>20)}
	case src.Len() > 0:
		return corrupt(k, fmt.Errorf("%d bytes follow the end of its gzip compression", src.Len()))
	}
	return nil
}

// svgEntitySizes returns the length of each general entity the DOCTYPE in head
// declares, once its references to other entities are expanded, and where the
// DOCTYPE ends.
func svgEntitySizes(head []byte) (map[string]int64, int, error) {
	i := bytes.Index(head, []byte("<!DOCTYPE"))
	n := -1
	if i >= 0 {
		n = doctypeEnd(head[i:])
	}
	if n < 0 {
		return nil, 0, nil
	}
	values := map[string]string{}
	for _, m := range svgEntityDecl.FindAllSubmatch(head[i:i+n], -1) {
		if _, ok := values[string(m[1])]; !ok { // the first declaration counts
			values[string(m[1])] = string(m[2]) + string(m[3])
		}
	}
	sizes := map[string]int64{}
	var size func(name string, depth int) (int64, error)
	size = func(name string, depth int) (int64, error) {
		if s, ok := sizes[name]; ok {
			return s, nil
		}
		if depth > len(values) {
			return 0, &Error{Code: fail.ConversionFailed, Message: fmt.Sprintf("corrupt SVG image: the entity %q refers to itself", name)}
		}
		v := values[name]
		total := int64(len(v))
		for _, ref := range svgEntityRef.FindAllStringSubmatch(v, -1) {
			if _, ok := values[ref[1]]; ok {
				s, err := size(ref[1], depth+1)
				if err != nil {
					return 0, err
				}
				total = min(total+s, 1<<50) // saturates, far over any limit
			}
		}
		sizes[name] = total
		return total, nil
	}
	for name := range values {
		if _, err := size(name, 0); err != nil {
			return nil, 0, err
		}
	}
	return sizes, i + n, nil
}

var svgEntityRef = regexp.MustCompile(`&([^\s&;<>"']+);`)

// svgEntityText reads the document from r and returns the text its references
// to sizes add, stopping once it is over limit.
func svgEntityText(r *bufio.Reader, sizes map[string]int64, limit int64) int64 {
	var added int64
	for added <= limit {
		_, err := r.ReadSlice('&')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil { // the end, or a damaged SVGZ that librsvg reports
			return added
		}
		next, _ := r.Peek(257)
		if j := bytes.IndexByte(next, ';'); j > 0 {
			added += sizes[string(next[:j])]
		}
	}
	return added
}
