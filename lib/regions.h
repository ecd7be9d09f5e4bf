/*
 * regions.h: the gazetteer of China's administrative divisions
 * (data/regions.tsv, GB/T 2260 codes with parent links) and the
 * recognition of region mentions.
 *
 * Regions are referred to by index (0..reg_count()-1).  Names and codes
 * returned are owned by the gazetteer.  A loaded gazetteer is immutable
 * and may be shared by threads.
 */
#ifndef PS_REGIONS_H
#define PS_REGIONS_H

#include <stddef.h>

#define REG_MAX_DEPTH 3

typedef struct reg_gazetteer reg_gazetteer;

reg_gazetteer *reg_load(char *err);
void reg_destroy(reg_gazetteer *g);

size_t reg_count(const reg_gazetteer *g);
const char *reg_name(const reg_gazetteer *g, int idx);
const char *reg_code(const reg_gazetteer *g, int idx);
int reg_parent(const reg_gazetteer *g, int idx);     /* -1 for provinces */
int reg_level(const reg_gazetteer *g, int idx);      /* 1, 2 or 3 */
/* Index of a 6-digit code, or -1. */
int reg_by_code(const reg_gazetteer *g, const char *code);
/* 1 when anc is idx or one of its ancestors. */
int reg_is_within(const reg_gazetteer *g, int idx, int anc);

/* Calls add(ctx, s, n) for every name and alias (to extend a lexicon). */
void reg_each_alias(const reg_gazetteer *g,
                    void (*add)(void *ctx, const char *s, size_t n),
                    void *ctx);

/* The regions a name, alias or code may mean: writes up to max indices to
 * out and returns how many (0: unknown). */
size_t reg_lookup(const reg_gazetteer *g, const char *s, size_t n, int *out,
                  size_t max);

/* reg_lookup, and for a name it does not know, the name written as a
 * path from a larger region down (赤峰市红山区, 北京市朝阳区): the last
 * part's regions that lie within the first part's. */
size_t reg_lookup_path(const reg_gazetteer *g, const char *s, size_t n,
                       int *out, size_t max);

/* Resolves the candidates of one mention given context regions (the
 * document's region and unambiguous mentions nearby).  Returns the region
 * meant, or the closest common ancestor of the candidates, or -1. */
int reg_resolve(const reg_gazetteer *g, const int *cands, size_t ncands,
                const int *context, size_t ncontext);

#endif
