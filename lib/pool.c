/*
 * pool.c: see pool.h.  Jobs live on their callers' stacks and are listed
 * while they have indices left; a job is unlisted and its caller returns
 * only once no thread is inside it.
 */
#include "pool.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define POOL_MAX 8

typedef struct job {
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    atomic_size_t next;     /* the next index to take */
    size_t done;            /* calls returned (under the pool's lock) */
    int users;              /* pool threads inside (under the lock) */
    pthread_cond_t finished;
    struct job *link;
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static job *jobs;           /* with indices left */
static int nthreads = -1;   /* pool threads; -1 before the first loop */
static int running;         /* loops spread over the pool (under the lock) */
static atomic_int busy;     /* callers at work of their own (pool_busy) */

void pool_busy(int delta)
{
    atomic_fetch_add(&busy, delta);
}

/* Takes indices of j until none are left; returns how many were run. */
static size_t drain(job *j)
{
    size_t ran = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            return ran;
        j->fn(j->ctx, i);
        ran++;
    }
}

static void unlist(job *j)
{
    for (job **p = &jobs; *p; p = &(*p)->link)
        if (*p == j) {
            *p = j->link;
            return;
        }
}

static void *worker(void *arg)
{
    (void)arg;
    ps_thread_heap_hugepages();
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!jobs)
            pthread_cond_wait(&work, &lock);
        job *j = jobs;
        if (atomic_load(&j->next) >= j->n) {
            unlist(j);
            continue;
        }
        j->users++;
        pthread_mutex_unlock(&lock);
        size_t ran = drain(j);
        pthread_mutex_lock(&lock);
        unlist(j);
        j->users--;
        j->done += ran;
        if (j->done == j->n && j->users == 0)
            pthread_cond_broadcast(&j->finished);
    }
    return NULL;
}

static void start(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int want = (int)(cores > POOL_MAX ? POOL_MAX : cores < 1 ? 1 : cores) - 1;
    nthreads = 0;
    for (int i = 0; i < want; i++) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, worker, NULL) == 0)
            nthreads++;
        pthread_attr_destroy(&a);
    }
}

void pool_for(size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    pthread_mutex_lock(&lock);
    if (nthreads < 0)
        start();
    /* While another loop has the pool, or every core has a caller at
     * work (a server answering requests on each), this one runs on its
     * caller alone: handing work between threads then only costs
     * (wake-ups, lock traffic, cold caches; a sixth of a busy server's
     * throughput). */
    int alone = nthreads == 0 || n < 2 || running > 0 ||
                atomic_load(&busy) > nthreads;
    if (!alone)
        running++;
    pthread_mutex_unlock(&lock);
    if (alone) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    job j;
    j.fn = fn;
    j.ctx = ctx;
    j.n = n;
    atomic_init(&j.next, 0);
    j.done = 0;
    j.users = 0;
    pthread_cond_init(&j.finished, NULL);
    pthread_mutex_lock(&lock);
    j.link = jobs;
    jobs = &j;
    pthread_cond_broadcast(&work);
    pthread_mutex_unlock(&lock);
    size_t ran = drain(&j);
    pthread_mutex_lock(&lock);
    unlist(&j);
    j.done += ran;
    while (j.done < j.n || j.users > 0)
        pthread_cond_wait(&j.finished, &lock);
    running--;
    pthread_mutex_unlock(&lock);
    pthread_cond_destroy(&j.finished);
}
