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
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
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

/* Whether fd is a *.glass file: learnt from its name on the first block
 * read, forgotten when the descriptor is closed (libxapian closes its
 * tables through close(), which is also ours), so a block read costs no
 * system call beyond the read itself. */
enum { SLOTS = 4096, UNKNOWN = 0, GLASS = 1, OTHER = 2 };
static _Atomic unsigned char kind[SLOTS];

static int is_glass(int fd)
{
    if (fd >= 0 && fd < SLOTS) {
        unsigned char k = atomic_load_explicit(&kind[fd], memory_order_relaxed);
        if (k != UNKNOWN)
            return k == GLASS;
    }
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    int glass = len > 6 && memcmp(path + len - 6, ".glass", 6) == 0;
    if (fd >= 0 && fd < SLOTS)
        atomic_store_explicit(&kind[fd], glass ? GLASS : OTHER, memory_order_relaxed);
    return glass;
}

int close(int fd)
{
    if (fd >= 0 && fd < SLOTS)
        atomic_store_explicit(&kind[fd], UNKNOWN, memory_order_relaxed);
    int rc = (int)syscall(SYS_close, fd);
    if (fd >= 0 && fd < SLOTS)      /* a read racing the close re-learnt it */
        atomic_store_explicit(&kind[fd], UNKNOWN, memory_order_relaxed);
    return rc;
}

ssize_t pread(int fd, void *buf, size_t count, off_t offset)
{
    ssize_t got = syscall(SYS_pread64, fd, buf, count, offset);
    if (got <= 0 || (size_t)got != count || count < 2048 || count > 65536 ||
        (count & (count - 1)) || offset % (off_t)count)
        return got;
    if (is_glass(fd) && blockcheck_block(buf, count) != 0) {
        errno = EUCLEAN;
        return -1;
    }
    return got;
}
