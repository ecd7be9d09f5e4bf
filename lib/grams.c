/*
 * grams.c: the character index (see grams.h for the layout).
 *
 * Writing keeps one open-addressing table per batch from gram (code
 * points packed in 64 bits) to an entry holding that gram's chunk being
 * encoded.  Docids only grow within a batch, so every chunk is written in
 * order as the passages arrive; flushing sorts the entries by key (Xapian's
 * B-tree takes sorted inserts best) and hands each chunk to the caller.
 */
#include "grams.h"
#include "schema.h"
#include "strset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>

/* ---- positions ---- */

/* The end of a passage's positions in a bigram entry: the first zero
 * byte at or after p (no byte of a varint >= 1 is zero), or end when
 * there is none.  With tf, adds the varints before it (each ends at a
 * byte below 0x80).  Eight bytes at a time: a passage's positions mostly
 * take fewer, so one step finds the end without a branch per byte. */
static inline const unsigned char *positions_end(const unsigned char *p,
                                                 const unsigned char *end,
                                                 uint32_t *tf)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v = le64toh(v);
        /* The lowest flagged byte is the first zero one (a borrow only
         * flags bytes above a zero). */
        uint64_t zero = (v - ones) & ~v & highs;
        uint64_t last = ~v & highs;      /* bytes below 0x80 */
        if (zero) {
            unsigned at = (unsigned)__builtin_ctzll(zero) >> 3;
            if (tf)
                *tf += (uint32_t)((((last & ((1ull << (8 * at)) - 1)) >> 7) *
                                   ones) >> 56);
            return p + at;
        }
        if (tf)
            *tf += (uint32_t)(((last >> 7) * ones) >> 56);
        p += 8;
    }
    for (; p < end && *p; p++)
        if (tf)
            *tf += *p < 0x80;
    return p;
}


/* ---- writing ---- */

#define UNI_FLAG (1ull << 63)

/* A chunk being encoded: a bare byte array (the hot path appends a few
 * bytes per character of text). */
typedef struct bytes {
    unsigned char *p;
    uint32_t len, cap;
} bytes;

static inline void bytes_varint(bytes *b, uint32_t v)
{
    if (b->cap - b->len < 5) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->p = ps_xrealloc(b->p, b->cap);
    }
    while (v >= 0x80) {
        b->p[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (unsigned char)v;
}

typedef struct entry {
    uint64_t key;         /* cp1 << 21 | cp2, or UNI_FLAG | cp */
    uint32_t last_doc;    /* 0: none yet */
    uint32_t last_pos;    /* bigrams: last position; unigrams: count */
    uint32_t first_doc;
    bytes buf;
} entry;

typedef struct slot {
    uint64_t key;
    uint32_t idx;         /* entry index + 1, 0 when empty */
} slot;

struct gram_batch {
    slot *slots;
    size_t nslots;
    uint32_t *bmp;        /* unigrams of the BMP: entry index + 1 */
    entry *e;
    size_t n, cap;
    ps_buf lengths;
    uint32_t len_last, len_first;
    size_t passages, bytes;
    uint64_t *keys;       /* the passage being added: its bigram keys */
    size_t *hashes;       /* ... and their hash64() */
    size_t capkeys;
};

gram_batch *gram_batch_create(void)
{
    gram_batch *b = ps_xcalloc(1, sizeof *b);
    b->nslots = 1 << 16;
    b->slots = ps_xcalloc(b->nslots, sizeof(slot));
    b->bmp = ps_xcalloc(0x10000, sizeof(uint32_t));
    ps_buf_init(&b->lengths);
    return b;
}

static void batch_reset(gram_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->e[i].buf.p);
    b->n = 0;
    memset(b->slots, 0, b->nslots * sizeof(slot));
    memset(b->bmp, 0, 0x10000 * sizeof(uint32_t));
    b->lengths.len = 0;
    b->len_last = b->len_first = 0;
    b->passages = b->bytes = 0;
}

void gram_batch_destroy(gram_batch *b)
{
    if (!b)
        return;
    batch_reset(b);
    free(b->slots);
    free(b->bmp);
    free(b->e);
    free(b->keys);
    free(b->hashes);
    ps_buf_free(&b->lengths);
    free(b);
}

static inline size_t hash64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

static void grow(gram_batch *b)
{
    size_t ns = b->nslots * 2;
    slot *s = ps_xcalloc(ns, sizeof(slot));
    for (size_t i = 0; i < b->n; i++) {
        size_t h = hash64(b->e[i].key) & (ns - 1);
        while (s[h].idx)
            h = (h + 1) & (ns - 1);
        s[h].key = b->e[i].key;
        s[h].idx = (uint32_t)i + 1;
    }
    free(b->slots);
    b->slots = s;
    b->nslots = ns;
}

/* The slot of key: the one holding it, or the empty one where it goes
 * (hash: hash64(key)). */
static inline size_t find(const gram_batch *b, uint64_t key, size_t hash)
{
    size_t h = hash & (b->nslots - 1);
    while (b->slots[h].idx && b->slots[h].key != key)
        h = (h + 1) & (b->nslots - 1);
    return h;
}

/* The entry of key, made (empty) if it has none; hash: hash64(key). */
static entry *lookup_hashed(gram_batch *b, uint64_t key, size_t hash)
{
    /* Most unigrams are in the BMP: a direct table, no hashing. */
    uint32_t *direct = (key & UNI_FLAG) && (key & 0x1fffff) < 0x10000
                           ? &b->bmp[key & 0xffff] : NULL;
    size_t h = find(b, key, hash);
    if (b->slots[h].idx)
        return &b->e[b->slots[h].idx - 1];
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4096;
        b->e = ps_xrealloc(b->e, b->cap * sizeof(entry));
    }
    entry *e = &b->e[b->n];
    memset(e, 0, sizeof *e);
    e->key = key;
    b->slots[h].key = key;
    b->slots[h].idx = (uint32_t)++b->n;
    if (direct)
        *direct = (uint32_t)b->n;
    if (b->n * 2 > b->nslots)
        grow(b);
    return &b->e[b->n - 1];
}

static entry *lookup(gram_batch *b, uint64_t key)
{
    if ((key & UNI_FLAG) && (key & 0x1fffff) < 0x10000 && b->bmp[key & 0xffff])
        return &b->e[b->bmp[key & 0xffff] - 1];
    return lookup_hashed(b, key, hash64(key));
}

/* Ends the current passage's record of e. */
static inline void close_doc(entry *e)
{
    if (!e->last_doc)
        return;
    bytes_varint(&e->buf, e->key & UNI_FLAG ? e->last_pos : 0);
}

static inline void open_doc(entry *e, uint32_t docid)
{
    close_doc(e);
    bytes_varint(&e->buf, docid - e->last_doc);
    if (!e->last_doc)
        e->first_doc = docid;
    e->last_doc = docid;
    e->last_pos = 0;
}

/* The entry of key, or NULL: a look ahead that never inserts. */
static inline const entry *peek(const gram_batch *b, uint64_t key,
                                size_t hash)
{
    size_t h = find(b, key, hash);
    return b->slots[h].idx ? &b->e[b->slots[h].idx - 1] : NULL;
}

/* How far ahead of the bigram being added its slot, its entry and the end
 * of its chunk are fetched into the cache.  A batch holds hundreds of
 * thousands of bigrams: each of the three is a cache miss, and the three
 * depend on one another, so each is asked for a few bigrams before the one
 * before it is needed.  Only hints: lookup() below decides. */
#define AHEAD_SLOT 12
#define AHEAD_ENTRY 6
#define AHEAD_TAIL 3

void gram_batch_add(gram_batch *b, unsigned docid, const char *text,
                    size_t len)
{
    /* The passage's bigram keys and their hashes first (at most one per
     * byte): each is used four times below. */
    if (b->capkeys < len + 1) {
        b->capkeys = len + 1 > 2 * b->capkeys ? len + 1 : 2 * b->capkeys;
        free(b->keys);
        free(b->hashes);
        b->keys = ps_xmalloc(b->capkeys * sizeof *b->keys);
        b->hashes = ps_xmalloc(b->capkeys * sizeof *b->hashes);
    }
    uint64_t *keys = b->keys;
    size_t *hashes = b->hashes, nk = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i < len; nk++) {
        uint32_t cp = ps_utf8_next(text, len, &i);
        keys[nk] = (uint64_t)prev << 21 | cp;
        hashes[nk] = hash64(keys[nk]);
        prev = cp;
    }
    /* keys[j] & 0x1fffff is character j; keys[j] (j > 0) the bigram
     * starting at j - 1. */
    size_t before = 0, after = 0;
    for (size_t j = 0; j < nk; j++) {
        if (j + AHEAD_SLOT < nk)
            __builtin_prefetch(&b->slots[hashes[j + AHEAD_SLOT] &
                                         (b->nslots - 1)]);
        if (j + AHEAD_ENTRY < nk) {
            const entry *a = peek(b, keys[j + AHEAD_ENTRY],
                                  hashes[j + AHEAD_ENTRY]);
            if (a) {
                __builtin_prefetch(a, 1);
                __builtin_prefetch((const char *)(a + 1) - 1, 1);
            }
        }
        if (j + AHEAD_TAIL < nk) {
            uint64_t k = keys[j + AHEAD_TAIL];
            const entry *a = peek(b, k, hashes[j + AHEAD_TAIL]);
            if (a && a->buf.p)
                __builtin_prefetch(a->buf.p + a->buf.len, 1);
            uint32_t c = (uint32_t)(k & 0x1fffff);
            if (c < 0x10000 && b->bmp[c] &&
                (a = &b->e[b->bmp[c] - 1])->last_doc != docid && a->buf.p)
                __builtin_prefetch(a->buf.p + a->buf.len, 1);
        }
        uint32_t cp = (uint32_t)(keys[j] & 0x1fffff);
        entry *u = lookup(b, UNI_FLAG | cp);
        if (u->last_doc != docid) {
            before += u->buf.len;
            open_doc(u, docid);
            after += u->buf.len + 1;
        }
        u->last_pos++;
        if (j > 0) {
            entry *e = lookup_hashed(b, keys[j], hashes[j]);
            uint32_t p = (uint32_t)j - 1;     /* where the bigram starts */
            before += e->buf.len;
            if (e->last_doc != docid) {
                open_doc(e, docid);
                bytes_varint(&e->buf, p + 1);
            } else {
                bytes_varint(&e->buf, p - e->last_pos);
            }
            after += e->buf.len;
            e->last_pos = p;
        }
    }
    uint32_t pos = (uint32_t)nk;
    b->bytes += after - before;
    ps_buf_varint(&b->lengths, docid - b->len_last);
    ps_buf_varint(&b->lengths, pos);
    if (!b->len_last)
        b->len_first = docid;
    b->len_last = docid;
    b->passages++;
}

size_t gram_batch_bytes(const gram_batch *b)
{
    return b->bytes + b->n * (sizeof(entry) + 8) + b->nslots * 4;
}

size_t gram_batch_passages(const gram_batch *b)
{
    return b->passages;
}

size_t gram_chunk_key(const char *group, size_t gn, const gram_seg *seg,
                      char *out)
{
    if (seg->seg_first && gn > 2) {
        memcpy(out, group, 2);
        ps_put_be32(out + 2, seg->key);
        memcpy(out + 6, group + 2, gn - 2);
    } else {
        memcpy(out, group, gn);
        ps_put_be32(out + gn, seg->first);
    }
    return gn + 4;
}

/* Group key of e: prefix, length byte, UTF-8 gram. */
static size_t entry_key(const entry *e, char *out)
{
    ps_buf g;
    ps_buf_init(&g);
    if (e->key & UNI_FLAG) {
        ps_buf_addcp(&g, (uint32_t)(e->key & 0x1fffff));
    } else {
        ps_buf_addcp(&g, (uint32_t)(e->key >> 21));
        ps_buf_addcp(&g, (uint32_t)(e->key & 0x1fffff));
    }
    const char *pfx = e->key & UNI_FLAG ? META_UNIGRAM : META_GRAM;
    size_t n = strlen(pfx);
    memcpy(out, pfx, n);
    out[n++] = (char)g.len;
    memcpy(out + n, g.data, g.len);
    n += g.len;
    ps_buf_free(&g);
    return n;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int ux = !!(x->key & UNI_FLAG), uy = !!(y->key & UNI_FLAG);
    if (ux != uy)
        return ux - uy;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* A segment's dictionary: its group keys (key without the BE32 segment),
 * in byte order, each as the length shared with the previous one, the
 * length of the rest, and the rest. */
typedef struct gkey {
    unsigned char k[16];
    unsigned char n;
} gkey;

static int cmp_gkey(const void *a, const void *b)
{
    const gkey *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->k, y->k, m);
    return c ? c : (int)x->n - (int)y->n;
}

static void dict_add(ps_buf *out, const unsigned char *prev, size_t pn,
                     const unsigned char *k, size_t n)
{
    size_t shared = 0;
    while (shared < pn && shared < n && prev[shared] == k[shared])
        shared++;
    char h[2] = {(char)shared, (char)(n - shared)};
    ps_buf_add(out, h, 2);
    ps_buf_add(out, (const char *)k + shared, n - shared);
}

static size_t seg_key(const char *pfx, uint32_t seg, char *out)
{
    size_t n = strlen(pfx);
    memcpy(out, pfx, n);
    ps_put_be32(out + n, seg);
    return n + 4;
}

int gram_batch_flush(gram_batch *b, gram_put put, void *ctx, gram_seg *seg)
{
    int rc = 0;
    memset(seg, 0, sizeof *seg);
    if (!b->passages) {
        batch_reset(b);
        return 0;
    }
    uint32_t id = b->len_first;
    gram_seg me = {id, b->len_last, (unsigned)b->passages, 0, 1, id};
    /* Entries sort by code points, which is UTF-8 byte order within one
     * kind; the length byte only groups them further.  So the chunks are
     * put in key order, after every older segment's. */
    if (b->n)
        qsort(b->e, b->n, sizeof(entry), cmp_entry);
    char key[32];
    gkey *dict = ps_xmalloc((b->n + 1) * sizeof(gkey));
    for (size_t i = 0; i < b->n && !rc; i++) {
        entry *e = &b->e[i];
        close_doc(e);
        size_t gn = entry_key(e, (char *)dict[i].k);
        dict[i].n = (unsigned char)gn;
        size_t kl = gram_chunk_key((const char *)dict[i].k, gn, &me, key);
        rc = put(ctx, key, kl, (const char *)e->buf.p, e->buf.len);
    }
    if (!rc) {
        size_t kl = seg_key(META_LENGTH, id, key);
        rc = put(ctx, key, kl, b->lengths.data, b->lengths.len);
        dict[b->n].n = (unsigned char)strlen(META_LENGTH);
        memcpy(dict[b->n].k, META_LENGTH, dict[b->n].n);
    }
    if (!rc) {
        qsort(dict, b->n + 1, sizeof(gkey), cmp_gkey);
        ps_buf d;
        ps_buf_init(&d);
        for (size_t i = 0; i <= b->n; i++)
            dict_add(&d, i ? dict[i - 1].k : NULL, i ? dict[i - 1].n : 0,
                     dict[i].k, dict[i].n);
        size_t kl = seg_key(META_SEGDICT, id, key);
        rc = put(ctx, key, kl, d.data, d.len);
        ps_buf_free(&d);
    }
    free(dict);
    *seg = me;
    batch_reset(b);
    return rc;
}

/* ---- reading ---- */

void gram_hits_free(gram_hits *h)
{
    free(h->docs);
    free(h->tf);
    memset(h, 0, sizeof *h);
}

static void hits_reserve(gram_hits *h, size_t want)
{
    if (want <= h->cap)
        return;
    h->cap = want;
    h->docs = ps_xrealloc(h->docs, h->cap * sizeof(unsigned));
    h->tf = ps_xrealloc(h->tf, h->cap * sizeof(unsigned));
}

static void hits_push(gram_hits *h, unsigned doc, unsigned tf)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 256;
        h->docs = ps_xrealloc(h->docs, h->cap * sizeof(unsigned));
        h->tf = ps_xrealloc(h->tf, h->cap * sizeof(unsigned));
    }
    h->docs[h->n] = doc;
    h->tf[h->n] = tf;
    h->n++;
}

/* One bigram's decoded postings: docs[i] has positions
 * pos[off[i]..off[i+1]). */
typedef struct plist {
    uint32_t *docs, *off, *pos;
    size_t ndocs, npos, capd, capp;
    size_t at;            /* cursor while intersecting */
    size_t shift;         /* offset of this bigram in the needle */
} plist;

static void plist_free(plist *p)
{
    free(p->docs);
    free(p->off);
    free(p->pos);
}

static int corrupt(char *err, const char *what)
{
    snprintf(err, PS_ERRLEN, "character index: corrupt %s chunk (re-index "
             "into a new --db)", what);
    return -1;
}

/* Walks the (length, bytes) records fetch wrote. */
typedef struct chunks {
    const unsigned char *p, *end;
} chunks;

static int next_chunk(chunks *c, const unsigned char **s,
                      const unsigned char **e)
{
    if (c->end - c->p < 4)
        return 0;
    uint32_t n;
    memcpy(&n, c->p, 4);
    c->p += 4;
    if ((size_t)(c->end - c->p) < n)
        return 0;
    *s = c->p;
    *e = c->p + n;
    c->p += n;
    return 1;
}

/* Decodes a bigram's chunks into pl; when keep is not NULL, only the
 * passages in keep[0..nkeep) (ascending) are kept, the rest skipped. */
static int decode_bigram(const ps_buf *raw, plist *pl, const uint32_t *keep,
                         size_t nkeep, char *err)
{
    chunks c = {(const unsigned char *)raw->data,
                (const unsigned char *)raw->data + raw->len};
    const unsigned char *p, *end;
    uint32_t last = 0;
    size_t ki = 0;
    while (next_chunk(&c, &p, &end)) {
        uint32_t doc = 0;
        while (p < end) {
            uint32_t d, v;
            if (!ps_get_varint(&p, end, &d))
                return corrupt(err, "bigram");
            doc += d;
            if (doc <= last && last)
                return corrupt(err, "bigram");
            last = doc;
            if (keep) {
                while (ki < nkeep && keep[ki] < doc)
                    ki++;
                if (ki == nkeep || keep[ki] != doc) {
                    /* Skip this passage's positions: they end at the
                     * first zero byte (no other byte of a varint >= 1
                     * is zero). */
                    p = positions_end(p, end, NULL);
                    if (p == end)
                        return corrupt(err, "bigram");
                    p++;
                    continue;
                }
            }
            if (pl->ndocs + 1 >= pl->capd) {
                pl->capd = pl->capd ? 2 * pl->capd : 256;
                pl->docs = ps_xrealloc(pl->docs, pl->capd * sizeof(uint32_t));
                pl->off = ps_xrealloc(pl->off, (pl->capd + 1) * sizeof(uint32_t));
            }
            pl->docs[pl->ndocs] = doc;
            pl->off[pl->ndocs] = (uint32_t)pl->npos;
            pl->ndocs++;
            uint32_t pos = 0;
            int first = 1;
            for (;;) {
                if (!ps_get_varint(&p, end, &v))
                    return corrupt(err, "bigram");
                if (v == 0)
                    break;
                pos = first ? v - 1 : pos + v;
                first = 0;
                if (pl->npos == pl->capp) {
                    pl->capp = pl->capp ? 2 * pl->capp : 512;
                    pl->pos = ps_xrealloc(pl->pos, pl->capp * sizeof(uint32_t));
                }
                pl->pos[pl->npos++] = pos;
            }
        }
    }
    if (pl->docs)
        pl->off[pl->ndocs] = (uint32_t)pl->npos;
    return 0;
}

int gram_ranges_has(const unsigned (*del)[2], size_t ndel, size_t *at,
                    unsigned doc)
{
    while (*at < ndel && del[*at][1] < doc)
        (*at)++;
    return *at < ndel && del[*at][0] <= doc;
}

static int fetch_gram(const gram_src *src, const char *pfx, const char *g,
                      size_t gl, ps_buf *raw, char *err)
{
    char group[32], key[40];
    size_t n = strlen(pfx);
    memcpy(group, pfx, n);
    group[n++] = (char)gl;
    memcpy(group + n, g, gl);
    n += gl;
    raw->len = 0;
    if (src->by_prefix)
        return src->fetch(src->ctx, group, n, raw, err);
    for (size_t i = 0; i < src->nsegs; i++) {
        size_t kl = gram_chunk_key(group, n, &src->segs[i], key);
        if (src->fetch(src->ctx, key, kl, raw, err) < 0)
            return -1;
    }
    return 0;
}

/* A one- or two-character needle: one list, each passage counted as it
 * is read.  Unigram entries carry their count; bigram entries their
 * positions, ended by a 0, which are only counted here.  With keep, the
 * passages not in it are counted in *df and left out. */
static int match_single(const char *needle, size_t n, int bigram,
                        const gram_src *src,
                        const unsigned (*del)[2], size_t ndel,
                        const gram_keep *keep, gram_hits *out, size_t *df,
                        char *err)
{
    const char *what = bigram ? "bigram" : "unigram";
    ps_buf raw;
    ps_buf_init(&raw);
    if (fetch_gram(src, bigram ? META_GRAM : META_UNIGRAM, needle, n, &raw,
                   err) < 0) {
        ps_buf_free(&raw);
        return -1;
    }
    /* Every entry takes two bytes at least: room for all of them at once,
     * so the loop below stores without checking. */
    size_t room = raw.len / 2 + 1;
    if (keep && keep->n < room)
        room = keep->n;
    const uint64_t *kbits = keep ? keep->bits : NULL;
    size_t kn = keep ? keep->nbits : 0;
    uint64_t kstride = keep ? keep->stride : 0, kfirst = keep ? keep->first : 0;
    hits_reserve(out, out->n + room);
    chunks c = {(const unsigned char *)raw.data,
                (const unsigned char *)raw.data + raw.len};
    const unsigned char *p, *end;
    size_t at = 0, skipped = 0;
    int rc = 0;
    unsigned *docs = out->docs, *tfs = out->tf;
    size_t nh = out->n;
    while (!rc && next_chunk(&c, &p, &end)) {
        uint32_t doc = 0;
        while (p < end) {
            uint32_t d, tf = 0;
            if (!ps_get_varint(&p, end, &d)) {
                rc = corrupt(err, what);
                break;
            }
            doc += d;
            uint64_t bit = (uint64_t)(doc - 1) * kstride + kfirst;
            int out_of_keep = kbits && (bit >= kn ||
                                        !(kbits[bit / 64] >> (bit % 64) & 1));
            if (!bigram) {
                if (!ps_get_varint(&p, end, &tf)) {
                    rc = corrupt(err, what);
                    break;
                }
            } else {
                /* The positions end at the first zero byte (no other byte
                 * of a varint >= 1 is zero); each ends at a byte below
                 * 0x80. */
                p = positions_end(p, end, out_of_keep ? NULL : &tf);
                if (p == end) {
                    rc = corrupt(err, what);
                    break;
                }
                p++;
            }
            if (ndel && gram_ranges_has(del, ndel, &at, doc))
                continue;
            if (out_of_keep) {
                skipped++;
                continue;
            }
            if (nh - out->n == room) {  /* more kept than bits set: */
                rc = corrupt(err, what);    /* docids repeat */
                break;
            }
            docs[nh] = doc;
            tfs[nh++] = tf;
        }
    }
    *df = nh - out->n + skipped;
    out->n = nh;
    ps_buf_free(&raw);
    return rc;
}

int gram_match(const char *needle, size_t n, const gram_src *src,
               const unsigned (*del)[2], size_t ndel, gram_hits *out,
               char *err)
{
    size_t df;
    return gram_match_in(needle, n, src, del, ndel, NULL, out, &df, err);
}

static int match_long(const char *needle, size_t n, size_t nchars,
                      const gram_src *src, const unsigned (*del)[2],
                      size_t ndel, gram_hits *out, char *err);

int gram_match_in(const char *needle, size_t n, const gram_src *src,
                  const unsigned (*del)[2], size_t ndel, const gram_keep *keep,
                  gram_hits *out, size_t *df, char *err)
{
    out->n = 0;
    *df = 0;
    size_t nchars = ps_utf8_count(needle, n);
    if (nchars == 0)
        return 0;
    if (nchars <= 2)
        return match_single(needle, n, nchars == 2, src, del, ndel, keep, out,
                            df, err);
    int rc = match_long(needle, n, nchars, src, del, ndel, out, err);
    *df = out->n;
    return rc;
}

/* A needle of three characters or more: its bigrams at 0, 2, 4, ... and
 * one ending at the last character, intersected by position. */
static int match_long(const char *needle, size_t n, size_t nchars,
                      const gram_src *src, const unsigned (*del)[2],
                      size_t ndel, gram_hits *out, char *err)
{
    size_t *off = ps_utf8_offsets(needle, n, &nchars);
    /* Bigrams at 0, 2, 4, ... and one ending at the last character. */
    size_t nl = 0;
    size_t shifts[64];
    size_t cap = sizeof shifts / sizeof shifts[0];
    size_t *sh = nchars / 2 + 2 > cap ? ps_xmalloc((nchars / 2 + 2) * sizeof(size_t))
                                      : shifts;
    for (size_t k = 0; k + 1 < nchars; k += 2)
        sh[nl++] = k;
    if (nchars % 2)
        sh[nl++] = nchars - 2;
    plist *pl = ps_xcalloc(nl, sizeof(plist));
    ps_buf *raw = ps_xcalloc(nl, sizeof(ps_buf));
    size_t *order = ps_xmalloc(nl * sizeof(size_t));
    int rc = 0;
    size_t shortest = 0;
    for (size_t k = 0; k < nl; k++) {
        pl[k].shift = sh[k];
        order[k] = k;
    }
    for (size_t k = 0; k < nl && !rc; k++)
        rc = fetch_gram(src, META_GRAM, needle + off[sh[k]],
                        off[sh[k] + 2] - off[sh[k]], &raw[k], err);
    /* Rarest first (by stored bytes); each later list keeps only the
     * passages still in the running, and an empty one ends the search.
     * (After a failed fetch the lists are not read at all.) */
    for (size_t m = 1; m < nl && !rc; m++)
        for (size_t j = m; j > 0 && raw[order[j]].len < raw[order[j - 1]].len; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    const plist *prev = NULL;
    for (size_t m = 0; m < nl && !rc; m++) {
        size_t k = order[m];
        rc = decode_bigram(&raw[k], &pl[k], prev ? prev->docs : NULL,
                           prev ? prev->ndocs : 0, err);
        if (!rc && (pl[k].ndocs < pl[shortest].ndocs || m == 0))
            shortest = k;
        prev = &pl[k];
        if (!rc && pl[k].ndocs == 0)
            break;          /* nothing can match */
    }
    for (size_t k = 0; k < nl; k++)
        ps_buf_free(&raw[k]);
    free(raw);
    free(order);
    size_t at = 0;
    for (size_t d = 0; !rc && d < pl[shortest].ndocs; d++) {
        uint32_t doc = pl[shortest].docs[d];
        int all = 1;
        for (size_t k = 0; k < nl && all; k++) {
            if (pl[k].ndocs == 0) {
                all = 0;
                break;
            }
            pl[k].at = ps_gallop(pl[k].docs, pl[k].ndocs, pl[k].at, doc);
            all = pl[k].at < pl[k].ndocs && pl[k].docs[pl[k].at] == doc;
        }
        if (!all || gram_ranges_has(del, ndel, &at, doc))
            continue;
        /* Starts s of the needle: every bigram k at s + shift. */
        plist *a = &pl[0];
        unsigned tf = 0;
        size_t cur[64];
        size_t *cu = nl > 64 ? ps_xmalloc(nl * sizeof(size_t)) : cur;
        for (size_t k = 0; k < nl; k++)
            cu[k] = pl[k].off[pl[k].at];
        for (uint32_t x = a->off[a->at]; x < a->off[a->at + 1]; x++) {
            uint32_t s = a->pos[x];     /* shift 0 */
            int ok = 1;
            for (size_t k = 1; k < nl && ok; k++) {
                uint32_t want = s + (uint32_t)pl[k].shift;
                size_t stop = pl[k].off[pl[k].at + 1];
                while (cu[k] < stop && pl[k].pos[cu[k]] < want)
                    cu[k]++;
                ok = cu[k] < stop && pl[k].pos[cu[k]] == want;
            }
            tf += (unsigned)ok;
        }
        if (cu != cur)
            free(cu);
        if (tf)
            hits_push(out, doc, tf);
    }
    for (size_t k = 0; k < nl; k++)
        plist_free(&pl[k]);
    free(pl);
    if (sh != shifts)
        free(sh);
    free(off);
    return rc;
}

/* What gram_lengths() has read so far, chunk by chunk. */
typedef struct lengths_state {
    const unsigned (*del)[2];
    size_t ndel, hint;
    uint32_t *l;
    unsigned char *seen;          /* a passage listed twice is damage */
    size_t cap, nlen, live;
    uint64_t sum;                 /* of the live passages' lengths */
    size_t nsum;                  /* live passages of length > 0 */
    int rc;
    char *err;
} lengths_state;

static void lengths_chunk(void *ctx, const char *v, size_t n)
{
    lengths_state *st = ctx;
    if (st->rc)
        return;
    const unsigned char *p = (const unsigned char *)v, *end = p + n;
    uint32_t doc = 0;
    size_t at = 0;
    while (p < end) {
        uint32_t d, len;
        if (!ps_get_varint(&p, end, &d) || !ps_get_varint(&p, end, &len)) {
            st->rc = corrupt(st->err, "length");
            return;
        }
        doc += d;
        if (st->hint && doc >= st->hint) {  /* beyond the shard's last passage */
            st->rc = corrupt(st->err, "length");
            return;
        }
        if (doc >= st->cap) {
            size_t nc = st->cap ? st->cap : 1024;
            while (nc <= doc)
                nc *= 2;
            st->l = ps_xrealloc(st->l, nc * sizeof(uint32_t));
            memset(st->l + st->cap, 0, (nc - st->cap) * sizeof(uint32_t));
            st->seen = ps_xrealloc(st->seen, nc);
            memset(st->seen + st->cap, 0, nc - st->cap);
            st->cap = nc;
        }
        if (d == 0 || st->seen[doc]) {    /* docids ascend in a chunk */
            st->rc = corrupt(st->err, "length");
            return;
        }
        st->seen[doc] = 1;
        st->l[doc] = len;
        if (!gram_ranges_has(st->del, st->ndel, &at, doc)) {
            st->live++;
            st->sum += len;
            st->nsum += len > 0;
        }
        if (doc + 1 > st->nlen)
            st->nlen = doc + 1;
    }
}

static void lengths_begin(lengths_state *st, const unsigned (*del)[2],
                          size_t ndel, size_t hint, char *err)
{
    memset(st, 0, sizeof *st);
    st->del = del;
    st->ndel = ndel;
    st->hint = hint;
    st->err = err;
    if (hint) {                   /* one allocation, not a doubling series */
        st->cap = hint;
        st->l = ps_xcalloc(hint, sizeof(uint32_t));
        st->seen = ps_xcalloc(hint, 1);
    }
}

static int lengths_end(lengths_state *st, uint32_t **len, size_t *nlen,
                       size_t *live)
{
    free(st->seen);
    *len = st->l;
    *nlen = st->nlen;
    if (live)
        *live = st->live;
    return st->rc;
}

int gram_lengths(gram_fetch fetch, void *fctx, const unsigned (*del)[2],
                 size_t ndel, size_t hint, uint32_t **len, size_t *nlen,
                 size_t *live, char *err)
{
    lengths_state st;
    lengths_begin(&st, del, ndel, hint, err);
    ps_buf raw;
    ps_buf_init(&raw);
    if (fetch(fctx, META_LENGTH, strlen(META_LENGTH), &raw, err) < 0)
        st.rc = -1;
    chunks c = {(const unsigned char *)raw.data,
                (const unsigned char *)raw.data + raw.len};
    const unsigned char *p, *end;
    while (!st.rc && next_chunk(&c, &p, &end))
        lengths_chunk(&st, (const char *)p, (size_t)(end - p));
    ps_buf_free(&raw);
    return lengths_end(&st, len, nlen, live);
}

int gram_lengths_scan(gram_scan scan, void *sctx, const unsigned (*del)[2],
                      size_t ndel, size_t hint, uint32_t **len, size_t *nlen,
                      size_t *live, uint64_t *sum, size_t *nsum, char *err)
{
    lengths_state st;
    lengths_begin(&st, del, ndel, hint, err);
    if (scan(sctx, META_LENGTH, strlen(META_LENGTH), lengths_chunk, &st,
             err) < 0)
        st.rc = -1;
    *sum = st.sum;
    *nsum = st.nsum;
    return lengths_end(&st, len, nlen, live);
}

void gram_ranges_encode(const unsigned (*r)[2], size_t n, ps_buf *out)
{
    unsigned last = 0;
    for (size_t i = 0; i < n; i++) {
        ps_buf_varint(out, r[i][0] - last);
        ps_buf_varint(out, r[i][1] - r[i][0]);
        last = r[i][1];
    }
}

int gram_ranges_decode(const char *s, size_t n, unsigned (**ranges)[2],
                       size_t *nranges)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    unsigned (*r)[2] = NULL;
    size_t nr = 0, cap = 0;
    unsigned last = 0;
    while (p < end) {
        uint32_t a, b;
        if (!ps_get_varint(&p, end, &a) || !ps_get_varint(&p, end, &b)) {
            free(r);
            *ranges = NULL;
            *nranges = 0;
            return -1;
        }
        if (nr == cap) {
            cap = cap ? 2 * cap : 16;
            r = ps_xrealloc(r, cap * sizeof *r);
        }
        r[nr][0] = last + a;
        r[nr][1] = last + a + b;
        last = r[nr][1];
        nr++;
    }
    *ranges = r;
    *nranges = nr;
    return 0;
}

static int cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

void gram_ranges_add(unsigned (**r)[2], size_t *nr, const unsigned *ids,
                     size_t n)
{
    if (!n)
        return;
    size_t total = *nr + n;
    unsigned (*all)[2] = ps_xmalloc(total * sizeof *all);
    if (*nr)
        memcpy(all, *r, *nr * sizeof *all);
    unsigned *s = ps_xmalloc(n * sizeof(unsigned));
    memcpy(s, ids, n * sizeof(unsigned));
    qsort(s, n, sizeof(unsigned), cmp_uint);
    for (size_t i = 0; i < n; i++) {
        all[*nr + i][0] = s[i];
        all[*nr + i][1] = s[i];
    }
    free(s);
    /* Sort by start, then merge overlapping or adjacent ranges. */
    qsort(all, total, sizeof *all, cmp_uint);
    size_t out = 0;
    for (size_t i = 0; i < total; i++) {
        if (out && all[i][0] <= all[out - 1][1] + 1) {
            if (all[i][1] > all[out - 1][1])
                all[out - 1][1] = all[i][1];
        } else {
            all[out][0] = all[i][0];
            all[out][1] = all[i][1];
            out++;
        }
    }
    free(*r);
    *r = all;
    *nr = out;
}

/* ---- segments ---- */

/* In the list, a segment keyed segment first has this bit in its level
 * (a format-5 to 8 list has no such bit: all its segments are keyed the
 * old way). */
#define SEG_FIRST 0x10000u

void gram_segs_encode(const gram_seg *sg, size_t n, ps_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        ps_buf_varint(out, sg[i].first);
        ps_buf_varint(out, sg[i].last - sg[i].first);
        ps_buf_varint(out, sg[i].passages);
        ps_buf_varint(out, sg[i].level | (sg[i].seg_first ? SEG_FIRST : 0));
        if (sg[i].seg_first)
            ps_buf_varint(out, sg[i].key - sg[i].first);
    }
}

int gram_segs_decode(const char *v, size_t n, gram_seg **segs, size_t *nsegs)
{
    const unsigned char *p = (const unsigned char *)v, *end = p + n;
    gram_seg *sg = NULL;
    size_t ns = 0, cap = 0;
    uint32_t prev_last = 0;
    while (p < end) {
        uint32_t f, span, np, lv, kd = 0;
        if (!ps_get_varint(&p, end, &f) || !ps_get_varint(&p, end, &span) ||
            !ps_get_varint(&p, end, &np) || !ps_get_varint(&p, end, &lv) ||
            ((lv & SEG_FIRST) && !ps_get_varint(&p, end, &kd)) ||
            f == 0 || f <= prev_last || f + span < f || kd > span ||
            (lv & ~SEG_FIRST) > GRAM_MAX_LEVEL) {
            free(sg);
            *segs = NULL;
            *nsegs = 0;
            return -1;
        }
        if (ns == cap) {
            cap = cap ? 2 * cap : 16;
            sg = ps_xrealloc(sg, cap * sizeof *sg);
        }
        sg[ns].first = f;
        sg[ns].last = f + span;
        sg[ns].passages = np;
        sg[ns].level = lv & ~SEG_FIRST;
        sg[ns].seg_first = !!(lv & SEG_FIRST);
        sg[ns].key = f + kd;
        prev_last = f + span;
        ns++;
    }
    *segs = sg;
    *nsegs = ns;
    return 0;
}

/* Deleted passages of [first, last] among the ranges del[0..ndel). */
static size_t deleted_in(const unsigned (*del)[2], size_t ndel,
                         unsigned first, unsigned last)
{
    size_t n = 0;
    for (size_t i = 0; i < ndel; i++) {
        unsigned a = del[i][0] > first ? del[i][0] : first;
        unsigned b = del[i][1] < last ? del[i][1] : last;
        if (a <= b)
            n += (size_t)(b - a) + 1;
    }
    return n;
}

size_t gram_seg_deleted(const gram_seg *sg, const unsigned (*del)[2],
                        size_t ndel)
{
    return deleted_in(del, ndel, sg->first, sg->last);
}

size_t gram_plan(const gram_seg *sg, size_t n, const unsigned (*del)[2],
                 size_t ndel, size_t *start)
{
    /* A segment half deleted is rewritten alone: its cost is its own
     * size, and queries stop skipping its dead passages. */
    for (size_t i = 0; i < n; i++) {
        size_t d = deleted_in(del, ndel, sg[i].first, sg[i].last);
        if (d && 2 * d >= sg[i].passages) {
            *start = i;
            return 1;
        }
    }
    /* A small segment (fewer than GRAM_BIG passages: a day's addition,
     * the last batch of a run) merges with its small neighbour once it
     * is at least half that neighbour's size.  Small neighbours thus
     * halve in size from one to the next (at most log2(GRAM_BIG) of them
     * in a row), small runs add up to full-sized segments as a bulk run
     * writes them, a passage is rewritten about once per doubling of its
     * segment, and no such merge costs more than 2 * GRAM_BIG passages.
     * Full segments from one run's batches are left alone. */
    size_t pick = n;
    double cheapest = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned a = sg[i].passages, b = sg[i + 1].passages;
        if (a < GRAM_BIG && b < GRAM_BIG && 2.0 * b >= a &&
            (pick == n || (double)a + b < cheapest)) {
            pick = i;
            cheapest = (double)a + b;
        }
    }
    if (pick < n) {
        *start = pick;
        return 2;
    }
    /* The number of segments (chunks per gram) may grow with the log of
     * the passages; beyond that, the GRAM_MERGE_K adjacent segments with
     * the fewest passages become one.  Small segments (daily additions)
     * thus merge soon and cheaply, big ones (full batches of a bulk run)
     * rarely: each passage is rewritten about once per factor of K
     * growth, and no merge costs more than the segments it merges. */
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += sg[i].passages;
    size_t budget = GRAM_BUDGET_BASE;
    for (double x = total / GRAM_BIG + 1; x > 1; x /= GRAM_MERGE_K)
        budget += GRAM_BUDGET_STEP;
    if (n <= budget || n < 2)
        return 0;
    size_t k = n < GRAM_MERGE_K ? n : GRAM_MERGE_K;
    double best = -1;
    for (size_t i = 0; i + k <= n; i++) {
        double w = 0;
        for (size_t j = i; j < i + k; j++)
            w += sg[j].passages;
        if (best < 0 || w < best) {
            best = w;
            *start = i;
        }
    }
    return k;
}

typedef struct dict {
    const unsigned char *p, *end;
    unsigned char cur[256];
    size_t n;
    int done;
} dict;

static int dict_next(dict *d)
{
    if (d->p == d->end) {
        d->done = 1;
        return 0;
    }
    if (d->end - d->p < 2)
        return -1;
    size_t shared = d->p[0], rest = d->p[1];
    d->p += 2;
    if (shared > d->n || shared + rest > sizeof d->cur ||
        (size_t)(d->end - d->p) < rest || shared + rest == 0)
        return -1;
    memcpy(d->cur + shared, d->p, rest);
    d->n = shared + rest;
    d->p += rest;
    return 0;
}

/* Appends chunk v[0..n) to out (the docids continue from *last), only
 * passages in [lo, hi] and not in del; counts kept entries in *kept. */
static int append_chunk(ps_buf *out, uint32_t *last, const char *v, size_t n,
                        int positions, unsigned lo, unsigned hi,
                        const unsigned (*del)[2], size_t ndel, size_t *kept)
{
    const unsigned char *s = (const unsigned char *)v, *end = s + n;
    uint32_t doc = 0;
    size_t at = 0;
    while (s < end) {
        uint32_t d, x;
        if (!ps_get_varint(&s, end, &d))
            return -1;
        doc += d;
        if (doc <= *last && *last)
            return -1;
        const unsigned char *payload = s;
        do {
            if (!ps_get_varint(&s, end, &x))
                return -1;
        } while (positions && x != 0);
        if (doc < lo || doc > hi || gram_ranges_has(del, ndel, &at, doc))
            continue;
        ps_buf_varint(out, doc - *last);
        ps_buf_add(out, (const char *)payload, (size_t)(s - payload));
        *last = doc;
        (*kept)++;
    }
    return 0;
}

int gram_merge(gram_get get, gram_put put, void *ctx, const gram_seg *sg,
               size_t n, const unsigned (*del)[2], size_t ndel,
               gram_seg *out, char *err)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return 0;
    ps_buf *raw = ps_xcalloc(n, sizeof(ps_buf));
    dict *d = ps_xcalloc(n, sizeof(dict));
    ps_buf val, merged, newdict;
    ps_buf_init(&val);
    ps_buf_init(&merged);
    ps_buf_init(&newdict);
    unsigned char prev[256];
    size_t prevn = 0;
    char key[300];
    int rc = 0;
    /* The merged segment: keyed segment first, whatever it merges. */
    gram_seg whole = {sg[0].first, sg[n - 1].last, 0, 0, 1, sg[n - 1].last};
    for (size_t i = 0; i < n && !rc; i++) {
        size_t kl = seg_key(META_SEGDICT, sg[i].first, key);
        if (get(ctx, key, kl, &raw[i], err) < 0)
            rc = -1;
        d[i].p = (const unsigned char *)raw[i].data;
        d[i].end = d[i].p + raw[i].len;
        if (!rc && dict_next(&d[i]) < 0)
            rc = corrupt(err, "segment dictionary");
    }
    /* A window of groups at a time: their chunks read segment by
     * segment, then written merged.  Each segment's chunks lie together
     * (keyed segment first), so reading them in key order, one segment
     * after the other, walks each segment's blocks once; gram by gram,
     * every read went back and forth between the segments' blocks. */
    enum { WINDOW = 2048 };
    size_t passages = 0;
    ps_buf keys, *arena = ps_xcalloc(n, sizeof(ps_buf));
    ps_buf_init(&keys);
    size_t *koff = ps_xmalloc((WINDOW + 1) * sizeof(size_t));
    unsigned char *has = ps_xmalloc((size_t)WINDOW * n);
    size_t *voff = ps_xmalloc((size_t)WINDOW * n * sizeof(size_t));
    size_t *vlen = ps_xmalloc((size_t)WINDOW * n * sizeof(size_t));
    for (;;) {
        if (rc)
            break;
        size_t w = 0;
        keys.len = 0;
        memset(has, 0, (size_t)WINDOW * n);
        while (w < WINDOW && !rc) {
            /* The smallest group key among the dictionaries. */
            const unsigned char *g = NULL;
            size_t gn = 0;
            for (size_t i = 0; i < n; i++) {
                if (d[i].done)
                    continue;
                size_t m = gn < d[i].n ? gn : d[i].n;
                int c = g ? memcmp(d[i].cur, g, m) : -1;
                if (!g || c < 0 || (c == 0 && d[i].n < gn)) {
                    g = d[i].cur;
                    gn = d[i].n;
                }
            }
            if (!g)
                break;
            koff[w] = keys.len;
            ps_buf_add(&keys, (const char *)g, gn);
            const unsigned char *gk = (const unsigned char *)keys.data + koff[w];
            for (size_t i = 0; i < n; i++) {
                if (d[i].done || d[i].n != gn || memcmp(d[i].cur, gk, gn) != 0)
                    continue;
                has[w * n + i] = 1;
                if (dict_next(&d[i]) < 0)
                    rc = corrupt(err, "segment dictionary");
            }
            w++;
        }
        koff[w] = keys.len;
        if (rc || w == 0)
            break;
        for (size_t i = 0; i < n && !rc; i++) {
            arena[i].len = 0;
            for (size_t e = 0; e < w && !rc; e++) {
                if (!has[e * n + i])
                    continue;
                size_t kl = gram_chunk_key(keys.data + koff[e],
                                           koff[e + 1] - koff[e], &sg[i], key);
                if (get(ctx, key, kl, &val, err) < 0) {
                    rc = -1;
                    break;
                }
                voff[e * n + i] = arena[i].len;
                vlen[e * n + i] = val.len;
                ps_buf_add(&arena[i], val.data ? val.data : "", val.len);
                /* The old chunk goes, unless the merged one takes its key. */
                char mkey[300];
                size_t mkl = gram_chunk_key(keys.data + koff[e],
                                            koff[e + 1] - koff[e], &whole, mkey);
                if ((mkl != kl || memcmp(mkey, key, kl) != 0) &&
                    put(ctx, key, kl, "", 0))
                    rc = -1;
            }
        }
        for (size_t e = 0; e < w && !rc; e++) {
            const unsigned char *gk = (const unsigned char *)keys.data + koff[e];
            size_t gn = koff[e + 1] - koff[e];
            int positions = gn >= 2 && memcmp(gk, META_GRAM, 2) == 0;
            int lengths = gn == strlen(META_LENGTH) &&
                          memcmp(gk, META_LENGTH, gn) == 0;
            merged.len = 0;
            uint32_t last = 0;
            size_t kept = 0;
            for (size_t i = 0; i < n && !rc; i++) {
                if (!has[e * n + i])
                    continue;
                if (append_chunk(&merged, &last,
                                 arena[i].data ? arena[i].data + voff[e * n + i]
                                               : "",
                                 vlen[e * n + i], positions, 0, UINT32_MAX, del,
                                 ndel, &kept) < 0)
                    rc = corrupt(err, lengths ? "length" : "character index");
            }
            if (rc)
                break;
            size_t kl = gram_chunk_key((const char *)gk, gn, &whole, key);
            if (put(ctx, key, kl, merged.data ? merged.data : "", merged.len)) {
                rc = -1;
                break;
            }
            if (lengths)
                passages = kept;
            if (merged.len) {
                dict_add(&newdict, prev, prevn, gk, gn);
                memcpy(prev, gk, gn);
                prevn = gn;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        ps_buf_free(&arena[i]);
    free(arena);
    ps_buf_free(&keys);
    free(koff);
    free(has);
    free(voff);
    free(vlen);
    for (size_t i = 1; i < n && !rc; i++) {
        size_t kl = seg_key(META_SEGDICT, sg[i].first, key);
        if (put(ctx, key, kl, "", 0))
            rc = -1;
    }
    if (!rc) {
        size_t kl = seg_key(META_SEGDICT, sg[0].first, key);
        if (put(ctx, key, kl, newdict.data ? newdict.data : "", newdict.len))
            rc = -1;
    }
    if (!rc) {
        out->first = sg[0].first;
        out->last = sg[n - 1].last;
        out->passages = (unsigned)passages;
        /* Up one only when two of the highest level merge.  (Each merge
         * went up one: --optimize after every run reached level 65 after
         * 65 runs, past what the list's reader took, and the shard no
         * longer opened for writing.) */
        unsigned lv = 0, at_lv = 0;
        for (size_t i = 0; i < n; i++) {
            if (sg[i].level > lv) {
                lv = sg[i].level;
                at_lv = 0;
            }
            at_lv += sg[i].level == lv;
        }
        out->level = at_lv > 1 && lv < GRAM_MAX_LEVEL ? lv + 1 : lv;
        out->seg_first = 1;
        out->key = whole.key;
    } else if (!*err) {
        snprintf(err, PS_ERRLEN, "character index: cannot write a merged "
                 "segment");
    }
    for (size_t i = 0; i < n; i++)
        ps_buf_free(&raw[i]);
    free(raw);
    free(d);
    ps_buf_free(&val);
    ps_buf_free(&merged);
    ps_buf_free(&newdict);
    return rc;
}

void gram_ranges_drop(unsigned (**r)[2], size_t *nr, unsigned first,
                      unsigned last)
{
    unsigned (*o)[2] = ps_xmalloc((*nr * 2 + 1) * sizeof **r);
    size_t n = 0;
    for (size_t i = 0; i < *nr; i++) {
        unsigned a = (*r)[i][0], b = (*r)[i][1];
        if (b < first || a > last) {
            o[n][0] = a;
            o[n++][1] = b;
            continue;
        }
        if (a < first) {
            o[n][0] = a;
            o[n++][1] = first - 1;
        }
        if (b > last) {
            o[n][0] = last + 1;
            o[n++][1] = b;
        }
    }
    free(*r);
    *r = o;
    *nr = n;
}

/* ---- verifying a segment against the passages' text ---- */

typedef struct rebuilt {
    strset *idx;              /* group key -> index */
    char **val;
    size_t *len;
    char *seen;
    size_t n, cap;
} rebuilt;

static int keep_rebuilt(void *ctx, const char *key, size_t klen,
                        const char *val, size_t vlen)
{
    rebuilt *r = ctx;
    if (klen < 6 || klen > 300 || memcmp(key, META_SEGDICT, 2) == 0)
        return 0;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->val = ps_xrealloc(r->val, r->cap * sizeof(char *));
        r->len = ps_xrealloc(r->len, r->cap * sizeof(size_t));
        r->seen = ps_xrealloc(r->seen, r->cap);
    }
    r->val[r->n] = ps_xmalloc(vlen + 1);
    memcpy(r->val[r->n], val, vlen);
    r->len[r->n] = vlen;
    r->seen[r->n] = 0;
    /* The group: the key without its segment (written segment first). */
    char group[300];
    memcpy(group, key, 2);
    memcpy(group + 2, key + 6, klen - 6);
    strset_put(r->idx, group, klen - 4, (int)r->n);
    r->n++;
    return 0;
}

static void rebuilt_clear(rebuilt *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->val[i]);
    strset_destroy(r->idx);
    r->idx = strset_create();
    r->n = 0;
}

static void describe_group(const char *g, size_t n, char *out, size_t cap)
{
    /* "g:" + length byte + gram: show the gram */
    if (n > 3 && (memcmp(g, META_GRAM, 2) == 0 || memcmp(g, META_UNIGRAM, 2) == 0))
        snprintf(out, cap, "%s '%.*s'", g[0] == 'g' ? "bigram" : "character",
                 (int)(n - 3), g + 3);
    else
        snprintf(out, cap, "passage lengths");
}

int gram_verify(gram_get get, void *ctx, const gram_seg *seg,
                gram_text text, void *tctx, const unsigned (*del)[2],
                size_t ndel, size_t step, size_t *problems, char *err)
{
    *problems = 0;
    char key[300];
    ps_buf dictraw, val, mine, norm;
    ps_buf_init(&dictraw);
    ps_buf_init(&val);
    ps_buf_init(&mine);
    ps_buf_init(&norm);
    size_t kl = seg_key(META_SEGDICT, seg->first, key);
    if (get(ctx, key, kl, &dictraw, err) < 0) {
        ps_buf_free(&dictraw);
        return -1;
    }
    /* The dictionary's groups. */
    size_t ng = 0, capg = 0;
    char **groups = NULL;
    unsigned char *glen = NULL;
    dict d = {(const unsigned char *)dictraw.data,
              (const unsigned char *)dictraw.data + dictraw.len, {0}, 0, 0};
    int rc = 0;
    for (;;) {
        if (dict_next(&d) < 0) {
            snprintf(err, PS_ERRLEN, "segment %u: corrupt dictionary", seg->first);
            rc = -1;
            break;
        }
        if (d.done)
            break;
        if (ng == capg) {
            capg = capg ? 2 * capg : 1024;
            groups = ps_xrealloc(groups, capg * sizeof(char *));
            glen = ps_xrealloc(glen, capg);
        }
        groups[ng] = ps_xmalloc(d.n);
        memcpy(groups[ng], d.cur, d.n);
        glen[ng++] = (unsigned char)d.n;
    }
    rebuilt r;
    memset(&r, 0, sizeof r);
    r.idx = strset_create();
    char what[64];
    for (unsigned lo = seg->first; rc == 0 && lo <= seg->last;) {
        unsigned hi = seg->last - lo + 1 > step ? lo + (unsigned)step - 1 : seg->last;
        gram_batch *b = gram_batch_create();
        size_t at = 0;
        for (unsigned doc = lo; doc <= hi && rc == 0; doc++) {
            if (gram_ranges_has(del, ndel, &at, doc))
                continue;
            int live = 0;
            norm.len = 0;
            if (text(tctx, doc, &norm, &live, err) < 0) {
                rc = -1;
                break;
            }
            if (!live)
                continue;   /* deleted and merged away: no chunk may list it */
            gram_batch_add(b, doc, norm.data ? norm.data : "", norm.len);
        }
        gram_seg got;
        rebuilt_clear(&r);
        if (rc == 0)
            gram_batch_flush(b, keep_rebuilt, &r, &got);
        gram_batch_destroy(b);
        for (size_t g = 0; g < ng && rc == 0; g++) {
            size_t kl2 = gram_chunk_key(groups[g], glen[g], seg, key);
            val.len = 0;
            if (get(ctx, key, kl2, &val, err) < 0) {
                rc = -1;
                break;
            }
            int positions = glen[g] >= 2 && memcmp(groups[g], META_GRAM, 2) == 0;
            mine.len = 0;
            describe_group(groups[g], glen[g], what, sizeof what);
            uint32_t last = 0;
            size_t kept = 0;
            if (append_chunk(&mine, &last, val.data ? val.data : "", val.len,
                             positions, lo, hi, del, ndel, &kept) < 0) {
                if ((*problems)++ < 5)
                    fprintf(stderr, "policy-index: --check: segment %u: the %s "
                            "chunk does not decode\n", seg->first, what);
                continue;
            }
            int k = strset_get(r.idx, groups[g], glen[g]);
            const char *want = k >= 0 ? r.val[k] : "";
            size_t wl = k >= 0 ? r.len[k] : 0;
            if (k >= 0)
                r.seen[k] = 1;
            if (wl != mine.len || (wl && memcmp(want, mine.data, wl) != 0)) {
                if ((*problems)++ < 5)
                    fprintf(stderr, "policy-index: --check: segment %u, passages "
                            "%u-%u: the %s chunk differs from the one rebuilt "
                            "from the passages' text\n", seg->first, lo, hi, what);
            }
        }
        for (size_t k = 0; k < r.n && rc == 0; k++)
            if (!r.seen[k] && (*problems)++ < 5)
                fprintf(stderr, "policy-index: --check: segment %u, passages "
                        "%u-%u: a gram of the text has no chunk (not in the "
                        "segment's dictionary)\n", seg->first, lo, hi);
        if (hi == seg->last)
            break;
        lo = hi + 1;
    }
    rebuilt_clear(&r);
    strset_destroy(r.idx);
    free(r.val);
    free(r.len);
    free(r.seen);
    for (size_t g = 0; g < ng; g++)
        free(groups[g]);
    free(groups);
    free(glen);
    ps_buf_free(&dictraw);
    ps_buf_free(&val);
    ps_buf_free(&mine);
    ps_buf_free(&norm);
    return rc;
}

int gram_key_segment(const char *key, size_t klen, int seg_first,
                     unsigned *seg)
{
    if (klen < 2 + 4 + 1 || (memcmp(key, META_GRAM, 2) != 0 &&
                             memcmp(key, META_UNIGRAM, 2) != 0))
        return -1;
    size_t at = seg_first ? 6 : 2;
    if ((size_t)(unsigned char)key[at] + 2 + 4 + 1 != klen)
        return -1;
    *seg = ps_get_be32(seg_first ? key + 2 : key + klen - 4);
    return 0;
}

int gram_check_chunk(const char *key, size_t klen, int seg_first,
                     const char *val, size_t vlen, unsigned mindoc,
                     unsigned maxdoc, char *err)
{
    int bigram = klen > 2 && memcmp(key, META_GRAM, 2) == 0;
    int unigram = klen > 2 && memcmp(key, META_UNIGRAM, 2) == 0;
    if (!bigram && !unigram)
        return 0;                   /* lengths and others: not checked here */
    unsigned first;
    if (gram_key_segment(key, klen, seg_first, &first) < 0) {
        snprintf(err, PS_ERRLEN, "character index: malformed key");
        return -1;
    }
    if (mindoc)
        first = mindoc;
    const unsigned char *p = (const unsigned char *)val, *end = p + vlen;
    uint32_t doc = 0, last = 0;
    int n = 0;
    while (p < end) {
        uint32_t d, v;
        if (!ps_get_varint(&p, end, &d) || (n && d == 0))
            return corrupt(err, bigram ? "bigram" : "unigram");
        doc += d;
        if (doc < last || doc > maxdoc || doc == 0) {
            snprintf(err, PS_ERRLEN, "character index: passage %u out of order "
                     "or beyond the last (%u)", doc, maxdoc);
            return -1;
        }
        if (n == 0 && doc < first) {
            snprintf(err, PS_ERRLEN, "character index: chunk starts at passage "
                     "%u, before its segment %u", doc, first);
            return -1;
        }
        last = doc;
        n++;
        if (unigram) {
            if (!ps_get_varint(&p, end, &v) || v == 0)
                return corrupt(err, "unigram");
            continue;
        }
        int npos = 0;
        for (;;) {
            if (!ps_get_varint(&p, end, &v))
                return corrupt(err, "bigram");
            if (v == 0)
                break;
            npos++;
        }
        if (!npos)
            return corrupt(err, "bigram");
    }
    if (!n)
        return corrupt(err, bigram ? "bigram" : "unigram");
    return 0;
}
