/*
 * schema.h: the index layout, in one place.  One Xapian document per
 * passage.  Change anything here and bump PS_FORMAT_VERSION.
 *
 * Format changelog:
 *   1  words of 3+ characters (no prefix, wdf only), positional character bigrams (B),
 *      file (F), region (R, with ancestors), sector (S), unit (U) terms;
 *      facet combination slots 1-3; one numeric mention per slot from 10.
 *   2  the three facet slots merged into one (SLOT_FACETS): one value read
 *      and one match-spy lookup per matching passage instead of three.
 */
#ifndef PS_SCHEMA_H
#define PS_SCHEMA_H

#define PS_FORMAT_VERSION "2"

/* Term prefixes. */
#define PFX_BIGRAM "B"    /* + two characters, or one at a passage's end */
#define PFX_FILE "F"      /* + document id (its relative path) */
#define PFX_REGION "R"    /* + GB/T 2260 code; ancestors included */
#define PFX_SECTOR "S"    /* + sector name */
#define PFX_UNIT "U"      /* + unit of a numeric mention */

/* Value slots. */
#define SLOT_ORDINAL 0    /* passage ordinal, 10 zero-padded digits */
#define SLOT_FACETS 1     /* region codes (sorted, with ancestors) ','
                             FACET_SEP sector names ',' FACET_SEP units ',' */
#define FACET_SEP '\x1e'
#define SLOT_NUM0 10      /* mention i: unit, NUL, 8-byte sortable value */
#define NUM_SLOTS 48      /* mentions beyond this are not filterable */

/* Metadata keys. */
#define META_VERSION "policy-search:format"
#define META_FILE "f:"    /* + document id -> "mtime size root" */

/* A file in the index directory the indexer rewrites whenever it has
 * replaced shard files (compaction): readers that see it change open the
 * database anew instead of reopening it. */
#define GENERATION_FILE "generation"

/* Document ids longer than this are hashed in their F term. */
#define MAX_FILE_TERM 200

#endif
