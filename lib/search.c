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
#include "docmeta.h"
#include "fcol.h"
#include "fdict.h"
#include "blockcheck.h"
#include "dset.h"
#include "fcount.h"
#include "ncache.h"
#include "vrange.h"
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
#include <unistd.h>

/* What a shard's character index needs besides the grams: passage
 * lengths for ranking and deleted passages to leave out. */
typedef struct shard_info {
    unsigned last;            /* the shard's highest docid */
    uint32_t *len;
    size_t nlen;
    unsigned (*del)[2];
    size_t ndel;
    fdict *facets;            /* members of its coded facet values */
    unsigned fcol_start;      /* the facet column's first docid (fcol.h);
                                 0: none (format 7 and before) */
    gram_seg *segs;           /* its character index's segments */
    size_t nsegs;
    int format4;              /* no segment list: chunks read by prefix */
} shard_info;

/* One committed state of the index, immutable once built and shared by
 * every thread: what was read of it (lengths, deleted passages, the facet
 * index when enabled) and read handles opened at that state.  A thread
 * borrows a handle for a request; the snapshot is freed when its last
 * user lets go of it after a newer one replaced it. */
typedef struct snapshot {
    atomic_int refs;
    unsigned long seq;            /* a number no other snapshot has */
    char generation[64];          /* of GENERATION_FILE when opened */
    unsigned long long *revs;     /* each shard's revision */
    size_t nshards;
    shard_info *shards;
    double avglen;                /* mean passage length, characters */
    unsigned doccount;
    xap_facets *fx;               /* in-memory facet index, when enabled */
    strset *fxterms;              /* its terms -> their indices */
    fcount *fc;                   /* its dense terms as bits */
    uint32_t *order;              /* docid -> place by (document, passage),
                                     with the facet index */
    uint32_t *docno;              /* docid -> its document's number, in
                                     document id order (below ndocs) */
    uint32_t *date;               /* docid -> its document's date code */
    size_t norder, ndocs;
    pthread_mutex_t lock;         /* guards the pool */
    vrange *vr;                   /* mentions by unit and value, with
                                     the facet index */
    xap_db **pool;                /* idle handles at this state */
    size_t npool, cappool;
    ncache *_Atomic nc;           /* strings' passages kept (ncache.h),
                                     made at first use; under lock */
    ncache *_Atomic rc;           /* parsed passage and document records
                                     kept, the same way */
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
    /* With a watcher, the snapshots with the facet index are read by a
     * thread of their own (srch_index_watch()); under build: */
    pthread_t builder;
    pthread_cond_t wake;          /* want_full or stop */
    int want_full, building;
    char full_err[PS_ERRLEN];     /* of the last failed full reading */
    atomic_size_t ncache_cap;     /* bytes of each snapshot's ncache; 0 */
};

struct srch_engine {
    srch_index *ix;
    int owns_ix;
    const ana_res *res;
    ana_ctx *ana;
    /* During a request: the snapshot answered from and a handle at it. */
    snapshot *snap;
    xap_db *db;
    size_t sunk;              /* hits given to the request's sink */
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

/* A chunk's own key (gram_src: no other key starts with it): one lookup,
 * and nothing appended when the segment has no such chunk. */
static void add_found(void *ctx, const char *v, size_t n)
{
    if (n)
        add_chunk(ctx, v, n);
}

static int fetch_key(void *ctx, const char *key, size_t klen, ps_buf *out,
                     char *err)
{
    fetch_ctx *f = ctx;
    return xap_db_shard_metadata_cb(f->db, f->shard, key, klen, add_found, out,
                                    err) == XAP_OK ? 0 : -1;
}

/* Where shard k's chunks are read (gram_src). */
static gram_src shard_src(const shard_info *si, fetch_ctx *f)
{
    gram_src src = {si->format4 ? fetch : fetch_key, f, si->segs, si->nsegs,
                    si->format4};
    return src;
}

static void snap_free(snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nshards; i++) {
        free(s->shards[i].len);
        free(s->shards[i].del);
        free(s->shards[i].segs);
        fdict_destroy(s->shards[i].facets);
    }
    free(s->shards);
    free(s->revs);
    xap_facets_free(s->fx);
    strset_destroy(s->fxterms);
    fcount_free(s->fc);
    ps_big_free(s->order);
    ps_big_free(s->docno);
    ps_big_free(s->date);
    for (size_t i = 0; i < s->npool; i++)
        xap_db_close(s->pool[i]);
    free(s->pool);
    vrange_free(s->vr);
    ncache_destroy(atomic_load(&s->nc));
    ncache_destroy(atomic_load(&s->rc));
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void snap_release(snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snap_free(s);
}

static int scan(void *ctx, const char *prefix, size_t plen,
                void (*cb)(void *cbctx, const char *v, size_t n), void *cbctx,
                char *err)
{
    fetch_ctx *f = ctx;
    return xap_db_shard_scan(f->db, f->shard, prefix, plen, cb, cbctx, err) ==
           XAP_OK ? 0 : -1;
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
                snprintf(err, PS_ERRLEN, "shard %zu: index format %.*s, this "
                         "build reads formats %d to %s: index the documents "
                         "into a new --db (policy-index --db NEW PATH...)", s,
                         ps_clip(ver, 20), ver, PS_FORMAT_OLDEST_READ, PS_FORMAT_VERSION);
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

/* Reads every shard's lengths and deleted ranges into s, and checks
 * that the passages the character index lists alive are as many as the
 * database holds: a damaged shard is named, never answered from. */
static int load_shard_info(snapshot *s, xap_db *db, char *err)
{
    size_t n = xap_db_nshards(db);
    s->shards = ps_xcalloc(n ? n : 1, sizeof(shard_info));
    s->nshards = n;
    double sum = 0, count = 0;
    for (size_t k = 0; k < n; k++) {
        shard_info *si = &s->shards[k];
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
        si->facets = fdict_create();
        if (xap_db_shard_metadata(db, k, META_FACETDICT, strlen(META_FACETDICT),
                                  &v, &vl, err) != XAP_OK)
            return -1;
        bad = fdict_load(si->facets, v, vl);
        free(v);
        if (bad) {
            snprintf(err, PS_ERRLEN, "shard %zu: corrupt facet dictionary "
                     "(policy-index --check)", k);
            return -1;
        }
        if (xap_db_shard_metadata(db, k, META_FCOLSTART, strlen(META_FCOLSTART),
                                  &v, &vl, err) != XAP_OK)
            return -1;
        char *end;
        unsigned long start = strtoul(v, &end, 10);
        si->fcol_start = vl && !*end && start <= UINT32_MAX ? (unsigned)start : 0;
        free(v);
        if (xap_db_shard_metadata(db, k, META_VERSION, strlen(META_VERSION),
                                  &v, &vl, err) != XAP_OK)
            return -1;
        si->format4 = strcmp(v, "4") == 0;
        free(v);
        if (xap_db_shard_metadata(db, k, META_SEGMENTS, strlen(META_SEGMENTS),
                                  &v, &vl, err) != XAP_OK)
            return -1;
        bad = gram_segs_decode(v, vl, &si->segs, &si->nsegs);
        free(v);
        if (bad) {
            snprintf(err, PS_ERRLEN, "shard %zu: corrupt list of segments of "
                     "the character index (policy-index --check)", k);
            return -1;
        }
        fetch_ctx f = {db, k, NULL};
        size_t live, nsum;
        uint64_t lsum;
        unsigned docs, last;
        if (xap_db_shard_doccount(db, k, &docs, &last, err) != XAP_OK)
            return -1;
        si->last = last;
        if (gram_lengths_scan(scan, &f, (const unsigned (*)[2])si->del,
                              si->ndel, (size_t)last + 1, &si->len, &si->nlen,
                              &live, &lsum, &nsum, err) < 0) {
            xap_name_shard(err, k);
            return -1;
        }
        if (live != docs) {
            snprintf(err, PS_ERRLEN, "shard %zu: the character index lists "
                     "%zu passages, the database holds %u: the index is "
                     "damaged (policy-index --check)", k, live, docs);
            return -1;
        }
        sum += (double)lsum;
        count += (double)nsum;
    }
    s->avglen = count ? sum / count : 1;
    return 0;
}

/* The facets, in the order of the JSON, and their terms' prefixes. */
enum { P_REGION, P_SECTOR, P_UNIT, P_AGENCY, P_TYPE, P_YEAR, NPARTS };
static const struct {
    const char *name, *prefix;
} PARTS[NPARTS] = {
    {"region", PFX_REGION}, {"sector", PFX_SECTOR}, {"unit", PFX_UNIT},
    {"agency", PFX_AGENCY}, {"type", PFX_TYPE}, {"year", PFX_YEAR}};
static const char *const FACET_PREFIXES[NPARTS] = {
    PFX_REGION, PFX_SECTOR, PFX_UNIT, PFX_AGENCY, PFX_TYPE, PFX_YEAR};

static int days_in(unsigned y, unsigned m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* A date as a number, YYYYMMDD with 00 for a month or day not given: s
 * is YYYY, YYYY-MM or YYYY-MM-DD.  0 when it is none of those or not a
 * day of the calendar. */
static uint32_t date_code(const char *s, size_t n)
{
    if (n != 4 && n != 7 && n != 10)
        return 0;
    unsigned part[3] = {0, 0, 0}, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return 0;
            k++;
        } else if (s[i] >= '0' && s[i] <= '9') {
            part[k] = part[k] * 10 + (unsigned)(s[i] - '0');
        } else {
            return 0;
        }
    }
    if (part[0] == 0 || (n >= 7 && (part[1] < 1 || part[1] > 12)) ||
        (n == 10 && (part[2] < 1 || (int)part[2] > days_in(part[0], part[1]))))
        return 0;
    return part[0] * 10000 + part[1] * 100 + part[2];
}

/* The last day a date code stands for (2024 -> 2024-99-99). */
static uint32_t date_end(uint32_t c)
{
    if (c % 100 == 0)
        c += 99;
    if (c / 100 % 100 == 0)
        c += 9900;
    return c;
}

typedef struct date_fill {
    const unsigned *ids;      /* the docids read */
    uint32_t *date;           /* docid -> date code */
} date_fill;

static void snap_date_cb(void *ctx, size_t i, const char *v, size_t n)
{
    date_fill *f = ctx;
    f->date[f->ids[i]] = date_code(v, n);
}

static size_t fx_values(const void *ctx, unsigned doc, const unsigned char **buf)
{
    return xap_facets_values(ctx, doc, buf);
}

/* srch_fault_modified(), srch_fault_opening(), srch_fault_overwritten():
 * failures left, and of which kind. */
enum { FAULT_MODIFIED, FAULT_OPENING, FAULT_OVERWRITTEN };
static atomic_uint fault_left;
static atomic_int fault_kind;

void srch_fault_modified(unsigned n)
{
    atomic_store(&fault_kind, FAULT_MODIFIED);
    atomic_store(&fault_left, n);
}

void srch_fault_opening(unsigned n)
{
    atomic_store(&fault_kind, FAULT_OPENING);
    atomic_store(&fault_left, n);
}

void srch_fault_overwritten(unsigned n)
{
    atomic_store(&fault_kind, FAULT_OVERWRITTEN);
    atomic_store(&fault_left, n);
}

static atomic_int fault_one_handle;

void srch_fault_one_handle(void)
{
    atomic_store(&fault_one_handle, 1);
}

/* srch_fault_corrupt(): the request that fails, counted from 1 (0:
 * none), and the requests begun so far. */
static atomic_uint fault_request_at;
static atomic_uint requests_begun;

void srch_fault_corrupt(unsigned k)
{
    atomic_store(&requests_begun, 0);
    atomic_store(&fault_request_at, k);
}

/* 1 (with err) when the request beginning now is the one to fail. */
static int request_fault(char *err)
{
    unsigned at = atomic_load(&fault_request_at);
    if (!at || atomic_fetch_add(&requests_begun, 1) + 1 != at)
        return 0;
    snprintf(err, PS_ERRLEN, "shard 0: DatabaseCorruptError: Unexpected "
             "end of posting list (PS_FAULT)");
    return 1;
}

/* Takes one injected failure, if any are left. */
static int take_fault(void)
{
    unsigned n = atomic_load(&fault_left);
    while (n && !atomic_compare_exchange_weak(&fault_left, &n, n - 1))
        ;
    return n != 0;
}

/* The order among equal scores, the values and the index of numeric
 * mentions over them, read while the snapshot's other thread reads the
 * facet terms: each with a handle of its own at the same revision. */
typedef struct values_job {
    xap_db *db;
    snapshot *s;              /* order, docno, norder and vr are the job's */
    int rc;
    char err[PS_ERRLEN];
} values_job;

static void values_run(values_job *j)
{
    snapshot *s = j->s;
    /* The order among equal scores, for every passage at once. */
    if (xap_db_value_order(j->db, SLOT_ORDER, &s->order, &s->docno,
                           &s->norder, j->err) != XAP_OK ||
        xap_facets_add_values(j->db, s->fx, SLOT_NUM0, NUM_SLOTS, j->err) !=
            XAP_OK) {
        j->rc = -1;
        return;
    }
    /* The passages with values, ascending: those the mentions come from
     * (no other passage adds one). */
    unsigned last = xap_facets_last(s->fx), *docs, n = 0;
    docs = ps_xmalloc(((size_t)last + 1) * sizeof *docs);
    for (unsigned d = 1; d <= last; d++) {
        const unsigned char *buf;
        if (xap_facets_values(s->fx, d, &buf))
            docs[n++] = d;
    }
    s->vr = vrange_build(docs, n, fx_values, s->fx);
    free(docs);
}

static void *values_thread(void *arg)
{
    ps_thread_heap_hugepages();
    values_run(arg);
    return NULL;
}

static xap_db *snap_open_at(snapshot *s, const char *path);
static void snap_give_back(snapshot *s, xap_db *db);

/* Reads the facet index, the order among equal scores, the mentions by
 * value and every passage's date into s (db: s's first handle).  The
 * order, values and mentions are read on a second handle in a thread of
 * their own, when the index is still at s's state, while this one reads
 * the facet terms (at 1 GB, each about half of the time). */
static int snap_facets(snapshot *s, const char *path, xap_db *db, char *err)
{
    if (xap_facets_create(db, &s->fx, err) != XAP_OK)
        return -1;
    values_job job = {atomic_load(&fault_one_handle) ? NULL
                                                    : snap_open_at(s, path),
                      s, 0, ""};
    pthread_t th;
    int threaded = job.db && pthread_create(&th, NULL, values_thread, &job) == 0;
    int rc = 0;
    if (xap_facets_add_terms(db, s->fx, FACET_PREFIXES, NPARTS, err) != XAP_OK)
        rc = -1;
    if (rc == 0) {
        s->fxterms = strset_create();
        for (size_t i = 0; i < xap_facets_nterms(s->fx); i++)
            strset_put(s->fxterms, xap_facets_term(s->fx, i),
                       strlen(xap_facets_term(s->fx, i)), (int)i);
        const uint32_t *off;
        const void *vals;
        unsigned width;
        size_t noff = xap_facets_rows(s->fx, &off, &vals, &width);
        s->fc = fcount_build(off, vals, width, noff, xap_facets_nterms(s->fx));
    }
    if (threaded) {
        pthread_join(th, NULL);
        snap_give_back(s, job.db);
    } else {                                /* one after the other */
        if (job.db)
            xap_db_close(job.db);
        job.db = db;
        if (rc == 0)
            values_run(&job);
    }
    if (rc == 0 && job.rc < 0) {
        memcpy(err, job.err, PS_ERRLEN);
        rc = -1;
    }
    if (rc == 0) {
        for (size_t i = 0; i < s->norder; i++)
            if (s->docno[i] != UINT32_MAX && s->docno[i] >= s->ndocs)
                s->ndocs = s->docno[i] + 1;
        /* Every passage's document date. */
        s->date = ps_big_calloc(s->norder ? s->norder : 1, sizeof(uint32_t));
        const unsigned *all;
        size_t nall = xap_facets_docs(s->fx, &all);
        date_fill dc = {all, s->date};
        if (xap_db_values(db, SLOT_DATE, all, nall, snap_date_cb, &dc, err) !=
            XAP_OK)
            rc = -1;
    }
    return rc;
}

static int snap_changed(snapshot *s, const char *path);
static int opening_err(const char *err);
static int snap_stale(snapshot *s, const char *path);

/* Opens the index as it is now and reads what queries need of it.  A
 * reading that fails after the index moved on from the state it began
 * on sets *moved (what it read may have been overwritten meanwhile). */
static snapshot *snap_build_once(const char *path, int facets, int *moved,
                                 char *err)
{
    *moved = 0;
    static atomic_ulong next_seq = 1;
    int fault = take_fault() ? atomic_load(&fault_kind) : -1;
    if (fault == FAULT_OPENING) {
        snprintf(err, PS_ERRLEN, "shard 0: DatabaseOpeningError: Couldn't "
                 "open %s/shard0/postlist.glass to read (No such file or "
                 "directory) (PS_FAULT)", path);
        return NULL;
    }
    if (fault == FAULT_MODIFIED) {
        snprintf(err, PS_ERRLEN, "shard 0: DatabaseModifiedError: the "
                 "revision being read has been discarded (PS_FAULT)");
        return NULL;
    }
    snapshot *s = ps_xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->seq = atomic_fetch_add(&next_seq, 1);
    pthread_mutex_init(&s->lock, NULL);
    /* The generation before the database: a compaction that replaces
     * files after this point is seen at the next check. */
    ix_generation(path, s->generation, sizeof s->generation);
    /* An opening reads every table's root block at the revision the
     * shard's version file names.  A writer that commits twice meanwhile
     * may overwrite that block, and Xapian then says so as it says damage
     * ("Expected block N to be level 1, not 0", "EOF reading block N"),
     * not as a change.  So a failed opening is made again, as a reading
     * the index moved on under: damage fails every attempt and is said
     * (a shard missing for a moment has its own pause, in snap_build). */
    xap_db *db;
    if (fault == FAULT_OVERWRITTEN)
        snprintf(err, PS_ERRLEN, "shard 0: DatabaseCorruptError: Expected "
                 "block 5 to be level 1, not 0 (PS_FAULT)");
    if (fault == FAULT_OVERWRITTEN || xap_db_open(path, &db, err) != XAP_OK) {
        *moved = !opening_err(err);
        snap_free(s);
        return NULL;
    }
    s->pool = ps_xmalloc(4 * sizeof(xap_db *));
    s->cappool = 4;
    s->pool[s->npool++] = db;
    size_t n = xap_db_nshards(db);
    s->revs = ps_xcalloc(n ? n : 1, sizeof *s->revs);
    int bad_format = check_formats(db, err) < 0;
    int failed = bad_format ||
                 xap_db_revisions(db, s->revs, n, err) != XAP_OK ||
                 load_shard_info(s, db, err) < 0 ||
                 xap_db_doccount(db, &s->doccount, err) != XAP_OK;
    /* A compaction that swapped a shard in while it was opened (the
     * handle may hold old files and new): read again. */
    char gen[sizeof s->generation];
    ix_generation(path, gen, sizeof gen);
    if (strcmp(gen, s->generation) != 0) {
        if (!failed)
            snprintf(err, PS_ERRLEN, "the index's files were replaced while "
                     "it was opened (a compaction)");
        *moved = 1;
        failed = 1;
    }
    /* The lengths take a while to read: a writer that commits twice
     * meanwhile overwrites what they are read from. */
    if (failed && !*moved && !bad_format)
        *moved = snap_changed(s, path) != 0;
    if (failed) {
        snap_free(s);
        return NULL;
    }
    if (facets && snap_facets(s, path, db, err) < 0) {
        *moved = snap_changed(s, path) != 0;
        snap_free(s);
        return NULL;
    }
    return s;
}

/* How many times a reading that met a writer's change (the revision it
 * began on overwritten: a shard keeps one old revision) is made again
 * from the index's new state: a snapshot here, a request in
 * with_snapshot(). */
#define MODIFIED_RETRIES 4

static int modified_err(const char *err)
{
    return strstr(err, "DatabaseModifiedError") != NULL;
}

/* A shard that cannot be opened while a compaction swaps it in: between
 * its two renames (index.c, ix_compact_shard) the shard's directory is
 * missing, and an opening that began before them finds files gone. */
static int opening_err(const char *err)
{
    return strstr(err, "DatabaseOpeningError") != NULL ||
           strstr(err, "DatabaseNotFoundError") != NULL;
}

/* A snapshot of the index as it is now.  Reading one takes a while (every
 * passage's length, the facet index), and a writer committing twice
 * meanwhile overwrites the revision being read, or a compaction swaps a
 * shard's files: it is read again from the new state, up to
 * MODIFIED_RETRIES times.  So is one that could not
 * be opened (a compaction swapping a shard in), after 2, 4, 8 and 16 ms:
 * a swap takes microseconds, a damaged index fails every time. */
static snapshot *snap_build(const char *path, int facets, char *err)
{
    for (int i = 0;; i++) {
        int moved;
        snapshot *s = snap_build_once(path, facets, &moved, err);
        int opening = !s && opening_err(err);
        if (s || i == MODIFIED_RETRIES ||
            !(opening || moved || modified_err(err)))
            return s;
        if (opening)
            usleep(2000u << i);
    }
}

/* A handle at s's state: an idle one, or a new one if the index has not
 * changed since s was built (else NULL: s is out of date). */
static xap_db *snap_borrow(snapshot *s, const char *path)
{
    pthread_mutex_lock(&s->lock);
    xap_db *db = s->npool ? s->pool[--s->npool] : NULL;
    pthread_mutex_unlock(&s->lock);
    return db ? db : snap_open_at(s, path);
}

/* A new handle, if the index has not changed since s was built (else
 * NULL: s is out of date). */
static xap_db *snap_open_at(snapshot *s, const char *path)
{
    xap_db *db;
    char err[PS_ERRLEN], gen[64];
    /* The generation before and after the opening: the same, s's, when
     * no compaction swapped files in meanwhile (ix_compact_shard). */
    ix_generation(path, gen, sizeof gen);
    if (strcmp(gen, s->generation) != 0 ||
        xap_db_open(path, &db, err) != XAP_OK)
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

unsigned long srch_index_seq(srch_index *ix)
{
    pthread_mutex_lock(&ix->lock);
    unsigned long seq = ix->cur ? ix->cur->seq : 0;
    pthread_mutex_unlock(&ix->lock);
    return seq;
}

void srch_index_describe(srch_index *ix, srch_index_info *out)
{
    pthread_mutex_lock(&ix->lock);
    snapshot *s = ix->cur;
    out->seq = s->seq;
    out->passages = s->doccount;
    out->shards = s->nshards;
    out->facet_index = s->fx != NULL;
    ncache *c = atomic_load(&s->nc), *r = atomic_load(&s->rc);
    memset(&out->postings, 0, sizeof out->postings);
    memset(&out->records, 0, sizeof out->records);
    if (c)
        ncache_stats_get(c, &out->postings);
    if (r)
        ncache_stats_get(r, &out->records);
    /* The shares of snap_ncache() and snap_rcache(). */
    out->postings.cap = atomic_load(&ix->ncache_cap) / 4 * 3;
    out->records.cap = atomic_load(&ix->ncache_cap) / 4;
    pthread_mutex_unlock(&ix->lock);
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
 * revision.)  1 changed, 0 not, -1 cannot tell: the index does not open
 * (a compaction between its two renames, or damage). */
static int snap_changed(snapshot *s, const char *path)
{
    char gen[64], err[PS_ERRLEN];
    ix_generation(path, gen, sizeof gen);
    if (strcmp(gen, s->generation) != 0)
        return 1;
    xap_db *db;
    if (xap_db_open(path, &db, err) != XAP_OK)
        return -1;
    unsigned long long revs[64];
    size_t n = xap_db_nshards(db);
    int changed = n != s->nshards || n > 64 ||
                  xap_db_revisions(db, revs, n, err) != XAP_OK ||
                  memcmp(revs, s->revs, n * sizeof *revs) != 0;
    xap_db_close(db);
    return changed;
}

/* Changed for certain (a watcher that cannot tell looks again later). */
static int snap_stale(snapshot *s, const char *path)
{
    return snap_changed(s, path) == 1;
}

/* Makes s the snapshot new requests take; the previous one goes when
 * its last request does. */
static void ix_publish(srch_index *ix, snapshot *s)
{
    pthread_mutex_lock(&ix->lock);
    snapshot *prev = ix->cur;
    ix->cur = s;
    pthread_mutex_unlock(&ix->lock);
    snap_release(prev);
}

/* With the facet index, a changed index is taken in two steps.  Reading
 * the facet index takes about a second a GB of text; a snapshot without
 * it (lengths, deleted passages: what a one-off query reads) takes
 * milliseconds.  That one is published first, so new documents are found
 * at once (answered as a one-off query is: the same answers, slower),
 * and the old snapshot is let go before the full one is read (its large
 * blocks are then reused for it: util.h).  The full one replaces it as
 * soon as it is read; a snapshot left without its facet index (that
 * reading failed) is read again at the next refresh.
 *
 * The first step (under build): *stale when the index changed since the
 * current snapshot, *bare when that snapshot lacks the facet index it
 * should have; a changed index is published at once without the facet
 * index (without a facet index to read, that is all).  0, or -1 with err
 * when it cannot be read. */
static int take_light(srch_index *ix, int *stale, int *bare, char *err)
{
    snapshot *old = ix_acquire(ix);
    *stale = snap_stale(old, ix->path);
    *bare = ix->facets && !old->fx;
    snap_release(old);
    if (!*stale)
        return 0;
    snapshot *light = snap_build(ix->path, 0, err);
    if (!light)
        return -1;
    ix_publish(ix, light);
    return 0;
}

void srch_index_postings_cache(srch_index *ix, size_t bytes)
{
    atomic_store(&ix->ncache_cap, bytes);
}

void srch_postings_cache(srch_engine *e, size_t bytes)
{
    srch_index_postings_cache(e->ix, bytes);
}

int srch_index_refresh(srch_index *ix, char *err)
{
    pthread_mutex_lock(&ix->build);
    int stale, bare, rc = 0;
    if (take_light(ix, &stale, &bare, err) < 0) {
        rc = -1;
    } else if (ix->facets && (stale || bare)) {
        snapshot *s = snap_build(ix->path, 1, err);
        if (!s) {
            rc = -1;
        } else {
            ix_publish(ix, s);
            rc = 1;
        }
    } else {
        rc = stale;
    }
    pthread_mutex_unlock(&ix->build);
    return rc;
}

srch_index *srch_index_open(const char *path, int facets, char *err)
{
    if (facets)
        blockcheck_warm();      /* a process of many queries */
    snapshot *s = snap_build(path, facets, err);
    if (!s)
        return NULL;
    srch_index *ix = ps_xcalloc(1, sizeof *ix);
    ix->path = ps_xstrdup(path);
    ix->facets = facets;
    ix->cur = s;
    pthread_mutex_init(&ix->lock, NULL);
    pthread_mutex_init(&ix->build, NULL);
    pthread_cond_init(&ix->wake, NULL);
    atomic_init(&ix->stop, 0);
    return ix;
}

/* Says what failed once for as long as err repeats (last: the error
 * said last). */
static void say_once(srch_index *ix, char *last, const char *what,
                     const char *err)
{
    if (strcmp(err, last) != 0)
        fprintf(stderr, "policy-search: %s: %s: %s\n", ix->path, what, err);
    snprintf(last, PS_ERRLEN, "%s", err);
}

/* The watcher's look at the index: a changed index is published at once
 * without the facet index (see srch_index_refresh()), and the builder is
 * asked for the full snapshot. */
static void watch_step(srch_index *ix)
{
    char err[PS_ERRLEN];
    int stale, bare;
    pthread_mutex_lock(&ix->build);
    if (take_light(ix, &stale, &bare, err) < 0)
        say_once(ix, ix->last_err, "cannot read the index's new state "
                 "(answering from the previous one)", err);
    else if (stale)
        ix->last_err[0] = '\0';
    if (ix->facets && (stale || (bare && !ix->building))) {
        ix->want_full = 1;
        pthread_cond_signal(&ix->wake);
    }
    pthread_mutex_unlock(&ix->build);
}

static void *watch_loop(void *arg)
{
    srch_index *ix = arg;
    while (!atomic_load(&ix->stop)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        watch_step(ix);
    }
    return NULL;
}

/* Reads full snapshots when asked, outside the build lock (the watcher
 * goes on publishing new states meanwhile).  One is published only if
 * the index is still in its state: never an older state over a newer;
 * else it is read again. */
static void *build_loop(void *arg)
{
    srch_index *ix = arg;
    pthread_mutex_lock(&ix->build);
    for (;;) {
        while (!ix->want_full && !atomic_load(&ix->stop))
            pthread_cond_wait(&ix->wake, &ix->build);
        if (atomic_load(&ix->stop))
            break;
        ix->want_full = 0;
        ix->building = 1;
        pthread_mutex_unlock(&ix->build);
        char err[PS_ERRLEN];
        snapshot *s = snap_build(ix->path, 1, err);
        pthread_mutex_lock(&ix->build);
        ix->building = 0;
        if (!s) {
            say_once(ix, ix->full_err, "cannot read the facet index of the "
                     "index's new state (answering without it: the same "
                     "answers, slower)", err);
        } else if (snap_stale(s, ix->path)) {
            snap_release(s);
            ix->want_full = 1;
        } else {
            ix_publish(ix, s);
            ix->full_err[0] = '\0';
        }
    }
    pthread_mutex_unlock(&ix->build);
    return NULL;
}

int srch_index_watch(srch_index *ix, char *err)
{
    if (ix->watching)
        return 0;
    int rc = pthread_create(&ix->builder, NULL, build_loop, ix);
    if (rc == 0) {
        rc = pthread_create(&ix->watcher, NULL, watch_loop, ix);
        if (rc != 0) {
            pthread_mutex_lock(&ix->build);
            atomic_store(&ix->stop, 1);
            pthread_cond_signal(&ix->wake);
            pthread_mutex_unlock(&ix->build);
            pthread_join(ix->builder, NULL);
            atomic_store(&ix->stop, 0);
        }
    }
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
        pthread_mutex_lock(&ix->build);
        atomic_store(&ix->stop, 1);
        pthread_cond_signal(&ix->wake);
        pthread_mutex_unlock(&ix->build);
        pthread_join(ix->watcher, NULL);
        pthread_join(ix->builder, NULL);
    }
    pthread_cond_destroy(&ix->wake);
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
    blockcheck_warm();
    pthread_mutex_lock(&ix->build);
    ix->facets = 1;
    snapshot *s = snap_build(ix->path, 1, err);
    if (s)
        ix_publish(ix, s);
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
/* Is a request that failed on snapshot s made again from the index's new
 * state?  When it met a writer's change (DatabaseModifiedError), and on
 * any failure once s is out of date: each shard keeps one old revision,
 * and the blocks of an older one can be overwritten while they are read,
 * which Xapian does not always tell as a change ("DatabaseError: EOF
 * reading block", a corrupt block, a record that does not decode).  The
 * same failure on the current state is damage, and is said.  Never once
 * hits were streamed: they cannot be taken back. */
static int read_again(srch_engine *e, snapshot *s, srch_status st,
                      const char *err)
{
    if (st != SRCH_INTERNAL || e->sunk)
        return 0;
    /* An index that does not open just after a failed reading is most
     * likely a compaction swapping the shard that failed: read again
     * (damage fails every fresh opening too, and is then said). */
    return modified_err(err) || snap_changed(s, e->ix->path) != 0;
}

/* A request was answered from a state newer than the current snapshot's:
 * the index as it is now is published at once, not at the watcher's next
 * look (a batch has no watcher), so no later request answers from an
 * older state than this one did.  First without the facet index; the
 * full snapshot is then read by the watcher's builder, or here when
 * there is none (a batch would otherwise count facets without it from
 * then on). */
static void catch_up(srch_index *ix)
{
    char err[PS_ERRLEN];
    int stale, bare;
    pthread_mutex_lock(&ix->build);
    if (take_light(ix, &stale, &bare, err) == 0 && stale && ix->facets) {
        if (ix->watching) {
            ix->want_full = 1;
            pthread_cond_signal(&ix->wake);
        } else {
            snapshot *s = snap_build(ix->path, 1, err);
            if (s)
                ix_publish(ix, s);
        }
    }
    pthread_mutex_unlock(&ix->build);
}

typedef json_t *(*request_fn)(srch_engine *e, const void *arg, srch_status *st,
                              char *err);

static json_t *run_request(srch_engine *e, request_fn fn, const void *arg,
                           srch_status *st, char *err)
{
    if (request_fault(err)) {
        *st = SRCH_INTERNAL;
        return NULL;
    }
    return fn(e, arg, st, err);
}

static json_t *with_snapshot(srch_engine *e, request_fn fn, const void *arg,
                             srch_status *st, char *err)
{
    e->sunk = 0;
    snapshot *s = ix_acquire(e->ix);
    xap_db *db = snap_borrow(s, e->ix->path);
    json_t *res = NULL;
    if (db) {
        e->snap = s;
        e->db = db;
        res = run_request(e, fn, arg, st, err);
        int again = !res && read_again(e, s, *st, err);
        if (again)
            xap_db_close(db);      /* its revision may be gone */
        else
            snap_give_back(s, db);
        e->snap = NULL;
        e->db = NULL;
        if (!again) {
            snap_release(s);
            return res;
        }
    }
    snap_release(s);
    for (int i = 0; i < MODIFIED_RETRIES; i++) {
        snapshot *tmp = snap_build(e->ix->path, 0, err);
        if (!tmp) {
            *st = SRCH_INTERNAL;
            return NULL;
        }
        e->snap = tmp;
        e->db = tmp->pool[0];
        if (i == MODIFIED_RETRIES - 1)      /* the last: name the shard */
            xap_db_name_every_error(e->db);
        res = run_request(e, fn, arg, st, err);
        int again = !res && read_again(e, tmp, *st, err);
        snap_release(tmp);
        e->snap = NULL;
        e->db = NULL;
        if (!again) {
            catch_up(e->ix);
            return res;
        }
    }
    /* Changed on every attempt, each from a state just opened: damage
     * that reads as a writer's change. */
    char tmp[PS_ERRLEN];
    snprintf(tmp, sizeof tmp, "%s (on %d fresh openings: the index is "
             "damaged; policy-index --check)", err, MODIFIED_RETRIES + 1);
    memcpy(err, tmp, PS_ERRLEN);
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
    double **w;               /* per shard, each hit's BM25 factor */
    double idf;               /* which the factors are multiplied by */
    dset all;                 /* merged; all.ids NULL until asked for */
    int partial;              /* only the passages of a keep set listed */
    ncache *nc;               /* with ent: the passages as kept there */
    const ncache_ent *ent;
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
    strlist fterms[6];
    int fempty[6];            /* a filter that names nothing indexed */
    int has_range;
    char range_lo[NUM_UNIT_MAX + 9], range_hi[NUM_UNIT_MAX + 9];
    size_t range_len;
    uint32_t date_lo, date_hi;   /* date codes; 0: no date filter */
    int sort;                 /* 0 relevance, 1 newest first, -1 oldest */
    int group;                /* one hit per document */
    char number[128];         /* the query as a document number, or "" */
    double deadline;          /* ps_now() past which matching stops; 0 */
    double budget_ms;         /* what it allowed */
    int timed_out;
    char number_parts[2][96]; /* its code and serial, normalized */
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
        if (r->ent)
            ncache_release(r->nc, r->ent);
    }
    for (int k = 0; k < 6; k++)
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
    double **w;               /* per shard: each hit's BM25 term factor */
    const uint64_t *keep;     /* a bit per database docid to keep, or NULL */
    size_t nkeep, nbits;
    size_t *df;               /* per shard: passages containing it */
    int *rc;
    char *errs;               /* PS_ERRLEN per shard */
} match_job;

/* One shard's passages containing the string, and each one's BM25 factor
 * without the idf (tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen)), a
 * passage's own), which needs the whole index's count.  Shards are
 * separate databases: each is read by one thread at a time. */
static void match_shard(void *ctx, size_t k)
{
    match_job *m = ctx;
    fetch_ctx f = {m->e->db, k, NULL};
    const shard_info *si = &m->e->snap->shards[k];
    gram_src src = shard_src(si, &f);
    /* Database docid (d - 1) * nshards + k + 1 is bit (d - 1) * nshards
     * + k + 1. */
    gram_keep keep = {m->keep, m->nbits, (unsigned)m->e->snap->nshards,
                      (unsigned)k + 1, m->nkeep};
    m->rc[k] = gram_match_in(m->s, m->n, &src,
                             (const unsigned (*)[2])si->del, si->ndel,
                             m->keep ? &keep : NULL, &m->h[k], &m->df[k],
                             m->errs + k * PS_ERRLEN);
    /* A chunk that decodes to passages the shard does not have is
     * damage, never a hit (nor an index into the snapshot's arrays). */
    const gram_hits *h = &m->h[k];
    for (size_t i = 0; m->rc[k] == 0 && i < h->n; i++)
        if (h->docs[i] == 0 || h->docs[i] > si->last ||
            (i && h->docs[i] <= h->docs[i - 1])) {
            snprintf(m->errs + k * PS_ERRLEN, PS_ERRLEN, "the character index "
                     "lists passage %u, which this shard does not hold (its "
                     "last is %u): the index is damaged (policy-index --check)",
                     h->docs[i], si->last);
            m->rc[k] = -1;
        }
    if (m->rc[k] < 0)
        return;
    double avg = m->e->snap->avglen, inv = 1.0 / avg;
    double *w = ps_xmalloc((h->n ? h->n : 1) * sizeof(double));
    for (size_t i = 0; i < h->n; i++) {
        unsigned d = h->docs[i];
        double len = d < si->nlen && si->len[d] ? si->len[d] : avg;
        double tf = h->tf[i];
        w[i] = tf * (BM25_K1 + 1) /
               (tf + BM25_K1 * (1 - BM25_B + BM25_B * len * inv));
    }
    m->w[k] = w;
}

static void merge_shards(needle_res *r);

/* A string's passages as kept: the list, and for a list dense in the
 * docids its bits, so that narrowing it costs the narrowing set's size. */
typedef struct kept_list {
    dset d;
    dset_bits b;
} kept_list;

static void free_kept_list(void *v)
{
    kept_list *k = v;
    dset_free(&k->d);
    dset_bits_free(&k->b);
    free(k);
}

/* Keeps d (the kept list's from here on) under s[0..n). */
static void keep_list(ncache *nc, const char *s, size_t n, dset *d)
{
    kept_list *k = ps_xcalloc(1, sizeof *k);
    k->d = *d;
    size_t bytes = d->n * (sizeof(unsigned) + sizeof(double));
    if (d->n >= 1024 && d->n >= d->ids[d->n - 1] / 64) {
        dset_bits_build(d, &k->b);
        bytes += k->b.words * (sizeof(uint64_t) + sizeof(uint32_t));
    }
    ncache_put(nc, s, n, k, bytes);
}

/* *out = the kept list FILTER keep. */
static void narrow_kept(const kept_list *k, const dset *keep, dset *out)
{
    if (k->b.bits && keep->n < k->d.n)
        dset_filter_by(&k->d, &k->b, keep, out);
    else
        dset_filter(&k->d, keep, out);
}

static void free_kept_json(void *v)
{
    json_decref(v);
}

/* One of the snapshot's read caches, made at first use with its share
 * of the cap; NULL without one. */
static ncache *snap_cache(srch_engine *e, ncache *_Atomic *at, size_t share,
                          void (*free_v)(void *))
{
    size_t cap = atomic_load(&e->ix->ncache_cap) / 4 * share;
    ncache *c = atomic_load(at);
    if (c || !cap)
        return c;
    pthread_mutex_lock(&e->snap->lock);
    c = atomic_load(at);
    if (!c) {
        c = ncache_create(cap, free_v);
        atomic_store(at, c);
    }
    pthread_mutex_unlock(&e->snap->lock);
    return c;
}

/* Strings' passage lists: three quarters of the cap. */
static ncache *snap_ncache(srch_engine *e)
{
    return snap_cache(e, &e->snap->nc, 3, free_kept_list);
}

/* Parsed records: a quarter. */
static ncache *snap_rcache(srch_engine *e)
{
    return snap_cache(e, &e->snap->rc, 1, free_kept_json);
}

static needle_res *new_needle(build *b, const char *s, size_t n)
{
    if (b->nnr == b->capnr) {
        b->capnr = b->capnr ? 2 * b->capnr : 8;
        b->nr = ps_xrealloc(b->nr, b->capnr * sizeof(needle_res));
    }
    needle_res *r = &b->nr[b->nnr++];
    memset(r, 0, sizeof *r);
    r->text = ps_xstrndup(s, n);
    r->len = n;
    return r;
}

/* Every passage that contains normalized s[0..n), ranked by BM25 (see the
 * file comment); computed once per query.  With keep (database docids),
 * the caller needs no passage outside it: a string of one or two
 * characters then lists only those (its weight still counts them all),
 * unless keep holds most of the index.  Those are read whole anyway, but
 * the others are not counted, weighed, merged or filtered afterwards
 * ("发展" in 工业: 187,000 passages, 60,000 kept).  NULL with err set when
 * the index cannot be read. */
static needle_res *needle_get(srch_engine *e, build *b, const char *s,
                              size_t n, const dset *keep, char *err)
{
    for (size_t i = 0; i < b->nnr; i++)
        if (!b->nr[i].partial && b->nr[i].len == n &&
            memcmp(b->nr[i].text, s, n) == 0)
            return &b->nr[i];
    if (b->deadline && ps_now() > b->deadline) {
        b->timed_out = 1;
        snprintf(err, PS_ERRLEN, "the query needs more than %.0f ms: quote a "
                 "phrase, or use fewer and longer words", b->budget_ms);
        return NULL;
    }
    /* A keep set worth listing only its passages: most of the index is
     * not worth the merge. */
    int narrow = keep && (double)keep->n * 4 < (double)e->snap->doccount * 3;
    ncache *nc = snap_ncache(e);
    const ncache_ent *ce = nc ? ncache_get(nc, s, n) : NULL;
    if (ce) {
        needle_res *r = new_needle(b, s, n);
        r->nc = nc;
        r->ent = ce;
        if (narrow) {
            narrow_kept(ce->v, keep, &r->all);
            r->partial = 1;
        }
        return r;
    }
    size_t ns = e->snap->nshards;
    gram_hits *h = ps_xcalloc(ns ? ns : 1, sizeof(gram_hits));
    double **w = ps_xcalloc(ns ? ns : 1, sizeof(double *));
    /* Each shard's passages at once (one thread each from the pool), then
     * weights from the statistics of the whole index. */
    match_job mj = {e, s, n, h, w, NULL, 0, 0,
                    ps_xcalloc(ns ? ns : 1, sizeof(size_t)),
                    ps_xcalloc(ns ? ns : 1, sizeof(int)),
                    ps_xcalloc(ns ? ns : 1, PS_ERRLEN)};
    if (narrow && ns && !nc && ps_utf8_count(s, n) <= 2) {
        mj.nbits = keep->n ? (size_t)keep->ids[keep->n - 1] + 1 : 1;
        mj.nkeep = keep->n;
        uint64_t *bits = ps_xcalloc(mj.nbits / 64 + 1, sizeof(uint64_t));
        for (size_t i = 0; i < keep->n; i++)
            bits[keep->ids[i] / 64] |= (uint64_t)1 << (keep->ids[i] % 64);
        mj.keep = bits;
    }
    pool_for(ns, match_shard, &mj);
    size_t df = 0;
    int failed = -1;
    for (size_t k = 0; k < ns; k++) {
        if (mj.rc[k] < 0 && failed < 0)
            failed = (int)k;
        df += mj.df[k];
    }
    int partial = mj.keep != NULL;
    free((void *)mj.keep);
    free(mj.df);
    if (failed >= 0) {
        memcpy(err, mj.errs + (size_t)failed * PS_ERRLEN, PS_ERRLEN);
        xap_name_shard(err, (size_t)failed);
        for (size_t j = 0; j < ns; j++) {
            gram_hits_free(&h[j]);
            free(w[j]);
        }
        free(h);
        free(w);
        free(mj.rc);
        free(mj.errs);
        return NULL;
    }
    free(mj.rc);
    free(mj.errs);
    double N = e->snap->doccount;
    if (N < (double)df)
        N = (double)df;
    needle_res *r = new_needle(b, s, n);
    r->nshards = ns;
    r->h = h;
    r->w = w;
    r->idf = log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
    r->partial = partial;
    /* Read whole (with a cache, keep is not used above), kept, then
     * narrowed for this query.  Every list is kept, short ones too: a
     * phrase of common characters found in a few passages may have cost
     * reading long lists of its bigrams. */
    if (nc) {
        merge_shards(r);
        dset kept;
        if (narrow) {
            kept = r->all;
            dset_filter(&kept, keep, &r->all);
            r->partial = 1;
        } else {
            dset_copy(&r->all, &kept);
        }
        keep_list(nc, s, n, &kept);
    }
    return r;
}

/* The passages containing s, as database docids (shard k's local docid l is
 * (l - 1) * nshards + k + 1), ascending. */
static dset *contains_set(srch_engine *e, build *b, const char *s, size_t n,
                          const dset *keep, char *err)
{
    needle_res *r = needle_get(e, b, s, n, keep, err);
    if (!r)
        return NULL;
    if (r->all.ids || r->all.n)
        return &r->all;
    if (r->ent) {
        dset_copy(&((const kept_list *)r->ent->v)->d, &r->all);
        return &r->all;
    }
    merge_shards(r);
    return &r->all;
}

/* r->all from its shards' hits (see contains_set). */
static void merge_shards(needle_res *r)
{
    size_t total = 0, ns = r->nshards;
    for (size_t k = 0; k < ns; k++)
        total += r->h[k].n;
    dset *d = &r->all;
    d->ids = ps_xmalloc((total ? total : 1) * sizeof(unsigned));
    d->w = ps_xmalloc((total ? total : 1) * sizeof(double));
    d->n = total;
    double idf = r->idf;
    if (ns == 1) {
        if (total)
            memcpy(d->ids, r->h[0].docs, total * sizeof(unsigned));
        for (size_t i = 0; i < total; i++)
            d->w[i] = idf * r->w[0][i];
        return;
    }
    if (ns == 2) {
        /* Two shards: database docids 2l - 1 (shard 0) and 2l (shard 1)
         * for local docid l, so one comparison of locals merges them. */
        const unsigned *a = r->h[0].docs, *c = r->h[1].docs;
        const double *wa = r->w[0], *wc = r->w[1];
        size_t na = r->h[0].n, nc = r->h[1].n, i = 0, j = 0, out = 0;
        while (i < na && j < nc) {
            if (a[i] <= c[j]) {
                d->ids[out] = 2 * a[i] - 1;
                d->w[out++] = idf * wa[i++];
            } else {
                d->ids[out] = 2 * c[j];
                d->w[out++] = idf * wc[j++];
            }
        }
        for (; i < na; i++) {
            d->ids[out] = 2 * a[i] - 1;
            d->w[out++] = idf * wa[i];
        }
        for (; j < nc; j++) {
            d->ids[out] = 2 * c[j];
            d->w[out++] = idf * wc[j];
        }
        return;
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
        d->w[out] = idf * r->w[k][pos[k]];
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
}

/* The passages containing s, as contains_set gives them, made the
 * caller's (*out): the first set of an item is kept, not copied.  Asked
 * for again, the needle's set is merged anew from its shards' hits.
 * *within: 1 when only passages of keep are listed. */
static int contains_take(srch_engine *e, build *b, const char *s, size_t n,
                         const dset *keep, dset *out, int *within, char *err)
{
    dset *x = contains_set(e, b, s, n, keep, err);
    if (!x)
        return -1;
    /* contains_set's needle is the last one made or found; a narrowed
     * one is never found again (see needle_get), so it is the last. */
    const needle_res *r = &b->nr[b->nnr - 1];
    *within = keep && &r->all == x && r->partial;
    *out = *x;
    memset(x, 0, sizeof *x);
    return 0;
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

static int has_han(const char *s, size_t n)
{
    for (size_t i = 0; i < n;)
        if (ps_is_han(ps_utf8_next(s, n, &i)))
            return 1;
    return 0;
}

static int item_plan(srch_engine *e, build *b, const qry_item *it, plan *p,
                     char *err)
{
    p->nmust = 0;
    p->whole = NULL;
    const char *t = it->text;
    size_t tl = strlen(t);
    wordlist w;
    w.n = 0;
    if (!it->negated && !it->quoted) {   /* words: only unquoted items */
        tok_state *tok = ana_tokenizer(e->ana, err);
        if (!tok || tok_run(tok, t, tl, collect, &w, err) < 0)
            return -1;
    }
    size_t multi = 0;
    for (size_t k = 0; k < w.n; k++)
        if (ps_utf8_count(t + w.s[k], w.e[k] - w.s[k]) > 1)
            multi++;
    if (!it->negated)
        add_needle(b, t);
    /* One word with punctuation around it (防沙治沙。, 《防沙治沙》, pasted
     * from a document) asks for the word: the punctuation is not words.
     * A word of other scripts keeps its symbols (C++, 1.5%). */
    int lone = w.n == 1 && !(w.s[0] == 0 && w.e[0] == tl) &&
               has_han(t + w.s[0], w.e[0] - w.s[0]);
    if (it->negated || it->quoted || (w.n <= 1 && !lone) ||
        (w.s[0] == 0 && w.e[0] == tl)) {
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
                 "bad %s value '%.*s': expected a number like 100万, 1.5亿, "
                 "2e6 or 12.5", what, ps_clip(s, 60), s);
        return -1;
    }
    return 0;
}

/* A region as a user may write it (内蒙古, 內蒙古, " 赤峰市", 赤峰市/红山区)
 * in the form the gazetteer knows: folded (Traditional to Simplified,
 * full-width to ASCII), without spaces or separators between the parts
 * of a path.  -1 when it is not text. */
static int region_key(const char *s, ps_buf *out)
{
    char err[PS_ERRLEN];
    ps_buf f;
    ps_buf_init(&f);
    size_t n = strlen(s);
    if (n > 1024 || norm_fold(s, n, &f, err) < 0) {
        ps_buf_free(&f);
        return -1;
    }
    for (size_t i = 0; i < f.len;) {
        size_t at = i;
        uint32_t cp = ps_utf8_next(f.data, f.len, &i);
        if (ps_is_space(cp) || cp == 0x3000 || cp == '/' || cp == '\\' ||
            cp == '-' || cp == '>' || cp == '|' || cp == 0xB7 || cp == 0x30FB)
            continue;
        ps_buf_add(out, f.data + at, i - at);
    }
    ps_buf_add(out, "", 0);
    ps_buf_free(&f);
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
        ps_buf key;
        ps_buf_init(&key);
        size_t n = region_key(r->regions[i], &key) < 0 ? 0
                   : reg_lookup_path(e->res->gaz, key.data, key.len, c, 8);
        ps_buf_free(&key);
        if (!n) {
            *st = SRCH_BAD_REQUEST;
            snprintf(err, PS_ERRLEN, "unknown region '%.*s'",
                     ps_clip(r->regions[i], 80), r->regions[i]);
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
            snprintf(err, PS_ERRLEN, "unknown sector '%.*s'",
                     ps_clip(r->sectors[i], 80), r->sectors[i]);
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
        snprintf(err, PS_ERRLEN, "bad unit '%.*s'", ps_clip(r->unit, 60),
                 r->unit);
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

typedef struct agency_ctx {
    const char *canon, *raw;  /* what the user typed: canonical and as is */
    strlist *out;
    int exact;
} agency_ctx;

static void agency_cb(void *ctx, const char *t, size_t n)
{
    agency_ctx *c = ctx;
    if (n < 2 || t[0] != PFX_AGENCY[0] || c->out->n >= 4096)
        return;
    char *name = ps_xstrndup(t + 1, n - 1);
    if (strcmp(name, c->canon) == 0) {
        c->exact = 1;
    } else if (strstr(name, c->canon) || (*c->raw && strstr(name, c->raw))) {
        char term[512];
        snprintf(term, sizeof term, "%.*s", (int)n, t);
        strlist_add(c->out, term);
    }
    free(name);
}

/* The agency terms a filter value stands for: the agency of that name
 * (canonical: XX市政府 is XX市人民政府), else every agency whose name
 * contains it (赤峰市 -> 赤峰市人民政府, 赤峰市生态环境局, ...). */
static int agency_terms(srch_engine *e, const char *v, strlist *out, char *err)
{
    char canon[512], raw[512];
    size_t k = 0;
    for (const char *p = v; *p && k < sizeof raw - 1; p++)
        if (*p != ' ' && *p != '\t')
            raw[k++] = *p;
    raw[k] = '\0';
    dm_agency(raw, canon, sizeof canon);
    if (!*canon)
        return 0;
    strlist found = {NULL, 0};
    agency_ctx c = {canon, raw, &found, 0};
    if (e->snap->fx) {
        for (size_t i = 0; i < xap_facets_nterms(e->snap->fx); i++) {
            const char *t = xap_facets_term(e->snap->fx, i);
            agency_cb(&c, t, strlen(t));
        }
    } else if (xap_db_terms(e->db, PFX_AGENCY, agency_cb, &c, err) != XAP_OK) {
        strlist_free(&found);
        return -1;
    }
    char term[520];
    if (c.exact) {
        snprintf(term, sizeof term, PFX_AGENCY "%s", canon);
        strlist_add(out, term);
    } else {
        for (size_t i = 0; i < found.n; i++)
            strlist_add(out, found.v[i]);
    }
    strlist_free(&found);
    return 0;
}

static int parse_date(const char *s, const char *what, uint32_t *code,
                      char *err)
{
    *code = date_code(s, strlen(s));
    if (!*code) {
        snprintf(err, PS_ERRLEN, "bad %s date '%.*s': expected YYYY, YYYY-MM "
                 "or YYYY-MM-DD, a day of the calendar", what, ps_clip(s, 40), s);
        return -1;
    }
    return 0;
}

#define MAX_DOC_FILTERS 100

/* Date range, agencies, types, sort and grouping, checked and kept in
 * b.  0, or -1 with *st and err set. */
static int doc_filter_parse(srch_engine *e, build *b, const srch_request *r,
                            srch_status *st, char *err)
{
    *st = SRCH_BAD_REQUEST;
    if (r->nagencies > MAX_DOC_FILTERS || r->ntypes > MAX_DOC_FILTERS) {
        snprintf(err, PS_ERRLEN, "too many agency or type values (at most %d "
                 "each)", MAX_DOC_FILTERS);
        return -1;
    }
    uint32_t lo = 0, hi = 0;
    if (r->from && *r->from && parse_date(r->from, "from", &lo, err) < 0)
        return -1;
    if (r->to && *r->to && parse_date(r->to, "to", &hi, err) < 0)
        return -1;
    if (lo || hi) {
        b->date_lo = lo ? lo : 1;
        b->date_hi = hi ? date_end(hi) : UINT32_MAX;
        if (b->date_lo > b->date_hi) {
            snprintf(err, PS_ERRLEN, "from (%.*s) is after to (%.*s)",
                     ps_clip(r->from, 12), r->from, ps_clip(r->to, 12), r->to);
            return -1;
        }
    }
    for (size_t i = 0; i < r->nagencies; i++) {
        if (!r->agencies[i] || !*r->agencies[i] ||
            !ps_utf8_valid(r->agencies[i], strlen(r->agencies[i])) ||
            strlen(r->agencies[i]) > 300) {
            snprintf(err, PS_ERRLEN, "bad agency value: expected an agency's "
                     "name (UTF-8, at most 300 bytes)");
            return -1;
        }
        if (agency_terms(e, r->agencies[i], &b->fterms[P_AGENCY], err) < 0) {
            *st = SRCH_INTERNAL;
            return -1;
        }
    }
    b->fempty[P_AGENCY] = r->nagencies > 0;
    char term[256];
    for (size_t i = 0; i < r->ntypes; i++) {
        if (!r->types[i] || !dm_type_known(r->types[i])) {
            const char *t = r->types[i] ? r->types[i] : "";
            snprintf(err, PS_ERRLEN, "unknown document type '%.*s': expected "
                     "通知, 通报, 意见, 决定, 决议, 命令, 公告, 通告, 报告, 请示, "
                     "批复, 议案, 函, 纪要, 方案, 办法, 规定, 规划, 细则, 措施, 要点, "
                     "新闻 or 其他", ps_clip(t, 40), t);
            return -1;
        }
        snprintf(term, sizeof term, PFX_TYPE "%s", r->types[i]);
        strlist_add(&b->fterms[P_TYPE], term);
    }
    if (!r->sort || !*r->sort || strcmp(r->sort, "relevance") == 0) {
        b->sort = 0;
    } else if (strcmp(r->sort, "date") == 0) {
        b->sort = 1;
    } else if (strcmp(r->sort, "-date") == 0) {
        b->sort = -1;
    } else {
        snprintf(err, PS_ERRLEN, "unknown sort '%.*s': expected relevance, "
                 "date (newest first) or -date (oldest first)",
                 ps_clip(r->sort, 40), r->sort);
        return -1;
    }
    if (!r->group || !*r->group || strcmp(r->group, "passage") == 0) {
        b->group = 0;
    } else if (strcmp(r->group, "doc") == 0) {
        b->group = 1;
    } else {
        snprintf(err, PS_ERRLEN, "unknown group '%.*s': expected doc or "
                 "passage", ps_clip(r->group, 40), r->group);
        return -1;
    }
    *st = SRCH_OK;
    return 0;
}

/* When the whole query is a document number (any brackets, 第, leading
 * zeros; quoted or not), b learns it, its code and its serial. */
static void number_parse(build *b, const char *query, char *err)
{
    char q[256];
    size_t k = 0;
    for (const char *p = query ? query : ""; *p && k < sizeof q - 1; p++)
        if (*p != '"' && *p != ' ')
            q[k++] = *p;
    q[k] = '\0';
    if (!k || dm_number(q, b->number, sizeof b->number) != 1) {
        b->number[0] = '\0';
        return;
    }
    /* 内政发〔2023〕12号: code 内政发, serial 12号; 2026年第25号: 25号 */
    const char *open = strstr(b->number, "〔"), *close = strstr(b->number, "〕");
    char code[96] = "", serial[96] = "";
    if (open && close) {
        snprintf(code, sizeof code, "%.*s", (int)(open - b->number), b->number);
        snprintf(serial, sizeof serial, "%s", close + strlen("〕"));
    } else {
        const char *di = strstr(b->number, "第");
        snprintf(serial, sizeof serial, "%s", di ? di + strlen("第") : b->number);
    }
    const char *parts[2] = {code, serial};
    for (int i = 0; i < 2; i++) {
        ps_buf n;
        ps_buf_init(&n);
        if (*parts[i] && norm_query(parts[i], strlen(parts[i]), &n, err) == 0 &&
            n.len < sizeof b->number_parts[i])
            memcpy(b->number_parts[i], n.data, n.len + 1);
        ps_buf_free(&n);
        if (*b->number_parts[i])
            add_needle(b, keep_str(b, ps_xstrdup(b->number_parts[i])));
    }
}

/* Per-member counts of one part of the facets (see PARTS). */
typedef struct tally {
    strset *idx;
    char **names;
    unsigned *counts;
    uint32_t *stamp;          /* the last document counted, + 1 */
    size_t n, cap;
} tally;

/* The index of member s[0..n) in t, added when new. */
static int tally_find(tally *t, const char *s, size_t n)
{
    int k = strset_get(t->idx, s, n);
    if (k < 0) {
        k = (int)t->n++;
        if (t->n > t->cap) {
            t->cap = t->cap ? 2 * t->cap : 16;
            t->names = ps_xrealloc(t->names, t->cap * sizeof(char *));
            t->counts = ps_xrealloc(t->counts, t->cap * sizeof(unsigned));
            t->stamp = ps_xrealloc(t->stamp, t->cap * sizeof(uint32_t));
        }
        t->names[k] = ps_xstrndup(s, n);
        t->counts[k] = 0;
        t->stamp[k] = 0;
        strset_put(t->idx, s, n, k);
    }
    return k;
}

/* Counts member k count times; with stamp (a document + 1), once per
 * document (its passages must come together). */
static void tally_add(tally *t, int k, unsigned count, uint32_t stamp)
{
    if (stamp && t->stamp[k] == stamp)
        return;
    t->stamp[k] = stamp;
    t->counts[k] += count;
}

static void tally_bump(tally *t, const char *s, size_t n, unsigned count,
                       uint32_t stamp)
{
    tally_add(t, tally_find(t, s, n), count, stamp);
}

static int part_of(char prefix)
{
    for (int p = 0; p < NPARTS; p++)
        if (PARTS[p].prefix[0] == prefix)
            return p;
    return -1;
}

/* Counts a facet-index term (its prefix says the part). */
static void tally_term(tally tl[NPARTS], const char *term, size_t n,
                       unsigned count, uint32_t stamp)
{
    int part = n ? part_of(term[0]) : -1;
    if (part >= 0)
        tally_bump(&tl[part], term + 1, n - 1, count, stamp);
}

/* One part of the previous value tallied and its members' indices: the
 * passages of a document mostly repeat their agencies, type, year and
 * regions, which then cost a comparison, not a lookup per member. */
typedef struct part_memo {
    char s[256];
    int k[32];
    unsigned short n;
    unsigned char nk, ok;
} part_memo;

/* Counts every member of a SLOT_FACETS value (regions FACET_SEP sectors
 * FACET_SEP units, each a comma-separated list; from format 6 FACET_SEP
 * agencies FACET_SEP type FACET_SEP year, members apart by
 * FACET_MEMBER).  Returns the parts the value has: a passage with fewer
 * than FACET_PARTS has its agencies, type and year in its terms only.
 * memo (FACET_PARTS of them, zeroed before the first value) may be NULL. */
static int tally_value(tally tl[NPARTS], const char *v, size_t len,
                       unsigned count, uint32_t stamp, part_memo *memo)
{
    static const int part_of_slot[FACET_PARTS] = {P_REGION, P_SECTOR, P_UNIT,
                                                  P_AGENCY, P_TYPE, P_YEAR};
    int part = 0;
    for (; part < FACET_PARTS; part++) {
        const char *end = memchr(v, FACET_SEP, len);
        size_t pl = end ? (size_t)(end - v) : len;
        tally *t = &tl[part_of_slot[part]];
        part_memo *m = memo ? &memo[part] : NULL;
        if (m && m->ok && m->n == pl && memcmp(m->s, v, pl) == 0) {
            for (unsigned j = 0; j < m->nk; j++)
                tally_add(t, m->k[j], count, stamp);
        } else {
            if (m) {
                m->ok = pl <= sizeof m->s;
                m->n = (unsigned short)pl;
                m->nk = 0;
                if (m->ok)
                    memcpy(m->s, v, pl);
            }
            char sep = part < 3 ? ',' : FACET_MEMBER;
            for (size_t s = 0; s < pl;) {
                const char *sp = memchr(v + s, sep, pl - s);
                size_t e = sp ? (size_t)(sp - v) : pl;
                if (e > s) {
                    int k = tally_find(t, v + s, e - s);
                    tally_add(t, k, count, stamp);
                    if (m && m->ok) {
                        if (m->nk < sizeof m->k / sizeof m->k[0])
                            m->k[m->nk++] = k;
                        else
                            m->ok = 0;
                    }
                }
                s = e + 1;
            }
        }
        if (!end)
            break;
        len -= pl + 1;
        v = end + 1;
    }
    return part + 1;
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

/* qsort_r comparator: by name, descending (years, newest first). */
static int by_name_desc(const void *a, const void *b, void *ctx)
{
    const tally *t = ctx;
    return strcmp(t->names[*(const int *)b], t->names[*(const int *)a]);
}

static json_t *tally_json(srch_engine *e, tally *t, int part)
{
    int *order = ps_xmalloc((t->n + 1) * sizeof(int));
    for (size_t i = 0; i < t->n; i++)
        order[i] = (int)i;
    qsort_r(order, t->n, sizeof(int), part == P_YEAR ? by_name_desc : by_count,
            t);
    json_t *a = json_array();
    for (size_t i = 0; i < t->n; i++) {
        int k = order[i];
        if (!t->counts[k])
            continue;
        json_t *o = json_object();
        if (part == P_REGION) {
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
    free(t->stamp);
}

/* A document's metadata for its hits: the "meta" of its record with the
 * file's format, in *out (NULL when the file said nothing of itself).
 * Read once per document and request (cache: doc -> meta, json null
 * when there is none).  Every indexed document has a record: none, or
 * one that does not parse, is damage (-1 with err naming the shard). */
static int doc_meta(srch_engine *e, json_t *cache, const char *doc,
                    unsigned did, json_t **out, char *err)
{
    json_t *m = json_object_get(cache, doc);
    *out = NULL;
    if (m) {
        *out = json_is_object(m) ? m : NULL;
        return 0;
    }
    /* Read for an earlier request: 'M' and the document id. */
    ncache *rcache = snap_rcache(e);
    size_t dl = strlen(doc);
    char *ck = rcache ? ps_xmalloc(dl + 1) : NULL;
    if (ck) {
        ck[0] = 'M';
        memcpy(ck + 1, doc, dl);
        const ncache_ent *ce = ncache_get(rcache, ck, dl + 1);
        if (ce) {
            m = ce->v;
            json_object_set(cache, doc, m);
            *out = json_is_object(m) ? m : NULL;
            ncache_release(rcache, ce);
            free(ck);
            return 0;
        }
    }
    size_t shard;
    unsigned local;
    ps_local_docid(did, e->snap->nshards, &shard, &local);
    ps_buf key;
    ps_buf_init(&key);
    ps_buf_printf(&key, META_DOC "%s", doc);
    char *v = NULL;
    size_t vl = 0;
    int rc = 0;
    if (xap_db_shard_metadata(e->db, shard, key.data, key.len, &v, &vl, err) !=
        XAP_OK) {
        rc = -1;
    } else {
        json_error_t je;
        json_t *rec = vl ? json_loadb(v, vl, 0, &je) : NULL;
        if (!json_is_object(rec)) {
            snprintf(err, PS_ERRLEN, "shard %zu: passage %u matches but the "
                     "record of its document is missing or unreadable: the "
                     "index is damaged (policy-index --check)", shard, local);
            rc = -1;
        }
        json_t *dm = json_object_get(rec, "meta");
        if (!rc && json_is_object(dm)) {
            *out = json_deep_copy(dm);
            json_t *f = json_object_get(rec, "format");
            if (f)
                json_object_set(*out, "format", f);
        }
        json_decref(rec);
    }
    free(v);
    ps_buf_free(&key);
    if (!rc) {
        json_object_set_new(cache, doc, *out ? *out : json_null());
        if (ck)
            ncache_put(rcache, ck, dl + 1, json_incref(json_object_get(cache, doc)),
                       vl);
    }
    free(ck);
    return rc;
}

/* One hit as the contract's JSON object. */
static json_t *hit_json(srch_engine *e, json_t *d, unsigned did,
                        double weight, const build *b, json_t *metas,
                        char *err)
{
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
        json_object_set_new(o, rest[i], v ? json_incref(v) : json_array());
    }
    const char *doc = json_string_value(json_object_get(d, "doc"));
    json_t *m = NULL;
    if (doc && metas && doc_meta(e, metas, doc, did, &m, err) < 0) {
        json_decref(o);
        return NULL;
    }
    if (m) {
        json_object_set(o, "meta", m);
        /* The document's title as it reads it (not a red header's
         * "XX文件" line or the file name). */
        json_t *t = json_object_get(m, "title");
        if (json_is_string(t) && *json_string_value(t))
            json_object_set(o, "title", t);
    }
    return o;
}

/* Passage did's stored record, parsed (the caller's reference), or NULL
 * (with err set when it could not be read).  Kept for later requests:
 * 'R' and the docid. */
static json_t *passage_record(srch_engine *e, unsigned did, char *err)
{
    ncache *rcache = snap_rcache(e);
    char key[1 + sizeof did];
    key[0] = 'R';
    memcpy(key + 1, &did, sizeof did);
    const ncache_ent *ce = rcache ? ncache_get(rcache, key, sizeof key) : NULL;
    if (ce) {
        json_t *d = json_incref(ce->v);
        ncache_release(rcache, ce);
        return d;
    }
    char *data;
    size_t len;
    if (xap_db_data(e->db, did, META_DATA, &data, &len, err) != XAP_OK)
        return NULL;
    json_error_t je;
    json_t *d = json_loadb(data, len, 0, &je);
    free(data);
    if (d && rcache)
        ncache_put(rcache, key, sizeof key, json_incref(d), 3 * len);
    return d;
}

/* How a set's passages are ordered: by date when sorting by date
 * (undated last), then by tier (first those a document number or the
 * whole unquoted string found), by weight, and equal ones by document
 * id and passage ordinal, the same in any build of the same files
 * whatever the shards. */
typedef struct ranked {
    const dset *d;
    const uint32_t *order;    /* database docid -> place (snapshot), or */
    uint32_t *iplace;         /* index -> place, read for this request */
    size_t norder;
    const unsigned char *tier;   /* index -> tier, 0 first; or NULL */
    const uint32_t *date;     /* index -> date code, when sorting by date */
    int sort;                 /* 0 relevance, 1 newest first, -1 oldest */
    int tied;                 /* set when two equal passages were compared */
} ranked;

static uint32_t place(const ranked *r, size_t i)
{
    if (r->iplace)
        return r->iplace[i];
    unsigned id = r->d->ids[i];
    return r->order && id < r->norder ? r->order[id] : UINT32_MAX;
}

/* a against b on all but the order of equals: -1 before, 1 after, 0. */
static int primary(const ranked *r, size_t a, size_t b)
{
    if (r->sort) {
        uint32_t x = r->date[a], y = r->date[b];
        if (x != y) {
            if (!x || !y)
                return x ? -1 : 1;
            return (r->sort > 0 ? x > y : x < y) ? -1 : 1;
        }
    }
    if (r->tier && r->tier[a] != r->tier[b])
        return r->tier[a] < r->tier[b] ? -1 : 1;
    const dset *d = r->d;
    if (d->w[a] != d->w[b])
        return d->w[a] > d->w[b] ? -1 : 1;
    return 0;
}

static int ranks_before(ranked *r, size_t a, size_t b)
{
    int c = primary(r, a, b);
    if (c)
        return c < 0;
    r->tied = 1;
    uint32_t x = place(r, a), y = place(r, b);
    if (x != y)
        return x < y;
    return r->d->ids[a] < r->d->ids[b];
}

static int by_rank(const void *x, const void *y, void *ctx)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return ranks_before(ctx, a, b) ? -1 : ranks_before(ctx, b, a) ? 1 : 0;
}

/* The k best of the set's passages cand[0..nc) (NULL: all of them), best
 * first, as indices into out[0..k). */
static size_t top_k(ranked *r, const size_t *cand, size_t nc, size_t k,
                    size_t *out)
{
    if (!cand)
        nc = r->d->n;
    if (k > nc)
        k = nc;
    if (k == 0)
        return 0;
#define CAND(j) (cand ? cand[j] : (j))
    if (k * 8 >= nc) {
        size_t *all = ps_xmalloc(nc * sizeof(size_t));
        for (size_t j = 0; j < nc; j++)
            all[j] = CAND(j);
        qsort_r(all, nc, sizeof(size_t), by_rank, (void *)r);
        memcpy(out, all, k * sizeof(size_t));
        free(all);
        return k;
    }
    /* A heap of the k best so far, the worst of them at its root.  Most
     * candidates weigh less than the root when ranked by weight alone:
     * they are passed over with one comparison. */
    size_t n = 0;
    const double *w = r->d->w;
    int by_weight = !r->sort && !r->tier;
    for (size_t j = 0; j < nc; j++) {
        size_t i = CAND(j);
        if (n == k && ((by_weight && w[i] < w[out[0]]) ||
                       !ranks_before(r, i, out[0])))
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
#undef CAND
    qsort_r(out, n, sizeof(size_t), by_rank, (void *)r);
    return n;
}

static int by_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

typedef struct keyed {
    size_t i;                 /* index in the set */
    char *key;                /* SLOT_ORDER value: document id, NUL, BE32 */
    size_t len;
} keyed;

static void keyed_cb(void *ctx, size_t i, const char *v, size_t n)
{
    keyed *t = ctx;
    t[i].key = ps_xmalloc(n ? n : 1);
    memcpy(t[i].key, v, n);
    t[i].len = n;
}

static int by_key(const void *x, const void *y)
{
    const keyed *a = x, *b = y;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = m ? memcmp(a->key, b->key, m) : 0;
    if (c || a->len != b->len)
        return c ? c : a->len < b->len ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* Reads the document and passage order of the set's passages sub[0..ns)
 * (ascending; NULL: all): iplace[i], their place among them, and, with
 * doc, doc[i]: their document's number among theirs, in document id
 * order (*ndocs of them; a passage without a key is a document alone). */
static int read_places(srch_engine *e, const dset *d, const size_t *sub,
                       size_t ns, uint32_t *iplace, uint32_t *doc,
                       size_t *ndocs, char *err)
{
    if (!sub)
        ns = d->n;
    keyed *t = ps_xcalloc(ns ? ns : 1, sizeof(keyed));
    unsigned *ids = ps_xmalloc((ns ? ns : 1) * sizeof(unsigned));
    for (size_t j = 0; j < ns; j++) {
        t[j].i = sub ? sub[j] : j;
        ids[j] = d->ids[t[j].i];
    }
    int rc = xap_db_values(e->db, SLOT_ORDER, ids, ns, keyed_cb, t, err) ==
             XAP_OK ? 0 : -1;
    if (rc == 0) {
        qsort(t, ns, sizeof(keyed), by_key);
        uint32_t k = 0;
        for (size_t j = 0; j < ns; j++) {
            iplace[t[j].i] = (uint32_t)j;
            if (!doc)
                continue;
            if (j) {
                const keyed *a = &t[j - 1], *b = &t[j];
                const char *ea = memchr(a->key, '\0', a->len);
                const char *eb = memchr(b->key, '\0', b->len);
                size_t la = ea ? (size_t)(ea - a->key) : a->len;
                size_t lb = eb ? (size_t)(eb - b->key) : b->len;
                if (!a->len || !b->len || la != lb || memcmp(a->key, b->key, la))
                    k++;
            }
            doc[t[j].i] = k;
        }
        if (ndocs)
            *ndocs = ns ? k + 1 : 0;
    }
    for (size_t j = 0; j < ns; j++)
        free(t[j].key);
    free(t);
    free(ids);
    return rc;
}

/* out[0..got) holds the best of r's passages cand (NULL: all) with
 * equal passages by docid: redone with them by document and passage.
 * Only passages not ranked after the last one taken can change places. */
static int exact_ties(srch_engine *e, ranked *r, const size_t *cand,
                      size_t nc, size_t *out, size_t got, char *err)
{
    if (!cand)
        nc = r->d->n;
    size_t last = out[got - 1], ns = 0;
    size_t *sub = ps_xmalloc((nc ? nc : 1) * sizeof(size_t));
    for (size_t j = 0; j < nc; j++) {
        size_t i = cand ? cand[j] : j;
        if (primary(r, i, last) <= 0)
            sub[ns++] = i;
    }
    qsort(sub, ns, sizeof(size_t), by_size);
    r->iplace = ps_xmalloc((r->d->n ? r->d->n : 1) * sizeof(uint32_t));
    int rc = read_places(e, r->d, sub, ns, r->iplace, NULL, NULL, err);
    if (rc == 0)
        top_k(r, sub, ns, got, out);
    free(sub);
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

/* The passages with a mention in b's range, from the mentions sorted by
 * unit and value (a server's or a batch's snapshot): what a query of
 * filters alone starts from, instead of every passage filtered (at 200 MB,
 * 8,000 passages instead of 387,000 read and copied). */
static void range_docs(srch_engine *e, const build *b, dset *out)
{
    const vrange *vr = e->snap->vr;
    unsigned maxdoc = vrange_maxdoc(vr);
    size_t nb = (size_t)maxdoc / 8 + 1;
    unsigned char *in = ps_xcalloc(nb, 1);
    vrange_mark(vr, b->range_lo, b->range_hi, b->range_len, in);
    /* A passage has one mention in the range at least. */
    size_t cap = vrange_count(vr, b->range_lo, b->range_hi, b->range_len);
    out->ids = ps_xmalloc((cap ? cap : 1) * sizeof(unsigned));
    out->w = ps_xcalloc(cap ? cap : 1, sizeof(double));
    out->n = 0;
    for (size_t i = 0; i < nb; i++)
        for (unsigned m = in[i]; m && out->n < cap; m &= m - 1)
            out->ids[out->n++] = (unsigned)(i * 8) + (unsigned)__builtin_ctz(m);
    free(in);
}

/* Keeps the passages of base with a numeric mention in b's range. */
static int range_filter(srch_engine *e, const build *b, dset *base, char *err)
{
    char *ok = ps_xcalloc(base->n ? base->n : 1, 1);
    char term[NUM_UNIT_MAX + 2];
    snprintf(term, sizeof term, PFX_UNIT "%s", b->range_lo);
    const vrange *vr = e->snap->vr;
    if (vr && vrange_count(vr, b->range_lo, b->range_hi, b->range_len) <=
                  base->n) {
        /* Fewer mentions in the range than passages to keep: the
         * passages of those mentions, from the sorted index. */
        unsigned maxdoc = vrange_maxdoc(vr);
        unsigned char *in = ps_xcalloc(maxdoc / 8 + 1, 1);
        vrange_mark(vr, b->range_lo, b->range_hi, b->range_len, in);
        for (size_t i = 0; i < base->n; i++) {
            unsigned d = base->ids[i];
            ok[i] = (char)(d <= maxdoc && (in[d / 8] >> (d % 8) & 1));
        }
        free(in);
    } else if (e->snap->fx) {
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

/* ---- document dates ---- */

static void date_cb(void *ctx, size_t i, const char *v, size_t n)
{
    ((uint32_t *)ctx)[i] = date_code(v, n);
}

/* The date code of each passage of d (0: undated). */
static int passage_dates(srch_engine *e, const dset *d, uint32_t *out,
                         char *err)
{
    const snapshot *s = e->snap;
    if (s->date) {
        for (size_t i = 0; i < d->n; i++)
            out[i] = d->ids[i] < s->norder ? s->date[d->ids[i]] : 0;
        return 0;
    }
    memset(out, 0, d->n * sizeof(uint32_t));
    return xap_db_values(e->db, SLOT_DATE, d->ids, d->n, date_cb, out, err) ==
           XAP_OK ? 0 : -1;
}

/* doc[i]: the number of the document of each passage of r's set, below
 * *ndocs.  Without the snapshot's, read (with the places of equals,
 * into r->iplace). */
static int passage_docs(srch_engine *e, ranked *r, uint32_t *doc,
                        size_t *ndocs, char *err)
{
    const snapshot *s = e->snap;
    const dset *d = r->d;
    if (s->docno) {
        size_t extra = s->ndocs;
        for (size_t i = 0; i < d->n; i++) {
            uint32_t k = d->ids[i] < s->norder ? s->docno[d->ids[i]] : UINT32_MAX;
            doc[i] = k != UINT32_MAX ? k : (uint32_t)extra++;
        }
        *ndocs = extra;
        return 0;
    }
    if (!r->iplace)
        r->iplace = ps_xmalloc((d->n ? d->n : 1) * sizeof(uint32_t));
    return read_places(e, d, NULL, 0, r->iplace, doc, ndocs, err);
}

/* The indices 0..n) grouped by document (counting sort). */
static size_t *by_document(const uint32_t *doc, size_t n, size_t ndocs)
{
    size_t *start = ps_xcalloc(ndocs + 1, sizeof(size_t));
    size_t *perm = ps_xmalloc((n ? n : 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        start[doc[i] + 1]++;
    for (size_t k = 0; k < ndocs; k++)
        start[k + 1] += start[k];
    for (size_t i = 0; i < n; i++)
        perm[start[doc[i]]++] = i;
    free(start);
    return perm;
}

/* ---- facet counts ---- */

typedef struct vals_ctx {
    char **v;
    size_t *len;
} vals_ctx;

static void vals_cb(void *ctx, size_t i, const char *v, size_t n)
{
    vals_ctx *c = ctx;
    c->v[i] = ps_xstrndup(v, n);
    c->len[i] = n;
}

/* Facet counts from the values of one shard's passages (a shard each
 * on the pool): shard 0 counts into the caller's tallies, the others
 * into their own, added up after. */
typedef struct shard_count {
    xap_db *db;
    const unsigned *ids;      /* the passages, all shards' */
    size_t n, nshards;
    unsigned char *whole;     /* [i]: passage i's value had every part */
    tally *tl;
    size_t *at;               /* this shard's i-th passage: ids[at[i]] */
    part_memo memo[FACET_PARTS];
    const fdict *facets;      /* the shard's dictionary */
    unsigned fcol_start;      /* its facet column's first docid, or 0 */
    unsigned *members;        /* member id -> passages counted */
    size_t shard;
    int rc;
    char err[PS_ERRLEN];
} shard_count;

/* A dictionary member's part (0-5) is its tally's index. */
_Static_assert(P_REGION == 0 && P_SECTOR == 1 && P_UNIT == 2 &&
               P_AGENCY == 3 && P_TYPE == 4 && P_YEAR == 5,
               "facet parts in SLOT_FACETS order");

static void member_cb(void *ctx, uint32_t id)
{
    ((unsigned *)ctx)[id]++;
}

/* A member of a coded value counted once for its document (stamp). */
typedef struct member_doc {
    tally *tl;
    const fdict *facets;
    uint32_t stamp;
} member_doc;

static void member_doc_cb(void *ctx, uint32_t id)
{
    member_doc *m = ctx;
    size_t len;
    const char *name = fdict_name(m->facets, id, &len);
    tally_bump(&m->tl[fdict_part(m->facets, id)], name, len, 1, m->stamp);
}

static void count_cb(void *ctx, size_t i, const char *v, size_t n)
{
    shard_count *c = ctx;
    if (!fdict_coded(v, n)) {
        c->whole[c->at[i]] = tally_value(c->tl, v, n, 1, 0, c->memo) >=
                             FACET_PARTS;
        return;
    }
    int parts = fdict_each(c->facets, v, n, member_cb, c->members);
    if (parts < 0 && !c->rc) {
        c->rc = -1;
        snprintf(c->err, PS_ERRLEN, "shard %zu: corrupt facet value "
                 "(policy-index --check)", c->shard);
    }
    c->whole[c->at[i]] = parts >= FACET_PARTS;
}

/* Counting the rows of the facet column's block that the passages
 * local[0..n) are in. */
typedef struct col_count {
    shard_count *c;
    const unsigned *local;
    size_t n;
    uint32_t block;
} col_count;

static void col_block_cb(void *ctx, const char *v, size_t n)
{
    col_count *cc = ctx;
    shard_count *c = cc->c;
    fcol_view view;
    if (fcol_view_open(&view, v, n) < 0 ||
        fcol_count(&view, cc->block, cc->local, cc->n, c->members,
                   (uint32_t)fdict_count(c->facets)) < 0) {
        c->rc = -1;
        snprintf(c->err, PS_ERRLEN, "shard %zu: %s facet column, block %u "
                 "(policy-index --check)", c->shard,
                 n ? "corrupt" : "a missing block of the", cc->block);
    }
}

/* Counts the members of passages local[0..n) (ascending) from the facet
 * column, a block at a time. */
static void count_column(shard_count *c, const unsigned *local, size_t n)
{
    for (size_t i = 0; i < n && !c->rc;) {
        col_count cc = {c, local + i, 0, fcol_block_of(local[i])};
        while (i + cc.n < n && fcol_block_of(local[i + cc.n]) == cc.block)
            cc.n++;
        char key[6];
        fcol_key(cc.block, key);
        if (xap_db_shard_metadata_cb(c->db, c->shard, key, 6, col_block_cb,
                                     &cc, c->err) != XAP_OK)
            c->rc = -1;
        i += cc.n;
    }
}

static void count_shard(void *ctx, size_t k)
{
    shard_count *c = (shard_count *)ctx + k;
    unsigned *local = ps_xmalloc((c->n ? c->n : 1) * sizeof(unsigned));
    c->at = ps_xmalloc((c->n ? c->n : 1) * sizeof(size_t));
    size_t m = 0, old = 0;
    for (size_t i = 0; i < c->n; i++) {
        size_t s;
        unsigned l;
        ps_local_docid(c->ids[i], c->nshards, &s, &l);
        if (s == k) {
            local[m] = l;
            c->at[m++] = i;
        }
    }
    size_t nm = fdict_count(c->facets);
    c->members = ps_xcalloc(nm ? nm : 1, sizeof(unsigned));
    /* Passages the facet column has (every part, format 8) are counted
     * from it; those before it from their values. */
    if (c->fcol_start) {
        while (old < m && local[old] < c->fcol_start)
            old++;
        for (size_t i = old; i < m; i++)
            c->whole[c->at[i]] = 1;
        count_column(c, local + old, m - old);
        m = old;
    }
    if (!c->rc && xap_db_shard_values(c->db, k, SLOT_FACETS, local, m, count_cb,
                                      c, c->err) != XAP_OK)
        c->rc = -1;
    for (uint32_t id = 0; id < nm; id++)
        if (c->members[id]) {
            size_t len;
            const char *name = fdict_name(c->facets, id, &len);
            tally_bump(&c->tl[fdict_part(c->facets, id)], name, len,
                       c->members[id], 0);
        }
    free(c->members);
    free(local);
    free(c->at);
}

/* Facet counts over the passages of base from their values, every shard
 * at once. */
static int count_values(srch_engine *e, const dset *base, tally tl[NPARTS],
                        unsigned char *whole, char *err)
{
    size_t ns = xap_db_nshards(e->db) ? xap_db_nshards(e->db) : 1;
    shard_count *c = ps_xcalloc(ns, sizeof *c);
    tally *own = ps_xcalloc(ns * NPARTS, sizeof(tally));
    for (size_t k = 0; k < ns; k++) {
        c[k].db = e->db;
        c[k].ids = base->ids;
        c[k].n = base->n;
        c[k].nshards = ns;
        c[k].whole = whole;
        c[k].facets = e->snap->shards[k].facets;
        c[k].fcol_start = e->snap->shards[k].fcol_start;
        c[k].shard = k;
        c[k].tl = k ? own + k * NPARTS : tl;
        for (int p = 0; k && p < NPARTS; p++)
            c[k].tl[p].idx = strset_create();
    }
    pool_for(ns, count_shard, c);
    int rc = 0;
    for (size_t k = 0; k < ns; k++) {
        if (c[k].rc && !rc) {
            memcpy(err, c[k].err, PS_ERRLEN);
            rc = -1;
        }
        for (int p = 0; k && p < NPARTS; p++) {
            tally *t = &c[k].tl[p];
            for (size_t j = 0; j < t->n; j++)
                if (t->counts[j])
                    tally_bump(&tl[p], t->names[j], strlen(t->names[j]),
                               t->counts[j], 0);
            tally_free(t);
        }
    }
    free(own);
    free(c);
    return rc;
}

/* The passages of base whose value lacked parts (written by format 5). */
static void lacking(const dset *base, const unsigned char *whole, dset *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < base->n; i++)
        if (!whole[i]) {
            if (!out->ids)
                out->ids = ps_xmalloc(base->n * sizeof(unsigned));
            out->ids[out->n++] = base->ids[i];
        }
}

typedef struct doc_terms_ctx {
    tally *tl;
    unsigned count;
} doc_terms_ctx;

static void doc_terms_cb(void *ctx, const char *t, size_t n)
{
    doc_terms_ctx *c = ctx;
    tally_term(c->tl, t, n, c->count, 0);
}

static void terms_cb(void *ctx, const char *t, size_t n)
{
    char *v = ps_xstrndup(t, n);
    strlist_add(ctx, v);
    free(v);
}

/* Agency, type and year counts over the passages of base, read from the
 * database: from each passage's terms when they are few, else from each
 * such term's passages (a few per passage of the index, read once). */
static int count_doc_facets(srch_engine *e, const dset *base, tally tl[NPARTS],
                            char *err)
{
    char firsts[] = {PFX_AGENCY[0], PFX_TYPE[0], PFX_YEAR[0], '\0'};
    if ((double)base->n * 8 < (double)e->snap->doccount) {
        doc_terms_ctx c = {tl, 1};
        for (size_t i = 0; i < base->n; i++)
            if (xap_db_doc_terms(e->db, base->ids[i], firsts, doc_terms_cb, &c,
                                 err) != XAP_OK)
                return -1;
        return 0;
    }
    unsigned last = base->n ? base->ids[base->n - 1] : 0;
    unsigned char *in = ps_xcalloc(last / 8 + 1, 1);
    for (size_t i = 0; i < base->n; i++)
        in[base->ids[i] / 8] |= (unsigned char)(1u << (base->ids[i] % 8));
    strlist terms = {NULL, 0};
    int rc = 0;
    for (int k = 0; k < 3 && rc == 0; k++) {
        char pfx[2] = {firsts[k], '\0'};
        if (xap_db_terms(e->db, pfx, terms_cb, &terms, err) != XAP_OK)
            rc = -1;
    }
    for (size_t t = 0; t < terms.n && rc == 0; t++) {
        unsigned *ids;
        size_t n;
        if (xap_db_postlist(e->db, terms.v[t], strlen(terms.v[t]), &ids, &n,
                            err) != XAP_OK) {
            rc = -1;
            break;
        }
        unsigned count = 0;
        for (size_t i = 0; i < n; i++)
            count += ids[i] <= last && (in[ids[i] / 8] >> (ids[i] % 8) & 1);
        free(ids);
        if (count)
            tally_term(tl, terms.v[t], strlen(terms.v[t]), count, 0);
    }
    strlist_free(&terms);
    free(in);
    return rc;
}

/* Counting the facet terms of passages: part k of nparts counts its
 * share into counts + k * nt.  Passages are taken in the order perm gives
 * (NULL: as they are), part k those in [cut[k], cut[k + 1]); with stamp
 * (nt a part), a document's passages come together and count each term
 * once (doc[i]: passage i's document), and no cut splits a document.
 * The rows of passages far apart are cache misses: each is fetched a few
 * passages ahead. */
typedef struct count_job {
    const uint32_t *off;
    const void *vals;         /* width bytes a term (xap_facets_rows) */
    unsigned width;
    size_t noff;
    const unsigned *ids;
    const size_t *perm;
    const uint32_t *doc;
    uint32_t *stamp;
    size_t n, nparts, nt;
    unsigned *counts;
    size_t cut[3];            /* the parts' bounds */
} count_job;

/* The loop for one width of term (T), read where it lies. */
#define COUNT_ROWS(T)                                                        \
    do {                                                                     \
        const T *vals = j->vals;                                             \
        for (size_t x = lo; x < hi; x++) {                                   \
            if (x + 16 < hi && ids[AT(x + 16)] < j->noff)                    \
                __builtin_prefetch(&off[ids[AT(x + 16)]]);                   \
            if (x + 8 < hi && (size_t)ids[AT(x + 8)] + 1 < j->noff)          \
                __builtin_prefetch(&vals[off[ids[AT(x + 8)]]]);              \
            size_t i = AT(x);                                                \
            unsigned d = ids[i];                                             \
            if ((size_t)d + 1 >= j->noff)                                    \
                continue;                                                    \
            for (uint32_t t = off[d]; t < off[d + 1]; t++) {                 \
                if (stamp) {                                                 \
                    if (stamp[vals[t]] == j->doc[i] + 1)                     \
                        continue;                                            \
                    stamp[vals[t]] = j->doc[i] + 1;                          \
                }                                                            \
                c[vals[t]]++;                                                \
            }                                                                \
        }                                                                    \
    } while (0)

/* By bits (fcount.h): part k of nparts. */
typedef struct bits_job {
    const fcount *fc;
    const uint64_t *bits;
    const unsigned *ids;
    size_t n, nparts, nt;
    unsigned *counts;
} bits_job;

static void count_bits_part(void *ctx, size_t k)
{
    const bits_job *j = ctx;
    fcount_count(j->fc, j->bits, j->ids, j->n, k, j->nparts,
                 j->counts + k * j->nt);
}

static void count_part(void *ctx, size_t k)
{
    const count_job *j = ctx;
    size_t lo = j->cut[k], hi = j->cut[k + 1];
    unsigned *c = j->counts + k * j->nt;
    const uint32_t *off = j->off;
    const unsigned *ids = j->ids;
    const size_t *perm = j->perm;
    uint32_t *stamp = j->stamp ? j->stamp + k * j->nt : NULL;
#define AT(x) (perm ? perm[x] : (x))
    if (j->width == 1)
        COUNT_ROWS(uint8_t);
    else if (j->width == 2)
        COUNT_ROWS(uint16_t);
    else
        COUNT_ROWS(uint32_t);
#undef AT
}
#undef COUNT_ROWS

/* Facet counts over the passages of base; with group, each document
 * (doc[i]: its number, below ndocs) counted once.  doc may be NULL
 * without group. */
static int count_facets(srch_engine *e, const dset *base, const uint32_t *doc,
                        size_t ndocs, int group, tally tl[NPARTS], char *err)
{
    size_t *perm = group ? by_document(doc, base->n, ndocs) : NULL;
#define AT(j) (perm ? perm[j] : (j))
    int rc = 0;
    if (e->snap->fx) {
        size_t nt = xap_facets_nterms(e->snap->fx);
        /* In two halves at once when there are many (by document: cut
         * where a document ends, so that each counts it once). */
        count_job cj = {NULL, NULL, 0, 0, base->ids, perm, doc, NULL, base->n,
                        base->n >= 8192 ? 2 : 1, nt, NULL, {0, 0, 0}};
        cj.noff = xap_facets_rows(e->snap->fx, &cj.off, &cj.vals, &cj.width);
        cj.counts = ps_xcalloc(cj.nparts * (nt ? nt : 1), sizeof(unsigned));
        if (group)
            cj.stamp = ps_xcalloc(cj.nparts * (nt ? nt : 1), sizeof(uint32_t));
        size_t m = cj.nparts == 2 ? base->n / 2 : base->n;
        while (group && m > 0 && m < base->n && doc[perm[m]] == doc[perm[m - 1]])
            m++;
        cj.cut[1] = m;
        cj.cut[2] = base->n;
        if (!group && fcount_worth(e->snap->fc, base->n)) {
            bits_job bj = {e->snap->fc, fcount_bits(e->snap->fc, base->ids,
                                                    base->n),
                           base->ids, base->n, cj.nparts, nt, cj.counts};
            pool_for(bj.nparts, count_bits_part, &bj);
            free((void *)bj.bits);
        } else {
            pool_for(cj.nparts, count_part, &cj);
        }
        unsigned *counts = cj.counts;
        for (size_t k = 1; k < cj.nparts; k++)
            for (size_t t = 0; t < nt; t++)
                counts[t] += cj.counts[k * nt + t];
        for (size_t t = 0; t < nt; t++)
            if (counts[t]) {
                const char *term = xap_facets_term(e->snap->fx, t);
                tally_term(tl, term, strlen(term), counts[t], 0);
            }
        free(counts);
        free(cj.stamp);
        free(perm);
        return 0;
    }
    /* Every facet of a passage is one value (format 6; from format 5 the
     * agencies, type and year come from the passage's terms). */
    unsigned char *whole = ps_xcalloc(base->n ? base->n : 1, 1);
    if (!group) {
        rc = count_values(e, base, tl, whole, err);
        dset old;
        lacking(base, whole, &old);
        free(whole);
        free(perm);
        if (rc == 0 && old.n)
            rc = count_doc_facets(e, &old, tl, err);
        free(old.ids);
        return rc;
    }
    part_memo memo[FACET_PARTS];
    memset(memo, 0, sizeof memo);
    vals_ctx c = {ps_xcalloc(base->n ? base->n : 1, sizeof(char *)),
                  ps_xcalloc(base->n ? base->n : 1, sizeof(size_t))};
    rc = xap_db_values(e->db, SLOT_FACETS, base->ids, base->n, vals_cb, &c,
                       err) == XAP_OK ? 0 : -1;
    for (size_t j = 0; j < base->n; j++) {
        size_t i = AT(j);
        if (rc == 0 && c.v[i] && !fdict_coded(c.v[i], c.len[i])) {
            whole[i] = tally_value(tl, c.v[i], c.len[i], 1, doc[i] + 1, memo) >=
                       FACET_PARTS;
        } else if (rc == 0 && c.v[i]) {
            size_t s;
            unsigned local;
            ps_local_docid(base->ids[i], e->snap->nshards, &s, &local);
            member_doc md = {tl, e->snap->shards[s].facets, doc[i] + 1};
            int parts = fdict_each(md.facets, c.v[i], c.len[i], member_doc_cb,
                                   &md);
            if (parts < 0) {
                snprintf(err, PS_ERRLEN, "shard %zu: corrupt facet value "
                         "(policy-index --check)", s);
                rc = -1;
            }
            whole[i] = parts >= FACET_PARTS;
        }
        free(c.v[i]);
    }
    free(c.v);
    free(c.len);
    /* Agency, type, year of a document written by format 5: the same on
     * every passage of a document, read from the terms of one of them. */
    for (size_t j = 0; j < base->n && rc == 0;) {
        size_t i = perm[j], k = j;
        while (k < base->n && doc[perm[k]] == doc[i])
            k++;
        doc_terms_ctx dc = {tl, 1};
        char firsts[] = {PFX_AGENCY[0], PFX_TYPE[0], PFX_YEAR[0], '\0'};
        if (!whole[i] && xap_db_doc_terms(e->db, base->ids[i], firsts,
                                          doc_terms_cb, &dc, err) != XAP_OK)
            rc = -1;
        j = k;
    }
    free(whole);
    free(perm);
#undef AT
    return rc;
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

/* The passages of the document whose number the query is that say it
 * (its code and serial, whatever the brackets).  0, or -1 with err. */
static int number_set(srch_engine *e, build *b, dset *out, char *err)
{
    strlist t = {NULL, 0};
    char term[160];
    snprintf(term, sizeof term, PFX_NUMBER "%s", b->number);
    strlist_add(&t, term);
    int rc = terms_docs(e, &t, out, err);
    strlist_free(&t);
    for (int k = 0; k < 2 && rc == 0; k++) {
        const char *s = b->number_parts[k];
        if (!*s)
            continue;
        const dset *x = contains_set(e, b, s, strlen(s), NULL, err);
        if (!x) {
            rc = -1;
            break;
        }
        dset f;
        dset_filter(out, x, &f);
        dset_free(out);
        *out = f;
    }
    return rc;
}

/* tier[i] for each passage of d: 0 in first, else 1 in second, else 2. */
static unsigned char *tiers_of(const dset *d, const dset *first,
                               const dset *second)
{
    unsigned char *t = ps_xmalloc(d->n ? d->n : 1);
    memset(t, 2, d->n);
    const dset *s[2] = {second, first};
    for (int k = 0; k < 2; k++) {
        if (!s[k])
            continue;
        for (size_t i = 0, j = 0; i < d->n && j < s[k]->n;) {
            if (d->ids[i] < s[k]->ids[j])
                i++;
            else if (d->ids[i] > s[k]->ids[j])
                j++;
            else
                t[i++] = (unsigned char)(1 - k), j++;
        }
    }
    return t;
}

/* Appends the hit of passage i of d (its best passages with group). */
static int add_hit(srch_engine *e, const build *b, const dset *d, size_t i,
                   json_t *hits, json_t *metas, json_t **made, char *err)
{
    err[0] = '\0';
    json_t *rec = passage_record(e, d->ids[i], err);
    if (!rec && err[0])
        return -1;
    json_t *o = rec ? hit_json(e, rec, d->ids[i], d->w[i], b, metas, err) : NULL;
    json_decref(rec);
    if (!o && err[0])
        return -1;
    if (!o) {
        /* A match without its record: never a silently short page. */
        size_t sh;
        unsigned local;
        ps_local_docid(d->ids[i], e->snap->nshards, &sh, &local);
        snprintf(err, PS_ERRLEN, "shard %zu: passage %u matches but its record "
                 "is missing or unreadable: the index is damaged "
                 "(policy-index --check)", sh, local);
        return -1;
    }
    json_array_append_new(hits, o);
    if (made)
        *made = o;
    return 0;
}

/* One document's best passages (up to GROUP_BEST), best first. */
#define GROUP_BEST 3

/* With group: hit o (of document dk, with npass matching passages) gets
 * "passages" and, in "more", the brief of the document's next best
 * passages (best[dk * GROUP_BEST + 1...]). */
static int add_more(srch_engine *e, const build *b, const dset *d, json_t *o,
                    const size_t *best, unsigned npass, uint32_t dk,
                    char *err)
{
    json_object_set_new(o, "passages", json_integer(npass));
    json_t *more = json_array();
    int rc = 0;
    for (unsigned m = 1; m < GROUP_BEST && m < npass && rc == 0; m++) {
        json_t *x = json_array();
        rc = add_hit(e, b, d, best[(size_t)dk * GROUP_BEST + m], x, NULL, NULL,
                     err);
        json_t *h = json_array_get(x, 0);
        if (h) {
            json_t *brief = json_object();
            static const char *const keep[] = {"passage", "kind", "heading",
                                               "page", "snippet", "score"};
            for (size_t f = 0; f < sizeof keep / sizeof keep[0]; f++) {
                json_t *v = json_object_get(h, keep[f]);
                if (v)
                    json_object_set(brief, keep[f], v);
            }
            json_array_append_new(more, brief);
        }
        json_decref(x);
    }
    json_object_set_new(o, "more", more);
    return rc;
}

/* Evaluates q with b's filters: *total, tl's counts, and the page of
 * hits asked for.  0, or -1 with err. */
static int evaluate(srch_engine *e, build *b, const qry *q, const plan *plans,
                    const srch_request *r, tally tl[NPARTS], json_t *hits,
                    unsigned *total, char *err)
{
    int positive = 0;
    for (size_t i = 0; i < q->n; i++)
        positive |= !q->items[i].negated;
    dset base, negs, wholes, first;
    int hb = 0, hn = 0, hw = 0, hf = 0, rc = 0;
    memset(&base, 0, sizeof base);
    memset(&negs, 0, sizeof negs);
    memset(&wholes, 0, sizeof wholes);
    memset(&first, 0, sizeof first);
    int ranged = 0;           /* base holds only passages in the range */
    if (!positive && b->has_range && e->snap->vr) {
        range_docs(e, b, &base);
        hb = ranged = 1;
    } else if (!positive) {
        if (all_docs(e, &base, err) < 0)
            return -1;
        hb = 1;
    }
    /* Facet filters (OR within a facet, AND across facets) before the
     * strings: outside their passages the strings are not needed (see
     * needle_get). */
    dset fset;
    int hfs = 0;
    memset(&fset, 0, sizeof fset);
    for (int k = 0; k < NPARTS && rc == 0; k++) {
        if (!b->fterms[k].n && !b->fempty[k])
            continue;
        dset f;
        if (terms_docs(e, &b->fterms[k], &f, err) < 0) {
            rc = -1;
            break;
        }
        accumulate_move(&fset, &hfs, &f, 0);
    }
    /* base holds only passages of fset: the strings were narrowed to it
     * (see needle_get), and the filter need not be applied again. */
    int base_within = 0;
    for (int g = 0; g < q->ngroups && rc == 0; g++) {
        dset grp;
        int hg = 0, neg = 0, grp_within = 1;
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
            int m_within = 0;
            for (size_t k = 0; k < p->nmust; k++) {
                /* Passages outside the groups before and the strings
                 * before are not needed (see needle_get). */
                if (!hm) {
                    dset x;
                    const dset *keep = hb ? &base : hfs ? &fset : NULL;
                    int within;
                    if (contains_take(e, b, p->must[k], p->mlen[k], keep, &x,
                                      &within, err) < 0) {
                        rc = -1;
                        break;
                    }
                    m_within = within && hfs &&
                               (keep == &fset || base_within);
                    accumulate_move(&m, &hm, &x, 0);
                    continue;
                }
                const dset *x = contains_set(e, b, p->must[k], p->mlen[k], &m,
                                             err);
                if (!x) {
                    rc = -1;
                    break;
                }
                accumulate(&m, &hm, x, 0);
            }
            if (hm)
                accumulate_move(&grp, &hg, &m, 1);
            grp_within = grp_within && hm && m_within;
            dset_free(&m);
            neg = q->items[i].negated;
            last = p;
            na++;
        }
        if (rc == 0 && na && neg) {
            accumulate_move(&negs, &hn, &grp, 1);
        } else if (rc == 0 && na) {
            /* An AND is within fset when either side is. */
            base_within = (hb && base_within) || grp_within;
            accumulate_move(&base, &hb, &grp, 0);
        }
        if (rc == 0 && na == 1 && last->whole) {
            const dset *x = contains_set(e, b, last->whole, last->wlen,
                                         hb ? &base : NULL, err);
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
    /* A document number: its document's passages that say it come
     * first, whatever brackets either used. */
    if (rc == 0 && b->number[0]) {
        rc = number_set(e, b, &first, err);
        hf = rc == 0 && first.n;
        if (hf) {
            dset t;
            dset_or(&base, &first, &t);
            dset_free(&base);
            base = t;
            base_within = 0;
        }
    }
    if (rc == 0 && hfs && !base_within) {
        dset t;
        dset_filter(&base, &fset, &t);
        dset_free(&base);
        base = t;
    }
    dset_free(&fset);
    if (rc == 0 && b->has_range && base.n && !ranged)
        rc = range_filter(e, b, &base, err);
    /* Dates: to keep a range, or to sort by. */
    uint32_t *date = NULL;
    if (rc == 0 && (b->date_lo || b->sort)) {
        date = ps_xmalloc((base.n ? base.n : 1) * sizeof(uint32_t));
        rc = passage_dates(e, &base, date, err);
        if (rc == 0 && b->date_lo) {
            size_t out = 0;
            for (size_t i = 0; i < base.n; i++)
                if (date[i] && date[i] >= b->date_lo && date_end(date[i]) <= b->date_hi) {
                    base.ids[out] = base.ids[i];
                    base.w[out] = base.w[i];
                    date[out++] = date[i];
                }
            base.n = out;
        }
    }
    unsigned char *tier = NULL;
    if (rc == 0 && (hw || hf))
        tier = tiers_of(&base, hf ? &first : NULL, hw ? &wholes : NULL);
    ranked rk = {&base, e->snap->order, NULL, e->snap->norder, tier, date,
                 b->sort, 0};
    /* Documents: to group by, or to count agencies, types and years by
     * (without the facet index). */
    uint32_t *doc = NULL;
    size_t ndocs = 0;
    int counting = rc == 0 && !r->no_facets;
    if (rc == 0 && b->group) {
        doc = ps_xmalloc((base.n ? base.n : 1) * sizeof(uint32_t));
        rc = passage_docs(e, &rk, doc, &ndocs, err);
    }
    size_t *best = NULL, *reps = NULL, nreps = 0;
    unsigned *npass = NULL;
    if (rc == 0 && b->group) {
        /* Each document's best passages, and how many match. */
        best = ps_xmalloc((ndocs ? ndocs : 1) * GROUP_BEST * sizeof(size_t));
        npass = ps_xcalloc(ndocs ? ndocs : 1, sizeof(unsigned));
        for (size_t i = 0; i < base.n; i++) {
            size_t *bk = best + (size_t)doc[i] * GROUP_BEST;
            unsigned have = npass[doc[i]]++;
            size_t at = have < GROUP_BEST ? have : GROUP_BEST;
            while (at > 0 && ranks_before(&rk, i, bk[at - 1])) {
                if (at < GROUP_BEST)
                    bk[at] = bk[at - 1];
                at--;
            }
            if (at < GROUP_BEST)
                bk[at] = i;
        }
        reps = ps_xmalloc((ndocs ? ndocs : 1) * sizeof(size_t));
        for (size_t k = 0; k < ndocs; k++)
            if (npass[k])
                reps[nreps++] = best[k * GROUP_BEST];
        *total = (unsigned)nreps;
    } else if (rc == 0) {
        *total = (unsigned)base.n;
    }
    if (counting && rc == 0)
        rc = count_facets(e, &base, doc, ndocs, b->group, tl, err);
    if (rc == 0) {
        size_t avail = b->group ? nreps : base.n;
        size_t k = r->limit == 0 ? avail : (size_t)r->offset + (size_t)r->limit;
        size_t *idx = ps_xmalloc(((k < avail ? k : avail) + 1) * sizeof(size_t));
        size_t got = top_k(&rk, reps, nreps, k, idx);
        /* Equal passages in document and passage order: from the
         * snapshot's order when it has one, else read for the passages
         * that can reach the page. */
        if (rk.tied && !rk.order && !rk.iplace && got > (size_t)r->offset)
            rc = exact_ties(e, &rk, reps, nreps, idx, got, err);
        json_t *metas = json_object();
        for (size_t j = (size_t)r->offset; j < got && rc == 0; j++) {
            json_t *o = NULL;
            rc = add_hit(e, b, &base, idx[j], hits, metas, &o, err);
            if (rc == 0 && b->group)
                rc = add_more(e, b, &base, o, best, npass[doc[idx[j]]],
                              doc[idx[j]], err);
            if (rc == 0 && r->hit_sink) {
                /* Streamed: handed on, then dropped. */
                e->sunk++;
                if (r->hit_sink(r->sink_ctx, *total, o) != 0) {
                    snprintf(err, PS_ERRLEN, "the answer could not be "
                             "written out");
                    rc = -1;
                }
                json_array_clear(hits);
            }
        }
        json_decref(metas);
        free(idx);
    }
    free(rk.iplace);
    free(tier);
    free(date);
    free(doc);
    free(best);
    free(reps);
    free(npass);
    dset_free(&base);
    dset_free(&negs);
    dset_free(&wholes);
    dset_free(&first);
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
    tally tl[NPARTS];
    for (int k = 0; k < NPARTS; k++) {
        memset(&tl[k], 0, sizeof tl[k]);
        tl[k].idx = strset_create();
    }
    plan *plans = ps_xcalloc(q->n ? q->n : 1, sizeof(plan));
    for (size_t i = 0; i < q->n; i++)
        if (item_plan(e, &b, &q->items[i], &plans[i], err) < 0) {
            *st = SRCH_INTERNAL;
            goto done;
        }
    if (filter_parse(e, &b, r, st, err) < 0 ||
        doc_filter_parse(e, &b, r, st, err) < 0)
        goto done;
    number_parse(&b, r->query, err);
    if (r->budget_ms > 0) {
        b.budget_ms = r->budget_ms;
        b.deadline = t0 + r->budget_ms / 1000.0;
    }
    if (evaluate(e, &b, q, plans, r, tl, hits, &total, err) < 0) {
        *st = b.timed_out ? SRCH_TOO_LONG : SRCH_INTERNAL;
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
    for (int k = 0; k < NPARTS; k++)
        json_object_set_new(facets, PARTS[k].name, tally_json(e, &tl[k], k));
    json_object_set_new(out, "facets", facets);
    double ms = (ps_now() - t0) * 1000.0;
    json_object_set_new(out, "took_ms", json_real((double)(long)(ms * 1000) / 1000));
done:
    json_decref(hits);
    for (int k = 0; k < NPARTS; k++)
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

static void count_found(void *ctx, const char *v, size_t n)
{
    (void)v;
    *(size_t *)ctx += n > 0;
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
                char group[32], key[40];
                size_t gl = off[a + 2] - off[a];
                memcpy(group, META_GRAM, 2);
                group[2] = (char)gl;
                memcpy(group + 3, norm.data + off[a], gl);
                size_t n = 0;
                const shard_info *si = &e->snap->shards[k];
                if (si->format4)
                    xap_db_shard_scan(e->db, k, group, 3 + gl, count_chunk, &n,
                                      err);
                for (size_t j = 0; !si->format4 && j < si->nsegs; j++) {
                    size_t kl = gram_chunk_key(group, 3 + gl, &si->segs[j], key);
                    xap_db_shard_metadata_cb(e->db, k, key, kl, count_found, &n,
                                             err);
                }
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
    if (!t2 || (t2[1] != '/' && strncmp(t2 + 1, PATH_HEX, strlen(PATH_HEX)) != 0)) {
        free(v);
        *st = SRCH_NOT_FOUND;
        snprintf(err, PS_ERRLEN, "unknown document '%.*s'",
                 ps_clip(doc, 100), doc);
        return NULL;
    }
    json_t *o = json_pack("{s:s%,s:s%,s:s%}", "format", v, (size_t)(t1 - v),
                          "encoding", t1 + 1, (size_t)(t2 - t1 - 1), "path",
                          t2 + 1, vl - (size_t)(t2 + 1 - v));
    free(v);
    if (!o) {
        *st = SRCH_INTERNAL;
        snprintf(err, PS_ERRLEN, "document '%.*s': its file record is not "
                 "valid text", ps_clip(doc, 100), doc);
    }
    return o;
}

json_t *srch_error_json(const char *msg)
{
    char *m = ps_xstrdup(msg);
    ps_utf8_scrub(m);
    json_t *o = json_pack("{s:s}", "error", m);
    free(m);
    return o;
}

int srch_file(srch_engine *e, const char *doc, char **path, char **format,
              char **encoding, srch_status *st, char *err)
{
    *path = *format = *encoding = NULL;
    json_t *o = with_snapshot(e, file_once, doc, st, err);
    if (!o)
        return -1;
    const char *p = json_string_value(json_object_get(o, "path"));
    size_t hl = strlen(PATH_HEX);
    if (strncmp(p, PATH_HEX, hl) == 0) {    /* a path that is not UTF-8 */
        size_t n = (strlen(p) - hl) / 2;
        *path = ps_xmalloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            unsigned x = 0;
            sscanf(p + hl + 2 * i, "%2x", &x);
            (*path)[i] = x ? (char)x : '?';
        }
        (*path)[n] = '\0';
    } else {
        *path = ps_xstrdup(p);
    }
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
        snprintf(err, PS_ERRLEN, "unknown document '%.*s'",
                 ps_clip(doc, 100), doc);
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
            snprintf(err, PS_ERRLEN, "shard %zu: passage %u of '%.*s' has no "
                     "readable record: the index is damaged (policy-index "
                     "--check)", sh, local, ps_clip(doc, 100), doc);
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
