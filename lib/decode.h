/*
 * decode.h: turn the bytes of a file into UTF-8 text.
 *
 * Detects the encoding of one file (UTF-8 with or without BOM, UTF-16 with
 * BOM, GB18030/GBK) and converts it with ICU converters.  Binary files,
 * invalid UTF-8 and unknown encodings are refused with a message that says
 * why, so the indexer can name the file and go on.
 */
#ifndef PS_DECODE_H
#define PS_DECODE_H

#include <stddef.h>

/* Decodes data[0..len) to UTF-8.  On success returns 0, sets *out (caller
 * frees with free(); NUL-terminated, no BOM), *outlen and *encoding (a
 * static name such as "UTF-8" or "GB18030").  On failure returns -1 and
 * writes the reason to err (PS_ERRLEN bytes). */
int dec_to_utf8(const char *data, size_t len, char **out, size_t *outlen,
                const char **encoding, char *err);

/* Decodes data[0..len) from the named charset (a web page's declared
 * one: utf-8, gb2312, gbk, gb18030, big5, ...; the GB family is read as
 * GB18030).  Same results as dec_to_utf8; -1 when the name is unknown or
 * the bytes are not valid in it. */
int dec_named(const char *data, size_t len, const char *charset, char **out,
              size_t *outlen, char *err);

/* Reads the file at path and decodes it (ps_read_file + dec_to_utf8).
 * Same results and ownership as dec_to_utf8. */
int dec_read_file(const char *path, char **out, size_t *outlen,
                  const char **encoding, char *err);

#endif
