/*
 * vrange.h: the numeric mentions of every passage, sorted by unit and
 * value, so that "passages with a mention of unit U between lo and hi" is
 * two binary searches and a copy of the passages found, not a comparison
 * of every passage's mentions.
 *
 * A mention is stored as the index writes it into its value slots: the
 * unit, a NUL, and 8 bytes whose byte order is the value's order
 * (schema.h, SLOT_NUM0).  Values of another shape (a damaged slot) are
 * not indexed.
 */
#ifndef PS_VRANGE_H
#define PS_VRANGE_H

#include <stddef.h>

typedef struct vrange vrange;

/* The mentions of passage doc: *buf holds each as one length byte and
 * the value; returns the bytes in *buf, which stay valid while the index
 * is built. */
typedef size_t (*vrange_values_fn)(const void *ctx, unsigned doc,
                                   const unsigned char **buf);

/* Builds the index of the mentions of docs[0..n). */
vrange *vrange_build(const unsigned *docs, size_t n, vrange_values_fn values,
                     const void *ctx);
void vrange_free(vrange *r);
/* The passages with a mention v, lo <= v <= hi, where lo and hi are
 * mentions of one unit (len bytes each, the shape above): ascending,
 * each once.  *ids: caller frees.  Returns how many. */
size_t vrange_find(const vrange *r, const char *lo, const char *hi,
                   size_t len, unsigned **ids);
/* The same passages as bits: bit d of bits (d / 8, 1 << d % 8) set for
 * each; bits holds vrange_maxdoc(r) / 8 + 1 bytes.  No sort: the cost is
 * the mentions in the range. */
void vrange_mark(const vrange *r, const char *lo, const char *hi, size_t len,
                 unsigned char *bits);
/* The highest passage indexed (0 when none). */
unsigned vrange_maxdoc(const vrange *r);
/* How many mentions lie in [lo, hi] (two binary searches: a passage with
 * several counts several times). */
size_t vrange_count(const vrange *r, const char *lo, const char *hi,
                    size_t len);
/* Mentions indexed. */
size_t vrange_size(const vrange *r);

#endif
