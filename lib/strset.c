/*
 * strset.c: FNV-1a hashed, linear-probing string map.
 */
#include "strset.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key;
    size_t len;
    uint32_t hash;
    int value;
} slot;

struct strset {
    slot *slots;
    size_t cap, count;
};

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

strset *strset_create(void)
{
    strset *s = ps_xcalloc(1, sizeof *s);
    s->cap = 64;
    s->slots = ps_xcalloc(s->cap, sizeof(slot));
    return s;
}

void strset_destroy(strset *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].key);
    free(s->slots);
    free(s);
}

static slot *find(const strset *s, const char *key, size_t len, uint32_t h)
{
    size_t i = h & (s->cap - 1);
    for (;;) {
        slot *sl = &s->slots[i];
        if (!sl->key || (sl->hash == h && sl->len == len &&
                         memcmp(sl->key, key, len) == 0))
            return sl;
        i = (i + 1) & (s->cap - 1);
    }
}

static void grow(strset *s)
{
    slot *old = s->slots;
    size_t oldcap = s->cap;
    s->cap *= 2;
    s->slots = ps_xcalloc(s->cap, sizeof(slot));
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            *find(s, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
}

void strset_put(strset *s, const char *key, size_t len, int value)
{
    if ((s->count + 1) * 2 > s->cap)
        grow(s);
    uint32_t h = fnv(key, len);
    slot *sl = find(s, key, len, h);
    if (!sl->key) {
        sl->key = ps_xstrndup(key, len);
        sl->len = len;
        sl->hash = h;
        s->count++;
    }
    sl->value = value;
}

int strset_get(const strset *s, const char *key, size_t len)
{
    slot *sl = find(s, key, len, fnv(key, len));
    return sl->key ? sl->value : -1;
}

size_t strset_count(const strset *s)
{
    return s->count;
}
