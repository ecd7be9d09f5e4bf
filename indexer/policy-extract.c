/*
 * policy-extract: reads one document of any supported format and prints
 * its pieces of text as one JSON object (extract.h).  policy-index runs
 * it in a child process for every format but plain text, so a broken or
 * hostile file costs at most this process, its time and memory budget.
 *
 *   policy-extract [--ocr] [--] FILE
 *   policy-extract --serve
 *
 * Exit 0 with {"status": 0, "format": ..., "pieces": [...]}, 1 with
 * {"status": -1 or -2, "error": "..."} (-2: a format not supported),
 * 2 for usage errors.
 *
 * Starting this program costs about 50 ms (poppler, Tesseract, cairo and
 * glib are loaded and set up), more than reading a small web page.  With
 * --serve it starts once and reads many files, each still in a process
 * of its own: a child forked for the file, with the file's budgets; the
 * server itself never reads a document.  Requests on stdin, one a file:
 *     "<ocr 0|1> <path bytes>\n" then the path;
 * answers on stdout, one a request:
 *     "<the child's wait status> <bytes>\n" then what the child printed.
 * It exits at the end of its input.
 */
#include "extract.h"
#include "util.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* The format-specific reader, in this process. */
static ext_status read_inprocess(const char *path, const ext_opts *o,
                              ext_doc **out, char *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        ext_too_large((unsigned long long)st.st_size, err))
        return EXT_FAILED;
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0)
        return EXT_FAILED;
    const char *ext = ext_extension(path);
    ext_status rc;
    switch (ext_sniff(data, len < EXT_SNIFF_BYTES ? len : EXT_SNIFF_BYTES, path,
                      err)) {
    case EXT_SN_TEXT:
        rc = ext_read_text(data, len, path, out, err);
        break;
    case EXT_SN_HTML:
        rc = ext_html(data, len, out, err);
        break;
    case EXT_SN_PDF:
        rc = ext_pdf(data, len, o, out, err);
        break;
    case EXT_SN_ZIP:
        rc = ext_zip(data, len, ext, out, err);
        break;
    case EXT_SN_OLE:
        rc = ext_ole(path, ext, out, err);
        break;
    case EXT_SN_MHT:
        rc = ext_mht(data, len, out, err);
        break;
    case EXT_SN_RTF:
        rc = ext_rtf(data, len, out, err);
        break;
    case EXT_SN_IMAGE:
        rc = o && o->ocr ? ext_image(data, len, out, err) : EXT_UNSUPPORTED;
        break;
    default:
        rc = EXT_UNSUPPORTED;
    }
    free(data);
    return rc;
}

static void budget(void)
{
    alarm(EXT_SECONDS);         /* SIGALRM's default action ends us */
#ifndef UNDER_ASAN
    /* ASan reserves terabytes of address space: no limit there. */
    struct rlimit rl = {EXT_MEMORY, EXT_MEMORY};
    setrlimit(RLIMIT_AS, &rl);
#endif
}

/* Tests: PS_FAULT=extract-crash:NAME crashes the reading of every file
 * named NAME (in any directory), as a broken file could;
 * PS_FAULT=extract-reader-exit:NAME ends the --serve process when it is
 * asked for such a file, as if it had been killed. */
static int fault_for(const char *what, const char *path)
{
    const char *name = strrchr(path, '/');
    return ps_fault_on(what, name ? name + 1 : path);
}

static void take_fault(const char *path)
{
    if (fault_for("extract-crash", path))
        raise(SIGSEGV);
}

/* Reads one file within its budgets and prints the result; the exit
 * code. */
static int extract_one(const char *path, const ext_opts *o)
{
    budget();
    take_fault(path);
    char err[PS_ERRLEN];
    ext_doc *d = NULL;
    ext_status rc = read_inprocess(path, o, &d, err);
    char *s;
    if (rc == EXT_OK) {
        s = ext_doc_to_json(d);
        ext_doc_free(d);
    } else {
        json_t *j = json_pack("{s:i,s:s}", "status", (int)rc, "error", err);
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    fputs(s, stdout);
    putchar('\n');
    free(s);
    return rc == EXT_OK ? 0 : 1;
}

/* --serve (see the file comment). */
static int serve(void)
{
    char line[64];
    ps_buf out;
    ps_buf_init(&out);
    while (fgets(line, sizeof line, stdin)) {
        int ocr;
        unsigned long plen;
        if (sscanf(line, "%d %lu", &ocr, &plen) != 2 || plen == 0 ||
            plen > PATH_MAX)
            break;
        char path[PATH_MAX + 1];
        if (fread(path, 1, plen, stdin) != plen)
            break;
        path[plen] = '\0';
        if (fault_for("extract-reader-exit", path))
            break;
        int fds[2];
        if (pipe(fds) < 0)
            break;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            int null = open("/dev/null", O_RDONLY);
            if (dup2(fds[1], 1) < 0 || null < 0 || dup2(null, 0) < 0)
                _exit(2);
            close(null);
            close(fds[1]);
            ext_opts o = {ocr != 0, NULL};
            int code = extract_one(path, &o);
            fflush(stdout);
            _exit(code);
        }
        close(fds[1]);
        out.len = 0;
        while (ext_read_fd(fds[0], &out, (size_t)-1 / 2) > 0)
            ;
        close(fds[0]);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        printf("%d %zu\n", status, out.len);
        if (out.len)
            fwrite(out.data, 1, out.len, stdout);
        if (fflush(stdout) != 0)
            break;
    }
    ps_buf_free(&out);
    return 0;
}

int main(int argc, char **argv)
{
    ext_opts o = {0, NULL};
    const char *path = NULL;
    if (argc == 2 && strcmp(argv[1], "--serve") == 0) {
        xmlInitParser();
        int rc = serve();
        xmlCleanupParser();
        return rc;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ocr") == 0) {
            o.ocr = 1;
        } else if (strcmp(argv[i], "--") == 0 && i + 1 < argc) {
            path = argv[i + 1];
            break;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "usage: policy-extract [--ocr] [--] FILE\n"
                            "       policy-extract --serve\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: policy-extract [--ocr] [--] FILE\n"
                        "       policy-extract --serve\n");
        return 2;
    }
    xmlInitParser();
    int rc = extract_one(path, &o);
    xmlCleanupParser();
    return rc;
}
