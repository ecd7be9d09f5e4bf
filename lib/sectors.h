/*
 * sectors.h: the 14 sectors of the contract and their keyword lexicon
 * (data/sectors.txt).  A passage is labelled with every sector whose
 * keywords' weights, each counted once, sum to SEC_THRESHOLD or more.
 *
 * A loaded table is immutable and may be shared by threads.
 */
#ifndef PS_SECTORS_H
#define PS_SECTORS_H

#include <stddef.h>
#include <stdint.h>

#define SEC_MAX 32
#define SEC_THRESHOLD 3

typedef struct sec_table sec_table;

sec_table *sec_load(char *err);
void sec_destroy(sec_table *t);
size_t sec_count(const sec_table *t);
const char *sec_name(const sec_table *t, int i);
/* Index of a sector name, or -1. */
int sec_find(const sec_table *t, const char *name);
void sec_each_keyword(const sec_table *t,
                      void (*add)(void *ctx, const char *s, size_t n),
                      void *ctx);

/* Per-passage scoring: reset, feed every word, then read the labels. */
typedef struct sec_score {
    int score[SEC_MAX];
    int seen[256];
    size_t nseen;
} sec_score;

void sec_score_reset(sec_score *s);
void sec_score_word(const sec_table *t, sec_score *s, const char *w, size_t n);
/* Bit i set when sector i applies. */
uint32_t sec_score_labels(const sec_table *t, const sec_score *s);

#endif
