/*
 * vrange.c: numeric mentions sorted by unit and value (see vrange.h).
 *
 * One array of (unit number, value, passage) sorted in that order, and
 * for each unit number the span of the array it owns.  The units are
 * few (hundreds), the mentions many (millions at 1 GB): 16 bytes each.
 */
#include "vrange.h"

#include "strset.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t key;        /* the 8 value bytes, big-endian */
    uint32_t unit;
    uint32_t doc;
} entry;

struct vrange {
    entry *e;
    size_t n;
    strset *units;       /* unit -> its number */
    size_t *start;       /* unit number -> first entry; nunits + 1 */
    size_t nunits;
    unsigned maxdoc;     /* the highest passage with a mention */
};

static uint64_t be64(const unsigned char *p)
{
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = k << 8 | p[i];
    return k;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The unit of a mention of the stored shape, else NULL. */
static const unsigned char *unit_of(const unsigned char *v, size_t l,
                                    size_t *ulen)
{
    if (l < 9 || v[l - 9] != '\0')
        return NULL;
    *ulen = l - 9;
    return v;
}

/* Sorts the entries by unit and value (least significant digit radix:
 * the value's 64 bits in digits of 11, then the unit; each pass stable,
 * a pass whose digit is the same in every entry skipped; the digits'
 * counts all taken in one read of the entries) and sets r->start.
 * Bytes as digits took 16 reads of the entries, this 9 at most. */
enum { DIGIT_BITS = 11, DIGITS = 6, DIGIT_VALUES = 1 << DIGIT_BITS };

static void sort_entries(vrange *r)
{
    size_t n = r->n;
    entry *a = r->e, *t = ps_big_alloc((n ? n : 1) * sizeof(entry));
    size_t *cnt = ps_xcalloc((size_t)DIGITS * DIGIT_VALUES, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i].key;
        for (int d = 0; d < DIGITS; d++)
            cnt[d * DIGIT_VALUES + (k >> (d * DIGIT_BITS) & (DIGIT_VALUES - 1))]++;
    }
    for (int d = 0; d < DIGITS; d++) {
        int sh = d * DIGIT_BITS;
        size_t *c = cnt + (size_t)d * DIGIT_VALUES;
        if (n == 0 || c[a[0].key >> sh & (DIGIT_VALUES - 1)] == n)
            continue;
        for (size_t v = 0, sum = 0; v < DIGIT_VALUES; v++) {
            size_t k = c[v];
            c[v] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++)
            t[c[a[i].key >> sh & (DIGIT_VALUES - 1)]++] = a[i];
        entry *x = a;
        a = t;
        t = x;
    }
    free(cnt);
    r->start = ps_xcalloc(r->nunits + 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        r->start[a[i].unit + 1]++;
    for (size_t u = 0; u < r->nunits; u++)
        r->start[u + 1] += r->start[u];
    size_t *fill = ps_xmalloc((r->nunits + 1) * sizeof(size_t));
    memcpy(fill, r->start, (r->nunits + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        t[fill[a[i].unit]++] = a[i];
    free(fill);
    ps_big_free(a);
    r->e = t;
}

vrange *vrange_build(const unsigned *docs, size_t n, vrange_values_fn values,
                     const void *ctx)
{
    vrange *r = ps_xcalloc(1, sizeof *r);
    r->units = strset_create();
    size_t cap = 0;             /* counted first: one allocation */
    for (size_t i = 0; i < n; i++) {
        const unsigned char *v;
        size_t len = values(ctx, docs[i], &v);
        for (size_t k = 0; k < len; k += 1 + v[k])
            cap++;
    }
    r->e = ps_big_alloc((cap ? cap : 1) * sizeof(entry));
    const unsigned char *lastu = NULL;      /* the unit seen last */
    size_t lastl = 0;
    int lastid = -1;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *v;
        size_t len = values(ctx, docs[i], &v);
        for (size_t k = 0; k < len && k + 1 + v[k] <= len && r->n < cap;
             k += 1 + v[k]) {
            size_t ul;
            const unsigned char *u = unit_of(v + k + 1, v[k], &ul);
            if (!u)
                continue;
            int id = lastid;
            if (!lastu || ul != lastl || memcmp(u, lastu, ul) != 0) {
                id = strset_get(r->units, (const char *)u, ul);
                if (id < 0) {
                    id = (int)r->nunits++;
                    strset_put(r->units, (const char *)u, ul, id);
                }
                lastu = u, lastl = ul, lastid = id;
            }
            r->e[r->n++] = (entry){be64(u + ul + 1), (uint32_t)id, docs[i]};
            if (docs[i] > r->maxdoc)
                r->maxdoc = docs[i];
        }
    }
    sort_entries(r);
    return r;
}

void vrange_free(vrange *r)
{
    if (!r)
        return;
    ps_big_free(r->e);
    free(r->start);
    strset_destroy(r->units);
    free(r);
}

size_t vrange_size(const vrange *r)
{
    return r ? r->n : 0;
}

/* The first entry in [a, b) whose key is >= k (above: > k). */
static size_t bound(const entry *e, size_t a, size_t b, uint64_t k, int above)
{
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (e[m].key < k || (above && e[m].key == k))
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* The entries [*a, *b) of the mentions in [lo, hi]; 0 when none. */
static int span(const vrange *r, const char *lo, const char *hi, size_t len,
                size_t *a, size_t *b)
{
    size_t ul, hl;
    const unsigned char *u = unit_of((const unsigned char *)lo, len, &ul);
    if (!r || !u || !unit_of((const unsigned char *)hi, len, &hl) ||
        memcmp(lo, hi, ul) != 0)
        return 0;
    int id = strset_get(r->units, (const char *)u, ul);
    if (id < 0)
        return 0;
    uint64_t kl = be64(u + ul + 1), kh = be64((const unsigned char *)hi + ul + 1);
    if (kl > kh)
        return 0;
    *a = bound(r->e, r->start[id], r->start[id + 1], kl, 0);
    *b = bound(r->e, *a, r->start[id + 1], kh, 1);
    return *a < *b;
}

size_t vrange_count(const vrange *r, const char *lo, const char *hi,
                    size_t len)
{
    size_t a, b;
    return span(r, lo, hi, len, &a, &b) ? b - a : 0;
}

size_t vrange_find(const vrange *r, const char *lo, const char *hi,
                   size_t len, unsigned **ids)
{
    *ids = NULL;
    size_t a, b;
    if (!span(r, lo, hi, len, &a, &b))
        return 0;
    unsigned *out = ps_xmalloc((b - a) * sizeof(unsigned));
    for (size_t i = a; i < b; i++)
        out[i - a] = r->e[i].doc;
    qsort(out, b - a, sizeof(unsigned), cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < b - a; i++)
        if (!m || out[m - 1] != out[i])
            out[m++] = out[i];
    *ids = out;
    return m;
}

void vrange_mark(const vrange *r, const char *lo, const char *hi, size_t len,
                 unsigned char *bits)
{
    size_t a, b;
    if (!span(r, lo, hi, len, &a, &b))
        return;
    for (size_t i = a; i < b; i++)
        bits[r->e[i].doc / 8] |= (unsigned char)(1u << r->e[i].doc % 8);
}

unsigned vrange_maxdoc(const vrange *r)
{
    return r ? r->maxdoc : 0;
}
