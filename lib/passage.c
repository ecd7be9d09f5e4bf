/*
 * passage.c: paragraphs, headings, titles and passages of one document.
 *
 * The hard part is telling a hard wrap from a paragraph end when a source
 * has no blank lines between paragraphs.  Within a run of non-blank lines
 * ("a block") we measure the widest line; when most lines are nearly that
 * wide the block is a wrapped column and only a clearly short line (or an
 * indented next line) ends a paragraph.  Otherwise every line is its own
 * paragraph.  Widths are taken both in characters and in display columns
 * because some sources wrap by one and some by the other.
 */
#include "passage.h"
#include "normalize.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const psg_kind_names[] = {"text", "heading", "title", "table"};

typedef struct srcline {
    char *text;        /* folded, not squeezed */
    size_t len;
    char *raw;         /* as written (markdown emphasis marks removed) */
    size_t rawlen;
    int lineno;
    int page;          /* 1-based in paged input, else 0 */
    int blank;
    int indent;        /* starts with whitespace */
    int md_heading;    /* "# ..." */
    size_t chars;      /* characters, trimmed */
    size_t cols;       /* display columns, trimmed */
} srcline;

static void measure(srcline *l)
{
    size_t i = 0, lead = 1;
    l->chars = l->cols = 0;
    l->blank = 1;
    l->indent = 0;
    size_t trail_chars = 0, trail_cols = 0;
    while (i < l->len) {
        uint32_t cp = ps_utf8_next(l->text, l->len, &i);
        if (ps_is_space(cp)) {
            if (lead) {
                l->indent = 1;
                continue;
            }
            trail_chars++;
            trail_cols++;
            continue;
        }
        lead = 0;
        l->blank = 0;
        size_t w = (cp >= 0x1100 && (ps_is_cjkish(cp) || cp >= 0x3000)) ? 2 : 1;
        l->chars += trail_chars + 1;
        l->cols += trail_cols + w;
        trail_chars = trail_cols = 0;
    }
    if (l->blank)
        l->indent = 0;
    l->md_heading = 0;
    const char *p = l->text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '#') {
        const char *q = p;
        while (*q == '#')
            q++;
        /* A heading is short; a long "#" line is text with stray marks. */
        if (q - p <= 6 && (*q == ' ' || *q == '\t') && l->chars <= 60)
            l->md_heading = 1;
    }
}

static uint32_t last_cp(const char *s, size_t n)
{
    uint32_t last = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (!ps_is_space(cp))
            last = cp;
    }
    return last;
}

static int is_sentence_end(uint32_t cp)
{
    return cp == 0x3002 || cp == '!' || cp == '?' || cp == ';' ||
           cp == 0xFF01 || cp == 0xFF1F || cp == 0xFF1B || cp == '.';
}

/* Page numbers, "- 3 -", "第3页", "■上接第1版": nothing a person searches. */
static int is_noise(const char *s, size_t n)
{
    size_t i = 0, chars = 0, digits = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        chars++;
        if (cp >= '0' && cp <= '9')
            digits++;
        else if (!(ps_is_space(cp) || cp == '-' || cp == 0x2014 ||
                   cp == 0x2013 || cp == 0x2015 || cp == '_' || cp == '/' ||
                   cp == 0xB7 || cp == 0x30FB || cp == 0x7B2C /* 第 */ ||
                   cp == 0x9875 /* 页 */ || cp == 0x7248 /* 版 */ ||
                   cp == 0x25A0 || cp == 0x25A1 || cp == 0x4E0A /* 上 */ ||
                   cp == 0x4E0B /* 下 */ || cp == 0x63A5 /* 接 */ ||
                   cp == 0x8F6C /* 转 */ || cp == '|' || cp == '(' ||
                   cp == ')'))
            return 0;
    }
    return chars > 0 && chars <= 16;
}

/* A short paragraph with no sentence punctuation reads as a heading. */
static int looks_like_heading(const char *s, size_t n)
{
    size_t chars = ps_utf8_count(s, n);
    if (chars == 0 || chars > 32)
        return 0;
    uint32_t last = last_cp(s, n);
    if (is_sentence_end(last) || last == ',' || last == 0x3001 ||
        last == ':' || last == 0xFF0C || last == 0xFF1A)
        return 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (cp == 0x3002)
            return 0;
    }
    return 1;
}

typedef struct builder {
    psg_doc *doc;
    size_t cap_blocks;
} builder;

static psg_block *new_block(builder *b)
{
    psg_doc *d = b->doc;
    if (d->nblocks == b->cap_blocks) {
        b->cap_blocks = b->cap_blocks ? 2 * b->cap_blocks : 32;
        d->blocks = ps_xrealloc(d->blocks, b->cap_blocks * sizeof *d->blocks);
    }
    psg_block *bl = &d->blocks[d->nblocks++];
    memset(bl, 0, sizeof *bl);
    return bl;
}

/* "## " at the start of a line (after indentation): its length, or 0. */
static size_t md_mark(const char *t, size_t tl)
{
    size_t h = 0;
    while (h < tl && (t[h] == ' ' || t[h] == '\t'))
        h++;
    if (h < tl && t[h] == '#') {
        size_t e = h;
        while (e < tl && t[e] == '#')
            e++;
        if (e < tl && (t[e] == ' ' || t[e] == '\t'))
            return e;
    }
    return 0;
}

static uint32_t first_cp(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (!ps_is_space(cp))
            return cp;
    }
    return 0;
}

/* Joins the lines idx[0..n) into one paragraph block: the source lines,
 * trimmed, joined without their line breaks (a space between two Latin
 * words, as the normalization does), and the normalized text made from
 * that with a map back to it. */
static void emit_paragraph(builder *b, srcline *lines, const size_t *idx,
                           size_t n, int md)
{
    if (n == 0)
        return;
    ps_buf src;
    ps_buf_init(&src);
    size_t *marks = ps_xmalloc(n * sizeof *marks);
    uint32_t prev = 0;
    for (size_t k = 0; k < n; k++) {
        const srcline *l = &lines[idx[k]];
        const char *t = l->raw;
        size_t tl = l->rawlen, m = md_mark(t, tl);
        /* Markdown heading marks ("## ") go, wherever the line ended up. */
        t += m;
        tl -= m;
        size_t i = 0;
        while (i < tl) {           /* trim */
            size_t j = i;
            if (!ps_is_space(ps_utf8_next(t, tl, &j)))
                break;
            i = j;
        }
        while (tl > i && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
            tl--;
        uint32_t next = first_cp(l->text + md_mark(l->text, l->len),
                                 l->len - md_mark(l->text, l->len));
        if (src.len && tl > i && ps_is_alnum(prev) && ps_is_alnum(next))
            ps_buf_addc(&src, ' ');
        marks[k] = src.len;
        ps_buf_add(&src, t + i, tl - i);
        if (tl > i)
            prev = last_cp(l->text, l->len);
    }
    psg_block *bl = new_block(b);
    bl->srclen = src.len;
    bl->src = src.data ? ps_buf_steal(&src) : ps_xstrdup("");
    ps_buf out;
    ps_buf_init(&out);
    char err[PS_ERRLEN];
    if (norm_text_map(bl->src, bl->srclen, &out, &bl->from, &bl->to, err) < 0) {
        /* valid UTF-8 in, so this cannot fail; keep the block empty */
        out.len = 0;
    }
    bl->map.n = n;
    bl->map.off = ps_xmalloc(n * sizeof(size_t));
    bl->map.line = ps_xmalloc(n * sizeof(int));
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        while (o < out.len && bl->from[o] < marks[k])
            o++;
        bl->map.off[k] = o;
        bl->map.line[k] = lines[idx[k]].lineno;
    }
    bl->page = lines[idx[0]].page;
    free(marks);
    bl->len = out.len;
    bl->text = out.data ? ps_buf_steal(&out) : ps_xstrdup("");
    bl->md = md;
    if (md)
        bl->kind = PSG_HEADING;
    else if (bl->len == 0 || is_noise(bl->text, bl->len))
        bl->kind = PSG_NOISE;
    else if (looks_like_heading(bl->text, bl->len) &&
             !ps_table_row(bl->text, bl->len))
        bl->kind = PSG_HEADING;
    else
        bl->kind = PSG_TEXT;
}

#define WRAP_SLACK 6      /* columns a wrapped line may fall short by */
#define WRAP_MAX 120      /* wider than this is not a column */

/* How lines are wrapped: at about `cols` display columns (newspapers) or
 * at exactly `chars` characters (some converters), or not at all. */
typedef struct wrapinfo {
    size_t cols, chars;
} wrapinfo;

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The value most of v[0..n) lie near (within -slack..+1), or 0 when fewer
 * than 60% do. */
static size_t common_width(size_t *v, size_t n, size_t slack)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(size_t), cmp_size);
    /* Sorted, the values within -slack..+1 of v[i] are a window [lo, hi)
     * that only moves right: linear after the sort. */
    size_t best = 0, bestcount = 0, lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        while (v[lo] + slack < v[i])
            lo++;
        if (hi < i)
            hi = i;
        while (hi < n && v[hi] <= v[i] + 1)
            hi++;
        size_t c = hi - lo;
        if (c > bestcount || (c == bestcount && v[i] > best)) {
            bestcount = c;
            best = v[i];
        }
    }
    return bestcount * 10 >= n * 6 && best >= 8 && best <= WRAP_MAX ? best : 0;
}

/* Wrap of lines[from..to) judged by its non-last lines. */
static wrapinfo measure_wrap(const srcline *lines, size_t from, size_t to,
                             int skip_last)
{
    wrapinfo wi = {0, 0};
    size_t n = 0, *c = ps_xmalloc((to - from + 1) * sizeof(size_t)),
           *w = ps_xmalloc((to - from + 1) * sizeof(size_t));
    for (size_t k = from; k < to - (skip_last ? 1 : 0); k++) {
        if (lines[k].blank || lines[k].cols < 16)
            continue;
        c[n] = lines[k].chars;
        w[n] = lines[k].cols;
        n++;
    }
    if (n >= 2) {
        wi.cols = common_width(w, n, WRAP_SLACK);
        wi.chars = common_width(c, n, 1);
    }
    free(c);
    free(w);
    return wi;
}

static int is_full(const srcline *l, wrapinfo wi)
{
    return (wi.cols && l->cols + WRAP_SLACK >= wi.cols &&
            l->cols <= wi.cols + WRAP_SLACK) ||
           (wi.chars && l->chars + 1 >= wi.chars && l->chars <= wi.chars + 1);
}

static int ends_sentence(const srcline *l)
{
    uint32_t c = last_cp(l->text, l->len);
    return is_sentence_end(c) || c == 0x201D || c == '"' || c == 0x300D ||
           c == 0x300F || c == ':' || c == 0xFF1A;
}

/* A comma, or an enumeration comma past a heading's "一、", inside l. */
static int has_inner_comma(const srcline *l)
{
    size_t i = 0, n = 0;
    while (i < l->len) {
        uint32_t c = ps_utf8_next(l->text, l->len, &i);
        n++;
        if (c == ',' || c == ';' || (c == 0x3001 && n > 3))
            return 1;
    }
    return 0;
}

/* A line starting with a comma or closing mark continues a sentence. */
static int starts_mid_sentence(const srcline *l)
{
    size_t i = 0;
    while (i < l->len) {
        uint32_t c = ps_utf8_next(l->text, l->len, &i);
        if (ps_is_space(c))
            continue;
        return c == ',' || c == 0x3001 || c == 0x3002 || c == ';' ||
               c == ':' || c == ')' || c == 0x300B || c == 0x300D ||
               c == 0x300F || c == 0x201D || c == '!' || c == '?' ||
               c == '.' || c == '%';
    }
    return 0;
}

static int cn_numeral(uint32_t c)
{
    return c == 0x4E00 || c == 0x4E8C || c == 0x4E09 || c == 0x56DB ||
           c == 0x4E94 || c == 0x516D || c == 0x4E03 || c == 0x516B ||
           c == 0x4E5D || c == 0x5341 || c == 0x96F6 || c == 0x3007;
}

/* Text that opens a numbered section: "四、", "(二)", "第三章". */
static int starts_section(const char *t, size_t len)
{
    size_t i = 0, n = 0;
    uint32_t c = 0;
    while (i < len && ps_is_space(c = ps_utf8_next(t, len, &i)))
        ;
    uint32_t open = c;
    if (open == '(' || open == 0x7B2C)      /* ( 第 */
        c = i < len ? ps_utf8_next(t, len, &i) : 0;
    while (cn_numeral(c) && n < 4) {
        n++;
        c = i < len ? ps_utf8_next(t, len, &i) : 0;
    }
    if (!n)
        return 0;
    if (open == '(')
        return c == ')';
    if (open == 0x7B2C)
        return c == 0x7AE0 || c == 0x8282 || c == 0x6761;  /* 章 节 条 */
    return c == 0x3001;                                     /* 、 */
}

/* Groups lines into paragraphs (see the file comment). */
static void build_paragraphs(builder *b, srcline *lines, size_t nlines)
{
    wrapinfo docw = measure_wrap(lines, 0, nlines, 0);
    size_t *para = ps_xmalloc((nlines + 1) * sizeof(size_t));
    size_t np = 0;
    size_t k = 0;
    while (k < nlines) {
        if (lines[k].blank) {
            k++;
            continue;
        }
        size_t to = k;
        while (to < nlines && !lines[to].blank)
            to++;
        wrapinfo w = to - k >= 3 ? measure_wrap(lines, k, to, 1) : docw;
        int wrapped = w.cols || w.chars;
        if (np && (lines[k].indent || lines[k].md_heading || !wrapped)) {
            emit_paragraph(b, lines, para, np, 0);
            np = 0;
        }
        for (size_t i = k; i < to; i++) {
            srcline *l = &lines[i];
            if (l->md_heading) {
                emit_paragraph(b, lines, para, np, 0);
                np = 0;
                emit_paragraph(b, lines, &i, 1, 1);
                continue;
            }
            if (np && l->indent && i > k) {
                emit_paragraph(b, lines, para, np, 0);
                np = 0;
            }
            para[np++] = i;
            int full = wrapped && is_full(l, w);
            /* Mid-sentence and most of a line wide: wrapped, even if a few
             * half-width digits made it shorter than the rest. */
            int open = wrapped && !ends_sentence(l) &&
                       ((w.cols && l->cols * 4 >= w.cols * 3) ||
                        (w.chars && l->chars * 4 >= w.chars * 3));
            /* Unwrapped text: a line that stops mid-sentence after a comma
             * (or is too long for a heading) goes on in the next line. */
            int frag = !ends_sentence(l) && (l->chars > 32 || has_inner_comma(l));
            int end;
            if (i + 1 == to)
                /* A full line cut off by a blank line, mid-sentence, is a
                 * column or page break: the paragraph goes on. */
                end = !((full || frag) && !ends_sentence(l));
            else
                /* A numbered section after a sentence's end or a table's
                 * row starts a paragraph: a row, wide with its spaces, is
                 * not wrapped into the heading after it.  (Mid-sentence,
                 * "依照本条例\n第三十二条规定" goes on.) */
                end = !(full || open || frag || starts_mid_sentence(&lines[i + 1])) ||
                      (starts_section(lines[i + 1].text, lines[i + 1].len) &&
                       (ends_sentence(l) || ps_table_row(l->text, l->len)));
            if (end) {
                emit_paragraph(b, lines, para, np, 0);
                np = 0;
            }
        }
        k = to;
    }
    emit_paragraph(b, lines, para, np, 0);
    free(para);
}

/* Cuts point for a long text: the last sentence end before max chars,
 * else the last comma, else max chars.  Returns a byte length. */
static size_t cut_point(const char *s, size_t n, size_t max_chars)
{
    size_t i = 0, chars = 0, last_sent = 0, last_comma = 0, at_max = n;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        chars++;
        if (is_sentence_end(cp) && cp != '.')
            last_sent = i;
        else if (cp == 0xFF0C || cp == ',' || cp == 0x3001)
            last_comma = i;
        if (chars == max_chars) {
            at_max = i;
            if (last_sent)
                return last_sent;
        }
        if (chars >= PSG_HARD_CHARS) {
            if (last_sent)
                return last_sent;
            return last_comma ? last_comma : i;
        }
    }
    (void)at_max;
    return n;
}

static void add_passage(psg_doc *d, size_t *cap, size_t block, size_t start,
                        size_t len, const psg_block *heading)
{
    if (d->npassages == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        d->passages = ps_xrealloc(d->passages, *cap * sizeof *d->passages);
    }
    const psg_block *bl = &d->blocks[block];
    psg_passage *p = &d->passages[d->npassages];
    p->ordinal = (int)d->npassages;
    p->kind = bl->is_title                ? PSG_K_TITLE
              : bl->kind == PSG_HEADING   ? PSG_K_HEADING
              : bl->table                 ? PSG_K_TABLE
                                          : PSG_K_TEXT;
    p->page = bl->page;
    p->heading = heading ? heading->text : NULL;
    p->block = block;
    p->start = start;
    p->len = len;
    p->text = ps_xstrndup(bl->text + start, len);
    /* The source characters of text[start..start+len), trimmed. */
    size_t a = len ? bl->from[start] : 0, e = len ? bl->to[start + len - 1] : 0;
    while (a < e && (bl->src[a] == ' ' || bl->src[a] == '\t'))
        a++;
    while (e > a && (bl->src[e - 1] == ' ' || bl->src[e - 1] == '\t'))
        e--;
    p->src = ps_xstrndup(bl->src + a, e - a);
    p->heading_src = heading ? heading->src : NULL;
    d->npassages++;
}

/* Every block with text becomes one passage or more: a heading is a
 * passage of its own and names the section of the passages after it. */
static void make_passages(psg_doc *d)
{
    size_t cap = 0;
    const psg_block *heading = NULL;
    for (size_t bi = 0; bi < d->nblocks; bi++) {
        psg_block *bl = &d->blocks[bi];
        if (bl->len == 0)
            continue;
        if (bl->kind == PSG_HEADING) {
            add_passage(d, &cap, bi, 0, bl->len, NULL);
            if (!bl->is_title)
                heading = bl;
            continue;
        }
        size_t pos = 0;
        size_t rest = ps_utf8_count(bl->text, bl->len);
        while (pos < bl->len) {
            size_t take = bl->len - pos;
            if (rest > PSG_MAX_CHARS) {
                /* Aim for even pieces rather than a long one and a stub. */
                size_t pieces = (rest + PSG_MAX_CHARS - 1) / PSG_MAX_CHARS;
                size_t target = rest / pieces + 20;
                if (target > PSG_MAX_CHARS)
                    target = PSG_MAX_CHARS;
                take = cut_point(bl->text + pos, bl->len - pos, target);
            }
            add_passage(d, &cap, bi, pos, take, heading);
            rest -= ps_utf8_count(bl->text + pos, take);
            pos += take;
        }
    }
}

static void set_title(psg_doc *d, psg_block *bl)
{
    bl->is_title = 1;
    bl->kind = PSG_HEADING;
    d->title = ps_xstrdup(bl->text);
    d->title_src = ps_xstrdup(bl->src);
}

static void pick_title(psg_doc *d, const char *fallback)
{
    /* The format's own title block. */
    for (size_t bi = 0; bi < d->nblocks; bi++) {
        if (d->blocks[bi].forced && d->blocks[bi].is_title && d->blocks[bi].len) {
            d->blocks[bi].is_title = 0;
            set_title(d, &d->blocks[bi]);
            return;
        }
    }
    for (size_t bi = 0; bi < d->nblocks && bi < 12; bi++) {
        if (d->blocks[bi].md) {
            set_title(d, &d->blocks[bi]);
            return;
        }
    }
    /* Else a heading-like line at the very top (not a section heading
     * further down, which would misname a continuation page). */
    for (size_t bi = 0; bi < d->nblocks && bi < 3; bi++) {
        if (d->blocks[bi].kind == PSG_HEADING && !d->blocks[bi].forced &&
            ps_utf8_count(d->blocks[bi].text, d->blocks[bi].len) >= 4 &&
            !starts_section(d->blocks[bi].text, d->blocks[bi].len)) {
            set_title(d, &d->blocks[bi]);
            return;
        }
    }
    d->title_src = ps_xstrdup(fallback ? fallback : "");
    ps_buf t;
    ps_buf_init(&t);
    char err[PS_ERRLEN];
    if (norm_query(d->title_src, strlen(d->title_src), &t, err) < 0)
        ps_buf_add(&t, "", 0);
    d->title = ps_buf_steal(&t);
}

/* Splits text[0..len) into folded lines appended to *lines.  In paged
 * text a form feed ends a line and starts the next page (pdftotext's
 * convention); elsewhere it is blank space. */
static int split_lines(const char *utf8, size_t len, int paged,
                       srcline **lines, size_t *nlines, size_t *cap,
                       int *lineno, char *err)
{
    size_t pos = 0;
    int page = paged ? 1 : 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && utf8[end] != '\n' && !(paged && utf8[end] == '\f'))
            end++;
        int feed = end < len && utf8[end] == '\f';
        size_t l = end - pos;
        if (l && utf8[pos + l - 1] == '\r')
            l--;
        (*lineno)++;
        if (*nlines == *cap) {
            *cap = *cap ? 2 * *cap : 256;
            *lines = ps_xrealloc(*lines, *cap * sizeof **lines);
        }
        ps_buf f;
        ps_buf_init(&f);
        if (norm_fold(utf8 + pos, l, &f, err) < 0) {
            ps_buf_free(&f);
            return -1;
        }
        srcline *ln = &(*lines)[(*nlines)++];
        ln->len = f.len;
        ln->text = f.data ? f.data : ps_xstrdup("");
        ln->raw = ps_xstrndup(utf8 + pos, l);
        ln->rawlen = l;
        for (size_t i = 0; i < ln->rawlen; i++)
            if (ln->raw[i] == '\f')
                ln->raw[i] = ' ';
        for (size_t i = 0; i < ln->len; i++)
            if (ln->text[i] == '\f')
                ln->text[i] = ' ';
        ln->lineno = *lineno;
        ln->page = page;
        measure(ln);   /* widths as laid out, before markers go */
        /* Markdown emphasis markers are layout, not text. */
        size_t o = 0;
        for (size_t i = 0; i < ln->len; i++) {
            if (ln->text[i] == '*' && i + 1 < ln->len && ln->text[i + 1] == '*') {
                i++;
                continue;
            }
            ln->text[o++] = ln->text[i];
        }
        ln->len = o;
        ln->text[o] = '\0';
        o = 0;
        for (size_t i = 0; i < ln->rawlen; i++) {
            if (ln->raw[i] == '*' && i + 1 < ln->rawlen && ln->raw[i + 1] == '*') {
                i++;
                continue;
            }
            ln->raw[o++] = ln->raw[i];
        }
        ln->rawlen = o;
        ln->raw[o] = '\0';
        pos = end + 1;
        if (feed)
            page++;
    }
    return 0;
}

psg_doc *psg_parse_input(const psg_input *in, size_t n,
                         const char *fallback_title, char *err)
{
    psg_doc *d = ps_xcalloc(1, sizeof *d);
    builder b = {d, 0};
    srcline *lines = NULL;
    size_t nlines = 0, cap = 0, *idx = NULL, capidx = 0;
    int lineno = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        nlines = 0;
        rc = split_lines(in[i].text, in[i].len,
                         in[i].kind == PSG_IN_LINES && in[i].paged, &lines,
                         &nlines, &cap, &lineno, err);
        if (rc == 0 && in[i].kind == PSG_IN_LINES) {
            build_paragraphs(&b, lines, nlines);
        } else if (rc == 0) {
            /* One block, of the kind the format gives. */
            size_t m = 0;
            if (nlines > capidx) {
                capidx = nlines;
                idx = ps_xrealloc(idx, capidx * sizeof *idx);
            }
            for (size_t k = 0; k < nlines; k++)
                if (!lines[k].blank)
                    idx[m++] = k;
            size_t before = d->nblocks;
            emit_paragraph(&b, lines, idx, m, 0);
            if (d->nblocks > before) {
                psg_block *bl = &d->blocks[before];
                bl->forced = in[i].kind != PSG_IN_PARA;
                if (in[i].kind == PSG_IN_HEADING || in[i].kind == PSG_IN_TITLE)
                    bl->kind = PSG_HEADING;
                else if (in[i].kind == PSG_IN_CELL || in[i].kind == PSG_IN_TEXT ||
                         bl->kind == PSG_NOISE)
                    bl->kind = PSG_TEXT;
                bl->is_title = in[i].kind == PSG_IN_TITLE;
                bl->table = in[i].kind == PSG_IN_CELL;
                /* A block's own page: a slide's number. */
                if (in[i].paged > 0)
                    bl->page = in[i].paged;
            }
        }
        for (size_t k = 0; k < nlines; k++) {
            free(lines[k].text);
            free(lines[k].raw);
        }
    }
    free(lines);
    free(idx);
    if (rc < 0) {
        psg_doc_free(d);
        return NULL;
    }
    pick_title(d, fallback_title);
    make_passages(d);
    return d;
}

psg_doc *psg_parse(const char *utf8, size_t len, const char *fallback_title,
                   char *err)
{
    psg_input in = {PSG_IN_LINES, utf8, len, 0};
    return psg_parse_input(&in, 1, fallback_title, err);
}

void psg_doc_free(psg_doc *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nblocks; i++) {
        free(d->blocks[i].text);
        free(d->blocks[i].src);
        free(d->blocks[i].from);
        free(d->blocks[i].to);
        free(d->blocks[i].map.off);
        free(d->blocks[i].map.line);
    }
    for (size_t i = 0; i < d->npassages; i++) {
        free(d->passages[i].text);
        free(d->passages[i].src);
    }
    free(d->blocks);
    free(d->passages);
    free(d->title);
    free(d->title_src);
    free(d);
}

int psg_line_at(const psg_block *b, size_t off)
{
    int line = b->map.n ? b->map.line[0] : 1;
    for (size_t i = 0; i < b->map.n && b->map.off[i] <= off; i++)
        line = b->map.line[i];
    return line;
}
