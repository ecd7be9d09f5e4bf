/*
 * grams.h: the character index that makes quoted search exact.
 *
 * Every passage's text (normalized, as stored) is indexed as
 *   - character bigrams with the positions where they start, and
 *   - single characters with their counts (no positions),
 * kept in Xapian metadata next to the passages (see schema.h for the
 * keys), written in segments: one per commit batch, holding one chunk
 * per gram of the batch and a dictionary of its grams.  Segments that
 * come next to each other are merged into one (gram_plan(), gram_merge():
 * small neighbours as they reach each other's size, full ones when their
 * number passes a budget that grows with the log of the shard, and a
 * half-deleted segment rewritten alone),
 * so a gram's chunks stay few however many batches were ever committed,
 * and no merge costs more than the segments it merges.  A string of n >= 2 characters
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

/* A segment: the passages first..last (docids of one shard, every one
 * of them written by the segment's batches), how many of them its chunks
 * hold, and its merge level (0: one batch; one more only when two or
 * more segments of the highest level merge: a segment that takes in
 * smaller ones keeps its level, so --optimize run daily does not raise
 * it).  Levels up to GRAM_MAX_LEVEL read back; more is damage.
 *
 * seg_first says how its chunks are keyed.  1 (format 9 on): prefix, BE32
 * segment, length byte, gram, so a segment's chunks lie together, a new
 * one is written after the others, and a merge rewrites only the blocks
 * of the segments it merges.  0 (formats 5 to 8): prefix, length byte,
 * gram, BE32 segment: every commit inserted a chunk next to each gram's
 * older ones, rewriting nearly every block of the character index (300
 * MB written to add 10 MB of text to 200 MB).  A shard a writer upgrades
 * keeps its old segments as they are until they are merged.
 *
 * key: the number its bigram and character keys carry.  A batch's segment
 * carries its first passage; a merged one its last, so its chunks go
 * after those of the segments it replaces, written in order into blocks
 * of their own (a merge that rewrote the first segment's keys in place
 * split that segment's blocks, and left them half full).  No other
 * segment's passages lie in [first, last], so the number is the
 * segment's alone.  Passage lengths and the dictionary are keyed by first.
 * Segments keyed the old way: key is first. */
#define GRAM_MAX_LEVEL 65535
typedef struct gram_seg {
    unsigned first, last;
    unsigned passages;
    unsigned level;
    unsigned seg_first;
    unsigned key;
} gram_seg;

/* The key of seg's chunk of a group (prefix, length byte and gram; or
 * META_LENGTH alone) into out (room for gn + 4 bytes); returns its
 * length. */
size_t gram_chunk_key(const char *group, size_t gn, const gram_seg *seg,
                      char *out);

/* Stores one metadata entry (an empty value deletes the key); returns
 * nonzero to stop. */
typedef int (*gram_put)(void *ctx, const char *key, size_t klen,
                        const char *val, size_t vlen);
/* Writes every chunk of the batch, its passage lengths and its dictionary
 * through put as a new segment (*seg; passages 0 when the batch was
 * empty), then empties the batch.  Returns 0, or the first nonzero value
 * put returned. */
int gram_batch_flush(gram_batch *b, gram_put put, void *ctx, gram_seg *seg);

/* The segment list, as stored under META_SEGMENTS. */
void gram_segs_encode(const gram_seg *segs, size_t n, ps_buf *out);
int gram_segs_decode(const char *v, size_t n, gram_seg **segs, size_t *nsegs);
/* Passages of seg listed as deleted in del[0..ndel). */
size_t gram_seg_deleted(const gram_seg *seg, const unsigned (*del)[2],
                        size_t ndel);

/* The merge policy: the next merge to do on segs[0..n) (in docid order),
 * as a count of segments from *start; 0 when there is none.  Afterwards
 * no segment is half deleted, no small segment (fewer than GRAM_BIG
 * passages: a commit batch of a bulk run has more) is followed by a small
 * one of at least half its size, and a shard of N
 * passages has at most GRAM_BUDGET_BASE + GRAM_BUDGET_STEP *
 * ceil(log_K(N / GRAM_BIG + 1)) segments.  So daily additions of any
 * size end as segments like a bulk run's, each passage rewritten
 * O(log N) times. */
#define GRAM_MERGE_K 4
#define GRAM_BIG 16384
#define GRAM_BUDGET_BASE 8
#define GRAM_BUDGET_STEP 8
size_t gram_plan(const gram_seg *segs, size_t n, const unsigned (*del)[2],
                 size_t ndel, size_t *start);

/* Reads one metadata value into out (out->len 0 when the key is not
 * set); 0, or -1 with err set. */
typedef int (*gram_get)(void *ctx, const char *key, size_t klen, ps_buf *out,
                        char *err);
/* Merges the adjacent segments segs[0..n) into one (*out): each gram's
 * chunks concatenated in docid order, the passages in the sorted ranges
 * del[0..ndel) left out, the old chunks and dictionaries replaced.  With
 * n == 1 the segment is rewritten without its deleted passages.  The
 * caller then lists *out instead of segs (none when out->passages is 0)
 * and drops the merged range from its deleted list.  0, or -1 with err. */
int gram_merge(gram_get get, gram_put put, void *ctx, const gram_seg *segs,
               size_t n, const unsigned (*del)[2], size_t ndel,
               gram_seg *out, char *err);

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

/* Where a shard's chunks are read: fetch, and the shard's segments in
 * docid order.  Each gram is fetched segment by segment, with the key of
 * its chunk in that segment (a prefix no other key has, so fetch may look
 * it up exactly).  by_prefix: a format-4 shard (no segment list), whose
 * chunks are fetched at once with the prefix of the gram. */
typedef struct gram_src {
    gram_fetch fetch;
    void *ctx;
    const gram_seg *segs;
    size_t nsegs;
    int by_prefix;
} gram_src;

/* Finds every passage containing needle[0..n) (normalized, non-empty)
 * among the chunks src holds.  Passages whose docid lies in one of the
 * sorted, disjoint ranges del[0..ndel) (first, last inclusive) are left
 * out: they were deleted after their chunk was written. */
int gram_match(const char *needle, size_t n, const gram_src *src,
               const unsigned (*del)[2], size_t ndel, gram_hits *out,
               char *err);
/* Passages to keep, as bits: docid d is kept when bit b = (d - 1) *
 * stride + first is set (bit b % 64 of bits[b / 64], b < nbits); at most
 * n are.  (A database of s shards numbers shard k's docid d (d - 1) * s +
 * k + 1: one set of bits, over the database's docids, serves every
 * shard.) */
typedef struct gram_keep {
    const uint64_t *bits;
    size_t nbits;
    unsigned stride, first;
    size_t n;
} gram_keep;

/* The same, keeping only the passages of keep (NULL: all), for a needle
 * of one or two characters (the passages are listed as they are read);
 * *df counts every passage that contains it, kept or not, for its
 * weight.  A longer needle is matched in full (keep is not used) and *df
 * is out->n. */
int gram_match_in(const char *needle, size_t n, const gram_src *src,
                  const unsigned (*del)[2], size_t ndel, const gram_keep *keep,
                  gram_hits *out, size_t *df, char *err);

/* Loads the passage lengths (characters) into *len, indexed by docid,
 * *nlen entries (caller frees).  *live (when not NULL) counts the
 * passages listed that are not in the deleted ranges del[0..ndel): the
 * live passages of the shard, to compare with the database's count.  A
 * passage listed twice, or passage 0, is damage (-1).  hint: the last
 * docid + 1 when known (0: not known), to allocate once; a passage at or
 * beyond it is damage too. */
int gram_lengths(gram_fetch fetch, void *fctx, const unsigned (*del)[2],
                 size_t ndel, size_t hint, uint32_t **len, size_t *nlen,
                 size_t *live, char *err);
/* Calls cb(cbctx, value, n) for every metadata entry whose key starts
 * with prefix, in key order; 0, or -1 with err set. */
typedef int (*gram_scan)(void *ctx, const char *prefix, size_t plen,
                         void (*cb)(void *cbctx, const char *v, size_t n),
                         void *cbctx, char *err);
/* gram_lengths() reading each chunk where scan finds it, without first
 * copying them all into one buffer; *sum: the live passages' lengths
 * added up, *nsum: how many of them are not 0. */
int gram_lengths_scan(gram_scan scan, void *sctx, const unsigned (*del)[2],
                      size_t ndel, size_t hint, uint32_t **len, size_t *nlen,
                      size_t *live, uint64_t *sum, size_t *nsum, char *err);

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
/* Removes [first, last] from the sorted ranges *r. */
void gram_ranges_drop(unsigned (**r)[2], size_t *nr, unsigned first,
                      unsigned last);

/* The normalized text of passage docid into out, *live 0 when it is not
 * stored; 0, or -1 with err. */
typedef int (*gram_text)(void *ctx, unsigned docid, ps_buf *out, int *live,
                         char *err);
/* Rebuilds the character index of seg from its passages' text (those not
 * in del), step passages at a time, and compares it with the stored
 * chunks: every gram of the text must have its chunk, listed in the
 * segment's dictionary, with exactly the stored passages and positions
 * or counts (deleted ones aside), and the stored lengths.  Differences are
 * printed (the first few) and counted in *problems.  -1 with err when
 * something cannot be read at all. */
int gram_verify(gram_get get, void *ctx, const gram_seg *seg,
                gram_text text, void *tctx, const unsigned (*del)[2],
                size_t ndel, size_t step, size_t *problems, char *err);

/* The segment a chunk's key names, read as keyed with seg_first (see
 * gram_seg): 0 when the key has that shape, -1 when not.  Keys other than
 * bigrams' and characters' have neither shape. */
int gram_key_segment(const char *key, size_t klen, int seg_first,
                     unsigned *seg);

/* Checks one stored chunk of the character index (key, keyed with
 * seg_first, and value as written): every varint decodes, passages
 * ascend, none before mindoc (0: the number the key carries) or beyond
 * maxdoc, positions and counts well formed.  0, or -1 with err saying
 * what is wrong. */
int gram_check_chunk(const char *key, size_t klen, int seg_first,
                     const char *val, size_t vlen, unsigned mindoc,
                     unsigned maxdoc, char *err);

#endif
