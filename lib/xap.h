/*
 * xap.h: the C face of Xapian.  The only C++ in the tree is behind it.
 *
 * Conventions:
 *  - Handles are opaque; every create or open function has a destroy or
 *    close function that accepts NULL.
 *  - Functions that can fail return an xap_status; XAP_OK is 0.  On
 *    failure a message is written to err (PS_ERRLEN bytes, see util.h).
 *    No C++ exception ever crosses this header: each entry point catches
 *    Xapian::Error and std::exception.
 *  - Strings passed in are copied.  Strings handed out are owned by the
 *    object they came from (an xap_result) unless a comment says "caller
 *    frees".
 *  - Query combinators do not take ownership of their arguments: build,
 *    combine, then destroy every piece.
 *  - A read handle (xap_db) or write handle (xap_wdb) must be used by one
 *    thread at a time.
 */
#ifndef PS_XAP_H
#define PS_XAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xap_status {
    XAP_OK = 0,
    XAP_ERR_XAPIAN,        /* Xapian threw; err has its message */
    XAP_ERR_LOCKED,        /* another writer holds the database */
    XAP_ERR_OPENING,       /* no database there, or it cannot be opened */
    XAP_ERR_MEMORY         /* std::bad_alloc or another std exception */
} xap_status;

typedef struct xap_wdb xap_wdb;
typedef struct xap_db xap_db;
typedef struct xap_doc xap_doc;

/* ---- writing ---- */

/* Opens (creating if missing) the glass database at path for writing. */
xap_status xap_wdb_open(const char *path, xap_wdb **out, char *err);
/* Closes the database, dropping what was not committed. */
void xap_wdb_close(xap_wdb *w);
xap_status xap_wdb_commit(xap_wdb *w, char *err);
/* Adds doc; *docid (may be NULL) gets its document id. */
xap_status xap_wdb_add(xap_wdb *w, xap_doc *doc, unsigned *docid, char *err);
/* Deletes every document indexed by term.  When ids is not NULL, *ids
 * (caller frees) and *nids get the deleted document ids. */
xap_status xap_wdb_delete_term(xap_wdb *w, const char *term, unsigned **ids,
                               size_t *nids, char *err);
/* *value: caller frees; "" when the key is not set. */
xap_status xap_wdb_get_metadata(xap_wdb *w, const char *key, char **value,
                                char *err);
xap_status xap_wdb_set_metadata(xap_wdb *w, const char *key,
                                const char *value, char *err);
/* Binary keys and values. */
xap_status xap_wdb_get_metadata_n(xap_wdb *w, const char *key, char **value,
                                  size_t *len, char *err);
/* The same with a binary key[0..klen). */
xap_status xap_wdb_get_metadata_k(xap_wdb *w, const char *key, size_t klen,
                                  char **value, size_t *len, char *err);
xap_status xap_wdb_set_metadata_n(xap_wdb *w, const char *key, size_t klen,
                                  const char *value, size_t vlen, char *err);
/* Calls cb with every metadata entry whose key starts with
 * prefix[0..plen), in key order (keys are read first, so cb may change
 * metadata). */
xap_status xap_wdb_metadata_scan(xap_wdb *w, const char *prefix, size_t plen,
                                 int (*cb)(void *ctx, const char *key,
                                           size_t klen, const char *val,
                                           size_t vlen),
                                 void *ctx, char *err);
/* Calls cb with every value in slot, in docid order. */
xap_status xap_wdb_values(xap_wdb *w, unsigned slot,
                          void (*cb)(void *ctx, unsigned docid, const char *v,
                                     size_t n),
                          void *ctx, char *err);
/* Calls cb for every metadata key starting with prefix. */
xap_status xap_wdb_metadata_keys(xap_wdb *w, const char *prefix,
                                 void (*cb)(void *ctx, const char *key),
                                 void *ctx, char *err);
xap_status xap_wdb_doccount(xap_wdb *w, unsigned *n, char *err);
/* The highest document id used so far (0 when none). */
unsigned xap_wdb_lastdocid(xap_wdb *w);

xap_doc *xap_doc_create(void);
void xap_doc_destroy(xap_doc *d);
/* Empties the document for reuse. */
void xap_doc_clear(xap_doc *d);
void xap_doc_add_boolean(xap_doc *d, const char *t, size_t n);
void xap_doc_set_value(xap_doc *d, unsigned slot, const char *v, size_t n);
void xap_doc_set_data(xap_doc *d, const char *v, size_t n);
/* A copy of the value in slot ("" when none; caller frees), *n bytes. */
char *xap_doc_value(const xap_doc *d, unsigned slot, size_t *n);

/* Writes a compacted copy of the glass database at src to dst (which
 * must not exist), keeping document ids. */
xap_status xap_compact(const char *src, const char *dst, char *err);
/* Xapian's own full check of the database at path (every B-tree block);
 * *problems: how many it found (XAP_OK even then); an error when it
 * cannot be read at all. */
xap_status xap_check(const char *path, size_t *problems, char *err);

/* ---- reading ---- */

/* Opens a database, a directory holding a XAPIANDB stub that lists
 * local shards, or a stub file.  Remote shards are refused: the
 * character index is read from each shard's metadata by this process. */
xap_status xap_db_open(const char *path, xap_db **out, char *err);
void xap_db_close(xap_db *db);
/* Picks up changes committed since open; *changed set to 1 if any.  If
 * the database was replaced underneath (compaction), opens it anew. */
xap_status xap_db_reopen(xap_db *db, int *changed, char *err);
/* Opens the database anew from its path (after its files were replaced). */
xap_status xap_db_open_again(xap_db *db, char *err);
/* A read that fails names the shard it failed in, found by reading each
 * shard alone; a DatabaseModifiedError too once this was called (by
 * default that error means a writer moved on: it is retried, and the
 * search for its shard would cost a reader under live updates). */
void xap_db_name_every_error(xap_db *db);
xap_status xap_db_doccount(xap_db *db, unsigned *n, char *err);
/* The passages shard s holds and its highest docid. */
xap_status xap_db_shard_doccount(xap_db *db, size_t s, unsigned *n,
                                 unsigned *last, char *err);
/* Each shard's revision (revs[0..n), n = xap_db_nshards()). */
xap_status xap_db_revisions(xap_db *db, unsigned long long *revs, size_t n,
                            char *err);

/* The shards, in the order the stub lists them (1 for a plain database). */
size_t xap_db_nshards(const xap_db *db);
/* Calls cb with the value of every metadata key of shard s starting with
 * prefix[0..plen), in key order. */
xap_status xap_db_shard_scan(xap_db *db, size_t s, const char *prefix,
                             size_t plen,
                             void (*cb)(void *ctx, const char *v, size_t n),
                             void *ctx, char *err);
/* *value: caller frees; "" when not set. */
xap_status xap_db_shard_metadata(xap_db *db, size_t s, const char *key,
                                 size_t klen, char **value, size_t *len,
                                 char *err);
/* Calls cb with the value of key[0..klen) in shard s ("" when not set),
 * without a copy of its own. */
xap_status xap_db_shard_metadata_cb(xap_db *db, size_t s, const char *key,
                                    size_t klen,
                                    void (*cb)(void *ctx, const char *v,
                                               size_t n),
                                    void *ctx, char *err);
/* *value: caller frees. */
xap_status xap_db_get_metadata(xap_db *db, const char *key, char **value,
                               char *err);

/* Every document indexed by term[0..n) (database docids, ascending);
 * *ids: caller frees. */
xap_status xap_db_postlist(xap_db *db, const char *term, size_t n,
                           unsigned **ids, size_t *nids, char *err);
/* Every document's place in the byte order of its value in slot (ties
 * by docid): (*order)[docid], UINT32_MAX for one without a value; *n
 * entries (caller frees both with ps_big_free).  With group, also
 * (*group)[docid]: the number, counting from 0 in that order, of the
 * document's value up to its first NUL among the distinct such prefixes
 * (UINT32_MAX for none). */
xap_status xap_db_value_order(xap_db *db, unsigned slot, uint32_t **order,
                              uint32_t **group, size_t *n, char *err);
/* Calls cb with every term of the database starting with prefix. */
xap_status xap_db_terms(xap_db *db, const char *prefix,
                        void (*cb)(void *ctx, const char *term, size_t n),
                        void *ctx, char *err);
/* Calls cb with every term of document did whose first byte is one of
 * firsts. */
xap_status xap_db_doc_terms(xap_db *db, unsigned did, const char *firsts,
                            void (*cb)(void *ctx, const char *term, size_t n),
                            void *ctx, char *err);
/* Calls cb(ctx, i, value) for each ids[i] (ascending database docids)
 * that has a value in slot; one pass over the slot's value stream. */
xap_status xap_db_values(xap_db *db, unsigned slot, const unsigned *ids,
                         size_t n,
                         void (*cb)(void *ctx, size_t i, const char *v,
                                    size_t len),
                         void *ctx, char *err);
/* The same over shard s alone: ids are its local docids, ascending.  Calls
 * for different shards may run at once, each on its own thread, while the
 * combined database is not in use. */
xap_status xap_db_shard_values(xap_db *db, size_t s, unsigned slot,
                               const unsigned *ids, size_t n,
                               void (*cb)(void *ctx, size_t i, const char *v,
                                          size_t len),
                               void *ctx, char *err);

/* A facet index: for every document, which terms with given prefixes it
 * has (kept in memory, compressed-row form).  Counting facets with it
 * costs a few increments per match instead of reading a value per match. */
typedef struct xap_facets xap_facets;

/* Builds the index of every term starting with one of prefixes[0..n),
 * of the values in slots [first_slot, first_slot + nslots), and of all
 * document ids.  *out: free with xap_facets_free(). */
xap_status xap_facets_build(xap_db *db, const char *const *prefixes,
                            size_t n, unsigned first_slot, unsigned nslots,
                            xap_facets **out, char *err);
/* The same in parts, so that two threads can build it at once, each with
 * its own handle at the same revision: an empty index up to db's last
 * document id, then its terms (rows, postings, every document id) and
 * its values, which touch different parts of it. */
xap_status xap_facets_create(xap_db *db, xap_facets **out, char *err);
xap_status xap_facets_add_terms(xap_db *db, xap_facets *f,
                                const char *const *prefixes, size_t n,
                                char *err);
xap_status xap_facets_add_values(xap_db *db, xap_facets *f,
                                 unsigned first_slot, unsigned nslots,
                                 char *err);
void xap_facets_free(xap_facets *f);
/* The highest document id it covers. */
unsigned xap_facets_last(const xap_facets *f);
size_t xap_facets_nterms(const xap_facets *f);
/* Term i, valid until xap_facets_free(). */
const char *xap_facets_term(const xap_facets *f, size_t i);
/* The facet terms of every document (indices into the terms, in the
 * host's order, *width bytes each: 1 for up to 256 terms, 2 for up to
 * 65,536, else 4): document did's are vals[off[did] .. off[did + 1])
 * when did + 1 < the count returned; it has none otherwise. */
size_t xap_facets_rows(const xap_facets *f, const uint32_t **off,
                       const void **vals, unsigned *width);
/* The documents of term t, ascending. */
size_t xap_facets_postings(const xap_facets *f, size_t t,
                           const unsigned **ids);
/* Every document id, ascending. */
size_t xap_facets_docs(const xap_facets *f, const unsigned **ids);
/* The indexed slot values of document did: *buf holds each as one length
 * byte and the value; returns the bytes in *buf. */
size_t xap_facets_values(const xap_facets *f, unsigned did,
                         const unsigned char **buf);

/* The data of document did stored as metadata of its shard under prefix
 * + BE32 shard-local docid.  *data: caller frees. */
xap_status xap_db_data(xap_db *db, unsigned did, const char *prefix,
                       char **data, size_t *len, char *err);

/* "shard N: " before the message in err (PS_ERRLEN bytes), unless it
 * already starts so: every error that names a shard names it once. */
void xap_name_shard(char *err, size_t shard);

#ifdef __cplusplus
}
#endif

#endif
