/*
 * analyze.c: the indexing pipeline for one document.
 *
 *   text -> passages (passage.c) -> per passage: words (tokenize.c),
 *   numeric mentions (numbers.c), region mentions (regions.c), sectors
 *   (sectors.c) -> one Xapian document, whose text the caller also gives
 *   to the character index (grams.c).  Words serve region and sector
 *   detection; matching and ranking use the character index.
 *
 * The document's own region is chosen once all passages are read: the
 * region named in the title, else the deepest region that holds at least
 * half of all region mentions.  Ambiguous names (新城区) are resolved
 * against it.
 */
#include "analyze.h"
#include "normalize.h"
#include "schema.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANDS 8

/* Region names and sector keywords, normalized once for both lexicons:
 * each as a length (size_t) and its bytes. */
static void name_add(void *ctx, const char *s, size_t n)
{
    ps_buf b;
    ps_buf_init(&b);
    char err[PS_ERRLEN];
    if (norm_query(s, n, &b, err) == 0 && b.len) {
        ps_buf_add(ctx, (const char *)&b.len, sizeof b.len);
        ps_buf_add(ctx, b.data, b.len);
    }
    ps_buf_free(&b);
}

static void lex_add_all(tok_lexicon *lx, const ps_buf *names)
{
    for (size_t i = 0; i + sizeof(size_t) <= names->len;) {
        size_t n;
        memcpy(&n, names->data + i, sizeof n);
        i += sizeof n;
        tok_lexicon_add(lx, names->data + i, n);
        i += n;
    }
}

static void min_chars(void *ctx, const char *s, size_t n)
{
    size_t *m = ctx, c = ps_utf8_valid(s, n) ? ps_utf8_count(s, n) : 1;
    if (c < *m)
        *m = c;
}

/* The word lexicon (with every region name and sector keyword, so they
 * come out as words) and the names alone, for region detection. */
struct ana_words {
    pthread_mutex_t lock;
    int loaded;               /* 1 loaded, -1 failed (err says why) */
    char err[PS_ERRLEN];
    tok_lexicon *lex;
    tok_lexicon *names;
    size_t min_name;          /* fewest characters of a name or keyword */
};

static int words_load(const ana_res *r, char *err)
{
    ana_words *w = r->words;
    pthread_mutex_lock(&w->lock);
    if (w->loaded == 0) {
        w->loaded = -1;
        if ((w->lex = tok_lexicon_load(w->err))) {
            ps_buf names;
            ps_buf_init(&names);
            reg_each_alias(r->gaz, name_add, &names);
            sec_each_keyword(r->sec, name_add, &names);
            lex_add_all(w->lex, &names);
            w->names = tok_lexicon_create();
            lex_add_all(w->names, &names);
            ps_buf_free(&names);
            /* Words shorter than every name and keyword need no lookup:
             * most single characters, half the words of Chinese text. */
            w->min_name = 6;        /* a region code */
            reg_each_alias(r->gaz, min_chars, &w->min_name);
            sec_each_keyword(r->sec, min_chars, &w->min_name);
            w->loaded = 1;
        }
    }
    int rc = w->loaded == 1 ? 0 : -1;
    if (rc < 0)
        memcpy(err, w->err, PS_ERRLEN);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

const tok_lexicon *ana_lexicon(const ana_res *r, int names, char *err)
{
    if (words_load(r, err) < 0)
        return NULL;
    return names ? r->words->names : r->words->lex;
}

ana_res *ana_res_load(int words_later, char *err)
{
    ana_res *r = ps_xcalloc(1, sizeof *r);
    r->words = ps_xcalloc(1, sizeof *r->words);
    pthread_mutex_init(&r->words->lock, NULL);
    if (!(r->units = num_units_load(err)) || !(r->gaz = reg_load(err)) ||
        !(r->sec = sec_load(err)) || (!words_later && words_load(r, err) < 0)) {
        ana_res_destroy(r);
        return NULL;
    }
    return r;
}

void ana_res_destroy(ana_res *r)
{
    if (!r)
        return;
    if (r->words) {
        tok_lexicon_destroy(r->words->lex);
        tok_lexicon_destroy(r->words->names);
        pthread_mutex_destroy(&r->words->lock);
        free(r->words);
    }
    num_units_destroy(r->units);
    reg_destroy(r->gaz);
    sec_destroy(r->sec);
    free(r);
}

typedef struct word {
    size_t start, end;
} word;

/* A region mention before resolution. */
typedef struct rmention {
    int cands[MAX_CANDS];
    size_t n;
} rmention;

typedef struct plist {          /* per-passage analysis results */
    word *words;
    size_t nwords, capwords;
    rmention *rm;
    size_t nrm, caprm;
} plist;

struct ana_ctx {
    const ana_res *res;
    char **doc_terms;           /* the document's metadata terms */
    size_t ndoc_terms;
    char doc_date[16];          /* its date, for SLOT_DATE */
    tok_state *tok;
    xap_doc *doc;
    plist *pl;
    size_t cappl;
    int *rcount;                /* per region: rolled-up mentions */
    int facets;                 /* extract numbers, regions, sectors */
    sec_score score;
};

ana_ctx *ana_ctx_create(const ana_res *r, char *err)
{
    (void)err;
    ana_ctx *c = ps_xcalloc(1, sizeof *c);
    c->res = r;
    c->tok = NULL;          /* made when first needed (ana_tokenizer) */
    c->doc = xap_doc_create();
    c->rcount = ps_xcalloc(reg_count(r->gaz), sizeof(int));
    c->facets = 1;
    return c;
}

void ana_ctx_destroy(ana_ctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cappl; i++) {
        free(c->pl[i].words);
        free(c->pl[i].rm);
    }
    free(c->pl);
    free(c->rcount);
    xap_doc_destroy(c->doc);
    tok_state_destroy(c->tok);
    ana_ctx_set_doc_terms(c, NULL, 0, NULL);
    free(c);
}

tok_state *ana_tokenizer(ana_ctx *c, char *err)
{
    const tok_lexicon *lex;
    if (!c->tok && (lex = ana_lexicon(c->res, 0, err)))
        c->tok = tok_state_create(lex, err);
    return c->tok;
}

void ana_ctx_set_facets(ana_ctx *c, int on)
{
    c->facets = on;
}

void ana_ctx_set_doc_terms(ana_ctx *c, const char *const *terms, size_t n,
                           const char *date)
{
    for (size_t i = 0; i < c->ndoc_terms; i++)
        free(c->doc_terms[i]);
    free(c->doc_terms);
    c->doc_terms = n ? ps_xmalloc(n * sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++)
        c->doc_terms[i] = ps_xstrdup(terms[i]);
    c->ndoc_terms = n;
    snprintf(c->doc_date, sizeof c->doc_date, "%s", date ? date : "");
}

void ana_file_term(const char *docid, char *out, size_t outlen)
{
    size_t n = strlen(docid);
    if (n <= MAX_FILE_TERM) {
        snprintf(out, outlen, PFX_FILE "%s", docid);
        return;
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)docid[i];
        h *= 1099511628211ull;
    }
    snprintf(out, outlen, PFX_FILE "#%016llx%.100s", (unsigned long long)h,
             docid + n - 100);
}

static int collect_word(void *ctx, const char *tok, size_t n, size_t s,
                        size_t e)
{
    (void)tok;
    (void)n;
    plist *p = ctx;
    if (p->nwords == p->capwords) {
        p->capwords = p->capwords ? 2 * p->capwords : 16;
        p->words = ps_xrealloc(p->words, p->capwords * sizeof(word));
    }
    p->words[p->nwords].start = s;
    p->words[p->nwords].end = e;
    p->nwords++;
    return 0;
}

/* Words of text[base..) go into the list with offsets into text. */
typedef struct clause_ctx {
    plist *p;
    size_t base;
} clause_ctx;

static int collect_clause_word(void *ctx, const char *tok, size_t n,
                               size_t s, size_t e)
{
    clause_ctx *cc = ctx;
    return collect_word(cc->p, tok, n, cc->base + s, cc->base + e);
}

/* Characters at which ICU always breaks and which no name contains:
 * spaces and punctuation. */
static int clause_break(uint32_t cp)
{
    return ps_is_space(cp) ||
           (ps_is_cjkish(cp) && !ps_is_han(cp) && !ps_is_alnum(cp));
}

/* Words only matter here when they are region names or sector keywords,
 * so only clauses (text between punctuation) that contain one are given
 * to the word breaker; its segmentation of a clause does not depend on
 * the text around it.  A third of the indexing time was word breaking. */
static int words_of(ana_ctx *c, const char *t, size_t n, plist *p, char *err)
{
    const tok_lexicon *names = c->res->words->names;
    size_t i = 0;
    while (i < n) {
        size_t s = i, e, k;
        int want = 0;
        while (i < n) {
            k = i;
            uint32_t cp = ps_utf8_next(t, n, &k);
            if (clause_break(cp))
                break;
            if (!want && tok_lexicon_word_at(names, t + i, n - i))
                want = 1;
            i = k;
        }
        e = i;
        if (i < n)
            ps_utf8_next(t, n, &i);         /* the break itself */
        if (!want)
            continue;
        clause_ctx cc = {p, s};
        if (tok_run(c->tok, t + s, e - s, collect_clause_word, &cc, err) < 0)
            return -1;
    }
    return 0;
}

/* 0 when word w[0..n) cannot be a region name or sector keyword: too
 * short, or no name starts with its first two characters. */
static int may_be_name(const ana_res *r, const char *w, size_t n)
{
    const ana_words *ws = r->words;
    return n >= ws->min_name && ps_utf8_count(w, n) >= ws->min_name &&
           tok_lexicon_may_start(ws->names, w, n);
}

static void find_regions(const ana_res *r, plist *p, const char *text)
{
    p->nrm = 0;
    for (size_t i = 0; i < p->nwords; i++) {
        if (!may_be_name(r, text + p->words[i].start,
                         p->words[i].end - p->words[i].start))
            continue;
        int cands[MAX_CANDS];
        size_t n = reg_lookup(r->gaz, text + p->words[i].start,
                              p->words[i].end - p->words[i].start, cands,
                              MAX_CANDS);
        if (!n)
            continue;
        if (p->nrm == p->caprm) {
            p->caprm = p->caprm ? 2 * p->caprm : 16;
            p->rm = ps_xrealloc(p->rm, p->caprm * sizeof(rmention));
        }
        memcpy(p->rm[p->nrm].cands, cands, n * sizeof(int));
        p->rm[p->nrm].n = n;
        p->nrm++;
    }
}

/* Region of the whole document (see the file comment); -1 if none. */
static int doc_region(ana_ctx *c, const plist *title, size_t npl)
{
    const reg_gazetteer *g = c->res->gaz;
    int best = -1;
    for (size_t i = 0; i < title->nrm; i++)
        if (title->rm[i].n == 1 &&
            (best < 0 || reg_level(g, title->rm[i].cands[0]) > reg_level(g, best)))
            best = title->rm[i].cands[0];
    if (best >= 0)
        return best;
    size_t nreg = reg_count(g);
    int total = 0;
    for (size_t k = 0; k < npl; k++)
        for (size_t i = 0; i < c->pl[k].nrm; i++) {
            if (c->pl[k].rm[i].n != 1)
                continue;
            total++;
            for (int a = c->pl[k].rm[i].cands[0]; a >= 0; a = reg_parent(g, a))
                c->rcount[a]++;
        }
    if (total >= 2) {
        int cur = -1;
        for (;;) {
            int next = -1;
            for (size_t i = 0; i < nreg; i++)
                if (c->rcount[i] * 2 >= total && reg_parent(g, (int)i) == cur &&
                    (next < 0 || c->rcount[i] > c->rcount[next]))
                    next = (int)i;
            if (next < 0)
                break;
            cur = next;
        }
        best = cur;
    }
    memset(c->rcount, 0, nreg * sizeof(int));
    return best;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, de-duplicated, comma-joined strings. */
static void join_set(char **items, size_t n, ps_buf *out)
{
    qsort(items, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(items[i], items[i - 1]) == 0)
            continue;
        if (out->len)
            ps_buf_addc(out, ',');
        ps_buf_adds(out, items[i]);
    }
    if (!out->data)
        ps_buf_add(out, "", 0);
}

/* Builds and emits the Xapian document of passage k. */
static int emit_passage(ana_ctx *c, const psg_doc *pd, size_t k,
                        const char *docid, const char *fterm, int docreg,
                        const char *format, int ocr, ana_emit emit, void *ectx)
{
    const ana_res *r = c->res;
    const reg_gazetteer *g = r->gaz;
    const psg_passage *ps = &pd->passages[k];
    plist *p = &c->pl[k];
    xap_doc *d = c->doc;
    xap_doc_clear(d);

    xap_doc_add_boolean(d, fterm, strlen(fterm));
    for (size_t i = 0; i < c->ndoc_terms; i++)
        xap_doc_add_boolean(d, c->doc_terms[i], strlen(c->doc_terms[i]));
    if (c->doc_date[0])
        xap_doc_set_value(d, SLOT_DATE, c->doc_date, strlen(c->doc_date));
    /* The order among equal scores: document id, then passage. */
    {
        size_t dl = strlen(docid);
        char *key = ps_xmalloc(dl + 5);
        memcpy(key, docid, dl);
        key[dl] = '\0';
        key[dl + 1] = (char)(k >> 24);
        key[dl + 2] = (char)(k >> 16);
        key[dl + 3] = (char)(k >> 8);
        key[dl + 4] = (char)k;
        xap_doc_set_value(d, SLOT_ORDER, key, dl + 5);
        free(key);
    }

    sec_score_reset(&c->score);
    for (size_t i = 0; c->facets && i < p->nwords; i++) {
        const char *w = ps->text + p->words[i].start;
        size_t wl = p->words[i].end - p->words[i].start;
        if (may_be_name(r, w, wl))
            sec_score_word(r->sec, &c->score, w, wl);
    }

    /* The passage's JSON, written directly (a jansson object per passage
     * cost 5% of indexing). */
    size_t textlen = strlen(ps->text);
    ps_buf js;
    ps_buf_init(&js);
    ps_buf_reserve(&js, textlen + 512);
    ps_buf_adds(&js, "{\"doc\":");
    ps_buf_add_json(&js, docid, strlen(docid));
    ps_buf_adds(&js, ",\"title\":");
    ps_buf_add_json(&js, pd->title_src, strlen(pd->title_src));
    ps_buf_printf(&js, ",\"passage\":%d,\"kind\":\"%s\"", ps->ordinal,
                  psg_kind_names[ps->kind]);
    if (ps->page)
        ps_buf_printf(&js, ",\"page\":%d", ps->page);
    if (format)
        ps_buf_printf(&js, ",\"format\":\"%s\"", format);
    if (ocr)
        ps_buf_adds(&js, ",\"ocr\":true");
    ps_buf_adds(&js, ",\"heading\":");
    if (ps->heading_src)
        ps_buf_add_json(&js, ps->heading_src, strlen(ps->heading_src));
    else
        ps_buf_adds(&js, "null");
    /* Shown as the source writes it; matched on the normalized text. */
    ps_buf_adds(&js, ",\"text\":");
    ps_buf_add_json(&js, ps->src, strlen(ps->src));

    /* Regions: resolved mentions plus the document's region. */
    int ctxreg[64];
    size_t nctx = 0;
    if (docreg >= 0)
        ctxreg[nctx++] = docreg;
    for (size_t i = 0; i < p->nrm && nctx < 64; i++)
        if (p->rm[i].n == 1)
            ctxreg[nctx++] = p->rm[i].cands[0];
    int regs[64];
    size_t nregs = 0;
    for (size_t i = 0; i <= p->nrm && nregs < 64; i++) {
        int x = i < p->nrm ? reg_resolve(g, p->rm[i].cands, p->rm[i].n,
                                         ctxreg, nctx)
                           : docreg;
        if (x < 0)
            continue;
        size_t j = 0;
        while (j < nregs && regs[j] != x)
            j++;
        if (j == nregs)
            regs[nregs++] = x;
    }
    char *codes[64 * REG_MAX_DEPTH];
    size_t ncodes = 0;
    char term[128];
    ps_buf_adds(&js, ",\"regions\":[");
    for (size_t i = 0; i < nregs; i++) {
        if (i)
            ps_buf_addc(&js, ',');
        ps_buf_add_json(&js, reg_name(g, regs[i]), strlen(reg_name(g, regs[i])));
        for (int a = regs[i]; a >= 0; a = reg_parent(g, a)) {
            codes[ncodes++] = (char *)reg_code(g, a);
            snprintf(term, sizeof term, PFX_REGION "%s", reg_code(g, a));
            xap_doc_add_boolean(d, term, strlen(term));
        }
    }
    ps_buf_addc(&js, ']');
    /* The same regions as codes (names are not unique: 朝阳区). */
    ps_buf_adds(&js, ",\"region_codes\":[");
    for (size_t i = 0; i < nregs; i++) {
        if (i)
            ps_buf_addc(&js, ',');
        ps_buf_add_json(&js, reg_code(g, regs[i]), strlen(reg_code(g, regs[i])));
    }
    ps_buf_addc(&js, ']');
    /* The facet slot: regions FACET_SEP sectors FACET_SEP units. */
    ps_buf facet, set;
    ps_buf_init(&facet);
    ps_buf_init(&set);
    join_set(codes, ncodes, &set);
    ps_buf_add(&facet, set.data, set.len);
    ps_buf_addc(&facet, FACET_SEP);

    /* Sectors. */
    uint32_t labels = sec_score_labels(r->sec, &c->score);
    ps_buf_adds(&js, ",\"sectors\":[");
    set.len = 0;
    for (size_t i = 0; i < sec_count(r->sec); i++) {
        if (!(labels & (1u << i)))
            continue;
        if (set.len)
            ps_buf_addc(&js, ',');
        ps_buf_add_json(&js, sec_name(r->sec, (int)i), strlen(sec_name(r->sec, (int)i)));
        snprintf(term, sizeof term, PFX_SECTOR "%s", sec_name(r->sec, (int)i));
        xap_doc_add_boolean(d, term, strlen(term));
        if (set.len)
            ps_buf_addc(&set, ',');
        ps_buf_adds(&set, sec_name(r->sec, (int)i));
    }
    ps_buf_addc(&js, ']');
    ps_buf_add(&facet, set.data ? set.data : "", set.len);
    ps_buf_addc(&facet, FACET_SEP);

    /* Numeric mentions. */
    num_mention *ms = NULL;
    size_t nm = c->facets ? num_extract(r->units, ps->text, strlen(ps->text), &ms)
                          : 0;
    ps_buf_adds(&js, ",\"numbers\":[");
    char *units[256];
    size_t nunits = 0;
    for (size_t i = 0; i < nm; i++) {
        double v = ms[i].value;
        ps_buf_adds(&js, i ? ",{\"surface\":" : "{\"surface\":");
        ps_buf_add_json(&js, ms[i].surface, strlen(ms[i].surface));
        if (v == (double)(long long)v && v < 9e15 && v > -9e15)
            ps_buf_printf(&js, ",\"value\":%lld", (long long)v);
        else if (v == v && v - v == 0)
            ps_buf_printf(&js, ",\"value\":%.17g", v);
        else
            ps_buf_adds(&js, ",\"value\":null");
        ps_buf_adds(&js, ",\"unit\":");
        ps_buf_add_json(&js, ms[i].unit, strlen(ms[i].unit));
        ps_buf_addc(&js, '}');
        if (!ms[i].unit[0])
            continue;
        snprintf(term, sizeof term, PFX_UNIT "%s", ms[i].unit);
        xap_doc_add_boolean(d, term, strlen(term));
        if (nunits < sizeof units / sizeof units[0])
            units[nunits++] = ms[i].unit;
        if (i >= NUM_SLOTS)
            continue;       /* listed and faceted, but not range-filterable */
        size_t ul = strlen(ms[i].unit);
        char slot[NUM_UNIT_MAX + 9];
        memcpy(slot, ms[i].unit, ul);
        slot[ul] = '\0';
        num_sortable(v, (unsigned char *)slot + ul + 1);
        xap_doc_set_value(d, SLOT_NUM0 + (unsigned)i, slot, ul + 9);
    }
    ps_buf_adds(&js, "]}");
    set.len = 0;
    join_set(units, nunits, &set);
    ps_buf_add(&facet, set.data, set.len);
    /* The document's agencies, type and year (its Y, A, T terms). */
    static const char pfx[3] = {PFX_AGENCY[0], PFX_TYPE[0], PFX_YEAR[0]};
    for (size_t part = 0; part < 3; part++) {
        ps_buf_addc(&facet, FACET_SEP);
        int first = 1;
        for (size_t i = 0; i < c->ndoc_terms; i++) {
            if (c->doc_terms[i][0] != pfx[part])
                continue;
            if (!first)
                ps_buf_addc(&facet, FACET_MEMBER);
            ps_buf_adds(&facet, c->doc_terms[i] + 1);
            first = 0;
        }
    }
    xap_doc_set_value(d, SLOT_FACETS, facet.data, facet.len);
    ps_buf_free(&set);
    ps_buf_free(&facet);
    free(ms);

    int rc = emit(ectx, d, ps->text, textlen, js.data, js.len);
    ps_buf_free(&js);
    return rc;
}

/* The most specific region the document's first agency with one names
 * unambiguously; -1 for none, -2 with err on failure. */
static int agency_region(ana_ctx *c, char *err)
{
    const reg_gazetteer *g = c->res->gaz;
    plist p;
    memset(&p, 0, sizeof p);
    int best = -1;
    for (size_t i = 0; i < c->ndoc_terms && best < 0; i++) {
        const char *t = c->doc_terms[i];
        if (t[0] != PFX_AGENCY[0])
            continue;
        p.nwords = 0;
        if (tok_run(c->tok, t + 1, strlen(t + 1), collect_word, &p, err) < 0) {
            best = -2;
            break;
        }
        find_regions(c->res, &p, t + 1);
        for (size_t k = 0; k < p.nrm; k++)
            if (p.rm[k].n == 1 &&
                (best < 0 || reg_level(g, p.rm[k].cands[0]) > reg_level(g, best)))
                best = p.rm[k].cands[0];
    }
    free(p.words);
    free(p.rm);
    return best;
}

/* The per-passage lists are kept for the next document, but not those
 * of one very long document (a spreadsheet of 100,000 rows): the rest
 * of the run would hold them. */
#define PL_KEPT 4096

static void release_plists(ana_ctx *c)
{
    if (c->cappl <= PL_KEPT)
        return;
    for (size_t i = PL_KEPT; i < c->cappl; i++) {
        free(c->pl[i].words);
        free(c->pl[i].rm);
    }
    c->pl = ps_xrealloc(c->pl, PL_KEPT * sizeof(plist));
    c->cappl = PL_KEPT;
}

int ana_document(ana_ctx *c, const char *docid, const psg_input *in,
                 size_t nin, const char *title_hint, const char *format,
                 int ocr, ana_emit emit, void *ectx, size_t *npassages,
                 char *err)
{
    *npassages = 0;
    if (!ana_tokenizer(c, err))
        return -1;
    psg_doc *pd = psg_parse_input(in, nin, title_hint, err);
    if (!pd)
        return -1;
    if (pd->npassages + 1 > c->cappl) {
        size_t cap = pd->npassages + 1;
        c->pl = ps_xrealloc(c->pl, cap * sizeof(plist));
        memset(c->pl + c->cappl, 0, (cap - c->cappl) * sizeof(plist));
        c->cappl = cap;
    }
    /* Pass 1: words and region candidates of every passage and the title. */
    size_t np = pd->npassages;
    for (size_t k = 0; k <= np; k++) {
        plist *p = &c->pl[k];
        const char *t = k < np ? pd->passages[k].text : pd->title;
        p->nwords = 0;
        /* Words serve region and sector detection only. */
        int rc = !c->facets ? 0
                 : k < np   ? words_of(c, t, strlen(t), p, err)
                            : tok_run(c->tok, t, strlen(t), collect_word, p, err);
        if (rc < 0) {
            psg_doc_free(pd);
            return -1;
        }
        p->nrm = 0;
        if (c->facets)
            find_regions(c->res, p, t);
    }
    int docreg = doc_region(c, &c->pl[np], np);
    /* The issuing agency's region (赤峰市人民政府 -> 赤峰市) comes first,
     * unless the title names a place within it. */
    int agreg = c->facets ? agency_region(c, err) : -1;
    if (agreg == -2) {
        psg_doc_free(pd);
        return -1;
    }
    if (agreg >= 0 && !(docreg >= 0 && reg_is_within(c->res->gaz, docreg, agreg)))
        docreg = agreg;
    /* Pass 2: one Xapian document per passage. */
    char fterm[MAX_FILE_TERM + 32];
    ana_file_term(docid, fterm, sizeof fterm);
    for (size_t k = 0; k < np; k++) {
        if (emit_passage(c, pd, k, docid, fterm, docreg, format, ocr, emit,
                         ectx)) {
            snprintf(err, PS_ERRLEN, "stopped while writing passage %zu", k);
            psg_doc_free(pd);
            return -1;
        }
    }
    *npassages = np;
    psg_doc_free(pd);
    release_plists(c);
    return 0;
}
