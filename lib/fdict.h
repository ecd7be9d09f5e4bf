/*
 * fdict.h: a shard's facet dictionary, and passages' facet values coded
 * with it (format 7).
 *
 * A passage's SLOT_FACETS value lists its regions, sectors, units,
 * agencies, type and year (schema.h).  Written out as text, that took 68
 * bytes a passage on 200 MB of generated documents, mostly the
 * document's agency names repeated on every passage of it, and counting
 * the facets of a one-off query's hits read most of those bytes back.
 * From format 7 a value is coded: the byte FACET_CODED, the number of
 * parts, then per part the count of its members and each member's number
 * in the shard's dictionary (LEB128 varints): 18 bytes a passage there.
 * The dictionary (META_FACETDICT) lists every member ever coded, in
 * number order, each as its part (one byte, 0-5) and its name,
 * NUL-terminated; numbers are never reused or changed, so it only grows,
 * and the shard stores it with every commit that added to it, with the
 * passages that use its new numbers.
 *
 * A textual value never starts with FACET_CODED: shards written before
 * format 7 keep their values, and a reader takes either.
 */
#ifndef PS_FDICT_H
#define PS_FDICT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define FACET_CODED '\x01'

typedef struct fdict fdict;

fdict *fdict_create(void);
void fdict_destroy(fdict *d);
/* Reads a stored dictionary (n == 0: empty).  -1 when it is damaged. */
int fdict_load(fdict *d, const char *v, size_t n);
/* Appends the dictionary as stored to out. */
void fdict_save(const fdict *d, ps_buf *out);
size_t fdict_count(const fdict *d);
/* Member id: its part (0 to FACET_PARTS - 1) and name. */
int fdict_part(const fdict *d, uint32_t id);
const char *fdict_name(const fdict *d, uint32_t id, size_t *len);
/* Codes the textual value v[0..n) into out (emptied first), adding the
 * members the dictionary lacks; *added: how many it added. */
void fdict_encode(fdict *d, const char *v, size_t n, ps_buf *out,
                  size_t *added);

static inline int fdict_coded(const char *v, size_t n)
{
    return n > 0 && v[0] == FACET_CODED;
}

/* Calls cb(ctx, id) for each member of the coded value v[0..n), in
 * order; returns the parts the value has, or -1 when it is damaged (a
 * number the dictionary lacks or of another part, a truncated list):
 * cb may have been called for the members before the damage. */
int fdict_each(const fdict *d, const char *v, size_t n,
               void (*cb)(void *ctx, uint32_t id), void *ctx);

#endif
