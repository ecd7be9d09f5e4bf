/*
 * snippet.c: match finding and window choice for snippets.
 *
 * Matches are found left to right, longest needle first at each
 * character, never overlapping.  The window is the SNIP_CHARS characters
 * that hold the most whole matches, starting a little before the first of
 * them so the reader sees some context.
 */
#include "snippet.h"

#include <stdlib.h>
#include <string.h>

#define LEAD_CHARS 16

typedef struct span {
    size_t cs, ce;       /* character range */
} span;

void snip_make(const char *text, const char *const *needles, size_t n,
               ps_buf *out)
{
    size_t len = strlen(text);
    size_t nchars, c;
    size_t *off = ps_utf8_offsets(text, len, &nchars);

    span *sp = NULL;
    size_t nsp = 0, cap = 0;
    for (c = 0; c < nchars;) {
        size_t best = 0;
        for (size_t k = 0; k < n; k++) {
            size_t nl = strlen(needles[k]);
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

    size_t ws = 0, we = nchars;
    if (nchars > SNIP_CHARS) {
        size_t bestcount = 0, beststart = 0;
        for (size_t k = 0; k < nsp; k++) {
            size_t s = sp[k].cs > LEAD_CHARS ? sp[k].cs - LEAD_CHARS : 0;
            size_t cnt = 0;
            for (size_t j = k; j < nsp && sp[j].ce <= s + SNIP_CHARS; j++)
                cnt++;
            if (cnt > bestcount) {
                bestcount = cnt;
                beststart = s;
            }
        }
        ws = beststart;
        if (ws + SNIP_CHARS > nchars)
            ws = nchars - SNIP_CHARS;
        we = ws + SNIP_CHARS;
    }
    if (ws > 0)
        ps_buf_adds(out, "…");
    size_t pos = ws;
    for (size_t k = 0; k < nsp; k++) {
        if (sp[k].cs < ws || sp[k].ce > we)
            continue;
        ps_buf_add_html(out, text + off[pos], off[sp[k].cs] - off[pos]);
        ps_buf_adds(out, "<mark>");
        ps_buf_add_html(out, text + off[sp[k].cs],
                        off[sp[k].ce] - off[sp[k].cs]);
        ps_buf_adds(out, "</mark>");
        pos = sp[k].ce;
    }
    ps_buf_add_html(out, text + off[pos], off[we] - off[pos]);
    if (we < nchars)
        ps_buf_adds(out, "…");
    if (!out->data)
        ps_buf_add(out, "", 0);
    free(sp);
    free(off);
}
