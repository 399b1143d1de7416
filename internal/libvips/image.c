#include "image.h"

VipsImage *fc_load(const void *buf, size_t len, const char *options) {
	return vips_image_new_from_buffer(buf, len, options, NULL);
}

VipsImage *fc_magickload(const void *buf, size_t len, const char *options) {
	VipsImage *out = NULL;
	// magickload_buffer takes no option string; the one option fileconv
	// passes it is "fail".
	gboolean fail = options != NULL && strstr(options, "fail=true") != NULL;
	if (vips_magickload_buffer((void *)buf, len, &out, "fail", fail, NULL))
		return NULL;
	return out;
}

VipsImage *fc_thumbnail(const void *buf, size_t len, int width, int height,
	VipsSize size, VipsInteresting crop, const char *options) {
	VipsImage *out = NULL;
	if (vips_thumbnail_buffer((void *)buf, len, &out, width, "height", height,
			"size", size, "crop", crop, "option_string", options, NULL))
		return NULL;
	return out;
}

int fc_autorot(VipsImage *in, VipsImage **out) {
	return vips_autorot(in, out, NULL);
}

// fc_icc_to_srgb converts from the embedded profile to sRGB; an image whose
// profile is missing is read as sRGB.
int fc_icc_to_srgb(VipsImage *in, VipsImage **out, int depth) {
	return vips_icc_transform(in, out, "srgb", "embedded", TRUE,
		"input_profile", "srgb", "intent", VIPS_INTENT_RELATIVE,
		"depth", depth, NULL);
}

int fc_colourspace(VipsImage *in, VipsImage **out, VipsInterpretation space) {
	return vips_colourspace(in, out, space, NULL);
}

int fc_cast(VipsImage *in, VipsImage **out, VipsBandFormat format) {
	return vips_cast(in, out, format, NULL);
}

int fc_flatten(VipsImage *in, VipsImage **out, double r, double g, double b, double max) {
	double bg[3] = {r, g, b};
	VipsArrayDouble *background = vips_array_double_new(bg, 3);
	int ret = vips_flatten(in, out, "background", background, "max_alpha", max, NULL);
	vips_area_unref(VIPS_AREA(background));
	return ret;
}

int fc_embed(VipsImage *in, VipsImage **out, int x, int y, int width, int height,
	const double *bg, int n) {
	VipsArrayDouble *background = vips_array_double_new(bg, n);
	int ret = vips_embed(in, out, x, y, width, height,
		"extend", VIPS_EXTEND_BACKGROUND, "background", background, NULL);
	vips_area_unref(VIPS_AREA(background));
	return ret;
}

int fc_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height) {
	return vips_extract_area(in, out, left, top, width, height, NULL);
}

int fc_copy(VipsImage *in, VipsImage **out) {
	return vips_copy(in, out, NULL);
}

int fc_save(VipsImage *in, const char *suffix, void **buf, size_t *len) {
	return vips_image_write_to_buffer(in, suffix, buf, len, NULL);
}

