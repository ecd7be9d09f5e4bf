/*
 * tokenize.h: words of normalized text.
 *
 * ICU's dictionary word breaker, then a domain lexicon layer that merges
 * adjacent ICU tokens into one word when their concatenation is a lexicon
 * entry (赤|峰|市 -> 赤峰市, 防沙|治|沙 -> 防沙治沙).  The lexicon is
 * data/lexicon.txt plus any words added by other modules (region names).
 *
 * A tok_lexicon is immutable once built and may be shared by threads; a
 * tok_state holds the ICU break iterator and is per thread.
 */
#ifndef PS_TOKENIZE_H
#define PS_TOKENIZE_H

#include <stddef.h>

typedef struct tok_lexicon tok_lexicon;
typedef struct tok_state tok_state;

/* Called per word: token bytes tok[0..ntok) are text[start..end).  Return
 * nonzero to stop. */
typedef int (*tok_callback)(void *ctx, const char *tok, size_t ntok,
                            size_t start, size_t end);

/* Loads data/lexicon.txt from ps_data_dir().  Returns NULL with err set
 * when the file cannot be read. */
tok_lexicon *tok_lexicon_load(char *err);
/* An empty lexicon, to fill with tok_lexicon_add(). */
tok_lexicon *tok_lexicon_create(void);
/* 1 when a word of two or more characters of the lexicon starts s[0..n)
 * (valid UTF-8). */
int tok_lexicon_word_at(const tok_lexicon *lx, const char *s, size_t n);
/* Adds a word (normalized UTF-8).  Only before the lexicon is shared. */
void tok_lexicon_add(tok_lexicon *lx, const char *word, size_t n);
size_t tok_lexicon_size(const tok_lexicon *lx);
/* 0 when no lexicon word of two or more characters starts with the first
 * two characters of s[0..n) (valid UTF-8); 1 when one may. */
int tok_lexicon_may_start(const tok_lexicon *lx, const char *s, size_t n);
void tok_lexicon_destroy(tok_lexicon *lx);

/* lx must outlive the state.  Returns NULL with err set on ICU failure. */
tok_state *tok_state_create(const tok_lexicon *lx, char *err);
void tok_state_destroy(tok_state *ts);

/* Tokenizes text[0..len) (normalized UTF-8).  Returns 0, or -1 with err
 * set when ICU fails. */
int tok_run(tok_state *ts, const char *text, size_t len, tok_callback cb,
            void *ctx, char *err);

#endif
