/*
 * snippet.h: the part of a passage worth showing, HTML-escaped, with every
 * match of the query wrapped in <mark>.
 *
 * The text is the source's own (full-width punctuation, Traditional
 * characters, original digits); needles are normalized query strings.
 * Matches are found on the normalized text and the marks put around the
 * source characters they came from (normalize.h, norm_text_map).
 */
#ifndef PS_SNIPPET_H
#define PS_SNIPPET_H

#include <stddef.h>

#include "util.h"

#define SNIP_CHARS 140     /* longest snippet, in characters */

/* Appends the snippet of text to out.  needles[0..n) are normalized
 * strings; at each position the longest one that matches is marked.
 * Texts longer than SNIP_CHARS are cut to the window holding the most
 * matches, with "…" where text was left out. */
/* window: at most this many characters around the matches, with "…" where
 * text was left out; 0: the whole text. */
void snip_make(const char *text, const char *const *needles, size_t n,
               size_t window, ps_buf *out);

#endif
