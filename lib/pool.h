/*
 * pool.h: a small process-wide pool of threads for parallel loops (a
 * query's shards evaluated at once).  The caller works on the loop too,
 * so a loop never waits for a free thread; loops from several threads
 * share the pool.
 */
#ifndef PS_POOL_H
#define PS_POOL_H

#include <stddef.h>

/* Calls fn(ctx, i) for every i in [0, n), on up to min(cores, 8) threads,
 * and returns when all calls have returned. */
void pool_for(size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

#endif
