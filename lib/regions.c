/*
 * regions.c: gazetteer loading, aliases and mention resolution.
 *
 * Aliases: provinces and prefectures are also known without their suffix
 * (内蒙古自治区 -> 内蒙古, 赤峰市 -> 赤峰, 锡林郭勒盟 -> 锡林郭勒, 延边朝鲜族
 * 自治州 -> 延边).  County-level names are matched in full, and two-character
 * ones (城区, 矿区, 和县) not at all: they are ordinary words far more often
 * than places.
 */
#include "regions.h"
#include "strset.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_NAME_MAX 64      /* bytes: the longest name is 13 characters */

typedef struct node {
    char code[8];
    char *name;
    int parent;
    int level;
} node;

typedef struct cands {
    int *idx;
    size_t n;
} cands;

struct reg_gazetteer {
    node *nodes;
    size_t n;
    strset *codes;        /* code -> index */
    strset *aliases;      /* alias -> index into alias_cands */
    cands *alias_cands;
    size_t nalias, capalias;
    char **alias_names;
};

static void add_alias(reg_gazetteer *g, const char *s, size_t n, int idx)
{
    if (ps_utf8_count(s, n) < 2)
        return;
    int a = strset_get(g->aliases, s, n);
    if (a < 0) {
        if (g->nalias == g->capalias) {   /* doubling: loading is linear */
            g->capalias = g->capalias ? 2 * g->capalias : 1024;
            g->alias_cands = ps_xrealloc(g->alias_cands,
                                         g->capalias * sizeof(cands));
            g->alias_names = ps_xrealloc(g->alias_names,
                                         g->capalias * sizeof(char *));
        }
        a = (int)g->nalias++;
        g->alias_cands[a].idx = NULL;
        g->alias_cands[a].n = 0;
        g->alias_names[a] = ps_xstrndup(s, n);
        strset_put(g->aliases, s, n, a);
    }
    cands *c = &g->alias_cands[a];
    for (size_t k = 0; k < c->n; k++)
        if (c->idx[k] == idx)
            return;
    c->idx = ps_xrealloc(c->idx, (c->n + 1) * sizeof(int));
    c->idx[c->n++] = idx;
}

static size_t strip_suffix(const char *s, size_t n, const char *const *sfx)
{
    for (int k = 0; sfx[k]; k++) {
        size_t l = strlen(sfx[k]);
        if (n > l && memcmp(s + n - l, sfx[k], l) == 0)
            return n - l;
    }
    return n;
}

static const char *const ETHNIC[] = {
    "朝鲜族", "土家族", "苗族", "侗族", "布依族", "藏族", "羌族", "彝族",
    "哈尼族", "壮族", "傣族", "景颇族", "白族", "傈僳族", "回族", "蒙古族",
    "哈萨克", "柯尔克孜", "维吾尔", "蒙古自治", NULL};

/* Cuts at the first ethnic-group name: 延边朝鲜族 -> 延边. */
static size_t cut_ethnic(const char *s, size_t n)
{
    size_t best = n;
    for (int k = 0; ETHNIC[k]; k++) {
        const char *p = strstr(s, ETHNIC[k]);
        if (p && (size_t)(p - s) < best && p > s)
            best = (size_t)(p - s);
    }
    return best;
}

static void make_aliases(reg_gazetteer *g, int idx)
{
    node *nd = &g->nodes[idx];
    size_t n = strlen(nd->name);
    if (nd->level == 3) {
        if (ps_utf8_count(nd->name, n) >= 3)
            add_alias(g, nd->name, n, idx);
        static const char *const s3[] = {"市", NULL};
        size_t m = strip_suffix(nd->name, n, s3);
        if (m < n && ps_utf8_count(nd->name, m) >= 3)
            add_alias(g, nd->name, m, idx);
        return;
    }
    add_alias(g, nd->name, n, idx);
    static const char *const s1[] = {"特别行政区", "自治区", "自治州", "地区",
                                     "省", "市", "盟", NULL};
    size_t m = strip_suffix(nd->name, n, s1);
    if (m < n) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "%.*s", (int)m, nd->name);
        m = cut_ethnic(tmp, m);
        if (ps_utf8_count(nd->name, m) >= 2)
            add_alias(g, nd->name, m, idx);
    }
}

reg_gazetteer *reg_load(char *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/regions.tsv", ps_data_dir());
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0) {
        char tmp[PS_ERRLEN];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        memcpy(err, tmp, PS_ERRLEN);
        return NULL;
    }
    reg_gazetteer *g = ps_xcalloc(1, sizeof *g);
    g->codes = strset_create();
    g->aliases = strset_create();
    size_t cap = 0;
    char **parents = NULL;
    char *save = NULL;
    for (char *ln = strtok_r(data, "\n", &save); ln;
         ln = strtok_r(NULL, "\n", &save)) {
        if (ln[0] == '#' || !ln[0])
            continue;
        char *f[4] = {0};
        int nf = 0;
        char *p = ln;
        while (nf < 4) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf < 4 || strlen(f[0]) != 6)
            continue;
        if (g->n == cap) {
            cap = cap ? 2 * cap : 1024;
            g->nodes = ps_xrealloc(g->nodes, cap * sizeof(node));
            parents = ps_xrealloc(parents, cap * sizeof(char *));
        }
        node *nd = &g->nodes[g->n];
        snprintf(nd->code, sizeof nd->code, "%s", f[0]);
        nd->name = ps_xstrdup(f[1]);
        nd->level = atoi(f[3]);
        parents[g->n] = ps_xstrdup(f[2]);
        strset_put(g->codes, nd->code, 6, (int)g->n);
        g->n++;
    }
    free(data);
    for (size_t i = 0; i < g->n; i++) {
        g->nodes[i].parent = parents[i][0] ? strset_get(g->codes, parents[i],
                                                        strlen(parents[i]))
                                           : -1;
        free(parents[i]);
    }
    free(parents);
    for (size_t i = 0; i < g->n; i++)
        make_aliases(g, (int)i);
    return g;
}

void reg_destroy(reg_gazetteer *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        free(g->nodes[i].name);
    for (size_t a = 0; a < g->nalias; a++) {
        free(g->alias_cands[a].idx);
        free(g->alias_names[a]);
    }
    free(g->alias_cands);
    free(g->alias_names);
    free(g->nodes);
    strset_destroy(g->codes);
    strset_destroy(g->aliases);
    free(g);
}

size_t reg_count(const reg_gazetteer *g) { return g->n; }
const char *reg_name(const reg_gazetteer *g, int i) { return g->nodes[i].name; }
const char *reg_code(const reg_gazetteer *g, int i) { return g->nodes[i].code; }
int reg_parent(const reg_gazetteer *g, int i) { return g->nodes[i].parent; }
int reg_level(const reg_gazetteer *g, int i) { return g->nodes[i].level; }

int reg_by_code(const reg_gazetteer *g, const char *code)
{
    return strset_get(g->codes, code, strlen(code));
}

int reg_is_within(const reg_gazetteer *g, int idx, int anc)
{
    for (int k = idx; k >= 0; k = g->nodes[k].parent)
        if (k == anc)
            return 1;
    return 0;
}

void reg_each_alias(const reg_gazetteer *g,
                    void (*add)(void *ctx, const char *s, size_t n),
                    void *ctx)
{
    for (size_t a = 0; a < g->nalias; a++)
        add(ctx, g->alias_names[a], strlen(g->alias_names[a]));
}

size_t reg_lookup(const reg_gazetteer *g, const char *s, size_t n, int *out,
                  size_t max)
{
    if (n == 6) {
        int c = strset_get(g->codes, s, 6);
        if (c >= 0) {
            if (max)
                out[0] = c;
            return 1;
        }
    }
    int a = strset_get(g->aliases, s, n);
    if (a < 0)
        return 0;
    const cands *c = &g->alias_cands[a];
    size_t k = 0;
    for (; k < c->n && k < max; k++)
        out[k] = c->idx[k];
    return k;
}

/* A path has three parts at most (province, prefecture, county). */
static size_t lookup_path(const reg_gazetteer *g, const char *s, size_t n,
                          int *out, size_t max, int parts)
{
    size_t k = reg_lookup(g, s, n, out, max);
    if (k || max == 0 || parts < 2 || n > 3 * REG_NAME_MAX)
        return k;
    /* Every cut after a whole character: the part before names regions,
     * the part after (itself a path) regions within one of them. */
    int outer[16], inner[64];
    for (size_t i = 0; i < n;) {
        ps_utf8_next(s, n, &i);
        if (i >= n)
            break;
        size_t no = reg_lookup(g, s, i, outer, 16);
        if (!no)
            continue;
        size_t ni = lookup_path(g, s + i, n - i, inner, 64, parts - 1);
        for (size_t a = 0; a < ni; a++)
            for (size_t b = 0; b < no; b++)
                if (inner[a] != outer[b] && reg_is_within(g, inner[a], outer[b])) {
                    size_t j = 0;
                    while (j < k && out[j] != inner[a])
                        j++;
                    if (j == k && k < max)
                        out[k++] = inner[a];
                    break;
                }
        if (k)
            return k;
    }
    return 0;
}

size_t reg_lookup_path(const reg_gazetteer *g, const char *s, size_t n,
                       int *out, size_t max)
{
    return lookup_path(g, s, n, out, max, 3);
}

int reg_resolve(const reg_gazetteer *g, const int *c, size_t nc,
                const int *ctx, size_t nctx)
{
    if (nc == 0)
        return -1;
    if (nc == 1)
        return c[0];
    /* Prefer a candidate inside (or equal to) a context region; failing
     * that one that contains a context region (吉林 near 长春 -> 吉林省). */
    int pick = -1, npick = 0;
    for (size_t i = 0; i < nc; i++)
        for (size_t j = 0; j < nctx; j++)
            if (ctx[j] >= 0 && (reg_is_within(g, c[i], ctx[j]) ||
                                reg_is_within(g, ctx[j], c[i]))) {
                if (pick != c[i]) {
                    pick = c[i];
                    npick++;
                }
                break;
            }
    if (npick == 1)
        return pick;
    /* The deepest common ancestor of all candidates, if any. */
    for (int a = c[0]; a >= 0; a = g->nodes[a].parent) {
        size_t i = 1;
        while (i < nc && reg_is_within(g, c[i], a))
            i++;
        if (i == nc)
            return a;
    }
    return -1;
}
