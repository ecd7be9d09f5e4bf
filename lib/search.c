/*
 * search.c: from a parsed query and filters to a Xapian query, and from
 * Xapian's answer to the contract's JSON.
 *
 * Matching.  Every string the user gives must be *contained* in the
 * passage (normalized substring), whatever the word segmenter did with
 * it.  The character index (grams.c) finds those passages exactly, shard
 * by shard; the result enters the Xapian query as a posting source, so
 * filters, exclusions, OR, facets and paging work on it like on a term.
 *
 * Ranking.  BM25 where a query string's frequency is the number of times
 * the passage contains it and the passage's length is its length in
 * characters.  Unquoted Chinese is split into words which must each be
 * contained and each rank; passages that contain the whole string come
 * first: they are fetched as a first tier, the rest as a second, so the
 * promise holds whatever the scores.
 *
 * Facets.  Each passage stores its set of regions (with ancestors),
 * sectors and units as one string per slot; Xapian's ValueCountMatchSpy
 * counts these sets over every match and we add the counts up per
 * member.  Long-running processes use the in-memory facet index instead.
 */
#include "search.h"
#include "dset.h"
#include "grams.h"
#include "normalize.h"
#include "query.h"
#include "schema.h"
#include "snippet.h"
#include "strset.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What a shard's character index needs besides the grams: passage
 * lengths for ranking and deleted passages to leave out.  Loaded on first
 * use, dropped when the database changes. */
typedef struct shard_info {
    int loaded;
    uint32_t *len;
    size_t nlen;
    unsigned (*del)[2];
    size_t ndel;
} shard_info;

struct srch_engine {
    xap_db *db;
    const ana_res *res;
    ana_ctx *ana;
    char *path;
    xap_facets *fx;           /* in-memory facet index, when enabled */
    strset *fxterms;          /* its terms -> their indices */
    char generation[64];      /* of GENERATION_FILE when opened */
    shard_info *shards;
    size_t nshards;
    double avglen;            /* mean passage length, characters */
};

static void drop_shard_info(srch_engine *e)
{
    for (size_t i = 0; i < e->nshards; i++) {
        free(e->shards[i].len);
        free(e->shards[i].del);
    }
    free(e->shards);
    e->shards = NULL;
    e->nshards = 0;
}

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

/* Loads every shard's lengths and deleted ranges if not done yet. */
static int load_shard_info(srch_engine *e, char *err)
{
    size_t n = xap_db_nshards(e->db);
    if (e->shards && e->nshards == n)
        return 0;
    drop_shard_info(e);
    e->shards = ps_xcalloc(n ? n : 1, sizeof(shard_info));
    e->nshards = n;
    double sum = 0, count = 0;
    for (size_t s = 0; s < n; s++) {
        shard_info *si = &e->shards[s];
        fetch_ctx f = {e->db, s, NULL};
        if (gram_lengths(fetch, &f, &si->len, &si->nlen, err) < 0)
            goto fail;
        char *v;
        size_t vl;
        if (xap_db_shard_metadata(e->db, s, META_DELETED, strlen(META_DELETED),
                                  &v, &vl, err) != XAP_OK)
            goto fail;
        int bad = gram_ranges_decode(v, vl, &si->del, &si->ndel);
        free(v);
        if (bad) {
            snprintf(err, PS_ERRLEN, "corrupt list of deleted passages");
            goto fail;
        }
        size_t at = 0;      /* deleted passages do not count */
        for (size_t d = 0; d < si->nlen; d++) {
            if (si->len[d] && !gram_ranges_has((const unsigned (*)[2])si->del,
                                               si->ndel, &at, (unsigned)d)) {
                sum += si->len[d];
                count++;
            }
        }
        si->loaded = 1;
    }
    e->avglen = count ? sum / count : 1;
    return 0;
fail:
    drop_shard_info(e);
    return -1;
}

/* Identity of the index's generation file ("" when there is none). */
static void read_generation(const char *path, char *out, size_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/" GENERATION_FILE, path);
    struct stat st;
    if (stat(p, &st) == 0)
        snprintf(out, n, "%lld.%ld.%lld", (long long)st.st_mtim.tv_sec,
                 (long)st.st_mtim.tv_nsec, (long long)st.st_ino);
    else
        out[0] = '\0';
}

static const char *const FACET_PREFIXES[] = {PFX_REGION, PFX_SECTOR, PFX_UNIT};

int srch_use_facet_index(srch_engine *e, char *err)
{
    xap_facets *fx;
    if (xap_facets_build(e->db, FACET_PREFIXES, 3, SLOT_NUM0, NUM_SLOTS, &fx,
                         err) != XAP_OK)
        return -1;
    xap_facets_free(e->fx);
    strset_destroy(e->fxterms);
    e->fx = fx;
    e->fxterms = strset_create();
    for (size_t i = 0; i < xap_facets_nterms(fx); i++)
        strset_put(e->fxterms, xap_facets_term(fx, i),
                   strlen(xap_facets_term(fx, i)), (int)i);
    /* Passage lengths too, so the first query does not pay for them. */
    if (load_shard_info(e, err) < 0)
        return -1;
    return 1;
}

srch_engine *srch_open(const char *dbpath, const ana_res *res, char *err)
{
    xap_db *db;
    if (xap_db_open(dbpath, &db, err) != XAP_OK)
        return NULL;
    /* Every shard's format mark (the combined database shows only the
     * first shard's metadata). */
    for (size_t s = 0; s < xap_db_nshards(db); s++) {
        char *ver = NULL;
        size_t vl = 0;
        if (xap_db_shard_metadata(db, s, META_VERSION, strlen(META_VERSION), &ver,
                                  &vl, err) != XAP_OK) {
            xap_db_close(db);
            return NULL;
        }
        if (strcmp(ver, PS_FORMAT_VERSION) != 0) {
            if (*ver)
                snprintf(err, PS_ERRLEN, "shard %zu: index format %.20s, this "
                         "build reads format %s: index the documents into a new "
                         "--db", s, ver, PS_FORMAT_VERSION);
            else
                snprintf(err, PS_ERRLEN, "shard %zu: not a policy-search index "
                         "(no format mark)", s);
            free(ver);
            xap_db_close(db);
            return NULL;
        }
        free(ver);
    }
    ana_ctx *a = ana_ctx_create(res, err);
    if (!a) {
        xap_db_close(db);
        return NULL;
    }
    srch_engine *e = ps_xcalloc(1, sizeof *e);
    e->db = db;
    e->res = res;
    e->ana = a;
    e->path = ps_xstrdup(dbpath);
    read_generation(dbpath, e->generation, sizeof e->generation);
    return e;
}

void srch_close(srch_engine *e)
{
    if (!e)
        return;
    xap_db_close(e->db);
    ana_ctx_destroy(e->ana);
    xap_facets_free(e->fx);
    strset_destroy(e->fxterms);
    drop_shard_info(e);
    free(e->path);
    free(e);
}

void srch_refresh(srch_engine *e)
{
    int changed = 0;
    char err[PS_ERRLEN], gen[64];
    read_generation(e->path, gen, sizeof gen);
    if (strcmp(gen, e->generation) != 0) {
        /* Shard files were replaced (compaction): reopening would keep
         * reading the old ones. */
        if (xap_db_open_again(e->db, err) == XAP_OK) {
            changed = 1;
            memcpy(e->generation, gen, sizeof gen);
        }
    } else if (xap_db_reopen(e->db, &changed, err) != XAP_OK) {
        changed = 0;
    }
    if (changed)
        drop_shard_info(e);
    if (changed && e->fx)
        srch_use_facet_index(e, err);
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

/* The passages containing one string: per shard (shard-local docids, as
 * the posting source wants them) and, when the search runs in C, merged
 * into database docids. */
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
    xap_query **q;
    size_t nq, capq;
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

static xap_query *keep(build *b, xap_query *q)
{
    if (b->nq == b->capq) {
        b->capq = b->capq ? 2 * b->capq : 32;
        b->q = ps_xrealloc(b->q, b->capq * sizeof *b->q);
    }
    b->q[b->nq++] = q;
    return q;
}

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
    for (size_t i = 0; i < b->nq; i++)
        xap_q_destroy(b->q[i]);
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
    free(b->q);
    free(b->s);
    free(b->needles);
}

static xap_query *combine(build *b, xap_op op, xap_query **subs, size_t n)
{
    if (n == 1 && op != XAP_AND_NOT)
        return subs[0];
    return keep(b, xap_q_combine(op, subs, n));
}

#define BM25_K1 1.2
#define BM25_B 0.75

/* Every passage that contains normalized s[0..n), ranked by BM25 (see the
 * file comment); computed once per query.  NULL with err set when the
 * index cannot be read. */
static needle_res *needle_get(srch_engine *e, build *b, const char *s,
                              size_t n, char *err)
{
    for (size_t i = 0; i < b->nnr; i++)
        if (b->nr[i].len == n && memcmp(b->nr[i].text, s, n) == 0)
            return &b->nr[i];
    if (load_shard_info(e, err) < 0)
        return NULL;
    size_t ns = e->nshards;
    gram_hits *h = ps_xcalloc(ns ? ns : 1, sizeof(gram_hits));
    size_t df = 0;
    for (size_t k = 0; k < ns; k++) {
        fetch_ctx f = {e->db, k, NULL};
        if (gram_match(s, n, fetch, &f, (const unsigned (*)[2])e->shards[k].del,
                       e->shards[k].ndel, &h[k], err) < 0) {
            for (size_t j = 0; j <= k; j++)
                gram_hits_free(&h[j]);
            free(h);
            return NULL;
        }
        df += h[k].n;
    }
    double N = xap_db_doccount(e->db);
    if (N < (double)df)
        N = (double)df;
    double idf = log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
    double **w = ps_xcalloc(ns ? ns : 1, sizeof(double *));
    for (size_t k = 0; k < ns; k++) {
        const shard_info *si = &e->shards[k];
        w[k] = ps_xmalloc((h[k].n ? h[k].n : 1) * sizeof(double));
        for (size_t i = 0; i < h[k].n; i++) {
            unsigned d = h[k].docs[i];
            double len = d < si->nlen && si->len[d] ? si->len[d] : e->avglen;
            double tf = h[k].tf[i];
            w[k][i] = idf * tf * (BM25_K1 + 1) /
                      (tf + BM25_K1 * (1 - BM25_B + BM25_B * len / e->avglen));
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

/* The exact-containment query of normalized s[0..n) for Xapian. */
static xap_query *contains_query(srch_engine *e, build *b, const char *s,
                                 size_t n, char *err)
{
    needle_res *r = needle_get(e, b, s, n, err);
    if (!r)
        return NULL;
    xap_docs *docs = ps_xcalloc(r->nshards ? r->nshards : 1, sizeof(xap_docs));
    for (size_t k = 0; k < r->nshards; k++) {
        docs[k].ids = r->h[k].docs;
        docs[k].w = r->w[k];
        docs[k].n = r->h[k].n;
    }
    xap_query *q = keep(b, xap_q_docs(e->db, docs, r->nshards, r->maxw));
    free(docs);
    return q;
}

/* The same passages as database docids (shard k's local docid l is
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
    size_t at[64] = {0};
    size_t *pos = ns <= 64 ? at : ps_xcalloc(ns, sizeof(size_t));
    for (size_t out = 0; out < total; out++) {
        size_t best = ns;
        unsigned bestid = 0;
        for (size_t k = 0; k < ns; k++) {
            if (pos[k] == r->h[k].n)
                continue;
            unsigned id = (r->h[k].docs[pos[k]] - 1) * (unsigned)ns + (unsigned)k + 1;
            if (best == ns || id < bestid) {
                best = k;
                bestid = id;
            }
        }
        d->ids[out] = bestid;
        d->w[out] = r->w[best][pos[best]];
        pos[best]++;
    }
    d->n = total;
    if (pos != at)
        free(pos);
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

/* Builds the must-match query of one item; *whole gets the "contains the
 * whole string" query of unquoted multi-word items (else NULL). */
static xap_query *item_query(srch_engine *e, build *b, const plan *p,
                             xap_query **whole, char *err)
{
    *whole = NULL;
    xap_query *parts[256];
    for (size_t k = 0; k < p->nmust; k++)
        if (!(parts[k] = contains_query(e, b, p->must[k], p->mlen[k], err)))
            return NULL;
    if (p->whole && !(*whole = contains_query(e, b, p->whole, p->wlen, err)))
        return NULL;
    return combine(b, XAP_AND, parts, p->nmust);
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

/* Region, sector and number filters; NULL when there are none. */
static xap_query *filter_query(srch_engine *e, build *b,
                               const srch_request *r, srch_status *st,
                               char *err)
{
    xap_query *facets[3];
    size_t nf = 0;
    char term[256];
    if (r->nregions) {
        xap_query *alts[256];
        size_t na = 0;
        for (size_t i = 0; i < r->nregions; i++) {
            int c[8];
            size_t n = reg_lookup(e->res->gaz, r->regions[i],
                                  strlen(r->regions[i]), c, 8);
            if (!n) {
                *st = SRCH_BAD_REQUEST;
                snprintf(err, PS_ERRLEN, "unknown region '%.80s'",
                         r->regions[i]);
                return NULL;
            }
            for (size_t k = 0; k < n && na < 256; k++) {
                snprintf(term, sizeof term, PFX_REGION "%s",
                         reg_code(e->res->gaz, c[k]));
                alts[na++] = keep(b, xap_q_term(term, strlen(term)));
                strlist_add(&b->fterms[0], term);
            }
        }
        facets[nf++] = combine(b, XAP_OR, alts, na);
    }
    if (r->nsectors) {
        xap_query *alts[64];
        size_t na = 0;
        for (size_t i = 0; i < r->nsectors && na < 64; i++) {
            if (sec_find(e->res->sec, r->sectors[i]) < 0) {
                *st = SRCH_BAD_REQUEST;
                snprintf(err, PS_ERRLEN, "unknown sector '%.80s'",
                         r->sectors[i]);
                return NULL;
            }
            snprintf(term, sizeof term, PFX_SECTOR "%s", r->sectors[i]);
            alts[na++] = keep(b, xap_q_term(term, strlen(term)));
            strlist_add(&b->fterms[1], term);
        }
        facets[nf++] = combine(b, XAP_OR, alts, na);
    }
    int has_range = (r->min && *r->min) || (r->max && *r->max);
    if (has_range && !(r->unit && *r->unit)) {
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "a value range (min/max) needs a unit");
        return NULL;
    }
    if (r->unit && *r->unit) {
        ps_buf u;
        ps_buf_init(&u);
        if (norm_query(r->unit, strlen(r->unit), &u, err) < 0 || !u.len ||
            u.len > NUM_UNIT_MAX - 1) {
            ps_buf_free(&u);
            *st = SRCH_BAD_REQUEST;
            snprintf(err, PS_ERRLEN, "bad unit '%.60s'", r->unit);
            return NULL;
        }
        if (!has_range) {
            snprintf(term, sizeof term, PFX_UNIT "%s", u.data);
            facets[nf++] = keep(b, xap_q_term(term, strlen(term)));
            strlist_add(&b->fterms[2], term);
        } else {
            double lo = -1e308, hi = 1e308;
            if ((r->min && *r->min && parse_bound(r->min, "min", &lo, err)) ||
                (r->max && *r->max && parse_bound(r->max, "max", &hi, err))) {
                ps_buf_free(&u);
                *st = SRCH_BAD_REQUEST;
                return NULL;
            }
            if (lo > hi) {
                ps_buf_free(&u);
                *st = SRCH_BAD_REQUEST;
                snprintf(err, PS_ERRLEN, "min is greater than max");
                return NULL;
            }
            char los[NUM_UNIT_MAX + 9], his[NUM_UNIT_MAX + 9];
            memcpy(los, u.data, u.len + 1);
            memcpy(his, u.data, u.len + 1);
            num_sortable(lo, (unsigned char *)los + u.len + 1);
            num_sortable(hi, (unsigned char *)his + u.len + 1);
            xap_query *alts[NUM_SLOTS];
            b->has_range = 1;
            b->range_len = u.len + 9;
            memcpy(b->range_lo, los, b->range_len);
            memcpy(b->range_hi, his, b->range_len);
            for (unsigned k = 0; k < NUM_SLOTS; k++)
                alts[k] = keep(b, xap_q_value_range(SLOT_NUM0 + k, los,
                                                    u.len + 9, his, u.len + 9));
            facets[nf++] = combine(b, XAP_OR, alts, NUM_SLOTS);
        }
        ps_buf_free(&u);
    }
    if (!nf)
        return NULL;
    return combine(b, XAP_AND, facets, nf);
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

static void tally_add(tally *t, const xap_spy *sp, int part)
{
    for (size_t i = 0; i < sp->n; i++) {
        const char *v = sp->counts[i].value;
        size_t len = sp->counts[i].len, s = 0;
        for (int k = 0; k < part; k++) {
            const char *sep = memchr(v, FACET_SEP, len);
            if (!sep) {
                len = 0;
                break;
            }
            len -= (size_t)(sep + 1 - v);
            v = sep + 1;
        }
        const char *end = memchr(v, FACET_SEP, len);
        if (end)
            len = (size_t)(end - v);
        while (s < len) {
            const char *comma = memchr(v + s, ',', len - s);
            size_t e = comma ? (size_t)(comma - v) : len;
            if (e > s)
                tally_bump(t, v + s, e - s, sp->counts[i].count);
            s = e + 1;
        }
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
static json_t *hit_json(const xap_hit *h, const build *b)
{
    json_error_t je;
    json_t *d = json_loads(h->data, 0, &je);
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
    json_object_set_new(o, "score", json_real((double)(long)(h->weight * 1000) / 1000));
    static const char *const rest[] = {"regions", "sectors", "numbers"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(d, rest[i]);
        json_object_set(o, rest[i], v ? v : json_array());
    }
    json_decref(d);
    return o;
}

/* The Xapian way: the needles' matches enter a Xapian query as posting
 * sources next to the filter terms and value ranges. */
static int run_xapian(srch_engine *e, build *b, const qry *q,
                      const plan *plans, xap_query *filt,
                      const srch_request *r, tally tl[3], json_t *hits,
                      unsigned *total, char *err)
{
    /* Groups of ORed items, ANDed; negated items excluded. */
    xap_query *groups[QRY_MAX_ITEMS], *negs[QRY_MAX_ITEMS],
        *wholes[QRY_MAX_ITEMS];
    size_t ngroups = 0, nnegs = 0, nwholes = 0;
    for (int g = 0; g < q->ngroups; g++) {
        xap_query *alts[QRY_MAX_ITEMS];
        size_t na = 0;
        int neg = 0;
        xap_query *whole = NULL;
        for (size_t i = 0; i < q->n; i++) {
            if (q->items[i].group != g)
                continue;
            xap_query *w;
            xap_query *m = item_query(e, b, &plans[i], &w, err);
            if (!m)
                return -1;
            alts[na++] = m;
            neg = q->items[i].negated;
            whole = w;
        }
        if (!na)
            continue;
        if (neg)
            negs[nnegs++] = alts[0];
        else
            groups[ngroups++] = combine(b, XAP_OR, alts, na);
        if (na == 1 && whole)
            wholes[nwholes++] = whole;
    }
    xap_query *base = ngroups ? combine(b, XAP_AND, groups, ngroups)
                              : keep(b, xap_q_all());
    if (nnegs) {
        xap_query *pair[2] = {base, combine(b, XAP_OR, negs, nnegs)};
        base = keep(b, xap_q_combine(XAP_AND_NOT, pair, 2));
    }
    if (filt) {
        xap_query *pair[2] = {base, filt};
        base = keep(b, xap_q_combine(XAP_FILTER, pair, 2));
    }
    xap_query *tiers[2];
    size_t ntiers = 0;
    if (nwholes) {
        xap_query *w = combine(b, XAP_AND, wholes, nwholes);
        xap_query *p1[2] = {base, w};
        tiers[ntiers++] = keep(b, xap_q_combine(XAP_FILTER, p1, 2));
        tiers[ntiers++] = keep(b, xap_q_combine(XAP_AND_NOT, p1, 2));
    } else {
        tiers[ntiers++] = base;
    }

    unsigned slots[1] = {SLOT_FACETS};
    long want = r->limit, skip = r->offset;
    for (size_t t = 0; t < ntiers; t++) {
        xap_search_opts o;
        memset(&o, 0, sizeof o);
        o.offset = (unsigned)skip;
        o.limit = want > 0 ? (unsigned)want : 0;
        o.all = r->limit == 0;
        o.sort_slot = -1;
        o.exact = 1;
        o.spy_slots = slots;
        o.nspies = e->fx || r->no_facets ? 0 : 1;
        o.facets = r->no_facets ? NULL : e->fx;
        o.data_key = META_DATA;
        xap_result *res;
        if (xap_search(e->db, tiers[t], &o, &res, err) != XAP_OK)
            return -1;
        *total += res->total;
        for (size_t i = 0; i < res->nhits; i++) {
            json_t *h = hit_json(&res->hits[i], b);
            if (h)
                json_array_append_new(hits, h);
        }
        for (int k = 0; k < 3 && res->nspies; k++)
            tally_add(&tl[k], &res->spies[0], k);
        if (res->facet_counts)
            for (size_t i = 0; i < xap_facets_nterms(e->fx); i++)
                if (res->facet_counts[i])
                    tally_term(tl, xap_facets_term(e->fx, i),
                               res->facet_counts[i]);
        skip = skip > (long)res->total ? skip - (long)res->total : 0;
        if (r->limit)
            want -= (long)res->nhits;
        xap_result_free(res);
    }
    return 0;
}

/* Is a ranked before b?  Higher weight first, then lower docid, as
 * Xapian orders hits. */
static int ranks_before(const dset *d, size_t a, size_t b)
{
    if (d->w[a] != d->w[b])
        return d->w[a] > d->w[b];
    return d->ids[a] < d->ids[b];
}

static int by_rank(const void *x, const void *y, void *ctx)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return ranks_before(ctx, a, b) ? -1 : ranks_before(ctx, b, a) ? 1 : 0;
}

/* Indices of d's k best documents, best first, into out[0..k). */
static size_t top_k(const dset *d, size_t k, size_t *out)
{
    if (k > d->n)
        k = d->n;
    if (k == 0)
        return 0;
    if (k * 8 >= d->n) {
        size_t *all = ps_xmalloc(d->n * sizeof(size_t));
        for (size_t i = 0; i < d->n; i++)
            all[i] = i;
        qsort_r(all, d->n, sizeof(size_t), by_rank, (void *)d);
        memcpy(out, all, k * sizeof(size_t));
        free(all);
        return k;
    }
    /* A heap of the k best so far, the worst of them at its root. */
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (n == k && !ranks_before(d, i, out[0]))
            continue;
        size_t at;
        if (n < k) {
            at = n++;
            while (at && ranks_before(d, out[(at - 1) / 2], i)) {
                out[at] = out[(at - 1) / 2];
                at = (at - 1) / 2;
            }
        } else {
            at = 0;
            for (;;) {
                size_t c = 2 * at + 1;
                if (c >= n)
                    break;
                if (c + 1 < n && ranks_before(d, out[c + 1], out[c]) == 0)
                    c++;
                if (!ranks_before(d, i, out[c]))
                    break;
                out[at] = out[c];
                at = c;
            }
        }
        out[at] = i;
    }
    qsort_r(out, n, sizeof(size_t), by_rank, (void *)d);
    return n;
}

/* Byte-wise string order, as Xapian compares values. */
static int cmp_bytes(const unsigned char *a, size_t al, const char *b,
                     size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* 1 when one of document did's numeric mentions lies in the range (the
 * OP_VALUE_RANGE over every mention slot of run_xapian()). */
static int in_range(const xap_facets *fx, const build *b, unsigned did)
{
    const unsigned char *v;
    size_t n = xap_facets_values(fx, did, &v);
    for (size_t i = 0; i < n;) {
        size_t l = v[i];
        const unsigned char *val = v + i + 1;
        if (cmp_bytes(val, l, b->range_lo, b->range_len) >= 0 &&
            cmp_bytes(val, l, b->range_hi, b->range_len) <= 0)
            return 1;
        i += 1 + l;
    }
    return 0;
}

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

/* The C way: the same query evaluated over the needles' document sets,
 * ranked and tiered like the Xapian query of run_xapian(), with facet
 * filters, value ranges and counts from the in-memory facet index.
 * Xapian's matcher costs about 0.3 us per match, and facet counts need
 * every match, so a common string took tens of milliseconds there.
 * Returns 1 when done, 0 when there is no facet index (a one-off query:
 * building it costs more than Xapian), -1 with err on failure. */
static int run_fast(srch_engine *e, build *b, const qry *q, const plan *plans,
                    const srch_request *r, tally tl[3], json_t *hits,
                    unsigned *total, char *err)
{
    if (!e->fx)
        return 0;
    int positive = 0;
    for (size_t i = 0; i < q->n; i++)
        positive |= !q->items[i].negated;
    dset base, negs, wholes;
    int hb = 0, hn = 0, hw = 0, rc = 1;
    memset(&base, 0, sizeof base);
    memset(&negs, 0, sizeof negs);
    memset(&wholes, 0, sizeof wholes);
    if (!positive) {
        /* Only filters or exclusions: every passage, weight 0, as
         * Xapian's MatchAll gives them. */
        const unsigned *all;
        size_t n = xap_facets_docs(e->fx, &all);
        base.ids = ps_xmalloc((n ? n : 1) * sizeof(unsigned));
        base.w = ps_xcalloc(n ? n : 1, sizeof(double));
        if (n)
            memcpy(base.ids, all, n * sizeof(unsigned));
        base.n = n;
        hb = 1;
    }
    for (int g = 0; g < q->ngroups && rc > 0; g++) {
        dset grp;
        int hg = 0, neg = 0;
        size_t na = 0;
        const plan *last = NULL;
        memset(&grp, 0, sizeof grp);
        for (size_t i = 0; i < q->n && rc > 0; i++) {
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
                accumulate(&grp, &hg, &m, 1);
            dset_free(&m);
            neg = q->items[i].negated;
            last = p;
            na++;
        }
        if (rc > 0 && na && neg)
            accumulate(&negs, &hn, &grp, 1);
        else if (rc > 0 && na)
            accumulate(&base, &hb, &grp, 0);
        if (rc > 0 && na == 1 && last->whole) {
            const dset *x = contains_set(e, b, last->whole, last->wlen, err);
            if (!x)
                rc = -1;
            else
                accumulate(&wholes, &hw, x, 0);
        }
        dset_free(&grp);
    }
    if (rc > 0 && hn) {
        dset t;
        dset_andnot(&base, &negs, &t);
        dset_free(&base);
        base = t;
    }
    /* Facet filters: OR within a facet, AND across facets. */
    int want_idx[3][256];
    size_t nwant[3] = {0, 0, 0};
    int nfilters = 0;
    for (int k = 0; k < 3 && rc > 0; k++) {
        for (size_t i = 0; i < b->fterms[k].n && nwant[k] < 256; i++) {
            const char *t = b->fterms[k].v[i];
            int idx = strset_get(e->fxterms, t, strlen(t));
            if (idx >= 0)
                want_idx[k][nwant[k]++] = idx;
        }
        if (b->fterms[k].n)
            nfilters |= 1 << k;
    }
    if (rc > 0 && (nfilters || b->has_range)) {
        size_t out = 0;
        for (size_t i = 0; i < base.n; i++) {
            const unsigned *row;
            size_t nrow = xap_facets_row(e->fx, base.ids[i], &row);
            int ok = !b->has_range || in_range(e->fx, b, base.ids[i]);
            for (int k = 0; k < 3 && ok; k++) {
                if (!(nfilters & (1 << k)))
                    continue;
                int any = 0;
                for (size_t j = 0; j < nrow && !any; j++)
                    for (size_t x = 0; x < nwant[k] && !any; x++)
                        any = row[j] == (unsigned)want_idx[k][x];
                ok = any;
            }
            if (ok) {
                base.ids[out] = base.ids[i];
                base.w[out] = base.w[i];
                out++;
            }
        }
        base.n = out;
    }
    if (rc > 0) {
        *total = (unsigned)base.n;
        if (!r->no_facets) {
            size_t nt = xap_facets_nterms(e->fx);
            unsigned *counts = ps_xcalloc(nt ? nt : 1, sizeof(unsigned));
            for (size_t i = 0; i < base.n; i++) {
                const unsigned *row;
                size_t nrow = xap_facets_row(e->fx, base.ids[i], &row);
                for (size_t j = 0; j < nrow; j++)
                    counts[row[j]]++;
            }
            for (size_t i = 0; i < nt; i++)
                if (counts[i])
                    tally_term(tl, xap_facets_term(e->fx, i), counts[i]);
            free(counts);
        }
        dset tiers[2];
        size_t ntiers = 1;
        if (hw) {
            dset_filter(&base, &wholes, &tiers[0]);
            dset_andnot(&base, &wholes, &tiers[1]);
            ntiers = 2;
        } else {
            dset_copy(&base, &tiers[0]);
        }
        long want = r->limit, skip = r->offset;
        for (size_t t = 0; t < ntiers; t++) {
            const dset *d = &tiers[t];
            size_t k = r->limit == 0 ? d->n
                       : want > 0 ? (size_t)skip + (size_t)want : 0;
            size_t *idx = ps_xmalloc((k < d->n ? k : d->n) * sizeof(size_t) + 1);
            size_t got = top_k(d, k, idx);
            size_t taken = 0;
            for (size_t i = (size_t)skip; i < got && rc > 0; i++) {
                xap_hit h;
                memset(&h, 0, sizeof h);
                h.docid = d->ids[idx[i]];
                h.weight = d->w[idx[i]];
                if (xap_db_data(e->db, h.docid, META_DATA, &h.data, &h.len,
                                err) != XAP_OK) {
                    rc = -1;
                    break;
                }
                json_t *o = hit_json(&h, b);
                free(h.data);
                if (o)
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

static json_t *run_once(srch_engine *e, const srch_request *r,
                        srch_status *st, char *err);

/* A writer that commits while we read may make Xapian throw
 * DatabaseModifiedError (the revision read from was overwritten): open
 * the new revision and answer from it, a few times at most. */
#define MODIFIED_RETRIES 4

static int modified(srch_status st, const char *err)
{
    return st == SRCH_INTERNAL && strstr(err, "DatabaseModifiedError");
}

json_t *srch_run(srch_engine *e, const srch_request *r, srch_status *st,
                 char *err)
{
    json_t *res = run_once(e, r, st, err);
    for (int i = 0; !res && modified(*st, err) && i < MODIFIED_RETRIES; i++) {
        srch_refresh(e);
        res = run_once(e, r, st, err);
    }
    return res;
}

static json_t *run_once(srch_engine *e, const srch_request *r,
                        srch_status *st, char *err)
{
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
    xap_query *filt = filter_query(e, &b, r, st, err);
    if (*st != SRCH_OK)
        goto done;

    int fast = run_fast(e, &b, q, plans, r, tl, hits, &total, err);
    if (fast < 0) {
        *st = SRCH_INTERNAL;
        goto done;
    }
    if (!fast && run_xapian(e, &b, q, plans, filt, r, tl, hits, &total,
                            err) < 0) {
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

static int by_passage(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "passage"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "passage"));
    return x < y ? -1 : x > y;
}

int srch_file(srch_engine *e, const char *doc, char **path, char **format,
              char **encoding, srch_status *st, char *err)
{
    *st = SRCH_OK;
    *path = *format = *encoding = NULL;
    if (!doc || !*doc || !ps_utf8_valid(doc, strlen(doc))) {
        *st = SRCH_BAD_REQUEST;
        snprintf(err, PS_ERRLEN, "missing or invalid document id");
        return -1;
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
            return -1;
        }
    }
    ps_buf_free(&key);
    char *t1 = v && vl ? memchr(v, '\t', vl) : NULL;
    char *t2 = t1 ? memchr(t1 + 1, '\t', vl - (size_t)(t1 + 1 - v)) : NULL;
    if (!t2 || t2[1] != '/') {
        free(v);
        *st = SRCH_NOT_FOUND;
        snprintf(err, PS_ERRLEN, "unknown document '%.100s'", doc);
        return -1;
    }
    *format = ps_xstrndup(v, (size_t)(t1 - v));
    *encoding = ps_xstrndup(t1 + 1, (size_t)(t2 - t1 - 1));
    *path = ps_xstrndup(t2 + 1, vl - (size_t)(t2 + 1 - v));
    free(v);
    return 0;
}

static json_t *doc_once(srch_engine *e, const char *doc, const char *query,
                        srch_status *st, char *err);

json_t *srch_doc(srch_engine *e, const char *doc, const char *query,
                 srch_status *st, char *err)
{
    json_t *res = doc_once(e, doc, query, st, err);
    for (int i = 0; !res && modified(*st, err) && i < MODIFIED_RETRIES; i++) {
        srch_refresh(e);
        res = doc_once(e, doc, query, st, err);
    }
    return res;
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
    xap_query *q = xap_q_term(term, strlen(term));
    xap_search_opts o;
    memset(&o, 0, sizeof o);
    o.all = 1;
    o.sort_slot = -1;
    o.exact = 1;
    o.data_key = META_DATA;
    xap_result *res;
    xap_status xs = xap_search(e->db, q, &o, &res, err);
    xap_q_destroy(q);
    if (xs != XAP_OK) {
        *st = SRCH_INTERNAL;
        return NULL;
    }
    if (res->nhits == 0) {
        xap_result_free(res);
        *st = SRCH_NOT_FOUND;
        snprintf(err, PS_ERRLEN, "unknown document '%.100s'", doc);
        return NULL;
    }
    /* The query's strings, as the search marks them. */
    build b;
    memset(&b, 0, sizeof b);
    qry *qq = query && *query ? qry_parse(query, err) : NULL;
    if (query && *query && !qq) {
        xap_result_free(res);
        *st = SRCH_BAD_REQUEST;
        return NULL;
    }
    for (size_t i = 0; qq && i < qq->n; i++) {
        plan pl;
        if (item_plan(e, &b, &qq->items[i], &pl, err) < 0) {
            build_free(&b);
            qry_free(qq);
            xap_result_free(res);
            *st = SRCH_INTERNAL;
            return NULL;
        }
    }
    json_t *out = json_object();
    json_t *ps = json_array();
    for (size_t i = 0; i < res->nhits; i++) {
        json_error_t je;
        json_t *d = json_loads(res->hits[i].data, 0, &je);
        if (!d)
            continue;
        if (i == 0) {
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
    xap_result_free(res);
    build_free(&b);
    qry_free(qq);
    return out;
}
