/*
 * extract_html.c: the article of a web page, with libxml2's HTML parser.
 *
 * 1. Charset: a BOM, else the charset the page declares (meta charset or
 *    http-equiv), else detected like a text file (UTF-8, else GB18030).
 * 2. Metadata: <title>, <meta name="ArticleTitle|PubDate|ContentSource">
 *    and the key/value table government sites put above the article
 *    (索引号, 发文机关, 发文字号, 成文日期, 发布日期, 主题分类 ...).
 * 3. Boilerplate out: scripts, styles, forms, navigation, headers and
 *    footers by tag, and small or link-heavy elements whose class or id
 *    says navigation, breadcrumb, share bar, footer...
 * 4. The article: every text-bearing element adds its non-link
 *    characters to its parent and half to its grandparent (the usual
 *    content-density score); the best-scoring element is the article.
 * 5. Pieces: the title, the metadata table's pairs, then the article's
 *    headings, paragraphs, list items and table cells in document order.
 */
#include "decode.h"
#include "extract.h"
#include "strset.h"
#include "util.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* libxml2's HTML parser stops building the tree at 256 levels and drops
 * what is deeper; a page that deep is refused rather than read in part. */
#define MAX_DEPTH 250

typedef struct nstat {
    size_t chars;       /* non-space characters of its text */
    size_t links;       /* of them, inside <a> */
    double score;       /* content density, see the file comment */
} nstat;

typedef struct html_ctx {
    ext_doc *d;
    nstat *st;
    size_t nst, capst;
    int too_deep;
    strset *index;      /* element pointer -> its entry in st */
    ps_buf cur;
    psg_in_kind kind;
    const char *title;
} html_ctx;

static int is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->name &&
           strcasecmp((const char *)n->name, name) == 0;
}

static int is_any(const xmlNode *n, const char *const *names)
{
    for (; *names; names++)
        if (is(n, *names))
            return 1;
    return 0;
}

static const char *const dropped_tags[] = {
    "script", "style", "noscript", "iframe", "nav", "footer", "aside",
    "form", "select", "option", "button", "input", "textarea", "svg",
    "object", "embed", "template", "head", "map", "canvas", "video",
    "audio", NULL};

static const char *const block_tags[] = {
    "p", "div", "li", "tr", "table", "tbody", "thead", "blockquote", "pre",
    "section", "article", "ul", "ol", "dl", "dt", "dd", "caption",
    "figcaption", "figure", "header", "main", "center", "address", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "body", "html", "span_block",
    NULL};

static const char *const boiler_words[] = {
    "nav", "menu", "breadcrumb", "crumb", "footer", "share", "copyright",
    "sidebar", "toolbar", "topbar", "friendlink", "location", "position",
    "banner", "search", "login", "header", "bottom", "related", "xgwz",
    "fenxiang", "dqwz", NULL};

static int heading_level(const xmlNode *n)
{
    if (n->type == XML_ELEMENT_NODE && n->name && (n->name[0] == 'h' ||
                                                   n->name[0] == 'H') &&
        n->name[1] >= '1' && n->name[1] <= '6' && !n->name[2])
        return n->name[1] - '0';
    return 0;
}

static size_t visible_chars(const char *s)
{
    size_t n = strlen(s), i = 0, c = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (!ps_is_space(cp) && cp != 0xA0 && cp != 0x3000)
            c++;
    }
    return c;
}

/* Post-order: characters and link characters of every element, kept in
 * ctx->st and found by the element's address (libxml2 itself uses
 * node->_private in places). */
static void count(html_ctx *c, xmlNode *n, int in_link, int depth, nstat *out)
{
    out->chars = out->links = 0;
    out->score = 0;     /* score() adds to it; was stack garbage */
    if (depth > MAX_DEPTH) {
        c->too_deep = 1;
        return;
    }
    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
            size_t v = k->content ? visible_chars((const char *)k->content) : 0;
            out->chars += v;
            if (in_link)
                out->links += v;
        } else if (k->type == XML_ELEMENT_NODE) {
            if (c->nst == c->capst)
                break;      /* sized from the node count: cannot happen */
            size_t idx = c->nst++;
            nstat sub;
            count(c, k, in_link || is(k, "a"), depth + 1, &sub);
            c->st[idx] = sub;
            strset_put(c->index, (const char *)&k, sizeof k, (int)idx);
            out->chars += sub.chars;
            out->links += sub.links;
        }
    }
}

static nstat *stat_of(html_ctx *c, const xmlNode *n)
{
    int idx = strset_get(c->index, (const char *)&n, sizeof n);
    return idx >= 0 ? &c->st[idx] : NULL;
}

static size_t count_nodes(xmlNode *n, int depth)
{
    size_t k = 0;
    if (depth > MAX_DEPTH)
        return 0;
    for (xmlNode *x = n->children; x; x = x->next)
        if (x->type == XML_ELEMENT_NODE)
            k += 1 + count_nodes(x, depth + 1);
    return k;
}

static int boiler_attr(const xmlNode *n)
{
    static const char *const attrs[] = {"class", "id", "role", NULL};
    for (const char *const *a = attrs; *a; a++) {
        xmlChar *v = xmlGetProp(n, (const xmlChar *)*a);
        if (!v)
            continue;
        int hit = 0;
        for (const char *const *w = boiler_words; *w && !hit; w++)
            if (strcasestr((const char *)v, *w))
                hit = 1;
        xmlFree(v);
        if (hit)
            return 1;
    }
    return 0;
}

/* Unlinks what is never article text (see the file comment). */
static void drop_boilerplate(html_ctx *c, xmlNode *n, int depth)
{
    xmlNode *k = n->children;
    while (k) {
        xmlNode *next = k->next;
        if (k->type == XML_COMMENT_NODE || k->type == XML_PI_NODE) {
            xmlUnlinkNode(k);
            xmlFreeNode(k);
        } else if (k->type == XML_ELEMENT_NODE) {
            nstat *s = stat_of(c, k);
            int drop = is_any(k, dropped_tags);
            if (!drop && s && boiler_attr(k) &&
                (s->chars < 300 || s->links * 2 > s->chars))
                drop = 1;
            if (drop) {
                xmlUnlinkNode(k);
                xmlFreeNode(k);
            } else if (depth < MAX_DEPTH) {
                drop_boilerplate(c, k, depth + 1);
            }
        }
        k = next;
    }
}

/* Scores: each element with its own text adds it to parent and half to
 * the grandparent; returns the best-scoring element in *best. */
static void score(html_ctx *c, xmlNode *n, int depth, xmlNode **best,
                  double *bestscore)
{
    if (depth > MAX_DEPTH)
        return;
    size_t own = 0;
    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE && k->content)
            own += visible_chars((const char *)k->content);
        else if (k->type == XML_ELEMENT_NODE)
            score(c, k, depth + 1, best, bestscore);
    }
    nstat *s = stat_of(c, n);
    if (!s || own == 0 || is(n, "a"))
        return;
    double v = (double)own;
    xmlNode *p = n->parent;
    for (int up = 0; up < 2 && p && p->type == XML_ELEMENT_NODE; up++) {
        nstat *ps = stat_of(c, p);
        if (ps) {
            ps->score += up ? v / 2 : v;
            double dens = ps->chars ? 1.0 - (double)ps->links / (double)ps->chars : 0;
            if (ps->score * dens > *bestscore) {
                *bestscore = ps->score * dens;
                *best = p;
            }
        }
        p = p->parent;
    }
}

static void flush(html_ctx *c)
{
    if (c->cur.len)
        ext_add(c->d, c->kind, c->cur.data, c->cur.len, 0);
    c->cur.len = 0;
}

static char *text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = ps_xstrdup(t ? (const char *)t : "");
    xmlFree(t);
    /* trim */
    size_t a = 0, b = strlen(s);
    while (a < b && ((unsigned char)s[a] <= ' '))
        a++;
    while (b > a && ((unsigned char)s[b - 1] <= ' '))
        b--;
    memmove(s, s + a, b - a);
    s[b - a] = '\0';
    return s;
}

static void walk(html_ctx *c, xmlNode *n, psg_in_kind kind, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
            if (k->content)
                ps_buf_adds(&c->cur, (const char *)k->content);
            continue;
        }
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (is(k, "br")) {
            ps_buf_addc(&c->cur, '\n');
            continue;
        }
        if (!is_any(k, block_tags)) {
            walk(c, k, kind, depth + 1);
            continue;
        }
        flush(c);
        psg_in_kind sub = kind;
        int h = heading_level(k);
        if (h) {
            char *t = text_of(k);
            int dup = c->title && strcmp(t, c->title) == 0;
            free(t);
            if (dup)
                continue;       /* the title, already a piece */
            sub = PSG_IN_HEADING;
        } else if (is(k, "td") || is(k, "th")) {
            sub = PSG_IN_CELL;
        } else if (kind != PSG_IN_CELL && kind != PSG_IN_HEADING) {
            sub = PSG_IN_PARA;
        }
        psg_in_kind saved = c->kind;
        c->kind = sub;
        walk(c, k, sub, depth + 1);
        flush(c);
        c->kind = saved;
    }
}

static const char *const meta_keys[] = {
    "索引号", "主题分类", "发文机关", "发布机构", "成文日期", "发文字号",
    "发布日期", "标题", "名称", "主题词", "有效性", "文号", "发布时间",
    "信息来源", "来源", NULL};

/* The key of a label cell ("发文机关：" or "发文机关"), or NULL; *rest
 * points past the colon when the value follows in the same cell. */
static const char *label_key(const char *t, const char **rest)
{
    for (const char *const *k = meta_keys; *k; k++) {
        size_t kl = strlen(*k);
        if (strncmp(t, *k, kl) != 0)
            continue;
        const char *p = t + kl;
        while (*p == ' ' || (unsigned char)*p == 0xC2)
            p++;
        if (strncmp(p, "：", 3) == 0)
            p += 3;
        else if (*p == ':')
            p++;
        else if (*p)
            continue;
        while (*p == ' ')
            p++;
        *rest = p;
        return *k;
    }
    return NULL;
}

static void meta_table(html_ctx *c, xmlNode *n, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        nstat *s = stat_of(c, k);
        if (s && s->chars > 0 && s->chars <= 120 &&
            (is(k, "td") || is(k, "th") || is(k, "span") || is(k, "li") ||
             is(k, "div") || is(k, "p") || is(k, "b") || is(k, "strong") ||
             is(k, "dt") || is(k, "label"))) {
            char *t = text_of(k);
            const char *rest, *key = label_key(t, &rest);
            if (key && *rest) {
                ext_add_meta(c->d, key, rest);
            } else if (key) {
                xmlNode *v = k->next;
                while (v && v->type != XML_ELEMENT_NODE)
                    v = v->next;
                if (v) {
                    char *val = text_of(v);
                    const char *r2;
                    if (*val && !label_key(val, &r2) && strlen(val) < 600)
                        ext_add_meta(c->d, key, val);
                    free(val);
                }
            }
            free(t);
            if (key)
                continue;
        }
        meta_table(c, k, depth + 1);
    }
}

/* Charset of the page: declared in its first bytes, or NULL. */
static int declared_charset(const char *s, size_t n, char *out, size_t outlen)
{
    size_t lim = n < 4096 ? n : 4096;
    for (size_t i = 0; i + 8 < lim; i++) {
        if (strncasecmp(s + i, "charset=", 8) != 0)
            continue;
        size_t j = i + 8, k = 0;
        while (j < lim && (s[j] == '"' || s[j] == '\'' || s[j] == ' '))
            j++;
        while (j < lim && k + 1 < outlen &&
               (ps_is_alnum((unsigned char)s[j]) || s[j] == '-' || s[j] == '_'))
            out[k++] = s[j++];
        out[k] = '\0';
        return k > 0;
    }
    return 0;
}

static char *clean_title(const char *t)
{
    /* "标题_网站名" / "标题 - 网站名" / "标题|网站名": the first part. */
    char *s = ps_xstrdup(t);
    static const char *const seps[] = {"_", " - ", "|", "——", " -- ", NULL};
    for (const char *const *sep = seps; *sep; sep++) {
        char *p = strstr(s, *sep);
        if (p && p - s >= 6)
            *p = '\0';
    }
    size_t b = strlen(s);
    while (b && (unsigned char)s[b - 1] <= ' ')
        s[--b] = '\0';
    return s;
}

ext_status ext_html(const char *data, size_t len, ext_doc **out, char *err)
{
    if (len > EXT_MAX_MARKUP) {
        snprintf(err, PS_ERRLEN, "web page too large (%zu MB; the limit is %u MB)",
                 len >> 20, EXT_MAX_MARKUP >> 20);
        return EXT_FAILED;
    }
    char *utf8 = NULL, cs[40];
    size_t n = 0;
    const char *enc;
    int bom = len >= 2 && ((unsigned char)data[0] == 0xEF ||
                           (unsigned char)data[0] == 0xFF ||
                           (unsigned char)data[0] == 0xFE);
    if (bom || !declared_charset(data, len, cs, sizeof cs) ||
        dec_named(data, len, cs, &utf8, &n, err) < 0) {
        if (dec_to_utf8(data, len, &utf8, &n, &enc, err) < 0)
            return EXT_FAILED;
    }
    htmlDocPtr doc = htmlReadMemory(utf8, (int)n, NULL, "UTF-8",
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                                        HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                        HTML_PARSE_IGNORE_ENC);
    free(utf8);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        if (doc)
            xmlFreeDoc(doc);
        snprintf(err, PS_ERRLEN, "not a readable web page");
        return EXT_FAILED;
    }
    ext_doc *d = ext_doc_new("html");
    html_ctx c = {0};
    c.d = d;
    ps_buf_init(&c.cur);
    /* a pseudo root holds the document element, so it is counted too */
    xmlNode holder = {0};
    holder.type = XML_ELEMENT_NODE;
    holder.children = root;
    c.capst = count_nodes(&holder, 0) + 1;
    c.st = ps_xcalloc(c.capst, sizeof(nstat));
    c.index = strset_create();
    nstat all;
    count(&c, &holder, 0, 0, &all);
    if (c.too_deep) {
        free(c.st);
        strset_destroy(c.index);
        xmlFreeDoc(doc);
        ext_doc_free(d);
        snprintf(err, PS_ERRLEN, "web page nested more than %d elements deep; "
                 "not read", MAX_DEPTH);
        return EXT_FAILED;
    }

    /* Metadata, from the whole page. */
    char *title = NULL;
    for (xmlNode *h = root->children; h; h = h->next) {
        if (!is(h, "head"))
            continue;
        for (xmlNode *m = h->children; m; m = m->next) {
            if (is(m, "title") && !title) {
                char *t = text_of(m);
                ext_add_meta(d, "html-title", t);
                free(t);
            }
            if (!is(m, "meta"))
                continue;
            xmlChar *name = xmlGetProp(m, (const xmlChar *)"name");
            xmlChar *content = xmlGetProp(m, (const xmlChar *)"content");
            if (name && content) {
                static const char *const keep[] = {"ArticleTitle", "PubDate",
                                                   "ContentSource", "ColumnName",
                                                   "Keywords", NULL};
                for (const char *const *k = keep; *k; k++)
                    if (strcasecmp((const char *)name, *k) == 0)
                        ext_add_meta(d, *k, (const char *)content);
            }
            xmlFree(name);
            xmlFree(content);
        }
    }
    meta_table(&c, root, 0);
    const char *at = ext_meta_get(d, "ArticleTitle");
    if (!at)
        at = ext_meta_get(d, "标题");
    if (at)
        title = ps_xstrdup(at);

    drop_boilerplate(&c, root, 1);
    xmlNode *best = NULL;
    double bestscore = 0;
    score(&c, &holder, 0, &best, &bestscore);
    if (!best)
        best = root;
    if (!title) {
        /* The first h1 (else h2) of the page with some length. */
        for (int lvl = 1; lvl <= 2 && !title; lvl++) {
            xmlNode *stack[MAX_DEPTH + 2];
            int sp = 0;
            stack[sp++] = root;
            while (sp && !title) {
                xmlNode *x = stack[--sp];
                if (heading_level(x) == lvl) {
                    char *t = text_of(x);
                    if (visible_chars(t) >= 4)
                        title = t;
                    else
                        free(t);
                    continue;
                }
                /* children in reverse so the first is visited first */
                xmlNode *last = x->children;
                while (last && last->next)
                    last = last->next;
                for (xmlNode *k = last; k && sp < MAX_DEPTH; k = k->prev)
                    if (k->type == XML_ELEMENT_NODE)
                        stack[sp++] = k;
            }
        }
    }
    if (!title && ext_meta_get(d, "html-title"))
        title = clean_title(ext_meta_get(d, "html-title"));
    if (title && *title) {
        d->title = ps_xstrdup(title);
        ext_add(d, PSG_IN_TITLE, title, strlen(title), 0);
        c.title = d->title;
    }
    /* The metadata table's pairs are text of the page too. */
    for (size_t i = 0; i < d->nmeta; i++) {
        if (!(d->meta[i].key[0] & 0x80))
            continue;       /* the <meta> tags: not shown on the page */
        ps_buf b;
        ps_buf_init(&b);
        ps_buf_printf(&b, "%s：%s", d->meta[i].key, d->meta[i].value);
        ext_add(d, PSG_IN_CELL, b.data, b.len, 0);
        ps_buf_free(&b);
    }
    c.kind = PSG_IN_PARA;
    walk(&c, best, PSG_IN_PARA, 0);
    flush(&c);
    free(title);
    ps_buf_free(&c.cur);
    free(c.st);
    strset_destroy(c.index);
    holder.children = NULL;
    xmlFreeDoc(doc);
    *out = d;
    return EXT_OK;
}
