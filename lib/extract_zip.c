/*
 * extract_zip.c: the zip-based formats, with libarchive and libxml2.
 *
 * DOCX (and WPS files saved as OOXML): word/document.xml paragraph by
 * paragraph, runs joined (Word splits words across runs), headings from
 * the paragraph styles (styles.xml: "heading N", "Title", an outline
 * level), tables cell by cell, text boxes, then footnotes and endnotes.
 *
 * XLSX (and WPS spreadsheets saved as OOXML): each sheet's name, then its
 * rows, a passage each, cells joined by " | " (shared strings, inline
 * strings, numbers as stored).
 *
 * OFD (GB/T 33190-2016): OFD.xml names the document root and its
 * DocInfo title; Document.xml lists the pages; each page's TextObjects
 * are placed by position, read top to bottom and left to right, grouped
 * into lines; pages are separated by form feeds so the passage layer
 * rejoins wrapped lines and knows each passage's page.
 *
 * Limits: members of at most EXT_MAX_MARKUP bytes inflated and
 * EXT_MAX_INFLATED in all (zip bombs); XML is parsed without network,
 * DTD loading or entity substitution (entity expansion attacks).
 */
#include "extract.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 256

typedef struct member {
    char *name;
    char *data;
    size_t len;
} member;

typedef struct zipfile {
    member *m;
    size_t n;
} zipfile;

static void zip_free(zipfile *z)
{
    for (size_t i = 0; i < z->n; i++) {
        free(z->m[i].name);
        free(z->m[i].data);
    }
    free(z->m);
}

/* Reads the XML members of the archive (and their names). */
static int zip_read(const char *data, size_t len, zipfile *z, char *err)
{
    memset(z, 0, sizeof *z);
    struct archive *a = archive_read_new();
    archive_read_support_format_zip(a);
    if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
        snprintf(err, PS_ERRLEN, "not a readable zip file: %s",
                 archive_error_string(a) ? archive_error_string(a) : "?");
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *e;
    size_t total = 0;
    int rc = 0, r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        size_t nl = name ? strlen(name) : 0;
        if (!((nl >= 4 && strcasecmp(name + nl - 4, ".xml") == 0) ||
              (nl >= 5 && strcasecmp(name + nl - 5, ".rels") == 0)))
            continue;
        ps_buf b;
        ps_buf_init(&b);
        char chunk[65536];
        la_ssize_t got;
        while ((got = archive_read_data(a, chunk, sizeof chunk)) > 0) {
            total += (size_t)got;
            if (b.len + (size_t)got > EXT_MAX_MARKUP || total > EXT_MAX_INFLATED) {
                snprintf(err, PS_ERRLEN, "zip member %.200s inflates beyond %u MB "
                         "(a zip bomb?)", name, (b.len + (size_t)got >
                         EXT_MAX_MARKUP ? EXT_MAX_MARKUP : EXT_MAX_INFLATED) >> 20);
                rc = -1;
                break;
            }
            ps_buf_add(&b, chunk, (size_t)got);
        }
        if (got < 0 && rc == 0) {
            snprintf(err, PS_ERRLEN, "zip member %.200s: %s", name,
                     archive_error_string(a) ? archive_error_string(a) : "corrupt");
            rc = -1;
        }
        if (rc < 0) {
            ps_buf_free(&b);
            break;
        }
        z->m = ps_xrealloc(z->m, (z->n + 1) * sizeof(member));
        z->m[z->n].name = ps_xstrdup(name[0] == '/' ? name + 1 : name);
        z->m[z->n].len = b.len;
        z->m[z->n].data = b.data ? ps_buf_steal(&b) : ps_xstrdup("");
        z->n++;
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        snprintf(err, PS_ERRLEN, "corrupt zip file: %s",
                 archive_error_string(a) ? archive_error_string(a) : "?");
        rc = -1;
    }
    archive_read_free(a);
    if (rc < 0)
        zip_free(z);
    return rc;
}

static const member *zip_get(const zipfile *z, const char *name)
{
    if (name[0] == '/')
        name++;
    for (size_t i = 0; i < z->n; i++)
        if (strcasecmp(z->m[i].name, name) == 0)
            return &z->m[i];
    return NULL;
}

static xmlDocPtr parse_xml(const member *m)
{
    if (!m || m->len > (size_t)0x7fffffff)
        return NULL;
    return xmlReadMemory(m->data, (int)m->len, m->name, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR |
                             XML_PARSE_NOWARNING);
}

static int named(const xmlNode *n, const char *local)
{
    return n && n->type == XML_ELEMENT_NODE && n->name &&
           strcmp((const char *)n->name, local) == 0;
}

static xmlNode *child(const xmlNode *n, const char *local)
{
    for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
        if (named(k, local))
            return k;
    return NULL;
}

/* Appends the text content of n to b. */
static void add_content(const xmlNode *n, ps_buf *b)
{
    xmlChar *t = xmlNodeGetContent(n);
    if (t)
        ps_buf_adds(b, (const char *)t);
    xmlFree(t);
}

static char *prop(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = v ? ps_xstrdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

/* docProps/core.xml's title, author and creation date as prefix-title,
 * prefix-creator, prefix-created (DOCX, PPTX). */
static void core_props(const zipfile *z, ext_doc *d, const char *prefix)
{
    xmlDocPtr core = parse_xml(zip_get(z, "docProps/core.xml"));
    xmlNode *cr = core ? xmlDocGetRootElement(core) : NULL;
    for (xmlNode *k = cr ? cr->children : NULL; k; k = k->next) {
        const char *what = named(k, "title")     ? "title"
                           : named(k, "creator") ? "creator"
                           : named(k, "created") ? "created"
                                                 : NULL;
        xmlChar *t = what ? xmlNodeGetContent(k) : NULL;
        if (t) {
            char key[32];
            snprintf(key, sizeof key, "%s-%s", prefix, what);
            ext_add_meta(d, key, (const char *)t);
        }
        xmlFree(t);
    }
    if (core)
        xmlFreeDoc(core);
}

/* A slide's title (PPTX, ODP): a heading, the first slide's the
 * document's title. */
static void slide_title(ext_doc *d, const ps_buf *b, int slide)
{
    int first = slide == 1 && !d->title && b->len;
    ext_add(d, first ? PSG_IN_TITLE : PSG_IN_HEADING, b->data ? b->data : "",
            b->len, slide);
    if (first)
        d->title = ps_xstrndup(b->data, b->len);
}

/* ---- DOCX ---- */

typedef struct style {
    char *id;
    int heading;        /* 1: heading, 2: title */
} style;

typedef struct docx {
    ext_doc *d;
    style *st;
    size_t nst;
    xmlNode **boxes;    /* text boxes met inside paragraphs */
    size_t nboxes;
} docx;

static void load_styles(docx *x, const member *m)
{
    xmlDocPtr doc = parse_xml(m);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    for (xmlNode *s = root ? root->children : NULL; s; s = s->next) {
        if (!named(s, "style"))
            continue;
        char *id = prop(s, "styleId");
        xmlNode *nm = child(s, "name");
        char *name = nm ? prop(nm, "val") : NULL;
        int h = 0;
        if (name && (strcasecmp(name, "Title") == 0 || strcmp(name, "标题") == 0))
            h = 2;
        else if (name && (strncasecmp(name, "heading", 7) == 0 ||
                          strncmp(name, "标题 ", 7) == 0))
            h = 1;
        else if (child(child(s, "pPr"), "outlineLvl"))
            h = 1;
        if (id && h) {
            x->st = ps_xrealloc(x->st, (x->nst + 1) * sizeof(style));
            x->st[x->nst].id = id;
            x->st[x->nst].heading = h;
            x->nst++;
            id = NULL;
        }
        free(id);
        free(name);
    }
    if (doc)
        xmlFreeDoc(doc);
}

/* The text of a paragraph's runs; text boxes are set aside. */
static void runs_text(docx *x, xmlNode *n, ps_buf *b, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (named(k, "t")) {
            add_content(k, b);
        } else if (named(k, "tab")) {
            ps_buf_addc(b, '\t');
        } else if (named(k, "br") || named(k, "cr")) {
            ps_buf_addc(b, '\n');
        } else if (named(k, "noBreakHyphen")) {
            ps_buf_addc(b, '-');
        } else if (named(k, "txbxContent")) {
            x->boxes = ps_xrealloc(x->boxes, (x->nboxes + 1) * sizeof(xmlNode *));
            x->boxes[x->nboxes++] = k;
        } else if (named(k, "delText") || named(k, "instrText") ||
                   named(k, "pPr") || named(k, "rPr") || named(k, "fallback") ||
                   named(k, "Fallback")) {
            continue;       /* deleted text, field codes, properties */
        } else {
            runs_text(x, k, b, depth + 1);
        }
    }
}

static int para_style(const docx *x, xmlNode *p)
{
    xmlNode *ppr = child(p, "pPr");
    if (child(ppr, "outlineLvl"))
        return 1;
    xmlNode *ps = child(ppr, "pStyle");
    char *id = ps ? prop(ps, "val") : NULL;
    int h = 0;
    for (size_t i = 0; id && i < x->nst; i++)
        if (strcmp(x->st[i].id, id) == 0)
            h = x->st[i].heading;
    free(id);
    return h;
}

static void body(docx *x, xmlNode *n, ps_buf *cell, int depth);

static void paragraph(docx *x, xmlNode *p, ps_buf *cell)
{
    ps_buf b;
    ps_buf_init(&b);
    runs_text(x, p, &b, 0);
    if (cell) {
        if (cell->len)
            ps_buf_addc(cell, '\n');
        ps_buf_add(cell, b.data ? b.data : "", b.len);
    } else if (b.len) {
        int h = para_style(x, p);
        ext_add(x->d, h == 2 ? PSG_IN_TITLE : h ? PSG_IN_HEADING : PSG_IN_PARA,
                b.data, b.len, 0);
        if (h == 2 && !x->d->title)
            x->d->title = ps_xstrndup(b.data, b.len);
    }
    ps_buf_free(&b);
}

/* Paragraphs and tables of n in order; inside a table cell (cell set)
 * the text gathers into the cell. */
static void body(docx *x, xmlNode *n, ps_buf *cell, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    for (xmlNode *k = n->children; k; k = k->next) {
        if (named(k, "p")) {
            paragraph(x, k, cell);
        } else if (named(k, "tc") && !cell) {
            ps_buf c;
            ps_buf_init(&c);
            body(x, k, &c, depth + 1);
            if (c.len)
                ext_add(x->d, PSG_IN_CELL, c.data, c.len, 0);
            ps_buf_free(&c);
        } else if (k->type == XML_ELEMENT_NODE && !named(k, "sectPr") &&
                   !named(k, "tblPr") && !named(k, "tblGrid") &&
                   !named(k, "trPr") && !named(k, "tcPr")) {
            body(x, k, cell, depth + 1);     /* tbl, tr, sdt, ins, ... */
        }
    }
}

static void notes(docx *x, const member *m, const char *kind)
{
    xmlDocPtr doc = parse_xml(m);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    for (xmlNode *f = root ? root->children : NULL; f; f = f->next) {
        if (!named(f, kind))
            continue;
        char *type = prop(f, "type");
        if (!type || strcmp(type, "normal") == 0)
            body(x, f, NULL, 1);
        free(type);
    }
    if (doc)
        xmlFreeDoc(doc);
}

static ext_status read_docx(const zipfile *z, const char *format, ext_doc **out,
                            char *err)
{
    xmlDocPtr doc = parse_xml(zip_get(z, "word/document.xml"));
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNode *b = child(root, "body");
    if (!b) {
        if (doc)
            xmlFreeDoc(doc);
        const xmlError *xe = xmlGetLastError();
        char msg[200] = "";
        if (xe && xe->message)
            snprintf(msg, sizeof msg, ": %s", xe->message);
        msg[strcspn(msg, "\n")] = '\0';
        if (!zip_get(z, "word/document.xml"))
            snprintf(err, PS_ERRLEN, "word/document.xml is missing");
        else
            snprintf(err, PS_ERRLEN, "word/document.xml is not well-formed XML%s",
                     msg);
        return EXT_FAILED;
    }
    docx x = {0};
    x.d = ext_doc_new(format);
    load_styles(&x, zip_get(z, "word/styles.xml"));
    body(&x, b, NULL, 0);
    for (size_t i = 0; i < x.nboxes; i++)
        body(&x, x.boxes[i], NULL, 1);
    xmlFreeDoc(doc);
    notes(&x, zip_get(z, "word/footnotes.xml"), "footnote");
    notes(&x, zip_get(z, "word/endnotes.xml"), "endnote");
    core_props(z, x.d, "docx");
    for (size_t i = 0; i < x.nst; i++)
        free(x.st[i].id);
    free(x.st);
    free(x.boxes);
    *out = x.d;
    return EXT_OK;
}

/* ---- XLSX ---- */

/* The text of the <t> elements below n (a shared string's runs, an
 * inline string), phonetic guides (<rPh>) left out. */
static void t_text(const xmlNode *n, ps_buf *b, int depth)
{
    for (xmlNode *k = n ? n->children : NULL; k && depth < MAX_DEPTH; k = k->next) {
        if (k->type != XML_ELEMENT_NODE || named(k, "rPh"))
            continue;
        if (named(k, "t"))
            add_content(k, b);
        else
            t_text(k, b, depth + 1);
    }
}

typedef struct sheet_ref {
    char *name, *target;
} sheet_ref;

/* The workbook's sheets in order, each with the member holding it. */
static size_t xlsx_sheets(const zipfile *z, sheet_ref **out)
{
    *out = NULL;
    size_t n = 0;
    xmlDocPtr wb = parse_xml(zip_get(z, "xl/workbook.xml"));
    xmlDocPtr rels = parse_xml(zip_get(z, "xl/_rels/workbook.xml.rels"));
    xmlNode *sheets = child(wb ? xmlDocGetRootElement(wb) : NULL, "sheets");
    xmlNode *rr = rels ? xmlDocGetRootElement(rels) : NULL;
    for (xmlNode *k = sheets ? sheets->children : NULL; k; k = k->next) {
        if (!named(k, "sheet"))
            continue;
        char *id = prop(k, "id"), *target = NULL;
        for (xmlNode *r = rr ? rr->children : NULL; r && id && !target; r = r->next) {
            char *rid = named(r, "Relationship") ? prop(r, "Id") : NULL;
            if (rid && strcmp(rid, id) == 0) {
                char *t = prop(r, "Target");
                if (t) {
                    target = ps_xmalloc(strlen(t) + 4);
                    if (t[0] == '/')
                        strcpy(target, t + 1);
                    else
                        sprintf(target, "xl/%s", t);
                }
                free(t);
            }
            free(rid);
        }
        free(id);
        if (!target)
            continue;
        *out = ps_xrealloc(*out, (n + 1) * sizeof(sheet_ref));
        (*out)[n].name = prop(k, "name");
        (*out)[n++].target = target;
    }
    if (wb)
        xmlFreeDoc(wb);
    if (rels)
        xmlFreeDoc(rels);
    /* No workbook relations to go by: the worksheets in the archive. */
    size_t listed = n;
    for (size_t j = 0; j < z->n && !listed; j++)
        if (strncasecmp(z->m[j].name, "xl/worksheets/sheet", 19) == 0) {
            *out = ps_xrealloc(*out, (n + 1) * sizeof(sheet_ref));
            (*out)[n].name = NULL;
            (*out)[n++].target = ps_xstrdup(z->m[j].name);
        }
    return n;
}

/* Which cell styles show dates: styles.xml's cellXfs, in order, each
 * 0 (not a date), 1 (a date) or 2 (a date written with 年). */
static size_t date_styles(const zipfile *z, unsigned char **out)
{
    *out = NULL;
    xmlDocPtr st = parse_xml(zip_get(z, "xl/styles.xml"));
    xmlNode *root = st ? xmlDocGetRootElement(st) : NULL;
    /* Custom formats: a date has y or d outside quotes and brackets. */
    int custom[256] = {0};      /* numFmtId - 164 -> kind */
    xmlNode *fmts = child(root, "numFmts");
    for (xmlNode *k = fmts ? fmts->children : NULL; k; k = k->next) {
        char *id = named(k, "numFmt") ? prop(k, "numFmtId") : NULL;
        char *code = id ? prop(k, "formatCode") : NULL;
        long n = id ? strtol(id, NULL, 10) - 164 : -1;
        if (code && n >= 0 && n < 256) {
            int quoted = 0, bracket = 0, date = 0;
            for (const char *c = code; *c; c++) {
                if (*c == '"')
                    quoted = !quoted;
                else if (!quoted && *c == '[')
                    bracket = 1;
                else if (!quoted && *c == ']')
                    bracket = 0;
                else if (!quoted && !bracket && strchr("yYdD", *c))
                    date = 1;
            }
            custom[n] = date ? (strstr(code, "年") ? 2 : 1) : 0;
        }
        free(id);
        free(code);
    }
    size_t n = 0;
    xmlNode *xfs = child(root, "cellXfs");
    for (xmlNode *k = xfs ? xfs->children : NULL; k; k = k->next) {
        if (!named(k, "xf"))
            continue;
        char *id = prop(k, "numFmtId");
        long f = id ? strtol(id, NULL, 10) : 0;
        free(id);
        /* Built in: 14-17, 22 (d/m/y), 27-36 and 50-58 (the CJK ones). */
        int kind = (f >= 14 && f <= 17) || f == 22 ? 1
                   : (f >= 27 && f <= 36) || (f >= 50 && f <= 58) ? 2
                   : f >= 164 && f < 164 + 256 ? custom[f - 164] : 0;
        *out = ps_xrealloc(*out, n + 1);
        (*out)[n++] = (unsigned char)kind;
    }
    if (st)
        xmlFreeDoc(st);
    return n;
}

/* A serial day number of the 1900 date system as a date (its 60 is the
 * 29 February 1900 that never was); 0 when v is not one. */
static int serial_date(const char *v, int kind, ps_buf *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*end || !(d >= 1 && d < 2958466))       /* to 9999-12-31 */
        return 0;
    long days = (long)d;        /* since 1899-12-31 */
    if (days >= 60)
        days--;                 /* after the day that never was */
    /* Its Julian day number to a Gregorian date. */
    long jd = days + 2415020;
    long a = jd + 32044, b = (4 * a + 3) / 146097, c = a - 146097 * b / 4;
    long dd = (4 * c + 3) / 1461, e = c - 1461 * dd / 4, m = (5 * e + 2) / 153;
    int day = (int)(e - (153 * m + 2) / 5 + 1), month = (int)(m + 3 - 12 * (m / 10));
    long year = 100 * b + dd - 4800 + m / 10;
    if (kind == 2)
        ps_buf_printf(out, "%ld年%d月%d日", year, month, day);
    else
        ps_buf_printf(out, "%04ld-%02d-%02d", year, month, day);
    return 1;
}

/* A workbook: each sheet's name as a heading (when there are several and
 * it was given one), then each row of it as a passage, its cells' text (shared strings, inline strings, the numbers
 * as stored) joined by " | ". */
static ext_status read_xlsx(const zipfile *z, const char *format,
                            ext_doc **out, char *err)
{
    char **sst = NULL;
    size_t nsst = 0;
    xmlDocPtr sd = parse_xml(zip_get(z, "xl/sharedStrings.xml"));
    xmlNode *sroot = sd ? xmlDocGetRootElement(sd) : NULL;
    for (xmlNode *k = sroot ? sroot->children : NULL; k; k = k->next) {
        if (!named(k, "si"))
            continue;
        ps_buf b;
        ps_buf_init(&b);
        t_text(k, &b, 0);
        ps_buf_add(&b, "", 0);
        sst = ps_xrealloc(sst, (nsst + 1) * sizeof(char *));
        sst[nsst++] = ps_buf_steal(&b);
    }
    if (sd)
        xmlFreeDoc(sd);
    unsigned char *dates;
    size_t ndates = date_styles(z, &dates);
    sheet_ref *sh;
    size_t nsh = xlsx_sheets(z, &sh);
    ext_doc *d = ext_doc_new(format);
    size_t read = 0;
    ps_buf row, cell;
    ps_buf_init(&row);
    ps_buf_init(&cell);
    for (size_t i = 0; i < nsh; i++) {
        xmlDocPtr ws = parse_xml(zip_get(z, sh[i].target));
        xmlNode *data = child(ws ? xmlDocGetRootElement(ws) : NULL, "sheetData");
        if (data)
            read++;
        if (data && nsh > 1 && ext_named_sheet(sh[i].name))
            ext_add(d, PSG_IN_HEADING, sh[i].name, strlen(sh[i].name), 0);
        for (xmlNode *r = data ? data->children : NULL; r; r = r->next) {
            if (!named(r, "row"))
                continue;
            row.len = 0;
            for (xmlNode *c = r->children; c; c = c->next) {
                if (!named(c, "c"))
                    continue;
                char *t = prop(c, "t");
                cell.len = 0;
                if (t && strcmp(t, "inlineStr") == 0) {
                    t_text(child(c, "is"), &cell, 0);
                } else {
                    xmlNode *vn = child(c, "v");
                    xmlChar *v = vn ? xmlNodeGetContent(vn) : NULL;
                    if (v && t && strcmp(t, "s") == 0) {
                        char *end;
                        unsigned long ix = strtoul((const char *)v, &end, 10);
                        if (!*end && ix < nsst)
                            ps_buf_adds(&cell, sst[ix]);
                    } else if (v && t && strcmp(t, "b") == 0) {
                        ps_buf_adds(&cell, strcmp((const char *)v, "1") == 0 ? "TRUE" : "FALSE");
                    } else if (v) {
                        char *sa = t ? NULL : prop(c, "s");
                        unsigned long si = sa ? strtoul(sa, NULL, 10) : 0;
                        free(sa);
                        if (!(si < ndates && dates[si] &&
                              serial_date((const char *)v, dates[si], &cell)))
                            ps_buf_adds(&cell, (const char *)v);
                    }
                    xmlFree(v);
                }
                free(t);
                ext_row_add(&row, cell.data, cell.len);
            }
            if (row.len)
                ext_add(d, PSG_IN_CELL, row.data, row.len, 0);
        }
        if (ws)
            xmlFreeDoc(ws);
    }
    ps_buf_free(&row);
    ps_buf_free(&cell);
    for (size_t i = 0; i < nsh; i++) {
        free(sh[i].name);
        free(sh[i].target);
    }
    free(sh);
    for (size_t i = 0; i < nsst; i++)
        free(sst[i]);
    free(sst);
    free(dates);
    if (!read) {
        ext_doc_free(d);
        snprintf(err, PS_ERRLEN, "a spreadsheet without a readable sheet "
                 "(xl/workbook.xml lists none that its members hold)");
        return EXT_FAILED;
    }
    *out = d;
    return EXT_OK;
}

/* ---- OFD ---- */

typedef struct glyphrun {
    double x, y, size;
    char *text;
} glyphrun;

static double num(const char *s, int idx)
{
    /* the idx-th number of a space-separated list */
    for (int i = 0; s && i < idx; i++) {
        while (*s == ' ')
            s++;
        while (*s && *s != ' ')
            s++;
    }
    return s ? atof(s) : 0;
}

static void text_objects(xmlNode *n, glyphrun **v, size_t *nv, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    for (xmlNode *k = n->children; k; k = k->next) {
        if (!named(k, "TextObject")) {
            if (k->type == XML_ELEMENT_NODE)
                text_objects(k, v, nv, depth + 1);
            continue;
        }
        char *bd = prop(k, "Boundary"), *sz = prop(k, "Size");
        double bx = num(bd, 0), by = num(bd, 1), size = sz ? atof(sz) : 3.5;
        free(bd);
        free(sz);
        double lx = 0, ly = 0;
        for (xmlNode *tc = k->children; tc; tc = tc->next) {
            if (!named(tc, "TextCode"))
                continue;
            char *xs = prop(tc, "X"), *ys = prop(tc, "Y");
            if (xs)
                lx = atof(xs);
            if (ys)
                ly = atof(ys);
            free(xs);
            free(ys);
            xmlChar *t = xmlNodeGetContent(tc);
            if (t && *t) {
                *v = ps_xrealloc(*v, (*nv + 1) * sizeof(glyphrun));
                (*v)[*nv].x = bx + lx;
                (*v)[*nv].y = by + ly;
                (*v)[*nv].size = size > 0 ? size : 3.5;
                (*v)[*nv].text = ps_xstrdup((const char *)t);
                (*nv)++;
            }
            xmlFree(t);
        }
    }
}

static int by_y(const void *a, const void *b)
{
    const glyphrun *p = a, *q = b;
    return p->y < q->y ? -1 : p->y > q->y ? 1 : p->x < q->x ? -1 : p->x > q->x;
}

static int by_x(const void *a, const void *b)
{
    const glyphrun *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One page's text: runs grouped into lines by baseline, each line read
 * left to right; a gap well above the usual line spacing is a blank line
 * (a paragraph break). */
static void page_text(glyphrun *v, size_t n, ps_buf *out)
{
    qsort(v, n, sizeof *v, by_y);
    double *ys = ps_xmalloc((n + 1) * sizeof(double));
    size_t nl = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && fabs(v[j].y - v[i].y) < v[i].size * 0.5)
            j++;
        ys[nl++] = v[i].y;
        i = j;
    }
    double *gaps = ps_xmalloc((nl + 1) * sizeof(double)), usual = 0;
    for (size_t k = 1; k < nl; k++)
        gaps[k - 1] = ys[k] - ys[k - 1];
    if (nl > 1) {
        qsort(gaps, nl - 1, sizeof(double), cmp_double);
        usual = gaps[(nl - 1) / 2];
    }
    free(gaps);
    size_t i = 0, line = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && fabs(v[j].y - v[i].y) < v[i].size * 0.5)
            j++;
        if (line && usual > 0 && ys[line] - ys[line - 1] > usual * 1.6)
            ps_buf_addc(out, '\n');
        qsort(v + i, j - i, sizeof *v, by_x);
        for (size_t k = i; k < j; k++) {
            /* a gap of several characters between runs: a space */
            if (k > i && v[k].x - v[k - 1].x >
                             v[k - 1].size * (double)(ps_utf8_count(v[k - 1].text,
                                                   strlen(v[k - 1].text)) + 2))
                ps_buf_addc(out, ' ');
            ps_buf_adds(out, v[k].text);
        }
        ps_buf_addc(out, '\n');
        i = j;
        line++;
    }
    free(ys);
}

/* dir of path "a/b/c.xml" is "a/b/". */
static void join_path(const char *base_file, const char *rel, char *out,
                      size_t n)
{
    if (rel[0] == '/') {
        snprintf(out, n, "%s", rel + 1);
        return;
    }
    const char *slash = strrchr(base_file, '/');
    int dl = slash ? (int)(slash - base_file + 1) : 0;
    snprintf(out, n, "%.*s%s", dl, base_file, rel);
}

static ext_status read_ofd(const zipfile *z, ext_doc **out, char *err)
{
    xmlDocPtr ofd = parse_xml(zip_get(z, "OFD.xml"));
    xmlNode *root = ofd ? xmlDocGetRootElement(ofd) : NULL;
    xmlNode *body = child(root, "DocBody");
    xmlNode *dr = child(body, "DocRoot");
    xmlChar *drt = dr ? xmlNodeGetContent(dr) : NULL;
    if (!drt) {
        if (ofd)
            xmlFreeDoc(ofd);
        snprintf(err, PS_ERRLEN, "OFD.xml names no document root");
        return EXT_FAILED;
    }
    char docpath[1024];
    snprintf(docpath, sizeof docpath, "%s",
             (const char *)drt + (drt[0] == '/' ? 1 : 0));
    xmlFree(drt);
    ext_doc *d = ext_doc_new("ofd");
    xmlNode *info = child(body, "DocInfo");
    static const char *const keep[] = {"Title", "Author", "Subject",
                                       "CreationDate", NULL};
    for (const char *const *k = keep; *k; k++) {
        xmlNode *e = child(info, *k);
        xmlChar *t = e ? xmlNodeGetContent(e) : NULL;
        if (t && *t) {
            char key[32];
            snprintf(key, sizeof key, "ofd-%s", *k);
            ext_add_meta(d, key, (const char *)t);
            if (strcmp(*k, "Title") == 0)
                d->title = ps_xstrdup((const char *)t);
        }
        xmlFree(t);
    }
    xmlFreeDoc(ofd);
    xmlDocPtr dd = parse_xml(zip_get(z, docpath));
    xmlNode *droot = dd ? xmlDocGetRootElement(dd) : NULL;
    xmlNode *pages = child(droot, "Pages");
    if (!pages) {
        if (dd)
            xmlFreeDoc(dd);
        ext_doc_free(d);
        snprintf(err, PS_ERRLEN, "%s lists no pages", docpath);
        return EXT_FAILED;
    }
    ps_buf text;
    ps_buf_init(&text);
    int npages = 0;
    for (xmlNode *p = pages->children; p; p = p->next) {
        if (!named(p, "Page"))
            continue;
        char *loc = prop(p, "BaseLoc");
        if (!loc)
            continue;
        char pp[1024];
        join_path(docpath, loc, pp, sizeof pp);
        free(loc);
        if (npages++)
            ps_buf_addc(&text, '\f');
        xmlDocPtr pd = parse_xml(zip_get(z, pp));
        if (!pd)
            continue;
        glyphrun *v = NULL;
        size_t nv = 0;
        text_objects(xmlDocGetRootElement(pd), &v, &nv, 0);
        page_text(v, nv, &text);
        for (size_t i = 0; i < nv; i++)
            free(v[i].text);
        free(v);
        xmlFreeDoc(pd);
    }
    xmlFreeDoc(dd);
    d->pages = npages;
    if (text.len)
        ext_add(d, PSG_IN_LINES, text.data, text.len, 1);
    ps_buf_free(&text);
    *out = d;
    return EXT_OK;
}

/* ---- PPTX ---- */

#define REL_NS "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

/* A DrawingML paragraph's text: runs and fields, line breaks as '\n'. */
static void dml_text(const xmlNode *p, ps_buf *b, int depth)
{
    for (xmlNode *k = p ? p->children : NULL; k && depth < MAX_DEPTH; k = k->next) {
        if (named(k, "t"))
            add_content(k, b);
        else if (named(k, "br"))
            ps_buf_addc(b, '\n');
        else if (named(k, "r") || named(k, "fld"))
            dml_text(k, b, depth + 1);
    }
}

/* Appends paragraph p's text, as text(p, b, 0) writes it, to the
 * paragraphs in b, after a '\n'; an empty paragraph adds nothing. */
static void add_paragraph(const xmlNode *p, ps_buf *b,
                          void (*text)(const xmlNode *, ps_buf *, int))
{
    size_t before = b->len;
    if (before)
        ps_buf_addc(b, '\n');
    size_t start = b->len;
    text(p, b, 0);
    if (b->len == start)
        b->len = before;
}

/* The paragraphs of a text body joined by '\n' (a table cell, a title). */
static void dml_body_text(const xmlNode *body, ps_buf *b)
{
    for (xmlNode *q = body ? body->children : NULL; q; q = q->next)
        if (named(q, "p"))
            add_paragraph(q, b, dml_text);
}

/* 1 for a shape that is its slide's title placeholder. */
static int title_shape(const xmlNode *sp)
{
    xmlNode *ph = child(child(child(sp, "nvSpPr"), "nvPr"), "ph");
    char *t = ph ? prop(ph, "type") : NULL;
    int yes = t && (strcmp(t, "title") == 0 || strcmp(t, "ctrTitle") == 0);
    free(t);
    return yes;
}

/* 1 when the shapes below tree hold a title placeholder. */
static int has_title(const xmlNode *tree, int depth)
{
    for (xmlNode *k = tree ? tree->children : NULL; k && depth < MAX_DEPTH;
         k = k->next)
        if ((named(k, "sp") && title_shape(k)) ||
            (named(k, "grpSp") && has_title(k, depth + 1)))
            return 1;
    return 0;
}

/* The shapes of a slide in document order: its title placeholder a
 * heading (the first slide's the document's title), other text a
 * paragraph each (body text on a slide with a title, else told apart as
 * in any document), a table a passage a row; groups gone into. */
static void slide_shapes(ext_doc *d, const xmlNode *tree, int slide,
                         int titled, int depth)
{
    ps_buf b;
    ps_buf_init(&b);
    for (xmlNode *k = tree ? tree->children : NULL; k && depth < MAX_DEPTH;
         k = k->next) {
        if (named(k, "sp")) {
            xmlNode *body = child(k, "txBody");
            if (!body)
                continue;
            if (title_shape(k)) {
                b.len = 0;
                dml_body_text(body, &b);
                slide_title(d, &b, slide);
                continue;
            }
            for (xmlNode *q = body->children; q; q = q->next) {
                if (!named(q, "p"))
                    continue;
                b.len = 0;
                dml_text(q, &b, 0);
                ext_add(d, titled ? PSG_IN_TEXT : PSG_IN_PARA,
                        b.data ? b.data : "", b.len, slide);
            }
        } else if (named(k, "grpSp")) {
            slide_shapes(d, k, slide, titled, depth + 1);
        } else if (named(k, "graphicFrame")) {
            xmlNode *tbl = child(child(child(k, "graphic"), "graphicData"), "tbl");
            ps_buf cell;
            ps_buf_init(&cell);
            for (xmlNode *tr = tbl ? tbl->children : NULL; tr; tr = tr->next) {
                if (!named(tr, "tr"))
                    continue;
                b.len = 0;
                for (xmlNode *tc = tr->children; tc; tc = tc->next) {
                    if (!named(tc, "tc"))
                        continue;
                    cell.len = 0;
                    dml_body_text(child(tc, "txBody"), &cell);
                    ext_row_add(&b, cell.data ? cell.data : "", cell.len);
                }
                if (b.len)
                    ext_add(d, PSG_IN_CELL, b.data, b.len, slide);
            }
            ps_buf_free(&cell);
        }
    }
    ps_buf_free(&b);
}

/* A presentation (PowerPoint, or WPS .dps saved as OOXML): its slides in
 * the order presentation.xml lists them, each slide's number its page;
 * speaker notes are not read. */
static ext_status read_pptx(const zipfile *z, const char *format,
                            ext_doc **out, char *err)
{
    xmlDocPtr pres = parse_xml(zip_get(z, "ppt/presentation.xml"));
    xmlDocPtr rels = parse_xml(zip_get(z, "ppt/_rels/presentation.xml.rels"));
    xmlNode *list = child(pres ? xmlDocGetRootElement(pres) : NULL, "sldIdLst");
    xmlNode *rr = rels ? xmlDocGetRootElement(rels) : NULL;
    ext_doc *d = ext_doc_new(format);
    int slide = 0, read = 0;
    for (xmlNode *k = list ? list->children : NULL; k; k = k->next) {
        if (!named(k, "sldId"))
            continue;
        xmlChar *id = xmlGetNsProp(k, (const xmlChar *)"id", (const xmlChar *)REL_NS);
        char path[1024] = "";
        for (xmlNode *r = rr ? rr->children : NULL; r && id && !*path; r = r->next) {
            char *rid = named(r, "Relationship") ? prop(r, "Id") : NULL;
            char *t = rid && strcmp(rid, (const char *)id) == 0 ? prop(r, "Target") : NULL;
            if (t)
                join_path("ppt/presentation.xml", t, path, sizeof path);
            free(t);
            free(rid);
        }
        xmlFree(id);
        slide++;
        xmlDocPtr sd = *path ? parse_xml(zip_get(z, path)) : NULL;
        xmlNode *tree = child(child(sd ? xmlDocGetRootElement(sd) : NULL, "cSld"), "spTree");
        if (tree) {
            read++;
            slide_shapes(d, tree, slide, has_title(tree, 0), 0);
        }
        if (sd)
            xmlFreeDoc(sd);
    }
    if (pres)
        xmlFreeDoc(pres);
    if (rels)
        xmlFreeDoc(rels);
    if (!read) {
        ext_doc_free(d);
        snprintf(err, PS_ERRLEN, "a presentation without a readable slide "
                 "(ppt/presentation.xml lists none that its members hold)");
        return EXT_FAILED;
    }
    d->pages = slide;
    core_props(z, d, "pptx");
    *out = d;
    return EXT_OK;
}

/* ---- OpenDocument (.odt, .ods, .odp) ---- */

typedef struct odf {
    ext_doc *d;
    int page;                 /* a presentation's slide, else 0 */
    int body_text;            /* a slide with a title: text is body text */
    char **title_styles;      /* "Title" and the automatic styles on it */
    size_t ntitle_styles;
} odf;

/* 1 for a paragraph in the Title style (or an automatic style based on
 * it). */
static int odf_title_para(const odf *o, const xmlNode *p)
{
    char *st = prop(p, "style-name");
    int yes = 0;
    for (size_t i = 0; st && i < o->ntitle_styles && !yes; i++)
        yes = strcmp(st, o->title_styles[i]) == 0;
    free(st);
    return yes;
}

/* A paragraph's text: spans and links gone into, text:s a space,
 * text:tab a tab, text:line-break a line end; notes' citations,
 * annotations and deleted text left out. */
static void odf_inline(const xmlNode *n, ps_buf *b, int depth)
{
    for (xmlNode *k = n ? n->children : NULL; k && depth < MAX_DEPTH; k = k->next) {
        if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
            if (k->content)
                ps_buf_adds(b, (const char *)k->content);
        } else if (named(k, "s")) {
            ps_buf_addc(b, ' ');
        } else if (named(k, "tab")) {
            ps_buf_addc(b, '\t');
        } else if (named(k, "line-break")) {
            ps_buf_addc(b, '\n');
        } else if (named(k, "note-citation") || named(k, "annotation") ||
                   named(k, "tracked-changes") || named(k, "note")) {
            continue;
        } else if (k->type == XML_ELEMENT_NODE) {
            odf_inline(k, b, depth + 1);
        }
    }
}

/* The paragraphs below n joined by '\n' (a table cell). */
static void odf_cell(const xmlNode *n, ps_buf *b, int depth)
{
    for (xmlNode *k = n ? n->children : NULL; k && depth < MAX_DEPTH; k = k->next) {
        if (named(k, "p") || named(k, "h")) {
            add_paragraph(k, b, odf_inline);
        } else if (k->type == XML_ELEMENT_NODE && !named(k, "annotation")) {
            odf_cell(k, b, depth + 1);
        }
    }
}

/* A table: a passage a row, its cells joined by " | " (rows inside
 * header and row groups too). */
static void odf_rows(odf *o, const xmlNode *n, int depth)
{
    ps_buf row, cell;
    ps_buf_init(&row);
    ps_buf_init(&cell);
    for (xmlNode *k = n ? n->children : NULL; k && depth < MAX_DEPTH; k = k->next) {
        if (named(k, "table-row")) {
            row.len = 0;
            for (xmlNode *c = k->children; c; c = c->next) {
                if (!named(c, "table-cell"))
                    continue;
                cell.len = 0;
                odf_cell(c, &cell, 0);
                ext_row_add(&row, cell.data ? cell.data : "", cell.len);
            }
            if (row.len)
                ext_add(o->d, PSG_IN_CELL, row.data, row.len, o->page);
        } else if (named(k, "table-header-rows") || named(k, "table-rows") ||
                   named(k, "table-row-group")) {
            odf_rows(o, k, depth + 1);
        }
    }
    ps_buf_free(&row);
    ps_buf_free(&cell);
}

/* Text content in document order: headings, paragraphs, lists, sections,
 * frames, tables; the tracked changes' deleted text is not content. */
static void odf_flow(odf *o, const xmlNode *n, int depth)
{
    ps_buf b;
    ps_buf_init(&b);
    for (xmlNode *k = n ? n->children : NULL; k && depth < MAX_DEPTH; k = k->next) {
        if (named(k, "h") || named(k, "p")) {
            b.len = 0;
            odf_inline(k, &b, 0);
            int title = named(k, "p") && !o->d->title && b.len &&
                        odf_title_para(o, k);
            ext_add(o->d, title ? PSG_IN_TITLE
                          : named(k, "h") ? PSG_IN_HEADING
                          : o->body_text ? PSG_IN_TEXT : PSG_IN_PARA,
                    b.data ? b.data : "", b.len, o->page);
            if (title)
                o->d->title = ps_xstrndup(b.data, b.len);
            /* a frame anchored in the paragraph: its text follows it */
            for (xmlNode *f = k->children; f; f = f->next)
                if (named(f, "frame"))
                    odf_flow(o, f, depth + 1);
        } else if (named(k, "table")) {
            odf_rows(o, k, depth + 1);
        } else if (named(k, "tracked-changes") || named(k, "annotation") ||
                   named(k, "sequence-decls") || named(k, "forms")) {
            continue;
        } else if (k->type == XML_ELEMENT_NODE) {
            odf_flow(o, k, depth + 1);
        }
    }
    ps_buf_free(&b);
}

static int odf_title_frame(const xmlNode *f)
{
    char *c = prop(f, "class");
    int yes = c && strcmp(c, "title") == 0;
    free(c);
    return yes;
}

/* An OpenDocument text, spreadsheet or presentation (what its body
 * holds says which): text as a document's, a sheet's rows as a
 * workbook's, slides as a presentation's (each a page, its title frame
 * a heading). */
static ext_status read_odf(const zipfile *z, const char *ext, ext_doc **out,
                           char *err)
{
    xmlDocPtr doc = parse_xml(zip_get(z, "content.xml"));
    xmlNode *body = child(doc ? xmlDocGetRootElement(doc) : NULL, "body");
    xmlNode *text = child(body, "text"), *sheet = child(body, "spreadsheet"),
            *pres = child(body, "presentation");
    if (!text && !sheet && !pres) {
        if (doc)
            xmlFreeDoc(doc);
        snprintf(err, PS_ERRLEN, "unsupported format (OpenDocument without "
                 "text, sheets or slides%s%s)", *ext ? ", " : "", ext);
        return EXT_UNSUPPORTED;
    }
    odf o = {ext_doc_new(text ? "odt" : sheet ? "ods" : "odp"), 0, 0, NULL, 0};
    if (text) {
        o.title_styles = ps_xmalloc(sizeof(char *));
        o.title_styles[o.ntitle_styles++] = ps_xstrdup("Title");
        xmlNode *auto_st = child(xmlDocGetRootElement(doc), "automatic-styles");
        for (xmlNode *k = auto_st ? auto_st->children : NULL; k; k = k->next) {
            char *parent = named(k, "style") ? prop(k, "parent-style-name") : NULL;
            char *name = parent && strcmp(parent, "Title") == 0 ? prop(k, "name") : NULL;
            if (name) {
                o.title_styles = ps_xrealloc(o.title_styles,
                                             (o.ntitle_styles + 1) * sizeof(char *));
                o.title_styles[o.ntitle_styles++] = name;
            }
            free(parent);
        }
        odf_flow(&o, text, 0);
        for (size_t i = 0; i < o.ntitle_styles; i++)
            free(o.title_styles[i]);
        free(o.title_styles);
    } else if (sheet) {
        size_t named_sheets = 0, sheets = 0;
        for (xmlNode *t = sheet->children; t; t = t->next)
            if (named(t, "table")) {
                char *nm = prop(t, "name");
                sheets++;
                named_sheets += ext_named_sheet(nm);
                free(nm);
            }
        for (xmlNode *t = sheet->children; t; t = t->next) {
            if (!named(t, "table"))
                continue;
            char *nm = prop(t, "name");
            if (sheets > 1 && named_sheets && ext_named_sheet(nm))
                ext_add(o.d, PSG_IN_HEADING, nm, strlen(nm), 0);
            free(nm);
            odf_rows(&o, t, 0);
        }
    } else {
        for (xmlNode *pg = pres->children; pg; pg = pg->next) {
            if (!named(pg, "page"))
                continue;
            o.page++;
            o.body_text = 0;
            for (xmlNode *f = pg->children; f; f = f->next)
                o.body_text |= named(f, "frame") && odf_title_frame(f);
            for (xmlNode *f = pg->children; f; f = f->next) {
                if (!named(f, "frame"))
                    continue;
                if (odf_title_frame(f)) {
                    ps_buf b;
                    ps_buf_init(&b);
                    odf_cell(f, &b, 0);
                    slide_title(o.d, &b, o.page);
                    ps_buf_free(&b);
                } else {
                    odf_flow(&o, f, 1);
                }
            }
        }
        o.d->pages = o.page;
    }
    xmlFreeDoc(doc);
    xmlDocPtr meta = parse_xml(zip_get(z, "meta.xml"));
    xmlNode *m = child(meta ? xmlDocGetRootElement(meta) : NULL, "meta");
    xmlNode *t = child(m, "title");
    xmlChar *tv = t ? xmlNodeGetContent(t) : NULL;
    if (tv)
        ext_add_meta(o.d, "odf-title", (const char *)tv);
    xmlFree(tv);
    if (meta)
        xmlFreeDoc(meta);
    *out = o.d;
    return EXT_OK;
}

ext_status ext_zip(const char *data, size_t len, const char *ext,
                   ext_doc **out, char *err)
{
    zipfile z;
    if (zip_read(data, len, &z, err) < 0)
        return EXT_FAILED;
    ext_status rc;
    if (zip_get(&z, "word/document.xml")) {
        rc = read_docx(&z, strcasecmp(ext, ".wps") == 0 ? "wps" : "docx", out,
                       err);
    } else if (zip_get(&z, "OFD.xml")) {
        rc = read_ofd(&z, out, err);
    } else if (zip_get(&z, "xl/workbook.xml")) {
        rc = read_xlsx(&z, strcasecmp(ext, ".et") == 0 ? "et" : "xlsx", out, err);
    } else if (zip_get(&z, "ppt/presentation.xml")) {
        rc = read_pptx(&z, strcasecmp(ext, ".dps") == 0 ? "dps" : "pptx", out, err);
    } else if (zip_get(&z, "content.xml")) {
        rc = read_odf(&z, ext, out, err);
    } else {
        snprintf(err, PS_ERRLEN, "unsupported format (zip archive%s%s)",
                 *ext ? ", " : "", ext);
        rc = EXT_UNSUPPORTED;
    }
    zip_free(&z);
    return rc;
}
