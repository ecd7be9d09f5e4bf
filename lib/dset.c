/*
 * dset.c: merges of sorted document-id sets (see dset.h).
 */
#include "dset.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void dset_free(dset *d)
{
    free(d->ids);
    free(d->w);
    memset(d, 0, sizeof *d);
}

static void reserve(dset *d, size_t n)
{
    d->ids = ps_xmalloc((n ? n : 1) * sizeof(unsigned));
    d->w = ps_xmalloc((n ? n : 1) * sizeof(double));
    d->n = 0;
}

static void push(dset *d, unsigned id, double w)
{
    d->ids[d->n] = id;
    d->w[d->n] = w;
    d->n++;
}

void dset_copy(const dset *src, dset *out)
{
    reserve(out, src->n);
    if (src->n) {
        memcpy(out->ids, src->ids, src->n * sizeof(unsigned));
        memcpy(out->w, src->w, src->n * sizeof(double));
    }
    out->n = src->n;
}

static void bits_of(const dset *a, unsigned top, int ranked, dset_bits *out)
{
    out->words = (size_t)top / 64 + 1;
    out->bits = ps_xcalloc(out->words, sizeof(uint64_t));
    for (size_t j = 0; j < a->n && a->ids[j] <= top; j++)
        out->bits[a->ids[j] / 64] |= (uint64_t)1 << (a->ids[j] % 64);
    out->rank = NULL;
    if (ranked) {
        out->rank = ps_xmalloc(out->words * sizeof(uint32_t));
        uint32_t c = 0;
        for (size_t w = 0; w < out->words; w++) {
            out->rank[w] = c;
            c += (uint32_t)__builtin_popcountll(out->bits[w]);
        }
    }
}

void dset_bits_build(const dset *a, dset_bits *out)
{
    bits_of(a, a->n ? a->ids[a->n - 1] : 0, 1, out);
}

void dset_bits_free(dset_bits *b)
{
    free(b->bits);
    free(b->rank);
    memset(b, 0, sizeof *b);
}

/* x's ids also in y (yb: y's bits; ranks unless wmode is 1), ascending,
 * weighed x + y (wmode 0), x (1) or y (2): a bit tested for each of x's
 * ids.  For sets dense in their range (tens of thousands of passages in
 * a few hundred thousand) that beats walking both lists, whose every
 * step waits on the comparison before.  Each step writes its candidate
 * and keeps it when the bit is set: room for one more than can be kept. */
static void probe(const dset *x, const dset *y, const dset_bits *yb, dset *out,
                  int wmode)
{
    size_t nx = x->n, ny = y->n;
    reserve(out, (nx < ny ? nx : ny) + 1);
    unsigned *ids = out->ids;
    double *w = out->w;
    size_t k = 0;
    for (size_t i = 0; i < nx; i++) {
        unsigned id = x->ids[i];
        size_t at = id / 64;
        uint64_t word = at < yb->words ? yb->bits[at] : 0;
        unsigned in = (unsigned)(word >> (id % 64)) & 1;
        ids[k] = id;
        if (wmode == 1) {
            w[k] = x->w[i];
        } else {
            size_t r = at < yb->words ? yb->rank[at] + (size_t)__builtin_popcountll(
                           word & (((uint64_t)1 << (id % 64)) - 1)) : 0;
            double wy = ny ? y->w[r < ny ? r : ny - 1] : 0;
            w[k] = wmode == 2 ? wy : x->w[i] + wy;
        }
        k += in;
    }
    out->n = k;
}

void dset_filter_by(const dset *a, const dset_bits *ab, const dset *keep,
                    dset *out)
{
    probe(keep, a, ab, out, 2);
}

/* a AND / FILTER b by b's bits over the ids up to a's last; b's weight
 * of an id is found by its rank among b's bits. */
static void intersect_bits(const dset *a, const dset *b, dset *out, int mode)
{
    dset_bits bb;
    bits_of(b, a->ids[a->n - 1], mode == 0, &bb);
    probe(a, b, &bb, out, mode == 0 ? 0 : 1);
    dset_bits_free(&bb);
}

/* mode: 0 AND, 1 FILTER (a's weights).  Sets of like sizes are merged
 * without a branch on the comparison (each step writes a candidate and
 * keeps it when the ids are equal: at most min(a, b) are, so the write
 * stays within the room reserved); a set much larger than the other is
 * galloped through. */
static void intersect(const dset *a, const dset *b, dset *out, int mode)
{
    size_t na = a->n, nb = b->n;
    if (na && nb && na <= 16 * nb && nb <= 16 * na &&
        (size_t)a->ids[na - 1] / 64 * 2 < na + nb) {
        intersect_bits(a, b, out, mode);
        return;
    }
    reserve(out, na < nb ? na : nb);
    const unsigned *x = a->ids, *y = b->ids;
    size_t i = 0, j = 0, k = 0;
    if (na > 16 * nb || nb > 16 * na) {
        while (i < na && j < nb) {
            if (x[i] < y[j])
                i = ps_gallop(x, na, i, y[j]);
            else if (x[i] > y[j])
                j = ps_gallop(y, nb, j, x[i]);
            else {
                push(out, x[i], mode ? a->w[i] : a->w[i] + b->w[j]);
                i++;
                j++;
            }
        }
        return;
    }
    unsigned *ids = out->ids;
    double *w = out->w;
    while (i < na && j < nb) {
        unsigned u = x[i], v = y[j];
        ids[k] = u;
        w[k] = mode ? a->w[i] : a->w[i] + b->w[j];
        k += u == v;
        i += u <= v;
        j += v <= u;
    }
    out->n = k;
}

void dset_and(const dset *a, const dset *b, dset *out)
{
    intersect(a, b, out, 0);
}

void dset_filter(const dset *a, const dset *b, dset *out)
{
    intersect(a, b, out, 1);
}

void dset_or(const dset *a, const dset *b, dset *out)
{
    reserve(out, a->n + b->n);
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        if (j == b->n || (i < a->n && a->ids[i] < b->ids[j])) {
            push(out, a->ids[i], a->w[i]);
            i++;
        } else if (i == a->n || b->ids[j] < a->ids[i]) {
            push(out, b->ids[j], b->w[j]);
            j++;
        } else {
            push(out, a->ids[i], a->w[i] + b->w[j]);
            i++;
            j++;
        }
    }
}

void dset_andnot(const dset *a, const dset *b, dset *out)
{
    reserve(out, a->n);
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->ids[j] < a->ids[i])
            j++;
        if (j == b->n || b->ids[j] != a->ids[i])
            push(out, a->ids[i], a->w[i]);
    }
}
