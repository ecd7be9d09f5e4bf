/*
** blockcheck.h - the structure of a Xapian table block, checked before
** libxapian reads it (see blockcheck.c: the process's pread is ours).
*/
#ifndef PS_BLOCKCHECK_H
#define PS_BLOCKCHECK_H

#include <stddef.h>

/* 0 if the n-byte glass block b has a directory and items that lie
 * inside it, -1 if not. */
int blockcheck_block(const unsigned char *b, size_t n);

/* For a process that answers many queries: from now on, tables opened
 * read-only are read through shared mappings of their files, populated
 * in the background; installs a SIGBUS handler for a table cut short
 * while mapped (see blockcheck.c). */
void blockcheck_warm(void);

#endif
