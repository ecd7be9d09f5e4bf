/*
 * numbers.h: numeric mentions (a number with its magnitude and unit) in
 * normalized text.
 *
 * 462万亩 -> 4620000 亩; 1.55亿元 -> 155000000 元; 99%以上 -> 99 %;
 * 10-20万元 -> two mentions, 100000 元 and 200000 元.  Years, months and
 * dates, ordinals (第3位) and codes (5G, PM2.5) are not mentions.  Units
 * come from data/units.txt.
 *
 * A num_units table is immutable once loaded and may be shared.
 */
#ifndef PS_NUMBERS_H
#define PS_NUMBERS_H

#include <stddef.h>

#define NUM_SURFACE_MAX 64
#define NUM_UNIT_MAX 32

typedef struct num_mention {
    size_t start, end;                 /* byte range in the text */
    char surface[NUM_SURFACE_MAX];     /* as written, whitespace removed */
    char unit[NUM_UNIT_MAX];           /* "" when there is none */
    double value;
} num_mention;

typedef struct num_units num_units;

/* Loads data/units.txt.  NULL with err set on failure. */
num_units *num_units_load(char *err);
void num_units_destroy(num_units *u);
/* Calls add(ctx, unit, len) for every unit (to extend a lexicon). */
void num_units_each(const num_units *u,
                    void (*add)(void *ctx, const char *s, size_t n),
                    void *ctx);

/* Finds the mentions of text[0..len) in order.  Returns how many; *out
 * (caller frees with free()) holds them. */
size_t num_extract(const num_units *u, const char *text, size_t len,
                   num_mention **out);

/* Encodes value so that byte order is numeric order (8 bytes). */
void num_sortable(double value, unsigned char out[8]);

#endif
