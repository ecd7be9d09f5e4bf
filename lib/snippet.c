/*
 * snippet.c: match finding and window choice for snippets.
 *
 * Matches are found left to right, longest needle first at each
 * character, never overlapping, on the normalized text; marks go around
 * the source characters that produced them.  The window is the SNIP_CHARS characters
 * that hold the most whole matches, starting a little before the first of
 * them so the reader sees some context.
 */
#include "snippet.h"
#include "normalize.h"

#include <stdlib.h>
#include <string.h>

#define LEAD_CHARS 16

typedef struct span {
    size_t cs, ce;       /* character range */
} span;

void snip_make(const char *src, const char *const *needles, size_t n,
               size_t window, ps_buf *out)
{
    size_t srclen = strlen(src);
    ps_buf nb;
    ps_buf_init(&nb);
    uint32_t *from = NULL, *to = NULL;
    char err[PS_ERRLEN];
    if (norm_text_map(src, srclen, &nb, &from, &to, err) < 0) {
        /* not valid UTF-8: cannot happen for stored text; show it plain */
        ps_buf_add_html(out, src, srclen);
        ps_buf_free(&nb);
        return;
    }
    const char *text = nb.data;
    size_t len = nb.len;
    size_t nchars, c;
    size_t *off = ps_utf8_offsets(text, len, &nchars);

    /* Each needle's length once, and a table of the bytes needles start
     * with: most characters start none and cost one lookup. */
    size_t *nlen = ps_xmalloc((n ? n : 1) * sizeof(size_t));
    unsigned char first[256] = {0};
    for (size_t k = 0; k < n; k++) {
        nlen[k] = strlen(needles[k]);
        if (nlen[k])
            first[(unsigned char)needles[k][0]] = 1;
    }
    span *sp = NULL;
    size_t nsp = 0, cap = 0;
    for (c = 0; c < nchars;) {
        size_t best = 0;
        if (first[(unsigned char)text[off[c]]])
            for (size_t k = 0; k < n; k++) {
                size_t nl = nlen[k];
                if (nl > best && off[c] + nl <= len &&
                    memcmp(text + off[c], needles[k], nl) == 0)
                    best = nl;
            }
        if (!best) {
            c++;
            continue;
        }
        size_t e = c;
        while (e < nchars && off[e] < off[c] + best)
            e++;
        if (nsp == cap) {
            cap = cap ? 2 * cap : 16;
            sp = ps_xrealloc(sp, cap * sizeof(span));
        }
        sp[nsp].cs = c;
        sp[nsp].ce = e;
        nsp++;
        c = e;
    }

    /* The window, in normalized characters. */
    size_t ws = 0, we = nchars;
    if (window && nchars > window) {
        size_t bestcount = 0, beststart = 0, j = 0;
        for (size_t k = 0; k < nsp; k++) {
            size_t s = sp[k].cs > LEAD_CHARS ? sp[k].cs - LEAD_CHARS : 0;
            /* spans ending inside [s, s + window): j only moves right */
            if (j < k)
                j = k;
            while (j < nsp && sp[j].ce <= s + window)
                j++;
            if (j - k > bestcount) {
                bestcount = j - k;
                beststart = s;
            }
        }
        ws = beststart;
        if (ws + window > nchars)
            ws = nchars - window;
        we = ws + window;
    }
    /* ... and in source bytes: normalized character i starts at source
     * byte from[off[i]]; the end of the text is the end of the source. */
#define SRC_AT(i) ((i) >= nchars ? srclen : from[off[(i)]])
    size_t sws = ws ? SRC_AT(ws) : 0, swe = we < nchars ? SRC_AT(we) : srclen;
    if (ws > 0)
        ps_buf_adds(out, "…");
    size_t pos = sws;
    for (size_t k = 0; k < nsp; k++) {
        if (sp[k].cs < ws || sp[k].ce > we)
            continue;
        size_t a = from[off[sp[k].cs]], b = to[off[sp[k].ce] - 1];
        if (a < pos)
            a = pos;
        ps_buf_add_html(out, src + pos, a - pos);
        ps_buf_adds(out, "<mark>");
        ps_buf_add_html(out, src + a, b - a);
        ps_buf_adds(out, "</mark>");
        pos = b;
    }
    if (swe > pos)
        ps_buf_add_html(out, src + pos, swe - pos);
#undef SRC_AT
    if (we < nchars)
        ps_buf_adds(out, "…");
    if (!out->data)
        ps_buf_add(out, "", 0);
    free(sp);
    free(nlen);
    free(off);
    free(from);
    free(to);
    ps_buf_free(&nb);
}
