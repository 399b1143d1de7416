#include "overlay.h"

#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFPageDocumentHelper.hh>
#include <qpdf/QPDFPageObjectHelper.hh>
#include <qpdf/QPDFWriter.hh>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace {

char *copy_string(std::string const &s) {
	char *p = static_cast<char *>(malloc(s.size() + 1));
	if (p != nullptr)
		memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

// target is where a layer goes: the crop box (what a viewer shows, and what
// poppler renders), in its corners' order whatever the array's, less inset
// on each side when that leaves room.
QPDFObjectHandle::Rectangle target(QPDFPageObjectHelper &page, double inset) {
	QPDFObjectHandle::Rectangle r = page.getCropBox().getArrayAsRectangle();
	double llx = std::min(r.llx, r.urx), urx = std::max(r.llx, r.urx);
	double lly = std::min(r.lly, r.ury), ury = std::max(r.lly, r.ury);
	if (inset > 0 && urx - llx > 2 * inset && ury - lly > 2 * inset) {
		llx += inset, lly += inset, urx -= inset, ury -= inset;
	}
	return QPDFObjectHandle::Rectangle(llx, lly, urx, ury);
}

// lay puts the form fo over page, as qpdf's --overlay does: the page's own
// content in q … Q so that a state it leaves set cannot move the form, then
// the form placed upright as the page is shown (/Rotate undone).
void lay(QPDF &doc, QPDFPageObjectHelper &page, QPDFObjectHandle fo, double inset) {
	QPDFObjectHandle resources = page.getAttribute("/Resources", true);
	if (!resources.isDictionary()) {
		resources = QPDFObjectHandle::newDictionary();
		page.getObjectHandle().replaceKey("/Resources", resources);
	} else if (resources.isIndirect()) {
		// Shared with other pages: this page gets its own, of the same
		// entries, so that the others do not list its layer.
		resources = resources.shallowCopy();
		page.getObjectHandle().replaceKey("/Resources", resources);
	}
	QPDFObjectHandle xobjects = resources.getKey("/XObject");
	xobjects = xobjects.isDictionary() ? xobjects.shallowCopy() : QPDFObjectHandle::newDictionary();
	resources.replaceKey("/XObject", xobjects);
	int suffix = 1;
	std::string name = resources.getUniqueResourceName("/OCR", suffix);
	std::string content = page.placeFormXObject(fo, name, target(page, inset), true, true, true);
	if (content.empty())
		return;
	xobjects.replaceKey(name, fo);
	page.addPageContents(QPDFObjectHandle::newStream(&doc, "q\n"), true);
	page.addPageContents(QPDFObjectHandle::newStream(&doc, "\nQ\n" + content), false);
}

// write sets the output as fc_init_write (pdf.c) does: not encrypted, its
// /ID from the content, streams compressed, objects in object streams.
std::shared_ptr<Buffer> write(QPDF &doc) {
	QPDFObjectHandle trailer = doc.getTrailer();
	if (!trailer.hasKey("/Size"))
		trailer.replaceKey("/Size", QPDFObjectHandle::newInteger(0));
	QPDFWriter w(doc);
	w.setOutputMemory();
	w.setPreserveEncryption(false);
	w.setDeterministicID(true);
	w.setCompressStreams(true);
	w.setDecodeLevel(qpdf_dl_generalized);
	w.setObjectStreamMode(qpdf_o_generate);
	w.write();
	return w.getBufferSharedPointer();
}

}  // namespace

int fc_overlay(const char *data, size_t len, const fc_layer *layers, int n, double inset,
               char **out, size_t *out_len, char **err) {
	*out = nullptr;
	*out_len = 0;
	*err = nullptr;
	try {
		QPDF doc;
		doc.setSuppressWarnings(true);
		doc.processMemoryFile("document", data, len);
		std::vector<QPDFPageObjectHelper> pages = QPDFPageDocumentHelper(doc).getAllPages();
		// A layer's stream data is read from its own QPDF when the document
		// is written, so each lives until then.
		std::vector<std::unique_ptr<QPDF>> sources;
		for (int i = 0; i < n; i++) {
			if (layers[i].page < 0 || static_cast<size_t>(layers[i].page) >= pages.size())
				throw std::runtime_error("a text layer for page " + std::to_string(layers[i].page + 1) + " of " + std::to_string(pages.size()));
			auto src = std::make_unique<QPDF>();
			src->setSuppressWarnings(true);
			src->processMemoryFile("text layer", layers[i].pdf, layers[i].len);
			std::vector<QPDFPageObjectHelper> lp = QPDFPageDocumentHelper(*src).getAllPages();
			if (lp.empty())
				throw std::runtime_error("a text layer without a page");
			QPDFObjectHandle fo = doc.copyForeignObject(lp.at(0).getFormXObjectForPage());
			lay(doc, pages.at(layers[i].page), fo, inset);
			sources.push_back(std::move(src));
		}
		std::shared_ptr<Buffer> buf = write(doc);
		*out = static_cast<char *>(malloc(std::max<size_t>(buf->getSize(), 1)));
		if (*out == nullptr)
			throw std::bad_alloc();
		memcpy(*out, buf->getBuffer(), buf->getSize());
		*out_len = buf->getSize();
		return 0;
	} catch (std::exception &e) {
		*err = copy_string(e.what());
	} catch (...) {
		*err = copy_string("unknown error");
	}
	return -1;
}
