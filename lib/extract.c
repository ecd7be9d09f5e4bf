/*
 * extract.c: format detection, the text formats, and the helper process
 * that reads every other format (see extract.h).
 */
#include "extract.h"
#include "decode.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;



ext_doc *ext_doc_new(const char *format)
{
    ext_doc *d = ps_xcalloc(1, sizeof *d);
    d->format = format;
    return d;
}

void ext_doc_free(ext_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nin; i++)
        free((char *)d->in[i].text);
    for (size_t i = 0; i < d->nmeta; i++) {
        free(d->meta[i].key);
        free(d->meta[i].value);
    }
    free(d->in);
    free(d->meta);
    free(d->title);
    free(d);
}

static int all_space(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (!ps_is_space(cp) && cp != 0xA0 && cp != 0x3000 && cp != 0xFEFF)
            return 0;
    }
    return 1;
}

void ext_add(ext_doc *d, psg_in_kind kind, const char *text, size_t len,
             int paged)
{
    if (!ps_utf8_valid(text, len) || all_space(text, len))
        return;
    if (d->nin == d->capin) {
        d->capin = d->capin ? 2 * d->capin : 64;
        d->in = ps_xrealloc(d->in, d->capin * sizeof *d->in);
    }
    psg_input *p = &d->in[d->nin++];
    p->kind = kind;
    p->text = ps_xstrndup(text, len);
    p->len = len;
    p->paged = paged;
}

void ext_add_meta(ext_doc *d, const char *key, const char *value)
{
    if (!value || !*value || !ps_utf8_valid(value, strlen(value)) ||
        ext_meta_get(d, key))
        return;
    d->meta = ps_xrealloc(d->meta, (d->nmeta + 1) * sizeof *d->meta);
    d->meta[d->nmeta].key = ps_xstrdup(key);
    d->meta[d->nmeta].value = ps_xstrdup(value);
    d->nmeta++;
}

const char *ext_meta_get(const ext_doc *d, const char *key)
{
    for (size_t i = 0; i < d->nmeta; i++)
        if (strcmp(d->meta[i].key, key) == 0)
            return d->meta[i].value;
    return NULL;
}

/* ---- the helper's output ---- */

static const char *const in_kinds[] = {"lines", "para", "heading", "title",
                                       "cell", "text"};

char *ext_doc_to_json(const ext_doc *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_integer(0));
    json_object_set_new(o, "format", json_string(d->format));
    if (d->title)
        json_object_set_new(o, "title", json_string(d->title));
    if (d->ocr)
        json_object_set_new(o, "ocr", json_true());
    if (d->pages)
        json_object_set_new(o, "pages", json_integer(d->pages));
    json_t *m = json_array();
    for (size_t i = 0; i < d->nmeta; i++)
        json_array_append_new(m, json_pack("[ss]", d->meta[i].key,
                                           d->meta[i].value));
    json_object_set_new(o, "meta", m);
    json_t *ps = json_array();
    for (size_t i = 0; i < d->nin; i++)
        json_array_append_new(ps, json_pack("[ss#i]", in_kinds[d->in[i].kind],
                                            d->in[i].text, d->in[i].len,
                                            d->in[i].paged));
    json_object_set_new(o, "pieces", ps);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static const char *const formats[] = {"text", "markdown", "html", "pdf",
                                      "docx", "ofd", "doc", "wps", "rtf",
                                      "mht", "xlsx", "et", "xls", "image",
                                      "pptx", "dps", "odt", "ods", "odp"};

static const char *static_format(const char *f)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (f && strcmp(f, formats[i]) == 0)
            return formats[i];
    return NULL;
}

ext_doc *ext_doc_from_json(const char *s, size_t n, char *err)
{
    json_error_t je;
    json_t *o = json_loadb(s, n, 0, &je);
    if (!o) {
        snprintf(err, PS_ERRLEN, "the reader's output is not JSON: %s", je.text);
        return NULL;
    }
    const char *f = static_format(json_string_value(json_object_get(o, "format")));
    json_t *ps = json_object_get(o, "pieces");
    if (!f || !json_is_array(ps)) {
        snprintf(err, PS_ERRLEN, "the reader's output lacks format or pieces");
        json_decref(o);
        return NULL;
    }
    ext_doc *d = ext_doc_new(f);
    const char *t = json_string_value(json_object_get(o, "title"));
    if (t && *t)
        d->title = ps_xstrdup(t);
    d->ocr = json_is_true(json_object_get(o, "ocr"));
    d->pages = (int)json_integer_value(json_object_get(o, "pages"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "meta"), i, v)
    {
        const char *k = json_string_value(json_array_get(v, 0));
        const char *val = json_string_value(json_array_get(v, 1));
        if (k && val)
            ext_add_meta(d, k, val);
    }
    json_array_foreach(ps, i, v)
    {
        const char *kind = json_string_value(json_array_get(v, 0));
        json_t *text = json_array_get(v, 1);
        size_t k = 0;
        while (kind && k < sizeof in_kinds / sizeof in_kinds[0] &&
               strcmp(kind, in_kinds[k]) != 0)
            k++;
        if (!kind || k == sizeof in_kinds / sizeof in_kinds[0] ||
            !json_is_string(text))
            continue;
        ext_add(d, (psg_in_kind)k, json_string_value(text),
                json_string_length(text),
                (int)json_integer_value(json_array_get(v, 2)));
    }
    json_decref(o);
    return d;
}

/* ---- detection ---- */


const char *ext_extension(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : "";
}

static int ext_in(const char *ext, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(ext, *list) == 0)
            return 1;
    return 0;
}

static const char *const text_exts[] = {"", ".txt", ".text", ".md",
                                        ".markdown", NULL};
static const char *const html_exts[] = {".html", ".htm", ".shtml", ".xhtml",
                                        NULL};

/* ASCII case-insensitive search for needle in h[0..n). */
static int has_ci(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(h + i, needle, m) == 0)
            return 1;
    return 0;
}

/* What the first bytes say; *what names an unsupported format. */
static ext_kind sniff(const char *h, size_t n, const char *ext,
                     const char **what)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *name;
    } images[] = {
        {"\x89PNG", 4, "PNG image"}, {"\xff\xd8\xff", 3, "JPEG image"},
        {"GIF8", 4, "GIF image"}, {"II*\0", 4, "TIFF image"},
        {"MM\0*", 4, "TIFF image"},
    }, other[] = {
        {"7z\xbc\xaf", 4, "7z archive"},
        {"Rar!", 4, "RAR archive"}, {"\x1f\x8b", 2, "gzip archive"},
        {"\x7f" "ELF", 4, "program"}, {"BZh", 3, "bzip2 archive"},
    };
    *what = NULL;
    if (n >= 4 && memcmp(h, "PK\3\4", 4) == 0)
        return EXT_SN_ZIP;
    if (n >= 8 && memcmp(h, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0) {
        /* A PowerPoint 97-2003 presentation (or an old binary WPS one):
         * no reader in Debian gets its text (catppt finds none in
         * LibreOffice's); said plainly rather than failed as Word. */
        static const char *const decks[] = {".ppt", ".pps", ".pot", ".dps"};
        for (size_t i = 0; i < sizeof decks / sizeof decks[0]; i++)
            if (strcasecmp(ext, decks[i]) == 0) {
                *what = "PowerPoint 97-2003 presentation";
                return EXT_SN_UNSUPPORTED;
            }
        return EXT_SN_OLE;
    }
    if (memmem(h, n < 1024 ? n : 1024, "%PDF-", 5))
        return EXT_SN_PDF;
    if (n >= 5 && memcmp(h, "{\\rtf", 5) == 0)
        return EXT_SN_RTF;
    /* A saved web page in one file (.mht, or Word's "single file web
     * page" saved as .doc): MIME headers first. */
    if (has_ci(h, n < 2048 ? n : 2048, "MIME-Version:") &&
        has_ci(h, n, "multipart/related"))
        return EXT_SN_MHT;
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++)
        if (n >= images[i].len && memcmp(h, images[i].magic, images[i].len) == 0) {
            *what = images[i].name;
            return EXT_SN_IMAGE;
        }
    if (n >= 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WEBP", 4) == 0) {
        *what = "WebP image";
        return EXT_SN_IMAGE;
    }
    if (n >= 26 && h[0] == 'B' && h[1] == 'M' && strcasecmp(ext, ".bmp") == 0) {
        *what = "BMP image";
        return EXT_SN_IMAGE;
    }
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (n >= other[i].len && memcmp(h, other[i].magic, other[i].len) == 0) {
            *what = other[i].name;
            return EXT_SN_UNSUPPORTED;
        }
    size_t i = 0;
    if (n >= 3 && memcmp(h, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    if (n >= 2 && ((unsigned char)h[0] == 0xff || (unsigned char)h[0] == 0xfe))
        return ext_in(ext, html_exts) ? EXT_SN_HTML : EXT_SN_TEXT;   /* UTF-16 */
    if (i < n && h[i] == '<' &&
        (has_ci(h, n, "<html") || has_ci(h, n, "<!doctype html") ||
         has_ci(h, n, "<head") || has_ci(h, n, "<body") ||
         has_ci(h, n, "<meta") || has_ci(h, n, "<title") ||
         has_ci(h, n, "<div") || has_ci(h, n, "<p>") || has_ci(h, n, "<table")))
        return EXT_SN_HTML;
    if (ext_in(ext, html_exts))
        return EXT_SN_HTML;
    if (ext_in(ext, text_exts)) {
        if (!*ext && memchr(h, '\0', n)) {
            *what = "binary file";
            return EXT_SN_UNSUPPORTED;
        }
        return EXT_SN_TEXT;
    }
    return EXT_SN_UNSUPPORTED;
}

static void unsupported(const char *what, const char *ext, char *err)
{
    /* An image may be a scanned page: it is read with --ocr.  An old
     * presentation is read once saved in today's format. */
    int image = what && strstr(what, " image") != NULL;
    int deck = what && strstr(what, "PowerPoint") != NULL;
    if (what)
        snprintf(err, PS_ERRLEN, "unsupported format (%s%s%s)%s", what,
                 *ext ? ", " : "", ext,
                 image ? ": an image is read with --ocr (a scanned page)"
                 : deck ? ": saved as .pptx it is read" : "");
    else
        snprintf(err, PS_ERRLEN, "unsupported format (%s)",
                 *ext ? ext : "no extension");
}

ext_kind ext_sniff(const char *head, size_t n, const char *path, char *err)
{
    const char *what, *ext = ext_extension(path);
    ext_kind k = sniff(head, n, ext, &what);
    if (k == EXT_SN_UNSUPPORTED || k == EXT_SN_IMAGE)
        unsupported(what, ext, err);
    return k;
}

ext_status ext_read_text(const char *data, size_t len, const char *path,
                         ext_doc **out, char *err)
{
    const char *ext = ext_extension(path);
    char *utf8;
    size_t n;
    const char *enc;
    if (dec_to_utf8(data, len, &utf8, &n, &enc, err) < 0)
        return EXT_FAILED;
    int md = strcasecmp(ext, ".md") == 0 || strcasecmp(ext, ".markdown") == 0;
    ext_doc *d = ext_doc_new(md ? "markdown" : "text");
    d->encoding = enc;
    /* The one piece keeps even blank text: an empty file is a document
     * without passages, not an error. */
    d->in = ps_xmalloc(sizeof *d->in);
    d->capin = d->nin = 1;
    d->in[0].kind = PSG_IN_LINES;
    d->in[0].text = utf8;
    d->in[0].len = n;
    d->in[0].paged = 0;
    *out = d;
    return EXT_OK;
}

int ext_too_large(unsigned long long size, char *err)
{
    if (size <= EXT_MAX_INPUT)
        return 0;
    snprintf(err, PS_ERRLEN, "file too large (%llu MB; the limit is %u MB)",
             size >> 20, EXT_MAX_INPUT >> 20);
    return 1;
}

ssize_t ext_read_fd(int fd, ps_buf *b, size_t limit)
{
    for (;;) {
        ps_buf_reserve(b, 65536);
        ssize_t r = read(fd, b->data + b->len, 65536);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r;
        b->len += (size_t)r;
        if (b->len > limit)
            return 1;
    }
}

/* ---- the helper process ---- */

static void helper_path(const ext_opts *o, char *out, size_t n)
{
    if (o && o->helper) {
        snprintf(out, n, "%s", o->helper);
        return;
    }
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) {
        snprintf(out, n, "policy-extract");
        return;
    }
    self[k] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, n, "%s/policy-extract", self);
}

/* The reader of one thread: policy-extract --serve, started at the
 * thread's first file of a format other than text, stopped when the
 * thread ends (its end of the socket closed: the reader sees the end of
 * its input).  A reader that fails or overruns is killed with the file's
 * own process and started again for the next file. */
typedef struct reader {
    pid_t pid;              /* also its process group */
    int fd;                 /* our end of the socket: requests, answers */
} reader;

static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_stop(reader *r, int kill_it)
{
    if (!r || !r->pid)
        return;
    if (kill_it)
        kill(-r->pid, SIGKILL);
    close(r->fd);
    while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    r->pid = 0;
}

static void reader_end(void *p)
{
    reader_stop(p, 0);
    free(p);
}

static void reader_key_make(void)
{
    pthread_key_create(&reader_key, reader_end);
}

static reader *reader_get(const ext_opts *o, char *err)
{
    pthread_once(&reader_once, reader_key_make);
    reader *r = pthread_getspecific(reader_key);
    if (!r) {
        r = ps_xcalloc(1, sizeof *r);
        pthread_setspecific(reader_key, r);
    }
    if (r->pid)
        return r;
    char exe[PATH_MAX];
    helper_path(o, exe, sizeof exe);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, PS_ERRLEN, "cannot start the reader: %s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Its own process group (killed whole, with its file's child); no
     * signal blocked or ignored (the child's time limit is SIGALRM). */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGALRM);
    sigaddset(&dfl, SIGXCPU);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    char *argv[] = {exe, "--serve", NULL};
    /* Every symbol of every library bound as it starts, not in each child
     * it forks (lazy binding was a tenth of a small file's time). */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **env = ps_xmalloc((ne + 2) * sizeof(char *));
    memcpy(env, environ, ne * sizeof(char *));
    env[ne] = "LD_BIND_NOW=1";
    env[ne + 1] = NULL;
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, &at, argv, env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        snprintf(err, PS_ERRLEN, "cannot start %s: %s", exe, strerror(rc));
        return NULL;
    }
    r->pid = pid;
    r->fd = sv[0];
    return r;
}

/* Milliseconds since t0. */
static long since_ms(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L +
           (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Sends the request for path; reads the answer's wait status and the
 * child's output into b.  0; -2 when the request could not be sent (the
 * reader had stopped: the file is not read); -1 when the reader failed
 * (timed_out set when it ran out of time). */
static int reader_ask(reader *r, const char *path, int ocr, int *status,
                      ps_buf *b, int *timed_out)
{
    char head[64];
    size_t plen = strlen(path);
    int hn = snprintf(head, sizeof head, "%d %zu\n", ocr ? 1 : 0, plen);
    struct iovec iov[2] = {{head, (size_t)hn}, {(void *)path, plen}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    size_t want = (size_t)hn + plen;
    ssize_t w;
    while ((w = sendmsg(r->fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (w != (ssize_t)want)
        return -2;          /* a path's bytes fit a socket's buffer */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t need = 0, body = 0;  /* need: bytes of header + body, once known */
    for (;;) {
        if (need && b->len >= need)
            break;
        long left = (EXT_SECONDS + 5) * 1000L - since_ms(&t0);
        if (left <= 0) {
            *timed_out = 1;
            return -1;
        }
        struct pollfd pf = {r->fd, POLLIN, 0};
        int pr = poll(&pf, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            *timed_out = 1;
            return -1;
        }
        if (pr < 0)
            return -1;
        ps_buf_reserve(b, 65536);
        ssize_t n = read(r->fd, b->data + b->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        b->len += (size_t)n;
        if (!need) {
            char *nl = memchr(b->data, '\n', b->len < 65 ? b->len : 65);
            if (!nl) {
                if (b->len >= 65)
                    return -1;      /* no header line */
                continue;
            }
            char line[65];
            unsigned long long blen;
            body = (size_t)(nl + 1 - b->data);
            memcpy(line, b->data, body - 1);
            line[body - 1] = '\0';
            if (sscanf(line, "%d %llu", status, &blen) != 2 ||
                blen > ((size_t)1 << 40))
                return -1;
            need = body + (size_t)blen;
        }
    }
    memmove(b->data, b->data + body, b->len - body);
    b->len -= body;
    return 0;
}

/* Reads path in a process of its own (see policy-extract --serve); the
 * process's output is the document's JSON. */
static ext_status run_helper(const char *path, const ext_opts *o,
                             ext_doc **out, char *err)
{
    ps_buf b;
    ps_buf_init(&b);
    int status = 0, timed_out = 0, rc = -2;
    /* A reader that stopped between files (killed from outside) is
     * started again once. */
    for (int tries = 0; rc == -2 && tries < 2; tries++) {
        reader *r = reader_get(o, err);
        if (!r) {
            ps_buf_free(&b);
            return EXT_FAILED;
        }
        rc = reader_ask(r, path, o && o->ocr, &status, &b, &timed_out);
        if (rc < 0)
            reader_stop(r, 1);
    }
    if (rc < 0) {
        /* Its file's process was killed with it. */
        if (timed_out)
            snprintf(err, PS_ERRLEN, "reading took longer than %d s; given "
                     "up", EXT_SECONDS);
        else
            snprintf(err, PS_ERRLEN, "the reader stopped without a result");
        ps_buf_free(&b);
        return EXT_FAILED;
    }
    ext_status st = EXT_FAILED;
    if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGALRM ||
                                WTERMSIG(status) == SIGXCPU)) {
        snprintf(err, PS_ERRLEN, "reading took longer than %d s; given up",
                 EXT_SECONDS);
    } else if (WIFSIGNALED(status)) {
        snprintf(err, PS_ERRLEN, "the reader stopped on signal %d (a broken "
                 "or hostile file, or out of memory: limit %u MB)",
                 WTERMSIG(status), EXT_MEMORY >> 20);
    } else if (b.len == 0) {
        snprintf(err, PS_ERRLEN, "the reader exited %d without a result",
                 WEXITSTATUS(status));
    } else {
        json_error_t je;
        json_t *j = json_loadb(b.data, b.len, 0, &je);
        int code = j ? (int)json_integer_value(json_object_get(j, "status")) : -1;
        if (j && code != 0) {
            const char *e = json_string_value(json_object_get(j, "error"));
            snprintf(err, PS_ERRLEN, "%s", e ? e : "unreadable");
            st = code == EXT_UNSUPPORTED ? EXT_UNSUPPORTED : EXT_FAILED;
        } else if (j && (*out = ext_doc_from_json(b.data, b.len, err))) {
            st = EXT_OK;
        } else if (!j) {
            snprintf(err, PS_ERRLEN, "the reader's output is not JSON: %s",
                     je.text);
        }
        json_decref(j);
    }
    ps_buf_free(&b);
    return st;
}

ext_status ext_read_file(const char *path, const ext_opts *o, ext_doc **out,
                         char *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, PS_ERRLEN, "cannot open: %s", strerror(errno));
        return EXT_FAILED;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, PS_ERRLEN, "not a regular file");
        close(fd);
        return EXT_FAILED;
    }
    char head[EXT_SNIFF_BYTES];
    ssize_t n = pread(fd, head, sizeof head, 0);
    close(fd);
    if (n < 0) {
        snprintf(err, PS_ERRLEN, "read error: %s", strerror(errno));
        return EXT_FAILED;
    }
    const char *ext = ext_extension(path), *what;
    ext_kind s = sniff(head, (size_t)n, ext, &what);
    if (s == EXT_SN_UNSUPPORTED || (s == EXT_SN_IMAGE && !(o && o->ocr))) {
        unsupported(what, ext, err);
        return EXT_UNSUPPORTED;
    }
    if (s != EXT_SN_TEXT)
        return run_helper(path, o, out, err);
    if (ext_too_large((unsigned long long)st.st_size, err))
        return EXT_FAILED;
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0)
        return EXT_FAILED;
    ext_status rc = ext_read_text(data, len, path, out, err);
    free(data);
    return rc;
}

int ext_named_sheet(const char *n)
{
    if (!n || !*n)
        return 0;
    const char *p = strncasecmp(n, "sheet", 5) == 0 ? n + 5
                    : strncmp(n, "工作表", strlen("工作表")) == 0 ? n + strlen("工作表")
                                                                : NULL;
    if (!p)
        return 1;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p != '\0';
}

void ext_row_add(ps_buf *row, const char *cell, size_t n)
{
    size_t a = 0, b = n;
    while (a < b && cell[a] && strchr(" \t\r\n", cell[a]))
        a++;
    while (b > a && cell[b - 1] && strchr(" \t\r\n", cell[b - 1]))
        b--;
    if (a == b)
        return;
    if (row->len)
        ps_buf_adds(row, " | ");
    ps_buf_add(row, cell + a, b - a);
}
