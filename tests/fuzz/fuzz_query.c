/*
 * Fuzz target: what a user types: the query parser, query
 * normalization, value bounds, and snippets of the input as passage text
 * (normalized matching mapped back to the source characters).
 */
#include "normalize.h"
#include "query.h"
#include "snippet.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char err[PS_ERRLEN];
    if (!ps_utf8_valid(s, strlen(s))) {
        free(s);
        return 0;
    }
    qry *q = qry_parse(s, err);
    qry_free(q);
    double v;
    (void)ps_parse_amount(s, &v);
    ps_buf b;
    ps_buf_init(&b);
    if (norm_query(s, strlen(s), &b, err) == 0 && b.len) {
        const char *needles[2] = {b.data, "的"};
        ps_buf snip;
        ps_buf_init(&snip);
        snip_make(s, needles, 2, size & 1 ? 0 : SNIP_CHARS, &snip);
        ps_buf_free(&snip);
    }
    ps_buf_free(&b);
    free(s);
    return 0;
}
