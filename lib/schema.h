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
 *   3  no more B terms and no word terms: the character index (bigrams
 *      with positions, unigrams with counts, passage lengths) lives in
 *      metadata chunks written per commit batch (grams.h); deleted
 *      passages are listed under META_DELETED; no ordinal slot (the
 *      JSON has it).  The passage's JSON is
 *      metadata too (META_DATA), not document data: Xapian deflates
 *      document data, which cost a sixth of the indexing time.  Indexing
 *      is no longer bound by Xapian's inverter.
 *   4  every block is a passage: titles, headings and page-number lines
 *      too (format 3 kept headings only as the "heading" of the passages
 *      under them, so text in them was not found); the JSON says each
 *      passage's "kind", its "page" in paged formats and the document's
 *      "format".  A format-3 index lacks that text: index anew.
 *   5  the character index in segments that merge: a chunk's key ends
 *      with its segment's first docid (format 4: the chunk's own first
 *      passage), each segment lists its grams under META_SEGDICT, and
 *      META_SEGMENTS lists the segments; SLOT_ORDER orders equal scores
 *      by document and passage, whatever the shards; hits' JSON has
 *      "region_codes"; the document's metadata (docmeta.h) is in its m:
 *      record ("meta") and on each passage: Y, A, T, N terms, SLOT_DATE.
 *      Readers of format 5 read format 4 too (the chunks
 *      decode alike; equal scores then by docid); writers refuse to add
 *      to a format-4 index.
 *   6  SLOT_FACETS also holds the document's agencies, type and year
 *      (three more parts), so counting every facet of a passage is one
 *      value read (format 5 read each passage's Y, A, T terms too, from
 *      its termlist).  Readers count a passage with three parts through
 *      its terms, so format-5 indexes are read, and a writer upgrades
 *      one in place (its mark becomes 6 with its first commit; passages
 *      written before keep three parts).
 *   7  SLOT_FACETS values are coded (fdict.h): each member a number in
 *      the shard's facet dictionary (META_FACETDICT), about a quarter of
 *      the bytes of the text.  Readers take textual values too, so
 *      formats 4 to 6 are read, and a writer upgrades a format-5 or
 *      format-6 shard in place (its old passages keep their text).
 *   8  the facet column (fcol.h): every passage's facet members again, in
 *      blocks of FCOL_ROWS passages (META_FCOL), read where they lie to
 *      count the facets of a one-off query's hits instead of decoding
 *      each hit's value (14 of 34 ms of a one-off "发展" at 200 MB).
 *      META_FCOLSTART: the docid the column starts at.  Readers read
 *      formats 4 to 7 (their values), and a writer upgrades a format-5,
 *      6 or 7 shard in place: its column starts after the passages it
 *      held.
 *   9  a bigram's or character's chunk key names its segment before the
 *      gram (META_GRAM + BE32 segment + length byte + gram), so a
 *      segment's chunks lie together in the B-tree: a commit appends its
 *      segment after the others and a merge rewrites only the segments
 *      it merges.  (Keyed gram first, every commit put a chunk next to
 *      each gram's older ones, and the copy-on-write B-tree rewrote
 *      nearly every block of the character index: 300 MB written to add
 *      10 MB of text to a 200 MB index, and the grown index was 1.7
 *      times the size of one built at once.)  A merged segment's keys
 *      carry its last passage, so its chunks are written after the ones
 *      it replaces, not over them.  The segment list marks the segments
 *      keyed so (gram_seg.seg_first) with the number their keys carry; a
 *      reader looks each chunk up by its key, one per segment.  Readers
 *      read formats 4 to 8 too, and a writer upgrades a format-5 to 8
 *      shard in place: its old segments keep their keys until they are
 *      merged.
 */
#ifndef PS_SCHEMA_H
#define PS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#define PS_FORMAT_VERSION "9"
/* The oldest format this build reads. */
#define PS_FORMAT_OLDEST_READ 4

/* Term prefixes. */
#define PFX_FILE "F"      /* + document id (its relative path) */
#define PFX_REGION "R"    /* + GB/T 2260 code; ancestors included */
#define PFX_SECTOR "S"    /* + sector name */
#define PFX_UNIT "U"      /* + unit of a numeric mention */
/* The document's metadata (docmeta.h), on each of its passages: */
#define PFX_YEAR "Y"      /* + year of its date */
#define PFX_AGENCY "A"    /* + issuing agency, canonical */
#define PFX_TYPE "T"      /* + 公文种类 (通知, ...), 新闻 or 其他 */
#define PFX_NUMBER "N"    /* + document number, normalized */

/* Value slots. */
#define SLOT_FACETS 1     /* region codes (sorted, with ancestors) ','
                             FACET_SEP sector names ',' FACET_SEP units ','
                             FACET_SEP agencies FACET_MEMBER FACET_SEP type
                             FACET_SEP year (formats 6 on: six parts);
                             from format 7 coded (fdict.h) */
#define FACET_SEP '\x1e'
#define FACET_MEMBER '\x1f'   /* between agencies (names may hold ',') */
#define FACET_PARTS 6
#define SLOT_ORDER 2      /* document id, NUL, BE32 passage ordinal: the
                             order among equal scores */
#define SLOT_DATE 3       /* the document's date (docmeta.h): YYYY-MM-DD,
                             YYYY-MM or YYYY; 成文日期, else 发布日期 */
#define SLOT_NUM0 10      /* mention i: unit, NUL, 8-byte sortable value */
#define NUM_SLOTS 48      /* mentions beyond this are not filterable */

/* Metadata keys. */
#define META_VERSION "policy-search:format"
#define META_FILE "f:"    /* + document id -> "mtime size root" */
#define META_PATH "p:"    /* + document id -> "format TAB encoding TAB
                             absolute path" of the file indexed; a path
                             that is not UTF-8 as PATH_HEX and its bytes
                             in hex */
#define PATH_HEX "hex:"
#define META_DOC "m:"     /* + document id -> JSON: what the file says of
                             itself (format, pages, ocr, title, and the
                             key/value pairs of its metadata: an HTML
                             page's table, DOCX core properties, OFD
                             DocInfo, PDF info) */
#define META_GRAM "g:"    /* + BE32 segment (gram_seg.key) + length
                             byte + bigram; formats 5 to 8: + length
                             byte + bigram + BE32 segment */
#define META_UNIGRAM "u:" /* + BE32 segment + length byte + character
                             (formats 5 to 8: as META_GRAM) */
#define META_LENGTH "l:"  /* + BE32 segment: passage lengths */
#define META_SEGDICT "s:" /* + BE32 segment: the segment's group keys
                             (prefix, length byte, gram), prefix-compressed */
#define META_SEGMENTS "policy-search:segments"  /* the segment list */
#define META_DATA "d:"    /* + BE32 docid: the passage's JSON */
#define META_DELETED "policy-search:deleted"  /* docid ranges */
#define META_FACETDICT "policy-search:facets"  /* the members of coded
                                                  SLOT_FACETS values */
#define META_FCOL "c:"    /* + BE32 block number: the facet column's rows
                             of FCOL_ROWS passages (fcol.h) */
#define META_FCOLSTART "policy-search:fcolstart"  /* decimal docid: the
                                                     column's first row */

/* The big-endian 32-bit numbers that end keys (BE32 above): keys of one
 * prefix sort in number order. */
static inline void ps_put_be32(char *out, uint32_t v)
{
    out[0] = (char)(v >> 24);
    out[1] = (char)(v >> 16);
    out[2] = (char)(v >> 8);
    out[3] = (char)v;
}

static inline uint32_t ps_get_be32(const char *in)
{
    const unsigned char *p = (const unsigned char *)in;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* A key of a two-byte prefix (META_DATA, META_FCOL) and a BE32. */
static inline void ps_be32_key(const char *prefix, uint32_t v, char out[6])
{
    out[0] = prefix[0];
    out[1] = prefix[1];
    ps_put_be32(out + 2, v);
}

/* The META_DATA key of a passage. */
static inline void ps_data_key(unsigned docid, char out[6])
{
    ps_be32_key(META_DATA, docid, out);
}

/* Readers open the shards as one database whose docids interleave: shard
 * k's local docid l (of n shards) is (l - 1) * n + k + 1, and back. */
static inline unsigned ps_global_docid(unsigned local, size_t shard,
                                       size_t nshards)
{
    return (local - 1) * (unsigned)nshards + (unsigned)shard + 1;
}

static inline void ps_local_docid(unsigned global, size_t nshards,
                                  size_t *shard, unsigned *local)
{
    /* Loops over every hit call this: a shift for a number of shards
     * that is a power of two (as --jobs usually gives), otherwise one
     * 32-bit division. */
    unsigned g = global - 1, n = (unsigned)nshards;
    if (n && (n & (n - 1)) == 0) {
        *shard = g & (n - 1);
        *local = (g >> __builtin_ctz(n)) + 1;
        return;
    }
    unsigned q = g / n;
    *shard = g - q * n;
    *local = q + 1;
}

/* A file in the index directory the indexer rewrites whenever it has
 * replaced shard files (compaction): readers that see it change open the
 * database anew instead of reopening it. */
#define GENERATION_FILE "generation"

/* The writer's lock: policy-index holds an exclusive flock() on this
 * file from before it touches anything in the directory (recovering a
 * crashed compaction included) until its last rename.  It holds the
 * writer's pid, for the message a second writer prints. */
#define LOCK_FILE "writer.lock"

/* Document ids longer than this are hashed in their F term. */
#define MAX_FILE_TERM 200

#endif
