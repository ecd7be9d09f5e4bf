/*
 * grams.h: the character index that makes quoted search exact.
 *
 * Every passage's text (normalized, as stored) is indexed as
 *   - character bigrams with the positions where they start, and
 *   - single characters with their counts (no positions),
 * kept in Xapian metadata next to the passages, one chunk per gram per
 * commit batch (see schema.h for the keys).  A string of n >= 2 characters
 * is contained in a passage exactly when its non-overlapping cover of
 * bigrams (offsets 0, 2, 4, ... and n-2) occurs at the right distances;
 * a single character when its unigram list has the passage.  No false
 * hits, no misses, whatever the word segmenter did.
 *
 * Why not Xapian terms with positions: its inverter costs microseconds per
 * (term, document) pair, one pair per character of text here.  Appending
 * a posting to a byte buffer costs nanoseconds, and a batch is written as
 * one metadata entry per gram, atomically with the passages it describes.
 *
 * Encoding of a chunk (all numbers LEB128 varints):
 *   bigram:  per passage: docid - previous docid (the first: docid),
 *            positions as p0 + 1, then gaps (>= 1), then 0.
 *   unigram: per passage: docid delta, count.
 *   lengths: per passage: docid delta, length in characters.
 */
#ifndef PS_GRAMS_H
#define PS_GRAMS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* ---- writing ---- */

typedef struct gram_batch gram_batch;

gram_batch *gram_batch_create(void);
void gram_batch_destroy(gram_batch *b);
/* Indexes text[0..len) (valid UTF-8) as the passage docid.  Docids must
 * increase from one call to the next within a batch. */
void gram_batch_add(gram_batch *b, unsigned docid, const char *text,
                    size_t len);
/* Bytes held by the batch (to decide when to flush). */
size_t gram_batch_bytes(const gram_batch *b);
size_t gram_batch_passages(const gram_batch *b);

/* Stores one metadata entry; returns nonzero to stop. */
typedef int (*gram_put)(void *ctx, const char *key, size_t klen,
                        const char *val, size_t vlen);
/* Writes every chunk of the batch through put, then empties the batch.
 * Returns 0, or the first nonzero value put returned. */
int gram_batch_flush(gram_batch *b, gram_put put, void *ctx);

/* Calls cb with every metadata entry whose key starts with prefix, in key
 * order; cb may change metadata.  Returns 0, or -1 with err set. */
typedef int (*gram_scan)(void *ctx, const char *prefix, size_t plen,
                         int (*cb)(void *cctx, const char *key, size_t klen,
                                   const char *val, size_t vlen),
                         void *cctx, char *err);
/* Rewrites the character index without the passages in the sorted ranges
 * del[0..ndel), each gram's chunks merged into one (put with an empty
 * value deletes a key).  Afterwards the deleted list can be emptied. */
int gram_purge(gram_scan scan, gram_put put, void *ctx,
               const unsigned (*del)[2], size_t ndel, char *err);

/* ---- reading ---- */

/* Appends the values of every metadata entry whose key starts with
 * prefix, in key order, to out, each as a 4-byte length (host order) and
 * the bytes.  Returns 0, or -1 with err set. */
typedef int (*gram_fetch)(void *ctx, const char *prefix, size_t plen,
                          ps_buf *out, char *err);

/* Passages containing a string, in docid order, with the number of times
 * they contain it. */
typedef struct gram_hits {
    unsigned *docs;
    unsigned *tf;
    size_t n, cap;
} gram_hits;

void gram_hits_free(gram_hits *h);

/* Finds every passage containing needle[0..n) (normalized, non-empty)
 * among the chunks fetch returns.  Passages whose docid lies in one of
 * the sorted, disjoint ranges del[0..ndel) (first, last inclusive) are
 * left out: they were deleted after their chunk was written. */
int gram_match(const char *needle, size_t n, gram_fetch fetch, void *fctx,
               const unsigned (*del)[2], size_t ndel, gram_hits *out,
               char *err);

/* Loads the passage lengths (characters) into *len, indexed by docid,
 * *nlen entries (caller frees). */
int gram_lengths(gram_fetch fetch, void *fctx, uint32_t **len, size_t *nlen,
                 char *err);

/* Deleted docid ranges, as stored under META_DELETED: encode appends
 * ranges to out; decode parses (caller frees *ranges). */
void gram_ranges_encode(const unsigned (*r)[2], size_t n, ps_buf *out);
int gram_ranges_decode(const char *s, size_t n, unsigned (**ranges)[2],
                       size_t *nranges);
/* 1 when doc lies in one of the sorted ranges r[0..n); *at is a cursor
 * (start at 0) for ascending docs. */
int gram_ranges_has(const unsigned (*r)[2], size_t n, size_t *at,
                    unsigned doc);
/* Adds docids ids[0..n) (any order) to the sorted, merged ranges *r. */
void gram_ranges_add(unsigned (**r)[2], size_t *nr, const unsigned *ids,
                     size_t n);

/* Checks one stored chunk of the character index (key and value as
 * written by gram_batch_flush): every varint decodes, passages ascend,
 * the key's first passage is the chunk's, none beyond maxdoc, positions
 * and counts well formed.  0, or -1 with err saying what is wrong. */
int gram_check_chunk(const char *key, size_t klen, const char *val,
                     size_t vlen, unsigned maxdoc, char *err);

#endif
