/*
 * search.h: queries in, ranked passages with snippets and exact facet
 * counts out, as the JSON of the contract.
 *
 * A srch_index is an open index shared by every thread of a process: one
 * immutable snapshot of a committed state (passage lengths, deleted
 * passages, the facet index when enabled, read handles at that state),
 * replaced by a pointer exchange when the index changes, and freed when
 * the last request using it ends.  A srch_engine holds a tokenizer and
 * answers requests on an index; use it from one thread at a time (the
 * web server keeps one per worker).  The ana_res given is shared and must
 * outlive both.
 *
 * Results come back as jansson objects the caller releases with
 * json_decref().  On failure NULL is returned, *status says whose fault
 * it was and err says what happened.
 */
#ifndef PS_SEARCH_H
#define PS_SEARCH_H

#include <jansson.h>
#include <stddef.h>

#include "analyze.h"
#include "ncache.h"

typedef enum srch_status {
    SRCH_OK = 0,
    SRCH_BAD_REQUEST,    /* the user's query or parameters (exit 2, 400) */
    SRCH_NOT_FOUND,      /* no such document (404) */
    SRCH_TOO_LONG,       /* over the request's time budget (503) */
    SRCH_INTERNAL        /* the index or the search library failed */
} srch_status;

typedef struct srch_engine srch_engine;
typedef struct srch_index srch_index;

typedef struct srch_request {
    const char *query;                /* may be NULL or "" */
    const char *const *regions;
    size_t nregions;
    const char *const *sectors;
    size_t nsectors;
    const char *unit;                 /* NULL: any */
    const char *min, *max;            /* NULL: open */
    /* The document's metadata: dates YYYY, YYYY-MM or YYYY-MM-DD
     * (inclusive; on its date, else its published date); agencies and
     * types OR within, AND across. */
    const char *from, *to;            /* NULL: open */
    const char *const *agencies;
    size_t nagencies;
    const char *const *types;
    size_t ntypes;
    const char *sort;                 /* "relevance" (NULL), "date" (newest
                                         first) or "-date"; undated last */
    const char *group;                /* "doc": one hit per document; NULL
                                         or "" (or "passage"): passages */
    long limit;                       /* 0: all */
    long offset;
    int no_facets;                    /* skip facet counting (faster) */
    double budget_ms;                 /* > 0: give up matching after this
                                         long (SRCH_TOO_LONG) */
    /* When set, each hit goes to hit_sink, in the answer's order, as soon
     * as it is made (with the total, known by then), and the answer's
     * "hits" stays empty: an answer of any number of hits then holds one
     * hit in memory at a time.  The sink returns nonzero to stop (the
     * answer is then an error); it must not keep the hit. */
    int (*hit_sink)(void *ctx, unsigned total, json_t *hit);
    void *sink_ctx;
} srch_request;

/* Opens the index at path; facets: keep the in-memory facet index in
 * every snapshot (see srch_use_facet_index()). */
srch_index *srch_index_open(const char *path, int facets, char *err);
void srch_index_close(srch_index *ix);
/* Takes a new snapshot if the index changed: 1 when it did, 0 when
 * nothing changed, -1 with err when the new state cannot be read (the
 * previous snapshot stays). */
int srch_index_refresh(srch_index *ix, char *err);
/* The current snapshot's number: it changes whenever the index's state
 * does (answers computed on one number are answers for it alone). */
unsigned long srch_index_seq(srch_index *ix);
/* Refreshes from a thread of its own, five times a second, until closed. */
int srch_index_watch(srch_index *ix, char *err);
/* The state new requests are answered from: its number (as
 * srch_index_seq()), its passages and shards, and whether its facet index
 * is read (after a commit, a server answers without it for a moment:
 * the same answers, slower). */
typedef struct srch_index_info {
    unsigned long seq;
    unsigned long passages;
    size_t shards;
    int facet_index;
    ncache_stats postings;        /* the current snapshot's read caches */
    ncache_stats records;         /* (ncache.h): lists, parsed records */
} srch_index_info;
void srch_index_describe(srch_index *ix, srch_index_info *out);
/* Keeps up to bytes of what queries read, in each snapshot (ncache.h):
 * three quarters for the decoded passage lists of the strings queried,
 * a quarter for parsed passage and document records.  0 (the default)
 * keeps none. */
void srch_index_postings_cache(srch_index *ix, size_t bytes);
/* The same for an engine's index. */
void srch_postings_cache(srch_engine *e, size_t bytes);
srch_engine *srch_engine_create(srch_index *ix, const ana_res *res,
                                char *err);

/* An index and an engine on it, closed together by srch_close(). */
srch_engine *srch_open(const char *dbpath, const ana_res *res, char *err);
void srch_close(srch_engine *e);
/* Keeps an in-memory facet index (facet terms with their passages, each
 * passage's facet terms and mention values, every docid) and passage
 * lengths: filters and counts then cost a few memory reads per matching
 * passage instead of reading the database.  Worth it for a server or a
 * batch; it takes a moment to build (and again with every new snapshot).
 * The answers are the same either way.  Returns 1 when in use, -1 with
 * err on failure (queries then read the database). */
int srch_use_facet_index(srch_engine *e, char *err);
/* Picks up documents indexed since the engine's index was opened. */
void srch_refresh(srch_engine *e);

/* {"error": msg}, with bytes of msg that are not UTF-8 (quoted from an
 * argument or a damaged index) shown as '?': JSON cannot carry them. */
json_t *srch_error_json(const char *msg);

json_t *srch_run(srch_engine *e, const srch_request *req, srch_status *status,
                 char *err);
/* The passages of one document, in order.  With a query (NULL or "" for
 * none), each passage also gets "snippet": its whole text, HTML-escaped,
 * with every match of the query in <mark>. */
json_t *srch_doc(srch_engine *e, const char *doc, const char *query,
                 srch_status *status, char *err);

/* How query is read: its items (normalized text, quoted, negated, OR
 * group) with the strings each must contain ("must") and, for unquoted
 * items of several words, the whole string that ranks first ("whole"). */
json_t *srch_explain(srch_engine *e, const char *query, srch_status *status,
                     char *err);

/* How the index is laid out: per shard its segments (passages, deleted,
 * level) and, for the string s (may be NULL), the chunks read for each
 * bigram of its cover. */
json_t *srch_stats(srch_engine *e, const char *s, srch_status *status,
                   char *err);

/* The file document doc was indexed from: its absolute path, format and
 * text encoding ("" where none), as recorded at indexing (caller frees
 * the three).  SRCH_NOT_FOUND for an unknown document. */
int srch_file(srch_engine *e, const char *doc, char **path, char **format,
              char **encoding, srch_status *status, char *err);

/* Tests: the next n readings of the index fail as when a writer commits
 * twice during one (PS_FAULT=modified:N in policy-search). */
void srch_fault_modified(unsigned n);
/* Tests: the next n readings fail as when a compaction swaps a shard in
 * meanwhile (PS_FAULT=opening:N). */
void srch_fault_opening(unsigned n);
/* Tests: the next n openings of the index fail as when a writer commits
 * twice while one reads its root blocks, which Xapian reports as damage
 * (PS_FAULT=overwritten:N). */
void srch_fault_overwritten(unsigned n);
/* Tests: the k-th request from now (counted from 1) fails once as a
 * damaged block reads (PS_FAULT=corrupt:K): answered from the index's
 * new state if it has moved on, else an error. */
void srch_fault_corrupt(unsigned k);
/* Tests: snapshots are read on one handle, one part after the other, as
 * when the index moves on before the second handle is opened
 * (PS_FAULT=one-handle). */
void srch_fault_one_handle(void);

#endif
