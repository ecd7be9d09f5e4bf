/*
 * pool.h: a small process-wide pool of threads for parallel loops (a
 * query's shards evaluated at once).  The caller works on the loop too,
 * so a loop never waits for a free thread.  One loop at a time is
 * spread over the pool; a loop started while another is, or while every
 * core has a caller at work (a busy server), runs on its caller alone.
 */
#ifndef PS_POOL_H
#define PS_POOL_H

#include <stddef.h>

/* Calls fn(ctx, i) for every i in [0, n), on up to min(cores, 8) threads
 * (on the caller's alone: see above), and returns when all calls have
 * returned. */
void pool_for(size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/* A thread starting (+1) or ending (-1) work of its own that may call
 * pool_for() (a server's request): while there are as many as cores,
 * loops run on their callers alone. */
void pool_busy(int delta);

#endif
