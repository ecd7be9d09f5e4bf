/*
 * index.c: the index as one module (see index.h).
 */
#define _DEFAULT_SOURCE
#include "index.h"
#include "fcol.h"
#include "fdict.h"
#include "grams.h"
#include "normalize.h"
#include "schema.h"
#include "strset.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the directory ---- */

int ix_mkdir_p(const char *dir, char *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
            snprintf(err, PS_ERRLEN, "cannot create %s: %s", tmp, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
        snprintf(err, PS_ERRLEN, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Finishes or undoes a compaction a crash interrupted: shardN.new is
 * complete only once it has been renamed into place. */
static void recover_shard(const char *db, int s)
{
    char cur[PATH_MAX], fresh[PATH_MAX], old[PATH_MAX];
    snprintf(cur, sizeof cur, "%s/shard%d", db, s);
    snprintf(fresh, sizeof fresh, "%s/shard%d.new", db, s);
    snprintf(old, sizeof old, "%s/shard%d.old", db, s);
    if (access(cur, F_OK) != 0 && access(old, F_OK) == 0)
        rename(old, cur);                 /* crashed between the renames */
    rm_rf(fresh);
    rm_rf(old);
}

/* Rewrites shard s compactly (Xapian leaves blocks half full after many
 * small commits): compact to shardN.new, then swap it in. */
int ix_compact_shard(const char *db, int s, char *err)
{
    char cur[PATH_MAX], fresh[PATH_MAX], old[PATH_MAX];
    snprintf(cur, sizeof cur, "%s/shard%d", db, s);
    snprintf(fresh, sizeof fresh, "%s/shard%d.new", db, s);
    snprintf(old, sizeof old, "%s/shard%d.old", db, s);
    rm_rf(fresh);
    if (xap_compact(cur, fresh, err) != XAP_OK) {
        rm_rf(fresh);
        return -1;
    }
    /* The generation moves before the swap and after it (at once, not at
     * the end of the run: other shards may take seconds to compact).  A
     * reader that finds it the same before and after opening the index
     * opened it wholly before the swap or wholly after; one that opened
     * some of the old files and some of the new sees it move. */
    ix_bump_generation(db);
    if (rename(cur, old) < 0 || rename(fresh, cur) < 0) {
        snprintf(err, PS_ERRLEN, "cannot swap in the compacted shard: %s",
                 strerror(errno));
        recover_shard(db, s);
        return -1;
    }
    ix_bump_generation(db);
    rm_rf(old);
    return 0;
}

/* Rewrites DIR/generation (new inode and mtime) so running readers know
 * to open the database anew. */
void ix_bump_generation(const char *db)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/" GENERATION_FILE, db);
    snprintf(tmp, sizeof tmp, "%s/" GENERATION_FILE ".tmp", db);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        return;
    fprintf(fp, "%.6f\n", ps_now());
    if (fclose(fp) == 0)
        rename(tmp, path);
}

/* Takes the writer's lock of DIR for the whole run: every other step,
 * from recovering a crashed compaction to the last rename, happens under
 * it.  Returns the descriptor (kept open until exit: the kernel releases
 * the lock when the process dies, so a crashed writer never blocks the
 * next one), -1 after an error, -2 when another live writer holds it
 * (err names its pid) and wait is 0. */
int ix_lock(const char *db, int wait, char *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" LOCK_FILE, db);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, PS_ERRLEN, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            snprintf(err, PS_ERRLEN, "cannot lock %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (!wait) {
            snprintf(err, PS_ERRLEN, "another policy-index (pid %s) is writing "
                     "%s", *pid ? pid : "?", db);
            close(fd);
            return -2;
        }
        fprintf(stderr, "policy-index: waiting for another policy-index (pid %s) "
                "writing %s\n", *pid ? pid : "?", db);
        while (flock(fd, LOCK_EX) < 0) {
            if (errno != EINTR) {
                snprintf(err, PS_ERRLEN, "cannot lock %s: %s", path,
                         strerror(errno));
                close(fd);
                return -1;
            }
        }
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        snprintf(err, PS_ERRLEN, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads or creates DIR/XAPIANDB; returns the shard count or -1.  The
 * caller holds the writer's lock. */
int ix_layout(const char *db, int jobs, char *err)
{
    char stub[PATH_MAX];
    snprintf(stub, sizeof stub, "%s/XAPIANDB", db);
    FILE *fp = fopen(stub, "r");
    if (fp) {
        /* Only a stub this program wrote: "glass shardN" for N = 0, 1, ...
         * in order, each shard there.  Anything else (a shard listed twice,
         * one missing, a line by hand) would index into an unlisted shard
         * or count passages twice: refused, nothing written. */
        int n = 0, bad = 0;
        char line[512];
        while (fgets(line, sizeof line, fp)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (!*line || *line == '#')
                continue;
            char want[32];
            snprintf(want, sizeof want, "glass shard%d", n);
            if (strcmp(line, want) != 0) {
                snprintf(err, PS_ERRLEN, "%s: line %d is '%.*s', expected '%s': "
                         "not a stub this program wrote (damaged?); nothing "
                         "written", stub, n + 1, ps_clip(line, 60), line, want);
                bad = 1;
                break;
            }
            n++;
        }
        fclose(fp);
        if (bad)
            return -1;
        if (n < 1) {
            snprintf(err, PS_ERRLEN, "%s lists no shards", stub);
            return -1;
        }
        for (int s = 0; s < n; s++)
            recover_shard(db, s);
        for (int s = 0; s < n; s++) {
            char sp[PATH_MAX];
            snprintf(sp, sizeof sp, "%s/shard%d/iamglass", db, s);
            if (access(sp, F_OK) != 0) {
                snprintf(err, PS_ERRLEN, "%s lists shard%d, which is missing: "
                         "the index is damaged; nothing written", stub, s);
                return -1;
            }
        }
        return n;
    }
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/iamglass", db);
    if (access(probe, F_OK) == 0) {
        snprintf(err, PS_ERRLEN, "%s is a plain Xapian database, not a "
                 "policy-search index", db);
        return -1;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/XAPIANDB.tmp", db);
    fp = fopen(tmp, "w");
    if (!fp) {
        snprintf(err, PS_ERRLEN, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    for (int i = 0; i < jobs; i++)
        fprintf(fp, "glass shard%d\n", i);
    if (fclose(fp) != 0 || rename(tmp, stub) < 0) {
        snprintf(err, PS_ERRLEN, "cannot write %s: %s", stub, strerror(errno));
        return -1;
    }
    return jobs;
}

void ix_generation(const char *db, char *out, size_t n)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/" GENERATION_FILE, db);
    struct stat st;
    if (stat(p, &st) == 0)
        snprintf(out, n, "%lld.%ld.%lld", (long long)st.st_mtim.tv_sec,
                 (long)st.st_mtim.tv_nsec, (long long)st.st_ino);
    else
        out[0] = '\0';
}

/* ---- one shard's writer ---- */

/* A batch is committed after this many passages or when its character
 * index holds this many bytes, whichever comes first. */
#define COMMIT_PASSAGES 20000
#define COMMIT_BYTES (48u << 20)

struct ix_writer {
    xap_wdb *w;
    char *db;
    int shard;
    gram_batch *grams;      /* character index of the passages since commit */
    size_t pending;         /* passages since commit */
    unsigned (*del)[2];     /* deleted docid ranges (META_DELETED) */
    size_t ndel;
    int del_dirty;
    gram_seg *segs;         /* the character index's segments */
    size_t nsegs;
    size_t merges;
    size_t run_passages;    /* passages committed by this writer */
    fdict *facets;          /* the shard's facet dictionary (fdict.h) */
    int facets_dirty;       /* members added since the last commit */
    ps_buf coded;           /* a passage's coded facet value */
    fcol_block col;         /* the facet column's last block (fcol.h) */
    uint32_t col_start;     /* the column's first docid */
    int col_dirty;          /* col changed since it was stored */
    int col_fault;          /* ix_writer_fault_column() */
    uint32_t *ids;          /* a passage's facet members */
    size_t idcap;
    int changed;
    char err[PS_ERRLEN];    /* of the last failed metadata write */
};

/* 1 for a format mark a writer upgrades in place when it adds to the
 * shard (schema.h). */
static int upgraded_in_place(const char *ver)
{
    return strcmp(ver, "5") == 0 || strcmp(ver, "6") == 0 ||
           strcmp(ver, "7") == 0 || strcmp(ver, "8") == 0;
}

/* Stores block b of the facet column (in the batch being written). */
static int col_save(ix_writer *w, const fcol_block *b, char *err)
{
    char key[6];
    ps_buf v;
    ps_buf_init(&v);
    fcol_key(b->block, key);
    fcol_block_encode(b, &v);
    int rc = xap_wdb_set_metadata_n(w->w, key, 6, v.data, v.len, err) ==
             XAP_OK ? 0 : -1;
    ps_buf_free(&v);
    return rc;
}

/* Block number block of the facet column into b; -1 when it cannot be
 * read, is missing or is damaged. */
static int col_load(ix_writer *w, uint32_t block, fcol_block *b, char *err)
{
    char key[6], *v = NULL;
    size_t vl = 0;
    fcol_key(block, key);
    if (xap_wdb_get_metadata_k(w->w, key, 6, &v, &vl, err) != XAP_OK)
        return -1;
    int rc = vl ? fcol_block_load(b, block, v, vl) : -1;
    free(v);
    if (rc < 0)
        snprintf(err, PS_ERRLEN, "shard %d: block %u of the facet column is "
                 "%s (policy-index --check)", w->shard, block,
                 vl ? "damaged" : "missing");
    return rc;
}

/* The facet column's start (META_FCOLSTART), and its last block when it
 * is not full: a new shard's column starts at 1, an upgraded one's after
 * its last passage. */
static int col_open(ix_writer *w, int fresh, int older, char *err)
{
    unsigned last = xap_wdb_lastdocid(w->w);
    char num[16];
    if (fresh || older) {
        w->col_start = fresh ? 1 : last + 1;
        snprintf(num, sizeof num, "%u", w->col_start);
        if (xap_wdb_set_metadata(w->w, META_FCOLSTART, num, err) != XAP_OK)
            return -1;
    } else {
        char *v = NULL, *end;
        if (xap_wdb_get_metadata(w->w, META_FCOLSTART, &v, err) != XAP_OK)
            return -1;
        unsigned long x = strtoul(v, &end, 10);
        int bad = !*v || *end || x == 0 || x > (unsigned long)last + 1;
        free(v);
        if (bad) {
            snprintf(err, PS_ERRLEN, "shard %d: the facet column's start is "
                     "missing or damaged (policy-index --check)", w->shard);
            return -1;
        }
        w->col_start = (uint32_t)x;
    }
    uint32_t next = fcol_block_of(last + 1);
    if (last >= w->col_start && fcol_block_of(last) == next)
        return col_load(w, next, &w->col, err);
    fcol_block_start(&w->col, next);
    return 0;
}

/* One of the shard's lists (metadata key), with Xapian's own words when
 * it cannot be read: -1 with err naming the shard and the list. */
static int read_meta(ix_writer *w, const char *path, const char *key,
                     const char *what, char **v, size_t *vl, char *err)
{
    if (xap_wdb_get_metadata_n(w->w, key, v, vl, err) == XAP_OK)
        return 0;
    char why[PS_ERRLEN];
    memcpy(why, err, PS_ERRLEN);
    snprintf(err, PS_ERRLEN, "%s: cannot read the %s: %s", path, what, why);
    return -1;
}

/* A list read but not decoded: damage (always 1, for conditions). */
static int undecodable(const char *path, const char *what, char *err)
{
    snprintf(err, PS_ERRLEN, "%s: the %s does not decode: the index is "
             "damaged (policy-index --check)", path, what);
    return 1;
}

ix_writer *ix_writer_open(const char *db, int s, char *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/shard%d", db, s);
    ix_writer *w = ps_xcalloc(1, sizeof *w);
    w->db = ps_xstrdup(db);
    w->shard = s;
    if (xap_wdb_open(path, &w->w, err) != XAP_OK) {
        char tmp[PS_ERRLEN];
        snprintf(tmp, sizeof tmp, "%s: cannot open for writing: %s", path, err);
        memcpy(err, tmp, PS_ERRLEN);
        ix_writer_close(w);
        return NULL;
    }
    char *ver = NULL;
    if (xap_wdb_get_metadata(w->w, META_VERSION, &ver, err) != XAP_OK) {
        ix_writer_close(w);
        return NULL;
    }
    /* Formats 5 and 6 are upgraded in place (schema.h): the mark
     * changes with the first commit. */
    int older = upgraded_in_place(ver);
    if (older && xap_wdb_set_metadata(w->w, META_VERSION, PS_FORMAT_VERSION,
                                      err) != XAP_OK) {
        free(ver);
        ix_writer_close(w);
        return NULL;
    }
    if (*ver && !older && strcmp(ver, PS_FORMAT_VERSION) != 0) {
        snprintf(err, PS_ERRLEN, "%s: index format %.*s, this build writes %s; "
                 "index the documents into a new --db (searching the old one "
                 "still works)", path, ps_clip(ver, 20), ver, PS_FORMAT_VERSION);
        free(ver);
        ix_writer_close(w);
        return NULL;
    }
    int fresh = !*ver;
    free(ver);
    if (col_open(w, fresh, older, err) < 0) {
        ix_writer_close(w);
        return NULL;
    }
    /* A new shard is a valid, empty index from its first commit: a run
     * killed before its first batch leaves an index that opens. */
    if (fresh && (xap_wdb_set_metadata(w->w, META_VERSION, PS_FORMAT_VERSION,
                                       err) != XAP_OK ||
                  xap_wdb_commit(w->w, err) != XAP_OK)) {
        ix_writer_close(w);
        return NULL;
    }
    char *v = NULL;
    size_t vl = 0;
    if (read_meta(w, path, META_DELETED, "list of deleted passages", &v, &vl,
                  err) < 0 ||
        (gram_ranges_decode(v, vl, &w->del, &w->ndel) < 0 &&
         undecodable(path, "list of deleted passages", err))) {
        free(v);
        ix_writer_close(w);
        return NULL;
    }
    free(v);
    v = NULL;
    if (read_meta(w, path, META_SEGMENTS, "list of segments of the character "
                  "index", &v, &vl, err) < 0 ||
        (gram_segs_decode(v, vl, &w->segs, &w->nsegs) < 0 &&
         undecodable(path, "list of segments of the character index", err))) {
        free(v);
        ix_writer_close(w);
        return NULL;
    }
    free(v);
    v = NULL;
    w->facets = fdict_create();
    if (read_meta(w, path, META_FACETDICT, "facet dictionary", &v, &vl,
                  err) < 0 ||
        (fdict_load(w->facets, v, vl) < 0 &&
         undecodable(path, "facet dictionary", err))) {
        free(v);
        ix_writer_close(w);
        return NULL;
    }
    free(v);
    w->grams = gram_batch_create();
    return w;
}

void ix_writer_close(ix_writer *w)
{
    if (!w)
        return;
    xap_wdb_close(w->w);
    gram_batch_destroy(w->grams);
    fdict_destroy(w->facets);
    ps_buf_free(&w->coded);
    fcol_block_free(&w->col);
    free(w->ids);
    free(w->del);
    free(w->segs);
    free(w->db);
    free(w);
}

int ix_writer_add(ix_writer *w, xap_doc *doc, const char *text, size_t len,
                  const char *data, size_t datalen, char *err)
{
    unsigned docid;
    char key[6];
    size_t fl, added = 0;
    long nids = 0;
    char *fv = xap_doc_value(doc, SLOT_FACETS, &fl);
    if (fl && !fdict_coded(fv, fl)) {
        fdict_encode(w->facets, fv, fl, &w->coded, &added);
        xap_doc_set_value(doc, SLOT_FACETS, w->coded.data, w->coded.len);
        if (added)
            w->facets_dirty = 1;
        nids = fcol_value_ids(w->coded.data, w->coded.len, &w->ids, &w->idcap);
    } else if (fl) {
        nids = fcol_value_ids(fv, fl, &w->ids, &w->idcap);
    }
    free(fv);
    if (xap_wdb_add(w->w, doc, &docid, err) != XAP_OK)
        return -1;
    /* Its row of the facet column, after the full block before it. */
    if (fcol_block_of(docid) != w->col.block) {
        if (w->col.nrows && col_save(w, &w->col, err) < 0)
            return -1;
        fcol_block_start(&w->col, fcol_block_of(docid));
    }
    size_t n = nids > 0 ? (size_t)nids : 0;
    if (w->col_fault) {     /* tests: a member no dictionary has */
        if (n == w->idcap) {
            w->idcap = w->idcap ? 2 * w->idcap : 64;
            w->ids = ps_xrealloc(w->ids, w->idcap * sizeof(uint32_t));
        }
        w->ids[n++] = 0x7fffffff;
        w->col_fault = 0;
    }
    if (fcol_block_put(&w->col, docid, w->ids, n) < 0) {
        snprintf(err, PS_ERRLEN, "shard %d: passage %u out of the facet "
                 "column's block", w->shard, docid);
        return -1;
    }
    w->col_dirty = 1;
    ps_data_key(docid, key);
    if (xap_wdb_set_metadata_n(w->w, key, 6, data, datalen, err) != XAP_OK)
        return -1;
    if (text)       /* NULL only to make a damaged index for tests */
        gram_batch_add(w->grams, docid, text, len);
    w->pending++;
    w->changed = 1;
    return 0;
}

void ix_writer_fault_column(ix_writer *w)
{
    w->col_fault = 1;
}

/* The character index still lists deleted passages until their segment
 * is merged: their docids go to the deleted list. */
int ix_writer_delete(ix_writer *w, const char *term, size_t *count, char *err)
{
    unsigned *ids;
    size_t n;
    if (count)
        *count = 0;
    if (xap_wdb_delete_term(w->w, term, &ids, &n, err) != XAP_OK)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char key[6];
        ps_data_key(ids[i], key);
        if (xap_wdb_set_metadata_n(w->w, key, 6, "", 0, err) != XAP_OK)
            rc = -1;
    }
    /* Their rows of the facet column become empty. */
    fcol_block other;
    memset(&other, 0, sizeof other);
    other.block = UINT32_MAX;
    for (size_t i = 0; i < n && !rc; i++) {
        if (ids[i] < w->col_start)
            continue;
        uint32_t b = fcol_block_of(ids[i]);
        fcol_block *at = b == w->col.block ? &w->col : &other;
        if (at == &other && other.block != b) {
            if ((other.block != UINT32_MAX && col_save(w, &other, err) < 0) ||
                col_load(w, b, &other, err) < 0)
                rc = -1;
        }
        if (!rc && fcol_block_put(at, ids[i], NULL, 0) < 0)
            rc = -1;
        w->col_dirty |= at == &w->col;
    }
    if (!rc && other.block != UINT32_MAX && col_save(w, &other, err) < 0)
        rc = -1;
    fcol_block_free(&other);
    if (n) {
        gram_ranges_add(&w->del, &w->ndel, ids, n);
        w->del_dirty = 1;
        w->changed = 1;
    }
    if (count)
        *count = n;
    free(ids);
    return rc;
}

int ix_writer_set(ix_writer *w, const char *key, const char *value, char *err)
{
    w->changed = 1;
    return xap_wdb_set_metadata(w->w, key, value, err) == XAP_OK ? 0 : -1;
}

int ix_writer_get(ix_writer *w, const char *key, char **value, char *err)
{
    return xap_wdb_get_metadata(w->w, key, value, err) == XAP_OK ? 0 : -1;
}

int ix_writer_keys(ix_writer *w, const char *prefix,
                   void (*cb)(void *ctx, const char *key), void *ctx,
                   char *err)
{
    return xap_wdb_metadata_keys(w->w, prefix, cb, ctx, err) == XAP_OK ? 0 : -1;
}

int ix_writer_scan(ix_writer *w, const char *prefix,
                   int (*cb)(void *ctx, const char *key, size_t klen,
                             const char *val, size_t vlen),
                   void *ctx, char *err)
{
    return xap_wdb_metadata_scan(w->w, prefix, strlen(prefix), cb, ctx, err) ==
                   XAP_OK ? 0 : -1;
}

int ix_writer_due(const ix_writer *w)
{
    return w->pending >= COMMIT_PASSAGES ||
           gram_batch_bytes(w->grams) >= COMMIT_BYTES;
}

int ix_writer_changed(const ix_writer *w)
{
    return w->changed;
}

size_t ix_writer_merges(const ix_writer *w)
{
    return w->merges;
}

static int put_meta(void *ctx, const char *key, size_t klen, const char *val,
                    size_t vlen)
{
    ix_writer *w = ctx;
    return xap_wdb_set_metadata_n(w->w, key, klen, val, vlen, w->err) !=
           XAP_OK;
}

/* One metadata value of a writable shard into out (gram_get). */
static int wdb_get(xap_wdb *w, const char *key, size_t klen, ps_buf *out,
                   char *err)
{
    char *v;
    size_t vl;
    if (xap_wdb_get_metadata_k(w, key, klen, &v, &vl, err) != XAP_OK)
        return -1;
    out->len = 0;
    ps_buf_add(out, v, vl);
    free(v);
    return 0;
}

static int get_meta(void *ctx, const char *key, size_t klen, ps_buf *out,
                    char *err)
{
    return wdb_get(((ix_writer *)ctx)->w, key, klen, out, err);
}

/* Adds the batch's segment, then merges what the policy says (gram_plan:
 * a half-deleted segment alone, the K smallest neighbours when there are
 * too many), each merge costing the size of what it merges.  Deleted
 * passages merged away leave the deleted list. */
static int add_segment(ix_writer *w, const gram_seg *sg, char *err)
{
    if (sg->passages) {
        w->segs = ps_xrealloc(w->segs, (w->nsegs + 1) * sizeof(gram_seg));
        w->segs[w->nsegs++] = *sg;
    }
    size_t start, n;
    while ((n = gram_plan(w->segs, w->nsegs, (const unsigned (*)[2])w->del,
                          w->ndel, &start)) > 0) {
        gram_seg m;
        if (gram_merge(get_meta, put_meta, w, w->segs + start, n,
                       (const unsigned (*)[2])w->del, w->ndel, &m, err) < 0)
            return -1;
        gram_ranges_drop(&w->del, &w->ndel, w->segs[start].first,
                         w->segs[start + n - 1].last);
        w->del_dirty = 1;
        size_t keep = m.passages ? 1 : 0;
        if (keep)
            w->segs[start] = m;
        memmove(w->segs + start + keep, w->segs + start + n,
                (w->nsegs - start - n) * sizeof(gram_seg));
        w->nsegs -= n - keep;
        w->merges++;
    }
    return 0;
}

int ix_writer_commit(ix_writer *w, size_t *passages, char *err)
{
    gram_seg sg;
    w->err[0] = '\0';
    if (passages)
        *passages = 0;
    int bad = gram_batch_flush(w->grams, put_meta, w, &sg);
    if (bad)
        snprintf(err, PS_ERRLEN, "%s", w->err);
    if (!bad && (sg.passages || w->del_dirty)) {
        if (add_segment(w, &sg, err) < 0) {
            if (w->err[0])
                snprintf(err, PS_ERRLEN, "%s", w->err);
            bad = 1;
        } else {
            ps_buf b;
            ps_buf_init(&b);
            gram_segs_encode(w->segs, w->nsegs, &b);
            bad = xap_wdb_set_metadata_n(w->w, META_SEGMENTS,
                                         strlen(META_SEGMENTS),
                                         b.data ? b.data : "", b.len,
                                         err) != XAP_OK;
            ps_buf_free(&b);
        }
    }
    if (!bad && w->del_dirty) {
        ps_buf b;
        ps_buf_init(&b);
        gram_ranges_encode((const unsigned (*)[2])w->del, w->ndel, &b);
        bad = xap_wdb_set_metadata_n(w->w, META_DELETED, strlen(META_DELETED),
                                     b.data ? b.data : "", b.len, err) != XAP_OK;
        ps_buf_free(&b);
        w->del_dirty = 0;
    }
    if (!bad && w->col_dirty)
        bad = col_save(w, &w->col, err) < 0;
    if (!bad && w->facets_dirty) {
        ps_buf b;
        ps_buf_init(&b);
        fdict_save(w->facets, &b);
        bad = xap_wdb_set_metadata_n(w->w, META_FACETDICT,
                                     strlen(META_FACETDICT),
                                     b.data ? b.data : "", b.len, err) != XAP_OK;
        ps_buf_free(&b);
    }
    if (bad || xap_wdb_commit(w->w, err) != XAP_OK)
        return -1;
    w->facets_dirty = 0;
    w->col_dirty = 0;
    w->pending = 0;
    w->run_passages += sg.passages;
    if (passages)
        *passages = sg.passages;
    return 0;
}

int ix_writer_optimize(ix_writer *w, char *err)
{
    if (w->nsegs <= 1 && !w->ndel)
        return 0;
    gram_seg m;
    if (gram_merge(get_meta, put_meta, w, w->segs, w->nsegs,
                   (const unsigned (*)[2])w->del, w->ndel, &m, err) < 0)
        return -1;
    free(w->del);
    w->del = NULL;
    w->ndel = 0;
    w->del_dirty = 1;
    w->segs[0] = m;
    w->nsegs = m.passages ? 1 : 0;
    w->merges++;
    w->changed = 1;
    return ix_writer_commit(w, NULL, err);
}

int ix_writer_finish(ix_writer *w, int mode, char *err)
{
    unsigned live = 0;
    if (xap_wdb_doccount(w->w, &live, err) != XAP_OK) {
        ix_writer_close(w);
        return -1;
    }
    /* Whole-shard compaction costs the whole shard: done when asked or
     * when this writer wrote at least half of the shard (a first run),
     * never because a few files were added. */
    int worth = mode == 2 || (mode == 1 && w->run_passages &&
                              w->run_passages * 2 >= (size_t)live);
    int changed = w->changed;
    char *db = ps_xstrdup(w->db);
    int s = w->shard;
    ix_writer_close(w);
    int rc = 0;
    if (worth && changed)
        rc = ix_compact_shard(db, s, err);
    free(db);
    return rc;
}

/* ---- checking ---- */

typedef struct check_ctx {
    unsigned maxdoc;
    const gram_seg *segs;
    size_t nsegs;
    size_t unlisted;
    size_t verified;          /* passages whose grams were rebuilt */
    size_t chunks, data, bad;
    const char *shard;
    char err[PS_ERRLEN];
    strset *docs;             /* the documents passages name, once each */
    char **names;             /* ... in the order first met */
    size_t nnames, capnames;
} check_ctx;

static void check_fail(check_ctx *c, const char *what)
{
    if (c->bad++ < 10)
        fprintf(stderr, "policy-index: --check: %s: %s\n", c->shard, what);
}

static int check_gram(void *ctx, const char *key, size_t klen, const char *val,
                      size_t vlen)
{
    check_ctx *c = ctx;
    c->chunks++;
    /* The chunk's segment must be listed; its passages lie within it. */
    unsigned maxdoc = c->maxdoc, mindoc = 0;
    int seg_first = 0;
    if (c->segs && klen >= 4) {
        /* A bigram's or character's key names its segment first (format
         * 9) or last (a segment a format-5 to 8 writer wrote), as the
         * list says of that segment; a lengths key is the same either way. */
        size_t i = c->nsegs;
        for (int sf = 1; sf >= 0 && i == c->nsegs; sf--) {
            unsigned seg;
            if (gram_key_segment(key, klen, sf, &seg) < 0) {
                if (key[0] != META_LENGTH[0])
                    continue;
                seg = ps_get_be32(key + klen - 4);
            }
            for (i = 0; i < c->nsegs; i++)
                if (key[0] == META_LENGTH[0] ? c->segs[i].first == seg :
                    c->segs[i].key == seg && (int)c->segs[i].seg_first == sf)
                    break;
            seg_first = sf;
        }
        if (i == c->nsegs) {
            if (c->unlisted++ == 0)
                check_fail(c, "a character-index chunk of a segment the "
                              "segment list does not have");
            return 0;
        }
        mindoc = c->segs[i].first;
        maxdoc = c->segs[i].last;
    }
    if (gram_check_chunk(key, klen, seg_first, val, vlen, mindoc, maxdoc,
                         c->err) < 0)
        check_fail(c, c->err);
    return 0;
}

typedef struct text_ctx {
    xap_wdb *w;
} text_ctx;

/* A stored passage's text as the index has it (normalized). */
static int check_text(void *ctx, unsigned docid, ps_buf *out, int *live,
                      char *err)
{
    text_ctx *t = ctx;
    char key[6], *v;
    size_t vl;
    ps_data_key(docid, key);
    *live = 0;
    if (xap_wdb_get_metadata_k(t->w, key, 6, &v, &vl, err) != XAP_OK)
        return -1;
    json_error_t je;
    json_t *j = vl ? json_loadb(v, vl, 0, &je) : NULL;
    free(v);
    const char *src = j ? json_string_value(json_object_get(j, "text")) : NULL;
    if (src) {
        uint32_t *from = NULL, *to = NULL;
        if (norm_text_map(src, strlen(src), out, &from, &to, err) == 0)
            *live = 1;
        free(from);
        free(to);
    }
    json_decref(j);
    return 0;
}

static int check_get(void *ctx, const char *key, size_t klen, ps_buf *out,
                     char *err)
{
    return wdb_get(((text_ctx *)ctx)->w, key, klen, out, err);
}

static int check_data(void *ctx, const char *key, size_t klen, const char *val,
                      size_t vlen)
{
    check_ctx *c = ctx;
    (void)key;
    if (klen != 6)
        check_fail(c, "a passage record with a malformed key");
    if (!vlen)
        return 0;                       /* a deleted passage */
    c->data++;
    json_error_t je;
    json_t *j = json_loadb(val, vlen, 0, &je);
    const char *doc = json_string_value(json_object_get(j, "doc"));
    if (!j || !json_is_string(json_object_get(j, "text")) || !doc)
        check_fail(c, "a passage record that is not the passage's JSON");
    else if (strset_get(c->docs, doc, strlen(doc)) < 0) {
        strset_put(c->docs, doc, strlen(doc), 1);
        if (c->nnames == c->capnames) {
            c->capnames = c->capnames ? 2 * c->capnames : 64;
            c->names = ps_xrealloc(c->names, c->capnames * sizeof(char *));
        }
        c->names[c->nnames++] = ps_xstrdup(doc);
    }
    json_decref(j);
    return 0;
}

/* Every document that has passages has its file record (else the next
 * run adds its passages again) and its metadata record (the searcher
 * reads it for every hit). */
typedef struct facets_check {
    check_ctx *c;
    fdict *d;
    size_t bad;
    unsigned first;           /* the first passage whose value is bad */
} facets_check;

static void no_member(void *ctx, uint32_t id)
{
    (void)ctx;
    (void)id;
}

static void check_facet_value(void *ctx, unsigned docid, const char *v,
                              size_t n)
{
    facets_check *f = ctx;
    if (fdict_coded(v, n) && fdict_each(f->d, v, n, no_member, NULL) < 0 &&
        !f->bad++)
        f->first = docid;
}

/* The facet dictionary reads, and every coded facet value reads with
 * it. */
static void check_facets(check_ctx *c, xap_wdb *w)
{
    char err[PS_ERRLEN];
    char *v = NULL;
    size_t vl = 0;
    facets_check f = {c, fdict_create(), 0, 0};
    if (xap_wdb_get_metadata_n(w, META_FACETDICT, &v, &vl, err) != XAP_OK)
        check_fail(c, err);
    else if (fdict_load(f.d, v, vl) < 0)
        check_fail(c, "the facet dictionary does not decode");
    else if (xap_wdb_values(w, SLOT_FACETS, check_facet_value, &f, err) !=
             XAP_OK)
        check_fail(c, err);
    else if (f.bad) {
        snprintf(err, sizeof err, "%zu facet value%s (the first of passage "
                 "%u) do%s not decode with the facet dictionary", f.bad,
                 f.bad == 1 ? "" : "s", f.first, f.bad == 1 ? "es" : "");
        check_fail(c, err);
    }
    free(v);
    fdict_destroy(f.d);
}

/* The facet column against the values: walking the passages in docid
 * order, a block read when the walk enters it. */
typedef struct col_check {
    check_ctx *c;
    xap_wdb *w;
    uint32_t start, next;     /* the column's first docid; the next row */
    uint32_t block;           /* the block in view (UINT32_MAX: none) */
    char *rec;                /* its record */
    fcol_view view;
    int usable;               /* the block read and decoded */
    uint32_t *ids;
    size_t cap;
    size_t bad;               /* rows that differ from their passage */
    unsigned first;           /* the first of them */
    size_t beyond;            /* blocks outside the passages */
} col_check;

static void col_check_fail(col_check *k, const char *what)
{
    char msg[PS_ERRLEN];
    snprintf(msg, sizeof msg, "facet column: %s", what);
    check_fail(k->c, msg);
}

/* Row docid against ids[0..n). */
static void col_check_row(col_check *k, uint32_t docid, const uint32_t *ids,
                          size_t n)
{
    uint32_t b = fcol_block_of(docid);
    if (b != k->block) {
        char key[6], err[PS_ERRLEN], msg[PS_ERRLEN + 64];
        size_t vl = 0;
        free(k->rec);
        k->rec = NULL;
        k->block = b;
        fcol_key(b, key);
        k->usable = 0;
        if (xap_wdb_get_metadata_k(k->w, key, 6, &k->rec, &vl, err) != XAP_OK) {
            snprintf(msg, sizeof msg, "block %u: %s", b, err);
            col_check_fail(k, msg);
        } else if (!vl) {
            snprintf(msg, sizeof msg, "block %u is missing", b);
            col_check_fail(k, msg);
        } else if (fcol_view_open(&k->view, k->rec, vl) < 0) {
            snprintf(msg, sizeof msg, "block %u does not decode", b);
            col_check_fail(k, msg);
        } else {
            k->usable = 1;
        }
    }
    if (!k->usable)
        return;
    uint32_t r = docid - b * FCOL_ROWS - 1, at, len;
    int same = r < k->view.nrows;
    if (same) {
        fcol_view_row(&k->view, r, &at, &len);
        same = len == n;
        for (uint32_t i = 0; same && i < len; i++)
            same = fcol_view_id(&k->view, at + i) == ids[i];
    }
    if (!same && !k->bad++)
        k->first = docid;
}

/* Rows of docids without a passage, up to docid, are empty. */
static void col_check_upto(col_check *k, uint32_t docid)
{
    for (; k->next < docid; k->next++)
        col_check_row(k, k->next, NULL, 0);
}

static void col_check_value(void *ctx, unsigned docid, const char *v, size_t n)
{
    col_check *k = ctx;
    if (docid < k->start)
        return;
    col_check_upto(k, docid);
    long nids = fcol_value_ids(v, n, &k->ids, &k->cap);
    col_check_row(k, docid, k->ids, nids > 0 ? (size_t)nids : 0);
    k->next = docid + 1;
}

static int col_check_key(void *ctx, const char *key, size_t klen,
                         const char *val, size_t vlen)
{
    col_check *k = ctx;
    (void)val;
    (void)vlen;
    uint32_t b = klen == 6 ? ps_get_be32(key + 2) : 0;
    uint32_t last = xap_wdb_lastdocid(k->w);
    if (klen != 6 || last < k->start || b < fcol_block_of(k->start) ||
        b > fcol_block_of(last))
        k->beyond++;
    return 0;
}

/* Every passage from the column's start has the members of its value as
 * its row; docids without a passage have empty rows; no block lies
 * outside the passages. */
static void check_column(check_ctx *c, xap_wdb *w, int current)
{
    char err[PS_ERRLEN], *v = NULL, *end;
    if (xap_wdb_get_metadata(w, META_FCOLSTART, &v, err) != XAP_OK) {
        check_fail(c, err);
        return;
    }
    unsigned long start = strtoul(v, &end, 10);
    int have = *v != '\0';
    int bad = have && (*end || start == 0 || start > UINT32_MAX);
    free(v);
    if (bad || (!have && current)) {
        check_fail(c, bad ? "facet column: its start does not read"
                          : "facet column: its start is missing");
        return;
    }
    if (!have)          /* a shard of format 7 or older, not upgraded */
        return;
    col_check k;
    memset(&k, 0, sizeof k);
    k.c = c;
    k.w = w;
    k.start = k.next = (uint32_t)start;
    k.block = UINT32_MAX;
    if (xap_wdb_values(w, SLOT_FACETS, col_check_value, &k, err) != XAP_OK)
        check_fail(c, err);
    uint32_t last = xap_wdb_lastdocid(w);
    if (last < UINT32_MAX)
        col_check_upto(&k, last + 1);
    if (k.bad) {
        snprintf(err, sizeof err, "%zu row%s (the first of passage %u) differ%s "
                 "from the passage's facet value", k.bad, k.bad == 1 ? "" : "s",
                 k.first, k.bad == 1 ? "s" : "");
        col_check_fail(&k, err);
    }
    if (xap_wdb_metadata_scan(w, META_FCOL, 2, col_check_key, &k, err) !=
        XAP_OK)
        check_fail(c, err);
    else if (k.beyond) {
        snprintf(err, sizeof err, "%zu block%s outside the passages", k.beyond,
                 k.beyond == 1 ? "" : "s");
        col_check_fail(&k, err);
    }
    free(k.rec);
    free(k.ids);
}

static void check_doc_records(check_ctx *c, xap_wdb *w)
{
    static const char *const pfx[] = {META_FILE, META_DOC};
    static const char *const what[] = {"file", "metadata"};
    for (size_t i = 0; i < c->nnames; i++) {
        for (size_t k = 0; k < 2; k++) {
            char key[PATH_MAX + 8], err[PS_ERRLEN], msg[PATH_MAX + 200];
            snprintf(key, sizeof key, "%s%s", pfx[k], c->names[i]);
            char *v = NULL;
            size_t vl = 0;
            if (xap_wdb_get_metadata_n(w, key, &v, &vl, err) != XAP_OK) {
                check_fail(c, err);
            } else if (!vl || (k == 1 && v[0] != '{')) {
                snprintf(msg, sizeof msg, "document %.*s has passages but no "
                         "%s record", (int)strnlen(c->names[i], PATH_MAX),
                         c->names[i], what[k]);
                check_fail(c, msg);
            }
            free(v);
        }
        free(c->names[i]);
    }
    free(c->names);
    c->names = NULL;
    c->nnames = c->capnames = 0;
}

static void add_chunk(void *ctx, const char *v, size_t n)
{
    ps_buf *out = ctx;
    uint32_t len = (uint32_t)n;
    ps_buf_add(out, (const char *)&len, 4);
    ps_buf_add(out, v, n);
}

static int add_chunk_kv(void *ctx, const char *key, size_t klen,
                        const char *val, size_t vlen)
{
    (void)key;
    (void)klen;
    add_chunk(ctx, val, vlen);
    return 0;
}

/* gram_fetch over a writer's handle. */
static int check_fetch(void *ctx, const char *prefix, size_t plen, ps_buf *out,
                       char *err)
{
    return xap_wdb_metadata_scan(ctx, prefix, plen, add_chunk_kv, out, err) ==
                   XAP_OK ? 0 : -1;
}

/* Xapian's check of one shard in a child process: on damaged files the
 * library's checker itself can read out of bounds or crash, and that
 * must be reported as damage, not end --check.  0 and *problems, or -1
 * with err (the check failed or the child died). */
static int xapian_check_apart(const char *path, size_t *problems, char *err)
{
    int fd[2];
    *problems = 0;
    if (pipe(fd) < 0) {
        snprintf(err, PS_ERRLEN, "cannot run Xapian's check: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        snprintf(err, PS_ERRLEN, "cannot run Xapian's check: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        char cerr[PS_ERRLEN] = "";
        size_t n = 0;
        int rc = xap_check(path, &n, cerr) == XAP_OK ? 0 : 1;
        char out[PS_ERRLEN + 32];
        int len = snprintf(out, sizeof out, "%d %zu %s", rc, n, cerr);
        if (write(fd[1], out, (size_t)len) < 0)
            _exit(3);
        _exit(0);
    }
    close(fd[1]);
    char buf[PS_ERRLEN + 32];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 &&
           (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got) {
        snprintf(err, PS_ERRLEN, "Xapian's check of the files died (%s %d): "
                 "they are damaged", WIFSIGNALED(status) ? "signal" : "status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return -1;
    }
    int rc = 0;
    int off = 0;
    if (sscanf(buf, "%d %zu %n", &rc, problems, &off) < 2) {
        snprintf(err, PS_ERRLEN, "Xapian's check said nothing readable");
        return -1;
    }
    if (rc) {
        snprintf(err, PS_ERRLEN, "%s", buf + off);
        return -1;
    }
    return 0;
}

/* policy-index --check DB: Xapian's full check of every shard, every
 * chunk of the character index decoded and checked, every passage record
 * read, and the counts compared.  Exit 0 when all is well, 1 otherwise. */
int ix_check(const char *db, int wait)
{
    char err[PS_ERRLEN];
    int lockfd = ix_lock(db, wait, err);
    if (lockfd < 0) {
        fprintf(stderr, "policy-index: %s\n", err);
        return lockfd == -2 ? 2 : 1;
    }
    char stub[PATH_MAX];
    snprintf(stub, sizeof stub, "%s/XAPIANDB", db);
    if (access(stub, F_OK) != 0) {
        fprintf(stderr, "policy-index: --check: %s: no index here\n", db);
        close(lockfd);
        return 1;
    }
    int n = ix_layout(db, 1, err);
    if (n < 0) {
        fprintf(stderr, "policy-index: --check: %s\n", err);
        close(lockfd);
        return 1;
    }
    size_t bad = 0, chunks = 0, passages = 0;
    for (int s = 0; s < n; s++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/shard%d", db, s);
        check_ctx c = {0};
        c.shard = path;
        size_t problems = 0;
        if (xapian_check_apart(path, &problems, err) < 0) {
            check_fail(&c, err);
        } else if (problems) {
            snprintf(err, sizeof err, "Xapian's check found %zu problems "
                     "(xapian-check %s for the details)", problems, path);
            check_fail(&c, err);
        }
        xap_wdb *w;
        if (c.bad || xap_wdb_open(path, &w, err) != XAP_OK) {
            if (!c.bad)
                check_fail(&c, err);
            bad += c.bad;
            continue;
        }
        c.docs = strset_create();
        char *ver = NULL;
        if (xap_wdb_get_metadata(w, META_VERSION, &ver, err) != XAP_OK ||
            (!upgraded_in_place(ver) && strcmp(ver, PS_FORMAT_VERSION) != 0)) {
            const char *v = ver ? ver : "";
            snprintf(err, sizeof err, "format mark '%.*s', expected '5' to "
                     "'%s'", ps_clip(v, 20), v, PS_FORMAT_VERSION);
            check_fail(&c, err);
        }
        int current = ver && strcmp(ver, PS_FORMAT_VERSION) == 0;
        free(ver);
        check_facets(&c, w);
        check_column(&c, w, current);
        c.maxdoc = xap_wdb_lastdocid(w);
        gram_seg *segs = NULL;
        size_t nsegs = 0;
        unsigned (*del)[2] = NULL;
        size_t ndel = 0;
        char *sv = NULL, *dv = NULL;
        size_t svl = 0, dvl = 0;
        if (xap_wdb_get_metadata_n(w, META_SEGMENTS, &sv, &svl, err) != XAP_OK ||
            gram_segs_decode(sv, svl, &segs, &nsegs) < 0)
            check_fail(&c, "the segment list does not decode");
        if (xap_wdb_get_metadata_n(w, META_DELETED, &dv, &dvl, err) != XAP_OK ||
            gram_ranges_decode(dv, dvl, &del, &ndel) < 0)
            check_fail(&c, "the list of deleted passages does not decode");
        free(sv);
        free(dv);
        for (size_t i = 0; i < nsegs; i++)
            if (segs[i].last > c.maxdoc) {
                check_fail(&c, "a segment beyond the last passage");
                break;
            }
        c.segs = segs ? segs : (const gram_seg *)"";
        c.nsegs = nsegs;
        if (xap_wdb_metadata_scan(w, META_GRAM, 2, check_gram, &c, err) != XAP_OK ||
            xap_wdb_metadata_scan(w, META_LENGTH, 2, check_gram, &c, err) != XAP_OK ||
            xap_wdb_metadata_scan(w, META_UNIGRAM, 2, check_gram, &c, err) != XAP_OK ||
            xap_wdb_metadata_scan(w, META_DATA, 2, check_data, &c, err) != XAP_OK)
            check_fail(&c, err);
        /* The character index rebuilt from the stored text, segment by
         * segment, 20,000 passages at a time, equals the stored one. */
        text_ctx tc = {w};
        for (size_t i = 0; i < nsegs && !c.bad; i++) {
            size_t differ = 0;
            if (gram_verify(check_get, &tc, &segs[i], check_text, &tc,
                            (const unsigned (*)[2])del, ndel, 20000, &differ,
                            err) < 0)
                check_fail(&c, err);
            else if (differ) {
                snprintf(err, sizeof err, "segment %u: %zu chunk%s differ%s from "
                         "the passages' text", segs[i].first, differ,
                         differ == 1 ? "" : "s", differ == 1 ? "s" : "");
                check_fail(&c, err);
            }
            c.verified += segs[i].passages;
        }
        free(segs);
        unsigned docs = 0;
        if (xap_wdb_doccount(w, &docs, err) != XAP_OK)
            check_fail(&c, err);
        if (c.data != docs) {
            snprintf(err, sizeof err, "%zu passage records for %u passages",
                     c.data, docs);
            check_fail(&c, err);
        }
        /* Every live passage is in the character index exactly once (a
         * passage missing from it is never found). */
        uint32_t *lens = NULL;
        size_t nlens = 0, live = 0;
        if (gram_lengths(check_fetch, w, (const unsigned (*)[2])del, ndel,
                         c.maxdoc + 1, &lens, &nlens, &live, err) < 0) {
            check_fail(&c, err);
        } else if (live != docs) {
            snprintf(err, sizeof err, "the character index lists %zu passages, "
                     "the database holds %u", live, docs);
            check_fail(&c, err);
        }
        free(lens);
        free(del);
        check_doc_records(&c, w);
        strset_destroy(c.docs);
        xap_wdb_close(w);
        chunks += c.chunks;
        passages += c.data;
        bad += c.bad;
    }
    close(lockfd);
    fprintf(stderr, "policy-index: --check %s: %d shard%s, %zu passages, %zu "
            "character-index chunks: %s\n", db, n, n == 1 ? "" : "s", passages,
            chunks, bad ? "DAMAGED" : "ok");
    return bad ? 1 : 0;
}

