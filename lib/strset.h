/*
 * strset.h: an open-addressing hash map from strings to ints, used for
 * the lexicon, the units table and the gazetteer's alias index.
 * Keys are copied; the map owns them.  Not thread-safe for writes; any
 * number of readers once built.
 */
#ifndef PS_STRSET_H
#define PS_STRSET_H

#include <stddef.h>

typedef struct strset strset;

strset *strset_create(void);
void strset_destroy(strset *s);          /* accepts NULL */
/* Inserts or overwrites key -> value. */
void strset_put(strset *s, const char *key, size_t len, int value);
/* Returns the value of key, or -1 when absent. */
int strset_get(const strset *s, const char *key, size_t len);
size_t strset_count(const strset *s);

#endif
