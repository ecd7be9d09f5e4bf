/*
 * deflate_level.c: the indexer's deflate streams store, they do not
 * compress.
 *
 * Xapian 1.4 deflates every entry of its termlist table (zlib level 6,
 * memLevel 9) and has no setting to turn that off.  Here that table
 * holds a passage's boolean terms (file, regions, sector, units, the
 * document's metadata): a few dozen bytes each, which deflate cannot
 * shorten (on 20 MB of reports: 2.11 MB stored, 2.20 MB "compressed"),
 * yet deflating them, and clearing deflate's 128 KB hash table before
 * each one, was a sixth of the indexer's CPU.  The passage text and the
 * character index are metadata, which Xapian never compresses.
 *
 * policy-index therefore defines deflateInit2_ itself: the dynamic linker
 * binds libxapian's calls to this definition, which asks zlib for stored
 * blocks and the smallest hash.  Xapian then sees a "compressed" entry
 * no shorter than the input and keeps the entry as it is, exactly as it
 * does with any entry deflate cannot shrink, so the index format does
 * not change and every reader reads both.  Only this program is linked
 * with it; nothing else in it deflates (documents are read, never
 * written, and the extractors run in policy-extract).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <zlib.h>

typedef int (*init2_fn)(z_streamp, int, int, int, int, int, const char *,
                        int);

static init2_fn real_init2;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void find_real(void)
{
    real_init2 = (init2_fn)dlsym(RTLD_NEXT, "deflateInit2_");
}

int deflateInit2_(z_streamp strm, int level, int method, int window_bits,
                  int mem_level, int strategy, const char *version,
                  int stream_size);

int deflateInit2_(z_streamp strm, int level, int method, int window_bits,
                  int mem_level, int strategy, const char *version,
                  int stream_size)
{
    (void)level;
    (void)mem_level;
    pthread_once(&once, find_real);
    if (!real_init2)
        return Z_VERSION_ERROR;     /* Xapian reports a zlib error */
    return real_init2(strm, Z_NO_COMPRESSION, method, window_bits, 1,
                      strategy, version, stream_size);
}
