/*
 * Fuzz target: the character index read from damaged storage.  The
 * input is cut at each "\xff\xfe" into chunks that the reader receives
 * for any key; the first is also read as a list of deleted passages.
 * Every reader of chunks runs on them: matching one, two and four
 * characters, passage lengths, the segment list, and --check's chunk
 * check for each kind of key.
 */
#include "grams.h"
#include "schema.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct input {
    const char *p[16];
    size_t n[16];
    size_t k;
} input;

static int fetch(void *ctx, const char *prefix, size_t plen, ps_buf *out,
                 char *err)
{
    (void)prefix;
    (void)plen;
    (void)err;
    const input *in = ctx;
    for (size_t i = 0; i < in->k; i++) {
        uint32_t len = (uint32_t)in->n[i];
        ps_buf_add(out, (const char *)&len, 4);
        ps_buf_add(out, in->p[i], in->n[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {{0}, {0}, 0};
    const char *s = (const char *)data, *end = s + size;
    while (in.k < 16) {
        const char *cut = NULL;
        for (const char *q = s; q + 1 < end; q++)
            if ((unsigned char)q[0] == 0xff && (unsigned char)q[1] == 0xfe) {
                cut = q;
                break;
            }
        in.p[in.k] = s;
        in.n[in.k] = (size_t)((cut ? cut : end) - s);
        in.k++;
        if (!cut)
            break;
        s = cut + 2;
    }
    char err[PS_ERRLEN];
    unsigned (*del)[2] = NULL;
    size_t ndel = 0;
    if (gram_ranges_decode(in.p[0], in.n[0], &del, &ndel) < 0) {
        del = NULL;
        ndel = 0;
    }
    static const char *const needles[] = {"沙", "防沙", "防沙治沙", "a1"};
    /* One segment: each gram fetched once, every input chunk returned. */
    gram_seg one = {1, 1000, 0, 0, 1, 1};
    gram_src src = {fetch, &in, &one, 1, 0};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        gram_hits h;
        memset(&h, 0, sizeof h);
        gram_match(needles[i], strlen(needles[i]), &src,
                   (const unsigned (*)[2])del, ndel, &h, err);
        gram_hits_free(&h);
    }
    uint32_t *len = NULL;
    size_t nlen = 0, live = 0;
    gram_lengths(fetch, &in, (const unsigned (*)[2])del, ndel, 1001, &len,
                 &nlen, &live, err);
    free(len);
    gram_seg *segs = NULL;
    size_t nsegs = 0;
    if (gram_segs_decode((const char *)data, size, &segs, &nsegs) == 0)
        free(segs);
    /* --check's look at one chunk under each kind of key. */
    static const char keys[][16] = {"g:\0\0\0\x01\x06防沙", "u:\0\0\0\x01\x03沙",
                                    "g:\x06防沙\0\0\0\x01", "u:\x03沙\0\0\0\x01",
                                    "l:\0\0\0\x01"};
    static const size_t klen[] = {2 + 4 + 1 + 6, 2 + 4 + 1 + 3, 2 + 1 + 6 + 4,
                                  2 + 1 + 3 + 4, 2 + 4};
    static const int seg_first[] = {1, 1, 0, 0, 1};
    for (size_t i = 0; i < in.k; i++)
        for (size_t k = 0; k < 5; k++)
            gram_check_chunk(keys[k], klen[k], seg_first[k], in.p[i], in.n[i],
                             0, 1000, err);
    free(del);
    return 0;
}
