/*
 * sectors.c: sector keyword table and per-passage scoring.
 */
#include "sectors.h"
#include "strset.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct keyword {
    char *word;
    int sector;
    int weight;
} keyword;

struct sec_table {
    char *names[SEC_MAX];
    size_t n;
    keyword *kw;
    size_t nkw;
    strset *index;     /* word -> first keyword index with that word */
};

sec_table *sec_load(char *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sectors.txt", ps_data_dir());
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0) {
        char tmp[PS_ERRLEN];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        memcpy(err, tmp, PS_ERRLEN);
        return NULL;
    }
    sec_table *t = ps_xcalloc(1, sizeof *t);
    t->index = strset_create();
    int cur = -1;
    char *save = NULL;
    for (char *ln = strtok_r(data, "\n", &save); ln;
         ln = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(ln);
        while (n && (ln[n - 1] == '\r' || ln[n - 1] == ' '))
            ln[--n] = '\0';
        if (!n || ln[0] == '#')
            continue;
        if (ln[0] == '[' && ln[n - 1] == ']') {
            if (t->n == SEC_MAX)
                continue;
            t->names[t->n] = ps_xstrndup(ln + 1, n - 2);
            cur = (int)t->n++;
            continue;
        }
        if (cur < 0)
            continue;
        char *sp = strrchr(ln, ' ');
        int w = 1;
        if (sp) {
            *sp = '\0';
            w = atoi(sp + 1);
        }
        t->kw = ps_xrealloc(t->kw, (t->nkw + 1) * sizeof(keyword));
        t->kw[t->nkw].word = ps_xstrdup(ln);
        t->kw[t->nkw].sector = cur;
        t->kw[t->nkw].weight = w;
        if (strset_get(t->index, ln, strlen(ln)) < 0)
            strset_put(t->index, ln, strlen(ln), (int)t->nkw);
        t->nkw++;
    }
    free(data);
    return t;
}

void sec_destroy(sec_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->names[i]);
    for (size_t i = 0; i < t->nkw; i++)
        free(t->kw[i].word);
    free(t->kw);
    strset_destroy(t->index);
    free(t);
}

size_t sec_count(const sec_table *t) { return t->n; }
const char *sec_name(const sec_table *t, int i) { return t->names[i]; }

int sec_find(const sec_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->names[i], name) == 0)
            return (int)i;
    return -1;
}

void sec_each_keyword(const sec_table *t,
                      void (*add)(void *ctx, const char *s, size_t n),
                      void *ctx)
{
    for (size_t i = 0; i < t->nkw; i++)
        add(ctx, t->kw[i].word, strlen(t->kw[i].word));
}

void sec_score_reset(sec_score *s)
{
    memset(s->score, 0, sizeof s->score);
    s->nseen = 0;
}

void sec_score_word(const sec_table *t, sec_score *s, const char *w, size_t n)
{
    int k = strset_get(t->index, w, n);
    if (k < 0)
        return;
    for (size_t i = 0; i < s->nseen; i++)
        if (s->seen[i] == k)
            return;
    if (s->nseen < sizeof s->seen / sizeof s->seen[0])
        s->seen[s->nseen++] = k;
    /* the same word may be listed under several sectors */
    for (size_t i = (size_t)k; i < t->nkw; i++)
        if (strlen(t->kw[i].word) == n && memcmp(t->kw[i].word, w, n) == 0)
            s->score[t->kw[i].sector] += t->kw[i].weight;
}

uint32_t sec_score_labels(const sec_table *t, const sec_score *s)
{
    uint32_t m = 0;
    for (size_t i = 0; i < t->n; i++)
        if (s->score[i] >= SEC_THRESHOLD)
            m |= 1u << i;
    return m;
}
