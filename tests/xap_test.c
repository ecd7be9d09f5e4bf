/*
 * xap_test.c: the Xapian wrapper, tested from plain C through its header
 * only: writing, committing, metadata, AND/OR/AND NOT queries, value
 * ranges, match spies, stub directories, posting sources, data from
 * metadata, uncommitted changes dropped, and errors coming back as
 * statuses rather than exceptions.
 */
#include "xap.h"
#include "util.h"

#include "testhelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add(xap_wdb *w, const char *data, const char *const *terms,
                size_t n, const char *value)
{
    char err[PS_ERRLEN];
    xap_doc *d = xap_doc_create();
    for (size_t i = 0; i < n; i++)
        xap_doc_add_boolean(d, terms[i], strlen(terms[i]));
    xap_doc_add_boolean(d, "Fdoc", 4);
    xap_doc_set_value(d, 1, value, strlen(value));
    xap_doc_set_data(d, data, strlen(data));
    CHECK(xap_wdb_add(w, d, NULL, err) == XAP_OK);
    xap_doc_destroy(d);
}

int main(void)
{
    char dir[] = "/tmp/xap-test-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[256], err[PS_ERRLEN];
    snprintf(path, sizeof path, "%s/shard0", dir);

    xap_wdb *w;
    CHECK(xap_wdb_open(path, &w, err) == XAP_OK);
    const char *a[] = {"Bab", "Bbc", "Bcd", "Xone"};
    const char *b[] = {"Bcd", "Bbc", "Bab"};
    add(w, "first", a, 4, "x,y");
    add(w, "second", b, 3, "y");
    CHECK(xap_wdb_set_metadata(w, "f:doc", "1 2 /root", err) == XAP_OK);
    CHECK(xap_wdb_commit(w, err) == XAP_OK);

    /* A second writer is refused with a status, not an exception. */
    xap_wdb *w2 = NULL;
    CHECK(xap_wdb_open(path, &w2, err) == XAP_ERR_LOCKED && w2 == NULL);
    CHECK(strlen(err) > 0);
    xap_wdb_close(w);

    /* Read through a stub directory listing the shard. */
    char stub[300];
    snprintf(stub, sizeof stub, "%s/XAPIANDB", dir);
    FILE *fp = fopen(stub, "w");
    fprintf(fp, "glass shard0\n");
    fclose(fp);
    xap_db *db;
    CHECK(xap_db_open(dir, &db, err) == XAP_OK);
    CHECK(xap_db_doccount(db) == 2);
    char *meta;
    CHECK(xap_db_get_metadata(db, "f:doc", &meta, err) == XAP_OK);
    CHECK_STR(meta, "1 2 /root");
    free(meta);

    xap_query *two[2] = {xap_q_term("Bab", 3), xap_q_term("Xone", 4)};
    xap_query *q = xap_q_combine(XAP_AND, two, 2);
    xap_q_destroy(two[0]);
    xap_q_destroy(two[1]);
    unsigned slots[] = {1};
    xap_search_opts o = {0, 10, 0, -1, 1, slots, 1, NULL, NULL};
    xap_result *r;
    CHECK(xap_search(db, q, &o, &r, err) == XAP_OK);
    CHECK(r->total == 1 && r->nhits == 1 && strcmp(r->hits[0].data, "first") == 0);
    CHECK(r->nspies == 1 && r->spies[0].n == 1 &&
          strcmp(r->spies[0].counts[0].value, "x,y") == 0);
    xap_result_free(r);
    xap_q_destroy(q);

    /* The in-memory facet index counts terms by prefix over the matches. */
    const char *pfx[] = {"F"};
    xap_facets *fx;
    CHECK(xap_facets_build(db, pfx, 1, 1, 1, &fx, err) == XAP_OK);
    const unsigned *all;
    const unsigned char *vals;
    CHECK(xap_facets_docs(fx, &all) == 2 && all[0] == 1 && all[1] == 2);
    CHECK(xap_facets_values(fx, 1, &vals) == 4 && vals[0] == 3 &&
          memcmp(vals + 1, "x,y", 3) == 0);
    CHECK(xap_facets_values(fx, 99, &vals) == 0);
    CHECK(xap_facets_nterms(fx) == 1 && strcmp(xap_facets_term(fx, 0), "Fdoc") == 0);
    q = xap_q_term("Bcd", 3);
    xap_search_opts of = {0, 0, 0, -1, 1, NULL, 0, fx, NULL};
    CHECK(xap_search(db, q, &of, &r, err) == XAP_OK && r->total == 2 &&
          r->nhits == 0 && r->facet_counts && r->facet_counts[0] == 2);
    xap_result_free(r);
    xap_q_destroy(q);
    xap_facets_free(fx);

    two[0] = xap_q_term("Bbc", 3);
    two[1] = xap_q_term("Bcd", 3);
    q = xap_q_combine(XAP_OR, two, 2);
    xap_q_destroy(two[0]);
    xap_q_destroy(two[1]);
    CHECK(xap_search(db, q, &o, &r, err) == XAP_OK && r->total == 2);
    xap_result_free(r);
    xap_q_destroy(q);

    q = xap_q_value_range(1, "y", 1, "z", 1);
    CHECK(xap_search(db, q, &o, &r, err) == XAP_OK && r->total == 1 &&
          strcmp(r->hits[0].data, "second") == 0);
    xap_result_free(r);
    xap_q_destroy(q);

    xap_query *parts[2] = {xap_q_term("Fdoc", 4), xap_q_term("Bab", 3)};
    q = xap_q_combine(XAP_AND_NOT, parts, 2);
    CHECK(xap_search(db, q, &o, &r, err) == XAP_OK && r->total == 0);
    xap_result_free(r);
    xap_q_destroy(q);
    xap_q_destroy(parts[0]);
    xap_q_destroy(parts[1]);
    xap_db_close(db);

    /* Given documents enter a query as a posting source, with weights;
     * hits' data can come from metadata; changes not committed are
     * dropped on close; deleting by term reports the docids. */
    CHECK(xap_wdb_open(path, &w, err) == XAP_OK);
    xap_doc *d3 = xap_doc_create();
    xap_doc_add_boolean(d3, "Fother", 6);
    unsigned id3 = 0;
    CHECK(xap_wdb_add(w, d3, &id3, err) == XAP_OK && id3 == 3);
    CHECK(xap_wdb_set_metadata_n(w, "d:\0\0\0\3", 6, "th\0rd", 5, err) == XAP_OK);
    CHECK(xap_wdb_commit(w, err) == XAP_OK);
    CHECK(xap_wdb_add(w, d3, &id3, err) == XAP_OK && id3 == 4);
    xap_doc_destroy(d3);
    xap_wdb_close(w);                     /* docid 4 never committed */
    CHECK(xap_db_open(dir, &db, err) == XAP_OK);
    CHECK(xap_db_doccount(db) == 3 && xap_db_nshards(db) == 1);
    unsigned ids[] = {1, 3};
    double ws[] = {0.5, 2.0};
    xap_docs ds = {ids, ws, 2};
    q = xap_q_docs(db, &ds, 1, 2.0);
    xap_search_opts od = {0, 10, 0, -1, 1, NULL, 0, NULL, "d:"};
    CHECK(xap_search(db, q, &od, &r, err) == XAP_OK && r->total == 2 &&
          r->nhits == 2 && r->hits[0].docid == 3 && r->hits[0].len == 5 &&
          memcmp(r->hits[0].data, "th\0rd", 5) == 0 && r->hits[1].docid == 1);
    xap_result_free(r);
    parts[0] = q;
    parts[1] = xap_q_term("Fdoc", 4);
    xap_query *both = xap_q_combine(XAP_FILTER, parts, 2);
    CHECK(xap_search(db, both, &o, &r, err) == XAP_OK && r->total == 1 &&
          r->hits[0].docid == 1);
    xap_result_free(r);
    xap_q_destroy(both);
    xap_q_destroy(parts[1]);
    xap_q_destroy(q);
    char *v;
    size_t vl;
    CHECK(xap_db_shard_metadata(db, 0, "d:\0\0\0\3", 6, &v, &vl, err) == XAP_OK &&
          vl == 5);
    free(v);
    xap_db_close(db);
    CHECK(xap_wdb_open(path, &w, err) == XAP_OK);
    unsigned *del;
    size_t ndel;
    CHECK(xap_wdb_delete_term(w, "Fdoc", &del, &ndel, err) == XAP_OK &&
          ndel == 2 && del[0] == 1 && del[1] == 2);
    free(del);
    CHECK(xap_wdb_commit(w, err) == XAP_OK && xap_wdb_doccount(w) == 1);
    xap_wdb_close(w);

    /* Errors are statuses with a message. */
    CHECK(xap_db_open("/nonexistent/policy-search", &db, err) != XAP_OK);
    CHECK(strlen(err) > 0);
    xap_wdb_close(NULL);
    xap_db_close(NULL);
    xap_result_free(NULL);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        CHECK(0);
    return TEST_REPORT("xap");
}
