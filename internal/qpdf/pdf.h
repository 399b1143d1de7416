// A thin C layer over qpdf's C API for fileconv's PDF merge, split and
// rewrite: it gathers the calls that set a qpdf_data up for reading and for
// writing with fileconv's output settings, so that Go makes one call for each.
#include <qpdf/qpdf-c.h>

qpdf_data fc_new(void);
QPDF_ERROR_CODE fc_add_pages(qpdf_data dst, qpdf_data src, int first, int last);
QPDF_ERROR_CODE fc_init_write(qpdf_data q);
void fc_raise_version(qpdf_data dst, qpdf_data src);
int fc_document_parts(qpdf_data q);
