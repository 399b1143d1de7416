#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <pango/pangofc-fontmap.h>

// Rules added to the system's fontconfig configuration, for the PDFs made
// here only.
//
// Emoji: Pango asks fontconfig for the family "emoji", which Debian
// resolves to Noto Color Emoji first, whose bitmaps Cairo writes to a PDF as
// pictures: seen, but lost to search, copy and pdftotext. Symbola's outlines
// keep the text; the colour font still draws the emoji Symbola lacks
// (Unicode 10 and later).
//
// Arabic script in a monospaced layout: DejaVu Sans Mono, the first
// monospaced font, has the letters but not their joining forms, so a word
// would come out as isolated letters. No monospaced font joins them; a
// proportional Arabic font it is.
#define MONO_ARABIC(lang) \
	"<match target=\"pattern\">" \
	"<test name=\"family\"><string>monospace</string></test>" \
	"<test name=\"lang\" compare=\"contains\"><string>" lang "</string></test>" \
	"<edit name=\"family\" mode=\"prepend_first\" binding=\"strong\"><string>Noto Sans Arabic</string></edit>" \
	"</match>"
static const char fc_rules[] =
	"<?xml version=\"1.0\"?>"
	"<fontconfig>"
	"<match target=\"pattern\">"
	"<test name=\"family\"><string>emoji</string></test>"
	"<edit name=\"family\" mode=\"prepend_first\" binding=\"strong\"><string>Symbola</string></edit>"
	"<edit name=\"color\" mode=\"assign_replace\"><bool>false</bool></edit>"
	"</match>"
	MONO_ARABIC("ar") MONO_ARABIC("fa") MONO_ARABIC("ur") MONO_ARABIC("ps") MONO_ARABIC("sd") MONO_ARABIC("ug")
	"</fontconfig>";

// The font map is the process's, made once: loading fontconfig's view of
// several hundred fonts takes tens of milliseconds, and Pango caches the
// fonts it opened in it. Callers serialise every use (textpdf.go).
static PangoFontMap *font_map;

static PangoFontMap *shared_font_map(void) {
	if (font_map != NULL) {
		return font_map;
	}
	// A configuration of our own, so that the rules above change nothing
	// for poppler, libvips or Tesseract in the same process.
	FcConfig *cfg = FcInitLoadConfig();
	if (cfg == NULL) {
		return NULL;
	}
	if (!FcConfigParseAndLoadFromMemory(cfg, (const FcChar8 *)fc_rules, FcTrue) || !FcConfigBuildFonts(cfg)) {
		FcConfigDestroy(cfg);
		return NULL;
	}
	FcFontSet *fonts = FcConfigGetFonts(cfg, FcSetSystem);
	if (fonts == NULL || fonts->nfont == 0) {
		FcConfigDestroy(cfg);
		return NULL;
	}
	PangoFontMap *fm = pango_cairo_font_map_new_for_font_type(CAIRO_FONT_TYPE_FT);
	if (fm == NULL) {
		FcConfigDestroy(cfg);
		return NULL;
	}
	pango_fc_font_map_set_config(PANGO_FC_FONT_MAP(fm), cfg);
	font_map = fm;
	return fm;
}

struct tp_doc {
	// The PDF as Cairo writes it: in memory, never a file.
	unsigned char *buf;
	size_t len, cap;

	cairo_surface_t *surface;
	cairo_t *cr;
	PangoContext *ctx;
	PangoLayout *layout;

	double page_w, page_h, margin;
	double y; // top of the next line on the page, in points
	int pages, max_pages;
	int page_has_text;

	long unknown;
	uint32_t sample[TP_SAMPLE];
	int nsample;
	char err[160];
};

static cairo_status_t tp_write(void *closure, const unsigned char *data, unsigned int length) {
	tp_doc *d = closure;
	if (d->len + length > d->cap) {
		size_t cap = d->cap ? d->cap : 64 << 10;
		while (cap < d->len + length) {
			cap *= 2;
		}
		unsigned char *b = realloc(d->buf, cap);
		if (b == NULL) {
			return CAIRO_STATUS_WRITE_ERROR;
		}
		d->buf = b;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, data, length);
	d->len += length;
	return CAIRO_STATUS_SUCCESS;
}

// new_layout makes the layout every text of the document is set in.
// Without hinting, the widths Pango measures are the PDF's, at any zoom.
static PangoLayout *new_layout(tp_doc *d, PangoFontMap *fm, const char *families, double size, const char *lang) {
	d->ctx = pango_font_map_create_context(fm);
	pango_cairo_update_context(d->cr, d->ctx);
	// A size in a font description is in points: 72 of them an inch,
	// as in PDF, rather than the screen's 96.
	pango_cairo_context_set_resolution(d->ctx, 72);
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	pango_cairo_context_set_font_options(d->ctx, fo);
	cairo_font_options_destroy(fo);
	pango_context_set_round_glyph_positions(d->ctx, FALSE);
	pango_context_set_language(d->ctx, pango_language_from_string(lang));

	PangoLayout *layout = pango_layout_new(d->ctx);
	PangoFontDescription *desc = pango_font_description_new();
	pango_font_description_set_family(desc, families);
	pango_font_description_set_size(desc, (gint)(size * PANGO_SCALE));
	pango_layout_set_font_description(layout, desc);
	pango_font_description_free(desc);
	pango_layout_set_width(layout, (int)((d->page_w - 2 * d->margin) * PANGO_SCALE));
	// Breaks where the script allows (UAX #14, dictionaries for Thai and
	// Khmer), and inside a word only when it is wider than the line.
	pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
	// Each paragraph takes the direction of its first strong character,
	// and a right-to-left one is aligned on the right margin.
	pango_layout_set_auto_dir(layout, TRUE);
	return layout;
}

tp_doc *tp_new(double page_w, double page_h, double margin, const char *families, double size, const char *lang, int max_pages, int *status) {
	*status = TP_OK;
	PangoFontMap *fm = shared_font_map();
	if (fm == NULL) {
		*status = TP_NO_FONTS;
		return NULL;
	}
	tp_doc *d = calloc(1, sizeof *d);
	if (d == NULL) {
		*status = TP_CAIRO_ERROR;
		return NULL;
	}
	d->page_w = page_w;
	d->page_h = page_h;
	d->margin = margin;
	d->max_pages = max_pages;
	d->pages = 1;
	d->y = margin;
	d->surface = cairo_pdf_surface_create_for_stream(tp_write, d, page_w, page_h);
	// The same text gives the same PDF, which records nothing of when.
	cairo_pdf_surface_set_metadata(d->surface, CAIRO_PDF_METADATA_CREATE_DATE, "2000-01-01T00:00:00Z");
	cairo_pdf_surface_set_metadata(d->surface, CAIRO_PDF_METADATA_CREATOR, "fileconv");
	d->cr = cairo_create(d->surface);
	if (cairo_status(d->cr) != CAIRO_STATUS_SUCCESS) {
		snprintf(d->err, sizeof d->err, "%s", cairo_status_to_string(cairo_status(d->cr)));
		*status = TP_CAIRO_ERROR;
		return d;
	}
	cairo_set_source_rgb(d->cr, 0, 0, 0);
	d->layout = new_layout(d, fm, families, size, lang);
	return d;
}

// note_unknown counts the glyphs of a drawn line that no font had: Pango
// marks them with PANGO_GLYPH_UNKNOWN_FLAG over the character itself and
// draws them as a box holding its code point.
static void note_unknown(tp_doc *d, PangoLayoutLine *line) {
	for (GSList *l = line->runs; l != NULL; l = l->next) {
		PangoGlyphString *gs = ((PangoGlyphItem *)l->data)->glyphs;
		for (int i = 0; i < gs->num_glyphs; i++) {
			PangoGlyph g = gs->glyphs[i].glyph;
			if ((g & PANGO_GLYPH_UNKNOWN_FLAG) == 0 || g == PANGO_GLYPH_INVALID_INPUT) {
				continue;
			}
			d->unknown++;
			uint32_t c = g & ~PANGO_GLYPH_UNKNOWN_FLAG;
			int seen = 0;
			for (int j = 0; j < d->nsample; j++) {
				seen |= d->sample[j] == c;
			}
			if (!seen && d->nsample < TP_SAMPLE) {
				d->sample[d->nsample++] = c;
			}
		}
	}
}

static int draw_line(tp_doc *d, PangoLayoutIter *it) {
	PangoRectangle log;
	pango_layout_iter_get_line_extents(it, NULL, &log);
	double h = (double)log.height / PANGO_SCALE;
	if (d->y + h > d->page_h - d->margin && d->page_has_text) {
		if (d->max_pages > 0 && d->pages >= d->max_pages) {
			return TP_TOO_MANY_PAGES;
		}
		cairo_show_page(d->cr);
		d->pages++;
		d->y = d->margin;
		d->page_has_text = 0;
	}
	PangoLayoutLine *line = pango_layout_iter_get_line_readonly(it);
	double baseline = (double)(pango_layout_iter_get_baseline(it) - log.y) / PANGO_SCALE;
	// log.x places the line: 0 on the left margin, more for a
	// right-to-left line aligned on the right one.
	cairo_move_to(d->cr, d->margin + (double)log.x / PANGO_SCALE, d->y + baseline);
	pango_cairo_show_layout_line(d->cr, line);
	note_unknown(d, line);
	d->y += h;
	d->page_has_text = 1;
	if (cairo_status(d->cr) != CAIRO_STATUS_SUCCESS) {
		snprintf(d->err, sizeof d->err, "%s", cairo_status_to_string(cairo_status(d->cr)));
		return TP_CAIRO_ERROR;
	}
	return TP_OK;
}

int tp_text(tp_doc *d, const char *text, int len, int partial, int *carry) {
	*carry = len;
	if (d->layout == NULL) {
		return TP_CAIRO_ERROR;
	}
	pango_layout_set_text(d->layout, text, len);
	int status = TP_OK;
	int lines = pango_layout_get_line_count(d->layout);
	PangoLayoutIter *it = pango_layout_get_iter(d->layout);
	do {
		if (partial && lines > 1 && pango_layout_iter_at_last_line(it)) {
			*carry = pango_layout_iter_get_line_readonly(it)->start_index;
			break;
		}
		status = draw_line(d, it);
	} while (status == TP_OK && pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
	return status;
}

void tp_space(tp_doc *d, double pts) {
	if (d->page_has_text) {
		d->y += pts;
	}
}

int tp_finish(tp_doc *d, unsigned char **out, size_t *out_len) {
	*out = NULL;
	*out_len = 0;
	if (d->cr != NULL) {
		cairo_destroy(d->cr);
		d->cr = NULL;
	}
	cairo_surface_finish(d->surface);
	cairo_status_t st = cairo_surface_status(d->surface);
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(d->err, sizeof d->err, "%s", cairo_status_to_string(st));
		return TP_CAIRO_ERROR;
	}
	*out = d->buf;
	*out_len = d->len;
	d->buf = NULL;
	return TP_OK;
}

void tp_free(tp_doc *d) {
	if (d == NULL) {
		return;
	}
	if (d->layout != NULL) {
		g_object_unref(d->layout);
	}
	if (d->ctx != NULL) {
		g_object_unref(d->ctx);
	}
	if (d->cr != NULL) {
		cairo_destroy(d->cr);
	}
	if (d->surface != NULL) {
		cairo_surface_destroy(d->surface);
	}
	free(d->buf);
	free(d);
}

int tp_pages(const tp_doc *d) { return d->pages; }
long tp_unknown(const tp_doc *d) { return d->unknown; }
const char *tp_cairo_error(const tp_doc *d) { return d->err; }

int tp_unknown_sample(const tp_doc *d, uint32_t *buf) {
	memcpy(buf, d->sample, sizeof d->sample);
	return d->nsample;
}
