/*
 * ncache.h: what a query read from the index and decoded, kept for the
 * next query that needs the same (a read cache).
 *
 * Narrowing a search by region, sector, numbers or date, or paging on,
 * asks for the same strings again and again; a common one ("发展":
 * hundreds of thousands of passages) costs milliseconds to decode from
 * the character index each time.  Its decoded passage list is kept, and
 * so are parsed passage and document records.  What is kept is what was
 * read, not an answer: every query is still evaluated (filters, ranking,
 * counts, the page, snippets).  A cache belongs to one snapshot of the
 * index (its docids, deletions and statistics), is shared by its threads
 * and goes with it.
 *
 * Bounded in bytes (as the caller counts them); the least recently used
 * go first.  A value handed out stays valid until released, even when
 * evicted meanwhile.
 */
#ifndef PS_NCACHE_H
#define PS_NCACHE_H

#include <stddef.h>

typedef struct ncache ncache;

/* A value kept (immutable while kept). */
typedef struct ncache_ent {
    void *v;
} ncache_ent;

typedef struct ncache_stats {
    size_t entries, bytes, cap;
    unsigned long long hits, misses, evictions;
} ncache_stats;

/* A cache of at most cap bytes; free_v frees a value it lets go. */
ncache *ncache_create(size_t cap, void (*free_v)(void *v));
/* Frees the cache; every entry handed out must have been released. */
void ncache_destroy(ncache *c);
/* The entry of key[0..klen), or NULL; a non-NULL one is the caller's
 * until ncache_release(). */
const ncache_ent *ncache_get(ncache *c, const void *key, size_t klen);
/* Keeps v, which costs bytes, under key; v is the cache's from here on
 * (freed at once when not kept: above a quarter of the cap, or a key
 * already there). */
void ncache_put(ncache *c, const void *key, size_t klen, void *v,
                size_t bytes);
void ncache_release(ncache *c, const ncache_ent *e);
void ncache_stats_get(ncache *c, ncache_stats *out);

#endif
