/*
 * extract_mime.c: web pages saved as one file (MHT/MHTML, also Word's
 * "single file web page" under a .doc name) and RTF.
 *
 * MHT: the MIME multipart/related message's first text/html part,
 * its transfer encoding (quoted-printable, base64) undone, read as a web
 * page.  Only that simple case: nested multiparts are searched for the
 * HTML part, images and other parts are ignored.
 *
 * RTF: read here.  Debian's unrtf was tried and loses characters of
 * Chinese RTF (with \ansicpg936 it drops text after \uN and GBK \'xx
 * pairs), and no maintained C library reads RTF, so the text is taken
 * directly: groups, control words, \'xx bytes decoded in the document's
 * code page (\ansicpgN; 936 as GB18030), \uN with \ucN fallback bytes
 * skipped, destinations that are not text (font and colour tables,
 * styles, info, pictures, headers, field instructions, {\*...}) skipped;
 * \par, \line and \cell end lines, which go through the text layout.
 */
#include "decode.h"
#include "extract.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ASCII case-insensitive memmem. */
static const char *find_ci(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(h + i, needle, m) == 0)
            return h + i;
    return NULL;
}

/* The value of header name in the header block h[0..n) (first line only
 * plus folded continuation lines), copied into out. */
static int header(const char *h, size_t n, const char *name, char *out,
                  size_t outlen)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl < n; i++) {
        if ((i == 0 || h[i - 1] == '\n') && strncasecmp(h + i, name, nl) == 0 &&
            h[i + nl] == ':') {
            size_t j = i + nl + 1, k = 0;
            while (j < n && k + 1 < outlen) {
                if (h[j] == '\r' || h[j] == '\n') {
                    /* folded: the next line starts with white space */
                    size_t e = j;
                    while (e < n && (h[e] == '\r' || h[e] == '\n'))
                        e++;
                    if (e < n && (h[e] == ' ' || h[e] == '\t')) {
                        j = e;
                        continue;
                    }
                    break;
                }
                out[k++] = h[j++];
            }
            out[k] = '\0';
            return 1;
        }
    }
    return 0;
}

/* The parameter param= of a header value, unquoted. */
static int param(const char *v, const char *name, char *out, size_t outlen)
{
    const char *p = find_ci(v, strlen(v), name);
    if (!p)
        return 0;
    p += strlen(name);
    while (*p == ' ')
        p++;
    if (*p != '=')
        return 0;
    p++;
    while (*p == ' ')
        p++;
    int q = *p == '"';
    if (q)
        p++;
    size_t k = 0;
    while (*p && k + 1 < outlen && (q ? *p != '"' : *p != ';' && *p != ' '))
        out[k++] = *p++;
    out[k] = '\0';
    return k > 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void unquote_printable(const char *s, size_t n, ps_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '=') {
            ps_buf_addc(out, s[i]);
            continue;
        }
        if (i + 1 < n && (s[i + 1] == '\n' || s[i + 1] == '\r')) {
            i++;                                   /* soft line break */
            if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
                i++;
            continue;
        }
        int a = i + 2 < n ? hexval(s[i + 1]) : -1, b = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (a < 0 || b < 0) {
            ps_buf_addc(out, '=');
            continue;
        }
        ps_buf_addc(out, (char)(a * 16 + b));
        i += 2;
    }
}

static void unbase64(const char *s, size_t n, ps_buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z' ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+' ? 62 : c == '/' ? 63 : -1;
        if (v < 0)
            continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            ps_buf_addc(out, (char)((acc >> bits) & 0xFF));
        }
    }
}

/* Finds the first text/html part below the multipart body b[0..n) with
 * boundary bd; depth bounds nesting. */
static int html_part(const char *b, size_t n, const char *bd, int depth,
                     ps_buf *out)
{
    if (depth > 8)
        return 0;
    char delim[256];
    snprintf(delim, sizeof delim, "--%s", bd);
    size_t dl = strlen(delim);
    const char *p = memmem(b, n, delim, dl);
    while (p) {
        const char *start = p + dl;
        if ((size_t)(start - b) + 2 <= n && start[0] == '-' && start[1] == '-')
            break;                                 /* the closing delimiter */
        const char *next = memmem(start, n - (size_t)(start - b), delim, dl);
        const char *end = next ? next : b + n;
        /* part: headers, blank line, body */
        const char *hb = start;
        while (hb < end && (*hb == '\r' || *hb == '\n'))
            hb++;
        const char *sep = memmem(hb, (size_t)(end - hb), "\n\r\n", 3);
        const char *sep2 = memmem(hb, (size_t)(end - hb), "\n\n", 2);
        if (!sep || (sep2 && sep2 < sep))
            sep = sep2;
        if (sep) {
            size_t hl = (size_t)(sep - hb);
            const char *body = sep + (sep[1] == '\r' ? 3 : 2);
            char ct[512] = "", te[64] = "", sub[200];
            header(hb, hl, "Content-Type", ct, sizeof ct);
            header(hb, hl, "Content-Transfer-Encoding", te, sizeof te);
            size_t bl = (size_t)(end - body);
            if (find_ci(ct, strlen(ct), "multipart/") &&
                param(ct, "boundary", sub, sizeof sub)) {
                if (html_part(body, bl, sub, depth + 1, out))
                    return 1;
            } else if (find_ci(ct, strlen(ct), "text/html")) {
                if (find_ci(te, strlen(te), "quoted-printable"))
                    unquote_printable(body, bl, out);
                else if (find_ci(te, strlen(te), "base64"))
                    unbase64(body, bl, out);
                else
                    ps_buf_add(out, body, bl);
                return 1;
            }
        }
        p = next;
    }
    return 0;
}

ext_status ext_mht(const char *data, size_t len, ext_doc **out, char *err)
{
    if (len > EXT_MAX_MARKUP) {
        snprintf(err, PS_ERRLEN, "saved web page too large (%zu MB; the limit "
                 "is %u MB)", len >> 20, EXT_MAX_MARKUP >> 20);
        return EXT_FAILED;
    }
    /* the message's headers end at the first blank line */
    const char *sep = memmem(data, len, "\n\r\n", 3);
    const char *sep2 = memmem(data, len, "\n\n", 2);
    if (!sep || (sep2 && sep2 < sep))
        sep = sep2;
    char ct[512] = "", bd[200];
    if (!sep || !header(data, (size_t)(sep - data), "Content-Type", ct, sizeof ct) ||
        !param(ct, "boundary", bd, sizeof bd)) {
        snprintf(err, PS_ERRLEN, "saved web page (MHT) without a multipart "
                 "boundary");
        return EXT_FAILED;
    }
    ps_buf html;
    ps_buf_init(&html);
    if (!html_part(sep, len - (size_t)(sep - data), bd, 0, &html) || !html.len) {
        ps_buf_free(&html);
        snprintf(err, PS_ERRLEN, "saved web page (MHT) without an HTML part");
        return EXT_FAILED;
    }
    ext_status rc = ext_html(html.data, html.len, out, err);
    ps_buf_free(&html);
    if (rc == EXT_OK)
        (*out)->format = "mht";
    return rc;
}

/* ---- RTF ---- */

/* Destinations whose text is not the document's. */
static const char *const rtf_skip[] = {
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "header",
    "footer", "headerl", "headerr", "headerf", "footerl", "footerr",
    "footerf", "listtable", "listoverridetable", "rsidtbl", "generator",
    "xmlnstbl", "themedata", "colorschememapping", "latentstyles",
    "datastore", "revtbl", "filetbl", "fldinst", "bkmkstart", "bkmkend",
    "pgdsctbl", NULL};

typedef struct rtf_state {
    int skip;           /* inside a destination that is not text */
    int uc;             /* bytes to skip after \uN */
} rtf_state;

/* Flushes the pending code-page bytes into text (decoded). */
static void rtf_bytes(ps_buf *bytes, const char *cp, ps_buf *text)
{
    if (!bytes->len)
        return;
    char *u;
    size_t ul;
    char err[PS_ERRLEN];
    if (dec_named(bytes->data, bytes->len, cp, &u, &ul, err) == 0) {
        ps_buf_add(text, u, ul);
        free(u);
    } else {
        for (size_t i = 0; i < bytes->len; i++)   /* not decodable: drop */
            if ((unsigned char)bytes->data[i] < 0x80)
                ps_buf_addc(text, bytes->data[i]);
    }
    bytes->len = 0;
}

/* RTF to lines of text: paragraphs and cells end lines, a blank line
 * after each paragraph (the text layout groups them). */
static int rtf_text(const char *s, size_t n, ps_buf *text, char *err)
{
    rtf_state st[256];
    int depth = 0;
    st[0].skip = 0;
    st[0].uc = 1;
    char cp[24] = "windows-1252";
    ps_buf bytes;
    ps_buf_init(&bytes);
    size_t skip_after_u = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '{') {
            rtf_bytes(&bytes, cp, text);
            if (depth + 1 >= 256) {
                snprintf(err, PS_ERRLEN, "RTF nested more than 255 groups deep");
                ps_buf_free(&bytes);
                return -1;
            }
            st[depth + 1] = st[depth];
            depth++;
            i++;
            /* {\* ...}: an optional destination, not text */
            if (i + 1 < n && s[i] == '\\' && s[i + 1] == '*')
                st[depth].skip = 1;
            continue;
        }
        if (c == '}') {
            rtf_bytes(&bytes, cp, text);
            if (depth > 0)
                depth--;
            i++;
            continue;
        }
        if (c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c != '\\') {
            if (skip_after_u) {
                skip_after_u--;
                i++;
                continue;
            }
            if (!st[depth].skip) {
                if ((unsigned char)c >= 0x80)
                    ps_buf_addc(&bytes, c);
                else {
                    rtf_bytes(&bytes, cp, text);
                    ps_buf_addc(text, c);
                }
            }
            i++;
            continue;
        }
        /* a control symbol or word */
        i++;
        if (i >= n)
            break;
        if (s[i] == '\'') {                         /* \'xx: a byte */
            int a = i + 2 < n ? hexval(s[i + 1]) : -1, b = i + 2 < n ? hexval(s[i + 2]) : -1;
            i += 3;
            if (a < 0 || b < 0)
                continue;
            if (skip_after_u) {
                skip_after_u--;
                continue;
            }
            if (!st[depth].skip)
                ps_buf_addc(&bytes, (char)(a * 16 + b));
            continue;
        }
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
            char sym = s[i++];                       /* \\ \{ \} \~ \- ... */
            if (st[depth].skip)
                continue;
            rtf_bytes(&bytes, cp, text);
            if (sym == '\\' || sym == '{' || sym == '}')
                ps_buf_addc(text, sym);
            else if (sym == '~')
                ps_buf_addc(text, ' ');
            else if (sym == '\n' || sym == '\r')
                ps_buf_adds(text, "\n\n");
            continue;
        }
        char word[32];
        size_t k = 0;
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
            if (k + 1 < sizeof word)
                word[k++] = s[i];
            i++;
        }
        word[k] = '\0';
        long arg = 0;
        int has = 0, neg = 0;
        if (i < n && s[i] == '-') {
            neg = 1;
            i++;
        }
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (arg < 100000000)
                arg = arg * 10 + (s[i] - '0');
            has = 1;
            i++;
        }
        if (neg)
            arg = -arg;
        if (i < n && s[i] == ' ')
            i++;                                     /* the delimiter */
        for (const char *const *d = rtf_skip; *d; d++)
            if (strcmp(word, *d) == 0)
                st[depth].skip = 1;
        if (strcmp(word, "ansicpg") == 0 && has && arg > 0) {
            snprintf(cp, sizeof cp, arg == 936 ? "GB18030" : "windows-%ld", arg);
            continue;
        }
        if (strcmp(word, "uc") == 0 && has) {
            st[depth].uc = (int)(arg < 0 ? 0 : arg > 8 ? 8 : arg);
            continue;
        }
        if (st[depth].skip)
            continue;
        if (strcmp(word, "u") == 0 && has) {
            rtf_bytes(&bytes, cp, text);
            long u = arg < 0 ? arg + 65536 : arg;
            if (u > 0 && u < 0x110000 && !(u >= 0xD800 && u <= 0xDFFF))
                ps_buf_addcp(text, (uint32_t)u);
            skip_after_u = (size_t)st[depth].uc;
            continue;
        }
        rtf_bytes(&bytes, cp, text);
        if (strcmp(word, "par") == 0 || strcmp(word, "sect") == 0 ||
            strcmp(word, "page") == 0 || strcmp(word, "row") == 0)
            ps_buf_adds(text, "\n\n");
        else if (strcmp(word, "line") == 0 || strcmp(word, "cell") == 0)
            ps_buf_adds(text, "\n\n");
        else if (strcmp(word, "tab") == 0)
            ps_buf_addc(text, '\t');
        else if (strcmp(word, "emdash") == 0)
            ps_buf_adds(text, "\xe2\x80\x94");
        else if (strcmp(word, "endash") == 0)
            ps_buf_adds(text, "\xe2\x80\x93");
        else if (strcmp(word, "lquote") == 0)
            ps_buf_adds(text, "\xe2\x80\x98");
        else if (strcmp(word, "rquote") == 0)
            ps_buf_adds(text, "\xe2\x80\x99");
        else if (strcmp(word, "ldblquote") == 0)
            ps_buf_adds(text, "\xe2\x80\x9c");
        else if (strcmp(word, "rdblquote") == 0)
            ps_buf_adds(text, "\xe2\x80\x9d");
        else if (strcmp(word, "bullet") == 0)
            ps_buf_adds(text, "\xe2\x80\xa2");
    }
    rtf_bytes(&bytes, cp, text);
    ps_buf_free(&bytes);
    return 0;
}

ext_status ext_rtf(const char *data, size_t len, ext_doc **out, char *err)
{
    if (len > EXT_MAX_MARKUP) {
        snprintf(err, PS_ERRLEN, "RTF file too large (%zu MB; the limit is %u MB)",
                 len >> 20, EXT_MAX_MARKUP >> 20);
        return EXT_FAILED;
    }
    ps_buf text;
    ps_buf_init(&text);
    if (rtf_text(data, len, &text, err) < 0) {
        ps_buf_free(&text);
        return EXT_FAILED;
    }
    if (!text.len || !ps_utf8_valid(text.data, text.len)) {
        ps_buf_free(&text);
        snprintf(err, PS_ERRLEN, "RTF file without readable text");
        return EXT_FAILED;
    }
    ext_doc *d = ext_doc_new("rtf");
    ext_add(d, PSG_IN_LINES, text.data, text.len, 0);
    ps_buf_free(&text);
    *out = d;
    return EXT_OK;
}
