package testfiles

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-fonts/dejavu/dejavusans"
)

// PageText is the text PDF puts on page i (1-based) of a document: a heading
// naming the page and a paragraph of Paragraphs' words, so that a test can check
// both the words and the page order of an extraction.
func PageText(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Page %d heading\n\n", i)
	// A different slice of the word list on each page.
	for k := 0; k < 40; k++ {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[(i*7+k*3)%len(words)])
	}
	return b.String()
}

// PDF returns a document of the given number of A4 pages, page i holding
// PageText(i), set in DejaVu Sans so that every word is Unicode text.
func PDF(pages int) ([]byte, error) {
	texts := make([]string, pages)
	for i := range texts {
		texts[i] = PageText(i + 1)
	}
	return pdfOf(texts, "", 12, false)
}

// TextPDF returns a one-page-per-string document.
func TextPDF(pages ...string) ([]byte, error) { return pdfOf(pages, "", 12, false) }

// OutlinedPDF is TextPDF with a bookmark to each page ("Page 1", …), as a
// document's outline.
func OutlinedPDF(pages ...string) ([]byte, error) { return pdfOf(pages, "", 12, true) }

// EncryptedPDF returns a one-page document that cannot be opened without
// userPassword (RC4 encryption, as fpdf writes it).
func EncryptedPDF(userPassword string) ([]byte, error) {
	return pdfOf([]string{PageText(1)}, userPassword, 12, false)
}

var (
	pdfSizedMu sync.Mutex
	pdfSized   = map[int][]byte{}
)

// PDFOfSize returns a multi-page PDF of Paragraphs text whose size is within 3%
// of targetBytes. Text compresses to about a third of its size in a PDF, so a
// text-only PDF of 5 MB holds some 14 MB of text; it is set densely (6.5 pt,
// about 10 KB of text a page) to stay within fileconv's default limit of 2000
// pages, at about 1400 pages for 5 MB. Results are remembered; callers must not modify them.
func PDFOfSize(targetBytes int) ([]byte, error) {
	if targetBytes < 32<<10 {
		return nil, fmt.Errorf("PDF of size %d: the smallest target is 32 KiB", targetBytes)
	}
	pdfSizedMu.Lock()
	defer pdfSizedMu.Unlock()
	if b, ok := pdfSized[targetBytes]; ok {
		return b, nil
	}
	// Each round rescales the text by the ratio of target to actual size.
	b, err := fitSize(targetBytes, 10, 3*float64(targetBytes), func(textBytes float64) ([]byte, error) {
		return pdfOf(pagesOf(Paragraphs(int(textBytes))), "", 6.5, false)
	})
	if err != nil {
		return nil, fmt.Errorf("PDF of size: %w", err)
	}
	pdfSized[targetBytes] = b
	return b, nil
}

// pagesOf cuts text into chunks of about a page each, at paragraph ends.
func pagesOf(text string) []string {
	const perPage = 10000
	var pages []string
	for len(text) > 0 {
		cut := len(text)
		if cut > perPage {
			if i := strings.Index(text[perPage:], "\n\n"); i >= 0 {
				cut = perPage + i + 2
			}
		}
		pages = append(pages, text[:cut])
		text = text[cut:]
	}
	return pages
}

func pdfOf(pages []string, password string, fontPt float64, bookmarks bool) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	pdf.SetModificationDate(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	pdf.SetCatalogSort(true)
	if password != "" {
		pdf.SetProtection(fpdf.CnProtectPrint, password, "owner-"+password)
	}
	pdf.AddUTF8FontFromBytes("DejaVuSans", "", dejavusans.TTF)
	pdf.SetFont("DejaVuSans", "", fontPt)
	for i, text := range pages {
		pdf.AddPage()
		if bookmarks {
			pdf.Bookmark(fmt.Sprintf("Page %d", i+1), 0, -1)
		}
		pdf.MultiCell(0, fontPt*0.45, text, "", "L", false)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("write test PDF: %w", err)
	}
	return buf.Bytes(), nil
}
