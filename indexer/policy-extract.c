/*
 * policy-extract: reads one document of any supported format and prints
 * its pieces of text as one JSON object (extract.h).  policy-index runs
 * it in a child process for every format but plain text, so a broken or
 * hostile file costs at most this process, its time and memory budget.
 *
 *   policy-extract [--ocr] [--] FILE
 *
 * Exit 0 with {"status": 0, "format": ..., "pieces": [...]}, 1 with
 * {"status": -1 or -2, "error": "..."} (-2: a format not supported),
 * 2 for usage errors.
 */
#include "extract.h"
#include "util.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* The format-specific reader, in this process. */
static ext_status read_inprocess(const char *path, const ext_opts *o,
                              ext_doc **out, char *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        ext_too_large((unsigned long long)st.st_size, err))
        return EXT_FAILED;
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0)
        return EXT_FAILED;
    const char *ext = ext_extension(path);
    ext_status rc;
    switch (ext_sniff(data, len < EXT_SNIFF_BYTES ? len : EXT_SNIFF_BYTES, path,
                      err)) {
    case EXT_SN_TEXT:
        rc = ext_read_text(data, len, path, out, err);
        break;
    case EXT_SN_HTML:
        rc = ext_html(data, len, out, err);
        break;
    case EXT_SN_PDF:
        rc = ext_pdf(data, len, o, out, err);
        break;
    case EXT_SN_ZIP:
        rc = ext_zip(data, len, ext, out, err);
        break;
    case EXT_SN_OLE:
        rc = ext_ole(path, ext, out, err);
        break;
    case EXT_SN_MHT:
        rc = ext_mht(data, len, out, err);
        break;
    case EXT_SN_RTF:
        rc = ext_rtf(data, len, out, err);
        break;
    default:
        rc = EXT_UNSUPPORTED;
    }
    free(data);
    return rc;
}

static void budget(void)
{
    alarm(EXT_SECONDS);         /* SIGALRM's default action ends us */
#ifndef UNDER_ASAN
    /* ASan reserves terabytes of address space: no limit there. */
    struct rlimit rl = {EXT_MEMORY, EXT_MEMORY};
    setrlimit(RLIMIT_AS, &rl);
#endif
}

int main(int argc, char **argv)
{
    ext_opts o = {0, NULL};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ocr") == 0) {
            o.ocr = 1;
        } else if (strcmp(argv[i], "--") == 0 && i + 1 < argc) {
            path = argv[i + 1];
            break;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: policy-extract [--ocr] [--] FILE\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: policy-extract [--ocr] [--] FILE\n");
        return 2;
    }
    budget();
    xmlInitParser();
    char err[PS_ERRLEN];
    ext_doc *d = NULL;
    ext_status rc = read_inprocess(path, &o, &d, err);
    char *s;
    if (rc == EXT_OK) {
        s = ext_doc_to_json(d);
        ext_doc_free(d);
    } else {
        json_t *j = json_pack("{s:i,s:s}", "status", (int)rc, "error", err);
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    fputs(s, stdout);
    putchar('\n');
    free(s);
    xmlCleanupParser();
    return rc == EXT_OK ? 0 : 1;
}
