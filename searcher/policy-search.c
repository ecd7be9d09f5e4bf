/*
 * policy-search: query an index from the command line.
 *
 *   policy-search --db DIR [--json] [--limit N] [--offset N]
 *                 [--region R]... [--sector S]... [--unit U] [--min X]
 *                 [--max Y] [--from D] [--to D] [--agency A]... [--type T]...
 *                 [--sort relevance|date|-date] [--group doc]
 *                 [--batch FILE [--postings-mb N]] [QUERY]
 *
 * Without --json, prints a readable list; with it, the contract's JSON.
 * --batch runs one query a line from FILE ("-" for stdin) against one
 * open database and prints one JSON object a line; with --postings-mb it
 * keeps what the queries read (the strings' passage lists, parsed
 * records), as policy-web does.
 */

#include "analyze.h"
#include "normalize.h"
#include "search.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FACET_ARGS 64

static void usage(FILE *to)
{
    fprintf(to,
            "usage: policy-search --db DIR [--json] [--limit N] [--offset N]\n"
            "                     [--region R]... [--sector S]... [--unit U]\n"
            "                     [--min X] [--max Y] [--from D] [--to D]\n"
            "                     [--agency A]... [--type T]... [--sort relevance|date|-date]\n"
            "                     [--group doc] [--batch FILE] [--no-facets]\n"
            "                     [--budget-ms N] [--postings-mb N]\n"
            "                     [QUERY]\n"
            "       policy-search --db DIR --explain QUERY   (how QUERY is read)\n"
            "       policy-search --db DIR --stats [STRING]  (segments; chunks per gram)\n"
            "       policy-search --normalize   (stdin lines -> the form matching uses)\n");
}

/* Prints each line of stdin as the engine normalizes it (what "contains"
 * compares): tests and scripts use it as the oracle's normalization. */
static int normalize_lines(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n && line[n - 1] == '\n')
            n--;
        ps_buf b;
        ps_buf_init(&b);
        char err[PS_ERRLEN];
        if (!ps_utf8_valid(line, (size_t)n) ||
            norm_query(line, (size_t)n, &b, err) < 0) {
            fprintf(stderr, "policy-search: --normalize: a line is not valid UTF-8\n");
            rc = 1;
            ps_buf_add(&b, "", 0);
        }
        fwrite(b.data, 1, b.len, stdout);
        putchar('\n');
        ps_buf_free(&b);
    }
    free(line);
    return rc;
}

static void print_error_json(const char *err)
{
    json_t *o = srch_error_json(err);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    printf("%s\n", s ? s : "{\"error\":\"(a message that cannot be printed)\"}");
    free(s);
    json_decref(o);
}

static int bad(int json, const char *msg)
{
    fprintf(stderr, "policy-search: %s\n", msg);
    if (json)
        print_error_json(msg);
    return 2;
}

/* A result for people: a line of totals, then one block per hit, marks
 * as 【】. */
static void print_human_head(unsigned long long total, int grouped, double ms)
{
    printf("%llu %s (%.2f ms)\n", total, grouped ? "documents" : "passages",
           ms);
}

static void print_human_hit(json_t *h)
{
    const char *snip = json_string_value(json_object_get(h, "snippet"));
    ps_buf b;
    ps_buf_init(&b);
    for (const char *p = snip; p && *p;) {
        static const struct { const char *from, *to; } rep[] = {
            {"<mark>", "【"}, {"</mark>", "】"}, {"&lt;", "<"},
            {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
        size_t k;
        for (k = 0; k < sizeof rep / sizeof rep[0]; k++) {
            size_t l = strlen(rep[k].from);
            if (strncmp(p, rep[k].from, l) == 0) {
                ps_buf_adds(&b, rep[k].to);
                p += l;
                break;
            }
        }
        if (k == sizeof rep / sizeof rep[0])
            ps_buf_addc(&b, *p++);
    }
    json_t *m = json_object_get(h, "meta");
    const char *num = json_string_value(json_object_get(m, "number"));
    const char *date = json_string_value(json_object_get(m, "date"));
    if (!date)
        date = json_string_value(json_object_get(m, "published"));
    printf("\n%s #%lld  [%.2f]%s%s%s%s\n  %s\n",
           json_string_value(json_object_get(h, "doc")),
           (long long)json_integer_value(json_object_get(h, "passage")),
           json_real_value(json_object_get(h, "score")),
           num ? "  " : "", num ? num : "", date ? "  " : "",
           date ? date : "", b.data ? b.data : "");
    ps_buf_free(&b);
}

static void print_human(json_t *res)
{
    json_t *hits = json_object_get(res, "hits");
    print_human_head((unsigned long long)json_integer_value(
                         json_object_get(res, "total")),
                     json_object_get(json_array_get(hits, 0), "passages") != NULL,
                     json_real_value(json_object_get(res, "took_ms")));
    size_t i;
    json_t *h;
    json_array_foreach(hits, i, h)
        print_human_hit(h);
}

/* Answers of more hits than this are written hit by hit as they are
 * made (srch_request.hit_sink): memory for one hit, not for all. */
#define STREAM_FROM 1000

/* A streamed answer: its head is written with the first hit (the
 * total is known by then), the rest of the answer after the last. */
typedef struct stream {
    const srch_request *req;
    int json;
    double t0;
    unsigned long nhits;
    int headed;
} stream;

static void stream_head(stream *s, unsigned long long total, int grouped)
{
    s->headed = 1;
    if (!s->json) {
        print_human_head(total, grouped, (ps_now() - s->t0) * 1000);
        return;
    }
    json_t *q = json_string(s->req->query ? s->req->query : "");
    char *qs = json_dumps(q, JSON_ENCODE_ANY);
    printf("{\"query\":%s,\"total\":%llu,\"offset\":%ld,\"limit\":%ld,"
           "\"hits\":[", qs ? qs : "\"\"", total, s->req->offset,
           s->req->limit);
    free(qs);
    json_decref(q);
}

static int stream_hit(void *ctx, unsigned total, json_t *hit)
{
    stream *s = ctx;
    if (!s->headed)
        stream_head(s, total, json_object_get(hit, "passages") != NULL);
    if (!s->json) {
        print_human_hit(hit);
    } else {
        char *h = json_dumps(hit, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (!h)
            return -1;
        if (s->nhits)
            putchar(',');
        fputs(h, stdout);
        free(h);
    }
    s->nhits++;
    return ferror(stdout) ? -1 : 0;
}

/* The rest of a streamed answer: res without what the head wrote, or
 * (res NULL) the error that cut it short. */
static void stream_tail(stream *s, json_t *res, const char *err)
{
    if (!s->json) {
        if (res && !s->headed)
            print_human(res);
        return;
    }
    if (!s->headed) {
        if (!res) {
            print_error_json(err);
            return;
        }
        stream_head(s, (unsigned long long)json_integer_value(
                           json_object_get(res, "total")), 0);
    }
    json_t *rest = res ? json_copy(res) : srch_error_json(err);
    static const char *const said[] = {"query", "total", "offset", "limit",
                                       "hits"};
    for (size_t i = 0; i < sizeof said / sizeof said[0]; i++)
        json_object_del(rest, said[i]);
    char *r = json_dumps(rest, JSON_COMPACT | JSON_REAL_PRECISION(10));
    printf("]%s%s\n", json_object_size(rest) ? "," : "}",
           json_object_size(rest) ? r + 1 : "");
    free(r);
    json_decref(rest);
}

static int run_one(srch_engine *e, srch_request *req, int json)
{
    srch_status st;
    char err[PS_ERRLEN];
    stream s = {req, json, ps_now(), 0, 0};
    int streamed = req->limit == 0 || req->limit > STREAM_FROM;
    if (streamed) {
        req->hit_sink = stream_hit;
        req->sink_ctx = &s;
    }
    json_t *res = srch_run(e, req, &st, err);
    req->hit_sink = NULL;
    req->sink_ctx = NULL;
    if (!res) {
        if (st == SRCH_BAD_REQUEST && !s.headed)
            return bad(json, err);
        fprintf(stderr, "policy-search: %s\n", err);
        if (json && streamed)
            stream_tail(&s, NULL, err);
        else if (json)
            print_error_json(err);
        return 1;
    }
    if (streamed)
        stream_tail(&s, res, NULL);
    else if (json) {
        char *out = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (!out) {     /* never expected: every string is checked UTF-8 */
            json_decref(res);
            fprintf(stderr, "policy-search: an answer that cannot be written "
                    "as JSON\n");
            print_error_json("an answer that cannot be written as JSON");
            return 1;
        }
        printf("%s\n", out);
        free(out);
    } else {
        print_human(res);
    }
    json_decref(res);
    return 0;
}

/* rc, or 1 when the answers could not all be written (a full disk, a
 * closed pipe): a caller must not take a cut answer for a whole one. */
static int answered(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "policy-search: writing the answer: %s\n",
                strerror(errno));
        return rc ? rc : 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *batch = NULL, *query = NULL;
    long postings_mb = 0;
    const char *regions[MAX_FACET_ARGS], *sectors[MAX_FACET_ARGS];
    const char *agencies[MAX_FACET_ARGS], *types[MAX_FACET_ARGS];
    size_t na = 0, nt = 0;
    srch_request req;
    memset(&req, 0, sizeof req);
    req.limit = 10;
    int json = 0, stats = 0;
    size_t nr = 0, ns = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--normalize") == 0) {
            return normalize_lines();
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--stats") == 0) {
            stats = 1;
        } else if (strcmp(a, "--explain") == 0) {
            stats = 2;
        } else if (strcmp(a, "--no-facets") == 0) {
            req.no_facets = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (has && strcmp(a, "--db") == 0) {
            db = argv[++i];
        } else if (has && strcmp(a, "--batch") == 0) {
            batch = argv[++i];
        } else if (has && (strcmp(a, "--limit") == 0 ||
                           strcmp(a, "--offset") == 0)) {
            long v;
            if (ps_parse_long(argv[++i], &v) < 0 || v < 0) {
                char m[128];
                snprintf(m, sizeof m, "%s needs a non-negative integer", a);
                return bad(json, m);
            }
            if (a[2] == 'l')
                req.limit = v;
            else
                req.offset = v;
        } else if (has && strcmp(a, "--region") == 0) {
            if (nr == MAX_FACET_ARGS)
                return bad(json, "too many --region");
            regions[nr++] = argv[++i];
        } else if (has && strcmp(a, "--sector") == 0) {
            if (ns == MAX_FACET_ARGS)
                return bad(json, "too many --sector");
            sectors[ns++] = argv[++i];
        } else if (has && strcmp(a, "--agency") == 0) {
            if (na == MAX_FACET_ARGS)
                return bad(json, "too many --agency");
            agencies[na++] = argv[++i];
        } else if (has && strcmp(a, "--type") == 0) {
            if (nt == MAX_FACET_ARGS)
                return bad(json, "too many --type");
            types[nt++] = argv[++i];
        } else if (has && strcmp(a, "--from") == 0) {
            req.from = argv[++i];
        } else if (has && strcmp(a, "--to") == 0) {
            req.to = argv[++i];
        } else if (has && strcmp(a, "--sort") == 0) {
            req.sort = argv[++i];
        } else if (has && strcmp(a, "--group") == 0) {
            req.group = argv[++i];
        } else if (has && strcmp(a, "--postings-mb") == 0) {
            if (ps_parse_long(argv[++i], &postings_mb) < 0 || postings_mb < 0 ||
                postings_mb > 65536)
                return bad(json, "--postings-mb must be 0..65536");
        } else if (has && strcmp(a, "--budget-ms") == 0) {
            long v;
            if (ps_parse_long(argv[++i], &v) < 0 || v < 0)
                return bad(json, "--budget-ms needs a non-negative integer");
            req.budget_ms = (double)v;
        } else if (has && strcmp(a, "--unit") == 0) {
            req.unit = argv[++i];
        } else if (has && strcmp(a, "--min") == 0) {
            req.min = argv[++i];
        } else if (has && strcmp(a, "--max") == 0) {
            req.max = argv[++i];
        } else if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                query = argv[i + 1];
            break;
        } else if (a[0] == '-' && a[1] == '-') {
            char m[128];
            snprintf(m, sizeof m, "unknown or incomplete option %.*s",
                     ps_clip(a, 60), a);
            usage(stderr);
            return bad(json, m);
        } else if (query) {
            return bad(json, "give the query as one argument (quote it)");
        } else {
            query = a;
        }
    }
    if (!db) {
        usage(stderr);
        return bad(json, "--db is required");
    }
    req.regions = regions;
    req.nregions = nr;
    req.sectors = sectors;
    req.nsectors = ns;
    req.agencies = agencies;
    req.nagencies = na;
    req.types = types;
    req.ntypes = nt;
    char err[PS_ERRLEN];
    /* Fault injection for tests: PS_FAULT=modified:N, opening:N,
     * overwritten:N, corrupt:K, one-handle (see search.h). */
    const char *fault = getenv("PS_FAULT");
    if (fault && strncmp(fault, "modified:", 9) == 0)
        srch_fault_modified((unsigned)strtoul(fault + 9, NULL, 10));
    else if (fault && strncmp(fault, "opening:", 8) == 0)
        srch_fault_opening((unsigned)strtoul(fault + 8, NULL, 10));
    else if (fault && strncmp(fault, "overwritten:", 12) == 0)
        srch_fault_overwritten((unsigned)strtoul(fault + 12, NULL, 10));
    else if (fault && strncmp(fault, "corrupt:", 8) == 0)
        srch_fault_corrupt((unsigned)strtoul(fault + 8, NULL, 10));
    else if (fault && strcmp(fault, "one-handle") == 0)
        srch_fault_one_handle();
    /* A process that exits soon: see util.h.  One query: one heap, warm
     * for the pool's threads; a batch: each thread its own. */
    if (!batch)
        ps_heap_hugepages((size_t)64 << 20, 1);
    else
        ps_heap_hugepages((size_t)1 << 30, 0);
    /* One query reads the word lexicon only if it needs it (10 ms: an
     * unquoted query); a batch, as a server, before its first query. */
    ana_res *res = ana_res_load(!batch, err);
    if (!res) {
        fprintf(stderr, "policy-search: %s\n", err);
        return 1;
    }
    srch_engine *e = srch_open(db, res, err);
    if (!e) {
        fprintf(stderr, "policy-search: cannot open index %s: %s\n", db, err);
        ana_res_destroy(res);
        return 1;
    }
    int rc = 0;
    srch_postings_cache(e, (size_t)postings_mb << 20);
    if (batch && srch_use_facet_index(e, err) < 0)
        fprintf(stderr, "policy-search: facet index: %s (counting without it)\n", err);
    if (stats == 2 && batch) {
        /* --explain --batch FILE: one reading a line. */
        FILE *fp = strcmp(batch, "-") == 0 ? stdin : fopen(batch, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (fp && (n = getline(&line, &cap, fp)) >= 0) {
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            srch_status st;
            json_t *o = srch_explain(e, line, &st, err);
            if (!o)
                o = json_pack("{s:s}", "error", err);
            char *s = json_dumps(o, JSON_COMPACT);
            puts(s);
            free(s);
            json_decref(o);
        }
        free(line);
        if (!fp)
            rc = 2;
        else if (fp != stdin)
            fclose(fp);
    } else if (stats) {
        srch_status st;
        json_t *o = stats == 2 ? srch_explain(e, query, &st, err)
                               : srch_stats(e, query, &st, err);
        if (!o) {
            fprintf(stderr, "policy-search: %s\n", err);
            rc = st == SRCH_BAD_REQUEST ? 2 : 1;
        } else {
            char *s = json_dumps(o, JSON_COMPACT);
            puts(s);
            free(s);
            json_decref(o);
        }
    } else if (batch) {
        FILE *fp = strcmp(batch, "-") == 0 ? stdin : fopen(batch, "r");
        if (!fp) {
            fprintf(stderr, "policy-search: cannot open %s\n", batch);
            rc = 2;
        } else {
            char *line = NULL;
            size_t cap = 0;
            ssize_t n;
            while ((n = getline(&line, &cap, fp)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                    line[--n] = '\0';
                req.query = line;
                int r1 = run_one(e, &req, 1);
                if (r1 > rc)
                    rc = r1;
                fflush(stdout);
            }
            free(line);
            if (fp != stdin)
                fclose(fp);
        }
    } else {
        req.query = query;
        /* The readable list shows no facets: not counted for it. */
        if (!json)
            req.no_facets = 1;
        rc = run_one(e, &req, json);
#if !defined(__SANITIZE_ADDRESS__)
        /* One query answered: the process ends, and freeing what it
         * read block by block took a millisecond of a 20 ms query.
         * (Under AddressSanitizer it is freed, for the leak check.) */
        exit(answered(rc));
#endif
    }
    srch_close(e);
    ana_res_destroy(res);
    return answered(rc);
}
