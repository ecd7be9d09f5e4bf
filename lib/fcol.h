/*
 * fcol.h: a shard's facet column (format 8): every passage's facet
 * members, as numbers in the shard's dictionary (fdict.h), in blocks of
 * FCOL_ROWS passages.
 *
 * Counting the facets of a one-off query's hits used to read each hit's
 * SLOT_FACETS value through the value stream, copy it and decode its
 * varints: 14 of the 34 ms of a one-off "发展" at 200 MB (187,000 hits).
 * A block is one metadata record (META_FCOL + BE32 block number), read
 * with one lookup and counted where it lies.
 *
 * Block b holds the rows of local docids b * FCOL_ROWS + 1 on, each row
 * the members of that passage's value in its order; a docid without a
 * passage (deleted, or never written) has an empty row.  The record:
 *
 *   byte 0      width of a member number: 1, 2 or 4 bytes
 *   byte 1      width of an offset: 2 or 4 bytes
 *   bytes 2-3   rows (little-endian, 1 to FCOL_ROWS)
 *   rows + 1 offsets into the members (little-endian; the first 0, never
 *               falling, the last the number of members)
 *   the members (little-endian)
 *
 * The shard's META_FCOLSTART is the docid its column starts at: 1 for a
 * shard written by format 8, one past the last passage for a shard a
 * format-8 writer upgraded (rows below it are empty and their values are
 * read).
 */
#ifndef PS_FCOL_H
#define PS_FCOL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define FCOL_ROWS 512

/* ---- writing ---- */

/* A block being filled (the writer's last one). */
typedef struct fcol_block {
    uint32_t block;               /* its number */
    uint32_t nrows;
    uint32_t off[FCOL_ROWS + 1];  /* row r: ids[off[r] .. off[r + 1]) */
    uint32_t *ids;
    size_t cap;
} fcol_block;

/* An empty block numbered block (b may hold an old one: it is reused). */
void fcol_block_start(fcol_block *b, uint32_t block);
void fcol_block_free(fcol_block *b);
/* The stored record rec[0..n) of block number block into b; -1 when it
 * is damaged (b is then empty). */
int fcol_block_load(fcol_block *b, uint32_t block, const char *rec, size_t n);
/* Sets the row of docid (in b's block) to ids[0..n): rows before it that
 * b lacks are added empty.  -1 when docid is not in b's block. */
int fcol_block_put(fcol_block *b, uint32_t docid, const uint32_t *ids,
                   size_t n);
/* Appends b as stored to out. */
void fcol_block_encode(const fcol_block *b, ps_buf *out);

/* The record key of block number block. */
void fcol_key(uint32_t block, char key[6]);
static inline uint32_t fcol_block_of(uint32_t docid)
{
    return (docid - 1) / FCOL_ROWS;
}

/* The member numbers of the coded facet value v[0..n) (fdict.h), in
 * order, into *ids (grown as needed; *cap its size); the dictionary is
 * not consulted.  Returns how many, or -1 when v is not a whole coded
 * value. */
long fcol_value_ids(const char *v, size_t n, uint32_t **ids, size_t *cap);

/* ---- reading ---- */

/* A stored record, read where it lies. */
typedef struct fcol_view {
    const unsigned char *off, *ids;
    unsigned iw, ow;
    uint32_t nrows, nids;
} fcol_view;

/* -1 when rec[0..n) is not a whole, well-formed record. */
int fcol_view_open(fcol_view *v, const char *rec, size_t n);
/* Row r's members (r < v->nrows): *n of them; see fcol_view_id(). */
void fcol_view_row(const fcol_view *v, uint32_t r, uint32_t *start,
                   uint32_t *n);
uint32_t fcol_view_id(const fcol_view *v, uint32_t i);
/* For each docid of docids[0..n) (ascending, all in the view's block
 * number block): counts[m]++ for each member m of its row.  -1 (counting
 * stopped) when a docid's row is past the record or a member is not
 * below nm. */
int fcol_count(const fcol_view *v, uint32_t block, const unsigned *docids,
               size_t n, unsigned *counts, uint32_t nm);

#endif
