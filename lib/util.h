/*
 * util.h: small shared helpers: a growable byte buffer, UTF-8 stepping,
 * strict number parsing and file reading.
 *
 * Conventions: functions that can fail return 0 on success and -1 on
 * failure, with a message in a caller-supplied `char err[PS_ERRLEN]`.
 * Memory returned to the caller is freed with free() unless a comment
 * says otherwise.  Allocation failure aborts: there is nothing sensible
 * a search tool can do without memory.
 */
#ifndef PS_UTIL_H
#define PS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define PS_ERRLEN 256

/* A growable, always NUL-terminated byte buffer. */
typedef struct ps_buf {
    char *data;
    size_t len;
    size_t cap;
} ps_buf;

void ps_buf_init(ps_buf *b);
void ps_buf_free(ps_buf *b);
void ps_buf_reserve(ps_buf *b, size_t extra);
void ps_buf_add(ps_buf *b, const char *s, size_t n);
void ps_buf_adds(ps_buf *b, const char *s);
void ps_buf_addc(ps_buf *b, char c);
void ps_buf_printf(ps_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends code point cp as UTF-8. */
void ps_buf_addcp(ps_buf *b, uint32_t cp);
/* Appends s[0..n) as a JSON string: quoted, with quotes, backslashes and
 * control characters escaped (RFC 8259); invalid UTF-8 bytes become
 * U+FFFD. */
void ps_buf_add_json(ps_buf *b, const char *s, size_t n);
/* Appends s HTML-escaped (& < > " '). */
void ps_buf_add_html(ps_buf *b, const char *s, size_t n);
/* Gives up ownership of the data; caller frees with free(). */
char *ps_buf_steal(ps_buf *b);
/* LEB128 varints: appends v to b; reads one at *p (< end), 0 at a
 * truncated or overlong one. */
void ps_buf_varint(ps_buf *b, uint32_t v);
static inline int ps_get_varint(const unsigned char **p,
                                const unsigned char *end, uint32_t *v)
{
    if (*p < end && **p < 0x80) {       /* most are one byte */
        *v = *(*p)++;
        return 1;
    }
    if (end - *p >= 2 && (*p)[1] < 0x80) {      /* positions: often two */
        *v = ((*p)[0] & 0x7fu) | (uint32_t)(*p)[1] << 7;
        *p += 2;
        return 1;
    }
    uint32_t x = 0;
    for (int shift = 0; shift < 35 && *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        x |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}
/* Appends s[0..n) with control characters (C0, DEL, C1) and backslashes
 * escaped as \\xNN: safe to print on a terminal or into a log line. */
void ps_buf_add_escaped(ps_buf *b, const char *s, size_t n);

void *ps_xmalloc(size_t n);
void *ps_xcalloc(size_t n, size_t m);
/* Large arrays (a snapshot's, rebuilt after every commit to the index):
 * blocks of 4 MB or more are mappings of their own, advised for huge
 * pages, and kept when freed (up to 64 of them, and as many bytes as were
 * ever handed out at once, which the kernel may take back: MADV_FREE) for
 * the next build to reuse.  glibc gives a
 * thread's block larger than its heap a fresh mapping, faulted in and
 * zeroed 4 KB at a time and unmapped again on free: at 1 GB, a third of
 * every rebuild of a server's snapshot.  ps_big_alloc's bytes are
 * undefined; free with ps_big_free() only. */
void *ps_big_alloc(size_t n);
void *ps_big_calloc(size_t n, size_t m);
void ps_big_free(void *p);
void *ps_xrealloc(void *p, size_t n);
char *ps_xstrdup(const char *s);
char *ps_xstrndup(const char *s, size_t n);

/* Decodes one UTF-8 code point at s[*i] (i < n) and advances *i.  Input
 * must be valid UTF-8 (text inside the engine always is). */
uint32_t ps_utf8_next(const char *s, size_t n, size_t *i);
/* Returns the number of bytes of the UTF-8 sequence starting with c. */
int ps_utf8_len(unsigned char c);
/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
int ps_utf8_valid(const char *s, size_t n);
/* 1 for text that reads as a table's row: two numbers or more standing
 * apart ("敖汉旗 98.2 2.9"), which no title or heading has. */
int ps_table_row(const char *s, size_t n);
/* How many bytes of s to print as "%.*s" for at most max of them: never
 * half a character (a message cut inside one is not UTF-8, and JSON
 * cannot carry it). */
int ps_clip(const char *s, int max);
/* Replaces each byte of s that is not part of valid UTF-8 with '?'. */
void ps_utf8_scrub(char *s);
/* Number of code points in valid UTF-8 s[0..n). */
size_t ps_utf8_count(const char *s, size_t n);
/* Byte offsets of the code points of valid UTF-8 s[0..n), plus n at the
 * end: *nchars + 1 entries (caller frees). */
size_t *ps_utf8_offsets(const char *s, size_t n, size_t *nchars);

/* Character classes used throughout the engine. */
int ps_is_han(uint32_t cp);
/* Han, CJK punctuation, full-width forms, general punctuation, ASCII
 * punctuation: characters between which whitespace carries no meaning. */
int ps_is_cjkish(uint32_t cp);
/* Letters and digits of alphabetic scripts (ASCII, Latin, Greek...). */
int ps_is_alnum(uint32_t cp);
int ps_is_space(uint32_t cp);

/* Strict parsers: the whole string must be consumed.  Return 0 on
 * success. */
int ps_parse_long(const char *s, long *out);
int ps_parse_double(const char *s, double *out);
/* Parses "100万", "1.5亿", "2e6", "12.5", "３万": a number with an
 * optional magnitude 万/亿/万亿/千/百.  Returns 0 on success. */
int ps_parse_amount(const char *s, double *out);

/* Reads a whole file.  Returns 0 and sets *data (caller frees) and *len,
 * or -1 with err set to a message naming the reason. */
int ps_read_file(const char *path, char **data, size_t *len, char *err);

/* Monotonic clock in seconds. */
double ps_now(void);

/* First index >= from in a[0..n) (ascending) whose value is >= x:
 * doubling steps from from, then a binary search of the last step. */
static inline size_t ps_gallop(const uint32_t *a, size_t n, size_t from,
                               uint32_t x)
{
    size_t lo = from, step = 1, hi = from;
    while (hi < n && a[hi] < x) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > n)
        hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Tests: 1 when $PS_FAULT is "what:subject" exactly (the fault injected
 * for that step of that document or file). */
int ps_fault_on(const char *what, const char *subject);

/* Path of the data directory (lexicon, units, regions, sectors):
 * $POLICY_SEARCH_DATA, else the directory compiled in. */
const char *ps_data_dir(void);

/* For a process that exits soon (one query, or one batch of queries):
 * lets the kernel back the next bytes of the heap with huge pages (where
 * it does so on request), one fault per 2 MB instead of one per 4 KB.
 * A page fault costs microseconds; a one-off query took over a thousand,
 * and the first large query of a batch touched 20 MB of fresh memory.
 * From then on every block comes from the heap and freed memory is not
 * handed back to the system.  With one_arena, every thread allocates from
 * that heap (for one query: the pool's threads then find it warm);
 * otherwise each thread keeps its own heap (two threads sharing one slowed
 * a batch's queries by a sixth), which ps_thread_heap_hugepages() advises
 * the same way.  Call before anything else allocates much or starts a
 * thread; does nothing where malloc is not glibc's or under
 * AddressSanitizer. */
void ps_heap_hugepages(size_t bytes, int one_arena);
/* In a thread that is starting, after ps_heap_hugepages(.., 0): lets its
 * own heap take huge pages too.  Does nothing otherwise. */
void ps_thread_heap_hugepages(void);

#endif
