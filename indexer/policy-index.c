/*
 * policy-index: index policy documents into a sharded Xapian database.
 *
 *   policy-index --db DIR [--jobs N] PATH...
 *   policy-index --extract FILE
 *
 * DIR holds shard0..shardN-1 and a XAPIANDB stub listing them, so readers
 * open DIR as one database.  The shard count is fixed when DIR is created
 * (--jobs, default: the number of cores); each run uses one worker thread
 * per shard, and a file always goes to the shard its id hashes to.  Each
 * worker reads, decodes, analyzes and writes its own files, committing in
 * batches, so a crash loses at most the current batch and never leaves an
 * unopenable database.
 *
 * Incremental runs compare each file's size and mtime with what the shard
 * recorded (metadata "f:<id>"): unchanged files are skipped, changed ones
 * replaced once their new text has been read, and files gone from an
 * indexed directory removed.
 *
 * This program keeps the arguments, the walk, the threads and progress;
 * the index itself (layout, lock, shard writers, segments, compaction,
 * --check) is lib/index.c.
 */
#define _DEFAULT_SOURCE
#include "analyze.h"
#include "decode.h"
#include "docmeta.h"
#include "extract.h"
#include "grams.h"
#include "fdict.h"
#include "index.h"
#include "normalize.h"
#include "numbers.h"
#include "passage.h"
#include "schema.h"
#include "strset.h"
#include "util.h"
#include "xap.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SHARDS 64
#define MAX_DOC_TERMS 16

typedef struct file {
    char *path;        /* as opened */
    char *docid;       /* relative to its root, or its name */
    char *root;        /* absolute directory it was found under, or "" */
    long long mtime;
    long long size;
    int shard;         /* the shard that has indexed it, or -1: any */
    char *was;         /* its metadata there ("mtime size root"), or NULL */
    int state;         /* 0 todo, 1 indexed, 2 unchanged, 3 failed, 4 skipped */
} file;

typedef struct run {
    const char *db;
    int nshards;
    file *files;
    size_t nfiles, capfiles;
    char **roots;      /* directories given on the command line */
    size_t nroots;
    const ana_res *res;
    strset *seen;      /* docids found this run */
    strset *dirs;      /* directories walked (device:inode) */
    pthread_mutex_t lock;
    int progress;
    int compact;           /* compact each changed shard at its end */
    int follow_links;      /* follow symbolic links out of the roots */
    ext_opts xopts;        /* how documents are read */
    char **skipwhy;        /* reasons files were skipped ... */
    size_t *skipn;         /* ... and how many each */
    size_t nskipwhy;
    atomic_size_t done, indexed, unchanged, removed, failed, skipped, passages;
    atomic_size_t bytes;
    atomic_size_t next_free;   /* files no shard has yet: next to take */
    atomic_int fatal;
} run;

static void usage(void)
{
    fprintf(stderr,
            "usage: policy-index --db DIR [--jobs N] [--wait] PATH...\n"
            "       policy-index --extract FILE\n"
            "       policy-index --check DIR      (verify an index; exit 1 if damaged)\n"
            "       policy-index --passages FILE   (how FILE is cut)\n"
            "       policy-index --meta FILE       (title, agency, number, dates, type)\n"
            "  --wait       wait for another policy-index writing DIR\n"
            "  --ocr        read scanned PDF pages with OCR (Tesseract, chi_sim)\n"
            "  --follow-symlinks  follow links out of the directories named\n"
            "  --no-facets  skip numbers, regions and sectors (benchmarks only)\n"
            "  --no-compact leave the shards as written (faster, larger)\n"
            "  --optimize   merge each shard's character index into one segment\n"
            "               and compact the shard (costs the whole index; PATH\n"
            "               may then be left out)\n");
}

static void report(run *r, const char *path, const char *msg)
{
    /* A file name may hold newlines or terminal escapes: printed escaped. */
    ps_buf p;
    ps_buf_init(&p);
    ps_buf_add_escaped(&p, path, strlen(path));
    pthread_mutex_lock(&r->lock);
    if (r->progress)
        fprintf(stderr, "\r\033[K");
    fprintf(stderr, "policy-index: %s: %s\n", p.data, msg);
    pthread_mutex_unlock(&r->lock);
    ps_buf_free(&p);
}

/* Counts a skipped file for the summary: reason NULL, an unsupported
 * format, by extension; else the reason itself. */
static void count_skip(run *r, const char *path, const char *reason)
{
    const char *ext = ext_extension(path);
    char why[96];
    if (reason)
        snprintf(why, sizeof why, "o%s", reason);
    else
        snprintf(why, sizeof why, "u%s", *ext ? ext : "no extension");
    for (char *p = why + 1; *p && !reason; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    pthread_mutex_lock(&r->lock);
    size_t i = 0;
    while (i < r->nskipwhy && strcmp(r->skipwhy[i], why) != 0)
        i++;
    if (i == r->nskipwhy) {
        r->skipwhy = ps_xrealloc(r->skipwhy, (i + 1) * sizeof(char *));
        r->skipn = ps_xrealloc(r->skipn, (i + 1) * sizeof(size_t));
        r->skipwhy[i] = ps_xstrdup(why);
        r->skipn[i] = 0;
        r->nskipwhy++;
    }
    r->skipn[i]++;
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->skipped, 1);
}

/* The document id of a file's path below its root, as UTF-8.  A name
 * that is not UTF-8 is mostly GBK (a zip made on Chinese Windows,
 * unpacked here): each such part of the path is read as GB18030, and
 * what even that cannot read is written as %XX.  The same bytes always
 * give the same id, so the next run finds the document again. */
static char *docid_of(const char *raw)
{
    size_t n = strlen(raw);
    if (ps_utf8_valid(raw, n))
        return ps_xstrdup(raw);
    ps_buf out;
    ps_buf_init(&out);
    for (size_t i = 0; i <= n;) {
        size_t e = i;
        while (e < n && raw[e] != '/')
            e++;
        char *dec = NULL, err[PS_ERRLEN];
        size_t dl = 0;
        if (ps_utf8_valid(raw + i, e - i)) {
            ps_buf_add(&out, raw + i, e - i);
        } else if (dec_named(raw + i, e - i, "GB18030", &dec, &dl, err) == 0 &&
                   ps_utf8_valid(dec, dl) && !memchr(dec, '/', dl) &&
                   !memchr(dec, '\0', dl)) {
            ps_buf_add(&out, dec, dl);
        } else {
            for (size_t k = i; k < e;) {
                int l = ps_utf8_len((unsigned char)raw[k]);
                if (k + (size_t)l <= e && ps_utf8_valid(raw + k, (size_t)l)) {
                    ps_buf_add(&out, raw + k, (size_t)l);
                    k += (size_t)l;
                } else {
                    ps_buf_printf(&out, "%%%02X", (unsigned char)raw[k++]);
                }
            }
        }
        free(dec);
        if (e < n)
            ps_buf_addc(&out, '/');
        i = e + 1;
    }
    ps_buf_add(&out, "", 0);
    return ps_buf_steal(&out);
}

static void add_file(run *r, const char *path, const char *rawid,
                     const char *root, const struct stat *st)
{
    char *docid = docid_of(rawid);
    if (strset_get(r->seen, docid, strlen(docid)) >= 0) {
        report(r, path, "another file has the same document id; skipped");
        atomic_fetch_add(&r->failed, 1);
        free(docid);
        return;
    }
    strset_put(r->seen, docid, strlen(docid), 1);
    if (r->nfiles == r->capfiles) {
        r->capfiles = r->capfiles ? 2 * r->capfiles : 256;
        r->files = ps_xrealloc(r->files, r->capfiles * sizeof(file));
    }
    file *f = &r->files[r->nfiles++];
    f->path = ps_xstrdup(path);
    f->docid = docid;
    f->root = ps_xstrdup(root);
    f->mtime = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    f->size = (long long)st->st_size;
    f->shard = -1;      /* decided once the shards are open */
    f->was = NULL;
    f->state = 0;
}

/* 1 when path is dir or inside it (both absolute, without ".."). */
static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0' ||
                                         (n == 1 && dir[0] == '/'));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir (absolute root, relative prefix rel) in name order. */
static void walk(run *r, const char *root, const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
    /* A directory reached twice (a symlink loop, or two links to it) is
     * walked once. */
    struct stat dst;
    if (stat(path, &dst) == 0) {
        char key[64];
        snprintf(key, sizeof key, "%llu:%llu", (unsigned long long)dst.st_dev,
                 (unsigned long long)dst.st_ino);
        if (strset_get(r->dirs, key, strlen(key)) >= 0)
            return;
        strset_put(r->dirs, key, strlen(key), 1);
    }
    DIR *d = opendir(path);
    if (!d) {
        report(r, path, strerror(errno));
        atomic_fetch_add(&r->failed, 1);
        return;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_name[0] == '.') {
            /* Hidden files and folders (.git, editors' backups): not
             * documents, but counted so that nothing goes unsaid. */
            char hp[PATH_MAX];
            snprintf(hp, sizeof hp, "%s/%s", path, de->d_name);
            count_skip(r, hp, "hidden");
            continue;
        }
        names = ps_xrealloc(names, (n + 1) * sizeof(char *));
        names[n++] = ps_xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX], full[PATH_MAX];
        int sl = snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        int fl = snprintf(full, sizeof full, "%s/%s", root, sub);
        if (sl < 0 || fl < 0 || (size_t)sl >= sizeof sub || (size_t)fl >= sizeof full) {
            char shown[300];
            snprintf(shown, sizeof shown, "%.120s/.../%.120s", root, names[i]);
            report(r, shown, "path longer than the system allows (4096 bytes); "
                   "skipped");
            count_skip(r, shown, "path too long");
            free(names[i]);
            continue;
        }
        struct stat st, lst;
        char real[PATH_MAX];
        if (stat(full, &st) < 0) {
            report(r, full, strerror(errno));
            atomic_fetch_add(&r->failed, 1);
        } else if (!r->follow_links && lstat(full, &lst) == 0 &&
                   S_ISLNK(lst.st_mode) &&
                   (!realpath(full, real) || !under(real, root))) {
            /* A link out of the tree the user named: not followed (it
             * could be /etc/passwd, served to anyone by /api/file). */
            report(r, full, "symbolic link out of the indexed directory; "
                   "skipped (--follow-symlinks to follow)");
            count_skip(r, full, "outside the indexed roots");
        } else if (S_ISDIR(st.st_mode)) {
            walk(r, root, sub);
        } else if (!S_ISREG(st.st_mode)) {
            report(r, full, "not a regular file");
            atomic_fetch_add(&r->failed, 1);
        } else {
            add_file(r, full, sub, root, &st);
        }
        free(names[i]);
    }
    free(names);
}

/* ---- one worker per shard ---- */

typedef struct worker {
    run *r;
    int shard;
    ix_writer *ixw;
    ana_ctx *ana;
    /* indexed since the last commit: counted only once committed */
    size_t pend_files, pend_passages, pend_bytes;
    const char *cur;        /* the document being written */
    char err[PS_ERRLEN];    /* of the last failed passage write */
} worker;

static int fault(const char *what, const char *docid, char *err);

static int emit_doc(void *ctx, xap_doc *doc, const char *text, size_t len,
                    const char *data, size_t datalen)
{
    worker *wk = ctx;
    char ferr[PS_ERRLEN];
    if (wk->cur && fault("data-record", wk->cur, ferr))
        datalen = 0;            /* a damaged index, for tests */
    if (wk->cur && fault("grams", wk->cur, ferr))
        text = NULL;            /* passages the character index lacks */
    if (wk->cur && fault("facets", wk->cur, ferr)) {
        /* a coded facet value naming a member no dictionary has */
        static const char bad[] = {FACET_CODED, 1, 1, '\xff', '\xff', '\xff',
                                   '\x7f'};
        xap_doc_set_value(doc, SLOT_FACETS, bad, sizeof bad);
    }
    if (wk->cur && fault("facet-column", wk->cur, ferr))
        ix_writer_fault_column(wk->ixw);   /* a row naming no member */
    return ix_writer_add(wk->ixw, doc, text, len, data, datalen, wk->err) < 0;
}

/* Commits the batch; counts its files as indexed, or as failed when the
 * commit fails (then nothing of the batch is in the index, and a full
 * disk is named as such: the storage's message only says a block could
 * not be written). */
static int commit(worker *wk)
{
    char err[PS_ERRLEN];
    if (ix_writer_commit(wk->ixw, NULL, err) < 0) {
        char msg[PS_ERRLEN + 200];
        struct statvfs vs;
        int full = statvfs(wk->r->db, &vs) == 0 &&
                   (unsigned long long)vs.f_bavail * vs.f_frsize < (4ull << 20);
        snprintf(msg, sizeof msg, "%s%s; %zu file%s of this run not indexed "
                 "(the index keeps its last committed state)",
                 full ? "No space left on device: " : "", err,
                 wk->pend_files, wk->pend_files == 1 ? "" : "s");
        report(wk->r, wk->r->db, msg);
        atomic_fetch_add(&wk->r->failed, wk->pend_files);
        wk->pend_files = wk->pend_passages = wk->pend_bytes = 0;
        atomic_store(&wk->r->fatal, 1);
        return -1;
    }
    atomic_fetch_add(&wk->r->indexed, wk->pend_files);
    atomic_fetch_add(&wk->r->passages, wk->pend_passages);
    atomic_fetch_add(&wk->r->bytes, wk->pend_bytes);
    wk->pend_files = wk->pend_passages = wk->pend_bytes = 0;
    return 0;
}

/* Fault injection for tests: PS_FAULT=WHAT:DOCID makes that step fail for
 * that document (as a failed write would). */
static int fault(const char *what, const char *docid, char *err)
{
    if (!ps_fault_on(what, docid))
        return 0;
    snprintf(err, PS_ERRLEN, "%s: write failed (PS_FAULT)", what);
    return 1;
}

/* Takes a file's passages and records out again after a failure (best
 * effort: what cannot be undone is dropped with the batch if the commit
 * fails too). */
static void unindex_file(worker *wk, const file *f, const char *fterm)
{
    char err[PS_ERRLEN], key[PATH_MAX + 8];
    ix_writer_delete(wk->ixw, fterm, NULL, err);
    static const char *const pfx[] = {META_FILE, META_PATH, META_DOC};
    for (size_t i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "%s%s", pfx[i], f->docid);
        ix_writer_set(wk->ixw, key, "", err);
    }
}

/* A metadata value fit for a term and the facet slot: short, and
 * without control characters (the slot separates with them). */
static int term_value(const char *v)
{
    if (!v || strlen(v) >= MAX_FILE_TERM)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* The metadata terms and date every passage of the document carries. */
static void set_doc_terms(ana_ctx *a, json_t *dm)
{
    ps_buf t[MAX_DOC_TERMS];
    const char *terms[MAX_DOC_TERMS];
    size_t n = 0;
    const char *date = dm ? json_string_value(json_object_get(dm, "date")) : NULL;
    if (!date && dm)
        date = json_string_value(json_object_get(dm, "published"));
    if (date && strlen(date) >= 4) {
        ps_buf_init(&t[n]);
        ps_buf_printf(&t[n], PFX_YEAR "%.4s", date);
        n++;
    }
    json_t *ag = dm ? json_object_get(dm, "agency") : NULL;
    for (size_t i = 0; i < json_array_size(ag) && n < MAX_DOC_TERMS - 2; i++) {
        const char *v = json_string_value(json_array_get(ag, i));
        if (term_value(v)) {
            ps_buf_init(&t[n]);
            ps_buf_printf(&t[n], PFX_AGENCY "%s", v);
            n++;
        }
    }
    static const char *const one[] = {"type", "number"};
    static const char *const pfx[] = {PFX_TYPE, PFX_NUMBER};
    for (size_t k = 0; k < 2 && dm; k++) {
        const char *v = json_string_value(json_object_get(dm, one[k]));
        if (term_value(v)) {
            ps_buf_init(&t[n]);
            ps_buf_printf(&t[n], "%s%s", pfx[k], v);
            n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        terms[i] = t[i].data;
    ana_ctx_set_doc_terms(a, terms, n, date);
    for (size_t i = 0; i < n; i++)
        ps_buf_free(&t[i]);
}

static void title_hint(const char *docid, char *out, size_t n)
{
    const char *base = strrchr(docid, '/');
    base = base ? base + 1 : docid;
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
}

static void index_file(worker *wk, file *f)
{
    run *r = wk->r;
    char key[PATH_MAX + 8], err[PS_ERRLEN];
    snprintf(key, sizeof key, META_FILE "%s", f->docid);
    char now[PATH_MAX + 64];
    snprintf(now, sizeof now, "%lld %lld %s", f->mtime, f->size, f->root);
    if (f->was && strcmp(f->was, now) == 0) {
        f->state = 2;
        return;
    }
    ext_doc *xd;
    ext_status xs = ext_read_file(f->path, &r->xopts, &xd, err);
    if (xs != EXT_OK) {
        report(r, f->path, err);
        if (xs == EXT_UNSUPPORTED)
            count_skip(r, f->path, NULL);
        f->state = xs == EXT_UNSUPPORTED ? 4 : 3;
        return;
    }
    char fterm[MAX_FILE_TERM + 32];
    ana_file_term(f->docid, fterm, sizeof fterm);
    /* A file indexed before is replaced.  A file without a record has its
     * passages deleted too, should an earlier run have left any: never
     * twice the same passages. */
    if (ix_writer_delete(wk->ixw, fterm, NULL, err) < 0) {
        ext_doc_free(xd);
        report(r, f->path, err);
        f->state = 3;
        return;
    }
    /* What the document says of itself: on every passage as terms and
     * a date, and in its record. */
    json_t *dm = dm_from_doc(xd, err);
    set_doc_terms(wk->ana, dm);
    char hint[256];
    title_hint(f->docid, hint, sizeof hint);
    size_t np = 0;
    wk->err[0] = '\0';
    wk->cur = f->docid;
    if (ana_document(wk->ana, f->docid, xd->in, xd->nin,
                     xd->title ? xd->title : hint, xd->format, xd->ocr,
                     emit_doc, wk, &np, err) < 0) {
        ext_doc_free(xd);
        json_decref(dm);
        /* A write that failed says why (Xapian's message), not only
         * where the analysis stopped. */
        if (wk->err[0]) {
            char both[2 * PS_ERRLEN];
            snprintf(both, sizeof both, "%s: %s", err, wk->err);
            report(r, f->path, both);
        } else {
            report(r, f->path, err);
        }
        unindex_file(wk, f, fterm);
        f->state = 3;
        return;
    }
    /* Where the file is, for /api/file. */
    char abs[PATH_MAX], pkey[PATH_MAX + 8];
    ps_buf pv;
    ps_buf_init(&pv);
    ps_buf_printf(&pv, "%s\t%s\t", xd->format, xd->encoding ? xd->encoding : "");
    if (!realpath(f->path, abs))
        abs[0] = '\0';
    if (ps_utf8_valid(abs, strlen(abs))) {
        ps_buf_adds(&pv, abs);
    } else {        /* a path that is not UTF-8: its bytes, in hex */
        ps_buf_adds(&pv, PATH_HEX);
        for (const char *c = abs; *c; c++)
            ps_buf_printf(&pv, "%02x", (unsigned char)*c);
    }
    snprintf(pkey, sizeof pkey, META_PATH "%s", f->docid);
    int bad = ix_writer_set(wk->ixw, pkey, pv.data, err) < 0;
    ps_buf_free(&pv);
    /* What the file says of itself, for the document view (and the
     * metadata filters to come). */
    json_t *m = json_object(), *pairs = json_object();
    json_object_set_new(m, "format", json_string(xd->format));
    if (xd->title)
        json_object_set_new(m, "title", json_string(xd->title));
    if (xd->pages)
        json_object_set_new(m, "pages", json_integer(xd->pages));
    if (xd->ocr)
        json_object_set_new(m, "ocr", json_true());
    for (size_t i = 0; i < xd->nmeta; i++)
        json_object_set_new(pairs, xd->meta[i].key, json_string(xd->meta[i].value));
    json_object_set_new(m, "source", pairs);
    if (dm)
        json_object_set(m, "meta", dm);
    json_decref(dm);
    char *mj = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    snprintf(pkey, sizeof pkey, META_DOC "%s", f->docid);
    char ferr[PS_ERRLEN];
    if (!fault("doc-record", f->docid, ferr))   /* else a damaged index */
        bad = bad || ix_writer_set(wk->ixw, pkey, mj ? mj : "", err) < 0;
    free(mj);
    ext_doc_free(xd);
    /* The file record last: without it the next run would take the file
     * for new.  If any record cannot be written, the passages go too. */
    bad = bad || ix_writer_set(wk->ixw, key, now, err) < 0 ||
          fault("file-record", f->docid, err);
    if (bad) {
        report(r, f->path, err);
        unindex_file(wk, f, fterm);
        f->state = 3;
        return;
    }
    wk->pend_files++;
    wk->pend_passages += np;
    wk->pend_bytes += (size_t)f->size;
    f->state = 1;
    if (ix_writer_due(wk->ixw))
        commit(wk);
}

typedef struct gone_ctx {
    worker *wk;
    char **keys;
    size_t n;
} gone_ctx;

static void collect_key(void *ctx, const char *key)
{
    gone_ctx *g = ctx;
    g->keys = ps_xrealloc(g->keys, (g->n + 1) * sizeof(char *));
    g->keys[g->n++] = ps_xstrdup(key);
}

/* Removes documents whose files are gone from a directory indexed now. */
static void remove_gone(worker *wk)
{
    run *r = wk->r;
    gone_ctx g = {wk, NULL, 0};
    if (ix_writer_keys(wk->ixw, META_FILE, collect_key, &g, wk->err) < 0) {
        report(r, r->db, wk->err);
        return;
    }
    for (size_t i = 0; i < g.n; i++) {
        const char *docid = g.keys[i] + strlen(META_FILE);
        char *val = NULL;
        if (strset_get(r->seen, docid, strlen(docid)) < 0 &&
            ix_writer_get(wk->ixw, g.keys[i], &val, wk->err) == 0 &&
            *val) {
            const char *sp = strchr(val, ' ');
            const char *root = sp ? strchr(sp + 1, ' ') : NULL;
            root = root ? root + 1 : "";
            for (size_t k = 0; k < r->nroots; k++) {
                if (*root && strcmp(root, r->roots[k]) == 0) {
                    char fterm[MAX_FILE_TERM + 32];
                    ana_file_term(docid, fterm, sizeof fterm);
                    char pkey[PATH_MAX + 8];
                    snprintf(pkey, sizeof pkey, META_PATH "%s", docid);
                    if (ix_writer_delete(wk->ixw, fterm, NULL, wk->err) == 0 &&
                        ix_writer_set(wk->ixw, g.keys[i], "", wk->err) == 0 &&
                        ix_writer_set(wk->ixw, pkey, "", wk->err) == 0) {
                        snprintf(pkey, sizeof pkey, META_DOC "%s", docid);
                        ix_writer_set(wk->ixw, pkey, "", wk->err);
                        atomic_fetch_add(&r->removed, 1);
                    }
                    break;
                }
            }
        }
        free(val);
        free(g.keys[i]);
    }
    free(g.keys);
}


/* The next file for this worker: first those its shard has indexed
 * before (they must be replaced there), then any file no shard has, taken
 * from a shared counter so that the workers finish together. */
static file *next_file(worker *wk, size_t *mine)
{
    run *r = wk->r;
    while (*mine < r->nfiles) {
        file *f = &r->files[(*mine)++];
        if (f->shard == wk->shard)
            return f;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&r->next_free, 1);
        if (i >= r->nfiles)
            return NULL;
        if (r->files[i].shard < 0)
            return &r->files[i];
    }
}

static void *work(void *arg)
{
    worker *wk = arg;
    run *r = wk->r;
    size_t mine = 0;
    file *f;
    while (!atomic_load(&r->fatal) && (f = next_file(wk, &mine))) {
        index_file(wk, f);
        if (f->state == 1)
            ;                   /* counted when its batch is committed */
        else if (f->state == 2)
            atomic_fetch_add(&r->unchanged, 1);
        else if (f->state == 3)
            atomic_fetch_add(&r->failed, 1);
        atomic_fetch_add(&r->done, 1);
    }
    if (!atomic_load(&r->fatal))
        remove_gone(wk);
    int ok = !atomic_load(&r->fatal) && commit(wk) == 0;
    char err[PS_ERRLEN];
    if (ok && r->compact == 2 && ix_writer_optimize(wk->ixw, err) < 0) {
        /* --optimize: one segment, nothing deleted left in it. */
        report(r, r->db, err);
        atomic_store(&r->fatal, 1);
        ok = 0;
    }
    /* Each shard is compacted (when worth it) by its own thread, while
     * the others may still be indexing. */
    ix_writer *w = wk->ixw;
    wk->ixw = NULL;
    if (!ok) {
        ix_writer_close(w);
    } else if (ix_writer_finish(w, r->compact, err) < 0) {
        fprintf(stderr, "policy-index: %s/shard%d: compaction failed "
                "(the index is fine, just larger): %s\n", r->db, wk->shard, err);
    }
    return NULL;
}

/* ---- --extract and --passages ---- */

/* Prints how FILE is cut: one JSON object per block (kind, lines, text)
 * and per passage. */
/* Reads, decodes and cuts FILE; NULL after an error line. */
static psg_doc *load_doc(const char *path, const char **enc)
{
    char err[PS_ERRLEN];
    psg_doc *d = NULL;
    ext_doc *xd;
    ext_opts o = {0, NULL};
    *enc = "";
    if (ext_read_file(path, &o, &xd, err) == EXT_OK) {
        *enc = xd->encoding ? xd->encoding : xd->format;
        d = psg_parse_input(xd->in, xd->nin, xd->title ? xd->title : "", err);
        ext_doc_free(xd);
    }
    if (!d)
        fprintf(stderr, "policy-index: %s: %s\n", path, err);
    return d;
}

static int dump_passages(const char *path)
{
    const char *enc;
    psg_doc *d = load_doc(path, &enc);
    if (!d)
        return 1;
    static const char *const kinds[] = {"text", "heading", "page number"};
    json_t *t = json_pack("{s:s,s:s}", "title", d->title, "encoding", enc);
    char *s = json_dumps(t, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(t);
    for (size_t b = 0; b < d->nblocks; b++) {
        const psg_block *bl = &d->blocks[b];
        json_t *o = json_pack("{s:s,s:i,s:s}", "block", kinds[bl->kind],
                              "line", psg_line_at(bl, 0), "text", bl->text);
        json_t *ps = json_array();
        for (size_t i = 0; i < d->npassages; i++)
            if (d->passages[i].block == b)
                json_array_append_new(ps, json_integer(d->passages[i].ordinal));
        json_object_set_new(o, "passages", ps);
        s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    }
    psg_doc_free(d);
    return 0;
}

static int extract(const char *path)
{
    char err[PS_ERRLEN];
    const char *enc;
    num_units *u = num_units_load(err);
    if (!u) {
        fprintf(stderr, "policy-index: %s\n", err);
        return 1;
    }
    psg_doc *d = load_doc(path, &enc);
    if (!d) {
        num_units_destroy(u);
        return 1;
    }
    for (size_t b = 0; b < d->nblocks; b++) {
        const psg_block *bl = &d->blocks[b];
        if (bl->kind == PSG_NOISE)
            continue;
        num_mention *ms;
        size_t n = num_extract(u, bl->text, bl->len, &ms);
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "line", json_integer(psg_line_at(bl, ms[i].start)));
            json_object_set_new(o, "surface", json_string(ms[i].surface));
            double v = ms[i].value;
            if (v == (double)(long long)v && v < 9e15)
                json_object_set_new(o, "value", json_integer((json_int_t)v));
            else
                json_object_set_new(o, "value", json_real(v));
            json_object_set_new(o, "unit", json_string(ms[i].unit));
            char *s = json_dumps(o, JSON_COMPACT);
            printf("%s\n", s);
            free(s);
            json_decref(o);
        }
        free(ms);
    }
    psg_doc_free(d);
    num_units_destroy(u);
    return 0;
}

/* policy-index --meta FILE: what the document says of itself (JSON). */
static int print_meta(const char *path, int ocr)
{
    char err[PS_ERRLEN];
    ext_opts o;
    memset(&o, 0, sizeof o);
    o.ocr = ocr;
    ext_doc *xd;
    if (ext_read_file(path, &o, &xd, err) != EXT_OK) {
        fprintf(stderr, "policy-index: %s: %s\n", path, err);
        return 1;
    }
    json_t *m = dm_from_doc(xd, err);
    ext_doc_free(xd);
    if (!m) {
        fprintf(stderr, "policy-index: %s: %s\n", path, err);
        return 1;
    }
    char *s = json_dumps(m, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(m);
    return 0;
}

/* ---- main ---- */

typedef struct record_ctx {
    run *r;
    strset *byname;     /* docid -> index in r->files */
    int shard;
} record_ctx;

static int take_record(void *ctx, const char *key, size_t klen, const char *val,
                       size_t vlen)
{
    record_ctx *c = ctx;
    size_t pl = strlen(META_FILE);
    if (!vlen || klen < pl)
        return 0;
    int i = strset_get(c->byname, key + pl, klen - pl);
    if (i < 0 || c->r->files[i].shard >= 0)
        return 0;
    c->r->files[i].shard = c->shard;
    c->r->files[i].was = ps_xstrndup(val, vlen);
    return 0;
}

static void *progress_loop(void *arg)
{
    run *r = arg;
    double t0 = ps_now();
    while (atomic_load(&r->done) < r->nfiles && !atomic_load(&r->fatal)) {
        usleep(200000);
        pthread_mutex_lock(&r->lock);
        double mb = (double)atomic_load(&r->bytes) / 1e6;
        fprintf(stderr, "\r\033[K[%zu/%zu files] %zu passages, %.1f MB, %.1f MB/s",
                atomic_load(&r->done), r->nfiles, atomic_load(&r->passages), mb,
                mb / (ps_now() - t0 + 1e-9));
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *extract_file = NULL;
    int no_facets = 0, no_compact = 0, wait = 0, ocr = 0, follow = 0;
    int optimize = 0;
    const char *check_db = NULL;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int first_path = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
            if (ps_parse_long(argv[++i], &jobs) < 0 || jobs < 1 ||
                jobs > MAX_SHARDS) {
                fprintf(stderr, "policy-index: --jobs must be 1..%d\n",
                        MAX_SHARDS);
                return 2;
            }
        } else if (strcmp(argv[i], "--extract") == 0 && i + 1 < argc) {
            extract_file = argv[++i];
        } else if (strcmp(argv[i], "--no-compact") == 0) {
            no_compact = 1;
        } else if (strcmp(argv[i], "--optimize") == 0) {
            optimize = 1;
        } else if (strcmp(argv[i], "--ocr") == 0) {
            ocr = 1;
        } else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc) {
            check_db = argv[++i];
        } else if (strcmp(argv[i], "--follow-symlinks") == 0) {
            follow = 1;
        } else if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (strcmp(argv[i], "--no-facets") == 0) {
            no_facets = 1;
        } else if (strcmp(argv[i], "--passages") == 0 && i + 1 < argc) {
            return dump_passages(argv[i + 1]);
        } else if (strcmp(argv[i], "--meta") == 0 && i + 1 < argc) {
            return print_meta(argv[i + 1], ocr);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            first_path = i + 1;
            break;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "policy-index: unknown option %s\n", argv[i]);
            usage();
            return 2;
        } else {
            first_path = i;
            break;
        }
    }
    if (extract_file)
        return extract(extract_file);
    if (check_db)
        return ix_check(check_db, wait);
    if (!db || (first_path >= argc && !optimize)) {
        usage();
        return 2;
    }
    if (jobs < 1)
        jobs = 1;
    if (jobs > MAX_SHARDS)
        jobs = MAX_SHARDS;

    /* Xapian must never commit on its own: a batch's character index is
     * written with its passages (grams.h), so the indexer decides.  Set
     * here, before any thread starts. */
    setenv("XAPIAN_FLUSH_THRESHOLD", "100000000", 1);
    double t0 = ps_now();
    char err[PS_ERRLEN];
    if (ix_mkdir_p(db, err) < 0) {
        fprintf(stderr, "policy-index: %s: %s\n", db, err);
        return 1;
    }
    int lockfd = ix_lock(db, wait, err);
    if (lockfd < 0) {
        fprintf(stderr, "policy-index: %s\n", err);
        return lockfd == -2 ? 2 : 1;
    }
    int nshards = ix_layout(db, (int)jobs, err);
    if (nshards < 0) {
        fprintf(stderr, "policy-index: %s: %s\n", db, err);
        return 1;
    }
    run r;
    memset(&r, 0, sizeof r);
    r.db = db;
    r.nshards = nshards;
    r.seen = strset_create();
    r.dirs = strset_create();
    pthread_mutex_init(&r.lock, NULL);
    r.progress = isatty(2);
    r.compact = optimize ? 2 : !no_compact;
    r.xopts.ocr = ocr;
    r.follow_links = follow;
    for (int i = first_path; i < argc; i++) {
        struct stat st;
        char abs[PATH_MAX];
        if (stat(argv[i], &st) < 0 || !realpath(argv[i], abs)) {
            report(&r, argv[i], strerror(errno));
            atomic_fetch_add(&r.failed, 1);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            r.roots = ps_xrealloc(r.roots, (r.nroots + 1) * sizeof(char *));
            r.roots[r.nroots++] = ps_xstrdup(abs);
            walk(&r, abs, "");
        } else {
            const char *base = strrchr(argv[i], '/');
            add_file(&r, argv[i], base ? base + 1 : argv[i], "", &st);
        }
    }
    ana_res *res = ana_res_load(0, err);
    if (!res) {
        fprintf(stderr, "policy-index: %s\n", err);
        return 1;
    }
    r.res = res;

    worker wk[MAX_SHARDS];
    memset(wk, 0, sizeof wk);
    int opened = 0, ok = 1;
    for (int s = 0; s < nshards; s++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/shard%d", db, s);
        wk[s].r = &r;
        wk[s].shard = s;
        if (!(wk[s].ixw = ix_writer_open(db, s, err))) {
            fprintf(stderr, "policy-index: %s\n", err);
            ok = 0;
            break;
        }
        opened++;
        if (!(wk[s].ana = ana_ctx_create(res, err))) {
            fprintf(stderr, "policy-index: %s\n", err);
            ok = 0;
        } else if (no_facets) {
            ana_ctx_set_facets(wk[s].ana, 0);
        }
        if (!ok)
            break;
    }
    /* A file indexed before stays in its shard; new ones go to whichever
     * worker is free.  Each shard's file records are read in one pass
     * (in key order) rather than looked up file by file. */
    strset *byname = strset_create();
    for (size_t i = 0; i < r.nfiles; i++)
        strset_put(byname, r.files[i].docid, strlen(r.files[i].docid), (int)i);
    for (int s = 0; ok && s < nshards; s++) {
        record_ctx rc = {&r, byname, s};
        if (ix_writer_scan(wk[s].ixw, META_FILE, take_record, &rc, err) < 0) {
            fprintf(stderr, "policy-index: %s/shard%d: %s\n", db, s, err);
            ok = 0;
        }
    }
    strset_destroy(byname);
    for (size_t i = 0; ok && i < r.nfiles; i++)
        if (r.files[i].shard < 0 && nshards == 1)
            r.files[i].shard = 0;
    if (ok) {
        pthread_t th[MAX_SHARDS], prog;
        int started = 0, rc = 0;
        for (int s = 0; s < nshards && !rc; s++)
            if ((rc = pthread_create(&th[s], NULL, work, &wk[s])) == 0)
                started++;
        if (rc) {
            /* The shards without a thread are left as they are. */
            fprintf(stderr, "policy-index: cannot start a thread for shard%d: "
                    "%s\n", started, strerror(rc));
            atomic_store(&r.fatal, 1);
        }
        int prog_on = r.progress && !rc &&
                      pthread_create(&prog, NULL, progress_loop, &r) == 0;
        for (int s = 0; s < started; s++)
            pthread_join(th[s], NULL);
        if (prog_on) {
            pthread_join(prog, NULL);
            fprintf(stderr, "\r\033[K");
        }
    }
    for (int s = 0; s < opened; s++) {
        ix_writer_close(wk[s].ixw);
        ana_ctx_destroy(wk[s].ana);
    }
    double secs = ps_now() - t0;
    double mb = (double)atomic_load(&r.bytes) / 1e6;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* "3 skipped (unsupported format: .xlsx ×2, .zip ×1)" */
    ps_buf sk;
    ps_buf_init(&sk);
    if (r.nskipwhy) {
        ps_buf_printf(&sk, ", %zu skipped (", atomic_load(&r.skipped));
        int first = 1;
        for (size_t i = 0; i < r.nskipwhy; i++) {
            if (r.skipwhy[i][0] != 'u')
                continue;
            ps_buf_printf(&sk, "%s %s ×%zu", first ? "unsupported format:" : ",",
                          r.skipwhy[i] + 1, r.skipn[i]);
            first = 0;
        }
        for (size_t i = 0; i < r.nskipwhy; i++)
            if (r.skipwhy[i][0] == 'o') {
                ps_buf_printf(&sk, "%s%s ×%zu", first ? "" : "; ",
                              r.skipwhy[i] + 1, r.skipn[i]);
                first = 0;
            }
        for (size_t i = 0; i < r.nskipwhy; i++)
            free(r.skipwhy[i]);
        ps_buf_adds(&sk, ")");
    }
    free(r.skipwhy);
    free(r.skipn);
    fprintf(stderr,
            "policy-index: %zu indexed, %zu unchanged, %zu removed, %zu failed%s; "
            "%zu passages; %.2f MB in %.2f s (%.2f MB/s); %d shard%s; "
            "peak RSS %ld MB\n",
            atomic_load(&r.indexed), atomic_load(&r.unchanged),
            atomic_load(&r.removed), atomic_load(&r.failed),
            sk.data ? sk.data : "",
            atomic_load(&r.passages), mb, secs, mb / (secs > 0 ? secs : 1),
            nshards, nshards == 1 ? "" : "s", ru.ru_maxrss / 1024);
    ps_buf_free(&sk);
    for (size_t i = 0; i < r.nfiles; i++) {
        free(r.files[i].path);
        free(r.files[i].docid);
        free(r.files[i].root);
        free(r.files[i].was);
    }
    free(r.files);
    for (size_t i = 0; i < r.nroots; i++)
        free(r.roots[i]);
    free(r.roots);
    strset_destroy(r.seen);
    strset_destroy(r.dirs);
    ana_res_destroy(res);
    close(lockfd);      /* after the last rename: the run is over */
    if (!ok || atomic_load(&r.fatal))
        return 1;
    return atomic_load(&r.failed) ? 1 : 0;
}
