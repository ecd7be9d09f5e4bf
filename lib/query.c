/*
 * query.c: a small hand-written lexer and parser for the query language
 * (see query.h).  Chinese input methods produce “curly” quotes and
 * ideographic spaces, so both are accepted.
 */
#include "query.h"
#include "normalize.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_quote(uint32_t cp)
{
    return cp == '"' || cp == 0x201C || cp == 0x201D || cp == 0xFF02;
}

void qry_free(qry *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->items[i].text);
    free(q->items);
    free(q);
}

static int add_item(qry *q, const char *s, size_t n, int quoted, int neg,
                    int group, char *err)
{
    if (q->n == QRY_MAX_ITEMS) {
        snprintf(err, PS_ERRLEN, "query has more than %d terms", QRY_MAX_ITEMS);
        return -1;
    }
    ps_buf b;
    ps_buf_init(&b);
    if (norm_query(s, n, &b, err) < 0) {
        ps_buf_free(&b);
        return -1;
    }
    if (b.len == 0) {
        ps_buf_free(&b);
        if (quoted) {
            snprintf(err, PS_ERRLEN, "empty quoted phrase in query");
            return -1;
        }
        return 0;
    }
    q->items = ps_xrealloc(q->items, (q->n + 1) * sizeof(qry_item));
    qry_item *it = &q->items[q->n++];
    it->text = ps_buf_steal(&b);
    it->quoted = quoted;
    it->negated = neg;
    it->group = group;
    return 0;
}

qry *qry_parse(const char *s, char *err)
{
    size_t n = strlen(s);
    if (n > QRY_MAX_BYTES) {
        snprintf(err, PS_ERRLEN, "query too long (%zu bytes, at most %d)", n,
                 QRY_MAX_BYTES);
        return NULL;
    }
    if (!ps_utf8_valid(s, n)) {
        snprintf(err, PS_ERRLEN, "query is not valid UTF-8");
        return NULL;
    }
    qry *q = ps_xcalloc(1, sizeof *q);
    size_t i = 0;
    int group = -1, pending_or = 0, last_neg = 0, have_item = 0;
    int pending_and = 0, pending_not = 0;
    while (i < n) {
        size_t start = i;
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (ps_is_space(cp) || cp == 0x3000)
            continue;
        int neg = 0, plus = 0;
        if ((cp == '-' || cp == '+') && i < n) {
            size_t k = i;
            uint32_t nx = ps_utf8_next(s, n, &k);
            if (!ps_is_space(nx) && nx != 0x3000) {
                neg = cp == '-';
                plus = cp == '+';       /* required, as every term is */
                start = i;
                cp = ps_utf8_next(s, n, &i);
            }
        }
        if (pending_not && neg) {
            snprintf(err, PS_ERRLEN, "NOT must be followed by a term");
            qry_free(q);
            return NULL;
        }
        const char *text;
        size_t tlen;
        int quoted = 0;
        if (is_quote(cp)) {
            quoted = 1;
            size_t body = i, end = n, k = i;
            int closed = 0;
            while (k < n) {
                size_t at = k;
                uint32_t c2 = ps_utf8_next(s, n, &k);
                if (is_quote(c2)) {
                    end = at;
                    closed = 1;
                    break;
                }
            }
            if (!closed) {
                snprintf(err, PS_ERRLEN, "unbalanced quote in query");
                qry_free(q);
                return NULL;
            }
            text = s + body;
            tlen = end - body;
            i = k;
        } else {
            size_t k = i, end = n;
            while (k < n) {
                size_t at = k;
                uint32_t c2 = ps_utf8_next(s, n, &k);
                if (ps_is_space(c2) || c2 == 0x3000 || is_quote(c2)) {
                    end = at;
                    break;
                }
            }
            text = s + start;
            tlen = end - start;
            i = end;
            /* Operators, written in capitals: OR, AND (what a space
             * means already), NOT (as -). */
            int op = neg || plus ? 0
                     : tlen == 2 && memcmp(text, "OR", 2) == 0 ? 'o'
                     : tlen == 3 && memcmp(text, "AND", 3) == 0 ? 'a'
                     : tlen == 3 && memcmp(text, "NOT", 3) == 0 ? 'n' : 0;
            if (op && pending_not) {
                snprintf(err, PS_ERRLEN, "NOT must be followed by a term");
                qry_free(q);
                return NULL;
            }
            if (op == 'o' || op == 'a') {
                if (!have_item || pending_or || pending_and ||
                    (op == 'o' && last_neg)) {
                    snprintf(err, PS_ERRLEN, "%s must stand between two terms",
                             op == 'o' ? "OR" : "AND");
                    qry_free(q);
                    return NULL;
                }
                if (op == 'o')
                    pending_or = 1;
                else
                    pending_and = 1;
                continue;
            }
            if (op == 'n') {
                pending_not = 1;
                continue;
            }
        }
        neg |= pending_not;
        if (pending_or && neg) {
            snprintf(err, PS_ERRLEN, "an excluded term cannot be part of OR");
            qry_free(q);
            return NULL;
        }
        if (!pending_or)
            group++;
        size_t before = q->n;
        if (add_item(q, text, tlen, quoted, neg, group, err) < 0) {
            qry_free(q);
            return NULL;
        }
        if (q->n == before && !pending_or)
            group--;
        have_item = q->n > 0;
        last_neg = neg;
        pending_or = pending_and = pending_not = 0;
    }
    if (pending_or || pending_and || pending_not) {
        snprintf(err, PS_ERRLEN, pending_not ? "NOT must be followed by a term"
                                             : "%s must stand between two terms",
                 pending_or ? "OR" : "AND");
        qry_free(q);
        return NULL;
    }
    q->ngroups = group + 1;
    return q;
}
