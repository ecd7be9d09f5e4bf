/*
 * dset.h: sets of document ids with a weight each, kept sorted by id, and
 * the merges a query needs (AND, OR, AND NOT, FILTER).  Weights add up the
 * way Xapian adds the weights of subqueries, so a query evaluated here
 * ranks like the same query run by Xapian.
 */
#ifndef PS_DSET_H
#define PS_DSET_H

#include <stddef.h>
#include <stdint.h>

typedef struct dset {
    unsigned *ids;
    double *w;
    size_t n;
} dset;

void dset_free(dset *d);
/* Copies src into *out. */
void dset_copy(const dset *src, dset *out);
/* *out = a AND b (weights added). */
void dset_and(const dset *a, const dset *b, dset *out);
/* *out = a OR b (weights of both added where both match). */
void dset_or(const dset *a, const dset *b, dset *out);
/* *out = a AND NOT b (a's weights). */
void dset_andnot(const dset *a, const dset *b, dset *out);
/* *out = a FILTER b: a's documents also in b, a's weights. */
void dset_filter(const dset *a, const dset *b, dset *out);

/* A set's ids as bits, with each word's rank (the ids in the words
 * before): whether an id is in it, and its place, in constant time. */
typedef struct dset_bits {
    uint64_t *bits;
    uint32_t *rank;
    size_t words;
} dset_bits;

void dset_bits_build(const dset *a, dset_bits *out);
void dset_bits_free(dset_bits *b);
/* *out = a FILTER keep, ab being a's bits: keep's ids also in a, with
 * a's weights, in time of keep's size (not a's). */
void dset_filter_by(const dset *a, const dset_bits *ab, const dset *keep,
                    dset *out);

#endif
