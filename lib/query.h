/*
 * query.h: the query language of the contract, parsed.
 *
 *   words separated by spaces   all must match
 *   "quoted text" (or “...”)    contained exactly
 *   a OR b                      either
 *   -term, -"text"              excluded
 *
 * Every item's text is normalized (normalize.h) before it is kept.
 */
#ifndef PS_QUERY_H
#define PS_QUERY_H

#include <stddef.h>

#define QRY_MAX_BYTES 4096
#define QRY_MAX_ITEMS 64

typedef struct qry_item {
    char *text;         /* normalized, non-empty */
    int quoted;
    int negated;
    int group;          /* items sharing a group are ORed */
} qry_item;

typedef struct qry {
    qry_item *items;
    size_t n;
    int ngroups;
} qry;

/* Parses q.  Returns a query (free with qry_free()) or NULL with err set
 * to a message for the user (unbalanced quote, dangling OR, ...). */
qry *qry_parse(const char *q, char *err);
void qry_free(qry *q);

#endif
