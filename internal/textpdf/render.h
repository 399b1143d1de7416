// The C half of internal/textpdf: Pango lays out, Cairo writes the PDF.
#ifndef FILECONV_TEXTPDF_H
#define FILECONV_TEXTPDF_H

#include <stddef.h>
#include <stdint.h>

enum {
	TP_OK = 0,
	TP_TOO_MANY_PAGES = 1,
	TP_CAIRO_ERROR = 2,
	TP_NO_FONTS = 3,
};

// TP_SAMPLE is how many of the characters no font draws a document keeps,
// for the message that names them.
#define TP_SAMPLE 8

typedef struct tp_doc tp_doc;

// tp_new starts a PDF of pages page_w × page_h points with margin on every
// side, in the font families (a comma-separated list, e.g. "Noto Sans,
// DejaVu Sans") at size points, with lang (BCP 47) choosing among the forms
// of Han characters. It returns NULL when memory or the fonts cannot be
// had, and otherwise a document to tp_free; *status says what went wrong.
tp_doc *tp_new(double page_w, double page_h, double margin, const char *families, double size, const char *lang, int max_pages, int *status);

// tp_text lays out text (UTF-8, len bytes, never NUL-terminated) as one
// layout and draws its lines. With partial set, the text is the start of a
// longer paragraph: the last line is left undrawn and *carry is where it
// starts, for the caller to lay out again with what follows.
int tp_text(tp_doc *d, const char *text, int len, int partial, int *carry);

// tp_space moves down by pts before the next line, on the same page.
void tp_space(tp_doc *d, double pts);

// tp_finish ends the PDF; *out (malloc'ed, for the caller to free) holds it.
int tp_finish(tp_doc *d, unsigned char **out, size_t *out_len);

void tp_free(tp_doc *d);

int tp_pages(const tp_doc *d);
long tp_unknown(const tp_doc *d);
// tp_unknown_sample copies the first distinct characters no font drew into
// buf and returns how many.
int tp_unknown_sample(const tp_doc *d, uint32_t *buf);
const char *tp_cairo_error(const tp_doc *d);

#endif
