/*
 * policy-web: the search page and its JSON API over libmicrohttpd.
 *
 *   policy-web --db DIR [--bind 127.0.0.1] [--port 8080] [--threads N]
 *              [--cache-mb N] [--postings-mb N] [--budget-ms N] [--quiet]
 *
 * Threading: libmicrohttpd runs a pool of N epoll threads; each keeps its
 * own search engine (Xapian handles are not thread-safe) in thread-local
 * storage, created on its first request and reopened at most once a
 * second so newly indexed documents show up without a restart.
 *
 * Nothing is read from disk after start-up: the page's files are embedded
 * in the binary, so no URL can reach the file system (no traversal, no
 * listings).  Responses carry a strict Content-Security-Policy and
 * nosniff; text reaches the page only as JSON and is put into the DOM as
 * text by the page's script.
 *
 * Answers to /api/search are kept (rcache.h, --cache-mb, 64 MB by
 * default) for the same search asked again while the index is unchanged:
 * paging back, a facet clicked off again, the same topic searched by
 * several people.  Below them, what searches read is kept too (ncache.h,
 * --postings-mb, 128 MB by default): the decoded passage lists of the
 * strings searched and parsed passage records.  Narrowing a search by a
 * facet, a number or a date, or paging on, is evaluated anew over what
 * was already read.
 */

#include "analyze.h"
#include "pool.h"
#include "search.h"
#include "util.h"
#include "web/assets.h"
#include "web/gate.h"
#include "web/rcache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_MULTI 32              /* region= or sector= values at most */
#define MAX_PARAM_BYTES 8192      /* any one parameter */
#define MAX_LIMIT 1000            /* hits a page; limit=0 means this many */
#define MAX_PARAMS 200            /* query parameters a request */
#define MAX_EXPORT 100000         /* rows of one CSV export */
static const char *g_db;
static const ana_res *g_res;
static srch_index *g_index;       /* shared by every worker thread */
static int g_quiet;
static rcache *g_cache;
static long g_budget_ms = 3000;   /* a search's matching, at most */
static pthread_key_t g_engine_key;

static void free_engine(void *p)
{
    srch_close(p);
}

/* This thread's engine on the shared index, made on first use; NULL with
 * err on failure.  (The index's watcher thread takes a new snapshot
 * within a fifth of a second of a commit.) */
static srch_engine *thread_engine(char *err)
{
    srch_engine *e = pthread_getspecific(g_engine_key);
    if (!e) {
        ps_thread_heap_hugepages();
        e = srch_engine_create(g_index, g_res, err);
        if (!e)
            return NULL;
        pthread_setspecific(g_engine_key, e);
    }
    return e;
}

/* ---- static files, with gzip made once at start ---- */

typedef struct gz_asset {
    unsigned char *data;
    size_t len;
    char etag[24];
} gz_asset;

static gz_asset *g_gz;

static int gzip_bytes(const unsigned char *in, size_t n, unsigned char **out,
                      size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *buf = ps_xmalloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = cap - z.avail_out;
    return 0;
}

static void prepare_assets(void)
{
    size_t n = 0;
    while (web_assets[n].path)
        n++;
    g_gz = ps_xcalloc(n + 1, sizeof *g_gz);
    for (size_t i = 0; i < n; i++) {
        gzip_bytes(web_assets[i].data, web_assets[i].len, &g_gz[i].data,
                   &g_gz[i].len);
        uint32_t h = 2166136261u;
        for (size_t k = 0; k < web_assets[i].len; k++) {
            h ^= web_assets[i].data[k];
            h *= 16777619u;
        }
        snprintf(g_gz[i].etag, sizeof g_gz[i].etag, "\"%08x\"", h);
    }
}

/* ---- responses ---- */

/* Headers of every response.  A kept-alive connection reaches the
 * server's request parsing without passing the gate again, and its idle
 * timeout never fires on a client that trickles its next request a byte
 * at a time: so connections are kept alive only while the server holds
 * at most KEEPALIVE_MAX of them, and past that every response closes its
 * own.  Tricklers can then hold no more than KEEPALIVE_MAX of the 1024. */
#define KEEPALIVE_MAX 64
static struct MHD_Daemon *g_daemon;

static void security_headers(struct MHD_Response *r)
{
    const union MHD_DaemonInfo *di =
        g_daemon ? MHD_get_daemon_info(g_daemon,
                                       MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
                 : NULL;
    if (!di || di->num_connections > KEEPALIVE_MAX)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; "
                            "style-src 'self'; img-src 'self' data:; "
                            "object-src 'none'; base-uri 'none'; "
                            "form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static int accepts_gzip(struct MHD_Connection *c)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    return ae && strstr(ae, "gzip");
}

/* Queues body (copied) with the given status and type (and, when not
 * NULL, Content-Disposition); gzips bodies over 1 KB when the client
 * takes it. */
static enum MHD_Result send_body_as(struct MHD_Connection *c, unsigned status,
                                    const char *type, const char *disp,
                                    const char *body, size_t len,
                                    const char *cache, size_t *sent)
{
    unsigned char *gz = NULL;
    size_t gzlen = 0;
    struct MHD_Response *r;
    if (len > 1024 && accepts_gzip(c) &&
        gzip_bytes((const unsigned char *)body, len, &gz, &gzlen) == 0) {
        r = MHD_create_response_from_buffer(gzlen, gz, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        *sent = gzlen;
    } else {
        r = MHD_create_response_from_buffer(len, (void *)body,
                                            MHD_RESPMEM_MUST_COPY);
        *sent = len;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (disp)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    security_headers(r);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status,
                                 const char *type, const char *body,
                                 size_t len, const char *cache, size_t *sent)
{
    return send_body_as(c, status, type, NULL, body, len, cache, sent);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 json_t *o, size_t *sent)
{
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    if (!s) {       /* never expected: every string is checked UTF-8 */
        static const char oops[] = "{\"error\":\"an answer that cannot be "
                                   "written as JSON\"}";
        return send_body(c, 500, "application/json; charset=utf-8", oops,
                         sizeof oops - 1, "no-store", sent);
    }
    enum MHD_Result r = send_body(c, status, "application/json; charset=utf-8",
                                  s, strlen(s), "no-store", sent);
    free(s);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *msg, size_t *sent)
{
    json_t *o = srch_error_json(msg);
    enum MHD_Result r = send_json(c, status, o, sent);
    json_decref(o);
    return r;
}

/* ---- parameters ---- */

typedef struct params {
    const char *q, *unit, *min, *max, *limit, *offset, *doc, *facets;
    const char *from, *to, *sort, *group;
    size_t nparams;
    const char *regions[MAX_MULTI], *sectors[MAX_MULTI];
    const char *agencies[MAX_MULTI], *types[MAX_MULTI];
    size_t nregions, nsectors, nagencies, ntypes;
    char err[PS_ERRLEN];
} params;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
                                   const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    (void)kind;
    params *p = cls;
    if (p->err[0])
        return MHD_NO;
    if (++p->nparams > MAX_PARAMS) {
        snprintf(p->err, sizeof p->err, "more than %d query parameters",
                 MAX_PARAMS);
        return MHD_NO;
    }
    if (!value)
        value = "";
    size_t n = strlen(value);
    /* %00 decodes to a NUL that would silently cut the value short. */
    if (n != (value_size ? value_size : n) || strlen(key) != key_size) {
        const char *k = strlen(key) == key_size && ps_utf8_valid(key, key_size)
                        ? key : "?";
        snprintf(p->err, sizeof p->err, "parameter %.*s contains a NUL byte",
                 ps_clip(k, 40), k);
        return MHD_NO;
    }
    if (n > MAX_PARAM_BYTES && strcmp(key, "q") != 0) {
        const char *k = ps_utf8_valid(key, strlen(key)) ? key : "?";
        snprintf(p->err, sizeof p->err, "parameter %.*s is too long",
                 ps_clip(k, 40), k);
        return MHD_NO;
    }
    if (!ps_utf8_valid(value, n) || !ps_utf8_valid(key, strlen(key))) {
        const char *k = ps_utf8_valid(key, strlen(key)) ? key : "?";
        snprintf(p->err, sizeof p->err, "parameter %.*s is not valid UTF-8",
                 ps_clip(k, 40), k);
        return MHD_NO;
    }
    if (strcmp(key, "q") == 0) p->q = value;
    else if (strcmp(key, "unit") == 0) p->unit = value;
    else if (strcmp(key, "min") == 0) p->min = value;
    else if (strcmp(key, "max") == 0) p->max = value;
    else if (strcmp(key, "limit") == 0) p->limit = value;
    else if (strcmp(key, "offset") == 0) p->offset = value;
    else if (strcmp(key, "doc") == 0) p->doc = value;
    else if (strcmp(key, "facets") == 0) p->facets = value;
    else if (strcmp(key, "from") == 0) p->from = value;
    else if (strcmp(key, "to") == 0) p->to = value;
    else if (strcmp(key, "sort") == 0) p->sort = value;
    else if (strcmp(key, "group") == 0) p->group = value;
    else if ((strcmp(key, "agency") == 0 || strcmp(key, "type") == 0) &&
             *value) {
        int ag = key[0] == 'a';
        size_t *cnt = ag ? &p->nagencies : &p->ntypes;
        if (*cnt == MAX_MULTI) {
            snprintf(p->err, sizeof p->err, "too many %s parameters (at most %d)",
                     key, MAX_MULTI);
            return MHD_NO;
        }
        (ag ? p->agencies : p->types)[(*cnt)++] = value;
    } else if (strcmp(key, "region") == 0 && *value) {
        if (p->nregions == MAX_MULTI) {
            snprintf(p->err, sizeof p->err, "too many region parameters");
            return MHD_NO;
        }
        p->regions[p->nregions++] = value;
    } else if (strcmp(key, "sector") == 0 && *value) {
        if (p->nsectors == MAX_MULTI) {
            snprintf(p->err, sizeof p->err, "too many sector parameters");
            return MHD_NO;
        }
        p->sectors[p->nsectors++] = value;
    }
    return MHD_YES;
}

static int parse_count(const char *s, const char *name, long dflt, long max,
                       long *out, char *err)
{
    if (!s || !*s) {
        *out = dflt;
        return 0;
    }
    long v;
    if (ps_parse_long(s, &v) < 0 || v < 0 || v > max) {
        snprintf(err, PS_ERRLEN, "%s must be an integer from 0 to %ld", name,
                 max);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- handlers ---- */

/* 503: the index cannot be opened now (err says why). */
static enum MHD_Result unavailable(struct MHD_Connection *c, const char *err,
                                   unsigned *status, size_t *sent)
{
    *status = 503;
    return send_error(c, 503, err, sent);
}

/* The HTTP status of a failed search. */
static unsigned http_status(srch_status st)
{
    switch (st) {
    case SRCH_BAD_REQUEST: return 400;
    case SRCH_NOT_FOUND: return 404;
    case SRCH_TOO_LONG: return 503;
    default: return 500;
    }
}

/* The filters and order of a search, from its parameters. */
static void request_filters(srch_request *req, const params *p)
{
    req->query = p->q ? p->q : "";
    req->regions = p->regions;
    req->nregions = p->nregions;
    req->sectors = p->sectors;
    req->nsectors = p->nsectors;
    req->unit = p->unit;
    req->min = p->min;
    req->max = p->max;
    req->from = p->from;
    req->to = p->to;
    req->agencies = p->agencies;
    req->nagencies = p->nagencies;
    req->types = p->types;
    req->ntypes = p->ntypes;
    req->sort = p->sort;
    req->group = p->group;
    req->budget_ms = g_budget_ms;
}

/* A search's canonical form, the key of its kept answer: every field of
 * the request, lists in order, separated by bytes no UTF-8 text has. */
static void request_key(const srch_request *r, int capped, ps_buf *k)
{
    const char *one[] = {r->query, r->unit, r->min, r->max, r->from, r->to,
                         r->sort, r->group};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        ps_buf_adds(k, one[i] ? one[i] : "");
        ps_buf_addc(k, '\xff');
    }
    const char *const *lists[] = {r->regions, r->sectors, r->agencies, r->types};
    size_t ns[] = {r->nregions, r->nsectors, r->nagencies, r->ntypes};
    for (size_t l = 0; l < 4; l++) {
        for (size_t i = 0; i < ns[l]; i++) {
            ps_buf_adds(k, lists[l][i]);
            ps_buf_addc(k, '\xfe');
        }
        ps_buf_addc(k, '\xff');
    }
    ps_buf_printf(k, "%ld\xff%ld\xff%d\xff%d", r->limit, r->offset, r->no_facets,
                  capped);
}

/* body with its top-level "took_ms" set to ms, into out. */
static void retime(const char *body, size_t len, double ms, ps_buf *out)
{
    /* Inside a JSON string a quote is escaped: the first ,"took_ms":
     * is the top-level key. */
    const char *k = strstr(body, ",\"took_ms\":");
    const char *end = k ? strchr(k + 11, ',') : NULL;
    if (!k || !end) {
        ps_buf_add(out, body, len);
        return;
    }
    ps_buf_add(out, body, (size_t)(k - body) + 11);
    ps_buf_printf(out, "%.3f", ms);
    ps_buf_add(out, end, len - (size_t)(end - body));
}

static enum MHD_Result api_search(struct MHD_Connection *c, params *p,
                                  unsigned *status, size_t *sent)
{
    srch_request req;
    memset(&req, 0, sizeof req);
    char err[PS_ERRLEN];
    if (parse_count(p->limit, "limit", 10, MAX_LIMIT, &req.limit, err) < 0 ||
        parse_count(p->offset, "offset", 0, 100000000, &req.offset, err) < 0) {
        *status = 400;
        return send_error(c, 400, err, sent);
    }
    if (p->facets && strcmp(p->facets, "0") != 0 && strcmp(p->facets, "1") != 0) {
        *status = 400;
        return send_error(c, 400, "facets must be 0 or 1", sent);
    }
    req.no_facets = p->facets && strcmp(p->facets, "0") == 0;
    /* "All" is not for a web page: at most MAX_LIMIT hits a request. */
    int capped = req.limit == 0 && p->limit;
    if (capped)
        req.limit = MAX_LIMIT;
    req.query = p->q ? p->q : "";
    req.regions = p->regions;
    req.nregions = p->nregions;
    req.sectors = p->sectors;
    req.nsectors = p->nsectors;
    request_filters(&req, p);
    /* The same search on the same state of the index: its kept answer,
     * with the time this lookup took. */
    double t0 = ps_now();
    ps_buf key;
    ps_buf_init(&key);
    request_key(&req, capped, &key);
    unsigned long seq = srch_index_seq(g_index);
    char *kept;
    size_t klen;
    if (rc_get(g_cache, key.data, key.len, seq, &kept, &klen)) {
        ps_buf_free(&key);
        ps_buf out;
        ps_buf_init(&out);
        retime(kept, klen, (ps_now() - t0) * 1000, &out);
        free(kept);
        *status = 200;
        enum MHD_Result r = send_body(c, 200, "application/json; charset=utf-8",
                                      out.data, out.len, "no-store", sent);
        ps_buf_free(&out);
        return r;
    }
    srch_engine *e = thread_engine(err);
    if (!e) {
        ps_buf_free(&key);
        return unavailable(c, err, status, sent);
    }
    srch_status st;
    json_t *res = srch_run(e, &req, &st, err);
    if (!res) {
        ps_buf_free(&key);
        *status = http_status(st);
        return send_error(c, *status, err, sent);
    }
    if (capped) {
        char note[200];
        snprintf(note, sizeof note, "limit=0 returns at most %d hits a request "
                 "here; page with offset for more", MAX_LIMIT);
        json_object_set_new(res, "limit_capped", json_true());
        json_object_set_new(res, "message", json_string(note));
    }
    *status = 200;
    char *body = json_dumps(res, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(res);
    if (!body) {
        ps_buf_free(&key);
        *status = 500;
        return send_error(c, 500, "an answer that cannot be written as JSON",
                          sent);
    }
    rc_put(g_cache, key.data, key.len, seq, body, strlen(body));
    ps_buf_free(&key);
    enum MHD_Result r = send_body(c, 200, "application/json; charset=utf-8",
                                  body, strlen(body), "no-store", sent);
    free(body);
    return r;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a
 * line break, quotes doubled.  A field a spreadsheet would take for a
 * formula (= + - @ tab CR first) is prefixed with ' so it stays text. */
static void csv_field(ps_buf *b, const char *s, int last)
{
    if (!s)
        s = "";
    int quote = strpbrk(s, ",\"\r\n") != NULL;
    int formula = *s && strchr("=+-@\t\r", *s);
    if (quote)
        ps_buf_addc(b, '"');
    if (formula)
        ps_buf_addc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            ps_buf_addc(b, '"');
        ps_buf_addc(b, *p);
    }
    if (quote)
        ps_buf_addc(b, '"');
    ps_buf_adds(b, last ? "\r\n" : ",");
}

/* The strings of a JSON array (or of one key of its objects) joined. */
static void joined(ps_buf *b, json_t *a, const char *key)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(key ? json_object_get(v, key) : v);
        if (!s)
            continue;
        if (b->len)
            ps_buf_adds(b, "; ");
        ps_buf_adds(b, s);
    }
}

static const char *const CSV_COLUMNS[] = {
    "doc", "passage", "title", "agency", "number", "date", "published", "type",
    "page", "heading", "text", "regions", "sectors", "numbers"};

static void csv_row(ps_buf *out, json_t *h)
{
    json_t *m = json_object_get(h, "meta");
    char num[2][32];
    snprintf(num[0], sizeof num[0], "%lld",
             (long long)json_integer_value(json_object_get(h, "passage")));
    num[1][0] = '\0';
    if (json_integer_value(json_object_get(h, "page")))
        snprintf(num[1], sizeof num[1], "%lld",
                 (long long)json_integer_value(json_object_get(h, "page")));
    const char *title = json_string_value(json_object_get(m, "title"));
    if (!title)
        title = json_string_value(json_object_get(h, "title"));
    ps_buf ag, rg, sc, nb;
    ps_buf_init(&ag);
    ps_buf_init(&rg);
    ps_buf_init(&sc);
    ps_buf_init(&nb);
    joined(&ag, json_object_get(m, "agency"), NULL);
    joined(&rg, json_object_get(h, "regions"), NULL);
    joined(&sc, json_object_get(h, "sectors"), NULL);
    joined(&nb, json_object_get(h, "numbers"), "surface");
    const char *f[] = {
        json_string_value(json_object_get(h, "doc")), num[0], title, ag.data,
        json_string_value(json_object_get(m, "number")),
        json_string_value(json_object_get(m, "date")),
        json_string_value(json_object_get(m, "published")),
        json_string_value(json_object_get(m, "type")), num[1],
        json_string_value(json_object_get(h, "heading")),
        json_string_value(json_object_get(h, "text")), rg.data, sc.data, nb.data};
    size_t nf = sizeof f / sizeof f[0];
    for (size_t i = 0; i < nf; i++)
        csv_field(out, f[i], i + 1 == nf);
    ps_buf_free(&ag);
    ps_buf_free(&rg);
    ps_buf_free(&sc);
    ps_buf_free(&nb);
}

/* An export's rows, written as the search makes its hits. */
typedef struct export_rows {
    ps_buf *out;
    unsigned total;
} export_rows;

static int export_hit(void *ctx, unsigned total, json_t *hit)
{
    export_rows *x = ctx;
    x->total = total;
    if (total > MAX_EXPORT)
        return 1;                   /* refused below, before any row */
    csv_row(x->out, hit);
    return 0;
}

/* GET /api/export?...: every passage the same search finds, as CSV
 * (UTF-8 with a BOM, so spreadsheets read it as UTF-8; RFC 4180), in the
 * search's order; at most MAX_EXPORT rows, else 400 saying so.  One
 * search, on one state of the index, its hits made into rows one by
 * one. */
static enum MHD_Result api_export(struct MHD_Connection *c, params *p,
                                  unsigned *status, size_t *sent)
{
    srch_request req;
    memset(&req, 0, sizeof req);
    request_filters(&req, p);
    req.group = NULL;           /* passages, whatever the page shows */
    req.no_facets = 1;
    req.limit = 0;
    char err[PS_ERRLEN];
    srch_engine *e = thread_engine(err);
    if (!e)
        return unavailable(c, err, status, sent);
    ps_buf out;
    ps_buf_init(&out);
    ps_buf_adds(&out, "\xEF\xBB\xBF");
    size_t nc = sizeof CSV_COLUMNS / sizeof CSV_COLUMNS[0];
    for (size_t i = 0; i < nc; i++)
        csv_field(&out, CSV_COLUMNS[i], i + 1 == nc);
    export_rows rows = {&out, 0};
    req.hit_sink = export_hit;
    req.sink_ctx = &rows;
    srch_status st;
    json_t *res = srch_run(e, &req, &st, err);
    if (!res || rows.total > MAX_EXPORT) {
        ps_buf_free(&out);
        if (rows.total > MAX_EXPORT) {
            snprintf(err, sizeof err, "%u passages match; an export takes "
                     "at most %d: narrow the search (filters, dates) and "
                     "export again", rows.total, MAX_EXPORT);
            st = SRCH_BAD_REQUEST;
        }
        json_decref(res);
        *status = http_status(st);
        return send_error(c, *status, err, sent);
    }
    json_decref(res);
    *status = 200;
    enum MHD_Result ret = send_body_as(
        c, 200, "text/csv; charset=utf-8; header=present",
        "attachment; filename=\"policy-search.csv\"", out.data ? out.data : "",
        out.len, "no-store", sent);
    ps_buf_free(&out);
    return ret;
}

static enum MHD_Result api_doc(struct MHD_Connection *c, params *p,
                               unsigned *status, size_t *sent)
{
    char err[PS_ERRLEN];
    srch_engine *e = thread_engine(err);
    if (!e)
        return unavailable(c, err, status, sent);
    srch_status st;
    json_t *res = srch_doc(e, p->doc, p->q, &st, err);
    if (!res) {
        *status = http_status(st);
        return send_error(c, *status, err, sent);
    }
    *status = 200;
    enum MHD_Result r = send_json(c, 200, res, sent);
    json_decref(res);
    return r;
}

static json_t *cache_json(const ncache_stats *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "entries",
                     (json_int_t)s->entries, "bytes", (json_int_t)s->bytes,
                     "cap", (json_int_t)s->cap, "hits", (json_int_t)s->hits,
                     "misses", (json_int_t)s->misses, "evictions",
                     (json_int_t)s->evictions);
}

/* GET /api/status: the state searches are answered from (see
 * srch_index_describe()). */
static enum MHD_Result api_status(struct MHD_Connection *c, unsigned *status,
                                  size_t *sent)
{
    srch_index_info in;
    srch_index_describe(g_index, &in);
    json_t *o = json_pack("{s:I, s:I, s:I, s:b}", "state", (json_int_t)in.seq,
                          "passages", (json_int_t)in.passages, "shards",
                          (json_int_t)in.shards, "facet_index", in.facet_index);
    /* What the current snapshot keeps of what was read (ncache.h). */
    json_object_set_new(o, "postings", cache_json(&in.postings));
    json_object_set_new(o, "records", cache_json(&in.records));
    *status = 200;
    enum MHD_Result r = send_json(c, 200, o, sent);
    json_decref(o);
    return r;
}

/* The Content-Type of an indexed file of this format and encoding (an
 * image's by its name). */
static const char *file_type(const char *format, const char *encoding,
                             const char *path, char *buf, size_t n)
{
    static const struct { const char *e, *t; } images[] = {
        {".png", "image/png"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"},
        {".tif", "image/tiff"}, {".tiff", "image/tiff"}, {".gif", "image/gif"},
        {".bmp", "image/bmp"}, {".webp", "image/webp"},
    };
    if (strcmp(format, "image") == 0) {
        const char *dot = strrchr(path, '.');
        for (size_t i = 0; dot && i < sizeof images / sizeof images[0]; i++)
            if (strcasecmp(dot, images[i].e) == 0)
                return images[i].t;
        return "application/octet-stream";
    }
    static const struct { const char *f, *t; } types[] = {
        {"pdf", "application/pdf"},
        {"docx", "application/vnd.openxmlformats-officedocument."
                 "wordprocessingml.document"},
        {"doc", "application/msword"},
        {"wps", "application/vnd.ms-works"},
        {"ofd", "application/ofd"},
        {"xlsx", "application/vnd.openxmlformats-officedocument."
                 "spreadsheetml.sheet"},
        {"et", "application/vnd.openxmlformats-officedocument."
               "spreadsheetml.sheet"},
        {"xls", "application/vnd.ms-excel"},
        {"odt", "application/vnd.oasis.opendocument.text"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"odp", "application/vnd.oasis.opendocument.presentation"},
        {"pptx", "application/vnd.openxmlformats-officedocument."
                 "presentationml.presentation"},
        {"dps", "application/vnd.openxmlformats-officedocument."
                "presentationml.presentation"},
        {"html", "text/html"},
        {"markdown", "text/markdown"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(format, types[i].f) == 0)
            return types[i].t;
    snprintf(buf, n, "text/plain%s%s", *encoding ? "; charset=" : "", encoding);
    return buf;
}

/* Content-Disposition for name (RFC 6266): an ASCII fallback and the
 * UTF-8 name percent-encoded (RFC 8187). */
static void disposition(const char *name, int inl, ps_buf *out)
{
    ps_buf_adds(out, inl ? "inline; filename=\"" : "attachment; filename=\"");
    for (const char *p = name; *p; p++)
        ps_buf_addc(out, (unsigned char)*p >= 0x80 || *p == '"' || *p == '\\' ||
                             (unsigned char)*p < 0x20 ? '_' : *p);
    ps_buf_adds(out, "\"; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            ps_buf_addc(out, (char)*p);
        else
            ps_buf_printf(out, "%%%02X", *p);
    }
}

/* GET /api/file?doc=ID: the bytes of the file the document was indexed
 * from, only if it is still the regular file recorded at indexing (no
 * symlink swapped in since).  Served in a sandbox: an HTML document runs
 * no script with this site's origin. */
static enum MHD_Result api_file(struct MHD_Connection *c, params *p,
                                unsigned *status, size_t *sent)
{
    char err[PS_ERRLEN];
    srch_engine *e = thread_engine(err);
    if (!e)
        return unavailable(c, err, status, sent);
    srch_status st;
    char *path, *format, *enc;
    if (srch_file(e, p->doc, &path, &format, &enc, &st, err) < 0) {
        *status = http_status(st);
        return send_error(c, *status, err, sent);
    }
    char real[PATH_MAX];
    int fd = -1;
    struct stat sb;
    if (realpath(path, real) && strcmp(real, path) == 0)
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        free(path);
        free(format);
        free(enc);
        *status = 404;
        return send_error(c, 404, "the file of this document is no longer there",
                          sent);
    }
    struct MHD_Response *r =
        MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    char tb[96];
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            file_type(format, enc, path, tb, sizeof tb));
    const char *base = strrchr(p->doc, '/');
    ps_buf cd;
    ps_buf_init(&cd);
    disposition(base ? base + 1 : p->doc, strcmp(format, "pdf") == 0, &cd);
    MHD_add_response_header(r, "Content-Disposition", cd.data);
    ps_buf_free(&cd);
    security_headers(r);
    MHD_del_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; script-src 'self'; "
                            "style-src 'self'; img-src 'self' data:; "
                            "object-src 'none'; base-uri 'none'; "
                            "form-action 'self'; frame-ancestors 'none'");
    MHD_add_response_header(r, "Content-Security-Policy", "sandbox");
    MHD_del_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "X-Frame-Options", "SAMEORIGIN");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    *status = 200;
    *sent = (size_t)sb.st_size;
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    free(path);
    free(format);
    free(enc);
    return ret;
}

static enum MHD_Result static_file(struct MHD_Connection *c, const char *url,
                                   unsigned *status, size_t *sent)
{
    for (size_t i = 0; web_assets[i].path; i++) {
        if (strcmp(url, web_assets[i].path) != 0)
            continue;
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_IF_NONE_MATCH);
        struct MHD_Response *r;
        if (inm && strcmp(inm, g_gz[i].etag) == 0) {
            r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
            *status = 304;
            *sent = 0;
        } else if (g_gz[i].data && accepts_gzip(c)) {
            r = MHD_create_response_from_buffer(g_gz[i].len, g_gz[i].data,
                                                MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
            *status = 200;
            *sent = g_gz[i].len;
        } else {
            r = MHD_create_response_from_buffer(web_assets[i].len,
                                                (void *)web_assets[i].data,
                                                MHD_RESPMEM_PERSISTENT);
            *status = 200;
            *sent = web_assets[i].len;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, web_assets[i].type);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "public, max-age=300, must-revalidate");
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, g_gz[i].etag);
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        security_headers(r);
        enum MHD_Result ret = MHD_queue_response(c, *status, r);
        MHD_destroy_response(r);
        return ret;
    }
    *status = 404;
    return send_error(c, 404, "not found", sent);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **ctx)
{
    (void)cls;
    (void)version;
    (void)upload;
    static int marker;
    if (*ctx == NULL && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        /* Answered at once, before any body is read; the connection is
         * closed rather than drained. */
        *ctx = &marker;
        size_t sent = 0;
        json_t *o = json_pack("{s:s}", "error", "only GET and HEAD are supported");
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        struct MHD_Response *r = MHD_create_response_from_buffer(
            strlen(body), body, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json; charset=utf-8");
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        security_headers(r);
        enum MHD_Result ret = MHD_queue_response(c, 405, r);
        MHD_destroy_response(r);
        (void)sent;
        return ret;
    }
    if (*ctx == NULL) {          /* headers only so far */
        *ctx = &marker;
        return MHD_YES;
    }
    if (*upload_size) {          /* no request bodies here */
        *upload_size = 0;
        return MHD_YES;
    }
    double t0 = ps_now();
    unsigned status = 500;
    size_t sent = 0;
    enum MHD_Result ret;
    params p;
    memset(&p, 0, sizeof p);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        status = 405;
        ret = send_error(c, 405, "only GET is supported", &sent);
    } else if (strcmp(url, "/healthz") == 0) {
        status = 200;
        ret = send_body(c, 200, "text/plain; charset=utf-8", "ok\n", 3,
                        "no-store", &sent);
    } else if (strncmp(url, "/api/", 5) == 0) {
        pool_busy(1);           /* this thread answers a search: pool.h */
        MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_arg, &p);
        if (p.err[0]) {
            status = 400;
            ret = send_error(c, 400, p.err, &sent);
        } else if (strcmp(url, "/api/search") == 0) {
            ret = api_search(c, &p, &status, &sent);
        } else if (strcmp(url, "/api/export") == 0) {
            ret = api_export(c, &p, &status, &sent);
        } else if (strcmp(url, "/api/doc") == 0) {
            ret = api_doc(c, &p, &status, &sent);
        } else if (strcmp(url, "/api/file") == 0) {
            ret = api_file(c, &p, &status, &sent);
        } else if (strcmp(url, "/api/status") == 0) {
            ret = api_status(c, &status, &sent);
        } else {
            status = 404;
            ret = send_error(c, 404, "no such API", &sent);
        }
        pool_busy(-1);
    } else {
        ret = static_file(c, url, &status, &sent);
    }
    if (!g_quiet) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char addr[64] = "-";
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr,
                      addr, sizeof addr);
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
        /* Control characters escaped: a query or path cannot forge a log
         * line or move a terminal's cursor. */
        ps_buf lu, lq;
        ps_buf_init(&lu);
        ps_buf_init(&lq);
        ps_buf_add_escaped(&lu, url, strlen(url) < 200 ? strlen(url) : 200);
        if (q && ps_utf8_valid(q, strlen(q)))
            ps_buf_add_escaped(&lq, q, strlen(q) < 200 ? strlen(q) : 200);
        fprintf(stderr, "%s %.16s %s%s%s %u %zuB %.2fms\n", addr, method,
                lu.data ? lu.data : "", q ? " q=" : "", lq.data ? lq.data : "",
                status, sent, (ps_now() - t0) * 1000);
        ps_buf_free(&lu);
        ps_buf_free(&lq);
    }
    return ret;
}

static int bind_socket(int fd, const struct sockaddr_in *sa)
{
    return bind(fd, (const struct sockaddr *)sa, sizeof *sa);
}

static void on_signal(int sig)
{
    (void)sig;                /* never runs: the signals are blocked */
}

int main(int argc, char **argv)
{
    /* SIGINT and SIGTERM are taken by this thread alone, with sigwait()
     * at the end: blocked before any thread starts, so that every thread
     * inherits the block.  (A handler runs on whichever thread the kernel
     * picks; one that ran elsewhere left this thread asleep in pause(),
     * and the server did not stop.)  A handler is still set: a signal
     * ignored (SIGINT in a shell's background job) is discarded, never
     * waited for. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    const char *bind = "127.0.0.1";
    long port = 8080, threads = sysconf(_SC_NPROCESSORS_ONLN), cache_mb = 64;
    long postings_mb = 128;
    for (int i = 1; i < argc; i++) {
        int has = i + 1 < argc;
        if (has && strcmp(argv[i], "--db") == 0) {
            g_db = argv[++i];
        } else if (has && strcmp(argv[i], "--bind") == 0) {
            bind = argv[++i];
        } else if (has && strcmp(argv[i], "--port") == 0) {
            if (ps_parse_long(argv[++i], &port) < 0 || port < 0 || port > 65535) {
                fprintf(stderr, "policy-web: --port must be 0..65535\n");
                return 2;
            }
        } else if (has && strcmp(argv[i], "--threads") == 0) {
            if (ps_parse_long(argv[++i], &threads) < 0 || threads < 1 ||
                threads > 256) {
                fprintf(stderr, "policy-web: --threads must be 1..256\n");
                return 2;
            }
        } else if (has && strcmp(argv[i], "--budget-ms") == 0) {
            if (ps_parse_long(argv[++i], &g_budget_ms) < 0 || g_budget_ms < 0 ||
                g_budget_ms > 3600000) {
                fprintf(stderr, "policy-web: --budget-ms must be 0..3600000\n");
                return 2;
            }
        } else if (has && strcmp(argv[i], "--cache-mb") == 0) {
            if (ps_parse_long(argv[++i], &cache_mb) < 0 || cache_mb < 0 ||
                cache_mb > 65536) {
                fprintf(stderr, "policy-web: --cache-mb must be 0..65536\n");
                return 2;
            }
        } else if (has && strcmp(argv[i], "--postings-mb") == 0) {
            if (ps_parse_long(argv[++i], &postings_mb) < 0 || postings_mb < 0 ||
                postings_mb > 65536) {
                fprintf(stderr, "policy-web: --postings-mb must be 0..65536\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--quiet") == 0) {
            g_quiet = 1;
        } else {
            fprintf(stderr, "usage: policy-web --db DIR [--bind 127.0.0.1] "
                    "[--port 8080] [--threads N] [--cache-mb N]\n"
                    "                  [--postings-mb N] [--budget-ms N] [--quiet]\n");
            return 2;
        }
    }
    if (!g_db) {
        fprintf(stderr, "policy-web: --db is required\n");
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        fprintf(stderr, "policy-web: --bind must be an IPv4 address\n");
        return 2;
    }
    char err[PS_ERRLEN];
    /* Huge pages for the heaps (util.h): a search reads the snapshot's
     * facet rows at random; each HTTP worker advises its own heap as it
     * makes its engine. */
    ps_heap_hugepages((size_t)1 << 30, 0);
    ana_res *res = ana_res_load(0, err);
    if (!res) {
        fprintf(stderr, "policy-web: %s\n", err);
        return 1;
    }
    g_res = res;
    /* Fail early, with a clear message, if the index cannot be opened.
     * One index (and one facet index) for the whole process. */
    g_index = srch_index_open(g_db, 1, err);
    if (!g_index) {
        fprintf(stderr, "policy-web: cannot open index %s: %s\n", g_db, err);
        return 1;
    }
    srch_index_postings_cache(g_index, (size_t)postings_mb << 20);
    if (srch_index_watch(g_index, err) < 0) {
        fprintf(stderr, "policy-web: %s\n", err);
        return 1;
    }
    g_cache = rc_create((size_t)cache_mb << 20);
    pthread_key_create(&g_engine_key, free_engine);
    prepare_assets();
    signal(SIGPIPE, SIG_IGN);
    /* We listen and accept; the gate (gate.h) hands the server only
     * connections whose request headers have arrived in time. */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind_socket(lfd, &sa) < 0 || listen(lfd, 1024) < 0) {
        fprintf(stderr, "policy-web: cannot listen on %s:%ld: %s\n", bind, port,
                strerror(errno));
        return 1;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
            MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG,
        0, NULL, NULL, handle, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)128,
        /* At most 32 KB: larger, libmicrohttpd maps it per connection
         * and clears all of it after every request.  The gate answers
         * requests whose headers do not fit (gate.c). */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_END);
    g_daemon = d;
    if (!d) {
        fprintf(stderr, "policy-web: cannot start the HTTP server: %s\n",
                strerror(errno));
        return 1;
    }
    gate *gt = gate_start(lfd, d, err, sizeof err);
    if (!gt) {
        fprintf(stderr, "policy-web: %s\n", err);
        MHD_stop_daemon(d);
        return 1;
    }
    struct sockaddr_in got;
    socklen_t gl = sizeof got;
    getsockname(lfd, (struct sockaddr *)&got, &gl);
    fprintf(stderr, "policy-web: serving %s on http://%s:%u/\n", g_db, bind,
            (unsigned)ntohs(got.sin_port));
    int sig;
    while (sigwait(&stop, &sig) != 0)
        ;
    gate_stop(gt);
    close(lfd);
    MHD_stop_daemon(d);
    rc_destroy(g_cache);
    srch_index_close(g_index);
    ana_res_destroy(res);
    return 0;
}
