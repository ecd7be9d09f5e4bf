/*
 * decode.c: encoding detection and conversion to UTF-8.
 *
 * Order of the checks: a BOM decides outright; NUL bytes or many control
 * characters mean a binary file; text that is valid UTF-8 is UTF-8; text
 * that is mostly valid UTF-8 with a few bad bytes is reported as invalid
 * UTF-8 (decoding it as GB18030 would index mojibake); otherwise GB18030,
 * a superset of GBK and GB2312, is tried strictly.
 */
#include "decode.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucnv.h>
#include <unicode/ustring.h>

/* Converts with the named ICU converter, stopping at the first illegal
 * sequence.  Returns 0 or -1 with err set. */
static int convert(const char *name, const char *data, size_t len,
                   char **out, size_t *outlen, char *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UConverter *cv = ucnv_open(name, &st);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "no %s converter: %s", name, u_errorName(st));
        return -1;
    }
    ucnv_setToUCallBack(cv, UCNV_TO_U_CALLBACK_STOP, NULL, NULL, NULL, &st);
    size_t cap = len + 1;
    UChar *u = ps_xmalloc(cap * sizeof(UChar));
    UChar *target = u;
    const char *src = data;
    st = U_ZERO_ERROR;
    ucnv_toUnicode(cv, &target, u + cap, &src, data + len, NULL, 1, &st);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "not valid %s at byte %zu", name,
                 (size_t)(src - data));
        ucnv_close(cv);
        free(u);
        return -1;
    }
    ucnv_close(cv);
    int32_t ulen = (int32_t)(target - u);
    int32_t need = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8(NULL, 0, &need, u, ulen, &st);
    char *o = ps_xmalloc((size_t)need + 1);
    st = U_ZERO_ERROR;
    u_strToUTF8(o, need + 1, NULL, u, ulen, &st);
    free(u);
    if (U_FAILURE(st)) {
        free(o);
        snprintf(err, PS_ERRLEN, "cannot convert %s to UTF-8", name);
        return -1;
    }
    o[need] = '\0';
    *out = o;
    *outlen = (size_t)need;
    return 0;
}

/* Counts valid multi-byte UTF-8 sequences and invalid bytes, and the
 * offset of the first invalid byte. */
static void utf8_census(const unsigned char *s, size_t n, size_t *valid_mb,
                        size_t *bad, size_t *first_bad)
{
    *valid_mb = *bad = 0;
    *first_bad = n;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int len = ps_utf8_len(s[i]);
        if (len > 1 && i + (size_t)len <= n &&
            ps_utf8_valid((const char *)s + i, (size_t)len)) {
            (*valid_mb)++;
            i += (size_t)len;
        } else {
            if (*first_bad == n)
                *first_bad = i;
            (*bad)++;
            i++;
        }
    }
}

int dec_to_utf8(const char *data, size_t len, char **out, size_t *outlen,
                const char **encoding, char *err)
{
    const unsigned char *u = (const unsigned char *)data;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        data += 3;
        len -= 3;
        u += 3;
        *encoding = "UTF-8";
        if (!ps_utf8_valid(data, len)) {
            size_t vm, bad, first;
            utf8_census(u, len, &vm, &bad, &first);
            snprintf(err, PS_ERRLEN, "invalid UTF-8 at byte %zu", first + 3);
            return -1;
        }
        *out = ps_xstrndup(data, len);
        *outlen = len;
        return 0;
    }
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) ||
                     (u[0] == 0xFE && u[1] == 0xFF))) {
        *encoding = u[0] == 0xFF ? "UTF-16LE" : "UTF-16BE";
        return convert(*encoding, data + 2, len - 2, out, outlen, err);
    }
    size_t ctl = 0;
    for (size_t i = 0; i < len; i++) {
        if (u[i] == 0) {
            snprintf(err, PS_ERRLEN,
                     "binary file (NUL byte at %zu), not a text document", i);
            return -1;
        }
        if (u[i] < 0x20 && u[i] != '\n' && u[i] != '\r' && u[i] != '\t' &&
            u[i] != '\f')
            ctl++;
    }
    if (ctl > 8 && ctl * 100 > len) {
        snprintf(err, PS_ERRLEN, "binary file (%zu control bytes), not a text "
                 "document", ctl);
        return -1;
    }
    if (ps_utf8_valid(data, len)) {
        *encoding = "UTF-8";
        *out = ps_xstrndup(data, len);
        *outlen = len;
        return 0;
    }
    size_t valid_mb, bad, first_bad;
    utf8_census(u, len, &valid_mb, &bad, &first_bad);
    if (valid_mb > 4 * bad) {
        snprintf(err, PS_ERRLEN, "invalid UTF-8 at byte %zu (%zu bad bytes)",
                 first_bad, bad);
        return -1;
    }
    *encoding = "GB18030";
    char why[PS_ERRLEN];
    if (convert("GB18030", data, len, out, outlen, why) == 0)
        return 0;
    snprintf(err, PS_ERRLEN, "unknown encoding: not UTF-8 (bad byte at %zu) "
             "and %s", first_bad, why);
    return -1;
}

int dec_read_file(const char *path, char **out, size_t *outlen,
                  const char **encoding, char *err)
{
    char *raw;
    size_t rawlen;
    if (ps_read_file(path, &raw, &rawlen, err) < 0)
        return -1;
    int rc = dec_to_utf8(raw, rawlen, out, outlen, encoding, err);
    free(raw);
    return rc;
}

int dec_named(const char *data, size_t len, const char *charset, char **out,
              size_t *outlen, char *err)
{
    if (strcasecmp(charset, "gb2312") == 0 || strcasecmp(charset, "gbk") == 0 ||
        strcasecmp(charset, "x-gbk") == 0 || strcasecmp(charset, "cp936") == 0 ||
        strcasecmp(charset, "gb18030") == 0)
        charset = "GB18030";        /* the superset of all three */
    if (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0) {
        if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
            data += 3;
            len -= 3;
        }
        if (!ps_utf8_valid(data, len)) {
            snprintf(err, PS_ERRLEN, "declared UTF-8 but is not valid UTF-8");
            return -1;
        }
        *out = ps_xstrndup(data, len);
        *outlen = len;
        return 0;
    }
    return convert(charset, data, len, out, outlen, err);
}
