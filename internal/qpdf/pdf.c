#include "pdf.h"

// fc_new returns a qpdf_data that reports errors and warnings only through the
// API: a library inside a server must not print on stderr, and fileconv reads
// the warnings to tell its callers that a file was repaired.
qpdf_data fc_new(void) {
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	qpdf_set_suppress_warnings(q, QPDF_TRUE);
	return q;
}

// fc_add_pages appends pages first to last (0-based, both included) of src to
// dst. Each page handle is released once added: a long document would
// otherwise keep one handle per page in src's table until cleanup.
QPDF_ERROR_CODE fc_add_pages(qpdf_data dst, qpdf_data src, int first, int last) {
	for (int i = first; i <= last; i++) {
		qpdf_oh page = qpdf_get_page_n(src, (size_t)i);
		if (qpdf_has_error(src))
			return QPDF_ERRORS;
		QPDF_ERROR_CODE status = qpdf_add_page(dst, src, page, QPDF_FALSE);
		qpdf_oh_release(src, page);
		if (status & QPDF_ERRORS)
			return status;
	}
	return QPDF_SUCCESS;
}

// fc_ensure_size gives the trailer a /Size if it has none (a damaged file's
// may not). qpdf writes the real size only in place of the input's /Size, so
// without one its output's cross-reference stream has no /Size either, and no
// reader, qpdf included, can read the file it wrote.
static void fc_ensure_size(qpdf_data q) {
	qpdf_oh trailer = qpdf_get_trailer(q);
	if (!qpdf_oh_has_key(q, trailer, "/Size")) {
		qpdf_oh size = qpdf_oh_new_integer(q, 0);
		qpdf_oh_replace_key(q, trailer, "/Size", size);
		qpdf_oh_release(q, size);
	}
	qpdf_oh_release(q, trailer);
}

// fc_init_write prepares q to be written to memory. The settings must follow
// qpdf_init_write_memory, which forgets earlier ones. The output is not
// encrypted, since removing the encryption is how fileconv decrypts; its /ID
// is derived from the content so that the same input gives the same bytes;
// uncompressed streams are compressed (already compressed ones are kept as
// they are: recompressing costs time for little); objects go into object
// streams, which makes most files smaller and needs only PDF 1.5.
QPDF_ERROR_CODE fc_init_write(qpdf_data q) {
	QPDF_ERROR_CODE status = qpdf_init_write_memory(q);
	if (status & QPDF_ERRORS)
		return status;
	qpdf_set_preserve_encryption(q, QPDF_FALSE);
	qpdf_set_deterministic_ID(q, QPDF_TRUE);
	qpdf_set_compress_streams(q, QPDF_TRUE);
	qpdf_set_decode_level(q, qpdf_dl_generalized);
	qpdf_set_object_stream_mode(q, qpdf_o_generate);
	fc_ensure_size(q);
	return qpdf_has_error(q) ? QPDF_ERRORS : QPDF_SUCCESS;
}

// fc_raise_version makes dst's output at least as recent as src's PDF version,
// as qpdf's own --pages does: pages copied from a PDF 1.7 file may use 1.7
// features, and a file made with qpdf_empty_pdf starts at 1.3. qpdf keeps the
// highest version it is given; it must be called after fc_init_write.
// Only versions of the form "1.7" are passed on: qpdf takes any run of digits
// from the header and its setter, which traps no C++ exception, throws on a
// number that overflows an int, and an exception leaving the C API aborts.
void fc_raise_version(qpdf_data dst, qpdf_data src) {
	int level = qpdf_get_pdf_extension_level(src);
	const char *v = qpdf_get_pdf_version(src);
	if (strlen(v) != 3 || v[0] < '1' || v[0] > '9' || v[1] != '.' || v[2] < '0' || v[2] > '9')
		return;
	qpdf_set_minimum_pdf_version_and_extension(dst, v, level);
}

// fc_has_items reports whether dict's key holds a non-empty array.
static int fc_has_items(qpdf_data q, qpdf_oh dict, const char *key) {
	qpdf_oh a = qpdf_oh_get_key(q, dict, key);
	int yes = qpdf_oh_is_array(q, a) && qpdf_oh_get_array_n_items(q, a) > 0;
	qpdf_oh_release(q, a);
	return yes;
}

// fc_document_parts says which parts of q that belong to the document, not
// to a page, hold something: 1, an outline (bookmarks) with an entry; 2, a
// form with a field. Copying pages leaves them behind.
int fc_document_parts(qpdf_data q) {
	int parts = 0;
	qpdf_oh root = qpdf_get_root(q);
	qpdf_oh outlines = qpdf_oh_get_key(q, root, "/Outlines");
	if (qpdf_oh_is_dictionary(q, outlines) && qpdf_oh_has_key(q, outlines, "/First"))
		parts |= 1;
	qpdf_oh form = qpdf_oh_get_key(q, root, "/AcroForm");
	if (qpdf_oh_is_dictionary(q, form) && fc_has_items(q, form, "/Fields"))
		parts |= 2;
	qpdf_oh_release(q, form);
	qpdf_oh_release(q, outlines);
	qpdf_oh_release(q, root);
	return parts;
}
