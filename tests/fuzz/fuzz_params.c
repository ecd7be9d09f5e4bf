/*
 * Fuzz target: the HTTP API's parameter handling: the input is a query
 * string (a=1&q=...), split and %-decoded as the server's library does,
 * fed to policy-web's own parameter collector and value checks.
 */
#define main policy_web_main
#include "../../web/policy-web.c"
#include "query.h"
#undef main

#include <stdint.h>

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* %-decodes s[0..n) into out; returns the decoded length. */
static size_t decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out[o++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    params p;
    memset(&p, 0, sizeof p);
    char *keys = malloc(size + 1), *vals = malloc(size + 1);
    size_t i = 0;
    char **own = calloc(2 * (size + 2), sizeof(char *));
    size_t nown = 0;
    while (i <= size && !p.err[0]) {
        size_t e = i;
        while (e < size && data[e] != '&')
            e++;
        size_t eq = i;
        while (eq < e && data[eq] != '=')
            eq++;
        size_t kl = decode((const char *)data + i, eq - i, keys);
        size_t vl = eq < e ? decode((const char *)data + eq + 1, e - eq - 1, vals) : 0;
        if (eq == e)
            vals[0] = '\0';
        /* the collector keeps pointers: give it copies that live on */
        char *k = malloc(kl + 1), *v = malloc(vl + 1);
        memcpy(k, keys, kl + 1);
        memcpy(v, vals, vl + 1);
        own[nown++] = k;
        own[nown++] = v;
        if (collect_arg(&p, MHD_GET_ARGUMENT_KIND, k, kl, v, vl) != MHD_YES)
            break;
        i = e + 1;
    }
    /* A message goes out as JSON: it must be UTF-8 whatever the input
     * (a parameter name cut inside a character was not). */
    if (p.err[0] && !ps_utf8_valid(p.err, strlen(p.err)))
        abort();
    if (!p.err[0]) {
        long limit, offset;
        char err[PS_ERRLEN];
        if (parse_count(p.limit, "limit", 10, MAX_LIMIT, &limit, err) == 0 &&
            parse_count(p.offset, "offset", 0, 100000000, &offset, err) == 0) {
            double v;
            if (p.min)
                (void)ps_parse_amount(p.min, &v);
            if (p.max)
                (void)ps_parse_amount(p.max, &v);
            if (p.q && ps_utf8_valid(p.q, strlen(p.q))) {
                qry *q = qry_parse(p.q, err);
                qry_free(q);
            }
        }
    }
    for (size_t k = 0; k < nown; k++)
        free(own[k]);
    free(own);
    free(keys);
    free(vals);
    return 0;
}
