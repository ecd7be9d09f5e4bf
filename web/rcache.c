/*
 * rcache.c: see rcache.h.  A read cache (ncache.h) whose key is the
 * snapshot's number and the request's: an answer of an older snapshot
 * is never looked up again and ages out.  A lookup copies the answer
 * out (a few microseconds).
 */
#include "rcache.h"
#include "ncache.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct rcache {
    ncache *nc;               /* NULL: keeps nothing */
};

typedef struct answer {
    size_t len;
    char body[];
} answer;

rcache *rc_create(size_t max_bytes)
{
    rcache *c = ps_xcalloc(1, sizeof *c);
    if (max_bytes)
        c->nc = ncache_create(max_bytes, free);
    return c;
}

void rc_destroy(rcache *c)
{
    if (!c)
        return;
    ncache_destroy(c->nc);
    free(c);
}

/* seq's bytes, then the request's. */
static char *full_key(const char *key, size_t klen, unsigned long seq,
                      size_t *n)
{
    *n = sizeof seq + klen;
    char *k = ps_xmalloc(*n);
    memcpy(k, &seq, sizeof seq);
    memcpy(k + sizeof seq, key, klen);
    return k;
}

int rc_get(rcache *c, const char *key, size_t klen, unsigned long seq,
           char **body, size_t *len)
{
    if (!c || !c->nc)
        return 0;
    size_t n;
    char *k = full_key(key, klen, seq, &n);
    const ncache_ent *e = ncache_get(c->nc, k, n);
    free(k);
    if (!e)
        return 0;
    const answer *a = e->v;
    *body = ps_xmalloc(a->len + 1);
    memcpy(*body, a->body, a->len);
    (*body)[a->len] = '\0';
    *len = a->len;
    ncache_release(c->nc, e);
    return 1;
}

void rc_put(rcache *c, const char *key, size_t klen, unsigned long seq,
            const char *body, size_t len)
{
    if (!c || !c->nc)
        return;
    answer *a = ps_xmalloc(sizeof *a + len);
    a->len = len;
    memcpy(a->body, body, len);
    size_t n;
    char *k = full_key(key, klen, seq, &n);
    ncache_put(c->nc, k, n, a, sizeof *a + len);
    free(k);
}

void rc_stats(rcache *c, unsigned long *hits, unsigned long *lookups)
{
    *hits = *lookups = 0;
    if (!c || !c->nc)
        return;
    ncache_stats st;
    ncache_stats_get(c->nc, &st);
    *hits = (unsigned long)st.hits;
    *lookups = (unsigned long)(st.hits + st.misses);
}
