/*
 * dset.c: merges of sorted document-id sets (see dset.h).
 */
#include "dset.h"
#include "util.h"

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

/* mode: 0 AND, 1 FILTER. */
static void intersect(const dset *a, const dset *b, dset *out, int mode)
{
    reserve(out, a->n < b->n ? a->n : b->n);
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        if (a->ids[i] < b->ids[j]) {
            i++;
        } else if (a->ids[i] > b->ids[j]) {
            j++;
        } else {
            push(out, a->ids[i], mode ? a->w[i] : a->w[i] + b->w[j]);
            i++;
            j++;
        }
    }
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
