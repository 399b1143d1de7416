// A thin C layer over libvips for fileconv's image pipeline: each function
// wraps one variadic libvips call, which cgo cannot make itself.
#include <vips/vips.h>

VipsImage *fc_load(const void *buf, size_t len, const char *options);
VipsImage *fc_magickload(const void *buf, size_t len, const char *options);
VipsImage *fc_thumbnail(const void *buf, size_t len, int width, int height,
	VipsSize size, VipsInteresting crop, const char *options);
int fc_autorot(VipsImage *in, VipsImage **out);
int fc_icc_to_srgb(VipsImage *in, VipsImage **out, int depth);
int fc_colourspace(VipsImage *in, VipsImage **out, VipsInterpretation space);
int fc_cast(VipsImage *in, VipsImage **out, VipsBandFormat format);
int fc_flatten(VipsImage *in, VipsImage **out, double r, double g, double b, double max);
int fc_embed(VipsImage *in, VipsImage **out, int x, int y, int width, int height,
	const double *bg, int n);
int fc_extract(VipsImage *in, VipsImage **out, int left, int top, int width, int height);
int fc_copy(VipsImage *in, VipsImage **out);
int fc_save(VipsImage *in, const char *suffix, void **buf, size_t *len);
