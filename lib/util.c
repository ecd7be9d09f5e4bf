/*
 * util.c: the growable buffer, UTF-8 stepping, character classes, strict
 * number parsing and whole-file reading shared by every binary.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef PS_DATA_DIR
#define PS_DATA_DIR "data"
#endif

void *ps_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "policy-search: out of memory\n");
        abort();
    }
    return p;
}

void *ps_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fprintf(stderr, "policy-search: out of memory\n");
        abort();
    }
    return p;
}

/* ---- large blocks (see util.h) ---- */

#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
#define PS_BIG_MAPS 1
#endif

#define BIG_HUGE ((size_t)2 << 20)
#define BIG_MIN ((size_t)4 << 20)          /* smaller: from malloc */
#define BIG_KEEP 64                        /* freed blocks kept at most */
#define BIG_KEEP_MIN ((size_t)256 << 20)   /* bytes kept in any case */

/* Before each block: its mapping's size (0: from malloc); 16 bytes, so
 * the block stays aligned for any type. */
typedef struct big_head {
    size_t map;
    size_t pad;
} big_head;

#ifdef PS_BIG_MAPS
static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *base;
    size_t size;
} big_kept[BIG_KEEP];
static size_t big_nkept, big_kept_bytes;
/* Bytes handed out now, and the most ever: the blocks kept never hold
 * more than the peak (or BIG_KEEP_MIN), so what is kept scales with the
 * snapshots built, and a process that built one large one once keeps no
 * more than it had. */
static size_t big_live, big_peak;

/* Asks for huge pages for [p, p + n), a block not yet written. */
static void advise_huge(void *p, size_t n)
{
    uintptr_t a = ((uintptr_t)p + BIG_HUGE - 1) & ~(BIG_HUGE - 1);
    uintptr_t e = ((uintptr_t)p + n) & ~(BIG_HUGE - 1);
    if (e > a)
        madvise((void *)a, e - a, MADV_HUGEPAGE);
}
#endif

void *ps_big_alloc(size_t n)
{
    if (n > SIZE_MAX - BIG_HUGE - sizeof(big_head)) {
        fprintf(stderr, "policy-search: out of memory\n");
        abort();
    }
#ifdef PS_BIG_MAPS
    if (n >= BIG_MIN) {
        /* A sixteenth more, so that the next build of a slightly larger
         * index still fits the block this one frees. */
        size_t want = n + sizeof(big_head), grown = want + want / 16;
        size_t map = (grown + BIG_HUGE - 1) & ~(BIG_HUGE - 1);
        void *base = NULL;
        pthread_mutex_lock(&big_lock);
        size_t best = BIG_KEEP;
        for (size_t i = 0; i < big_nkept; i++)
            if (big_kept[i].size >= want && big_kept[i].size <= 2 * grown &&
                (best == BIG_KEEP || big_kept[i].size < big_kept[best].size))
                best = i;
        if (best < BIG_KEEP) {
            base = big_kept[best].base;
            map = big_kept[best].size;
            big_kept_bytes -= map;
            big_kept[best] = big_kept[--big_nkept];
        }
        big_live += map;
        if (big_live > big_peak)
            big_peak = big_live;
        pthread_mutex_unlock(&big_lock);
        if (!base) {
            base = mmap(NULL, map, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (base == MAP_FAILED) {
                fprintf(stderr, "policy-search: out of memory\n");
                abort();
            }
            advise_huge(base, map);
        }
        big_head *h = base;
        h->map = map;
        return h + 1;
    }
#endif
    big_head *h = ps_xmalloc(n + sizeof(big_head));
    h->map = 0;
    return h + 1;
}

void *ps_big_calloc(size_t n, size_t m)
{
    if (m && n > SIZE_MAX / m) {
        fprintf(stderr, "policy-search: out of memory\n");
        abort();
    }
    void *p = ps_big_alloc(n * m);
    memset(p, 0, n * m);
    return p;
}

void ps_big_free(void *p)
{
    if (!p)
        return;
    big_head *h = (big_head *)p - 1;
    if (!h->map) {
        free(h);
        return;
    }
#ifdef PS_BIG_MAPS
    size_t map = h->map;
    pthread_mutex_lock(&big_lock);
    big_live -= map;
    int keep = big_nkept < BIG_KEEP &&
               big_kept_bytes + map <= (big_peak > BIG_KEEP_MIN ? big_peak
                                                                : BIG_KEEP_MIN);
    if (keep) {
        big_kept[big_nkept].base = h;
        big_kept[big_nkept++].size = map;
        big_kept_bytes += map;
    }
    pthread_mutex_unlock(&big_lock);
#ifdef MADV_FREE
    if (keep)
        madvise(h, map, MADV_FREE);      /* the kernel's if it needs it */
#endif
    if (!keep)
        munmap(h, map);
#endif
}

void *ps_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "policy-search: out of memory\n");
        abort();
    }
    return q;
}

char *ps_xstrndup(const char *s, size_t n)
{
    char *p = ps_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ps_xstrdup(const char *s)
{
    return ps_xstrndup(s, strlen(s));
}

void ps_buf_init(ps_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void ps_buf_free(ps_buf *b)
{
    free(b->data);
    ps_buf_init(b);
}

void ps_buf_reserve(ps_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = ps_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0';     /* a buffer's data is always a C string */
}

void ps_buf_add(ps_buf *b, const char *s, size_t n)
{
    ps_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ps_buf_adds(ps_buf *b, const char *s)
{
    ps_buf_add(b, s, strlen(s));
}

void ps_buf_addc(ps_buf *b, char c)
{
    ps_buf_add(b, &c, 1);
}

void ps_buf_printf(ps_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    ps_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ps_buf_addcp(ps_buf *b, uint32_t cp)
{
    char t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    ps_buf_add(b, t, n);
}

size_t *ps_utf8_offsets(const char *s, size_t n, size_t *nchars)
{
    size_t count = ps_utf8_count(s, n);
    size_t *off = ps_xmalloc((count + 1) * sizeof(size_t));
    size_t i = 0, c = 0;
    while (i < n) {
        off[c++] = i;
        ps_utf8_next(s, n, &i);
    }
    off[count] = n;
    *nchars = count;
    return off;
}

void ps_buf_add_json(ps_buf *b, const char *s, size_t n)
{
    ps_buf_reserve(b, n + 2);
    ps_buf_addc(b, '"');
    size_t i = 0, run = 0;      /* s[run..i) is copied as it is */
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            int l = ps_utf8_len(c);
            if (l > 1 && i + (size_t)l <= n && ps_utf8_valid(s + i, (size_t)l)) {
                i += (size_t)l;
                continue;
            }
        }
        ps_buf_add(b, s + run, i - run);
        switch (c) {
        case '"': ps_buf_add(b, "\\\"", 2); break;
        case '\\': ps_buf_add(b, "\\\\", 2); break;
        case '\n': ps_buf_add(b, "\\n", 2); break;
        case '\t': ps_buf_add(b, "\\t", 2); break;
        case '\r': ps_buf_add(b, "\\r", 2); break;
        default:
            if (c < 0x20)
                ps_buf_printf(b, "\\u%04x", c);
            else
                ps_buf_add(b, "\xef\xbf\xbd", 3);     /* U+FFFD */
        }
        i++;
        run = i;
    }
    ps_buf_add(b, s + run, i - run);
    ps_buf_addc(b, '"');
}

void ps_buf_add_html(ps_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            ps_buf_add(b, s + start, i - start);
            ps_buf_adds(b, rep);
            start = i + 1;
        }
    }
    ps_buf_add(b, s + start, n - start);
}

void ps_buf_add_escaped(ps_buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t k = i;
        uint32_t cp = c < 0x80 ? c : ps_utf8_next(s, n, &k);
        if (k <= i)
            k = i + 1;
        if (c < 0x20 || c == 0x7F || c == '\\' || (cp >= 0x80 && cp < 0xA0) ||
            !ps_utf8_valid(s + i, k - i)) {
            for (; i < k; i++)
                ps_buf_printf(b, "\\x%02X", (unsigned char)s[i]);
            continue;
        }
        if (c < 0x80) {
            ps_buf_addc(b, (char)c);
            i++;
        } else {
            ps_buf_add(b, s + i, k - i);
            i = k;
        }
    }
    if (!b->data)
        ps_buf_add(b, "", 0);
}

char *ps_buf_steal(ps_buf *b)
{
    char *p = b->data;
    if (!p)
        p = ps_xstrdup("");
    ps_buf_init(b);
    return p;
}

int ps_utf8_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 3;
    if ((c & 0xF8) == 0xF0)
        return 4;
    return 1;
}

uint32_t ps_utf8_next(const char *str, size_t n, size_t *i)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t k = *i;
    uint32_t c = s[k];
    int len = ps_utf8_len(s[k]);
    if (len == 1 || k + (size_t)len > n) {
        *i = k + 1;
        return c;
    }
    if (len == 2)
        c = ((c & 0x1F) << 6) | (s[k + 1] & 0x3F);
    else if (len == 3)
        c = ((c & 0x0F) << 12) | ((uint32_t)(s[k + 1] & 0x3F) << 6) |
            (s[k + 2] & 0x3F);
    else
        c = ((c & 0x07) << 18) | ((uint32_t)(s[k + 1] & 0x3F) << 12) |
            ((uint32_t)(s[k + 2] & 0x3F) << 6) | (s[k + 3] & 0x3F);
    *i = k + (size_t)len;
    return c;
}

int ps_clip(const char *s, int max)
{
    size_t n = strnlen(s, max > 0 ? (size_t)max : 0);
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

void ps_utf8_scrub(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int len = ps_utf8_len((unsigned char)s[i]);
        if (len > 0 && i + (size_t)len <= n && ps_utf8_valid(s + i, (size_t)len))
            i += (size_t)len;
        else
            s[i++] = '?';
    }
}

int ps_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2; cp = c & 0x1F; min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3; cp = c & 0x0F; min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4; cp = c & 0x07; min = 0x10000;
        } else {
            return 0;
        }
        if (i + (size_t)len > n)
            return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

size_t ps_utf8_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

int ps_is_han(uint32_t cp)
{
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF) ||
           cp == 0x3007;
}

int ps_is_cjkish(uint32_t cp)
{
    if (ps_is_han(cp))
        return 1;
    if ((cp >= 0x3000 && cp <= 0x30FF) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
        (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2190 && cp <= 0x27BF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0x3200 && cp <= 0x33FF) ||
        (cp >= 0x2E80 && cp <= 0x2FDF) || (cp >= 0x25A0 && cp <= 0x25FF))
        return 1;
    if (cp < 0x80)
        return cp > 0x20 && cp < 0x7F && !ps_is_alnum(cp);
    return 0;
}

int ps_is_alnum(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
               (cp >= 'A' && cp <= 'Z');
    /* Latin-1 letters to Cyrillic: alphabetic scripts that use spaces. */
    return (cp >= 0xC0 && cp <= 0x52F && cp != 0xD7 && cp != 0xF7);
}

int ps_is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
           cp == '\f' || cp == '\v' || cp == 0xA0 || cp == 0x3000 ||
           (cp >= 0x2000 && cp <= 0x200B) || cp == 0x202F || cp == 0x205F ||
           cp == 0xFEFF;
}

int ps_parse_long(const char *s, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int ps_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int ps_parse_amount(const char *in, double *out)
{
    /* Fold full-width digits and signs to ASCII first. */
    ps_buf b;
    ps_buf_init(&b);
    size_t n = strlen(in), i = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(in, n, &i);
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            cp -= 0xFEE0;
        if (cp == ',' )
            continue;
        ps_buf_addcp(&b, cp);
    }
    if (!b.data) {
        ps_buf_free(&b);
        return -1;
    }
    static const struct { const char *suffix; double mult; } mags[] = {
        {"万亿", 1e12}, {"亿", 1e8}, {"万", 1e4}, {"千", 1e3}, {"百", 1e2},
    };
    double mult = 1;
    for (size_t k = 0; k < sizeof mags / sizeof mags[0]; k++) {
        size_t sl = strlen(mags[k].suffix);
        if (b.len > sl && strcmp(b.data + b.len - sl, mags[k].suffix) == 0) {
            b.len -= sl;
            b.data[b.len] = '\0';
            mult = mags[k].mult;
            break;
        }
    }
    double v;
    int rc = ps_parse_double(b.data, &v);
    ps_buf_free(&b);
    if (rc)
        return -1;
    *out = v * mult;
    return 0;
}

int ps_read_file(const char *path, char **data, size_t *len, char *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);   /* a FIFO must not hang us */
    if (fd < 0) {
        snprintf(err, PS_ERRLEN, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, PS_ERRLEN, "not a regular file");
        close(fd);
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *p = ps_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            p = ps_xrealloc(p, cap);
        }
        ssize_t r = read(fd, p + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, PS_ERRLEN, "read error: %s", strerror(errno));
            free(p);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    p[n] = '\0';
    *data = p;
    *len = n;
    return 0;
}

double ps_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ps_fault_on(const char *what, const char *subject)
{
    const char *f = getenv("PS_FAULT");
    size_t n = strlen(what);
    return f && strncmp(f, what, n) == 0 && f[n] == ':' &&
           strcmp(f + n + 1, subject) == 0;
}

const char *ps_data_dir(void)
{
    const char *d = getenv("POLICY_SEARCH_DATA");
    return d && *d ? d : PS_DATA_DIR;
}

#if defined(__GLIBC__) && defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
#define PS_HUGE_HEAPS 1
/* glibc gives each thread that does not share the main heap a heap of its
 * own: 64 MB of address space aligned on 64 MB, made writable as it grows
 * (all at once when the top pad is large, see below). */
#define THREAD_HEAP ((uintptr_t)64 << 20)
static int thread_heaps_huge;
extern char end;                        /* the main heap lies above it */
#endif

void ps_heap_hugepages(size_t bytes, int one_arena)
{
#ifdef PS_HUGE_HEAPS
    /* The range madvised must not be touched before: a 2 MB range with
     * one small page in it stays small.  And the heap starts wherever the
     * break was, rarely on a 2 MB line: the bytes up to the first line
     * are taken by a block that is never used (address space only). */
    const uintptr_t huge = (uintptr_t)2 << 20;
    size_t pad = bytes < ((size_t)1 << 30) ? bytes : ((size_t)1 << 30);
    pad = (pad + huge - 1) & ~(huge - 1);
    if (!pad)
        return;
    if (one_arena)
        mallopt(M_ARENA_MAX, 1);            /* the pool threads' too */
    mallopt(M_MMAP_MAX, 0);                 /* large blocks too */
    mallopt(M_TRIM_THRESHOLD, INT_MAX);     /* nothing handed back */
    mallopt(M_TOP_PAD, 0);
    /* A block larger than the heap's first free space starts where that
     * space starts: the top of the heap. */
    void *probe = malloc(256 << 10);
    if (!probe)
        return;
    uintptr_t top = (uintptr_t)probe - 2 * sizeof(size_t);
    free(probe);
    uintptr_t from = (top + 64 + huge - 1) & ~(huge - 1);
    /* The heap grown past from + pad with nothing written in between,
     * then advised, then given back to malloc, then the gap filled. */
    void *grow = malloc((size_t)(from - top) + pad);
    if (!grow)
        return;
    madvise((void *)from, pad, MADV_HUGEPAGE);
    free(grow);
    void *volatile gap = malloc((size_t)(from - top) - sizeof(size_t));
    (void)gap;                              /* kept: the heap starts at from */
    /* The top pad also makes a thread's new heap writable whole (glibc
     * caps it at the heap's size), so it can be advised at once. */
    mallopt(M_TOP_PAD, (int)pad);
    if (!one_arena)
        thread_heaps_huge = 1;
#else
    (void)bytes;
    (void)one_arena;
#endif
}

void ps_thread_heap_hugepages(void)
{
#ifdef PS_HUGE_HEAPS
    if (!thread_heaps_huge)
        return;
    void *p = malloc(64);
    if (!p)
        return;
    uintptr_t at = (uintptr_t)p;
    free(p);
    /* In the main heap (glibc ran out of heaps to give): advised already. */
    if (at >= (uintptr_t)&end && at < (uintptr_t)sbrk(0))
        return;
    madvise((void *)(at & ~(THREAD_HEAP - 1)), THREAD_HEAP, MADV_HUGEPAGE);
#endif
}

void ps_buf_varint(ps_buf *b, uint32_t v)
{
    char tmp[5];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (char)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (char)v;
    ps_buf_add(b, tmp, n);
}

int ps_table_row(const char *s, size_t n)
{
    int numbers = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t t = i;
        int digits = 0, other = 0;
        while (i < n && s[i] != ' ' && s[i] != '\t') {
            if (s[i] >= '0' && s[i] <= '9')
                digits++;
            else if (!strchr(".,%-+", s[i]))
                other++;
            i++;
        }
        if (i > t && digits && !other)
            numbers++;
    }
    return numbers >= 2;
}
