package convert

// The built-in targets and conversions: fileconv's registry entries.
func init() {
	for _, t := range []Target{
		{Name: "jpg", Aliases: []string{"jpeg"}, Label: "JPEG image", ContentType: "image/jpeg"},
		{Name: "png", Label: "PNG image", ContentType: "image/png"},
		{Name: "webp", Label: "WEBP image", ContentType: "image/webp"},
		{Name: "pdf", Label: "PDF document", ContentType: "application/pdf"},
		{Name: "txt", Aliases: []string{"text"}, Label: "plain text", ContentType: "text/plain; charset=utf-8"},
	} {
		RegisterTarget(t)
	}
	// One entry per image target, since each takes its own options.
	images := []Kind{KindJPEG, KindPNG, KindWEBP}
	for _, t := range []struct {
		target  string
		options []string
	}{{"jpg", []string{"quality"}}, {"png", nil}, {"webp", []string{"quality", "lossless"}}} {
		Register(Conversion{
			Name: "image-" + t.target, From: images, To: []string{t.target},
			Options: t.options, Engine: "libvips", Limits: []string{"max-pixels"},
			Original: true, Run: (*Converter).convertImage,
		})
	}
	Register(Conversion{
		Name: "text-pdf", From: []Kind{KindText}, To: []string{"pdf"},
		Options: []string{"page_size"}, Engine: "fpdf", Limits: []string{"max-text-pages"},
		Original: true, Run: (*Converter).textToPDF,
	})
	Register(Conversion{
		Name: "pdf-text", From: []Kind{KindPDF}, To: []string{"txt"},
		Options: []string{"pages"}, Engine: "poppler", Limits: []string{"max-pdf-pages", "max-pdf-inflate", "max-pdf-nesting", "max-pdf-memory"},
		Original: true, Run: (*Converter).pdfToText,
	})
}
