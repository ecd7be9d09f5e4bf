/*
 * normalize.h: the text normalization every string goes through before it
 * is indexed or searched, so that "contains" means the same on both sides.
 *
 * NFKC with case folding (full-width digits and letters become ASCII,
 * Latin letters lower case), Traditional Chinese folded to Simplified,
 * and whitespace squeezed: removed where it separates two CJK characters
 * or punctuation, or where a line break interrupts anything but two Latin
 * words; one space elsewhere.
 *
 * Functions append to a caller-owned ps_buf.  Input must be valid UTF-8.
 * Thread-safe.
 */
#ifndef PS_NORMALIZE_H
#define PS_NORMALIZE_H

#include "util.h"

/* Appends the NFKC-casefolded, Simplified form of s[0..n) to out.  Does
 * not touch whitespace.  Returns 0, or -1 with err set. */
int norm_fold(const char *s, size_t n, ps_buf *out, char *err);

/* Appends s[0..n) to out with whitespace squeezed as described above. */
void norm_squeeze(const char *s, size_t n, ps_buf *out);

/* norm_squeeze that also maps input offsets: for each marks[k] (an
 * offset into s, ascending) stores in mapped[k] the output offset (relative
 * to out->len on entry) of the first character at or after it. */
void norm_squeeze_map(const char *s, size_t n, ps_buf *out,
                      const size_t *marks, size_t nmarks, size_t *mapped);

/* norm_fold followed by norm_squeeze: the form queries are searched in. */
int norm_query(const char *s, size_t n, ps_buf *out, char *err);

/* norm_query that also says where each output byte came from: for output
 * byte i, the source bytes s[(*from)[i] .. (*to)[i]) produced it (a
 * space the squeeze kept maps to the whitespace it stands for).  *from and
 * *to (caller frees) have out->len - (its length on entry) entries.  This
 * is how text shown as the source writes it gets its highlights: matching
 * runs on the normalized form, marks land on the source characters.
 * Returns 0, or -1 with err set. */
int norm_text_map(const char *s, size_t n, ps_buf *out, uint32_t **from,
                  uint32_t **to, char *err);

/* The Simplified form of code point cp (cp itself when there is none). */
uint32_t norm_t2s(uint32_t cp);

#endif
