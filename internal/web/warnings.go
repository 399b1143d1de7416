package web

import (
	"fmt"
	"net/http"
	"strings"
)

// warningsHeader carries a result's warnings, one header line per warning.
// A header, not a trailer: the page's XMLHttpRequest and fetch() cannot read
// trailers, and the warnings are known before the file's first byte.
const warningsHeader = "X-Fileconv-Warnings"

// maxWarningsHeader bounds the warnings' header values together, in bytes, so
// that the answer's headers stay within the 4 KiB a proxy such as nginx
// (proxy_buffer_size) holds by default. One warning of the protocol's longest,
// percent-encoded at worst, still fits.
const maxWarningsHeader = 1536

// setWarnings replaces h's warnings with ws, percent-encoded (encodeWarning).
// Those past maxWarningsHeader are replaced by one value saying how many.
func setWarnings(h http.Header, ws []string) {
	h.Del(warningsHeader)
	used := 0
	for i, w := range ws {
		v := encodeWarning(w)
		// Leave room for the count of the rest, unless this one is the last.
		reserve := 0
		if i < len(ws)-1 {
			reserve = 64
		}
		if i > 0 && used+len(v)+reserve > maxWarningsHeader {
			h.Add(warningsHeader, encodeWarning(fmt.Sprintf("%d more warnings were left out of this answer", len(ws)-i)))
			return
		}
		h.Add(warningsHeader, v)
		used += len(v)
	}
}

// encodeWarning percent-encodes the bytes of w that a header value cannot
// carry or that would make it ambiguous: controls and every non-ASCII byte
// (as UTF-8), and "%", and "," and "+". Readers join repeated header lines
// with ", " (fetch's Headers.get, XMLHttpRequest), so a literal comma would
// split a warning in two; "+" would read as a space to a form decoder. What
// remains is readable as it is in curl -i, and decodeURIComponent, Go's
// url.PathUnescape and Python's urllib.parse.unquote give the warning back.
func encodeWarning(w string) string {
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c < 0x20 || c >= 0x7f || c == '%' || c == ',' || c == '+' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
