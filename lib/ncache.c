/*
 * ncache.c: see ncache.h.  A chained hash table and a list from the most
 * to the least recently used entry, under one mutex held only to find,
 * link or unlink (never while a list is copied or read).
 */
#include "ncache.h"
#include "util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    ncache_ent pub;           /* first: a handed-out pointer is the item */
    char *key;
    size_t klen, bytes;
    uint32_t hash;
    int refs;                 /* handed out and not released */
    int dead;                 /* evicted: freed at its last release */
    struct item *hnext;       /* in its bucket */
    struct item *newer, *older;
} item;

struct ncache {
    pthread_mutex_t lock;
    void (*free_v)(void *v);
    size_t cap, used, count;
    item **tab;
    size_t ntab;              /* a power of two */
    item *newest, *oldest;
    unsigned long long hits, misses, evictions;
};

static uint32_t fnv(const void *key, size_t n)
{
    const unsigned char *s = key;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

ncache *ncache_create(size_t cap, void (*free_v)(void *v))
{
    ncache *c = ps_xcalloc(1, sizeof *c);
    c->free_v = free_v;
    pthread_mutex_init(&c->lock, NULL);
    c->cap = cap;
    c->ntab = 64;
    c->tab = ps_xcalloc(c->ntab, sizeof(item *));
    return c;
}

static void item_free(ncache *c, item *it)
{
    c->free_v(it->pub.v);
    free(it->key);
    free(it);
}

void ncache_destroy(ncache *c)
{
    if (!c)
        return;
    for (item *it = c->newest, *next; it; it = next) {
        next = it->older;
        item_free(c, it);
    }
    free(c->tab);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static item **slot_of(ncache *c, const void *key, size_t klen, uint32_t h)
{
    item **p = &c->tab[h & (c->ntab - 1)];
    while (*p && ((*p)->hash != h || (*p)->klen != klen ||
                  memcmp((*p)->key, key, klen) != 0))
        p = &(*p)->hnext;
    return p;
}

static void list_unlink(ncache *c, item *it)
{
    if (it->newer)
        it->newer->older = it->older;
    else
        c->newest = it->older;
    if (it->older)
        it->older->newer = it->newer;
    else
        c->oldest = it->newer;
    it->newer = it->older = NULL;
}

static void list_push(ncache *c, item *it)
{
    it->newer = NULL;
    it->older = c->newest;
    if (c->newest)
        c->newest->newer = it;
    c->newest = it;
    if (!c->oldest)
        c->oldest = it;
}

const ncache_ent *ncache_get(ncache *c, const void *key, size_t klen)
{
    uint32_t h = fnv(key, klen);
    pthread_mutex_lock(&c->lock);
    item *it = *slot_of(c, key, klen, h);
    if (it) {
        it->refs++;
        c->hits++;
        if (c->newest != it) {
            list_unlink(c, it);
            list_push(c, it);
        }
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return it ? &it->pub : NULL;
}

/* Unlinks the oldest entry (under the lock); returns it when nobody
 * holds it (the caller frees it after unlocking), else NULL. */
static item *evict_oldest(ncache *c)
{
    item *it = c->oldest;
    *slot_of(c, it->key, it->klen, it->hash) = it->hnext;
    list_unlink(c, it);
    c->used -= it->bytes;
    c->count--;
    c->evictions++;
    if (it->refs)
        it->dead = 1;
    return it->refs ? NULL : it;
}

static void grow(ncache *c)
{
    size_t n = c->ntab * 2;
    item **tab = ps_xcalloc(n, sizeof(item *));
    for (size_t b = 0; b < c->ntab; b++)
        for (item *it = c->tab[b], *next; it; it = next) {
            next = it->hnext;
            it->hnext = tab[it->hash & (n - 1)];
            tab[it->hash & (n - 1)] = it;
        }
    free(c->tab);
    c->tab = tab;
    c->ntab = n;
}

void ncache_put(ncache *c, const void *key, size_t klen, void *v,
                size_t bytes)
{
    bytes += sizeof(item) + klen;
    if (bytes > c->cap / 4) {
        c->free_v(v);
        return;
    }
    item *it = ps_xcalloc(1, sizeof *it);
    it->pub.v = v;
    it->key = ps_xmalloc(klen + 1);
    memcpy(it->key, key, klen);
    it->key[klen] = '\0';
    it->klen = klen;
    it->bytes = bytes;
    it->hash = fnv(key, klen);
    item *gone = NULL;        /* evicted, freed after unlocking */
    pthread_mutex_lock(&c->lock);
    item **p = slot_of(c, key, klen, it->hash);
    if (*p) {                  /* another thread put it first */
        pthread_mutex_unlock(&c->lock);
        item_free(c, it);
        return;
    }
    while (c->oldest && c->used + bytes > c->cap) {
        item *g = evict_oldest(c);
        if (g) {
            g->older = gone;
            gone = g;
        }
    }
    p = slot_of(c, key, klen, it->hash);   /* evictions moved links */
    *p = it;
    list_push(c, it);
    c->used += bytes;
    c->count++;
    if (c->count > c->ntab)
        grow(c);
    pthread_mutex_unlock(&c->lock);
    while (gone) {
        item *next = gone->older;
        item_free(c, gone);
        gone = next;
    }
}

void ncache_release(ncache *c, const ncache_ent *e)
{
    if (!e)
        return;
    item *it = (item *)e;
    pthread_mutex_lock(&c->lock);
    int last = --it->refs == 0 && it->dead;
    pthread_mutex_unlock(&c->lock);
    if (last)
        item_free(c, it);
}

void ncache_stats_get(ncache *c, ncache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    out->entries = c->count;
    out->bytes = c->used;
    out->cap = c->cap;
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->lock);
}
