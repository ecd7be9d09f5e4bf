/*
 * fcount.h: facet counts over many passages, by bits.
 *
 * The facet index gives each passage a row of term numbers, and counting
 * a set of passages reads the row of each (xap_facets_rows).  A few dozen
 * terms (the province, the sectors, the years, the document types) are in
 * most rows, and for tens of thousands of passages the count is mostly
 * those, one scattered increment at a time.  Here each such dense term is
 * a set of bits over the docids, counted against the passages' bits a
 * word at a time, and the rows keep only the other, rare terms.  Below
 * some thousands of passages the rows alone are cheaper
 * (fcount_worth()).
 *
 * An fcount is immutable once built and may be shared by threads.
 */
#ifndef PS_FCOUNT_H
#define PS_FCOUNT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fcount fcount;

/* From the rows of the facet index: docid d's terms are vals[off[d] ..
 * off[d + 1]) (width bytes each) for d + 1 < noff; nterms terms. */
fcount *fcount_build(const uint32_t *off, const void *vals, unsigned width,
                     size_t noff, size_t nterms);
void fcount_free(fcount *f);
/* 1 when counting n passages is cheaper here than by their rows. */
int fcount_worth(const fcount *f, size_t n);
/* counts[t] += how many of ids[0..n) (ascending docids) have term t: the
 * share of part k of nparts (parts may run at once, each into counts of
 * its own; their sum is the count).  bits: fcount_bits() of the same
 * ids. */
void fcount_count(const fcount *f, const uint64_t *bits, const unsigned *ids,
                  size_t n, size_t k, size_t nparts, unsigned *counts);
/* Counts bits a vector at a time when on and the processor can (the
 * default); returns whether it does.  For tests. */
int fcount_vectors(fcount *f, int on);
/* The bits of ids[0..n) (caller frees). */
uint64_t *fcount_bits(const fcount *f, const unsigned *ids, size_t n);

#endif
