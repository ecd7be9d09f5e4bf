/*
 * passage.h: from the UTF-8 text of a document to its title, section
 * headings and passages.
 *
 * Each source line is folded (normalize.h); lines are grouped into
 * paragraphs (blank lines, indentation, short lines in hard-wrapped
 * columns, one paragraph per line in unwrapped text); wrapped lines are
 * rejoined with whitespace squeezed; short unpunctuated paragraphs and
 * markdown "#" lines become section headings; paragraphs longer than
 * PSG_MAX_CHARS are cut at sentence ends.
 *
 * Every block is a passage: the title and headings are passages of their
 * own (kind "title" and "heading") that also name the section of the
 * passages after them; page-number lines are passages too.  The
 * heuristics decide how text is grouped, never whether it is searchable.
 *
 * Documents of structured formats (HTML, DOCX, OFD) come as a list of
 * blocks whose kind the format says (psg_parse_input); paged text (PDF)
 * as lines with a form feed between pages, so a paragraph broken at a
 * page end is rejoined and every passage knows its page.
 *
 * A psg_doc owns all its strings; free it with psg_doc_free().
 */
#ifndef PS_PASSAGE_H
#define PS_PASSAGE_H

#include <stddef.h>
#include <stdint.h>

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

/* What a passage is, as the JSON "kind" says it. */
typedef enum { PSG_K_TEXT, PSG_K_HEADING, PSG_K_TITLE, PSG_K_TABLE } psg_pkind;
extern const char *const psg_kind_names[];   /* "text", "heading", ... */

typedef struct psg_block {
    psg_kind kind;
    char *src;               /* as the source writes it, line breaks of
                                wrapped lines removed, NUL-terminated */
    size_t srclen;
    uint32_t *from, *to;     /* text byte i comes from src[from[i]..to[i]) */
    int md;                  /* a markdown "#" heading */
    int forced;              /* kind given by the format, not guessed */
    int is_title;            /* the document's title */
    int table;               /* a table cell */
    int page;                /* 1-based page of its first line, 0: unpaged */
    char *text;              /* normalized, NUL-terminated */
    size_t len;
    psg_linemap map;
} psg_block;

typedef struct psg_passage {
    int ordinal;
    psg_pkind kind;
    int page;                /* 1-based, 0 when the format has no pages */
    const char *heading;     /* points into a heading block, or NULL */
    size_t block;            /* index of the block it was cut from */
    size_t start, len;       /* byte range of its text in that block */
    char *text;              /* copy of that range, NUL-terminated */
    char *src;               /* the same text as the source writes it */
    const char *heading_src; /* the heading as the source writes it */
} psg_passage;

typedef struct psg_doc {
    char *title;             /* normalized */
    char *title_src;         /* as the source writes it */
    psg_block *blocks;
    size_t nblocks;
    psg_passage *passages;
    size_t npassages;
} psg_doc;

/* One piece of a document as an extractor delivers it. */
typedef enum {
    PSG_IN_LINES,      /* lines laid out as in a text file: paragraphs,
                          headings and wraps are worked out from them */
    PSG_IN_PARA,       /* one paragraph (its line breaks are wraps); a
                          short unpunctuated one reads as a heading */
    PSG_IN_HEADING,    /* a heading, as the format marks it */
    PSG_IN_TITLE,      /* the document's title */
    PSG_IN_CELL,       /* a table cell */
    PSG_IN_TEXT        /* one paragraph of body text, never a heading (a
                        * slide's text below its title) */
} psg_in_kind;

typedef struct psg_input {
    psg_in_kind kind;
    const char *text;  /* UTF-8 */
    size_t len;
    int paged;         /* PSG_IN_LINES: '\f' starts the next page; other
                        * kinds: the block's page (a slide), 0 none */
} psg_input;

/* Parses a document given as pieces.  fallback_title is used when the
 * document shows no title of its own.  Returns a document (caller frees
 * with psg_doc_free()) or NULL with err set. */
psg_doc *psg_parse_input(const psg_input *in, size_t n,
                         const char *fallback_title, char *err);

/* Parses utf8[0..len) as plain text (one PSG_IN_LINES piece).  fallback_title is used when the document shows
 * no title of its own.  Returns a document (caller frees with
 * psg_doc_free()) or NULL with err set. */
psg_doc *psg_parse(const char *utf8, size_t len, const char *fallback_title,
                   char *err);
void psg_doc_free(psg_doc *d);

/* The 1-based source line of byte offset off in block b. */
int psg_line_at(const psg_block *b, size_t off);

#endif
