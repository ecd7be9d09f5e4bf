/*
 * fcol.c: a shard's facet column (see fcol.h).
 */
#include "fcol.h"
#include "fdict.h"
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#define HEADER 4

static uint32_t get_le(const unsigned char *p, unsigned w)
{
    switch (w) {
    case 1:
        return p[0];
    case 2:
        return (uint32_t)p[0] | (uint32_t)p[1] << 8;
    default:
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
    }
}

static void put_le(ps_buf *out, uint32_t x, unsigned w)
{
    char b[4] = {(char)x, (char)(x >> 8), (char)(x >> 16), (char)(x >> 24)};
    ps_buf_add(out, b, w);
}

void fcol_key(uint32_t block, char key[6])
{
    ps_be32_key(META_FCOL, block, key);
}

void fcol_block_start(fcol_block *b, uint32_t block)
{
    b->block = block;
    b->nrows = 0;
    b->off[0] = 0;
}

void fcol_block_free(fcol_block *b)
{
    free(b->ids);
    b->ids = NULL;
    b->cap = 0;
}

static void reserve(fcol_block *b, size_t n)
{
    if (n <= b->cap && b->ids)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < n)
        cap *= 2;
    b->ids = ps_xrealloc(b->ids, cap * sizeof(uint32_t));
    b->cap = cap;
}

int fcol_block_load(fcol_block *b, uint32_t block, const char *rec, size_t n)
{
    fcol_view v;
    fcol_block_start(b, block);
    if (fcol_view_open(&v, rec, n) < 0)
        return -1;
    reserve(b, v.nids);
    for (uint32_t i = 0; i < v.nids; i++)
        b->ids[i] = fcol_view_id(&v, i);
    for (uint32_t r = 0; r <= v.nrows; r++)
        b->off[r] = get_le(v.off + (size_t)r * v.ow, v.ow);
    b->nrows = v.nrows;
    return 0;
}

int fcol_block_put(fcol_block *b, uint32_t docid, const uint32_t *ids,
                   size_t n)
{
    if (docid == 0 || fcol_block_of(docid) != b->block)
        return -1;
    uint32_t r = (docid - 1) % FCOL_ROWS;
    while (b->nrows < r) {                  /* empty rows before it */
        b->off[b->nrows + 1] = b->off[b->nrows];
        b->nrows++;
    }
    if (r < b->nrows) {                     /* a row already there */
        uint32_t at = b->off[r], old = b->off[r + 1] - at,
                 tail = b->off[b->nrows] - b->off[r + 1];
        reserve(b, (size_t)b->off[b->nrows] - old + n);
        memmove(b->ids + at + n, b->ids + at + old, tail * sizeof(uint32_t));
        if (n)
            memcpy(b->ids + at, ids, n * sizeof(uint32_t));
        for (uint32_t k = r + 1; k <= b->nrows; k++)
            b->off[k] = b->off[k] - old + (uint32_t)n;
        return 0;
    }
    reserve(b, (size_t)b->off[r] + n);
    if (n)
        memcpy(b->ids + b->off[r], ids, n * sizeof(uint32_t));
    b->off[r + 1] = b->off[r] + (uint32_t)n;
    b->nrows = r + 1;
    return 0;
}

void fcol_block_encode(const fcol_block *b, ps_buf *out)
{
    uint32_t nids = b->off[b->nrows], max = 0;
    for (uint32_t i = 0; i < nids; i++)
        if (b->ids[i] > max)
            max = b->ids[i];
    unsigned iw = max < 0x100 ? 1 : max < 0x10000 ? 2 : 4;
    unsigned ow = nids < 0x10000 ? 2 : 4;
    ps_buf_addc(out, (char)iw);
    ps_buf_addc(out, (char)ow);
    put_le(out, b->nrows, 2);
    for (uint32_t r = 0; r <= b->nrows; r++)
        put_le(out, b->off[r], ow);
    for (uint32_t i = 0; i < nids; i++)
        put_le(out, b->ids[i], iw);
}

long fcol_value_ids(const char *v, size_t n, uint32_t **ids, size_t *cap)
{
    const unsigned char *p = (const unsigned char *)v + 1,
                        *end = (const unsigned char *)v + n;
    uint32_t np, count, id;
    size_t k = 0;
    if (!fdict_coded(v, n) || !ps_get_varint(&p, end, &np) ||
        np > FACET_PARTS)
        return -1;
    for (uint32_t part = 0; part < np; part++) {
        if (!ps_get_varint(&p, end, &count) || count > (size_t)(end - p))
            return -1;
        for (uint32_t j = 0; j < count; j++) {
            if (!ps_get_varint(&p, end, &id))
                return -1;
            if (k == *cap) {
                *cap = *cap ? 2 * *cap : 64;
                *ids = ps_xrealloc(*ids, *cap * sizeof(uint32_t));
            }
            (*ids)[k++] = id;
        }
    }
    return p == end ? (long)k : -1;
}

int fcol_view_open(fcol_view *v, const char *rec, size_t n)
{
    const unsigned char *p = (const unsigned char *)rec;
    memset(v, 0, sizeof *v);
    if (n < HEADER)
        return -1;
    v->iw = p[0];
    v->ow = p[1];
    v->nrows = get_le(p + 2, 2);
    if ((v->iw != 1 && v->iw != 2 && v->iw != 4) ||
        (v->ow != 2 && v->ow != 4) || v->nrows < 1 || v->nrows > FCOL_ROWS)
        return -1;
    size_t offs = ((size_t)v->nrows + 1) * v->ow;
    if (n < HEADER + offs)
        return -1;
    v->off = p + HEADER;
    v->ids = v->off + offs;
    uint32_t prev = 0;
    for (uint32_t r = 0; r <= v->nrows; r++) {
        uint32_t o = get_le(v->off + (size_t)r * v->ow, v->ow);
        if ((r == 0 && o != 0) || o < prev)
            return -1;
        prev = o;
    }
    if ((size_t)prev * v->iw != n - HEADER - offs)
        return -1;
    v->nids = prev;
    return 0;
}

void fcol_view_row(const fcol_view *v, uint32_t r, uint32_t *start,
                   uint32_t *n)
{
    *start = get_le(v->off + (size_t)r * v->ow, v->ow);
    *n = get_le(v->off + (size_t)(r + 1) * v->ow, v->ow) - *start;
}

uint32_t fcol_view_id(const fcol_view *v, uint32_t i)
{
    return get_le(v->ids + (size_t)i * v->iw, v->iw);
}

int fcol_count(const fcol_view *v, uint32_t block, const unsigned *docids,
               size_t n, unsigned *counts, uint32_t nm)
{
    uint32_t first = block * FCOL_ROWS + 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = docids[i] - first, s, k;
        if (docids[i] < first || r >= v->nrows)
            return -1;
        fcol_view_row(v, r, &s, &k);
        if (v->iw == 1) {                   /* dictionaries of < 256 */
            const unsigned char *m = v->ids + s;
            for (uint32_t j = 0; j < k; j++) {
                if (m[j] >= nm)
                    return -1;
                counts[m[j]]++;
            }
            continue;
        }
        for (uint32_t j = 0; j < k; j++) {
            uint32_t id = fcol_view_id(v, s + j);
            if (id >= nm)
                return -1;
            counts[id]++;
        }
    }
    return 0;
}
