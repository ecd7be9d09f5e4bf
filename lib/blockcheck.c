/*
** blockcheck.c - every block of a Xapian table is checked before
** libxapian reads it.
**
** libxapian 1.4's glass B-tree carries no checksums and trusts the offsets
** and lengths inside a block: a flipped byte in an item's directory entry
** or length has it read up to 64 KB past the block's buffer, which returns
** garbage or kills the process (seen under the sanitizer build with 100
** flipped bytes in a shard's postlist.glass).  So the process's pread()
** is this one: libxapian calls pread through its PLT, and a definition in
** the executable comes first.  A read of one whole block of a *.glass file
** has its structure checked (header, directory, each item inside the
** block); a block that fails reads as EUCLEAN, "Structure needs cleaning",
** the errno Linux file systems give for damaged metadata.  libxapian then
** throws "Error reading block N", which the searcher names by shard like
** any other damage.  What the check cannot see (a flipped byte inside a
** key or a tag) stays the posting decoders' and the full check's job.
**
** Every other pread (documents, libmicrohttpd's file responses) goes to
** the kernel unchanged; a read has its file looked at only when its shape
** is a block's (a power of two from 2 to 64 KB, at a multiple of it).
** close() is ours too, only to forget what it learnt of a descriptor.
*/
#include "blockcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The block layout (glass_table.h of libxapian 1.4): a header of
 * REVISION(4) LEVEL(1) MAX_FREE(2) TOTAL_FREE(2) DIR_END(2), then a
 * directory of 2-byte offsets up to DIR_END, each to an item.  A leaf
 * item (level 0) is
 *     I(2: 3 flag bits, size - 3) K(1: key length) key [X(2)] tag
 * where X, the component number, is left out of a tag's first component
 * (flag 0x20); a branch item is
 *     block(4) K(1) key X(2).
 * Free-list blocks are marked by level 254. */
enum { DIR_START = 11, LEVEL_FREELIST = 254, I_FIRST_BIT = 0x2000,
       ITEM_SIZE_MASK = 0x1fff };

static unsigned get2(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

int blockcheck_block(const unsigned char *b, size_t n)
{
    if (n < DIR_START || n > 65536)
        return -1;
    unsigned level = b[4];
    if (level == LEVEL_FREELIST)
        return 0;
    unsigned dir_end = get2(b + 9);
    if (dir_end < DIR_START || dir_end > n || (dir_end - DIR_START) % 2)
        return -1;
    for (unsigned c = DIR_START; c < dir_end; c += 2) {
        unsigned o = get2(b + c);
        if (o < dir_end || o + (level ? 7u : 3u) > n)
            return -1;
        if (level) {
            if (o + 7 + b[o + 4] > n)
                return -1;
            continue;
        }
        unsigned i = get2(b + o), size = (i & ITEM_SIZE_MASK) + 3;
        unsigned least = 3 + b[o + 2] + (i & I_FIRST_BIT ? 0 : 2);
        if (size < least || o + size > n)
            return -1;
    }
    return 0;
}

/* What is known of a descriptor: learnt from its name and open flags on
 * the first block read, forgotten when the descriptor is closed
 * (libxapian closes its tables through close(), which is also ours), so
 * a block read costs no system call beyond the read itself.
 *
 * In a process that answers many queries (a server, a batch: after
 * blockcheck_warm()), a table opened read-only is read through a shared
 * mapping of the file instead of pread(): a block read through the
 * kernel costs a system call and a copy (about 3 µs here, and a small
 * query reads a hundred blocks), a block read from a mapping a copy.
 * The mapping shows the same page cache the system call reads, so a
 * writer's new blocks are seen alike; blocks past the file's length when
 * it was mapped are read through the kernel.  A table libxapian writes
 * (opened read-write) is never mapped.  libxapian's tables only grow,
 * and this project replaces a table by renaming a new directory into
 * place; but a file copied over a table in place is cut short while it
 * is mapped, and reading a page past its new end raises SIGBUS.  That
 * signal, met while a block is copied, makes the read go through the
 * kernel instead (for that file from then on), which gives libxapian a
 * short read and the caller an error naming the shard.
 *
 * A page of a mapping costs a fault on its first read, so each new
 * mapping is populated by a thread of its own, in the background, while
 * the process answers: up to a quarter of the machine's memory in all;
 * the tables of a larger index fault in as they are read.  A file has
 * one mapping however many handles read it.  A one-off query reads too
 * few blocks for a mapping to pay: it keeps pread(). */
enum { SLOTS = 4096, UNKNOWN = 0, GLASS = 1, OTHER = 2, MAPPED = 3 };
static _Atomic unsigned char kind[SLOTS];

/* One mapping a file (a server's request threads each hold a handle on
 * the same tables), shared by the descriptors open on it at its length. */
typedef struct mapping {
    dev_t dev;
    ino_t ino;
    unsigned char *base;
    size_t len;
    int refs;               /* descriptors reading through it, and its
                               populating thread */
    int warmed;             /* counted in warm_bytes */
    atomic_int cut;         /* the file was found shorter: read through
                               the kernel from now on */
    struct mapping *next;
} mapping;
static mapping *fdmap[SLOTS];   /* valid while kind[fd] == MAPPED */
static mapping *mappings;       /* every live one (under learning) */
static pthread_mutex_t learning = PTHREAD_MUTEX_INITIALIZER;
static atomic_int warm;         /* map read-only tables */
static size_t warm_bytes;       /* of the live mappings populated (under
                                   learning) */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22   /* Linux 5.14; older kernels say EINVAL */
#endif

/* The copy a thread is making from a mapping, for the SIGBUS handler
 * (volatile: the copy must not be moved out from under it). */
static _Thread_local sigjmp_buf *volatile copying;
static struct sigaction before;     /* SIGBUS's handling until then */

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    sigjmp_buf *j = copying;
    if (j) {
        copying = NULL;
        siglongjmp(*j, 1);      /* SA_NODEFER: nothing to unblock */
    }
    /* Not ours: as it would have been handled without us. */
    sigaction(SIGBUS, &before, NULL);
    if (before.sa_flags & SA_SIGINFO)
        before.sa_sigaction(sig, si, uc);
    else if (before.sa_handler != SIG_IGN && before.sa_handler != SIG_DFL)
        before.sa_handler(sig);
    else
        raise(sig);
}

void blockcheck_warm(void)
{
    if (atomic_exchange(&warm, 1))
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &before);
}

/* Copies count bytes at offset of m into buf; -1 if the file turned out
 * to be shorter (SIGBUS). */
static int copy_block(mapping *m, void *buf, size_t count, off_t offset)
{
    sigjmp_buf j;
    if (sigsetjmp(j, 0)) {
        atomic_store(&m->cut, 1);
        return -1;
    }
    copying = &j;
    memcpy(buf, m->base + offset, count);
    copying = NULL;
    return 0;
}

static void unmap_file(mapping *m);

/* The populating thread holds a reference of its own: the mapping stays
 * until it is done, even if every descriptor on it closes before. */
static void *populate(void *arg)
{
    mapping *m = arg;
    madvise(m->base, m->len, MADV_POPULATE_READ);
    pthread_mutex_lock(&learning);
    unmap_file(m);
    pthread_mutex_unlock(&learning);
    return NULL;
}

/* Under learning. */
static void start_warming(mapping *m)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psize <= 0 ||
        warm_bytes + m->len > (size_t)pages / 4 * (size_t)psize)
        return;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    m->refs++;
    if (pthread_create(&t, &a, populate, m) == 0) {
        m->warmed = 1;
        warm_bytes += m->len;
    } else {
        m->refs--;
    }
    pthread_attr_destroy(&a);
}

/* fd's file mapped at its current length, shared if it already is; NULL
 * if it cannot be.  Under learning. */
static mapping *map_file(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY || fstat(fd, &st) < 0 ||
        !S_ISREG(st.st_mode) || st.st_size <= 0)
        return NULL;
    for (mapping *m = mappings; m; m = m->next)
        if (m->dev == st.st_dev && m->ino == st.st_ino &&
            m->len == (size_t)st.st_size) {
            m->refs++;
            return m;
        }
    mapping *m = malloc(sizeof *m);
    if (!m)
        return NULL;
    void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        free(m);
        return NULL;
    }
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->base = base;
    m->len = (size_t)st.st_size;
    m->refs = 1;
    m->warmed = 0;
    atomic_init(&m->cut, 0);
    m->next = mappings;
    mappings = m;
    start_warming(m);
    return m;
}

/* Under learning. */
static void unmap_file(mapping *m)
{
    if (--m->refs > 0)
        return;
    for (mapping **p = &mappings; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    munmap(m->base, m->len);
    if (m->warmed)
        warm_bytes -= m->len;
    free(m);
}

/* Under learning when fd is in [0, SLOTS). */
static unsigned char learn(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    if (!(len > 6 && memcmp(path + len - 6, ".glass", 6) == 0))
        return OTHER;
    if (fd < 0 || fd >= SLOTS || !atomic_load(&warm))
        return GLASS;
    fdmap[fd] = map_file(fd);
    return fdmap[fd] ? MAPPED : GLASS;
}

static unsigned char kind_of(int fd)
{
    if (fd < 0 || fd >= SLOTS)
        return learn(fd);
    unsigned char k = atomic_load_explicit(&kind[fd], memory_order_acquire);
    if (k != UNKNOWN)
        return k;
    pthread_mutex_lock(&learning);
    k = atomic_load_explicit(&kind[fd], memory_order_acquire);
    if (k == UNKNOWN) {
        k = learn(fd);
        atomic_store_explicit(&kind[fd], k, memory_order_release);
    }
    pthread_mutex_unlock(&learning);
    return k;
}

/* A table's descriptor is forgotten and closed under the lock that
 * learning takes: once its number is free, another thread may open a
 * table under it and map that, and nothing of the old one may touch the
 * new mapping.  (Only a read racing the close of its own descriptor, a
 * fault of the caller's, could still meet a mapping being unmapped.) */
int close(int fd)
{
    if (fd < 0 || fd >= SLOTS)
        return (int)syscall(SYS_close, fd);
    unsigned char k = atomic_load_explicit(&kind[fd], memory_order_acquire);
    if (k == GLASS || k == MAPPED) {
        pthread_mutex_lock(&learning);
        if (atomic_load_explicit(&kind[fd], memory_order_acquire) == MAPPED)
            unmap_file(fdmap[fd]);
        fdmap[fd] = NULL;
        atomic_store_explicit(&kind[fd], UNKNOWN, memory_order_release);
        int rc = (int)syscall(SYS_close, fd);
        pthread_mutex_unlock(&learning);
        return rc;
    }
    atomic_store_explicit(&kind[fd], UNKNOWN, memory_order_release);
    int rc = (int)syscall(SYS_close, fd);
    /* A read racing the close may have learnt the old file as another
     * kind than a table's; forgetting that is harmless. */
    unsigned char other = OTHER;
    atomic_compare_exchange_strong(&kind[fd], &other, UNKNOWN);
    return rc;
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    unsigned char k = UNKNOWN;
    if (count >= 2048 && count <= 65536 && !(count & (count - 1)) &&
        offset >= 0 && offset % (off_t)count == 0)
        k = kind_of(fd);
    if (k == MAPPED && (size_t)offset + count <= fdmap[fd]->len &&
        !atomic_load_explicit(&fdmap[fd]->cut, memory_order_relaxed) &&
        copy_block(fdmap[fd], buf, count, offset) == 0) {
        if (blockcheck_block(buf, count) != 0) {
            errno = EUCLEAN;
            return -1;
        }
        return (ssize_t)count;
    }
    ssize_t got = syscall(SYS_pread64, fd, buf, count, offset);
    if (k == UNKNOWN || k == OTHER || got <= 0 || (size_t)got != count)
        return got;
    if (blockcheck_block(buf, count) != 0) {
        errno = EUCLEAN;
        return -1;
    }
    return got;
}
