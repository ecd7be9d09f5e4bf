/*
 * numbers.c: the number-with-unit recognizer.
 *
 * A mention is: digits with optional thousands groups and decimals, then
 * optional 余/多/几, a magnitude (万亿 亿 万 千 百), 余/多 again, optional
 * spaces, a unit from the table (longest match), and an optional trailing
 * qualifier (以上 以下 左右 余 多) kept in the surface only.  Values are
 * computed from the digit string and a power of ten, so 1.55亿 is exactly
 * 155000000 rather than 155000000.00000003.
 *
 * Rejected: a number right after 第 (ordinal) or touching ASCII letters or
 * '+' (5G, PM2.5, A1, 1+3), rankings (前10强), list markers (1、 (1) and a
 * bare number opening a paragraph), a number followed by 年 月 日 号 时
 * (dates and times),
 * a bare four-digit 1900-2099 (a year, as in 2023-2025), dates written
 * with digits only (2025-03-12, 2024/5/6, 2025.3.12, 2025-03), and the
 * first number of a range that ends in a month (1至7月).
 */
#include "numbers.h"
#include "strset.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct num_units {
    strset *set;
    size_t maxlen;     /* longest unit in bytes */
    char **list;
    size_t n;
};

num_units *num_units_load(char *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/units.txt", ps_data_dir());
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0) {
        char tmp[PS_ERRLEN];
        snprintf(tmp, sizeof tmp, "%s: %s", path, err);
        memcpy(err, tmp, PS_ERRLEN);
        return NULL;
    }
    num_units *u = ps_xcalloc(1, sizeof *u);
    u->set = strset_create();
    char *save = NULL;
    for (char *ln = strtok_r(data, "\n", &save); ln;
         ln = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(ln);
        while (n && (ln[n - 1] == '\r' || ln[n - 1] == ' '))
            ln[--n] = '\0';
        if (!n || ln[0] == '#' || n >= NUM_UNIT_MAX)
            continue;
        strset_put(u->set, ln, n, 1);
        u->list = ps_xrealloc(u->list, (u->n + 1) * sizeof(char *));
        u->list[u->n++] = ps_xstrdup(ln);
        if (n > u->maxlen)
            u->maxlen = n;
    }
    free(data);
    return u;
}

void num_units_destroy(num_units *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++)
        free(u->list[i]);
    free(u->list);
    strset_destroy(u->set);
    free(u);
}

void num_units_each(const num_units *u,
                    void (*add)(void *ctx, const char *s, size_t n),
                    void *ctx)
{
    for (size_t i = 0; i < u->n; i++)
        add(ctx, u->list[i], strlen(u->list[i]));
}

/* Longest unit at text[i..len); returns its byte length or 0. */
static size_t match_unit(const num_units *u, const char *t, size_t len,
                         size_t i)
{
    size_t best = 0, k = i;
    while (k < len && k - i < u->maxlen) {
        k += (size_t)ps_utf8_len((unsigned char)t[k]);
        if (k > len)
            break;
        if (strset_get(u->set, t + i, k - i) >= 0)
            best = k - i;
    }
    return best;
}

static int at(const char *t, size_t len, size_t i, const char *lit)
{
    size_t n = strlen(lit);
    return i + n <= len && memcmp(t + i, lit, n) == 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Code point ending just before byte i, or 0. */
static uint32_t prev_cp(const char *t, size_t i)
{
    if (i == 0)
        return 0;
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)t[k] & 0xC0) == 0x80)
        k--;
    size_t j = k;
    return ps_utf8_next(t, i, &j);
}

static size_t skip_spaces(const char *t, size_t len, size_t i)
{
    while (i < len && t[i] == ' ')
        i++;
    return i;
}

typedef struct rawnum {
    size_t start, end;         /* digits and decimals */
    double mantissa;           /* digits as an integer */
    int decimals;
    int is_int4_year;          /* 1900..2099 with no decimals */
} rawnum;

/* Parses the digit string at t[i]; returns 0 when there is none. */
static int parse_digits(const char *t, size_t len, size_t i, rawnum *r)
{
    if (i >= len || !is_digit(t[i]))
        return 0;
    r->start = i;
    double m = 0;
    size_t ndig = 0;
    while (i < len) {
        if (is_digit(t[i])) {
            m = m * 10 + (t[i] - '0');
            ndig++;
            i++;
        } else if (t[i] == ',' && ndig >= 1 && i + 3 < len &&
                   is_digit(t[i + 1]) && is_digit(t[i + 2]) &&
                   is_digit(t[i + 3]) &&
                   (i + 4 >= len || !is_digit(t[i + 4]))) {
            i++;               /* thousands separator */
        } else {
            break;
        }
    }
    r->decimals = 0;
    r->is_int4_year = 0;
    if (ndig == 4 && i - r->start == 4 && m >= 1900 && m <= 2099)
        r->is_int4_year = 1;
    if (i + 1 < len && t[i] == '.' && is_digit(t[i + 1])) {
        i++;
        while (i < len && is_digit(t[i])) {
            m = m * 10 + (t[i] - '0');
            r->decimals++;
            i++;
        }
        r->is_int4_year = 0;
    }
    r->mantissa = m;
    r->end = i;
    return 1;
}

static const char *const MODIFIERS[] = {"余", "多", "几", NULL};
static const char *const QUALIFIERS[] = {"以上", "以下", "左右", "余", "多",
                                         NULL};
static const char *const RANGE_SEP[] = {"-", "~", "\xe2\x80\x94", /* — */
                                        "\xe2\x80\x93",           /* – */
                                        "至", "到", NULL};
static const char *const DATE_UNITS[] = {"年", "月", "日", "号", "时",
                                         "周年", NULL};

static size_t match_list(const char *t, size_t len, size_t i,
                         const char *const *list)
{
    for (int k = 0; list[k]; k++)
        if (at(t, len, i, list[k]))
            return strlen(list[k]);
    return 0;
}

/* Magnitude at t[i]: sets *exp (4, 8, 12, 3, 2) and returns its length.
 * 千 and 百 count only when they do not start a unit (千瓦, 千米). */
static size_t match_magnitude(const num_units *u, const char *t, size_t len,
                              size_t i, int *exp)
{
    if (at(t, len, i, "万亿")) { *exp = 12; return 6; }
    if (at(t, len, i, "亿")) { *exp = 8; return 3; }
    if (at(t, len, i, "万")) { *exp = 4; return 3; }
    if (at(t, len, i, "千") || at(t, len, i, "百")) {
        size_t ul = match_unit(u, t, len, i);
        if (ul > 3)
            return 0;
        *exp = at(t, len, i, "千") ? 3 : 2;
        return 3;
    }
    return 0;
}

typedef struct tail {
    size_t end;                /* end of the whole mention */
    int exp;                   /* magnitude exponent */
    char unit[NUM_UNIT_MAX];
    int date;                  /* followed by a date unit */
} tail;

/* Reads what follows a number: modifiers, magnitude, unit, qualifier. */
static void read_tail(const num_units *u, const char *t, size_t len,
                      size_t i, tail *tl)
{
    tl->exp = 0;
    tl->unit[0] = '\0';
    tl->date = 0;
    size_t j = skip_spaces(t, len, i);
    size_t m = match_list(t, len, j, MODIFIERS);
    if (m)
        j += m;
    int exp = 0;
    size_t mg = match_magnitude(u, t, len, j, &exp);
    if (mg) {
        j += mg;
        tl->exp = exp;
        if (!m && (m = match_list(t, len, j, MODIFIERS)))
            j += m;
    }
    size_t k = skip_spaces(t, len, j);
    if (!mg && !m && match_list(t, len, k, DATE_UNITS) &&
        !at(t, len, k, "年均") && !at(t, len, k, "年度")) {
        tl->date = 1;
        tl->end = k;
        return;
    }
    size_t ul = match_unit(u, t, len, k);
    if (ul) {
        memcpy(tl->unit, t + k, ul);
        tl->unit[ul] = '\0';
        j = k + ul;
        size_t q = match_list(t, len, j, QUALIFIERS);
        if (q)
            j += q;
    } else if (mg || m) {
        size_t q = match_list(t, len, j, QUALIFIERS);
        if (q && !m)
            j += q;
    } else {
        size_t q = match_list(t, len, i, QUALIFIERS);
        if (q && (at(t, len, i, "以上") || at(t, len, i, "以下") ||
                  at(t, len, i, "左右")))
            j = i + q;
        else
            j = i;
    }
    tl->end = j;
}

static double value_of(const rawnum *r, int exp)
{
    int e = exp - r->decimals;
    return e >= 0 ? r->mantissa * pow(10, e) : r->mantissa / pow(10, -e);
}

static void set_surface(num_mention *m, const char *t, size_t s, size_t e)
{
    size_t o = 0;
    for (size_t k = s; k < e && o + 1 < NUM_SURFACE_MAX; k++)
        if (t[k] != ' ')
            m->surface[o++] = t[k];
    /* never cut a UTF-8 sequence in half */
    while (o > 0 && ((unsigned char)m->surface[o - 1] & 0x80)) {
        size_t b = o - 1;
        while (b > 0 && ((unsigned char)m->surface[b] & 0xC0) == 0x80)
            b--;
        if (b + (size_t)ps_utf8_len((unsigned char)m->surface[b]) <= o)
            break;
        o = b;
    }
    m->surface[o] = '\0';
}

/* 1-2 digits at t[i] worth lo..hi, not followed by a digit: their end,
 * else 0. */
static size_t small_at(const char *t, size_t len, size_t i, int lo, int hi)
{
    size_t e = i;
    int v = 0;
    while (e < len && e < i + 3 && is_digit(t[e]))
        v = v * 10 + (t[e++] - '0');
    return e > i && e - i <= 2 && v >= lo && v <= hi ? e : 0;
}

/* The end of a date in digits starting at t[i] (a year 1900-2099, then
 * month and day after - / or ., or only a month after - or /), else 0. */
static size_t digit_date_end(const char *t, size_t len, size_t i)
{
    if (i + 6 > len)
        return 0;
    int y = 0;
    for (size_t k = i; k < i + 4; k++) {
        if (!is_digit(t[k]))
            return 0;
        y = y * 10 + (t[k] - '0');
    }
    char sep = t[i + 4];
    if (y < 1900 || y > 2099 || (sep != '-' && sep != '/' && sep != '.'))
        return 0;
    size_t m = small_at(t, len, i + 5, 1, 12);
    if (!m)
        return 0;
    size_t d = m + 1 < len && t[m] == sep ? small_at(t, len, m + 1, 1, 31) : 0;
    if (d)
        return d;
    return sep == '.' ? 0 : m;      /* 2025.5 is a number */
}

size_t num_extract(const num_units *u, const char *t, size_t len,
                   num_mention **out)
{
    size_t n = 0, cap = 0;
    num_mention *ms = NULL;
    size_t i = 0;
    while (i < len) {
        if (!is_digit(t[i])) {
            i++;
            continue;
        }
        size_t de = digit_date_end(t, len, i);
        if (de) {
            i = de;
            continue;
        }
        rawnum r;
        parse_digits(t, len, i, &r);
        uint32_t before = prev_cp(t, r.start);
        int code = (before < 0x80 && is_ascii_alpha((char)before)) ||
                   (r.end < len && is_ascii_alpha(t[r.end])) ||
                   before == '.' || before == '+' ||
                   (r.end < len && (t[r.end] == '.' || t[r.end] == '+'));
        /* Rankings: 前10强, 前3名, 前5位. */
        int ranking = at(t, len, r.end, "强") ||
                      (before == 0x524D /* 前 */ &&
                       (at(t, len, r.end, "名") || at(t, len, r.end, "位")));
        int ordinal = before == 0x7B2C; /* 第 */
        tail tl;
        read_tail(u, t, len, r.end, &tl);

        /* A range: this number, a separator, another number. */
        size_t sep = match_list(t, len, skip_spaces(t, len, r.end), RANGE_SEP);
        rawnum r2 = {0};
        tail tl2 = {0};
        int range = 0;
        if (!code && !ordinal && tl.end == r.end && sep) {
            size_t k = skip_spaces(t, len, skip_spaces(t, len, r.end) + sep);
            if (parse_digits(t, len, k, &r2)) {
                read_tail(u, t, len, r2.end, &tl2);
                range = 1;
            }
        }
        /* List markers: "1、", "(1)", or a bare number opening a heading. */
        int marker = !range && tl.end == r.end &&
                     ((r.end < len && (at(t, len, r.end, "、") || t[r.end] == ')')) ||
                      r.start == 0);
        if (code || ordinal || ranking || marker || tl.date || (range && tl2.date) ||
            (r.is_int4_year && tl.exp == 0 && !tl.unit[0])) {
            i = range ? r2.start : (tl.end > r.end ? tl.end : r.end);
            if (range && tl2.date)
                i = tl2.end;
            if (i <= r.start)
                i = r.end;
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            ms = ps_xrealloc(ms, cap * sizeof *ms);
        }
        num_mention *m = &ms[n++];
        m->start = r.start;
        if (range) {
            /* 10-20万元: the first number borrows the second's tail. */
            m->end = r.end;
            m->value = value_of(&r, tl2.exp);
            snprintf(m->unit, NUM_UNIT_MAX, "%s", tl2.unit);
            set_surface(m, t, r.start, r.end);
            i = r2.start;
            continue;
        }
        m->end = tl.end;
        m->value = value_of(&r, tl.exp);
        snprintf(m->unit, NUM_UNIT_MAX, "%s", tl.unit);
        set_surface(m, t, r.start, tl.end);
        i = tl.end > r.end ? tl.end : r.end;
    }
    *out = ms;
    return n;
}

void num_sortable(double value, unsigned char out[8])
{
    uint64_t bits;
    memcpy(&bits, &value, 8);
    if (bits >> 63)
        bits = ~bits;
    else
        bits |= (uint64_t)1 << 63;
    for (int k = 7; k >= 0; k--) {
        out[k] = (unsigned char)(bits & 0xFF);
        bits >>= 8;
    }
}
