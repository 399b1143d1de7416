// fileconv's overlay of one-page PDFs (text layers) on a document's pages,
// through qpdf's C++ API: its C API has no form XObjects.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	int page;         // the document's page, from 0
	const char *pdf;  // a PDF whose first page is laid over it
	size_t len;
} fc_layer;

// fc_overlay lays each layer over its page of doc, fitted (centred, its
// proportions kept) into the page's crop box shrunk by inset points on each
// side, and writes the document to *out (malloc'd, *out_len bytes). It
// returns 0, or -1 with a message in *err (malloc'd).
int fc_overlay(const char *doc, size_t doc_len, const fc_layer *layers, int n, double inset,
               char **out, size_t *out_len, char **err);

#ifdef __cplusplus
}
#endif
