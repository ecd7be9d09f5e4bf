/*
 * passage.h: from the UTF-8 text of a document to its title, section
 * headings and passages.
 *
 * Each source line is folded (normalize.h); lines are grouped into
 * paragraphs (blank lines, indentation, short lines in hard-wrapped
 * columns, one paragraph per line in unwrapped text); wrapped lines are
 * rejoined with whitespace squeezed; short unpunctuated paragraphs and
 * markdown "#" lines become section headings; page-number lines are
 * dropped; paragraphs longer than PSG_MAX_CHARS are cut at sentence ends.
 *
 * A psg_doc owns all its strings; free it with psg_doc_free().
 */
#ifndef PS_PASSAGE_H
#define PS_PASSAGE_H

#include <stddef.h>

#define PSG_MAX_CHARS 300      /* passages longer than this are cut */
#define PSG_HARD_CHARS 1200    /* a cut is forced past this, sentence or not */

/* Where each source line starts in a block's text: text[off[i]..] comes
 * from source line line[i] (1-based). */
typedef struct psg_linemap {
    size_t n;
    size_t *off;
    int *line;
} psg_linemap;

typedef enum { PSG_TEXT, PSG_HEADING, PSG_NOISE } psg_kind;

typedef struct psg_block {
    psg_kind kind;
    int md;                  /* a markdown "#" heading */
    char *text;              /* normalized, NUL-terminated */
    size_t len;
    psg_linemap map;
} psg_block;

typedef struct psg_passage {
    int ordinal;
    const char *heading;     /* points into a heading block, or NULL */
    size_t block;            /* index of the block it was cut from */
    size_t start, len;       /* byte range of its text in that block */
    char *text;              /* copy of that range, NUL-terminated */
} psg_passage;

typedef struct psg_doc {
    char *title;
    psg_block *blocks;
    size_t nblocks;
    psg_passage *passages;
    size_t npassages;
} psg_doc;

/* Parses utf8[0..len).  fallback_title is used when the document shows
 * no title of its own.  Returns a document (caller frees with
 * psg_doc_free()) or NULL with err set. */
psg_doc *psg_parse(const char *utf8, size_t len, const char *fallback_title,
                   char *err);
void psg_doc_free(psg_doc *d);

/* The 1-based source line of byte offset off in block b. */
int psg_line_at(const psg_block *b, size_t off);

#endif
