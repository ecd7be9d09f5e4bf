/*
 * index.h: the index as one module: its directory layout (the XAPIANDB
 * stub listing shard0..shardN-1, the writer's lock, the generation file,
 * compaction and its crash recovery), one shard's writer (passages in,
 * documents out, batches committed with their character index as
 * segments that merge, the deleted list), and the full check.
 *
 * A writer is used by one thread.  Every function that can fail returns
 * -1 (or NULL) and writes a message to err (PS_ERRLEN bytes).
 */
#ifndef PS_INDEX_H
#define PS_INDEX_H

#include <stddef.h>

#include "xap.h"

/* ---- the directory ---- */

int ix_mkdir_p(const char *dir, char *err);
/* Takes the writer's lock of DIR for the whole run: every other step,
 * from recovering a crashed compaction to the last rename, happens under
 * it.  Returns the descriptor (kept open until exit: the kernel releases
 * the lock when the process dies, so a crashed writer never blocks the
 * next one), -1 after an error, -2 when another live writer holds it
 * (err names its pid) and wait is 0. */
int ix_lock(const char *db, int wait, char *err);
/* Reads (refusing a stub it did not write, or one naming a missing
 * shard) or creates DIR/XAPIANDB with jobs shards; finishes or undoes a
 * compaction a crash interrupted.  Returns the shard count or -1.  The
 * caller holds the lock. */
int ix_layout(const char *db, int jobs, char *err);
/* Rewrites shard s compactly (to shardN.new, then swapped in). */
int ix_compact_shard(const char *db, int s, char *err);
/* Rewrites DIR/generation so running readers open the index anew (after
 * shard files were replaced). */
void ix_bump_generation(const char *db);
/* The generation's identity into out ("" when there is none). */
void ix_generation(const char *db, char *out, size_t n);

/* ---- one shard's writer ---- */

typedef struct ix_writer ix_writer;

/* Opens shard s of DIR (creating it: a new shard is a valid, empty index
 * from its first commit); refuses another format. */
ix_writer *ix_writer_open(const char *db, int s, char *err);
/* Closes the shard, dropping what was not committed. */
void ix_writer_close(ix_writer *w);
/* Adds one passage: its Xapian document, its normalized text (for the
 * character index) and its JSON.  text NULL leaves the passage out of
 * the character index: a damaged index, made only by tests. */
int ix_writer_add(ix_writer *w, xap_doc *doc, const char *text, size_t len,
                  const char *data, size_t datalen, char *err);
/* For tests: the next passage's row of the facet column (fcol.h) gets a
 * member no dictionary has, as damage would. */
void ix_writer_fault_column(ix_writer *w);
/* Deletes the passages indexed by term (a document's F term); *n (may be
 * NULL) gets how many. */
int ix_writer_delete(ix_writer *w, const char *term, size_t *n, char *err);
/* Metadata records (documents' file records and the like); "" deletes. */
int ix_writer_set(ix_writer *w, const char *key, const char *value, char *err);
/* *value: caller frees, "" when not set. */
int ix_writer_get(ix_writer *w, const char *key, char **value, char *err);
int ix_writer_keys(ix_writer *w, const char *prefix,
                   void (*cb)(void *ctx, const char *key), void *ctx,
                   char *err);
/* Calls cb with every record whose key starts with prefix, in key order. */
int ix_writer_scan(ix_writer *w, const char *prefix,
                   int (*cb)(void *ctx, const char *key, size_t klen,
                             const char *val, size_t vlen),
                   void *ctx, char *err);
/* 1 when the current batch is full and should be committed. */
int ix_writer_due(const ix_writer *w);
/* Writes the batch's character index as a new segment, merges segments
 * as the policy says, stores the segment and deleted lists and commits:
 * passages and their index become visible together.  *passages (may be
 * NULL) gets the passages committed.  On failure nothing of the batch is
 * in the index and err has the storage's message. */
int ix_writer_commit(ix_writer *w, size_t *passages, char *err);
/* Merges every segment into one without deleted passages, and commits. */
int ix_writer_optimize(ix_writer *w, char *err);
/* Closes the writer and compacts the shard when mode says so (0: never;
 * 1: when this writer wrote at least half the shard's passages; 2:
 * always) and it changed anything. */
int ix_writer_finish(ix_writer *w, int mode, char *err);
/* Whether anything was written, and how many merges were done. */
int ix_writer_changed(const ix_writer *w);
size_t ix_writer_merges(const ix_writer *w);

/* ---- checking ---- */

/* policy-index --check DB: Xapian's full check of every shard, every
 * chunk of the character index decoded and checked against the segment
 * list, each segment rebuilt from the stored passage text and compared,
 * every passage record read, and the counts compared.  Prints what it
 * finds; returns 0 when all is well, 1 otherwise, 2 when another writer
 * holds the index and wait is 0. */
int ix_check(const char *db, int wait);

#endif
