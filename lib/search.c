/*
 * search.c: from a parsed query and filters to ranked passages with exact
 * facet counts, as the contract's JSON.
 *
 * Matching.  Every string the user gives must be *contained* in the
 * passage (normalized substring), whatever the word segmenter did with
 * it.  The character index (grams.c) finds those passages exactly, shard
 * by shard, as sets of database docids with a weight each (dset.c).
 *
 * One evaluator.  Every query, from every caller, is evaluated here in C
 * over those sets: OR within a group, AND across groups, exclusions,
 * facet filters (the documents of a facet term), value ranges (the
 * mentions of each matching passage), exact totals, facet counts, top-k
 * and paging.  What a filter or a count needs per passage comes from one
 * of two sources that give the same answers: the in-memory facet index
 * (srch_use_facet_index(), for a server or a batch) or, for a one-off
 * query, Xapian's posting lists and value streams read for the matching
 * passages only.
 *
 * Ranking.  BM25 where a query string's frequency is the number of times
 * the passage contains it and the passage's length is its length in
 * characters.  Unquoted Chinese is split into words which must each be
 * contained and each rank; passages that contain the whole string come
 * first: they form a first tier, the rest a second, so the promise holds
 * whatever the scores.  Equal scores: lower docid first.
 */
#include "search.h"
#include "dset.h"
#include "grams.h"
#include "index.h"
#include "normalize.h"
#include "pool.h"
#include "query.h"
#include "schema.h"
#include "snippet.h"
#include "strset.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

/* What a shard's character index needs besides the grams: passage
 * lengths for ranking and deleted passages to leave out. */
typedef struct shard_info {
    uint32_t *len;
    size_t nlen;
    unsigned (*del)[2];
    size_t ndel;
} shard_info;

/* One committed state of the index, immutable once built and shared by
 * every thread: what was read of it (lengths, deleted passages, the facet
 * index when enabled) and read handles opened at that state.  A thread
 * borrows a handle for a request; the snapshot is freed when its last
 * user lets go of it after a newer one replaced it. */
typedef struct snapshot {
    atomic_int refs;
    char generation[64];          /* of GENERATION_FILE when opened */
    unsigned long long *revs;     /* each shard's revision */
    size_t nshards;
    shard_info *shards;
    double avglen;                /* mean passage length, characters */
    unsigned doccount;
    xap_facets *fx;               /* in-memory facet index, when enabled */
    strset *fxterms;              /* its terms -> their indices */
    uint32_t *order;              /* docid -> place by (document, passage),
                                     with the facet index */
    size_t norder;
    pthread_mutex_t lock;         /* guards the pool */
    xap_db **pool;                /* idle handles at this state */
    size_t npool, cappool;
} snapshot;

struct srch_index {
    char *path;
    int facets;                   /* snapshots build the facet index */
    pthread_mutex_t lock;         /* guards cur (a pointer exchange) */
    snapshot *cur;
    pthread_mutex_t build;        /* one build at a time */
    pthread_t watcher;
    int watching;
    atomic_int stop;
    char last_err[PS_ERRLEN];     /* of the last failed build, once said */
};

struct srch_engine {
    srch_index *ix;
    int owns_ix;
    const ana_res *res;
    ana_ctx *ana;
    /* During a request: the snapshot answered from and a handle at it. */
    snapshot *snap;
    xap_db *db;
};

typedef struct fetch_ctx {
    xap_db *db;
    size_t shard;
    ps_buf *out;
} fetch_ctx;

static void add_chunk(void *ctx, const char *v, size_t n)
{
    ps_buf *out = ctx;
    uint32_t len = (uint32_t)n;
    ps_buf_add(out, (const char *)&len, 4);
    ps_buf_add(out, v, n);
}

static int fetch(void *ctx, const char *prefix, size_t plen, ps_buf *out,
                 char *err)
{
    fetch_ctx *f = ctx;
    if (xap_db_shard_scan(f->db, f->shard, prefix, plen, add_chunk, out,
                          err) != XAP_OK)
        return -1;
    return 0;
}

static void snap_free(snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nshards; i++) {
        free(s->shards[i].len);
        free(s->shards[i].del);
    }
    free(s->shards);
    free(s->revs);
    xap_facets_free(s->fx);
    strset_destroy(s->fxterms);
    free(s->order);
    for (size_t i = 0; i < s->npool; i++)
        xap_db_close(s->pool[i]);
    free(s->pool);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void snap_release(snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snap_free(s);
}

/* Every shard's format mark (the combined database shows only the first
 * shard's metadata): formats PS_FORMAT_OLDEST_READ to PS_FORMAT_VERSION. */
static int check_formats(xap_db *db, char *err)
{
    for (size_t s = 0; s < xap_db_nshards(db); s++) {
        char *ver = NULL;
        size_t vl = 0;
        if (xap_db_shard_metadata(db, s, META_VERSION, strlen(META_VERSION), &ver,
                                  &vl, err) != XAP_OK)
            return -1;
        char *endp;
        long v = strtol(ver, &endp, 10);
        if (!*ver || *endp || v < PS_FORMAT_OLDEST_READ ||
            v > atol(PS_FORMAT_VERSION)) {
            if (*ver)
                snprintf(err, PS_ERRLEN, "shard %zu: index format %.20s, this "
                         "build reads formats %d to %s: index the documents "
                         "into a new --db (policy-index --db NEW PATH...)", s,
                         ver, PS_FORMAT_OLDEST_READ, PS_FORMAT_VERSION);
            else
                snprintf(err, PS_ERRLEN, "shard %zu: not a policy-search index "
                         "(no format mark)", s);
            free(ver);
            return -1;
        }
        free(ver);
    }
    return 0;
}

/* Reads every shard's lengths and deleted ranges into s. */
static int load_shard_info(snapshot *s, xap_db *db, char *err)
{
    size_t n = xap_db_nshards(db);
    s->shards = ps_xcalloc(n ? n : 1, sizeof(shard_info));
    s->nshards = n;
    double sum = 0, count = 0;
    for (size_t k = 0; k < n; k++) {
        shard_info *si = &s->shards[k];
        fetch_ctx f = {db, k, NULL};
        if (gram_lengths(fetch, &f, &si->len, &si->nlen, err) < 0) {
            char tmp[PS_ERRLEN];
            snprintf(tmp, sizeof tmp, "shard %zu: %s", k, err);
            memcpy(err, tmp, PS_ERRLEN);
            return -1;
        }
        char *v;
        size_t vl;
        if (xap_db_shard_metadata(db, k, META_DELETED, strlen(META_DELETED),
                                  &v, &vl, err) != XAP_OK)
            return -1;
        int bad = gram_ranges_decode(v, vl, &si->del, &si->ndel);
        free(v);
        if (bad) {
            snprintf(err, PS_ERRLEN, "shard %zu: corrupt list of deleted "
                     "passages", k);
            return -1;
        }
        size_t at = 0;      /* deleted passages do not count */
        for (size_t d = 0; d < si->nlen; d++) {
            if (si->len[d] && !gram_ranges_has((const unsigned (*)[2])si->del,
                                               si->ndel, &at, (unsigned)d)) {
                sum += si->len[d];
                count++;
            }
        }
    }
    s->avglen = count ? sum / count : 1;
    return 0;
}

static const char *const FACET_PREFIXES[] = {PFX_REGION, PFX_SECTOR, PFX_UNIT};

/* Opens the index as it is now and reads what queries need of it. */
static snapshot *snap_build(const char *path, int facets, char *err)
{
    snapshot *s = ps_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->lock, NULL);
    /* The generation before the database: a compaction that replaces
     * files after this point is seen at the next check. */
    ix_generation(path, s->generation, sizeof s->generation);
    xap_db *db;
    if (xap_db_open(path, &db, err) != XAP_OK) {
        snap_free(s);
        return NULL;
    }
    s->pool = ps_xmalloc(4 * sizeof(xap_db *));
    s->cappool = 4;
    s->pool[s->npool++] = db;
    size_t n = xap_db_nshards(db);
    s->revs = ps_xcalloc(n ? n : 1, sizeof *s->revs);
    if (check_formats(db, err) < 0 ||
        xap_db_revisions(db, s->revs, n, err) != XAP_OK ||
        load_shard_info(s, db, err) < 0) {
        snap_free(s);
        return NULL;
    }
    if (xap_db_doccount(db, &s->doccount, err) != XAP_OK) {
        snap_free(s);
        return NULL;
    }
    if (facets) {
        if (xap_facets_build(db, FACET_PREFIXES, 3, SLOT_NUM0, NUM_SLOTS, &s->fx,
                             err) != XAP_OK) {
            snap_free(s);
            return NULL;
        }
        s->fxterms = strset_create();
        for (size_t i = 0; i < xap_facets_nterms(s->fx); i++)
            strset_put(s->fxterms, xap_facets_term(s->fx, i),
                       strlen(xap_facets_term(s->fx, i)), (int)i);
        /* The order among equal scores, for every passage at once. */
        if (xap_db_value_order(db, SLOT_ORDER, &s->order, &s->norder, err) !=
            XAP_OK) {
            snap_free(s);
            return NULL;
        }
    }
    return s;
}

/* A handle at s's state: an idle one, or a new one if the index has not
 * changed since s was built (else NULL: s is out of date). */
static xap_db *snap_borrow(snapshot *s, const char *path)
{
    pthread_mutex_lock(&s->lock);
    xap_db *db = s->npool ? s->pool[--s->npool] : NULL;
    pthread_mutex_unlock(&s->lock);
    if (db)
        return db;
    char err[PS_ERRLEN], gen[64];
    if (xap_db_open(path, &db, err) != XAP_OK)
        return NULL;
    unsigned long long revs[64];
    size_t n = xap_db_nshards(db);
    ix_generation(path, gen, sizeof gen);
    if (n != s->nshards || n > 64 || strcmp(gen, s->generation) != 0 ||
        xap_db_revisions(db, revs, n, err) != XAP_OK ||
        memcmp(revs, s->revs, n * sizeof *revs) != 0) {
        xap_db_close(db);
        return NULL;
    }
    return db;
}

static void snap_give_back(snapshot *s, xap_db *db)
{
    pthread_mutex_lock(&s->lock);
    if (s->npool == s->cappool) {
        s->cappool *= 2;
        s->pool = ps_xrealloc(s->pool, s->cappool * sizeof(xap_db *));
    }
    s->pool[s->npool++] = db;
    pthread_mutex_unlock(&s->lock);
}

static snapshot *ix_acquire(srch_index *ix)
{
    pthread_mutex_lock(&ix->lock);
    snapshot *s = ix->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&ix->lock);
    return s;
}

/* Has the index changed since s?  (A new generation or a shard's new
 * revision.)  Checked on one of s's handles. */
static int snap_stale(snapshot *s, const char *path)
{
    char gen[64], err[PS_ERRLEN];
    ix_generation(path, gen, sizeof gen);
    if (strcmp(gen, s->generation) != 0)
        return 1;
    xap_db *db;
    if (xap_db_open(path, &db, err) != XAP_OK)
        return 0;             /* mid-swap: look again later */
    unsigned long long revs[64];
    size_t n = xap_db_nshards(db);
    int stale = n != s->nshards || n > 64 ||
                xap_db_revisions(db, revs, n, err) != XAP_OK ||
                memcmp(revs, s->revs, n * sizeof *revs) != 0;
    xap_db_close(db);
    return stale;
}

int srch_index_refresh(srch_index *ix, char *err)
{
    pthread_mutex_lock(&ix->build);
    snapshot *old = ix_acquire(ix);
    int rc = 0;
    if (snap_stale(old, ix->path)) {
        snapshot *s = snap_build(ix->path, ix->facets, err);
        if (!s) {
            rc = -1;
        } else {
            pthread_mutex_lock(&ix->lock);
            snapshot *prev = ix->cur;
            ix->cur = s;
            pthread_mutex_unlock(&ix->lock);
            snap_release(prev);
            rc = 1;
        }
    }
    snap_release(old);
    pthread_mutex_unlock(&ix->build);
    return rc;
}

srch_index *srch_index_open(const char *path, int facets, char *err)
{
    snapshot *s = snap_build(path, facets, err);
    if (!s)
        return NULL;
    srch_index *ix = ps_xcalloc(1, sizeof *ix);
    ix->path = ps_xstrdup(path);
    ix->facets = facets;
    ix->cur = s;
    pthread_mutex_init(&ix->lock, NULL);
    pthread_mutex_init(&ix->build, NULL);
    atomic_init(&ix->stop, 0);
    return ix;
}

static void *watch_loop(void *arg)
{
    srch_index *ix = arg;
    while (!atomic_load(&ix->stop)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        char err[PS_ERRLEN];
        if (srch_index_refresh(ix, err) < 0) {
            /* The old state keeps answering; say why once. */
            if (strcmp(err, ix->last_err) != 0)
                fprintf(stderr, "policy-search: %s: cannot read the index's "
                        "new state (answering from the previous one): %s\n",
                        ix->path, err);
            memcpy(ix->last_err, err, PS_ERRLEN);
        } else {
            ix->last_err[0] = '\0';
        }
    }
    return NULL;
}

int srch_index_watch(srch_index *ix, char *err)
{
    if (ix->watching)
        return 0;
    int rc = pthread_create(&ix->watcher, NULL, watch_loop, ix);
    if (rc != 0) {
        snprintf(err, PS_ERRLEN, "cannot start the index watcher: %s",
                 strerror(rc));
        return -1;
    }
    ix->watching = 1;
    return 0;
}

void srch_index_close(srch_index *ix)
{
    if (!ix)
        return;
    if (ix->watching) {
        atomic_store(&ix->stop, 1);
        pthread_join(ix->watcher, NULL);
    }
    snap_release(ix->cur);
    pthread_mutex_destroy(&ix->lock);
    pthread_mutex_destroy(&ix->build);
    free(ix->path);
    free(ix);
}

srch_engine *srch_engine_create(srch_index *ix, const ana_res *res, char *err)
{
    ana_ctx *a = ana_ctx_create(res, err);
    if (!a)
        return NULL;
    srch_engine *e = ps_xcalloc(1, sizeof *e);
    e->ix = ix;
    e->res = res;
    e->ana = a;
    return e;
}

srch_engine *srch_open(const char *dbpath, const ana_res *res, char *err)
{
    srch_index *ix = srch_index_open(dbpath, 0, err);
    if (!ix)
        return NULL;
    srch_engine *e = srch_engine_create(ix, res, err);
    if (!e) {
        srch_index_close(ix);
        return NULL;
    }
    e->owns_ix = 1;
    return e;
}

int srch_use_facet_index(srch_engine *e, char *err)
{
    srch_index *ix = e->ix;
    pthread_mutex_lock(&ix->build);
    ix->facets = 1;
    snapshot *s = snap_build(ix->path, 1, err);
    if (s) {
        pthread_mutex_lock(&ix->lock);
        snapshot *prev = ix->cur;
        ix->cur = s;
        pthread_mutex_unlock(&ix->lock);
        snap_release(prev);
    }
    pthread_mutex_unlock(&ix->build);
    return s ? 1 : -1;
}

void srch_close(srch_engine *e)
{
    if (!e)
        return;
    ana_ctx_destroy(e->ana);
    if (e->owns_ix)
        srch_index_close(e->ix);
    free(e);
}

void srch_refresh(srch_engine *e)
{
    char err[PS_ERRLEN];
    srch_index_refresh(e->ix, err);
}

/* Runs fn for a request on the current snapshot with a handle at its
 * state.  When the index changed underneath (the handle's revision was
 * overwritten by a writer's second commit, or the snapshot is out of date
 * and no handle at its state can be opened), the request is answered from
 * a snapshot of the index as it is now, built for it alone without the
 * facet index: never an error, always one committed state. */
#define MODIFIED_RETRIES 4

static int modified(srch_status st, const char *err)
{
    return st == SRCH_INTERNAL && strstr(err, "DatabaseModifiedError");
}

typedef json_t *(*request_fn)(srch_engine *e, const void *arg, srch_status *st,
                              char *err);

static json_t *with_snapshot(srch_engine *e, request_fn fn, const void *arg,
                             srch_status *st, char *err)
{
    snapshot *s = ix_acquire(e->ix);
    xap_db *db = snap_borrow(s, e->ix->path);
    json_t *res = NULL;
    if (db) {
        e->snap = s;
        e->db = db;
        res = fn(e, arg, st, err);
        if (!res && modified(*st, err))
            xap_db_close(db);
        else
            snap_give_back(s, db);
        if (res || !modified(*st, err)) {
            e->snap = NULL;
            e->db = NULL;
            snap_release(s);
            return res;
        }
    }
    snap_release(s);
    for (int i = 0; i < MODIFIED_RETRIES; i++) {
        snapshot *tmp = snap_build(e->ix->path, 0, err);
        if (!tmp) {
            *st = SRCH_INTERNAL;
            e->snap = NULL;
            e->db = NULL;
            return NULL;
        }
        e->snap = tmp;
        e->db = tmp->pool[0];
        res = fn(e, arg, st, err);
        snap_release(tmp);
        e->snap = NULL;
        e->db = NULL;
        if (res || !modified(*st, err))
            return res;
    }
    return NULL;
}

/* A list of strings the list owns. */
typedef struct strlist {
    char **v;
    size_t n;
} strlist;

static void strlist_add(strlist *l, const char *s)
{
    l->v = ps_xrealloc(l->v, (l->n + 1) * sizeof(char *));
    l->v[l->n++] = ps_xstrdup(s);
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The passages containing one string: per shard (shard-local docids)
 * and merged into database docids. */
typedef struct needle_res {
    char *text;
    size_t len;
    size_t nshards;
    gram_hits *h;             /* per shard */
    double **w;               /* per shard, BM25 weight of each hit */
    double maxw;
    dset all;                 /* merged; all.ids NULL until asked for */
} needle_res;

/* Everything allocated while building one query, freed together. */
typedef struct build {
    char **s;                 /* strings: needles, word terms */
    size_t ns, caps;
    const char **needles;
    size_t nneedles, capneedles;
    needle_res *nr;           /* each distinct string matched once */
    size_t nnr, capnr;
    /* Facet filters as facet-index term lists and the value range, for
     * the C evaluation. */
    strlist fterms[3];
    int has_range;
    char range_lo[NUM_UNIT_MAX + 9], range_hi[NUM_UNIT_MAX + 9];
    size_t range_len;
} build;

static char *keep_str(build *b, char *s)
{
    if (b->ns == b->caps) {
        b->caps = b->caps ? 2 * b->caps : 32;
        b->s = ps_xrealloc(b->s, b->caps * sizeof *b->s);
    }
    b->s[b->ns++] = s;
    return s;
}

static void add_needle(build *b, const char *s)
{
    if (b->nneedles == b->capneedles) {
        b->capneedles = b->capneedles ? 2 * b->capneedles : 16;
        b->needles = ps_xrealloc(b->needles, b->capneedles * sizeof(char *));
    }
    b->needles[b->nneedles++] = s;
}

static void build_free(build *b)
{
    for (size_t i = 0; i < b->ns; i++)
        free(b->s[i]);
    for (size_t i = 0; i < b->nnr; i++) {
        needle_res *r = &b->nr[i];
        for (size_t k = 0; k < r->nshards; k++) {
            gram_hits_free(&r->h[k]);
            free(r->w[k]);
        }
        free(r->h);
        free(r->w);
        free(r->text);
        dset_free(&r->all);
    }
    for (int k = 0; k < 3; k++)
        strlist_free(&b->fterms[k]);
    free(b->nr);
    free(b->s);
    free(b->needles);
}

#define BM25_K1 1.2
#define BM25_B 0.75

typedef struct match_job {
    srch_engine *e;
    const char *s;
    size_t n;
    gram_hits *h;
    int *rc;
    char *errs;               /* PS_ERRLEN per shard */
} match_job;

/* One shard's passages containing the string.  Shards are separate
 * databases: each is read by one thread at a time. */
static void match_shard(void *ctx, size_t k)
{
    match_job *m = ctx;
    fetch_ctx f = {m->e->db, k, NULL};
    const shard_info *si = &m->e->snap->shards[k];
    m->rc[k] = gram_match(m->s, m->n, fetch, &f, (const unsigned (*)[2])si->del,
                          si->ndel, &m->h[k], m->errs + k * PS_ERRLEN);
}

/* Every passage that contains normalized s[0..n), ranked by BM25 (see the
 * file comment); computed once per query.  NULL with err set when the
 * index cannot be read. */
static needle_res *needle_get(srch_engine *e, build *b, const char *s,
                              size_t n, char *err)
{
    for (size_t i = 0; i < b->nnr; i++)
        if (b->nr[i].len == n && memcmp(b->nr[i].text, s, n) == 0)
            return &b->nr[i];
    size_t ns = e->snap->nshards;
    gram_hits *h = ps_xcalloc(ns ? ns : 1, sizeof(gram_hits));
    /* Each shard's passages at once (one thread each from the pool), then
     * weights from the statistics of the whole index. */
    match_job mj = {e, s, n, h, ps_xcalloc(ns ? ns : 1, sizeof(int)),
                    ps_xcalloc(ns ? ns : 1, PS_ERRLEN)};
    pool_for(ns, match_shard, &mj);
    size_t df = 0;
    int failed = -1;
    for (size_t k = 0; k < ns; k++) {
        if (mj.rc[k] < 0 && failed < 0)
            failed = (int)k;
        df += h[k].n;
    }
    if (failed >= 0) {
        snprintf(err, PS_ERRLEN, "shard %d: %s", failed,
                 mj.errs + (size_t)failed * PS_ERRLEN);
        for (size_t j = 0; j < ns; j++)
            gram_hits_free(&h[j]);
        free(h);
        free(mj.rc);
        free(mj.errs);
        return NULL;
    }
    free(mj.rc);
    free(mj.errs);
    double N = e->snap->doccount;
    if (N < (double)df)
        N = (double)df;
    double idf = log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
    double **w = ps_xcalloc(ns ? ns : 1, sizeof(double *));
    for (size_t k = 0; k < ns; k++) {
        const shard_info *si = &e->snap->shards[k];
        w[k] = ps_xmalloc((h[k].n ? h[k].n : 1) * sizeof(double));
        for (size_t i = 0; i < h[k].n; i++) {
            unsigned d = h[k].docs[i];
            double len = d < si->nlen && si->len[d] ? si->len[d] : e->snap->avglen;
            double tf = h[k].tf[i];
            w[k][i] = idf * tf * (BM25_K1 + 1) /
                      (tf + BM25_K1 * (1 - BM25_B + BM25_B * len / e->snap->avglen));
        }
    }
    if (b->nnr == b->capnr) {
        b->capnr = b->capnr ? 2 * b->capnr : 8;
        b->nr = ps_xrealloc(b->nr, b->capnr * sizeof(needle_res));
    }
    needle_res *r = &b->nr[b->nnr++];
    memset(r, 0, sizeof *r);
    r->text = ps_xstrndup(s, n);
    r->len = n;
    r->nshards = ns;
    r->h = h;
    r->w = w;
    r->maxw = idf * (BM25_K1 + 1);
    return r;
}

/* The passages containing s, as database docids (shard k's local docid l is
 * (l - 1) * nshards + k + 1), ascending. */
static const dset *contains_set(srch_engine *e, build *b, const char *s,
                                size_t n, char *err)
{
    needle_res *r = needle_get(e, b, s, n, err);
    if (!r)
        return NULL;
    if (r->all.ids || r->all.n)
        return &r->all;
    size_t total = 0, ns = r->nshards;
    for (size_t k = 0; k < ns; k++)
        total += r->h[k].n;
    dset *d = &r->all;
    d->ids = ps_xmalloc((total ? total : 1) * sizeof(unsigned));
    d->w = ps_xmalloc((total ? total : 1) * sizeof(double));
    d->n = total;
    if (ns == 1) {
        if (total) {
            memcpy(d->ids, r->h[0].docs, total * sizeof(unsigned));
            memcpy(d->w, r->w[0], total * sizeof(double));
        }
        return d;
    }
    /* A k-way merge: a heap of the shards by their next database docid. */
    size_t *pos = ps_xcalloc(ns, sizeof(size_t));
    size_t *heap = ps_xmalloc(ns * sizeof(size_t));
    unsigned *key = ps_xmalloc(ns * sizeof(unsigned));
    size_t nh = 0;
#define GID(k) ps_global_docid(r->h[k].docs[pos[k]], (k), ns)
    for (size_t k = 0; k < ns; k++) {
        if (!r->h[k].n)
            continue;
        key[k] = GID(k);
        size_t at = nh++;
        while (at && key[heap[(at - 1) / 2]] > key[k]) {
            heap[at] = heap[(at - 1) / 2];
            at = (at - 1) / 2;
        }
        heap[at] = k;
    }
    for (size_t out = 0; out < total; out++) {
        size_t k = heap[0];
        d->ids[out] = key[k];
        d->w[out] = r->w[k][pos[k]];
        size_t moved = k;
        if (++pos[k] < r->h[k].n) {
            key[k] = GID(k);
        } else {
            moved = heap[--nh];
        }
        /* sift moved down from the root */
        size_t at = 0;
        for (;;) {
            size_t c = 2 * at + 1;
            if (c >= nh)
                break;
            if (c + 1 < nh && key[heap[c + 1]] < key[heap[c]])
                c++;
            if (key[heap[c]] >= key[moved])
                break;
            heap[at] = heap[c];
            at = c;
        }
        if (nh)
            heap[at] = moved;
    }
#undef GID
    free(pos);
    free(heap);
    free(key);
    return d;
}

typedef struct wordlist {
    size_t s[256], e[256];
    size_t n;
} wordlist;

static int collect(void *ctx, const char *tok, size_t n, size_t s, size_t e)
{
    (void)tok;
    (void)n;
    wordlist *w = ctx;
    if (w->n == 256)
        return 1;
    w->s[w->n] = s;
    w->e[w->n] = e;
    w->n++;
    return 0;
}

/* What one query item asks for: every string of must[] contained, and,
 * for an unquoted item of several words, the whole string ranking first. */
typedef struct plan {
    const char *must[256];
    size_t mlen[256];
    size_t nmust;
    const char *whole;        /* NULL when not applicable */
    size_t wlen;
} plan;

static int item_plan(srch_engine *e, build *b, const qry_item *it, plan *p,
                     char *err)
{
    p->nmust = 0;
    p->whole = NULL;
    const char *t = it->text;
    size_t tl = strlen(t);
    wordlist w;
    w.n = 0;
    if (tok_run(ana_tokenizer(e->ana), t, tl, collect, &w, err) < 0)
        return -1;
    size_t multi = 0;
    for (size_t k = 0; k < w.n; k++)
        if (ps_utf8_count(t + w.s[k], w.e[k] - w.s[k]) > 1)
            multi++;
    if (!it->negated)
        add_needle(b, t);
    if (it->negated || it->quoted || w.n <= 1 || (w.s[0] == 0 && w.e[0] == tl)) {
        p->must[0] = t;
        p->mlen[0] = tl;
        p->nmust = 1;
        return 0;
    }
    /* Unquoted, several words: each must be contained. */
    for (size_t k = 0; k < w.n; k++) {
        size_t wl = w.e[k] - w.s[k];
        if (multi && ps_utf8_count(t + w.s[k], wl) == 1)
            continue;
        char *word = keep_str(b, ps_xstrndup(t + w.s[k], wl));
        add_needle(b, word);
        p->must[p->nmust] = word;
        p->mlen[p->nmust++] = wl;
    }
    p->whole = t;
    p->wlen = tl;
    return 0;
}

static int parse_bound(const char *s, const char *what, double *v, char *err)
{
    if (ps_parse_amount(s, v) < 0) {
        snprintf(err, PS_ERRLEN,
                 "bad %s value '%.60s': expected a number like 100万, 1.5亿, "
                 "2e6 or 12.5", what, s);
        return -1;
    }
    return 0;
}

/* Region, sector and number filters, checked and kept in b: facet terms
 * per facet (OR within one, AND across), the value range.  0, or -1 with
 * *st and err set. */
static int filter_parse(srch_engine *e, build *b, const srch_request *r,
                        srch_status *st, char *err)
{
    char term[256];
    for (size_t i = 0; i < r->nregions; i++) {
        int c[8];
        size_t n = reg_lookup(e->res->gaz, r->regions[i],
                              strlen(r->regions[i]), c, 8);
        if (!n) {
            *st = SRCH_BAD_REQUEST;
            snprintf(err, PS_ERRLEN, "unknown region '%.80s'", r->regions[i]);
            return -1;
        }
        for (size_t k = 0; k < n && b->fterms[0].n < 256; k++) {
            snprintf(term, sizeof term, PFX_REGION "%s",
                     reg_code(e->res->gaz, c[k]));
            strlist_add(&b->fterms[0], term);
        }
    }
    for (size_t i = 0; i < r->nsectors && b->fterms[1].n < 64; i++) {
        if (sec_find(e->res->sec, r->sectors[i]) < 0) {
            *st = SRCH_BAD_REQUEST;
            snprintf(err, PS_ERRLEN, "unknown sector '%.80s'", r->sectors[i]);
            return -1;
        }
        snprintf(term, sizeof term, PFX_SECTOR "%s", r->sectors[i]);
        strlist_add(&b->fterms[1], term);
    }
    int has_range = (r->min && *r->min) || (r->max && *r->max);
    if (has_range && !(r->unit && *r->unit)) {
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "a value range (min/max) needs a unit");
        return -1;
    }
    if (!(r->unit && *r->unit))
        return 0;
    ps_buf u;
    ps_buf_init(&u);
    if (norm_query(r->unit, strlen(r->unit), &u, err) < 0 || !u.len ||
        u.len > NUM_UNIT_MAX - 1) {
        ps_buf_free(&u);
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "bad unit '%.60s'", r->unit);
        return -1;
    }
    if (!has_range) {
        snprintf(term, sizeof term, PFX_UNIT "%s", u.data);
        strlist_add(&b->fterms[2], term);
        ps_buf_free(&u);
        return 0;
    }
    double lo = -1e308, hi = 1e308;
    if ((r->min && *r->min && parse_bound(r->min, "min", &lo, err)) ||
        (r->max && *r->max && parse_bound(r->max, "max", &hi, err))) {
        ps_buf_free(&u);
        *st = SRCH_BAD_REQUEST;
        return -1;
    }
    if (lo > hi) {
        ps_buf_free(&u);
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "min is greater than max");
        return -1;
    }
    /* A mention's value: unit, NUL, 8-byte sortable number. */
    b->has_range = 1;
    b->range_len = u.len + 9;
    memcpy(b->range_lo, u.data, u.len + 1);
    memcpy(b->range_hi, u.data, u.len + 1);
    num_sortable(lo, (unsigned char *)b->range_lo + u.len + 1);
    num_sortable(hi, (unsigned char *)b->range_hi + u.len + 1);
    ps_buf_free(&u);
    return 0;
}

/* Per-member counts of one part (0 regions, 1 sectors, 2 units) of the
 * facet slot's set-valued strings. */
typedef struct tally {
    strset *idx;
    char **names;
    unsigned *counts;
    size_t n;
} tally;

static void tally_bump(tally *t, const char *s, size_t n, unsigned count)
{
    int k = strset_get(t->idx, s, n);
    if (k < 0) {
        k = (int)t->n++;
        t->names = ps_xrealloc(t->names, t->n * sizeof(char *));
        t->counts = ps_xrealloc(t->counts, t->n * sizeof(unsigned));
        t->names[k] = ps_xstrndup(s, n);
        t->counts[k] = 0;
        strset_put(t->idx, s, n, k);
    }
    t->counts[k] += count;
}

/* Counts a facet-index term (R, S or U prefixed) n times. */
static void tally_term(tally tl[3], const char *term, unsigned n)
{
    int part = term[0] == PFX_REGION[0] ? 0 : term[0] == PFX_SECTOR[0] ? 1 : 2;
    tally_bump(&tl[part], term + 1, strlen(term + 1), n);
}

/* Counts, count times, every member of a SLOT_FACETS value (regions
 * FACET_SEP sectors FACET_SEP units, each a comma-separated list). */
static void tally_value(tally tl[3], const char *v, size_t len,
                        unsigned count)
{
    for (int part = 0; part < 3; part++) {
        const char *end = memchr(v, FACET_SEP, len);
        size_t pl = end ? (size_t)(end - v) : len;
        for (size_t s = 0; s < pl;) {
            const char *comma = memchr(v + s, ',', pl - s);
            size_t e = comma ? (size_t)(comma - v) : pl;
            if (e > s)
                tally_bump(&tl[part], v + s, e - s, count);
            s = e + 1;
        }
        if (!end)
            break;
        len -= pl + 1;
        v = end + 1;
    }
}

/* qsort_r comparator: by count, descending, then by name. */
static int by_count(const void *a, const void *b, void *ctx)
{
    const tally *t = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    if (t->counts[x] != t->counts[y])
        return t->counts[x] < t->counts[y] ? 1 : -1;
    return strcmp(t->names[x], t->names[y]);
}

static json_t *tally_json(srch_engine *e, tally *t, int regions)
{
    int *order = ps_xmalloc((t->n + 1) * sizeof(int));
    for (size_t i = 0; i < t->n; i++)
        order[i] = (int)i;
    qsort_r(order, t->n, sizeof(int), by_count, t);
    json_t *a = json_array();
    for (size_t i = 0; i < t->n; i++) {
        int k = order[i];
        json_t *o = json_object();
        if (regions) {
            int r = reg_by_code(e->res->gaz, t->names[k]);
            if (r < 0) {
                json_decref(o);
                continue;
            }
            json_object_set_new(o, "value", json_string(reg_name(e->res->gaz, r)));
            json_object_set_new(o, "count", json_integer(t->counts[k]));
            json_object_set_new(o, "code", json_string(t->names[k]));
            int p = reg_parent(e->res->gaz, r);
            json_object_set_new(o, "parent", p >= 0 ? json_string(reg_code(
                                                         e->res->gaz, p))
                                                   : json_null());
            json_object_set_new(o, "level", json_integer(reg_level(e->res->gaz, r)));
        } else {
            json_object_set_new(o, "value", json_string(t->names[k]));
            json_object_set_new(o, "count", json_integer(t->counts[k]));
        }
        json_array_append_new(a, o);
    }
    free(order);
    return a;
}

static void tally_free(tally *t)
{
    strset_destroy(t->idx);
    for (size_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->counts);
}

/* One hit as the contract's JSON object. */
static json_t *hit_json(const char *data, double weight, const build *b)
{
    json_error_t je;
    json_t *d = json_loads(data, 0, &je);
    if (!d)
        return NULL;
    json_t *o = json_object();
    static const char *const first[] = {"doc", "title", "passage", "kind",
                                        "heading", "text"};
    for (size_t i = 0; i < 6; i++) {
        json_t *v = json_object_get(d, first[i]);
        json_object_set(o, first[i], v ? v : json_null());
    }
    /* Where the format knows them. */
    static const char *const opt[] = {"page", "ocr", "format"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(d, opt[i]);
        if (v)
            json_object_set(o, opt[i], v);
    }
    const char *text = json_string_value(json_object_get(d, "text"));
    ps_buf snip;
    ps_buf_init(&snip);
    snip_make(text ? text : "", b->needles, b->nneedles, SNIP_CHARS, &snip);
    json_object_set_new(o, "snippet", json_stringn(snip.data, snip.len));
    ps_buf_free(&snip);
    json_object_set_new(o, "score", json_real((double)(long)(weight * 1000) / 1000));
    static const char *const rest[] = {"regions", "region_codes", "sectors",
                                       "numbers"};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(d, rest[i]);
        json_object_set(o, rest[i], v ? v : json_array());
    }
    json_decref(d);
    return o;
}

/* A set and the order of its passages among equal weights. */
typedef struct ranked {
    const dset *d;
    const uint32_t *order;    /* database docid -> place; see order_of() */
    size_t norder;
    int tied;                 /* set when two equal weights were compared */
} ranked;

static uint32_t place(const ranked *r, unsigned id)
{
    return id < r->norder ? r->order[id] : UINT32_MAX;
}

/* Is a ranked before b?  Higher weight first, then by document id and
 * passage ordinal (the same in any build of the same files, whatever the
 * shards). */
static int ranks_before(ranked *r, size_t a, size_t b)
{
    const dset *d = r->d;
    if (d->w[a] != d->w[b])
        return d->w[a] > d->w[b];
    r->tied = 1;
    uint32_t x = place(r, d->ids[a]), y = place(r, d->ids[b]);
    if (x != y)
        return x < y;
    return d->ids[a] < d->ids[b];
}

static int by_rank(const void *x, const void *y, void *ctx)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return ranks_before(ctx, a, b) ? -1 : ranks_before(ctx, b, a) ? 1 : 0;
}

/* Indices of d's k best documents, best first, into out[0..k). */
static size_t top_k(ranked *r, size_t k, size_t *out)
{
    const dset *d = r->d;
    if (k > d->n)
        k = d->n;
    if (k == 0)
        return 0;
    if (k * 8 >= d->n) {
        size_t *all = ps_xmalloc(d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++)
            all[i] = i;
        qsort_r(all, d->n, sizeof(size_t), by_rank, (void *)r);
        memcpy(out, all, k * sizeof(size_t));
        free(all);
        return k;
    }
    /* A heap of the k best so far, the worst of them at its root. */
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (n == k && !ranks_before(r, i, out[0]))
            continue;
        size_t at;
        if (n < k) {
            at = n++;
            while (at && ranks_before(r, out[(at - 1) / 2], i)) {
                out[at] = out[(at - 1) / 2];
                at = (at - 1) / 2;
            }
        } else {
            at = 0;
            for (;;) {
                size_t c = 2 * at + 1;
                if (c >= n)
                    break;
                if (c + 1 < n && ranks_before(r, out[c + 1], out[c]) == 0)
                    c++;
                if (!ranks_before(r, i, out[c]))
                    break;
                out[at] = out[c];
                at = c;
            }
        }
        out[at] = i;
    }
    qsort_r(out, n, sizeof(size_t), by_rank, (void *)r);
    return n;
}

typedef struct tie {
    size_t i;                 /* index in the set */
    char *key;                /* SLOT_ORDER value */
    size_t len;
    double w;
    unsigned id;
} tie;

static void tie_key(void *ctx, size_t i, const char *v, size_t n)
{
    tie *t = ctx;
    t[i].key = ps_xmalloc(n ? n : 1);
    memcpy(t[i].key, v, n);
    t[i].len = n;
}

static int by_tie(const void *x, const void *y)
{
    const tie *a = x, *b = y;
    if (a->w != b->w)
        return a->w > b->w ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = m ? memcmp(a->key, b->key, m) : 0;
    if (c || a->len != b->len)
        return c ? c : a->len < b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* idx[0..got) holds the best of d by weight, equal weights by docid:
 * redone with equal weights by document and passage.  Only passages at
 * least as heavy as the last one taken can change places. */
static int exact_ties(srch_engine *e, const dset *d, size_t *idx, size_t got,
                      char *err)
{
    double wmin = d->w[idx[got - 1]];
    size_t nc = 0;
    for (size_t i = 0; i < d->n; i++)
        nc += d->w[i] >= wmin;
    tie *t = ps_xcalloc(nc ? nc : 1, sizeof(tie));
    unsigned *ids = ps_xmalloc((nc ? nc : 1) * sizeof(unsigned));
    for (size_t i = 0, c = 0; i < d->n; i++)
        if (d->w[i] >= wmin) {
            t[c].i = i;
            t[c].w = d->w[i];
            t[c].id = d->ids[i];
            ids[c++] = d->ids[i];
        }
    int rc = xap_db_values(e->db, SLOT_ORDER, ids, nc, tie_key, t, err) ==
             XAP_OK ? 0 : -1;
    if (rc == 0) {
        qsort(t, nc, sizeof(tie), by_tie);
        for (size_t k = 0; k < got; k++)
            idx[k] = t[k].i;
    }
    for (size_t c = 0; c < nc; c++)
        free(t[c].key);
    free(t);
    free(ids);
    return rc;
}

/* Byte-wise string order. */
static int cmp_bytes(const unsigned char *a, size_t al, const char *b,
                     size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static int value_in_range(const build *b, const unsigned char *v, size_t l)
{
    return cmp_bytes(v, l, b->range_lo, b->range_len) >= 0 &&
           cmp_bytes(v, l, b->range_hi, b->range_len) <= 0;
}

/* ---- what filters and counts need per passage, from either source ---- */

/* Every passage, weight 0 (a query of filters or exclusions only). */
static int all_docs(srch_engine *e, dset *out, char *err)
{
    memset(out, 0, sizeof *out);
    const unsigned *fxall;
    unsigned *ids = NULL;
    size_t n;
    if (e->snap->fx) {
        n = xap_facets_docs(e->snap->fx, &fxall);
    } else {
        if (xap_db_postlist(e->db, "", 0, &ids, &n, err) != XAP_OK)
            return -1;
        fxall = ids;
    }
    out->ids = ps_xmalloc((n ? n : 1) * sizeof(unsigned));
    out->w = ps_xcalloc(n ? n : 1, sizeof(double));
    if (n)
        memcpy(out->ids, fxall, n * sizeof(unsigned));
    out->n = n;
    free(ids);
    return 0;
}

/* The passages having at least one of the facet terms. */
static int terms_docs(srch_engine *e, const strlist *terms, dset *out,
                      char *err)
{
    memset(out, 0, sizeof *out);
    int have = 0;
    for (size_t i = 0; i < terms->n; i++) {
        const char *t = terms->v[i];
        const unsigned *ids = NULL;
        unsigned *own = NULL;
        size_t n = 0;
        if (e->snap->fx) {
            int idx = strset_get(e->snap->fxterms, t, strlen(t));
            if (idx >= 0)
                n = xap_facets_postings(e->snap->fx, (size_t)idx, &ids);
        } else {
            if (xap_db_postlist(e->db, t, strlen(t), &own, &n, err) != XAP_OK)
                return -1;
            ids = own;
        }
        dset x = {(unsigned *)ids, NULL, n}, u;
        x.w = ps_xcalloc(n ? n : 1, sizeof(double));
        if (!have) {
            dset_copy(&x, out);
            have = 1;
        } else {
            dset_or(out, &x, &u);
            dset_free(out);
            *out = u;
        }
        free(x.w);
        free(own);
    }
    if (!have) {
        out->ids = ps_xmalloc(sizeof(unsigned));
        out->w = ps_xmalloc(sizeof(double));
    }
    return 0;
}

typedef struct range_ctx {
    const build *b;
    char *ok;          /* per candidate: a mention in range */
} range_ctx;

static void range_cb(void *ctx, size_t i, const char *v, size_t n)
{
    range_ctx *c = ctx;
    if (value_in_range(c->b, (const unsigned char *)v, n))
        c->ok[i] = 1;
}

/* Keeps the passages of base with a numeric mention in b's range. */
static int range_filter(srch_engine *e, const build *b, dset *base, char *err)
{
    char *ok = ps_xcalloc(base->n ? base->n : 1, 1);
    if (e->snap->fx) {
        for (size_t i = 0; i < base->n; i++) {
            const unsigned char *v;
            size_t n = xap_facets_values(e->snap->fx, base->ids[i], &v);
            for (size_t k = 0; k < n && !ok[i]; k += 1 + v[k])
                ok[i] = (char)value_in_range(b, v + k + 1, v[k]);
        }
    } else {
        /* Only passages with a mention in the range's unit can match
         * (their unit term says so); their slots are read one value
         * stream at a time, those already in range left out. */
        strlist unit = {NULL, 0};
        char term[NUM_UNIT_MAX + 2];
        snprintf(term, sizeof term, PFX_UNIT "%s", b->range_lo);
        strlist_add(&unit, term);
        dset withunit, t;
        int rc = terms_docs(e, &unit, &withunit, err);
        strlist_free(&unit);
        if (rc < 0) {
            free(ok);
            return -1;
        }
        dset_filter(base, &withunit, &t);
        dset_free(&withunit);
        size_t nc = 0;
        unsigned *cand = ps_xmalloc((t.n ? t.n : 1) * sizeof(unsigned));
        size_t *where = ps_xmalloc((t.n ? t.n : 1) * sizeof(size_t));
        for (size_t i = 0, j = 0; i < t.n; i++) {
            while (base->ids[j] != t.ids[i])
                j++;
            cand[nc] = t.ids[i];
            where[nc++] = j;
        }
        dset_free(&t);
        char *cok = ps_xmalloc(nc ? nc : 1);
        for (unsigned k = 0; k < NUM_SLOTS && nc; k++) {
            memset(cok, 0, nc);
            range_ctx c = {b, cok};
            if (xap_db_values(e->db, SLOT_NUM0 + k, cand, nc, range_cb, &c,
                              err) != XAP_OK) {
                free(cand), free(where), free(cok), free(ok);
                return -1;
            }
            size_t m = 0;
            for (size_t i = 0; i < nc; i++) {
                if (cok[i]) {
                    ok[where[i]] = 1;
                } else {
                    cand[m] = cand[i];
                    where[m++] = where[i];
                }
            }
            nc = m;
        }
        free(cand), free(where), free(cok);
    }
    size_t out = 0;
    for (size_t i = 0; i < base->n; i++)
        if (ok[i]) {
            base->ids[out] = base->ids[i];
            base->w[out++] = base->w[i];
        }
    base->n = out;
    free(ok);
    return 0;
}

static void count_cb(void *ctx, size_t i, const char *v, size_t n)
{
    (void)i;
    tally_value(ctx, v, n, 1);
}

/* Region, sector and unit counts over the passages of base. */
static int count_facets(srch_engine *e, const dset *base, tally tl[3],
                        char *err)
{
    if (e->snap->fx) {
        size_t nt = xap_facets_nterms(e->snap->fx);
        unsigned *counts = ps_xcalloc(nt ? nt : 1, sizeof(unsigned));
        for (size_t i = 0; i < base->n; i++) {
            const unsigned *row;
            size_t nrow = xap_facets_row(e->snap->fx, base->ids[i], &row);
            for (size_t j = 0; j < nrow; j++)
                counts[row[j]]++;
        }
        for (size_t i = 0; i < nt; i++)
            if (counts[i])
                tally_term(tl, xap_facets_term(e->snap->fx, i), counts[i]);
        free(counts);
        return 0;
    }
    /* A passage's regions, sectors and units are one value. */
    return xap_db_values(e->db, SLOT_FACETS, base->ids, base->n, count_cb, tl,
                         err) == XAP_OK ? 0 : -1;
}

/* ---- the evaluator ---- */

/* Like accumulate(), taking x over (x is left empty). */
static void accumulate_move(dset *acc, int *have, dset *x, int op);

/* *acc = *acc op x (op 0: AND, 1: OR), or a copy of x when *have is 0. */
static void accumulate(dset *acc, int *have, const dset *x, int op)
{
    if (!*have) {
        dset_copy(x, acc);
        *have = 1;
        return;
    }
    dset t;
    if (op)
        dset_or(acc, x, &t);
    else
        dset_and(acc, x, &t);
    dset_free(acc);
    *acc = t;
}

static void accumulate_move(dset *acc, int *have, dset *x, int op)
{
    if (!*have) {
        *acc = *x;
        memset(x, 0, sizeof *x);
        *have = 1;
        return;
    }
    accumulate(acc, have, x, op);
    dset_free(x);
}

/* Evaluates q with b's filters: *total, tl's counts, and the page of
 * hits asked for.  0, or -1 with err. */
static int evaluate(srch_engine *e, build *b, const qry *q, const plan *plans,
                    const srch_request *r, tally tl[3], json_t *hits,
                    unsigned *total, char *err)
{
    int positive = 0;
    for (size_t i = 0; i < q->n; i++)
        positive |= !q->items[i].negated;
    dset base, negs, wholes;
    int hb = 0, hn = 0, hw = 0, rc = 0;
    memset(&base, 0, sizeof base);
    memset(&negs, 0, sizeof negs);
    memset(&wholes, 0, sizeof wholes);
    if (!positive) {
        if (all_docs(e, &base, err) < 0)
            return -1;
        hb = 1;
    }
    for (int g = 0; g < q->ngroups && rc == 0; g++) {
        dset grp;
        int hg = 0, neg = 0;
        size_t na = 0;
        const plan *last = NULL;
        memset(&grp, 0, sizeof grp);
        for (size_t i = 0; i < q->n && rc == 0; i++) {
            if (q->items[i].group != g)
                continue;
            const plan *p = &plans[i];
            dset m;
            int hm = 0;
            memset(&m, 0, sizeof m);
            for (size_t k = 0; k < p->nmust; k++) {
                const dset *x = contains_set(e, b, p->must[k], p->mlen[k], err);
                if (!x) {
                    rc = -1;
                    break;
                }
                accumulate(&m, &hm, x, 0);
            }
            if (hm)
                accumulate_move(&grp, &hg, &m, 1);
            dset_free(&m);
            neg = q->items[i].negated;
            last = p;
            na++;
        }
        if (rc == 0 && na && neg)
            accumulate_move(&negs, &hn, &grp, 1);
        else if (rc == 0 && na)
            accumulate_move(&base, &hb, &grp, 0);
        if (rc == 0 && na == 1 && last->whole) {
            const dset *x = contains_set(e, b, last->whole, last->wlen, err);
            if (!x)
                rc = -1;
            else
                accumulate(&wholes, &hw, x, 0);
        }
        dset_free(&grp);
    }
    if (rc == 0 && hn) {
        dset t;
        dset_andnot(&base, &negs, &t);
        dset_free(&base);
        base = t;
    }
    /* Facet filters: OR within a facet, AND across facets. */
    for (int k = 0; k < 3 && rc == 0; k++) {
        if (!b->fterms[k].n || !base.n)
            continue;
        dset f, t;
        if (terms_docs(e, &b->fterms[k], &f, err) < 0) {
            rc = -1;
            break;
        }
        dset_filter(&base, &f, &t);
        dset_free(&f);
        dset_free(&base);
        base = t;
    }
    if (rc == 0 && b->has_range && base.n)
        rc = range_filter(e, b, &base, err);
    if (rc == 0) {
        *total = (unsigned)base.n;
        if (!r->no_facets)
            rc = count_facets(e, &base, tl, err);
    }
    if (rc == 0) {
        dset tiers[2];
        size_t ntiers = 1;
        if (hw) {
            dset_filter(&base, &wholes, &tiers[0]);
            dset_andnot(&base, &wholes, &tiers[1]);
            ntiers = 2;
        } else {
            tiers[0] = base;            /* base is not needed after this */
            memset(&base, 0, sizeof base);
        }
        long want = r->limit, skip = r->offset;
        for (size_t t = 0; t < ntiers; t++) {
            const dset *d = &tiers[t];
            size_t k = r->limit == 0 ? d->n
                       : want > 0 ? (size_t)skip + (size_t)want : 0;
            size_t *idx = ps_xmalloc((k < d->n ? k : d->n) * sizeof(size_t) + 1);
            /* Equal weights in document and passage order: from the
             * snapshot's order when it has one, else read for the
             * passages that can reach the page. */
            ranked rk = {d, e->snap->order, e->snap->norder, 0};
            size_t got = top_k(&rk, k, idx);
            if (rk.tied && !rk.order && got > (size_t)skip &&
                exact_ties(e, d, idx, got, err) < 0) {
                free(idx);
                rc = -1;
                break;
            }
            size_t taken = 0;
            for (size_t i = (size_t)skip; i < got && rc == 0; i++) {
                char *data;
                size_t len;
                if (xap_db_data(e->db, d->ids[idx[i]], META_DATA, &data, &len,
                                err) != XAP_OK) {
                    rc = -1;
                    break;
                }
                json_t *o = hit_json(data, d->w[idx[i]], b);
                free(data);
                if (!o) {
                    /* A match without its record: never a silently short
                     * page. */
                    size_t sh;
                    unsigned local;
                    ps_local_docid(d->ids[idx[i]], e->snap->nshards, &sh, &local);
                    snprintf(err, PS_ERRLEN, "shard %zu: passage %u matches but "
                             "its record is missing or unreadable: the index is "
                             "damaged (policy-index --check)", sh, local);
                    rc = -1;
                    break;
                }
                json_array_append_new(hits, o);
                taken++;
            }
            free(idx);
            skip = skip > (long)d->n ? skip - (long)d->n : 0;
            if (r->limit)
                want -= (long)taken;
        }
        for (size_t t = 0; t < ntiers; t++)
            dset_free(&tiers[t]);
    }
    dset_free(&base);
    dset_free(&negs);
    dset_free(&wholes);
    return rc;
}

static json_t *run_once(srch_engine *e, const void *arg, srch_status *st,
                        char *err);

json_t *srch_run(srch_engine *e, const srch_request *r, srch_status *st,
                 char *err)
{
    return with_snapshot(e, run_once, r, st, err);
}

static json_t *run_once(srch_engine *e, const void *arg, srch_status *st,
                        char *err)
{
    const srch_request *r = arg;
    double t0 = ps_now();
    *st = SRCH_OK;
    if (r->limit < 0 || r->offset < 0 || r->limit > 1000000 ||
        r->offset > 100000000) {
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "limit and offset must be non-negative");
        return NULL;
    }
    qry *q = qry_parse(r->query ? r->query : "", err);
    if (!q) {
        *st = SRCH_BAD_REQUEST;
        return NULL;
    }
    build b;
    memset(&b, 0, sizeof b);
    json_t *out = NULL;
    json_t *hits = json_array();
    unsigned total = 0;
    tally tl[3];
    for (int k = 0; k < 3; k++) {
        memset(&tl[k], 0, sizeof tl[k]);
        tl[k].idx = strset_create();
    }
    plan *plans = ps_xcalloc(q->n ? q->n : 1, sizeof(plan));
    for (size_t i = 0; i < q->n; i++)
        if (item_plan(e, &b, &q->items[i], &plans[i], err) < 0) {
            *st = SRCH_INTERNAL;
            goto done;
        }
    if (filter_parse(e, &b, r, st, err) < 0)
        goto done;
    if (evaluate(e, &b, q, plans, r, tl, hits, &total, err) < 0) {
        *st = SRCH_INTERNAL;
        goto done;
    }
    out = json_object();
    json_object_set_new(out, "query", json_string(r->query ? r->query : ""));
    json_object_set_new(out, "total", json_integer(total));
    json_object_set_new(out, "offset", json_integer(r->offset));
    json_object_set_new(out, "limit", json_integer(r->limit));
    json_object_set_new(out, "took_ms", json_real(0));
    json_object_set_new(out, "hits", hits);
    hits = NULL;
    json_t *facets = json_object();
    json_object_set_new(facets, "region", tally_json(e, &tl[0], 1));
    json_object_set_new(facets, "sector", tally_json(e, &tl[1], 0));
    json_object_set_new(facets, "unit", tally_json(e, &tl[2], 0));
    json_object_set_new(out, "facets", facets);
    double ms = (ps_now() - t0) * 1000.0;
    json_object_set_new(out, "took_ms", json_real((double)(long)(ms * 1000) / 1000));
done:
    json_decref(hits);
    for (int k = 0; k < 3; k++)
        tally_free(&tl[k]);
    free(plans);
    build_free(&b);
    qry_free(q);
    return out;
}

static void count_chunk(void *ctx, const char *v, size_t n)
{
    (void)v;
    (void)n;
    (*(size_t *)ctx)++;
}

static json_t *stats_once(srch_engine *e, const void *arg, srch_status *st,
                          char *err)
{
    const char *s = arg;
    *st = SRCH_OK;
    ps_buf norm;
    ps_buf_init(&norm);
    if (s && *s && norm_query(s, strlen(s), &norm, err) < 0) {
        *st = SRCH_BAD_REQUEST;
        return NULL;
    }
    json_t *out = json_object(), *shards = json_array();
    json_object_set_new(out, "passages", json_integer(e->snap->doccount));
    size_t nchars = 0, *off = norm.len ? ps_utf8_offsets(norm.data, norm.len,
                                                          &nchars) : NULL;
    size_t chunks_total = 0;
    for (size_t k = 0; k < xap_db_nshards(e->db); k++) {
        json_t *o = json_object();
        char *v = NULL;
        size_t vl = 0;
        gram_seg *segs = NULL;
        size_t nsegs = 0;
        unsigned (*del)[2] = NULL;
        size_t ndel = 0;
        if (xap_db_shard_metadata(e->db, k, META_SEGMENTS, strlen(META_SEGMENTS),
                                  &v, &vl, err) != XAP_OK ||
            gram_segs_decode(v, vl, &segs, &nsegs) < 0) {
            free(v);
            json_decref(out);
            json_decref(shards);
            free(off);
            ps_buf_free(&norm);
            *st = SRCH_INTERNAL;
            if (!*err)
                snprintf(err, PS_ERRLEN, "shard %zu: corrupt segment list", k);
            return NULL;
        }
        free(v);
        if (xap_db_shard_metadata(e->db, k, META_DELETED, strlen(META_DELETED),
                                  &v, &vl, err) == XAP_OK)
            gram_ranges_decode(v, vl, &del, &ndel);
        free(v);
        json_t *sa = json_array();
        size_t dtotal = 0;
        for (size_t i = 0; i < nsegs; i++) {
            size_t d = gram_seg_deleted(&segs[i], (const unsigned (*)[2])del, ndel);
            dtotal += d;
            json_array_append_new(sa, json_pack("{s:i,s:i,s:i,s:i,s:i}", "first",
                                                (json_int_t)segs[i].first, "last",
                                                (json_int_t)segs[i].last, "passages",
                                                (json_int_t)segs[i].passages,
                                                "deleted", (json_int_t)d, "level",
                                                (json_int_t)segs[i].level));
        }
        json_object_set_new(o, "segments", sa);
        json_object_set_new(o, "deleted", json_integer((json_int_t)dtotal));
        /* Chunks read for each bigram of the string's cover. */
        if (nchars >= 2) {
            json_t *ca = json_array();
            /* The cover: offsets 0, 2, 4, ... and n - 2. */
            size_t starts[130], ns = 0;
            for (size_t c = 0; c + 1 < nchars && ns < 128; c += 2)
                starts[ns++] = c;
            if (nchars % 2)
                starts[ns++] = nchars - 2;
            for (size_t i = 0; i < ns; i++) {
                size_t a = starts[i];
                char key[32];
                size_t gl = off[a + 2] - off[a];
                memcpy(key, META_GRAM, 2);
                key[2] = (char)gl;
                memcpy(key + 3, norm.data + off[a], gl);
                size_t n = 0;
                xap_db_shard_scan(e->db, k, key, 3 + gl, count_chunk, &n, err);
                json_array_append_new(ca, json_pack("{s:s%,s:i}", "gram",
                                                    norm.data + off[a], gl,
                                                    "chunks", (json_int_t)n));
                chunks_total += n;
            }
            json_object_set_new(o, "chunks", ca);
        }
        free(segs);
        free(del);
        json_array_append_new(shards, o);
    }
    json_object_set_new(out, "shards", shards);
    if (nchars >= 2)
        json_object_set_new(out, "chunks_read", json_integer((json_int_t)chunks_total));
    free(off);
    ps_buf_free(&norm);
    return out;
}

json_t *srch_explain(srch_engine *e, const char *query, srch_status *st,
                     char *err)
{
    *st = SRCH_OK;
    qry *q = qry_parse(query ? query : "", err);
    if (!q) {
        *st = SRCH_BAD_REQUEST;
        return NULL;
    }
    build b;
    memset(&b, 0, sizeof b);
    json_t *items = json_array();
    for (size_t i = 0; i < q->n; i++) {
        plan p;
        if (item_plan(e, &b, &q->items[i], &p, err) < 0) {
            json_decref(items);
            build_free(&b);
            qry_free(q);
            *st = SRCH_INTERNAL;
            return NULL;
        }
        json_t *must = json_array();
        for (size_t k = 0; k < p.nmust; k++)
            json_array_append_new(must, json_stringn(p.must[k], p.mlen[k]));
        json_array_append_new(items, json_pack(
            "{s:s,s:b,s:b,s:i,s:o,s:o}", "text", q->items[i].text, "quoted",
            q->items[i].quoted, "negated", q->items[i].negated, "group",
            q->items[i].group, "must", must, "whole",
            p.whole ? json_stringn(p.whole, p.wlen) : json_null()));
    }
    build_free(&b);
    qry_free(q);
    return json_pack("{s:o}", "items", items);
}

json_t *srch_stats(srch_engine *e, const char *s, srch_status *st, char *err)
{
    return with_snapshot(e, stats_once, s, st, err);
}

static int by_passage(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "passage"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "passage"));
    return x < y ? -1 : x > y;
}

static json_t *file_once(srch_engine *e, const void *arg, srch_status *st,
                         char *err)
{
    const char *doc = arg;
    *st = SRCH_OK;
    if (!doc || !*doc || !ps_utf8_valid(doc, strlen(doc))) {
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "missing or invalid document id");
        return NULL;
    }
    ps_buf key;
    ps_buf_init(&key);
    ps_buf_printf(&key, META_PATH "%s", doc);
    char *v = NULL;
    size_t vl = 0;
    for (size_t s = 0; s < xap_db_nshards(e->db) && !vl; s++) {
        free(v);
        v = NULL;
        if (xap_db_shard_metadata(e->db, s, key.data, key.len, &v, &vl, err) !=
            XAP_OK) {
            ps_buf_free(&key);
            *st = SRCH_INTERNAL;
            return NULL;
        }
    }
    ps_buf_free(&key);
    char *t1 = v && vl ? memchr(v, '\t', vl) : NULL;
    char *t2 = t1 ? memchr(t1 + 1, '\t', vl - (size_t)(t1 + 1 - v)) : NULL;
    if (!t2 || t2[1] != '/') {
        free(v);
        *st = SRCH_NOT_FOUND;
        snprintf(err, PS_ERRLEN, "unknown document '%.100s'", doc);
        return NULL;
    }
    json_t *o = json_pack("{s:s%,s:s%,s:s%}", "format", v, (size_t)(t1 - v),
                          "encoding", t1 + 1, (size_t)(t2 - t1 - 1), "path",
                          t2 + 1, vl - (size_t)(t2 + 1 - v));
    free(v);
    if (!o) {
        *st = SRCH_INTERNAL;
        snprintf(err, PS_ERRLEN, "document '%.100s': its file record is not "
                 "valid text", doc);
    }
    return o;
}

int srch_file(srch_engine *e, const char *doc, char **path, char **format,
              char **encoding, srch_status *st, char *err)
{
    *path = *format = *encoding = NULL;
    json_t *o = with_snapshot(e, file_once, doc, st, err);
    if (!o)
        return -1;
    *path = ps_xstrdup(json_string_value(json_object_get(o, "path")));
    *format = ps_xstrdup(json_string_value(json_object_get(o, "format")));
    *encoding = ps_xstrdup(json_string_value(json_object_get(o, "encoding")));
    json_decref(o);
    return 0;
}

typedef struct doc_args {
    const char *doc, *query;
} doc_args;

static json_t *doc_once(srch_engine *e, const char *doc, const char *query,
                        srch_status *st, char *err);

static json_t *doc_fn(srch_engine *e, const void *arg, srch_status *st,
                      char *err)
{
    const doc_args *a = arg;
    return doc_once(e, a->doc, a->query, st, err);
}

json_t *srch_doc(srch_engine *e, const char *doc, const char *query,
                 srch_status *st, char *err)
{
    doc_args a = {doc, query};
    return with_snapshot(e, doc_fn, &a, st, err);
}

static json_t *doc_once(srch_engine *e, const char *doc, const char *query,
                        srch_status *st, char *err)
{
    *st = SRCH_OK;
    if (!doc || !*doc || !ps_utf8_valid(doc, strlen(doc))) {
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "missing or invalid document id");
        return NULL;
    }
    char term[MAX_FILE_TERM + 32];
    ana_file_term(doc, term, sizeof term);
    unsigned *ids;
    size_t nids;
    if (xap_db_postlist(e->db, term, strlen(term), &ids, &nids, err) != XAP_OK) {
        *st = SRCH_INTERNAL;
        return NULL;
    }
    if (nids == 0) {
        free(ids);
        *st = SRCH_NOT_FOUND;
        snprintf(err, PS_ERRLEN, "unknown document '%.100s'", doc);
        return NULL;
    }
    /* The query's strings, as the search marks them. */
    build b;
    memset(&b, 0, sizeof b);
    qry *qq = query && *query ? qry_parse(query, err) : NULL;
    if (query && *query && !qq) {
        free(ids);
        *st = SRCH_BAD_REQUEST;
        return NULL;
    }
    for (size_t i = 0; qq && i < qq->n; i++) {
        plan pl;
        if (item_plan(e, &b, &qq->items[i], &pl, err) < 0) {
            build_free(&b);
            qry_free(qq);
            free(ids);
            *st = SRCH_INTERNAL;
            return NULL;
        }
    }
    json_t *out = json_object();
    json_t *ps = json_array();
    int first = 1;
    for (size_t i = 0; i < nids; i++) {
        json_error_t je;
        char *data;
        size_t len;
        if (xap_db_data(e->db, ids[i], META_DATA, &data, &len, err) != XAP_OK)
            goto fail;
        json_t *d = json_loadb(data, len, 0, &je);
        free(data);
        if (!d) {
            size_t sh;
            unsigned local;
            ps_local_docid(ids[i], e->snap->nshards, &sh, &local);
            snprintf(err, PS_ERRLEN, "shard %zu: passage %u of '%.100s' has no "
                     "readable record: the index is damaged (policy-index "
                     "--check)", sh, local, doc);
            goto fail;
        }
        if (first) {
            first = 0;
            json_object_set(out, "doc", json_object_get(d, "doc"));
            json_object_set(out, "title", json_object_get(d, "title"));
            if (json_object_get(d, "format"))
                json_object_set(out, "format", json_object_get(d, "format"));
            /* what the file says of itself */
            ps_buf key;
            ps_buf_init(&key);
            ps_buf_printf(&key, META_DOC "%s", doc);
            for (size_t s = 0; s < xap_db_nshards(e->db); s++) {
                char *v = NULL;
                size_t vl = 0;
                if (xap_db_shard_metadata(e->db, s, key.data, key.len, &v, &vl,
                                          err) == XAP_OK && vl) {
                    json_t *m = json_loadb(v, vl, 0, &je);
                    if (m)
                        json_object_set_new(out, "file", m);
                    free(v);
                    break;
                }
                free(v);
            }
            ps_buf_free(&key);
        }
        json_t *p = json_object();
        static const char *const keys[] = {"passage", "kind", "heading", "text",
                                           "regions", "sectors", "numbers"};
        for (size_t k = 0; k < 7; k++) {
            json_t *v = json_object_get(d, keys[k]);
            json_object_set(p, keys[k], v ? v : json_null());
        }
        static const char *const opt[] = {"page", "ocr"};
        for (size_t k = 0; k < 2; k++) {
            json_t *v = json_object_get(d, opt[k]);
            if (v)
                json_object_set(p, opt[k], v);
        }
        if (qq) {
            const char *text = json_string_value(json_object_get(d, "text"));
            ps_buf snip;
            ps_buf_init(&snip);
            snip_make(text ? text : "", b.needles, b.nneedles, 0, &snip);
            json_object_set_new(p, "snippet", json_stringn(snip.data, snip.len));
            ps_buf_free(&snip);
        }
        json_array_append_new(ps, p);
        json_decref(d);
    }
    /* In passage order (a file's passages have increasing docids, but the
     * data says so for certain). */
    size_t n = json_array_size(ps);
    json_t **v = ps_xmalloc((n ? n : 1) * sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(ps, i));
    qsort(v, n, sizeof(json_t *), by_passage);
    json_array_clear(ps);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ps, v[i]);
    free(v);
    json_object_set_new(out, "passages", ps);
    free(ids);
    build_free(&b);
    qry_free(qq);
    return out;
fail:
    json_decref(out);
    json_decref(ps);
    build_free(&b);
    qry_free(qq);
    free(ids);
    *st = SRCH_INTERNAL;
    return NULL;
}
