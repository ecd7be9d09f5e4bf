/*
 * ncache.h: the passages of a query string, kept for the next query that
 * asks for the same string (a postings cache).
 *
 * Narrowing a search by region, sector, numbers or date, or paging on,
 * asks for the same strings again and again; a common one ("发展":
 * hundreds of thousands of passages) costs milliseconds to decode from
 * the character index each time.  What is kept is the decoded list, not
 * an answer: every query is still evaluated (filters, ranking, counts,
 * the page).  A cache belongs to one snapshot of the index (its docids,
 * deletions and statistics), is shared by its threads and goes with it.
 *
 * Bounded in bytes; the least recently used strings go first.  An entry
 * handed out stays valid until released, even when evicted meanwhile.
 */
#ifndef PS_NCACHE_H
#define PS_NCACHE_H

#include <stddef.h>

typedef struct ncache ncache;

/* One string's passages: database docids, ascending, and each one's
 * BM25 weight (idf included).  Immutable. */
typedef struct ncache_ent {
    const unsigned *ids;
    const double *w;
    size_t n;
} ncache_ent;

typedef struct ncache_stats {
    size_t entries, bytes, cap;
    unsigned long long hits, misses, evictions;
} ncache_stats;

/* A cache of at most cap bytes (entries and their keys). */
ncache *ncache_create(size_t cap);
/* Frees the cache; every entry handed out must have been released. */
void ncache_destroy(ncache *c);
/* The entry of key[0..klen), or NULL; a non-NULL one is the caller's
 * until ncache_release(). */
const ncache_ent *ncache_get(ncache *c, const char *key, size_t klen);
/* Keeps a copy of ids/w[0..n) under key (replacing nothing: a key
 * already there stays).  An entry above an eighth of the cap is not
 * kept. */
void ncache_put(ncache *c, const char *key, size_t klen, const unsigned *ids,
                const double *w, size_t n);
void ncache_release(ncache *c, const ncache_ent *e);
void ncache_stats_get(ncache *c, ncache_stats *out);

#endif
