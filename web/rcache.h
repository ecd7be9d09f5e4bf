/*
 * rcache.h: answers kept for the same search asked again.
 *
 * A byte-bounded LRU map (ncache.h) from a request's canonical form to
 * its JSON answer, each keyed with the index snapshot it was computed
 * on: an entry answers only while that snapshot is the index's current
 * one, so a commit makes every older answer unreachable (they age out).
 * Safe to use from every worker thread.
 */
#ifndef PS_RCACHE_H
#define PS_RCACHE_H

#include <stddef.h>

typedef struct rcache rcache;

/* max_bytes 0: a cache that keeps nothing. */
rcache *rc_create(size_t max_bytes);
void rc_destroy(rcache *c);
/* 1 with a copy of the answer in *body (caller frees) when key was
 * answered on snapshot seq; 0 otherwise. */
int rc_get(rcache *c, const char *key, size_t klen, unsigned long seq,
           char **body, size_t *len);
/* Keeps body as key's answer on snapshot seq (answers over a quarter
 * of the cache are not kept). */
void rc_put(rcache *c, const char *key, size_t klen, unsigned long seq,
            const char *body, size_t len);
/* Hits and lookups so far. */
void rc_stats(rcache *c, unsigned long *hits, unsigned long *lookups);

#endif
