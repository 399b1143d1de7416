package convert

import "slices"

// The built-in targets and conversions: fileconv's registry entries.
func init() {
	for _, t := range []Target{
		{Name: "jpg", Aliases: []string{"jpeg"}, Label: "JPEG image", ContentType: "image/jpeg"},
		{Name: "png", Label: "PNG image", ContentType: "image/png"},
		{Name: "webp", Label: "WEBP image", ContentType: "image/webp"},
		{Name: "gif", Label: "GIF image", ContentType: "image/gif"},
		{Name: "tiff", Aliases: []string{"tif"}, Label: "TIFF image", ContentType: "image/tiff"},
		{Name: "avif", Label: "AVIF image", ContentType: "image/avif"},
		{Name: "heic", Aliases: []string{"heif"}, Label: "HEIC image", ContentType: "image/heic"},
		{Name: "jxl", Label: "JPEG XL image", ContentType: "image/jxl"},
		{Name: "pdf", Label: "PDF document", ContentType: "application/pdf"},
		{Name: "txt", Aliases: []string{"text"}, Label: "plain text", ContentType: "text/plain; charset=utf-8"},
	} {
		RegisterTarget(t)
	}
	for _, k := range []Kind{KindDOCX, KindODT, KindXLSX, KindODS, KindPPTX, KindODP} {
		RegisterTarget(Target{Name: string(k), Label: k.Label(), ContentType: k.Info().MediaType})
	}
	// One entry per image target, since each takes its own options.
	for _, t := range imageTargets {
		Register(Conversion{
			Name: "image-" + t.name, From: imageKinds(), To: []string{t.name},
			Options: t.options(), Engine: "libvips", Family: "images", Limits: []string{"max-pixels", "max-frames"},
			Original: slices.Contains([]string{"jpg", "png", "webp"}, t.name), Run: (*Converter).convertImage,
		})
	}
	Register(Conversion{
		Name: "text-pdf", From: []Kind{KindText}, To: []string{"pdf"},
		Options: []string{"page_size", "from", "layout", "font_size", "charset"}, Engine: "fpdf, Pango", Family: "pdf",
		Limits:   []string{"max-text-pages", "max-pdf-memory"},
		Original: true, Run: (*Converter).textToPDF,
	})
	Register(Conversion{
		Name: "image-pdf", From: imageKinds(), To: []string{"pdf"},
		Options: []string{"page_size", "margin", "page", "ocr", "lang"}, Engine: "libvips, fpdf, Tesseract", Family: "images",
		Limits: []string{"max-pixels", "max-frames", "max-ocr-pages"},
		Run:    (*Converter).imageToPDF,
	})
	// A PDF's pages as pictures: the image pipeline, with poppler (through
	// libvips) reading the PDF in a reader process.
	defer func() {
		for _, name := range []string{"png", "jpg", "webp", "tiff", "avif"} {
			t, _ := imageTargetNamed(name)
			Register(Conversion{
				Name: "pdf-" + name, From: []Kind{KindPDF}, To: []string{name},
				Options: append(t.options(), "dpi", "pages"), Engine: "poppler", Family: "pdf",
				Limits: []string{"max-pixels", "max-pdf-dpi", "max-pdf-pages", "max-pdf-inflate", "max-pdf-nesting"},
				Run:    (*Converter).convertImage,
			})
		}
		// qpdf: a PDF repaired, decrypted, cut to some pages or split, and
		// several files in one PDF (pdftools.go).
		Register(Conversion{
			Name: "pdf-pdf", From: []Kind{KindPDF}, To: []string{"pdf"},
			Options: []string{"pages", "split", "password", "ocr", "lang"}, Engine: "qpdf, Tesseract", Family: "pdf",
			Limits: []string{"max-pdf-pages", "max-pdf-inflate", "max-pdf-nesting", "max-pdf-memory", "max-ocr-pages"},
			Run:    (*Converter).pdfToPDF, V2Only: true,
		})
		Register(Conversion{
			Name: "files-pdf", From: []Kind{KindFiles}, To: []string{"pdf"},
			Options: []string{"page_size", "margin", "password"}, Engine: "qpdf, libvips, fpdf", Family: "pdf",
			Limits: []string{"max-files", "max-body", "max-pdf-pages", "max-pixels"},
			Run:    (*Converter).filesToPDF,
		})
		registerOffice()
		Register(Conversion{
			Name: "html-pdf", From: []Kind{KindHTML, KindMarkdown}, To: []string{"pdf"},
			Options: []string{"page_size", "landscape", "margin", "pages", "from"}, Engine: "Chromium", Family: "html",
			Limits: []string{"max-body", "job-timeout"}, Run: (*Converter).convertWebPage,
		})
	}()
	registerText()
}

// registerText registers the conversions to text: a PDF's (poppler, with OCR
// for its pages without text) and a picture's (OCR, ocrconv.go).
func registerText() {
	Register(Conversion{
		Name: "pdf-text", From: []Kind{KindPDF}, To: []string{"txt"},
		Options: []string{"pages", "ocr", "lang"}, Engine: "poppler, Tesseract", Family: "pdf",
		Limits:   []string{"max-pdf-pages", "max-ocr-pages", "max-pdf-inflate", "max-pdf-nesting", "max-pdf-memory"},
		Original: true, Run: (*Converter).pdfToText,
	})
	// Protocol v1.0's operation 5 keeps the original's answer to a picture
	// ("use operation 1, 2 or 3").
	Register(Conversion{
		Name: "image-text", From: imageKinds(), To: []string{"txt"},
		Options: []string{"lang", "page"}, Engine: "Tesseract", Family: "ocr",
		Limits: []string{"max-pixels", "max-image-memory"}, Run: (*Converter).imageToText, V2Only: true,
	})
}

// imageKinds lists every image kind Detect knows: libvips reads them all.
func imageKinds() []Kind {
	var out []Kind
	for _, k := range kinds {
		if k.Image {
			out = append(out, k.Kind)
		}
	}
	return out
}

// registerOffice registers LibreOffice's conversions: every office document
// to PDF, and each family's documents between Microsoft's and OpenDocument's
// formats (officeconv.go).
func registerOffice() {
	writer := []Kind{KindDOCX, KindDOC, KindODT, KindRTF}
	calc := []Kind{KindXLSX, KindXLS, KindODS, KindCSV}
	impress := []Kind{KindPPTX, KindPPT, KindODP}
	Register(Conversion{
		Name: "office-pdf", From: append(slices.Clone(officeKinds), KindCSV), To: []string{"pdf"},
		Options: []string{"pages", "pdfa", "landscape", "page_size", "fit_width", "password", "from"}, Engine: "LibreOffice", Family: "office",
		Limits: []string{"max-office-inflate", "job-timeout"}, Run: (*Converter).convertOffice,
	})
	for _, family := range [][]Kind{writer, calc, impress} {
		for _, to := range []Kind{family[0], family[2]} {
			opts := []string{"password"}
			if slices.Contains(family, KindCSV) {
				opts = append(opts, "from")
			}
			Register(Conversion{
				Name: "office-" + string(to), From: family, To: []string{string(to)},
				Options: opts, Engine: "LibreOffice", Family: "office",
				Limits: []string{"max-office-inflate", "job-timeout"}, Run: (*Converter).convertOffice,
			})
		}
	}
}
