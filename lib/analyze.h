/*
 * analyze.h: from a document's text to Xapian documents, one per passage,
 * and the shared resources (lexicon, units, gazetteer, sectors) that the
 * searcher needs too so that queries are cut the same way as documents.
 *
 * ana_res is loaded once and shared read-only by all threads; an ana_ctx
 * (ICU state, scratch buffers) belongs to one thread.
 */
#ifndef PS_ANALYZE_H
#define PS_ANALYZE_H

#include <stddef.h>

#include "numbers.h"
#include "passage.h"
#include "regions.h"
#include "sectors.h"
#include "tokenize.h"
#include "xap.h"

typedef struct ana_words ana_words;

typedef struct ana_res {
    num_units *units;
    reg_gazetteer *gaz;
    sec_table *sec;
    ana_words *words;   /* the lexicons, loaded now or when first needed */
} ana_res;

/* Loads everything from ps_data_dir().  NULL with err set on failure.
 * With words_later, the word lexicons (a third of a one-off query's
 * start-up) are loaded when a tokenizer is first asked for: a query of
 * quoted strings never needs them. */
ana_res *ana_res_load(int words_later, char *err);
void ana_res_destroy(ana_res *r);
/* The word lexicon, or with names the region names and sector keywords
 * alone (loaded if they were not); NULL with err on failure. */
const tok_lexicon *ana_lexicon(const ana_res *r, int names, char *err);

typedef struct ana_ctx ana_ctx;

ana_ctx *ana_ctx_create(const ana_res *r, char *err);
void ana_ctx_destroy(ana_ctx *c);
/* The context's tokenizer; NULL with err when the lexicons cannot be
 * loaded. */
tok_state *ana_tokenizer(ana_ctx *c, char *err);
/* Turns numeric, region and sector extraction off (on by default); only
 * for measuring what they cost. */
void ana_ctx_set_facets(ana_ctx *c, int on);
/* What the next documents' passages all carry from their document's
 * metadata (docmeta.h): boolean terms (copied) and the date for
 * SLOT_DATE ("" for none).  Cleared with n == 0. */
void ana_ctx_set_doc_terms(ana_ctx *c, const char *const *terms, size_t n,
                           const char *date);

/* Called for each passage document with the passage's normalized text
 * (for the character index) and its data (the JSON the searcher shows,
 * stored under META_DATA); return nonzero to stop. */
typedef int (*ana_emit)(void *ctx, xap_doc *doc, const char *text,
                        size_t len, const char *data, size_t datalen);

/* Analyzes one document given as pieces (extract.h): docid is its id
 * (relative path), title_hint the title to use when the text has none,
 * format the reader's name ("pdf"; NULL for plain text), ocr whether its
 * text came from OCR.  Calls emit once per passage and sets *npassages.
 * Returns 0, or -1 with err set. */
int ana_document(ana_ctx *c, const char *docid, const psg_input *in,
                 size_t nin, const char *title_hint, const char *format,
                 int ocr, ana_emit emit, void *ectx, size_t *npassages,
                 char *err);

/* Writes the F term of docid into out (at least MAX_FILE_TERM + 24). */
void ana_file_term(const char *docid, char *out, size_t outlen);

#endif
