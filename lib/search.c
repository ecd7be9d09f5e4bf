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
        for (size_t d = 0; d < si->nlen; d++)
            if (si->len[d]) {
                sum += si->len[d];
                count++;
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
    if (xap_facets_build(e->db, FACET_PREFIXES, 3, &fx, err) != XAP_OK)
        return -1;
    xap_facets_free(e->fx);
    e->fx = fx;
    return 1;
}

srch_engine *srch_open(const char *dbpath, const ana_res *res, char *err)
{
    xap_db *db;
    if (xap_db_open(dbpath, &db, err) != XAP_OK)
        return NULL;
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

/* Everything allocated while building one query, freed together. */
typedef struct build {
    xap_query **q;
    size_t nq, capq;
    char **s;                 /* strings: needles, word terms */
    size_t ns, caps;
    const char **needles;
    size_t nneedles, capneedles;
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

/* The exact-containment query of normalized s[0..n): every passage that
 * contains it, ranked by BM25 (see the file comment).  NULL with err set
 * when the index cannot be read. */
static xap_query *contains_query(srch_engine *e, build *b, const char *s,
                                 size_t n, char *err)
{
    if (load_shard_info(e, err) < 0)
        return NULL;
    size_t ns = e->nshards;
    gram_hits *h = ps_xcalloc(ns ? ns : 1, sizeof(gram_hits));
    xap_docs *docs = ps_xcalloc(ns ? ns : 1, sizeof(xap_docs));
    double **w = ps_xcalloc(ns ? ns : 1, sizeof(double *));
    xap_query *q = NULL;
    size_t df = 0;
    for (size_t k = 0; k < ns; k++) {
        fetch_ctx f = {e->db, k, NULL};
        if (gram_match(s, n, fetch, &f, (const unsigned (*)[2])e->shards[k].del,
                       e->shards[k].ndel, &h[k], err) < 0)
            goto out;
        df += h[k].n;
    }
    double N = xap_db_doccount(e->db);
    if (N < (double)df)
        N = (double)df;
    double idf = log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
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
        docs[k].ids = h[k].docs;
        docs[k].w = w[k];
        docs[k].n = h[k].n;
    }
    q = keep(b, xap_q_docs(e->db, docs, ns, idf * (BM25_K1 + 1)));
out:
    for (size_t k = 0; k < ns; k++) {
        gram_hits_free(&h[k]);
        free(w[k]);
    }
    free(h);
    free(w);
    free(docs);
    return q;
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

/* Builds the must-match query of one item; *whole gets the "contains the
 * whole string" query of unquoted multi-word items (else NULL). */
static xap_query *item_query(srch_engine *e, build *b, const qry_item *it,
                             xap_query **whole, char *err)
{
    *whole = NULL;
    const char *t = it->text;
    size_t tl = strlen(t);
    wordlist w;
    w.n = 0;
    if (tok_run(ana_tokenizer(e->ana), t, tl, collect, &w, err) < 0)
        return NULL;
    size_t multi = 0;
    for (size_t k = 0; k < w.n; k++)
        if (ps_utf8_count(t + w.s[k], w.e[k] - w.s[k]) > 1)
            multi++;
    if (it->negated)
        return contains_query(e, b, t, tl, err);
    add_needle(b, t);
    if (it->quoted || w.n <= 1 || (w.s[0] == 0 && w.e[0] == tl))
        return contains_query(e, b, t, tl, err);
    /* Unquoted, several words: each must be contained. */
    xap_query *parts[256];
    size_t np = 0;
    for (size_t k = 0; k < w.n; k++) {
        size_t wl = w.e[k] - w.s[k];
        if (multi && ps_utf8_count(t + w.s[k], wl) == 1)
            continue;
        char *word = keep_str(b, ps_xstrndup(t + w.s[k], wl));
        add_needle(b, word);
        if (!(parts[np++] = contains_query(e, b, word, wl, err)))
            return NULL;
    }
    if (!(*whole = contains_query(e, b, t, tl, err)))
        return NULL;
    return combine(b, XAP_AND, parts, np);
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
    static const char *const first[] = {"doc", "title", "passage", "heading",
                                        "text"};
    for (size_t i = 0; i < 5; i++) {
        json_t *v = json_object_get(d, first[i]);
        json_object_set(o, first[i], v ? v : json_null());
    }
    const char *text = json_string_value(json_object_get(d, "text"));
    ps_buf snip;
    ps_buf_init(&snip);
    snip_make(text ? text : "", b->needles, b->nneedles, &snip);
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

json_t *srch_run(srch_engine *e, const srch_request *r, srch_status *st,
                 char *err)
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
            xap_query *m = item_query(e, &b, &q->items[i], &w, err);
            if (!m) {
                *st = SRCH_INTERNAL;
                goto done;
            }
            alts[na++] = m;
            neg = q->items[i].negated;
            whole = w;
        }
        if (!na)
            continue;
        if (neg)
            negs[nnegs++] = alts[0];
        else
            groups[ngroups++] = combine(&b, XAP_OR, alts, na);
        if (na == 1 && whole)
            wholes[nwholes++] = whole;
    }
    xap_query *base = ngroups ? combine(&b, XAP_AND, groups, ngroups)
                              : keep(&b, xap_q_all());
    if (nnegs) {
        xap_query *pair[2] = {base, combine(&b, XAP_OR, negs, nnegs)};
        base = keep(&b, xap_q_combine(XAP_AND_NOT, pair, 2));
    }
    xap_query *filt = filter_query(e, &b, r, st, err);
    if (*st != SRCH_OK)
        goto done;
    if (filt) {
        xap_query *pair[2] = {base, filt};
        base = keep(&b, xap_q_combine(XAP_FILTER, pair, 2));
    }
    xap_query *tiers[2];
    size_t ntiers = 0;
    if (nwholes) {
        xap_query *w = combine(&b, XAP_AND, wholes, nwholes);
        xap_query *p1[2] = {base, w};
        tiers[ntiers++] = keep(&b, xap_q_combine(XAP_FILTER, p1, 2));
        tiers[ntiers++] = keep(&b, xap_q_combine(XAP_AND_NOT, p1, 2));
    } else {
        tiers[ntiers++] = base;
    }

    unsigned slots[1] = {SLOT_FACETS};
    tally tl[3];
    for (int k = 0; k < 3; k++) {
        memset(&tl[k], 0, sizeof tl[k]);
        tl[k].idx = strset_create();
    }
    json_t *hits = json_array();
    unsigned total = 0;
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
        if (xap_search(e->db, tiers[t], &o, &res, err) != XAP_OK) {
            *st = SRCH_INTERNAL;
            json_decref(hits);
            for (int k = 0; k < 3; k++)
                tally_free(&tl[k]);
            goto done;
        }
        total += res->total;
        for (size_t i = 0; i < res->nhits; i++) {
            json_t *h = hit_json(&res->hits[i], &b);
            if (h)
                json_array_append_new(hits, h);
        }
        for (int k = 0; k < 3 && res->nspies; k++)
            tally_add(&tl[k], &res->spies[0], k);
        if (res->facet_counts) {
            for (size_t i = 0; i < xap_facets_nterms(e->fx); i++) {
                const char *term = xap_facets_term(e->fx, i);
                unsigned n = res->facet_counts[i];
                int part = term[0] == PFX_REGION[0] ? 0 : term[0] == PFX_SECTOR[0] ? 1 : 2;
                if (n)
                    tally_bump(&tl[part], term + 1, strlen(term + 1), n);
            }
        }
        skip = skip > (long)res->total ? skip - (long)res->total : 0;
        if (r->limit)
            want -= (long)res->nhits;
        xap_result_free(res);
    }
    out = json_object();
    json_object_set_new(out, "query", json_string(r->query ? r->query : ""));
    json_object_set_new(out, "total", json_integer(total));
    json_object_set_new(out, "offset", json_integer(r->offset));
    json_object_set_new(out, "limit", json_integer(r->limit));
    json_object_set_new(out, "took_ms", json_real(0));
    json_object_set_new(out, "hits", hits);
    json_t *facets = json_object();
    json_object_set_new(facets, "region", tally_json(e, &tl[0], 1));
    json_object_set_new(facets, "sector", tally_json(e, &tl[1], 0));
    json_object_set_new(facets, "unit", tally_json(e, &tl[2], 0));
    json_object_set_new(out, "facets", facets);
    for (int k = 0; k < 3; k++)
        tally_free(&tl[k]);
    double ms = (ps_now() - t0) * 1000.0;
    json_object_set_new(out, "took_ms", json_real((double)(long)(ms * 1000) / 1000));
done:
    build_free(&b);
    qry_free(q);
    return out;
}

json_t *srch_doc(srch_engine *e, const char *doc, srch_status *st, char *err)
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
    o.sort_slot = SLOT_ORDINAL;
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
        }
        json_t *p = json_object();
        static const char *const keys[] = {"passage", "heading", "text",
                                           "regions", "sectors", "numbers"};
        for (size_t k = 0; k < 6; k++) {
            json_t *v = json_object_get(d, keys[k]);
            json_object_set(p, keys[k], v ? v : json_null());
        }
        json_array_append_new(ps, p);
        json_decref(d);
    }
    json_object_set_new(out, "passages", ps);
    xap_result_free(res);
    return out;
}
