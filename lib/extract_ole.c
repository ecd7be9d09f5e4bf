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
 *
 * Excel 97-2003 workbooks (.xls, and old WPS .et ones where they are
 * the same format) are read with FreeXL: each row a passage of its cells
 * joined by " | ", as for .xlsx, under its sheet's name when a workbook
 * has several named ones.
 */
#include "extract.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <freexl.h>
#include <math.h>
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

/* A number as Excel shows it in a General cell: the shortest of up to
 * 15 significant digits, no exponent below 1e15. */
static void add_number(ps_buf *cell, double v)
{
    char buf[64];
    if (!isfinite(v))
        return;
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v);
    else
        snprintf(buf, sizeof buf, "%.15g", v);
    ps_buf_adds(cell, buf);
}

static const char *freexl_why(int rc)
{
    switch (rc) {
    case FREEXL_INSUFFICIENT_MEMORY:
        return "too large to read";
    case FREEXL_CRAFTED_FILE:
        return "its structure is damaged or crafted";
    case FREEXL_BIFF_WORKBOOK_NOT_FOUND:
        return "no workbook in it: not a spreadsheet";
    case FREEXL_UNSUPPORTED_CHARSET:
    case FREEXL_INVALID_CHARACTER:
        return "text in an unknown encoding";
    default:
        return "corrupt, or not Excel 97-2003";
    }
}

static ext_status read_xls(const char *path, const char *ext, ext_doc **out,
                           char *err)
{
    int et = strcasecmp(ext, ".et") == 0;
    const void *h = NULL;
    int rc = freexl_open(path, &h);
    unsigned int nsheets = 0, pw = 0;
    if (rc == FREEXL_OK)
        rc = freexl_get_info(h, FREEXL_BIFF_PASSWORD, &pw);
    if (rc == FREEXL_OK)
        rc = freexl_get_info(h, FREEXL_BIFF_SHEET_COUNT, &nsheets);
    if (rc != FREEXL_OK || pw == FREEXL_BIFF_OBFUSCATED) {
        if (h)
            freexl_close(h);
        if (pw == FREEXL_BIFF_OBFUSCATED)
            snprintf(err, PS_ERRLEN, "cannot read this spreadsheet: it is "
                     "protected with a password");
        else if (et)
            snprintf(err, PS_ERRLEN, "cannot read this WPS spreadsheet (%s): "
                     "saved as .xlsx it is read", freexl_why(rc));
        else
            snprintf(err, PS_ERRLEN, "cannot read this Excel 97-2003 "
                     "spreadsheet (%s)", freexl_why(rc));
        return EXT_FAILED;
    }
    ext_doc *d = ext_doc_new(et ? "et" : "xls");
    ps_buf row, cell;
    ps_buf_init(&row);
    ps_buf_init(&cell);
    size_t read = 0;
    for (unsigned short i = 0; i < nsheets; i++) {
        const char *name = NULL;
        unsigned int rows = 0;
        unsigned short cols = 0;
        if (freexl_select_active_worksheet(h, i) != FREEXL_OK ||
            freexl_worksheet_dimensions(h, &rows, &cols) != FREEXL_OK)
            continue;
        read++;
        if (nsheets > 1 && freexl_get_worksheet_name(h, i, &name) == FREEXL_OK &&
            ext_named_sheet(name) && ps_utf8_valid(name, strlen(name)))
            ext_add(d, PSG_IN_HEADING, name, strlen(name), 0);
        for (unsigned int r = 0; r < rows; r++) {
            row.len = 0;
            for (unsigned short c = 0; c < cols; c++) {
                FreeXL_CellValue v;
                if (freexl_get_cell_value(h, r, c, &v) != FREEXL_OK)
                    continue;
                cell.len = 0;
                switch (v.type) {
                case FREEXL_CELL_INT:
                    ps_buf_printf(&cell, "%d", v.value.int_value);
                    break;
                case FREEXL_CELL_DOUBLE:
                    add_number(&cell, v.value.double_value);
                    break;
                case FREEXL_CELL_TEXT:
                case FREEXL_CELL_SST_TEXT:
                case FREEXL_CELL_DATE:
                case FREEXL_CELL_DATETIME:
                case FREEXL_CELL_TIME:
                    if (v.value.text_value &&
                        ps_utf8_valid(v.value.text_value,
                                      strlen(v.value.text_value)))
                        ps_buf_adds(&cell, v.value.text_value);
                    break;
                default:
                    break;
                }
                ext_row_add(&row, cell.data, cell.len);
            }
            if (row.len)
                ext_add(d, PSG_IN_CELL, row.data, row.len, 0);
        }
    }
    ps_buf_free(&row);
    ps_buf_free(&cell);
    freexl_close(h);
    if (!read) {
        ext_doc_free(d);
        snprintf(err, PS_ERRLEN, "a spreadsheet without a readable sheet");
        return EXT_FAILED;
    }
    *out = d;
    return EXT_OK;
}

ext_status ext_ole(const char *path, const char *ext, ext_doc **out, char *err)
{
    char *aw[] = {"timeout", "-s", "KILL", TOOL_SECONDS, "antiword", "-m",
                  "UTF-8.txt", "-w", "0", (char *)path, NULL};
    char *cd[] = {"timeout", "-s", "KILL", TOOL_SECONDS, "catdoc", "-d",
                  "utf-8", "-w", (char *)path, NULL};
    if (strcasecmp(ext, ".xls") == 0 || strcasecmp(ext, ".et") == 0)
        return read_xls(path, ext, out, err);
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
