/*
 * tokenize.c: ICU word breaks plus lexicon merging.
 *
 * ICU runs directly over the UTF-8 text through a UText, so token offsets
 * are byte offsets and nothing is converted to UTF-16.  Tokens are
 * collected into a reusable array (no allocation per token), then merged
 * greedily: at each Han token the longest run of up to MAX_MERGE adjacent
 * tokens that spells a lexicon word wins.
 */
#include "tokenize.h"
#include "strset.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#define MAX_MERGE 6          /* tokens merged at most */
#define MAX_WORD_BYTES 48    /* longest lexicon word, in bytes */

struct tok_lexicon {
    strset *words;      /* word -> 1; a proper prefix of a word -> 0 */
    size_t nwords;
    /* One bit per hash of a word's first two characters: most candidate
     * spans are turned away here, without a hash-table probe. */
    unsigned char pairs[1 << 13];
};

static unsigned pair_bit(uint32_t a, uint32_t b)
{
    return (unsigned)((a * 0x9E3779B1u ^ b * 0x85EBCA77u) >> 16) & 0xffff;
}

int tok_lexicon_may_start(const tok_lexicon *lx, const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return 0;
    uint32_t a = ps_utf8_next(s, n, &i);
    if (i >= n)
        return 1;           /* one character: no pair to test */
    uint32_t b = ps_utf8_next(s, n, &i);
    unsigned h = pair_bit(a, b);
    return (lx->pairs[h >> 3] >> (h & 7)) & 1;
}

struct tok_state {
    const tok_lexicon *lx;
    UBreakIterator *bi;
    size_t *starts, *ends;
    unsigned char *han;
    size_t cap;
};

tok_lexicon *tok_lexicon_create(void)
{
    tok_lexicon *lx = ps_xcalloc(1, sizeof *lx);
    lx->words = strset_create();
    return lx;
}

int tok_lexicon_word_at(const tok_lexicon *lx, const char *s, size_t n)
{
    if (!tok_lexicon_may_start(lx, s, n))
        return 0;
    size_t i = 0;
    ps_utf8_next(s, n, &i);
    while (i < n && i <= MAX_WORD_BYTES) {
        ps_utf8_next(s, n, &i);
        int v = strset_get(lx->words, s, i);
        if (v > 0)
            return 1;
        if (v < 0)
            return 0;
    }
    return 0;
}

tok_lexicon *tok_lexicon_load(char *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/lexicon.txt", ps_data_dir());
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0) {
        char tmp[PS_ERRLEN];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        memcpy(err, tmp, PS_ERRLEN);
        return NULL;
    }
    tok_lexicon *lx = ps_xcalloc(1, sizeof *lx);
    lx->words = strset_create();
    char *save = NULL;
    for (char *ln = strtok_r(data, "\n", &save); ln;
         ln = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(ln);
        while (n && (ln[n - 1] == '\r' || ln[n - 1] == ' ' || ln[n - 1] == '\t'))
            ln[--n] = '\0';
        if (!n || ln[0] == '#')
            continue;
        tok_lexicon_add(lx, ln, n);
    }
    free(data);
    return lx;
}

void tok_lexicon_add(tok_lexicon *lx, const char *word, size_t n)
{
    if (n == 0 || n > MAX_WORD_BYTES)
        return;
    if (strset_get(lx->words, word, n) != 1)
        lx->nwords++;
    strset_put(lx->words, word, n, 1);
    size_t k = 0;
    uint32_t a = ps_utf8_next(word, n, &k);
    if (k < n) {
        unsigned h = pair_bit(a, ps_utf8_next(word, n, &k));
        lx->pairs[h >> 3] |= (unsigned char)(1u << (h & 7));
    }
    /* Prefixes let the merge stop as soon as no word can follow. */
    size_t i = 0;
    ps_utf8_next(word, n, &i);
    while (i < n) {
        if (strset_get(lx->words, word, i) < 0)
            strset_put(lx->words, word, i, 0);
        ps_utf8_next(word, n, &i);
    }
}

size_t tok_lexicon_size(const tok_lexicon *lx)
{
    return lx->nwords;
}

void tok_lexicon_destroy(tok_lexicon *lx)
{
    if (!lx)
        return;
    strset_destroy(lx->words);
    free(lx);
}

tok_state *tok_state_create(const tok_lexicon *lx, char *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UBreakIterator *bi = ubrk_open(UBRK_WORD, "zh", NULL, 0, &st);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "ICU word breaker: %s", u_errorName(st));
        return NULL;
    }
    tok_state *ts = ps_xcalloc(1, sizeof *ts);
    ts->lx = lx;
    ts->bi = bi;
    return ts;
}

void tok_state_destroy(tok_state *ts)
{
    if (!ts)
        return;
    ubrk_close(ts->bi);
    free(ts->starts);
    free(ts->ends);
    free(ts->han);
    free(ts);
}

static void push(tok_state *ts, size_t *n, size_t s, size_t e, int han)
{
    if (*n == ts->cap) {
        ts->cap = ts->cap ? 2 * ts->cap : 256;
        ts->starts = ps_xrealloc(ts->starts, ts->cap * sizeof(size_t));
        ts->ends = ps_xrealloc(ts->ends, ts->cap * sizeof(size_t));
        ts->han = ps_xrealloc(ts->han, ts->cap);
    }
    ts->starts[*n] = s;
    ts->ends[*n] = e;
    ts->han[*n] = (unsigned char)han;
    (*n)++;
}

int tok_run(tok_state *ts, const char *text, size_t len, tok_callback cb,
            void *ctx, char *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UText ut = UTEXT_INITIALIZER;
    utext_openUTF8(&ut, text, (int64_t)len, &st);
    ubrk_setUText(ts->bi, &ut, &st);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "ICU word breaker: %s", u_errorName(st));
        utext_close(&ut);
        return -1;
    }
    size_t n = 0;
    int32_t prev = ubrk_first(ts->bi);
    for (int32_t b = ubrk_next(ts->bi); b != UBRK_DONE;
         prev = b, b = ubrk_next(ts->bi)) {
        int32_t status = ubrk_getRuleStatus(ts->bi);
        if (status < UBRK_WORD_NONE_LIMIT)
            continue;           /* spaces and punctuation */
        size_t i = (size_t)prev;
        uint32_t cp = ps_utf8_next(text, len, &i);
        push(ts, &n, (size_t)prev, (size_t)b, ps_is_han(cp));
    }
    utext_close(&ut);

    for (size_t i = 0; i < n;) {
        size_t best = i;
        if (ts->han[i] && i + 1 < n && ts->han[i + 1] &&
            tok_lexicon_may_start(ts->lx, text + ts->starts[i],
                                  ts->ends[i + 1] - ts->starts[i])) {
            size_t lim = i + MAX_MERGE < n ? i + MAX_MERGE : n;
            for (size_t j = i + 1; j < lim; j++) {
                if (!ts->han[j] || ts->starts[j] != ts->ends[j - 1])
                    break;
                size_t wl = ts->ends[j] - ts->starts[i];
                if (wl > MAX_WORD_BYTES)
                    break;
                int v = strset_get(ts->lx->words, text + ts->starts[i], wl);
                if (v < 0)
                    break;      /* no lexicon word starts this way */
                if (v > 0)
                    best = j;
            }
        }
        size_t s = ts->starts[i], e = ts->ends[best];
        if (cb(ctx, text + s, e - s, s, e))
            break;
        i = best + 1;
    }
    return 0;
}
