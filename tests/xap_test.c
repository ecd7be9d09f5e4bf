/*
 * xap_test.c: the Xapian wrapper, tested from plain C through its header
 * only: writing, committing, metadata, postings, value streams, the
 * in-memory facet index, stub directories, data from metadata, uncommitted changes dropped, and errors coming back as
 * statuses rather than exceptions.
 */
#include "xap.h"
#include "util.h"

#include "testhelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void collect_value(void *ctx, size_t i, const char *v, size_t n)
{
    char *out = ctx;
    size_t at = strlen(out);
    snprintf(out + at, 64 - at, "%zu:%.*s;", i, (int)n, v);
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
    unsigned count = 0;
    CHECK(xap_db_doccount(db, &count, err) == XAP_OK && count == 2);
    char *meta;
    CHECK(xap_db_get_metadata(db, "f:doc", &meta, err) == XAP_OK);
    CHECK_STR(meta, "1 2 /root");
    free(meta);

    /* Postings of a term and values of given documents. */
    unsigned *ids;
    size_t nids;
    CHECK(xap_db_postlist(db, "Bab", 3, &ids, &nids, err) == XAP_OK &&
          nids == 2 && ids[0] == 1 && ids[1] == 2);
    free(ids);
    CHECK(xap_db_postlist(db, "Xone", 4, &ids, &nids, err) == XAP_OK &&
          nids == 1 && ids[0] == 1);
    free(ids);
    CHECK(xap_db_postlist(db, "Nothing", 7, &ids, &nids, err) == XAP_OK &&
          nids == 0);
    free(ids);
    CHECK(xap_db_postlist(db, "", 0, &ids, &nids, err) == XAP_OK && nids == 2);
    free(ids);
    unsigned want[] = {2, 5};
    char got[64] = "";
    CHECK(xap_db_values(db, 1, want, 2, collect_value, got, err) == XAP_OK);
    CHECK_STR(got, "0:y;");

    /* The in-memory facet index: rows, postings and values per document. */
    const char *pfx[] = {"B", "X"};
    xap_facets *fx;
    CHECK(xap_facets_build(db, pfx, 2, 1, 1, &fx, err) == XAP_OK);
    const unsigned *all, *post;
    const uint32_t *off;
    const void *row;
    unsigned width;
    const unsigned char *vals;
    CHECK(xap_facets_docs(fx, &all) == 2 && all[0] == 1 && all[1] == 2);
    CHECK(xap_facets_values(fx, 1, &vals) == 4 && vals[0] == 3 &&
          memcmp(vals + 1, "x,y", 3) == 0);
    CHECK(xap_facets_values(fx, 99, &vals) == 0);
    CHECK(xap_facets_nterms(fx) == 4 && strcmp(xap_facets_term(fx, 0), "Bab") == 0 &&
          strcmp(xap_facets_term(fx, 3), "Xone") == 0);
    CHECK(xap_facets_postings(fx, 3, &post) == 1 && post[0] == 1);
    CHECK(xap_facets_postings(fx, 0, &post) == 2 && post[1] == 2);
    CHECK(xap_facets_postings(fx, 4, &post) == 0);
    /* Document 2's terms: 0 (Bab), 1 and 2, a byte each (4 terms). */
    CHECK(xap_facets_rows(fx, &off, &row, &width) > 3 && off[3] - off[2] == 3);
    CHECK(width == 1 && ((const unsigned char *)row)[off[2]] == 0);
    xap_facets_free(fx);
    xap_db_close(db);

    /* More than 256 facet terms: two bytes a term, in term order. */
    char wide[300];
    snprintf(wide, sizeof wide, "%s/wide", dir);
    CHECK(xap_wdb_open(wide, &w, err) == XAP_OK);
    xap_doc *many = xap_doc_create();
    for (int t = 0; t < 300; t++) {
        char term[16];
        snprintf(term, sizeof term, "B%03d", 299 - t);
        xap_doc_add_boolean(many, term, strlen(term));
    }
    unsigned idw;
    CHECK(xap_wdb_add(w, many, &idw, err) == XAP_OK && idw == 1);
    xap_doc_destroy(many);
    CHECK(xap_wdb_commit(w, err) == XAP_OK);
    xap_wdb_close(w);
    CHECK(xap_db_open(wide, &db, err) == XAP_OK);
    CHECK(xap_facets_build(db, pfx, 2, 1, 1, &fx, err) == XAP_OK);
    CHECK(xap_facets_rows(fx, &off, &row, &width) == 3 && width == 2 &&
          off[2] - off[1] == 300);
    int inorder = 1;
    for (uint32_t t = 0; t < 300; t++) {
        uint16_t v;
        memcpy(&v, (const unsigned char *)row + 2 * (off[1] + t), 2);
        inorder &= v == t && strcmp(xap_facets_term(fx, v), "B000") >= 0;
    }
    CHECK(inorder && strcmp(xap_facets_term(fx, 299), "B299") == 0);
    xap_facets_free(fx);
    xap_db_close(db);

    /* Data from metadata; changes not committed are
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
    CHECK(xap_db_doccount(db, &count, err) == XAP_OK && count == 3 &&
          xap_db_nshards(db) == 1);
    char *data;
    size_t dl;
    CHECK(xap_db_data(db, 3, "d:", &data, &dl, err) == XAP_OK && dl == 5 &&
          memcmp(data, "th\0rd", 5) == 0);
    free(data);
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
    CHECK(xap_wdb_commit(w, err) == XAP_OK &&
          xap_wdb_doccount(w, &count, err) == XAP_OK && count == 1);
    xap_wdb_close(w);

    /* The order of values in a slot (ties by docid), and groups of values
     * alike up to their first NUL: keyed values (name, NUL, four bytes),
     * then with one value of another shape among them. */
    for (int shape = 0; shape < 2; shape++) {
        char opath[300], odir[280];
        snprintf(odir, sizeof odir, "%s/order%d", dir, shape);
        snprintf(opath, sizeof opath, "%s/shard0", odir);
        CHECK(mkdir(odir, 0755) == 0);
        CHECK(xap_wdb_open(opath, &w, err) == XAP_OK);
        static const struct { const char *v; size_t n; } ov[] = {
            {"b\0\0\0\0\2", 6}, {"a\0\0\0\0\1", 6}, {"ab\0\0\0\0\0", 7},
            {"a\0\0\0\0\1", 6}, {NULL, 0}, {"a\0\0\0\1\0", 6},
            {"b\0\0\0\0\1", 6}, {"a\0x", 3}};
        size_t nv = shape ? 8 : 7;
        for (size_t i = 0; i < nv; i++) {
            xap_doc *od = xap_doc_create();
            xap_doc_add_boolean(od, "Fo", 2);
            if (ov[i].v)
                xap_doc_set_value(od, 1, ov[i].v, ov[i].n);
            CHECK(xap_wdb_add(w, od, NULL, err) == XAP_OK);
            xap_doc_destroy(od);
        }
        CHECK(xap_wdb_commit(w, err) == XAP_OK);
        xap_wdb_close(w);
        snprintf(stub, sizeof stub, "%s/XAPIANDB", odir);
        fp = fopen(stub, "w");
        fprintf(fp, "glass shard0\n");
        fclose(fp);
        CHECK(xap_db_open(odir, &db, err) == XAP_OK);
        uint32_t *ord, *grp;
        size_t no;
        CHECK(xap_db_value_order(db, 1, &ord, &grp, &no, err) == XAP_OK &&
              no == nv + 1);
        /* Bytes order: 2 and 4 (equal), 6, [8: "a\0x"], 3 ("ab"), 7, 1. */
        static const uint32_t want0[] = {UINT32_MAX, 5, 0, 3, 1, UINT32_MAX, 2, 4};
        static const uint32_t want1[] = {UINT32_MAX, 6, 0, 4, 1, UINT32_MAX, 2, 5, 3};
        static const uint32_t grp0[] = {UINT32_MAX, 2, 0, 1, 0, UINT32_MAX, 0, 2};
        static const uint32_t grp1[] = {UINT32_MAX, 2, 0, 1, 0, UINT32_MAX, 0, 2, 0};
        CHECK(memcmp(ord, shape ? want1 : want0, no * sizeof(uint32_t)) == 0);
        CHECK(memcmp(grp, shape ? grp1 : grp0, no * sizeof(uint32_t)) == 0);
        ps_big_free(ord);
        ps_big_free(grp);
        xap_db_close(db);
    }

    /* Errors are statuses with a message. */
    CHECK(xap_db_open("/nonexistent/policy-search", &db, err) != XAP_OK);
    CHECK(strlen(err) > 0);
    xap_wdb_close(NULL);
    xap_db_close(NULL);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        CHECK(0);
    return TEST_REPORT("xap");
}
