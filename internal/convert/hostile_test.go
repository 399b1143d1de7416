package convert

// Hostile documents, made here rather than committed: each must end in a result
// or a client error, quickly and in bounded memory. docs/security.md has what
// poppler does with each when nothing stops it.

import (
	"bytes"
	"compress/flate"
	"compress/lzw"
	"context"
	"encoding/ascii85"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/adler32"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/wire"
)

// pdfBuilder writes a PDF object by object, with a correct cross-reference table.
type pdfBuilder struct {
	buf     bytes.Buffer
	offsets []int // by object number; 0 is the free entry
}

func newPDFBuilder() *pdfBuilder {
	b := &pdfBuilder{offsets: []int{0}}
	b.buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	return b
}

// next reserves an object number.
func (b *pdfBuilder) next() int {
	b.offsets = append(b.offsets, -1)
	return len(b.offsets) - 1
}

func (b *pdfBuilder) obj(n int, body string) {
	b.offsets[n] = b.buf.Len()
	fmt.Fprintf(&b.buf, "%d 0 obj\n%s\nendobj\n", n, body)
}

func (b *pdfBuilder) stream(n int, dict string, data []byte) {
	b.offsets[n] = b.buf.Len()
	fmt.Fprintf(&b.buf, "%d 0 obj\n<< %s /Length %d >>\nstream\n", n, dict, len(data))
	b.buf.Write(data)
	b.buf.WriteString("\nendstream\nendobj\n")
}

func (b *pdfBuilder) finish(root int) []byte {
	xref := b.buf.Len()
	fmt.Fprintf(&b.buf, "xref\n0 %d\n0000000000 65535 f \n", len(b.offsets))
	for _, off := range b.offsets[1:] {
		if off < 0 {
			b.buf.WriteString("0000000000 65535 f \n")
			continue
		}
		fmt.Fprintf(&b.buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b.buf, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(b.offsets), root, xref)
	return b.buf.Bytes()
}

// page writes a page of parent whose content is stream cont (its dictionary
// entries in contentDict), with Helvetica (object font, written by helvetica)
// as /F1 besides resources.
func (b *pdfBuilder) page(page, parent, cont, font int, resources string, content []byte, contentDict string) {
	b.obj(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 200] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> %s >> >>", parent, cont, font, resources))
	b.stream(cont, contentDict, content)
}

// helvetica writes object n: the standard font Helvetica.
func (b *pdfBuilder) helvetica(n int) {
	b.obj(n, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
}

const hostileText = "BT /F1 12 Tf 20 100 Td (Hello hostile) Tj ET\n"

// onePagePDF is a one-page PDF with extra page resources and the given content
// stream (its dictionary entries in contentDict).
func onePagePDF(resources string, content []byte, contentDict string) []byte {
	b := newPDFBuilder()
	cat, pages, page, cont, font := b.next(), b.next(), b.next(), b.next(), b.next()
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.page(page, pages, cont, font, resources, content, contentDict)
	b.helvetica(font)
	return b.finish(cat)
}

func nestedArrays(depth int) string {
	return strings.Repeat("[", depth) + strings.Repeat("]", depth)
}

func nestedDicts(depth int) string {
	return strings.Repeat("<< /A ", depth) + "1" + strings.Repeat(" >>", depth)
}

// zlibBomb is a zlib stream of prefix, then unit repeated to about total bytes,
// then suffix. It costs a few kilobytes per gigabyte: one compressed chunk,
// ending byte-aligned and referring only to itself, is repeated, as deflate
// allows.
func zlibBomb(prefix, unit string, total int64, suffix string) []byte {
	chunk := strings.Repeat(unit, max(1, (256<<10)/len(unit)))
	full := deflateFlushed([]byte(chunk))
	out := append([]byte{0x78, 0xDA}, deflateFlushed([]byte(prefix))...)
	sum := adler32.Checksum([]byte(prefix))
	chunkSum := adler32.Checksum([]byte(chunk))
	for i := int64(0); i < total/int64(len(chunk)); i++ {
		out = append(out, full...)
		sum = adler32Combine(sum, chunkSum, int64(len(chunk)))
	}
	out = append(out, deflateFlushed([]byte(suffix))...)
	sum = adler32Combine(sum, adler32.Checksum([]byte(suffix)), int64(len(suffix)))
	out = append(out, 0x01, 0x00, 0x00, 0xFF, 0xFF) // final, empty stored block
	return binary.BigEndian.AppendUint32(out, sum)
}

// zlibOf compresses p as one zlib stream.
func zlibOf(p []byte) []byte { return zlibBomb(string(p), " ", 0, "") }

// deflateFlushed is raw deflate data for p, not final, ending byte-aligned.
func deflateFlushed(p []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(p)
	fw.Flush()
	return buf.Bytes()
}

// adler32Combine is zlib's adler32_combine: the checksum of A then B from theirs.
func adler32Combine(a, b uint32, lenB int64) uint32 {
	const base = 65521
	rem := uint64(lenB % base)
	s1 := uint64(a & 0xffff)
	s2 := rem * s1 % base
	s1 += uint64(b&0xffff) + base - 1
	s2 += uint64(a>>16) + uint64(b>>16) + base - rem
	return uint32(s1%base) | uint32(s2%base)<<16
}

// hostileConverter has a small inflate limit, so that bombs are refused after
// megabytes rather than the default's 256 MiB (the same code path, faster).
func hostileConverter(tb testing.TB) *Converter {
	c, err := New(Config{MaxPDFInflate: 8 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// wantQuickError converts in and wants an error of kind containing parts, within
// limit.
func wantQuickError(t *testing.T, c *Converter, op wire.Operation, in []byte, limit time.Duration, kind fail.Code, parts ...string) {
	t.Helper()
	start := time.Now()
	_, err := convertOp(c, context.Background(), op, in)
	elapsed := time.Since(start)
	wantError(t, err, kind, parts...)
	// The bound tells a refusal from decoding the whole bomb, which takes
	// minutes; the race detector slows Go's decoders several times over.
	if raceEnabled {
		limit *= 4
	}
	if elapsed > limit {
		t.Errorf("took %v, want under %v", elapsed, limit)
	}
	t.Logf("%d bytes refused in %v", len(in), elapsed.Round(time.Millisecond))
}

func wantHostileText(t *testing.T, c *Converter, in []byte) {
	t.Helper()
	res, err := convertOp(c, context.Background(), wire.OpPDFToText, in)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	if got := strings.TrimSpace(string(res.Output)); got != "Hello hostile" {
		t.Errorf("extracted %q, want %q", got, "Hello hostile")
	}
}

// TestHostilePDFNesting: past its own limit of 500 levels, poppler keeps every
// further bracket as an object (100 MB of "[" took it 35 s and 3 GB); the guard
// refuses at max-pdf-nesting, wherever the nesting is.
func TestHostilePDFNesting(t *testing.T) {
	c := converter(t)
	const deep = 100_000
	compressed := func(content string) []byte {
		return onePagePDF("", zlibOf([]byte(content)), "/Filter /FlateDecode")
	}
	for name, in := range map[string][]byte{
		"arrays in resources":            onePagePDF("/Deep "+nestedArrays(deep), []byte(hostileText), ""),
		"dictionaries in resources":      onePagePDF("/Deep "+nestedDicts(deep), []byte(hostileText), ""),
		"arrays in content":              onePagePDF("", []byte(nestedArrays(deep)+" pop\n"+hostileText), ""),
		"dictionaries in content":        onePagePDF("", []byte("/Tag "+nestedDicts(deep)+" BDC EMC\n"+hostileText), ""),
		"unclosed arrays in content":     onePagePDF("", []byte(strings.Repeat("[", deep)), ""),
		"arrays in compressed content":   compressed(nestedArrays(deep) + " pop\n" + hostileText),
		"brackets bomb":                  onePagePDF("", zlibBomb("", "[", 64<<20, ""), "/Filter /FlateDecode"),
		"arrays in an object stream":     objectStreamPDF(nestedArrays(deep)),
		"dictionaries in a trailer":      append(onePagePDF("", []byte(hostileText), ""), "trailer "+nestedDicts(deep)...),
		"content past the nesting limit": compressed(nestedArrays(DefaultMaxPDFNesting+1) + " pop\n" + hostileText),
	} {
		t.Run(name, func(t *testing.T) {
			wantQuickError(t, c, wire.OpPDFToText, in, 2*time.Second, fail.LimitExceeded, "PDF nests arrays or dictionaries more than 256 deep, over the limit (max-pdf-nesting)")
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		wantHostileText(t, c, compressed(nestedArrays(DefaultMaxPDFNesting)+" pop\n"+hostileText))
	})
	t.Run("a lower limit", func(t *testing.T) {
		low, err := New(Config{MaxPDFNesting: 3})
		if err != nil {
			t.Fatal(err)
		}
		_, err = convertOp(low, context.Background(), wire.OpPDFToText, onePagePDF("/Deep [[[1]]]", []byte(hostileText), ""))
		wantError(t, err, fail.LimitExceeded, "more than 3 deep")
	})
}

// TestHostilePDFOpenStates: each q left open costs poppler about 1 KB (16 MiB
// of "q" took 18 s and 7.7 GB) and each BMC a look at the ones open (40 000 took
// 3.5 s, 16 MiB more than 3 minutes).
func TestHostilePDFOpenStates(t *testing.T) {
	c := hostileConverter(t)
	const want = "saved graphics states (q) or marked-content sequences (BMC/BDC) open, over the limit of 4096 (16 × max-pdf-nesting)"
	b := newPDFBuilder()
	cat, pages, page, font := b.next(), b.next(), b.next(), b.next()
	parts := make([]string, 2000)
	for i := range parts {
		n := b.next()
		parts[i] = fmt.Sprintf("%d 0 R", n)
		b.stream(n, "", []byte(strings.Repeat("q ", 100)))
	}
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.obj(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 200] /Contents [%s] /Resources << /Font << /F1 %d 0 R >> >> >>", pages, strings.Join(parts, " "), font))
	b.helvetica(font)
	spread := b.finish(cat)

	for name, in := range map[string][]byte{
		"q bomb":                  onePagePDF("", zlibBomb("", "q\n", 16<<20, ""), "/Filter /FlateDecode"),
		"BMC bomb":                onePagePDF("", zlibBomb("", "/P BMC\n", 16<<20, ""), "/Filter /FlateDecode"),
		"BDC bomb":                onePagePDF("", zlibBomb("BT /F1 1 Tf\n", "/Span <</ActualText (x)>> BDC (x) Tj\n", 16<<20, ""), "/Filter /FlateDecode"),
		"q uncompressed":          onePagePDF("", []byte(strings.Repeat("q\n", 100_000)+hostileText), ""),
		"q over 2000 streams":     spread,
		"one stream listed often": repeatedContents(4000, []byte(strings.Repeat("q ", 100)), ""),
	} {
		t.Run(name, func(t *testing.T) {
			wantQuickError(t, c, wire.OpPDFToText, in, 2*time.Second, fail.LimitExceeded, want)
		})
	}
	t.Run("balanced", func(t *testing.T) {
		wantHostileText(t, c, onePagePDF("", zlibOf([]byte(strings.Repeat("q /P BMC 1 0 0 1 0 0 cm EMC Q\n", 100_000)+hostileText)), "/Filter /FlateDecode"))
	})
}

// TestHostilePDFEncryption: the guard cannot read encrypted stream data, so what
// it finds in raw bytes that may be encrypted counts only in a file that is not.
// A stray /Encrypt must not switch the checks off: poppler takes a file whose
// /Encrypt names no object for a plain one.
func TestHostilePDFEncryption(t *testing.T) {
	c := converter(t)
	bomb := onePagePDF("", []byte(strings.Repeat("q\n", 100_000)+hostileText), "")
	fake := bytes.Replace(bomb, []byte("trailer\n<<"), []byte("trailer\n<< /Encrypt 99 0 R"), 1)
	wantQuickError(t, c, wire.OpPDFToText, fake, 2*time.Second, fail.LimitExceeded, "saved graphics states (q)")

	// Encrypted with an empty user password (only an owner password, which
	// restricts printing): poppler opens it, and the guard lets it through.
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetProtection(fpdf.CnProtectCopy, "", "owner")
	pdf.SetFont("Helvetica", "", 12)
	pdf.AddPage()
	pdf.Cell(0, 10, "Hello hostile")
	var open bytes.Buffer
	if err := pdf.Output(&open); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(open.Bytes(), []byte("/Encrypt")) {
		t.Fatal("fpdf wrote no /Encrypt")
	}
	wantHostileText(t, c, open.Bytes())
}

// TestHostilePDFPageTree: a page tree that is a chain costs poppler time
// quadratic in its length (100 000 nodes: 1.6 s; 400 000: 92 s). Cycles and
// shared nodes poppler detects itself.
func TestHostilePDFPageTree(t *testing.T) {
	c := converter(t)
	t.Run("chain", func(t *testing.T) {
		wantQuickError(t, c, wire.OpPDFToText, kidsChain(100_000), 2*time.Second, fail.LimitExceeded,
			"PDF page tree has more than 2064 intermediate nodes (/Type /Pages), over the limit for 2000 pages (max-pdf-pages)")
	})
	t.Run("short chain", func(t *testing.T) {
		wantHostileText(t, c, kidsChain(1000))
	})
	for name, in := range map[string][]byte{
		"cycle":                 kidsCycle(1),
		"cycle claiming pages":  kidsCycle(1_000_000_000),
		"shared nodes":          kidsShared(40, 1),
		"shared nodes, counted": kidsShared(40, 1<<30),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			res, err := convertOp(c, context.Background(), wire.OpPDFToText, in)
			if err != nil {
				wantError(t, err, fail.LimitExceeded) // over max-pdf-pages
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %v", elapsed)
			}
			t.Logf("%q, %v", res.Output, err)
		})
	}
}

// kidsChain is a page tree of depth intermediate nodes, each the only child of
// the one before.
func kidsChain(depth int) []byte {
	return kidsTree(depth, func(kid, parent int) string {
		up := ""
		if parent != 0 {
			up = fmt.Sprintf("/Parent %d 0 R ", parent)
		}
		return fmt.Sprintf("<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>", up, kid)
	})
}

// kidsCycle is a page tree whose second node lists the first as its child.
func kidsCycle(count int) []byte {
	b := newPDFBuilder()
	cat, root, a, page, cont, font := b.next(), b.next(), b.next(), b.next(), b.next(), b.next()
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", root))
	b.obj(root, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>", page, a, count))
	b.obj(a, fmt.Sprintf("<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R %d 0 R] /Count %d >>", root, root, page, count))
	b.page(page, root, cont, font, "", []byte(hostileText), "")
	b.helvetica(font)
	return b.finish(cat)
}

// kidsShared is a page tree of depth nodes, each listing the next twice: 2^depth
// pages from depth objects, if nothing noticed.
func kidsShared(depth, count int) []byte {
	return kidsTree(depth, func(kid, _ int) string {
		return fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>", kid, kid, count)
	})
}

// kidsTree is a page tree of depth intermediate nodes, each above the next and
// the last above one page; node writes a node's dictionary from the object
// numbers of its child and its parent (0 for the root).
func kidsTree(depth int, node func(kid, parent int) string) []byte {
	b := newPDFBuilder()
	cat := b.next()
	nodes := make([]int, depth)
	for i := range nodes {
		nodes[i] = b.next()
	}
	page, cont, font := b.next(), b.next(), b.next()
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", nodes[0]))
	for i, n := range nodes {
		kid, parent := page, 0
		if i+1 < depth {
			kid = nodes[i+1]
		}
		if i > 0 {
			parent = nodes[i-1]
		}
		b.obj(n, node(kid, parent))
	}
	b.page(page, nodes[depth-1], cont, font, "", []byte(hostileText), "")
	b.helvetica(font)
	return b.finish(cat)
}

// repeatedContents is a page whose /Contents lists one stream n times.
func repeatedContents(n int, data []byte, dict string) []byte {
	b := newPDFBuilder()
	cat, pages, page, cont, font := b.next(), b.next(), b.next(), b.next(), b.next()
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	refs := strings.Repeat(fmt.Sprintf("%d 0 R ", cont), n)
	b.obj(page, fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 200] /Contents [%s] /Resources << /Font << /F1 %d 0 R >> >> >>", pages, refs, font))
	b.stream(cont, dict, data)
	b.helvetica(font)
	return b.finish(cat)
}

// objectStreamPDF is a PDF 1.5 file whose font dictionary lives in an object
// stream, found through a cross-reference stream, with extra put in the font
// dictionary.
func objectStreamPDF(extra string) []byte {
	fontDict := "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Extra " + extra + " >>"
	return objectStreamPDFWith(1, zlibOf([]byte("5 0 "+fontDict)), 4)
}

// objectStreamPDFWith stores object 5 (the font) in object stream 6 of n
// objects whose compressed data is given, objects starting at first.
func objectStreamPDFWith(n int, data []byte, first int) []byte {
	b := newPDFBuilder()
	cat, pages, page, cont := b.next(), b.next(), b.next(), b.next()
	font, stm, xr := b.next(), b.next(), b.next()
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.page(page, pages, cont, font, "", []byte(hostileText), "")
	b.stream(stm, fmt.Sprintf("/Type /ObjStm /N %d /First %d /Filter /FlateDecode", n, first), data)
	at := b.buf.Len()
	var rows []byte
	for i := 0; i <= xr; i++ {
		switch i {
		case 0:
			rows = append(rows, 0, 0, 0, 0, 0, 0xff)
		case font:
			rows = append(rows, 2, 0, 0, 0, byte(stm), 0)
		case xr:
			rows = append(rows, 1, byte(at>>24), byte(at>>16), byte(at>>8), byte(at), 0)
		default:
			off := b.offsets[i]
			rows = append(rows, 1, byte(off>>24), byte(off>>16), byte(off>>8), byte(off), 0)
		}
	}
	fmt.Fprintf(&b.buf, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 1] /Root %d 0 R /Length %d >>\nstream\n", xr, xr+1, cat, len(rows))
	b.buf.Write(rows)
	fmt.Fprintf(&b.buf, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", at)
	return b.buf.Bytes()
}

// TestHostilePDFObjectStream: the guard reads the objects inside object streams
// as it reads the file.
func TestHostilePDFObjectStream(t *testing.T) {
	c := hostileConverter(t)
	t.Run("plain", func(t *testing.T) {
		wantHostileText(t, c, objectStreamPDF("1"))
	})
	t.Run("bomb", func(t *testing.T) {
		in := objectStreamPDFWith(1, zlibBomb("5 0 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", " ", 1<<30, ""), 4)
		wantQuickError(t, c, wire.OpPDFToText, in, 2*time.Second, fail.LimitExceeded, "max-pdf-inflate")
	})
	t.Run("claims a billion objects", func(t *testing.T) {
		in := objectStreamPDFWith(1_000_000_000, zlibOf([]byte("5 0 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")), 4)
		if _, err := convertOp(c, context.Background(), wire.OpPDFToText, in); err != nil {
			wantError(t, err, fail.ConversionFailed)
		}
	})
	t.Run("page tree inside", func(t *testing.T) {
		var objs, header strings.Builder
		for i := 0; i < 3000; i++ {
			fmt.Fprintf(&header, "%d %d ", 1000+i, objs.Len())
			fmt.Fprintf(&objs, "<< /Type /Pages /Kids [%d 0 R] /Count 1 >>\n", 1001+i)
		}
		in := objectStreamPDFWith(3000, zlibOf([]byte(header.String()+objs.String())), header.Len())
		wantQuickError(t, converter(t), wire.OpPDFToText, in, 2*time.Second, fail.LimitExceeded, "PDF page tree has more than 2064 intermediate nodes")
	})
}

// TestHostilePDFInflate: poppler reads compressed content at about 250 MB/s in
// constant memory, so a bomb costs time: 1 GiB of white space from 1.6 MB took
// 4 s, and nothing bounds it short of max-pdf-inflate. A chain of filters
// multiplies: two Flate layers make a terabyte of a megabyte.
func TestHostilePDFInflate(t *testing.T) {
	c := hostileConverter(t)
	const want = "PDF streams decompress to more than the limit of 8388608 bytes (max-pdf-inflate)"
	ws := zlibBomb("", "    \n   ", 1<<30, "")
	// The outer layer repeats the inner layer's compressed chunk: 1 GiB of it,
	// each 1.3 KB of which makes 256 KiB of white space.
	innerChunk := string(deflateFlushed([]byte(strings.Repeat("    \n   ", 32<<10))))
	double := zlibBomb("\x78\xDA", innerChunk, 1<<30, "")

	var rl bytes.Buffer // RunLengthDecode: 2 bytes make 128
	for range 1 << 20 {
		rl.Write([]byte{129, ' '})
	}
	rl.WriteByte(128)
	var lzwData bytes.Buffer
	lw := lzw.NewWriter(&lzwData, lzw.MSB, 8)
	lw.Write(bytes.Repeat([]byte(" "), 64<<20))
	lw.Close()
	var a85 bytes.Buffer
	aw := ascii85.NewEncoder(&a85)
	aw.Write(ws)
	aw.Close()
	a85.WriteString("~>")

	tests := map[string][]byte{
		"white space":            onePagePDF("", ws, "/Filter /FlateDecode"),
		"text operators":         onePagePDF("", zlibBomb("BT /F1 0.01 Tf 0.01 TL 10 190 Td\n", strings.Repeat("(Hello world) '\n", 10000)+"0.001 100 Td\n", 1<<30, "ET\n"), "/Filter /FlateDecode"),
		"two Flate layers":       onePagePDF("", double, "/Filter [/FlateDecode /FlateDecode]"),
		"abbreviated name":       onePagePDF("", ws, "/Filter /Fl"),
		"inner layer of a chain": onePagePDF("", []byte(hex.EncodeToString(ws)+">"), "/Filter [/ASCIIHexDecode /FlateDecode]"),
		"ASCII85 then Flate":     onePagePDF("", a85.Bytes(), "/Filter [/A85 /FlateDecode]"),
		"RunLengthDecode":        onePagePDF("", rl.Bytes(), "/Filter /RunLengthDecode"),
		"LZWDecode":              onePagePDF("", lzwData.Bytes(), "/Filter /LZWDecode /DecodeParms << /EarlyChange 0 >>"),
		"a font file":            fontFileBomb(ws),
		"listed 4000 times":      repeatedContents(4000, zlibOf(bytes.Repeat([]byte(" "), 4<<10)), "/Filter /FlateDecode"),
		"labelled as an image":   onePagePDF("", ws, "/Subtype /Image /Width 1 /Height 1 /BitsPerComponent 8 /ColorSpace /DeviceGray /Filter /FlateDecode"),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			wantQuickError(t, c, wire.OpPDFToText, in, 2*time.Second, fail.LimitExceeded, want)
		})
	}
	t.Run("damaged", func(t *testing.T) {
		// The first block refers to a dictionary it does not declare: Go's
		// inflater stops there, poppler reads on (1 GiB of it in 4 s).
		dict := []byte(strings.Repeat("    \n   ", 4096))
		var buf bytes.Buffer
		fw, _ := flate.NewWriterDict(&buf, flate.BestCompression, dict)
		fw.Write(dict)
		fw.Flush()
		bomb := append(append([]byte{0x78, 0xDA}, buf.Bytes()...), ws[2:]...)
		wantQuickError(t, c, wire.OpPDFToText, onePagePDF("", bomb, "/Filter /FlateDecode"), 2*time.Second, fail.LimitExceeded,
			"PDF has a damaged compressed stream that could decompress to more than the limit of 8388608 bytes (max-pdf-inflate)")
	})
	t.Run("under the limit", func(t *testing.T) {
		wantHostileText(t, c, onePagePDF("", zlibBomb(hostileText, "    \n   ", 4<<20, ""), "/Filter /FlateDecode"))
	})
	t.Run("images are not decoded", func(t *testing.T) {
		// Poppler does not decode images for text, so they do not count.
		b := newPDFBuilder()
		cat, pages, page, cont, font, img := b.next(), b.next(), b.next(), b.next(), b.next(), b.next()
		b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
		b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
		b.page(page, pages, cont, font, fmt.Sprintf("/XObject << /Im1 %d 0 R >>", img), []byte("q 200 0 0 200 0 0 cm /Im1 Do Q\n"+hostileText), "")
		b.stream(img, "/Type /XObject /Subtype /Image /Width 16384 /Height 16384 /BitsPerComponent 8 /ColorSpace /DeviceGray /Filter /FlateDecode", zlibBomb("", " ", 16384*16384, ""))
		b.helvetica(font)
		wantHostileText(t, c, b.finish(cat))
	})
}

// fontFileBomb is a page whose font embeds a "TrueType" file that is a bomb:
// poppler decodes embedded fonts to read their glyphs.
func fontFileBomb(data []byte) []byte {
	b := newPDFBuilder()
	cat, pages, page, cont, font, desc, file := b.next(), b.next(), b.next(), b.next(), b.next(), b.next(), b.next()
	b.obj(cat, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	b.obj(pages, fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	b.page(page, pages, cont, font, "", []byte(hostileText), "")
	b.obj(font, fmt.Sprintf("<< /Type /Font /Subtype /TrueType /BaseFont /Bomb /FirstChar 32 /LastChar 126 /FontDescriptor %d 0 R >>", desc))
	b.obj(desc, fmt.Sprintf("<< /Type /FontDescriptor /FontName /Bomb /Flags 32 /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 /FontFile2 %d 0 R >>", file))
	b.stream(file, "/Length1 1000000000 /Filter /FlateDecode", data)
	return b.finish(cat)
}

// TestHostilePDFDefaultInflateLimit: at the default limit a bomb is refused after
// 256 MiB, about a second of decoding (more under the race detector).
func TestHostilePDFDefaultInflateLimit(t *testing.T) {
	if testing.Short() || raceEnabled {
		// TestHostilePDFInflate takes the same path to a lower limit.
		t.Skip("decodes 256 MiB: 1 s, 13 s under the race detector")
	}
	in := onePagePDF("", zlibBomb("", "    \n   ", 8<<30, ""), "/Filter /FlateDecode")
	wantQuickError(t, converter(t), wire.OpPDFToText, in, 60*time.Second, fail.LimitExceeded,
		"PDF streams decompress to more than the limit of 268435456 bytes (max-pdf-inflate)")
}

// TestHostilePDFLargeOperand: poppler takes up to 100 bytes for each value of an
// array or dictionary (16 MiB of "[]" in one array: 600 MB), so one object or
// operand may hold at most about a million.
func TestHostilePDFLargeOperand(t *testing.T) {
	c := converter(t)
	for name, in := range map[string][]byte{
		"array in content": onePagePDF("", zlibBomb("[", "[] ", 16<<20, "] pop\n"), "/Filter /FlateDecode"),
		"dictionary":       onePagePDF("", zlibBomb("/P <<", "/A 1 ", 16<<20, ">> BDC EMC\n"), "/Filter /FlateDecode"),
		"object":           onePagePDF("/Big ["+strings.Repeat("1 ", 1_100_000)+"]", []byte(hostileText), ""),
	} {
		t.Run(name, func(t *testing.T) {
			wantQuickError(t, c, wire.OpPDFToText, in, 2*time.Second, fail.LimitExceeded, "PDF has an object or operand of more than 1048576 values")
		})
	}
	t.Run("many values in many operands", func(t *testing.T) {
		// One at a time, poppler frees each: it costs time, not memory.
		in := onePagePDF("", zlibOf([]byte(strings.Repeat("[1 2 3] pop\n", 200_000)+hostileText)), "/Filter /FlateDecode")
		wantHostileText(t, c, in)
	})
}

// TestHostileTextOneLine: TXT → PDF costs time and memory by the page it
// writes: 100 MB on one line is 21 000 pages (10 s, 1 GB; 88 s under the race
// detector), and a text of short paragraphs makes a page of every few hundred
// bytes (8 MiB of "a\n\n": 90 000 pages, 21 s). Past max-text-pages the
// conversion stops, having read only what those pages hold.
func TestHostileTextOneLine(t *testing.T) {
	line := bytes.Repeat([]byte("x"), 100<<20)
	c, err := New(Config{MaxTextPages: 50})
	if err != nil {
		t.Fatal(err)
	}
	before := allocated()
	wantQuickError(t, c, wire.OpTextToPDF, line, 5*time.Second, fail.LimitExceeded,
		"text makes more than 50 pages of PDF, over the limit of 50 pages (max-text-pages)")
	if n := allocated() - before; n > 32<<20 {
		t.Errorf("converting a 100 MiB line allocated %d MiB: it was copied rather than laid out as read", n>>20)
	}

	paras := []byte(strings.Repeat("a\n\n", 1<<20))
	wantQuickError(t, c, wire.OpTextToPDF, paras, 5*time.Second, fail.LimitExceeded, "over the limit of 50 pages (max-text-pages)")

	if testing.Short() {
		return
	}
	// The default limit stops the 100 MB line after 10 000 pages.
	wantQuickError(t, converter(t), wire.OpTextToPDF, line, 120*time.Second, fail.LimitExceeded,
		"text makes more than 10000 pages of PDF, over the limit of 10000 pages (max-text-pages)")
}

// allocated is the bytes this process has allocated so far.
func allocated() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.TotalAlloc)
}

// TestHostileImageCompressible: an 8000×8000 PNG of one colour is 8 KB and
// exactly at the pixel limit. libvips decodes it line by line for JPEG and PNG
// output; WEBP output holds the whole picture (libwebp needs it). Measured peak
// RSS growth: JPEG 74 MB, PNG 74 MB, WEBP 364 MB (about 6 bytes a pixel).
func TestHostileImageCompressible(t *testing.T) {
	c := converter(t)
	in := mustPNGBomb(t, 8000, 8000)
	if len(in) > 64<<10 {
		t.Fatalf("the PNG is %d bytes, not a few KB", len(in))
	}
	for _, tt := range []struct {
		op      wire.Operation
		maxGrow int64
	}{
		{wire.OpToJPEG, 256 << 20},
		{wire.OpToPNG, 256 << 20},
		{wire.OpToWEBP, 640 << 20},
	} {
		t.Run(tt.op.String(), func(t *testing.T) {
			resetPeakRSS(t)
			before := peakRSS(t)
			start := time.Now()
			res := convertOK(t, c, tt.op, in)
			grew := peakRSS(t) - before
			t.Logf("%d bytes out in %v; peak RSS grew by %d MiB", len(res.Output), time.Since(start).Round(time.Millisecond), grew>>20)
			if before > 0 && grew > tt.maxGrow {
				t.Errorf("peak RSS grew by %d MiB, want at most %d MiB", grew>>20, tt.maxGrow>>20)
			}
			typ := targetType(tt.op)
			if head, err := readImageHead(typ, res.Output); err != nil || head.Width != 8000 || head.Height != 8000 {
				t.Errorf("output is %d×%d %v (%v)", head.Width, head.Height, typ, err)
			}
		})
	}
}

// resetPeakRSS makes the kernel's peak RSS of this process start again from the
// current RSS (Linux: writing 5 to clear_refs); peakRSS then reads it. Where
// that is not possible peakRSS reports 0 and only the conversion is checked.
func resetPeakRSS(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak RSS: %v", err)
	}
}

func peakRSS(t *testing.T) int64 { return processPeakRSS("self") }

// processPeakRSS is the peak RSS of process pid ("self" for this one), or 0
// where /proc cannot tell.
func processPeakRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// TestHostilePDFGuardLinear: the guard's own time stays linear in the file,
// whatever the file holds.
func TestHostilePDFGuardLinear(t *testing.T) {
	c := converter(t)
	var trailers strings.Builder
	for i := range 300_000 {
		fmt.Fprintf(&trailers, "trailer << /Encrypt %d 0 R >>\n", i)
	}
	for name, in := range map[string]string{
		"streams without an end":     strings.Repeat("1 0 obj << /Length 99999999 >> stream\nq\nendobj\n", 300_000),
		"trailers naming encryption": trailers.String(),
		"an unclosed string":         "1 0 obj (" + strings.Repeat("(", 10<<20),
		"inline images":              "1 0 obj << >> stream\n" + strings.Repeat("BI ID \x00 EI ", 1_000_000) + "endstream",
	} {
		t.Run(name, func(t *testing.T) {
			in := []byte("%PDF-1.7\n" + name + "\n" + in)
			start := time.Now()
			err := c.checkPDF(context.Background(), in)
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("%d bytes took %v", len(in), elapsed)
			} else {
				t.Logf("%d bytes in %v: %v", len(in), elapsed.Round(time.Millisecond), err)
			}
		})
	}
}
