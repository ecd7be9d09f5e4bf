/*
 * normalize.c: NFKC + case folding (ICU), Traditional -> Simplified (a
 * table generated at build time from ICU's transliterator) and whitespace
 * squeezing.
 */
#include "normalize.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

static const uint16_t t2s_pairs[][2] = {
#include "t2s.inc"
};

static uint16_t *t2s_table;   /* 64K entries, 0 = unchanged */
static const UNormalizer2 *nfkc_cf;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    t2s_table = ps_xcalloc(0x10000, sizeof(uint16_t));
    for (size_t i = 0; i < sizeof t2s_pairs / sizeof t2s_pairs[0]; i++)
        t2s_table[t2s_pairs[i][0]] = t2s_pairs[i][1];
    UErrorCode st = U_ZERO_ERROR;
    nfkc_cf = unorm2_getNFKCCasefoldInstance(&st);
    if (U_FAILURE(st)) {
        fprintf(stderr, "policy-search: ICU NFKC_Casefold unavailable: %s\n",
                u_errorName(st));
        abort();
    }
}

/* The folded form of each code point of a 256-code-point page of the
 * BMP, made the first time a text holds one of them: a query touches a
 * page or two, and making all 256 pages cost every process milliseconds
 * at its first normalization.  For a code point with a normalization
 * boundary on both sides, its folded UTF-8 form is pool + off[c], len[c]
 * bytes; len 0xFF: no boundary on some side, fold it with its
 * neighbours.  one[c]: that form when it is one code point and not a
 * space, else 0. */
typedef struct fold_page {
    uint32_t off[256];
    uint8_t len[256];
    uint32_t one[256];
    char *pool;
} fold_page;

static fold_page *_Atomic fold_pages[256];
static pthread_mutex_t fold_lock = PTHREAD_MUTEX_INITIALIZER;

static fold_page *make_page(uint32_t hi)
{
    fold_page *pg = ps_xcalloc(1, sizeof *pg);
    ps_buf pool;
    ps_buf_init(&pool);
    for (uint32_t lo = 0; lo < 256; lo++) {
        uint32_t cp = hi << 8 | lo;
        pg->len[lo] = 0xFF;
        if ((cp >= 0xD800 && cp <= 0xDFFF) ||
            !unorm2_hasBoundaryBefore(nfkc_cf, (UChar32)cp) ||
            !unorm2_hasBoundaryAfter(nfkc_cf, (UChar32)cp))
            continue;
        UChar u = (UChar)cp, v[32];
        UErrorCode e = U_ZERO_ERROR;
        int32_t vl = unorm2_normalize(nfkc_cf, &u, 1, v, 32, &e);
        if (U_FAILURE(e))
            continue;
        for (int32_t i = 0; i < vl; i++)
            if (t2s_table[v[i]])
                v[i] = t2s_table[v[i]];
        char o[128];
        int32_t ol = 0;
        e = U_ZERO_ERROR;
        u_strToUTF8(o, sizeof o, &ol, v, vl, &e);
        if (U_FAILURE(e) || ol > 0xFE)
            continue;
        pg->off[lo] = (uint32_t)pool.len;
        pg->len[lo] = (uint8_t)ol;
        ps_buf_add(&pool, o, (size_t)ol);
        size_t k = 0;
        uint32_t one = ol ? ps_utf8_next(o, (size_t)ol, &k) : 0;
        if (ol && k == (size_t)ol && !ps_is_space(one))
            pg->one[lo] = one;
    }
    pg->pool = pool.data ? ps_buf_steal(&pool) : ps_xcalloc(1, 1);
    return pg;
}

/* The page of cp (< 0x10000), made if it is not yet.  Pages live as
 * long as the process (256 at most, about 2.3 KB each). */
static const fold_page *fold_page_of(uint32_t cp)
{
    fold_page *pg = atomic_load_explicit(&fold_pages[cp >> 8],
                                         memory_order_acquire);
    if (pg)
        return pg;
    pthread_mutex_lock(&fold_lock);
    pg = atomic_load_explicit(&fold_pages[cp >> 8], memory_order_relaxed);
    if (!pg) {
        pg = make_page(cp >> 8);
        atomic_store_explicit(&fold_pages[cp >> 8], pg, memory_order_release);
    }
    pthread_mutex_unlock(&fold_lock);
    return pg;
}

uint32_t norm_t2s(uint32_t cp)
{
    pthread_once(&once, init_tables);
    if (cp < 0x10000 && t2s_table[cp])
        return t2s_table[cp];
    return cp;
}

/* Quick path: ASCII-only text needs only lower-casing. */
static int all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* norm_fold from the table alone: 0, or -1 (nothing written) when some
 * code point needs its neighbours (then ICU folds the whole string). */
static int fold_by_table(const char *s, size_t n, ps_buf *out)
{
    size_t i = 0, base = out->len;
    ps_buf_reserve(out, n + 16);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && (i + 1 == n || (unsigned char)s[i + 1] < 0x80)) {
            ps_buf_addc(out, (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
            i++;
            continue;
        }
        uint32_t cp = ps_utf8_next(s, n, &i);
        const fold_page *pg = cp < 0x10000 ? fold_page_of(cp) : NULL;
        if (!pg || pg->len[cp & 0xFF] == 0xFF) {
            out->len = base;
            if (out->data)
                out->data[base] = '\0';
            return -1;
        }
        ps_buf_add(out, pg->pool + pg->off[cp & 0xFF], pg->len[cp & 0xFF]);
    }
    if (!out->data)
        ps_buf_add(out, "", 0);
    return 0;
}

int norm_fold(const char *s, size_t n, ps_buf *out, char *err)
{
    pthread_once(&once, init_tables);
    if (fold_by_table(s, n, out) == 0)
        return 0;
    if (all_ascii(s, n)) {
        ps_buf_reserve(out, n);
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            out->data[out->len++] = c;
        }
        out->data[out->len] = '\0';
        return 0;
    }
    UErrorCode st = U_ZERO_ERROR;
    int32_t ulen = 0;
    UChar stackbuf[1024], stackbuf2[1024];
    UChar *u = stackbuf, *v = stackbuf2;
    u_strFromUTF8(u, 1024, &ulen, s, (int32_t)n, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR) {
        u = ps_xmalloc(((size_t)ulen + 1) * sizeof(UChar));
        st = U_ZERO_ERROR;
        u_strFromUTF8(u, ulen + 1, &ulen, s, (int32_t)n, &st);
    }
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "text is not valid UTF-8");
        if (u != stackbuf)
            free(u);
        return -1;
    }
    st = U_ZERO_ERROR;
    int32_t vlen = unorm2_normalize(nfkc_cf, u, ulen, v, 1024, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR) {
        v = ps_xmalloc(((size_t)vlen + 1) * sizeof(UChar));
        st = U_ZERO_ERROR;
        vlen = unorm2_normalize(nfkc_cf, u, ulen, v, vlen + 1, &st);
    }
    if (u != stackbuf)
        free(u);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "normalization failed: %s", u_errorName(st));
        if (v != stackbuf2)
            free(v);
        return -1;
    }
    for (int32_t i = 0; i < vlen; i++)
        if (t2s_table[v[i]])
            v[i] = t2s_table[v[i]];
    int32_t need = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8(NULL, 0, &need, v, vlen, &st);
    ps_buf_reserve(out, (size_t)need);
    st = U_ZERO_ERROR;
    u_strToUTF8(out->data + out->len, need + 1, NULL, v, vlen, &st);
    if (v != stackbuf2)
        free(v);
    out->len += (size_t)need;
    out->data[out->len] = '\0';
    return 0;
}

void norm_squeeze(const char *s, size_t n, ps_buf *out)
{
    norm_squeeze_map(s, n, out, NULL, 0, NULL);
}

void norm_squeeze_map(const char *s, size_t n, ps_buf *out,
                      const size_t *marks, size_t nmarks, size_t *mapped)
{
    size_t i = 0, k = 0, base = out->len;
    uint32_t prev = 0;          /* last non-space code point written */
    ps_buf_reserve(out, n);
    while (i < n) {
        size_t start = i;
        uint32_t cp = ps_utf8_next(s, n, &i);
        while (k < nmarks && marks[k] <= start)
            mapped[k++] = out->len - base;
        if (!ps_is_space(cp)) {
            ps_buf_add(out, s + start, i - start);
            prev = cp;
            continue;
        }
        int newline = cp == '\n' || cp == '\r';
        size_t j = i;
        uint32_t next = 0;
        while (j < n) {
            size_t after = j;
            next = ps_utf8_next(s, n, &after);
            if (!ps_is_space(next))
                break;
            newline |= next == '\n' || next == '\r';
            j = after;
            next = 0;
        }
        i = j;
        if (!prev || !next)
            continue;                       /* leading or trailing */
        if (newline) {
            if (ps_is_alnum(prev) && ps_is_alnum(next))
                ps_buf_addc(out, ' ');
        } else if (!(ps_is_cjkish(prev) && ps_is_cjkish(next))) {
            ps_buf_addc(out, ' ');
        }
        /* marks inside the whitespace run map to what follows it */
        while (k < nmarks && marks[k] < i)
            mapped[k++] = out->len - base;
    }
    while (k < nmarks)
        mapped[k++] = out->len - base;
}

/* The output of norm_text_map under construction: bytes with their
 * source ranges, and the squeeze's state (see norm_squeeze_map). */
typedef struct mapout {
    ps_buf *out;
    size_t base, cap;
    uint32_t *from, *to;    /* source offsets: 4 bytes each, not 8 */
    uint32_t prev;          /* last non-space code point written */
    int pending, newline;   /* whitespace seen since, and a line break */
    size_t ws_from, ws_to;  /* its source range */
} mapout;

static void put(mapout *m, const char *x, size_t n, size_t a, size_t b)
{
    size_t at = m->out->len - m->base;
    if (at + n > m->cap) {
        m->cap = (at + n) * 2 + 64;
        m->from = ps_xrealloc(m->from, m->cap * sizeof(uint32_t));
        m->to = ps_xrealloc(m->to, m->cap * sizeof(uint32_t));
    }
    ps_buf_add(m->out, x, n);
    for (size_t i = 0; i < n; i++) {
        m->from[at + i] = (uint32_t)a;
        m->to[at + i] = (uint32_t)b;
    }
}

/* Feeds folded text x[0..n), produced by source bytes [a, b), through the
 * squeeze. */
static void feed(mapout *m, const char *x, size_t n, size_t a, size_t b)
{
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        uint32_t cp = ps_utf8_next(x, n, &i);
        if (ps_is_space(cp)) {
            if (!m->pending) {
                m->pending = 1;
                m->newline = 0;
                m->ws_from = a;
            }
            m->newline |= cp == '\n' || cp == '\r';
            m->ws_to = b;
            continue;
        }
        if (m->pending && m->prev &&
            (m->newline ? (ps_is_alnum(m->prev) && ps_is_alnum(cp))
                        : !(ps_is_cjkish(m->prev) && ps_is_cjkish(cp))))
            put(m, " ", 1, m->ws_from, m->ws_to);
        m->pending = 0;
        put(m, x + st, i - st, a, b);
        m->prev = cp;
    }
}

int norm_text_map(const char *s, size_t n, ps_buf *out, uint32_t **from,
                  uint32_t **to, char *err)
{
    pthread_once(&once, init_tables);
    if (n >= UINT32_MAX) {
        snprintf(err, PS_ERRLEN, "text of %zu bytes: too long to map", n);
        return -1;
    }
    mapout m = {out, out->len, n + 16, NULL, NULL, 0, 0, 0, 0, 0};
    m.from = ps_xmalloc(m.cap * sizeof(uint32_t));
    m.to = ps_xmalloc(m.cap * sizeof(uint32_t));
    ps_buf_reserve(out, n);
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && (i + 1 == n || (unsigned char)s[i + 1] < 0x80)) {
            /* ASCII followed by ASCII (nothing to combine with) folds to
             * itself, letters lower-cased */
            char lc = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            i++;
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
                c == '\v' || !m.prev || m.pending) {
                feed(&m, &lc, 1, start, i);
            } else {
                put(&m, &lc, 1, start, i);
                m.prev = (uint32_t)(unsigned char)lc;
            }
            continue;
        }
        uint32_t cp = ps_utf8_next(s, n, &i);
        const fold_page *pg = cp < 0x10000 ? fold_page_of(cp) : NULL;
        uint32_t lo = cp & 0xFF;
        if (pg && pg->one[lo] && m.prev && !m.pending) {
            put(&m, pg->pool + pg->off[lo], pg->len[lo], start, i);
            m.prev = pg->one[lo];
            continue;
        }
        if (pg && pg->len[lo] != 0xFF) {
            feed(&m, pg->pool + pg->off[lo], pg->len[lo], start, i);
            continue;
        }
        /* a run up to the next code point with a boundary before it */
        size_t end = i;
        while (end < n) {
            size_t k = end;
            uint32_t c2 = ps_utf8_next(s, n, &k);
            if (unorm2_hasBoundaryBefore(nfkc_cf, (UChar32)c2))
                break;
            end = k;
        }
        ps_buf seg;
        ps_buf_init(&seg);
        if (norm_fold(s + start, end - start, &seg, err) < 0) {
            ps_buf_free(&seg);
            free(m.from);
            free(m.to);
            return -1;
        }
        feed(&m, seg.data ? seg.data : "", seg.len, start, end);
        ps_buf_free(&seg);
        i = end;
    }
    if (!out->data)
        ps_buf_add(out, "", 0);
    *from = m.from;
    *to = m.to;
    return 0;
}

int norm_query(const char *s, size_t n, ps_buf *out, char *err)
{
    ps_buf tmp;
    ps_buf_init(&tmp);
    if (norm_fold(s, n, &tmp, err) < 0) {
        ps_buf_free(&tmp);
        return -1;
    }
    norm_squeeze(tmp.data ? tmp.data : "", tmp.len, out);
    ps_buf_free(&tmp);
    if (!out->data)
        ps_buf_add(out, "", 0);
    return 0;
}
