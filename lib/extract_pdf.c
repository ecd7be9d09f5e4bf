/*
 * extract_pdf.c: PDF with poppler's C API (poppler-glib; Debian's
 * poppler-data supplies the CJK character maps), and OCR of pages
 * without a text layer with Tesseract's C API (chi_sim).
 *
 * Each page's text in reading order, pages separated by form feeds so a
 * paragraph broken at a page end is rejoined and every passage knows its
 * page.  Running headers and footers (a line at the top or bottom of
 * most pages, digits aside) and bare page numbers are dropped.
 *
 * A page whose text layer is empty or garbage (mostly private-use or
 * replacement characters) needs OCR: with --ocr it is rendered at 300 dpi
 * and read by Tesseract; without, a file with no readable page fails
 * with a message saying so.
 */
#include "extract.h"
#include "util.h"

#include <cairo.h>
#include <leptonica/allheaders.h>
#include <poppler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

#define MAX_PAGES 20000
#define OCR_DPI 300.0
#define EDGE_LINES 2        /* lines at each end where running heads sit */

typedef struct pgtext {
    char **lines;
    size_t n;
    int ocr;
} pgtext;

/* Readable characters and garbage (private use, U+FFFD, controls). */
static void census(const char *s, size_t *good, size_t *bad)
{
    size_t n = strlen(s), i = 0;
    *good = *bad = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (ps_is_space(cp))
            continue;
        if (cp == 0xFFFD || (cp >= 0xE000 && cp <= 0xF8FF) || cp < 0x20)
            (*bad)++;
        else
            (*good)++;
    }
}

static void split(pgtext *p, const char *text)
{
    const char *s = text;
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        p->lines = ps_xrealloc(p->lines, (p->n + 1) * sizeof(char *));
        p->lines[p->n++] = ps_xstrndup(s, l);
        s += l + (e ? 1 : 0);
    }
}

/* A line with its digits and spaces removed: running heads that carry
 * the page number compare equal. */
static char *head_key(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *k = ps_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && s[i] != ' ' && s[i] != '\t')
            k[o++] = s[i];
    k[o] = '\0';
    return k;
}

/* "3", "- 3 -", "第3页", "3/12": a page number. */
static int page_number(const char *s)
{
    size_t n = strlen(s), i = 0, digits = 0, other = 0;
    while (i < n) {
        uint32_t cp = ps_utf8_next(s, n, &i);
        if (cp >= '0' && cp <= '9')
            digits++;
        else if (!(ps_is_space(cp) || cp == '-' || cp == 0x2014 || cp == 0x2013 ||
                   cp == '/' || cp == 0x7B2C || cp == 0x9875 || cp == 0x5171 ||
                   cp == '(' || cp == ')' || cp == 0xFF0D))
            other++;
    }
    return digits > 0 && digits <= 4 && other == 0;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!(*s == ' ' || *s == '\t' || *s == '\r'))
            return 0;
    return 1;
}

/* Drops running heads and feet and page numbers at the page edges. */
static void drop_running(pgtext *pg, int np)
{
    /* count, per key, the pages where it sits at an edge */
    typedef struct {
        char *key;
        int pages;
    } kc;
    kc *v = NULL;
    size_t nv = 0;
    for (int p = 0; p < np; p++) {
        for (size_t i = 0; i < pg[p].n; i++) {
            if (i >= EDGE_LINES && i + EDGE_LINES < pg[p].n)
                continue;
            if (blank(pg[p].lines[i]))
                continue;
            char *k = head_key(pg[p].lines[i]);
            size_t j = 0;
            while (j < nv && strcmp(v[j].key, k) != 0)
                j++;
            if (j == nv) {
                v = ps_xrealloc(v, (nv + 1) * sizeof(kc));
                v[nv].key = k;
                v[nv].pages = 0;
                nv++;
            } else {
                free(k);
            }
            v[j].pages++;
        }
    }
    for (int p = 0; p < np; p++) {
        for (size_t i = 0; i < pg[p].n; i++) {
            if (i >= EDGE_LINES && i + EDGE_LINES < pg[p].n)
                continue;
            char *k = head_key(pg[p].lines[i]);
            int running = 0;
            for (size_t j = 0; j < nv; j++)
                if (strcmp(v[j].key, k) == 0 && np >= 3 && *k &&
                    v[j].pages * 2 >= np && v[j].pages >= 3)
                    running = 1;
            free(k);
            if (running || page_number(pg[p].lines[i]))
                pg[p].lines[i][0] = '\0';
        }
    }
    for (size_t j = 0; j < nv; j++)
        free(v[j].key);
    free(v);
}

/* Tesseract for Simplified Chinese (with its Latin letters and digits),
 * or NULL with err set. */
static TessBaseAPI *ocr_open(char *err)
{
    TessBaseAPI *api = TessBaseAPICreate();
    if (TessBaseAPIInit3(api, NULL, "chi_sim") != 0) {
        TessBaseAPIDelete(api);
        snprintf(err, PS_ERRLEN, "OCR unavailable: Tesseract's chi_sim "
                 "data is not installed (tesseract-ocr-chi-sim)");
        return NULL;
    }
    return api;
}

static void ocr_close(TessBaseAPI *api)
{
    if (api) {
        TessBaseAPIEnd(api);
        TessBaseAPIDelete(api);
    }
}

/* Renders page at OCR_DPI and reads it with Tesseract. */
static char *ocr_page(TessBaseAPI *api, PopplerPage *page)
{
    double w, h;
    poppler_page_get_size(page, &w, &h);
    double sc = OCR_DPI / 72.0;
    int iw = (int)(w * sc), ih = (int)(h * sc);
    if (iw <= 0 || ih <= 0 || iw > 20000 || ih > 20000)
        return NULL;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, iw, ih);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, sc, sc);
    poppler_page_render_for_printing(page, cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    TessBaseAPISetImage(api, cairo_image_surface_get_data(s), iw, ih, 4,
                        cairo_image_surface_get_stride(s));
    TessBaseAPISetSourceResolution(api, (int)OCR_DPI);
    char *t = TessBaseAPIGetUTF8Text(api);
    char *copy = t ? ps_xstrdup(t) : NULL;
    TessDeleteText(t);
    cairo_surface_destroy(s);
    return copy;
}

ext_status ext_pdf(const char *data, size_t len, const ext_opts *o,
                   ext_doc **out, char *err)
{
    GBytes *bytes = g_bytes_new_static(data, len);
    GError *ge = NULL;
    PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &ge);
    if (!doc) {
        if (ge && ge->domain == POPPLER_ERROR && ge->code == POPPLER_ERROR_ENCRYPTED)
            snprintf(err, PS_ERRLEN, "encrypted PDF: it needs a password, "
                     "none is known; not indexed");
        else
            snprintf(err, PS_ERRLEN, "corrupt or unreadable PDF: %s",
                     ge ? ge->message : "?");
        if (ge)
            g_error_free(ge);
        g_bytes_unref(bytes);
        return EXT_FAILED;
    }
    int np = poppler_document_get_n_pages(doc);
    if (np <= 0 || np > MAX_PAGES) {
        snprintf(err, PS_ERRLEN, np <= 0 ? "PDF without pages"
                                         : "PDF of %d pages (the limit is %d)",
                 np, MAX_PAGES);
        g_object_unref(doc);
        g_bytes_unref(bytes);
        return EXT_FAILED;
    }
    ext_doc *d = ext_doc_new("pdf");
    d->pages = np;
    char *t = poppler_document_get_title(doc);
    if (t && *t)
        ext_add_meta(d, "pdf-title", t);
    g_free(t);
    pgtext *pg = ps_xcalloc((size_t)np, sizeof(pgtext));
    TessBaseAPI *api = NULL;
    int need_ocr = 0, readable = 0;
    for (int p = 0; p < np; p++) {
        PopplerPage *page = poppler_document_get_page(doc, p);
        if (!page)
            continue;
        char *text = poppler_page_get_text(page);
        size_t good = 0, bad = 0;
        if (text)
            census(text, &good, &bad);
        if (good >= 8 && bad * 3 < good) {
            split(&pg[p], text);
            readable++;
        } else if (o && o->ocr) {
            if (!api && !(api = ocr_open(err))) {
                g_free(text);
                g_object_unref(page);
                goto fail;
            }
            char *ot = ocr_page(api, page);
            if (ot) {
                split(&pg[p], ot);
                pg[p].ocr = 1;
                d->ocr = 1;
                readable++;
                free(ot);
            }
        } else if (good < 8) {
            need_ocr++;
        }
        g_free(text);
        g_object_unref(page);
    }
    if (!readable) {
        if (need_ocr)
            snprintf(err, PS_ERRLEN, "scanned PDF (%d page%s without a text "
                     "layer): index with --ocr to read it", need_ocr,
                     need_ocr == 1 ? "" : "s");
        else
            snprintf(err, PS_ERRLEN, "PDF without readable text");
        goto fail;
    }
    drop_running(pg, np);
    ps_buf all;
    ps_buf_init(&all);
    for (int p = 0; p < np; p++) {
        if (p)
            ps_buf_addc(&all, '\f');
        for (size_t i = 0; i < pg[p].n; i++) {
            if (!pg[p].lines[i][0])
                continue;
            ps_buf_adds(&all, pg[p].lines[i]);
            ps_buf_addc(&all, '\n');
        }
    }
    ext_add(d, PSG_IN_LINES, all.data ? all.data : "", all.len, 1);
    ps_buf_free(&all);
    *out = d;
    d = NULL;
fail:
    for (int p = 0; p < np; p++) {
        for (size_t i = 0; i < pg[p].n; i++)
            free(pg[p].lines[i]);
        free(pg[p].lines);
    }
    free(pg);
    ocr_close(api);
    ext_doc_free(d);        /* NULL on success: it is the caller's */
    g_object_unref(doc);
    g_bytes_unref(bytes);
    return d ? EXT_FAILED : EXT_OK;
}

/* An image larger than this (pixels; a 600 dpi A3 page has 70 million)
 * or with more pages is refused before it is decoded. */
#define MAX_IMAGE_PIXELS 150000000.0
#define MAX_IMAGE_PAGES 2000

static int is_tiff(l_int32 f)
{
    return f == IFF_TIFF || f == IFF_TIFF_PACKBITS || f == IFF_TIFF_RLE ||
           f == IFF_TIFF_G3 || f == IFF_TIFF_G4 || f == IFF_TIFF_LZW ||
           f == IFF_TIFF_ZIP || f == IFF_TIFF_JPEG;
}

ext_status ext_image(const char *data, size_t len, ext_doc **out, char *err)
{
    const l_uint8 *b = (const l_uint8 *)data;
    l_int32 fmt = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
    setMsgSeverity(L_SEVERITY_NONE);    /* errors are reported here */
    if (pixReadHeaderMem(b, len, &fmt, &w, &h, &bps, &spp, &cmap) != 0 ||
        w <= 0 || h <= 0) {
        snprintf(err, PS_ERRLEN, "corrupt or unreadable image");
        return EXT_FAILED;
    }
    if ((double)w * h > MAX_IMAGE_PIXELS) {
        snprintf(err, PS_ERRLEN, "image too large to read (%d x %d pixels)",
                 (int)w, (int)h);
        return EXT_FAILED;
    }
    PIXA *pa = NULL;
    if (is_tiff(fmt)) {
        /* (pages beyond memory or time end the reading child) */
        pa = pixaReadMemMultipageTiff(b, len);
    } else {
        PIX *p = pixReadMem(b, len);
        if (p) {
            pa = pixaCreate(1);
            pixaAddPix(pa, p, L_INSERT);
        }
    }
    l_int32 np = pa ? pixaGetCount(pa) : 0;
    if (np <= 0 || np > MAX_IMAGE_PAGES) {
        pixaDestroy(&pa);
        snprintf(err, PS_ERRLEN, np > MAX_IMAGE_PAGES
                 ? "TIFF of %d pages (the limit is %d)"
                 : "corrupt or unreadable image", (int)np, MAX_IMAGE_PAGES);
        return EXT_FAILED;
    }
    TessBaseAPI *api = ocr_open(err);
    if (!api) {
        pixaDestroy(&pa);
        return EXT_FAILED;
    }
    ps_buf all;
    ps_buf_init(&all);
    size_t good = 0, bad = 0;
    for (l_int32 i = 0; i < np; i++) {
        PIX *p = pixaGetPix(pa, i, L_CLONE);
        if (i)
            ps_buf_addc(&all, '\f');
        if (!p)
            continue;
        if ((double)pixGetWidth(p) * pixGetHeight(p) <= MAX_IMAGE_PIXELS) {
            /* Its own resolution when it states a plausible one. */
            l_int32 res = pixGetXRes(p);
            TessBaseAPISetImage2(api, p);
            TessBaseAPISetSourceResolution(api, res >= 70 && res <= 2400
                                                    ? res : (int)OCR_DPI);
            char *t = TessBaseAPIGetUTF8Text(api);
            if (t) {
                size_t g, x;
                census(t, &g, &x);
                good += g;
                bad += x;
                ps_buf_adds(&all, t);
                TessDeleteText(t);
            }
        }
        pixDestroy(&p);
    }
    ocr_close(api);
    pixaDestroy(&pa);
    if (good < 8 || bad * 3 >= good) {
        ps_buf_free(&all);
        snprintf(err, PS_ERRLEN, "image without readable text (OCR found "
                 "none)");
        return EXT_FAILED;
    }
    ext_doc *d = ext_doc_new("image");
    d->ocr = 1;
    d->pages = (int)np;
    ext_add(d, PSG_IN_LINES, all.data, all.len, 1);
    ps_buf_free(&all);
    *out = d;
    return EXT_OK;
}
