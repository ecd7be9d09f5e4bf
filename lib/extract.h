/*
 * extract.h: from a file of any supported format to the pieces of text
 * that passage.h cuts into passages.
 *
 * The format is detected by content (magic bytes and structure); the
 * extension is only a hint, used to tell a text file from a file of a
 * format we do not read.  Plain text and Markdown are decoded in the
 * calling process.  Every other format (HTML, PDF, DOCX, OFD, DOC/WPS) is
 * read by the helper program policy-extract in a child process with a
 * time and memory budget: a hostile or broken file (a PDF bomb, a zip
 * bomb, deep nesting) costs at most the budget and never the indexer.
 *
 * The helper prints one JSON object (ext_doc_to_json); the caller reads
 * it back (ext_doc_from_json).
 */
#ifndef PS_EXTRACT_H
#define PS_EXTRACT_H

#include <stddef.h>

#include "passage.h"

/* Budgets of one file. */
#define EXT_MAX_INPUT (256u << 20)     /* bytes of a file we try to read */
#define EXT_MAX_MARKUP (64u << 20)     /* bytes of HTML or inflated XML */
#define EXT_MAX_INFLATED (256u << 20)  /* all members of a zip, inflated */
#define EXT_SECONDS 120                /* wall time of the helper */
#define EXT_MEMORY (1536u << 20)       /* address space of the helper */

typedef enum {
    EXT_OK = 0,
    EXT_FAILED = -1,        /* a file of a format we read, but broken */
    EXT_UNSUPPORTED = -2    /* a format we do not read: err names it */
} ext_status;

/* One key/value pair of the document's own metadata (an HTML page's
 * metadata table, a DOCX's core properties, an OFD's DocInfo). */
typedef struct ext_meta {
    char *key, *value;
} ext_meta;

typedef struct ext_doc {
    const char *format;     /* "text", "markdown", "html", "pdf", "docx",
                               "ofd", "doc", "wps" (static strings) */
    char *title;            /* the format's title, or NULL */
    psg_input *in;
    size_t nin, capin;
    ext_meta *meta;
    size_t nmeta;
    int ocr;                /* some text came from OCR */
    int pages;              /* paged formats: the page count */
    const char *encoding;   /* text formats: the encoding detected */
} ext_doc;

typedef struct ext_opts {
    int ocr;                /* OCR pages without a text layer */
    const char *helper;     /* path of policy-extract, NULL: next to the
                               running program */
} ext_opts;

/* Reads the file at path.  Returns EXT_OK with *out set (free with
 * ext_doc_free), or EXT_FAILED / EXT_UNSUPPORTED with err set. */
ext_status ext_read_file(const char *path, const ext_opts *o, ext_doc **out,
                         char *err);

/* What a file's first bytes (up to EXT_SNIFF_BYTES) and its name say it
 * is; for EXT_SN_UNSUPPORTED err names the format, for EXT_SN_IMAGE it
 * says the image is read with OCR only. */
typedef enum {
    EXT_SN_TEXT, EXT_SN_HTML, EXT_SN_PDF, EXT_SN_ZIP, EXT_SN_OLE,
    EXT_SN_MHT, EXT_SN_RTF, EXT_SN_IMAGE, EXT_SN_UNSUPPORTED
} ext_kind;
#define EXT_SNIFF_BYTES 8192
ext_kind ext_sniff(const char *head, size_t n, const char *path, char *err);
/* ".pdf" of "a/b.pdf", "" when there is none. */
const char *ext_extension(const char *path);
/* A plain-text or Markdown file's bytes, decoded. */
ext_status ext_read_text(const char *data, size_t len, const char *path,
                         ext_doc **out, char *err);

/* 1 with err set when a file of size bytes is beyond EXT_MAX_INPUT. */
int ext_too_large(unsigned long long size, char *err);
/* Appends what fd gives until EOF (0), an error (-1) or more than limit
 * bytes (1). */
#include <sys/types.h>
#include "util.h"
ssize_t ext_read_fd(int fd, ps_buf *b, size_t limit);

ext_doc *ext_doc_new(const char *format);
void ext_doc_free(ext_doc *d);
/* Appends a piece (a copy of text[0..len)); empty pieces are dropped. */
void ext_add(ext_doc *d, psg_in_kind kind, const char *text, size_t len,
             int paged);
void ext_add_meta(ext_doc *d, const char *key, const char *value);
/* The value of meta key, or NULL. */
const char *ext_meta_get(const ext_doc *d, const char *key);
/* Spreadsheets: 1 for a sheet name someone chose (not Sheet1, 工作表1);
 * a cell added to a row passage, trimmed, after " | " unless first
 * (a blank cell is left out). */
int ext_named_sheet(const char *name);
void ext_row_add(ps_buf *row, const char *cell, size_t n);

/* The helper's output and its reading. */
char *ext_doc_to_json(const ext_doc *d);
ext_doc *ext_doc_from_json(const char *s, size_t n, char *err);

/* Format readers (extract_*.c).  data[0..len) is the whole file. */
ext_status ext_html(const char *data, size_t len, ext_doc **out, char *err);
ext_status ext_zip(const char *data, size_t len, const char *ext,
                   ext_doc **out, char *err);
ext_status ext_pdf(const char *data, size_t len, const ext_opts *o,
                   ext_doc **out, char *err);
ext_status ext_ole(const char *path, const char *ext, ext_doc **out,
                   char *err);
ext_status ext_mht(const char *data, size_t len, ext_doc **out, char *err);
/* A scanned page as an image (PNG, JPEG, TIFF with one page or several,
 * GIF, BMP, WebP), read with OCR (extract_pdf.c). */
ext_status ext_image(const char *data, size_t len, ext_doc **out, char *err);
ext_status ext_rtf(const char *data, size_t len, ext_doc **out, char *err);
/* Runs argv (a reader program, under timeout(1)) and returns its stdout
 * if it exits 0 with valid UTF-8, else NULL.  *len: its length. */
char *ext_run_tool(char *const argv[], size_t *len);

#endif
