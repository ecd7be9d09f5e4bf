/*
 * Fuzz target: the document readers of policy-extract, in process:
 * the format is picked by content as policy-extract does, with the first
 * byte choosing the claimed extension.  Built once per format family
 * with FUZZ_FORMAT set (html, zip, pdf, rtf, mht, xls) so each gets its
 * own corpus and coverage.  FreeXL reads a workbook from a path: the
 * input is written to one temporary file first.
 */
#include "extract.h"
#include "passage.h"
#include "util.h"

#include <libxml/parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        xmlInitParser();
        init = 1;
    }
    char err[PS_ERRLEN];
    ext_doc *d = NULL;
    ext_status rc;
    const char *buf = (const char *)data;
#if defined(FUZZ_HTML)
    rc = ext_html(buf, size, &d, err);
#elif defined(FUZZ_ZIP)
    rc = ext_zip(buf, size, size && (data[0] & 1) ? ".wps" : ".docx", &d, err);
#elif defined(FUZZ_PDF)
    ext_opts o = {0, NULL};
    rc = ext_pdf(buf, size, &o, &d, err);
#elif defined(FUZZ_RTF)
    rc = ext_rtf(buf, size, &d, err);
#elif defined(FUZZ_MHT)
    rc = ext_mht(buf, size, &d, err);
#elif defined(FUZZ_XLS)
    static char path[] = "/tmp/fuzz-xls-XXXXXX";
    static int fd = -1;
    if (fd < 0 && (fd = mkstemp(path)) < 0)
        abort();
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, size, 0) != (ssize_t)size)
        abort();
    rc = ext_ole(path, size && (data[0] & 1) ? ".et" : ".xls", &d, err);
#else
#error "define one of FUZZ_HTML FUZZ_ZIP FUZZ_PDF FUZZ_RTF FUZZ_MHT FUZZ_XLS"
#endif
    if (rc == EXT_OK) {
        /* and on through the passage layer, as the indexer would */
        psg_doc *p = psg_parse_input(d->in, d->nin, "x", err);
        psg_doc_free(p);
        char *js = ext_doc_to_json(d);
        ext_doc *back = js ? ext_doc_from_json(js, strlen(js), err) : NULL;
        ext_doc_free(back);
        free(js);
        ext_doc_free(d);
    }
    return 0;
}
