/*
 * Fuzz target: what a document says of itself (docmeta.c): the text
 * decoded and split into lines, lines of the form "key<TAB>value" also
 * given as the file's metadata pairs, the first line as the layout's
 * title; and every line read as a document number and an agency.
 */
#include "decode.h"
#include "docmeta.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PS_ERRLEN];
    char *text;
    size_t n;
    const char *enc;
    if (dec_to_utf8((const char *)data, size, &text, &n, &enc, err) < 0)
        return 0;
    const char **lines = malloc(MAX_LINES * sizeof(char *));
    ext_meta *meta = malloc(MAX_LINES * sizeof(ext_meta));
    size_t nl = 0, nm = 0;
    for (char *p = text; p && *p && nl < MAX_LINES;) {
        char *nlp = strchr(p, '\n');
        if (nlp)
            *nlp = '\0';
        lines[nl++] = p;
        char *tab = strchr(p, '\t');
        if (tab && tab[1]) {
            meta[nm].key = strndup(p, (size_t)(tab - p));
            meta[nm].value = tab + 1;
            nm++;
        }
        p = nlp ? nlp + 1 : NULL;
    }
    json_t *m = dm_extract(lines, nl, meta, nm, nl ? lines[0] : NULL, err);
    json_decref(m);
    char out[512];
    for (size_t i = 0; i < nl; i++) {
        dm_number(lines[i], out, sizeof out);
        dm_agency(lines[i], out, sizeof out);
        (void)dm_type_known(lines[i]);
    }
    for (size_t i = 0; i < nm; i++)
        free(meta[i].key);
    free(meta);
    free(lines);
    free(text);
    return 0;
}
