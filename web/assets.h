/*
 * assets.h: the search page's static files, embedded at build time by
 * tools/embed.sh.  The table ends with an entry whose path is NULL.
 */
#ifndef PS_WEB_ASSETS_H
#define PS_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* URL path, "/" for index.html */
    const char *type;          /* Content-Type */
    const unsigned char *data;
    size_t len;
} web_asset;

extern const web_asset web_assets[];

#endif
