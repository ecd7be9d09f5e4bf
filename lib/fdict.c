/*
 * fdict.c: a shard's facet dictionary and coded facet values (see
 * fdict.h).
 */
#include "fdict.h"
#include "schema.h"
#include "strset.h"

#include <stdlib.h>
#include <string.h>

struct fdict {
    strset *idx;          /* part byte + name -> id */
    char **key;           /* id -> part byte + name, NUL-terminated */
    size_t *klen;
    unsigned char *part;  /* id -> its part (key[id][0], at hand) */
    size_t n, cap;
};

fdict *fdict_create(void)
{
    fdict *d = ps_xcalloc(1, sizeof *d);
    d->idx = strset_create();
    return d;
}

void fdict_destroy(fdict *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->key[i]);
    free(d->key);
    free(d->klen);
    free(d->part);
    strset_destroy(d->idx);
    free(d);
}

static uint32_t add(fdict *d, const char *k, size_t kl)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->key = ps_xrealloc(d->key, d->cap * sizeof(char *));
        d->klen = ps_xrealloc(d->klen, d->cap * sizeof(size_t));
        d->part = ps_xrealloc(d->part, d->cap);
    }
    d->part[d->n] = (unsigned char)k[0];
    d->key[d->n] = ps_xstrndup(k, kl);
    d->klen[d->n] = kl;
    strset_put(d->idx, k, kl, (int)d->n);
    return (uint32_t)d->n++;
}

int fdict_load(fdict *d, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *z = memchr(v + i + 1, '\0', i + 1 <= n ? n - i - 1 : 0);
        if ((unsigned char)v[i] >= FACET_PARTS || !z || z == v + i + 1)
            return -1;    /* no such part, no end, or no name */
        size_t kl = (size_t)(z - (v + i));
        if (strset_get(d->idx, v + i, kl) >= 0)
            return -1;    /* listed twice */
        add(d, v + i, kl);
        i += kl + 1;
    }
    return 0;
}

void fdict_save(const fdict *d, ps_buf *out)
{
    for (size_t i = 0; i < d->n; i++)
        ps_buf_add(out, d->key[i], d->klen[i] + 1);
}

size_t fdict_count(const fdict *d)
{
    return d ? d->n : 0;
}

int fdict_part(const fdict *d, uint32_t id)
{
    return d->part[id];
}

const char *fdict_name(const fdict *d, uint32_t id, size_t *len)
{
    *len = d->klen[id] - 1;
    return d->key[id] + 1;
}

void fdict_encode(fdict *d, const char *v, size_t n, ps_buf *out,
                  size_t *added)
{
    out->len = 0;
    *added = 0;
    /* The parts as tally_value() (search.c) reads them: FACET_SEP
     * apart, at most FACET_PARTS; members ',' apart in the first three,
     * FACET_MEMBER apart after; empty members are none. */
    const char *part[FACET_PARTS];
    size_t plen[FACET_PARTS], np = 0;
    for (;;) {
        const char *end = memchr(v, FACET_SEP, n);
        part[np] = v;
        plen[np++] = end ? (size_t)(end - v) : n;
        if (!end || np == FACET_PARTS)
            break;
        n -= plen[np - 1] + 1;
        v = end + 1;
    }
    ps_buf_addc(out, FACET_CODED);
    ps_buf_varint(out, (uint32_t)np);
    ps_buf key, ids;
    ps_buf_init(&key);
    ps_buf_init(&ids);
    for (size_t p = 0; p < np; p++) {
        char sep = p < 3 ? ',' : FACET_MEMBER;
        uint32_t nid = 0;
        ids.len = 0;
        for (size_t s = 0; s < plen[p];) {
            const char *sp = memchr(part[p] + s, sep, plen[p] - s);
            size_t e = sp ? (size_t)(sp - part[p]) : plen[p];
            if (e > s) {
                key.len = 0;
                ps_buf_addc(&key, (char)p);
                ps_buf_add(&key, part[p] + s, e - s);
                int id = strset_get(d->idx, key.data, key.len);
                if (id < 0) {
                    id = (int)add(d, key.data, key.len);
                    (*added)++;
                }
                ps_buf_varint(&ids, (uint32_t)id);
                nid++;
            }
            s = e + 1;
        }
        ps_buf_varint(out, nid);
        if (ids.len)
            ps_buf_add(out, ids.data, ids.len);
    }
    ps_buf_free(&key);
    ps_buf_free(&ids);
}

int fdict_each(const fdict *d, const char *v, size_t n,
               void (*cb)(void *ctx, uint32_t id), void *ctx)
{
    const unsigned char *p = (const unsigned char *)v + 1,
                        *end = (const unsigned char *)v + n;
    uint32_t np, count, id, nd = (uint32_t)fdict_count(d);
    if (!fdict_coded(v, n) || !ps_get_varint(&p, end, &np) ||
        np > FACET_PARTS)
        return -1;
    for (uint32_t k = 0; k < np; k++) {
        if (!ps_get_varint(&p, end, &count))
            return -1;
        for (uint32_t j = 0; j < count; j++) {
            if (!ps_get_varint(&p, end, &id) || id >= nd || d->part[id] != k)
                return -1;
            cb(ctx, id);
        }
    }
    return p == end ? (int)np : -1;
}
