/*
 * rcache.c: see rcache.h.  Chained hash buckets for lookup, a doubly
 * linked list for recency; one mutex (lookups copy an answer out, a few
 * microseconds).
 */
#include "rcache.h"
#include "util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;          /* in its bucket */
    struct entry *prev_lru, *next_lru;
    char *key;
    size_t klen;
    char *body;
    size_t len;
    unsigned long seq;
    uint64_t hash;
} entry;

struct rcache {
    pthread_mutex_t lock;
    entry **buckets;
    size_t nbuckets, count;
    entry *head, *tail;          /* most and least recently used */
    size_t bytes, max_bytes;
    unsigned long hits, lookups;
};

static uint64_t hash_key(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

rcache *rc_create(size_t max_bytes)
{
    rcache *c = ps_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->nbuckets = 1024;
    c->buckets = ps_xcalloc(c->nbuckets, sizeof(entry *));
    c->max_bytes = max_bytes;
    return c;
}

static void entry_free(entry *e)
{
    free(e->key);
    free(e->body);
    free(e);
}

void rc_destroy(rcache *c)
{
    if (!c)
        return;
    for (entry *e = c->head; e;) {
        entry *n = e->next_lru;
        entry_free(e);
        e = n;
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static size_t cost(const entry *e)
{
    return e->klen + e->len + sizeof *e;
}

static void lru_unlink(rcache *c, entry *e)
{
    if (e->prev_lru)
        e->prev_lru->next_lru = e->next_lru;
    else
        c->head = e->next_lru;
    if (e->next_lru)
        e->next_lru->prev_lru = e->prev_lru;
    else
        c->tail = e->prev_lru;
    e->prev_lru = e->next_lru = NULL;
}

static void lru_push(rcache *c, entry *e)
{
    e->next_lru = c->head;
    e->prev_lru = NULL;
    if (c->head)
        c->head->prev_lru = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static entry **slot_of(rcache *c, const char *key, size_t klen, uint64_t h)
{
    entry **p = &c->buckets[h & (c->nbuckets - 1)];
    while (*p && !((*p)->hash == h && (*p)->klen == klen &&
                   memcmp((*p)->key, key, klen) == 0))
        p = &(*p)->next;
    return p;
}

static void remove_entry(rcache *c, entry *e)
{
    entry **p = slot_of(c, e->key, e->klen, e->hash);
    *p = e->next;
    lru_unlink(c, e);
    c->bytes -= cost(e);
    c->count--;
    entry_free(e);
}

int rc_get(rcache *c, const char *key, size_t klen, unsigned long seq,
           char **body, size_t *len)
{
    if (!c || !c->max_bytes)
        return 0;
    uint64_t h = hash_key(key, klen);
    pthread_mutex_lock(&c->lock);
    c->lookups++;
    entry *e = *slot_of(c, key, klen, h);
    int hit = e && e->seq == seq;
    if (hit) {
        c->hits++;
        lru_unlink(c, e);
        lru_push(c, e);
        *body = ps_xmalloc(e->len + 1);
        memcpy(*body, e->body, e->len);
        (*body)[e->len] = '\0';
        *len = e->len;
    } else if (e) {
        remove_entry(c, e);          /* of an older snapshot */
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void grow(rcache *c)
{
    size_t n = c->nbuckets * 2;
    entry **b = ps_xcalloc(n, sizeof(entry *));
    for (size_t i = 0; i < c->nbuckets; i++)
        for (entry *e = c->buckets[i]; e;) {
            entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

void rc_put(rcache *c, const char *key, size_t klen, unsigned long seq,
            const char *body, size_t len)
{
    if (!c || !c->max_bytes || klen + len + sizeof(entry) > c->max_bytes / 8)
        return;
    uint64_t h = hash_key(key, klen);
    pthread_mutex_lock(&c->lock);
    entry *old = *slot_of(c, key, klen, h);
    if (old)
        remove_entry(c, old);
    entry *e = ps_xcalloc(1, sizeof *e);
    e->key = ps_xmalloc(klen ? klen : 1);
    memcpy(e->key, key, klen);
    e->klen = klen;
    e->body = ps_xmalloc(len ? len : 1);
    memcpy(e->body, body, len);
    e->len = len;
    e->seq = seq;
    e->hash = h;
    entry **p = slot_of(c, key, klen, h);
    *p = e;
    lru_push(c, e);
    c->bytes += cost(e);
    c->count++;
    while (c->bytes > c->max_bytes && c->tail)
        remove_entry(c, c->tail);
    if (c->count > c->nbuckets)
        grow(c);
    pthread_mutex_unlock(&c->lock);
}

void rc_stats(rcache *c, unsigned long *hits, unsigned long *lookups)
{
    *hits = *lookups = 0;
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *lookups = c->lookups;
    pthread_mutex_unlock(&c->lock);
}
