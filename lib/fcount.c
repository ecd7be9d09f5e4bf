/*
 * fcount.c: see fcount.h.
 */
#include "fcount.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A term in more than one row in DENSE_DIV is counted by bits. */
#define DENSE_DIV 32

struct fcount {
    size_t nterms, noff, nwords;
    size_t ndense;
    uint32_t *dense;          /* the dense terms' numbers */
    uint64_t *bits;           /* dense term j: bits[j * nwords ..] */
    uint32_t *soff;           /* rows of the other terms, as off/vals */
    uint32_t *svals;
    double dense_per_row;     /* dense terms in a row, on average */
    int vec;                  /* the processor counts bits in vectors */
};

/* The bits two sets share, words [lo, hi): with the popcnt instruction
 * where the processor has it (chosen when the program loads). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static uint64_t and_count_words(const uint64_t *a, const uint64_t *b,
                                size_t lo, size_t hi)
{
    uint64_t c = 0;
    for (size_t w = lo; w < hi; w++)
        c += (uint64_t)__builtin_popcountll(a[w] & b[w]);
    return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_VPOPCNT 1
/* Eight words at a time where the processor counts the bits of each
 * lane of a vector (AVX-512 VPOPCNTDQ). */
__attribute__((target("avx512f,avx512vpopcntdq")))
static uint64_t and_count_vec(const uint64_t *a, const uint64_t *b, size_t lo,
                              size_t hi)
{
    __m512i acc = _mm512_setzero_si512();
    size_t w = lo;
    for (; w + 8 <= hi; w += 8) {
        __m512i x = _mm512_loadu_si512((const void *)(a + w));
        __m512i y = _mm512_loadu_si512((const void *)(b + w));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
    }
    uint64_t c = (uint64_t)_mm512_reduce_add_epi64(acc);
    for (; w < hi; w++)
        c += (uint64_t)__builtin_popcountll(a[w] & b[w]);
    return c;
}

#endif

static int vector_popcount(void)
{
#ifdef HAVE_VPOPCNT
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vpopcntdq") != 0;
#else
    return 0;
#endif
}

static uint64_t and_count(const fcount *f, const uint64_t *a,
                          const uint64_t *b, size_t lo, size_t hi)
{
#ifdef HAVE_VPOPCNT
    if (f->vec)
        return and_count_vec(a, b, lo, hi);
#endif
    (void)f;
    return and_count_words(a, b, lo, hi);
}

static uint32_t val_at(const void *vals, unsigned width, size_t i)
{
    if (width == 1)
        return ((const uint8_t *)vals)[i];
    if (width == 2) {
        uint16_t v;
        memcpy(&v, (const char *)vals + 2 * i, 2);
        return v;
    }
    uint32_t v;
    memcpy(&v, (const char *)vals + 4 * i, 4);
    return v;
}

fcount *fcount_build(const uint32_t *off, const void *vals, unsigned width,
                     size_t noff, size_t nterms)
{
    fcount *f = ps_xcalloc(1, sizeof *f);
    f->vec = vector_popcount();
    f->nterms = nterms;
    f->noff = noff;
    f->nwords = noff / 64 + 1;
    size_t rows = noff ? noff - 1 : 0;
    size_t nvals = rows ? off[rows] : 0;
    uint32_t *df = ps_xcalloc(nterms ? nterms : 1, sizeof(uint32_t));
    for (size_t i = 0; i < nvals; i++) {
        uint32_t t = val_at(vals, width, i);
        if (t < nterms)
            df[t]++;
    }
    /* dense: term -> its number among the dense ones + 1, or 0 */
    uint32_t *slot = ps_xcalloc(nterms ? nterms : 1, sizeof(uint32_t));
    size_t live = 0;
    for (size_t d = 0; d < rows; d++)
        live += off[d + 1] > off[d];
    f->dense = ps_xmalloc((nterms ? nterms : 1) * sizeof(uint32_t));
    size_t indense = 0;
    for (size_t t = 0; t < nterms; t++)
        if (live && (size_t)df[t] * DENSE_DIV > live) {
            f->dense[f->ndense++] = (uint32_t)t;
            slot[t] = (uint32_t)f->ndense;
            indense += df[t];
        }
    f->dense_per_row = live ? (double)indense / (double)live : 0;
    f->bits = ps_big_calloc(f->ndense * f->nwords + 1, sizeof(uint64_t));
    f->soff = ps_big_alloc((rows + 1) * sizeof(uint32_t));
    f->svals = ps_big_alloc((nvals - indense + 1) * sizeof(uint32_t));
    size_t at = 0;
    f->soff[0] = 0;
    for (size_t d = 0; d < rows; d++) {
        for (uint32_t i = off[d]; i < off[d + 1]; i++) {
            uint32_t t = val_at(vals, width, i);
            if (t < nterms && slot[t])
                f->bits[(slot[t] - 1) * f->nwords + d / 64] |=
                    (uint64_t)1 << (d % 64);
            else if (t < nterms)
                f->svals[at++] = t;
        }
        f->soff[d + 1] = (uint32_t)at;
    }
    free(df);
    free(slot);
    return f;
}

void fcount_free(fcount *f)
{
    if (!f)
        return;
    free(f->dense);
    ps_big_free(f->bits);
    ps_big_free(f->soff);
    ps_big_free(f->svals);
    free(f);
}

int fcount_worth(const fcount *f, size_t n)
{
    /* An increment read from a scattered row costs about what four
     * words of bits do (measured: see README). */
    return f && f->ndense &&
           (double)n * f->dense_per_row * 4.0 > (double)(f->ndense * f->nwords);
}

int fcount_vectors(fcount *f, int on)
{
    f->vec = on && vector_popcount();
    return f->vec;
}

uint64_t *fcount_bits(const fcount *f, const unsigned *ids, size_t n)
{
    uint64_t *b = ps_xcalloc(f->nwords, sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        if ((size_t)ids[i] + 1 < f->noff)
            b[ids[i] / 64] |= (uint64_t)1 << (ids[i] % 64);
    return b;
}

void fcount_count(const fcount *f, const uint64_t *bits, const unsigned *ids,
                  size_t n, size_t k, size_t nparts, unsigned *counts)
{
    if (!n || !nparts)
        return;
    /* The rare terms of this part's passages. */
    size_t lo = n * k / nparts, hi = n * (k + 1) / nparts;
    const uint32_t *soff = f->soff, *svals = f->svals;
    /* Rows far apart are cache misses: each fetched some passages ahead
     * (its place, then its terms). */
    for (size_t x = lo; x < hi; x++) {
        if (x + 16 < hi && (size_t)ids[x + 16] + 1 < f->noff)
            __builtin_prefetch(&soff[ids[x + 16]]);
        if (x + 8 < hi && (size_t)ids[x + 8] + 1 < f->noff)
            __builtin_prefetch(&svals[soff[ids[x + 8]]]);
        unsigned d = ids[x];
        if ((size_t)d + 1 >= f->noff)
            continue;
        for (uint32_t t = soff[d]; t < soff[d + 1]; t++)
            counts[svals[t]]++;
    }
    /* This part's dense terms, over the words the passages span. */
    size_t w0 = ids[0] / 64, w1 = ids[n - 1] / 64 + 1;
    if (w1 > f->nwords)
        w1 = f->nwords;
    size_t j0 = f->ndense * k / nparts, j1 = f->ndense * (k + 1) / nparts;
    for (size_t j = j0; j < j1 && w0 < w1; j++)
        counts[f->dense[j]] +=
            (unsigned)and_count(f, bits, f->bits + j * f->nwords, w0, w1);
}
