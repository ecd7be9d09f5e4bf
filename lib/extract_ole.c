/*
 * extract_ole.c: Word 97-2003 (.doc) and old Kingsoft WPS files, both
 * OLE compound documents.
 *
 * No maintained C library in Debian reads the Word binary text stream
 * (libgsf opens the container but leaves the piece table, fast-saved
 * documents and encodings to the caller), so the text comes from
 * Debian's antiword, and from catdoc when antiword refuses the file (WPS
 * files and some Word 6/95 files), each run as a subprocess under a time
 * limit (timeout(1)).  The text is read as lines, one paragraph a line.
 */
#include "extract.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TOOL_SECONDS "60"

char *ext_run_tool(char *const argv[], size_t *len)
{
    int fds[2];
    if (pipe(fds) < 0)
        return NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return NULL;
    }
    ps_buf b;
    ps_buf_init(&b);
    ext_read_fd(fds[0], &b, EXT_MAX_MARKUP);
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !b.len ||
        !ps_utf8_valid(b.data, b.len)) {
        ps_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return ps_buf_steal(&b);
}

ext_status ext_ole(const char *path, const char *ext, ext_doc **out, char *err)
{
    char *aw[] = {"timeout", "-s", "KILL", TOOL_SECONDS, "antiword", "-m",
                  "UTF-8.txt", "-w", "0", (char *)path, NULL};
    char *cd[] = {"timeout", "-s", "KILL", TOOL_SECONDS, "catdoc", "-d",
                  "utf-8", "-w", (char *)path, NULL};
    if (strcasecmp(ext, ".xls") == 0 || strcasecmp(ext, ".et") == 0) {
        snprintf(err, PS_ERRLEN, "unsupported format (Excel 97-2003 or old WPS "
                 "spreadsheet, %s): saved as .xlsx it is read", ext);
        return EXT_UNSUPPORTED;
    }
    size_t len = 0;
    char *text = ext_run_tool(aw, &len);
    if (!text)
        text = ext_run_tool(cd, &len);
    if (!text) {
        snprintf(err, PS_ERRLEN, "cannot read this Word/WPS binary file "
                 "(antiword and catdoc both failed: corrupt, encrypted, or "
                 "not a text document)");
        return EXT_FAILED;
    }
    ext_doc *d = ext_doc_new(strcasecmp(ext, ".wps") == 0 ? "wps" : "doc");
    /* antiword marks images and some fields in brackets */
    ext_add(d, PSG_IN_LINES, text, len, 0);
    free(text);
    *out = d;
    return EXT_OK;
}
