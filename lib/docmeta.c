/*
 * docmeta.c: a document's own metadata from its layout (see docmeta.h).
 *
 * Lines are folded first (NFKC, Simplified: full-width digits and
 * brackets become ASCII, Traditional characters Simplified), then read
 * with ICU regular expressions: the header area (the first lines) for
 * the red header, the document number and the title; the end for the
 * signature and the date written above the seal; the file's metadata
 * pairs for what a web page states.
 */
#include "docmeta.h"
#include "normalize.h"
#include "util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uregex.h>
#include <unicode/ustring.h>

#define HEAD_LINES 16      /* the header area */
#define TAIL_LINES 14      /* signature and date */
#define MAX_AGENCY 8
#define GROUP_BYTES 256

/* ---- regular expressions over UTF-8, through UTF-16 ---- */

typedef struct rx {
    URegularExpression *re;
} rx;

static int rx_compile(rx *r, const char *pattern, char *err);

/* Compiled patterns are kept (one compilation per process) and cloned
 * for each use: a clone shares the compiled form and is cheap. */
#define MAX_PATTERNS 32
static struct {
    const char *src;
    URegularExpression *re;
} patterns[MAX_PATTERNS];
static size_t npatterns;
static pthread_mutex_t patterns_lock = PTHREAD_MUTEX_INITIALIZER;

static int rx_open(rx *r, const char *pattern, char *err)
{
    r->re = NULL;
    pthread_mutex_lock(&patterns_lock);
    URegularExpression *master = NULL;
    for (size_t i = 0; i < npatterns && !master; i++)
        if (patterns[i].src == pattern || strcmp(patterns[i].src, pattern) == 0)
            master = patterns[i].re;
    if (!master) {
        rx fresh;
        if (rx_compile(&fresh, pattern, err) < 0) {
            pthread_mutex_unlock(&patterns_lock);
            return -1;
        }
        master = fresh.re;
        if (npatterns < MAX_PATTERNS) {
            patterns[npatterns].src = pattern;
            patterns[npatterns++].re = master;
        }
    }
    UErrorCode st = U_ZERO_ERROR;
    r->re = uregex_clone(master, &st);
    int kept = npatterns && patterns[npatterns - 1].re == master;
    for (size_t i = 0; i < npatterns && !kept; i++)
        kept = patterns[i].re == master;
    if (!kept)
        uregex_close(master);
    pthread_mutex_unlock(&patterns_lock);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "document metadata: pattern: %s", u_errorName(st));
        r->re = NULL;
        return -1;
    }
    return 0;
}

static int rx_compile(rx *r, const char *pattern, char *err)
{
    UErrorCode st = U_ZERO_ERROR;
    UParseError pe;
    UChar pat[1024];
    u_strFromUTF8(pat, 1024, NULL, pattern, -1, &st);
    if (U_SUCCESS(st))
        r->re = uregex_open(pat, -1, 0, &pe, &st);
    if (U_FAILURE(st)) {
        snprintf(err, PS_ERRLEN, "document metadata: pattern: %s", u_errorName(st));
        r->re = NULL;
        return -1;
    }
    return 0;
}

static void rx_close(rx *r)
{
    if (r->re)
        uregex_close(r->re);
}

/* Finds re in s; the groups 1..ng into g[0..ng) (UTF-8).  1 when found. */
static int rx_find(rx *r, const char *s, char g[][GROUP_BYTES], int ng)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t len = 0;
    u_strFromUTF8(NULL, 0, &len, s, -1, &st);
    if (len <= 0 || len > 4096)
        return 0;
    UChar *u = ps_xmalloc((size_t)(len + 1) * sizeof(UChar));
    st = U_ZERO_ERROR;
    u_strFromUTF8(u, len + 1, NULL, s, -1, &st);
    int found = 0;
    if (U_SUCCESS(st)) {
        uregex_setText(r->re, u, len, &st);
        found = U_SUCCESS(st) && uregex_find(r->re, -1, &st) && U_SUCCESS(st);
    }
    for (int k = 0; found && k < ng; k++) {
        UChar buf[GROUP_BYTES];
        UErrorCode gs = U_ZERO_ERROR;
        int32_t gl = uregex_group(r->re, k + 1, buf, GROUP_BYTES - 1, &gs);
        g[k][0] = '\0';
        if (U_SUCCESS(gs) && gl >= 0) {
            gs = U_ZERO_ERROR;
            u_strToUTF8(g[k], GROUP_BYTES, NULL, buf, gl, &gs);
            if (U_FAILURE(gs))
                g[k][0] = '\0';
        }
    }
    free(u);
    return found;
}

/* ---- numbers and dates ---- */

/* 二〇二四 -> 2024, 十二 -> 12, 三十一 -> 31, or digits; -1 if neither. */
static int cn_number(const char *s, int digitwise)
{
    static const char *const d[] = {"〇", "一", "二", "三", "四", "五", "六", "七",
                                    "八", "九"};
    if (*s >= '0' && *s <= '9')
        return atoi(s);
    int v = 0, any = 0, tens = -1;
    while (*s) {
        int k = -1;
        for (int i = 0; i < 10; i++)
            if (strncmp(s, d[i], strlen(d[i])) == 0) {
                k = i;
                s += strlen(d[i]);
                break;
            }
        if (k < 0 && (strncmp(s, "零", 3) == 0 || strncmp(s, "○", 3) == 0 ||
                      strncmp(s, "o", 1) == 0)) {
            k = 0;
            s += s[0] == 'o' ? 1 : 3;
        }
        if (k < 0 && strncmp(s, "十", 3) == 0) {
            if (digitwise)
                return -1;
            tens = v ? v : 1;
            v = 0;
            s += 3;
            any = 1;
            continue;
        }
        if (k < 0)
            return -1;
        v = digitwise ? v * 10 + k : v + k;
        any = 1;
    }
    if (!any)
        return -1;
    return tens >= 0 ? tens * 10 + v : v;
}

static int valid_date(int y, int m, int d)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1949 || y > 2100 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
        return 0;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 0;
    return 1;
}

int dm_number(const char *s, char *out, size_t cap)
{
    char err[PS_ERRLEN], g[3][GROUP_BYTES];
    ps_buf f;
    ps_buf_init(&f);
    if (norm_fold(s, strlen(s), &f, err) < 0) {
        ps_buf_free(&f);
        return 0;
    }
    rx r;
    int ok = 0;
    if (!f.data || !strstr(f.data, "号")) {   /* both forms end with it; */
        ps_buf_free(&f);                   /* compiling them costs ms */
        return 0;
    }
    if (rx_open(&r, "^\\s*([\\p{Han}]{1,14}?)\\s*(?:[〔\\[【(（{]\\s*(\\d{4})\\s*"
                    "[〕\\]】)）}]|(\\d{4})\\s*年)\\s*第?\\s*0*(\\d{1,6})\\s*号\\s*$",
                err) == 0) {
        char h[4][GROUP_BYTES];
        if (rx_find(&r, f.data ? f.data : "", h, 4)) {
            snprintf(out, cap, "%s〔%s〕%s号", h[0], h[1][0] ? h[1] : h[2], h[3]);
            ok = 1;
        }
        rx_close(&r);
    }
    if (!ok && rx_open(&r, "^\\s*(\\d{4})\\s*年\\s*第\\s*0*(\\d{1,6})\\s*号\\s*$",
                       err) == 0) {
        if (rx_find(&r, f.data ? f.data : "", g, 2)) {
            snprintf(out, cap, "%s年第%s号", g[0], g[1]);
            ok = 1;
        }
        rx_close(&r);
    }
    ps_buf_free(&f);
    return ok;
}

/* ---- the reader ---- */

typedef struct reader {
    rx number, date, isodate, year, report, agency_line, header, news, addressee;
    rx section;
    char **line;          /* folded, whitespace-squeezed */
    char **src;           /* the same lines as the source writes them */
    size_t n;
} reader;

static const char *const TYPES[] = {
    "实施方案", "工作方案", "行动方案", "方案", "实施意见", "指导意见", "意见",
    "通知", "通报", "决定", "决议", "命令", "公告", "通告", "报告", "请示",
    "批复", "议案", "函", "纪要", "办法", "规定", "规划", "细则", "措施",
    "要点"};
static const char *const TYPE_OF[] = {
    "方案", "方案", "方案", "方案", "意见", "意见", "意见", "通知", "通报",
    "决定", "决议", "命令", "公告", "通告", "报告", "请示", "批复", "议案",
    "函", "纪要", "办法", "规定", "规划", "细则", "措施", "要点"};

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && strcmp(s + a - b, t) == 0;
}

/* The title without trailing marks: (试行), (征求意见稿), quotes. */
static void strip_title(char *t)
{
    static const char *const tails[] = {"》", "\"", "”"};
    for (int again = 1; again;) {
        again = 0;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' '))
            t[--n] = '\0';
        for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++)
            if (ends_with(t, tails[i])) {
                t[strlen(t) - strlen(tails[i])] = '\0';
                again = 1;
            }
        /* a trailing (试行), (摘要), (征求意见稿), ... */
        n = strlen(t);
        if (n > 2 && t[n - 1] == ')') {
            char *open = strrchr(t, '(');
            if (open && open > t && (size_t)(t + n - open) <= 20) {
                *open = '\0';
                again = 1;
            }
        }
    }
}

static const char *type_of(const char *title)
{
    char t[1024];
    snprintf(t, sizeof t, "%s", title);
    strip_title(t);
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (ends_with(t, TYPES[i]))
            return TYPE_OF[i];
    return NULL;
}

/* XX市政府 -> XX市人民政府; spaces out. */
static void canonical_agency(const char *s, char *out, size_t cap)
{
    dm_agency(s, out, cap);
}

int dm_type_known(const char *t)
{
    if (strcmp(t, "新闻") == 0 || strcmp(t, "其他") == 0)
        return 1;
    for (size_t i = 0; i < sizeof TYPE_OF / sizeof TYPE_OF[0]; i++)
        if (strcmp(t, TYPE_OF[i]) == 0)
            return 1;
    return 0;
}

void dm_agency(const char *s, char *out, size_t cap)
{
    ps_buf b;
    ps_buf_init(&b);
    for (const char *p = s; *p; p++)
        if (*p != ' ')
            ps_buf_addc(&b, *p);
    const char *v = b.data ? b.data : "";
    if (ends_with(v, "政府") && !ends_with(v, "人民政府") && strlen(v) > 6)
        snprintf(out, cap, "%.*s人民政府", (int)(strlen(v) - 6), v);
    else
        snprintf(out, cap, "%s", v);
    ps_buf_free(&b);
}

static void add_agency(json_t *list, const char *name)
{
    char c[GROUP_BYTES];
    canonical_agency(name, c, sizeof c);
    if (!*c || json_array_size(list) >= MAX_AGENCY)
        return;
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(json_string_value(json_array_get(list, i)), c) == 0)
            return;
    json_array_append_new(list, json_string(c));
}

/* Splits s at spaces, commas and 、 into agencies whose names end like
 * one; returns how many. */
static int add_agencies(reader *rd, json_t *list, const char *s)
{
    ps_buf b;
    ps_buf_init(&b);
    int added = 0;
    for (const char *p = s;; ) {
        int sep = 0;
        size_t skip = 0;
        if (!*p) {
            sep = 1;
        } else if (*p == ' ' || *p == ',') {
            sep = 1;
            skip = 1;
        } else if (strncmp(p, "、", strlen("、")) == 0) {
            sep = 1;
            skip = strlen("、");
        }
        if (sep) {
            char g[1][GROUP_BYTES];
            if (b.len && rx_find(&rd->agency_line, b.data, g, 0)) {
                add_agency(list, b.data);
                added++;
            }
            b.len = 0;
            if (!*p)
                break;
            p += skip;
            continue;
        }
        ps_buf_addc(&b, *p++);
    }
    ps_buf_free(&b);
    return added;
}

static const char *meta_value(const ext_meta *m, size_t n, const char *const *keys,
                              size_t nk)
{
    for (size_t k = 0; k < nk; k++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(m[i].key, keys[k]) == 0 && m[i].value && *m[i].value)
                return m[i].value;
    return NULL;
}

/* A date in metadata form (2024-03-05, 2024年3月5日, 2024/3/5 10:00). */
static int iso_date(reader *rd, const char *s, char out[11])
{
    char err[PS_ERRLEN], g[3][GROUP_BYTES];
    ps_buf f;
    ps_buf_init(&f);
    int ok = 0;
    if (norm_fold(s, strlen(s), &f, err) == 0 &&
        rx_find(&rd->isodate, f.data ? f.data : "", g, 3)) {
        int y = atoi(g[0]), m = atoi(g[1]), d = atoi(g[2]);
        if (valid_date(y, m, d)) {
            snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
            ok = 1;
        }
    }
    ps_buf_free(&f);
    return ok;
}

/* A line that is a date alone (二〇二四年三月五日 too). */
static int line_date(reader *rd, const char *s, char out[11])
{
    char g[3][GROUP_BYTES];
    if (!rx_find(&rd->date, s, g, 3))
        return 0;
    int y = cn_number(g[0], 1), m = cn_number(g[1], 0), d = cn_number(g[2], 0);
    if (!valid_date(y, m, d))
        return 0;
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
    return 1;
}

/* s without leading and trailing spaces, tabs and ideographic spaces. */
static char *trimmed(const char *s)
{
    const char *a = s, *e = s + strlen(s);
    for (;;) {
        if (a < e && (*a == ' ' || *a == '\t' || *a == '\r'))
            a++;
        else if (e - a >= 3 && memcmp(a, "\xe3\x80\x80", 3) == 0)
            a += 3;
        else
            break;
    }
    for (;;) {
        if (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        else if (e - a >= 3 && memcmp(e - 3, "\xe3\x80\x80", 3) == 0)
            e -= 3;
        else
            break;
    }
    return ps_xstrndup(a, (size_t)(e - a));
}

/* v as the title: folded into title (to read), trimmed into shown (as
 * the source writes it); both cap bytes. */
static void take_title(const char *v, char *title, char *shown, size_t cap,
                       char *err)
{
    ps_buf f;
    ps_buf_init(&f);
    if (norm_fold(v, strlen(v), &f, err) == 0)
        snprintf(title, cap, "%s", f.data ? f.data : "");
    ps_buf_free(&f);
    char *t = trimmed(v);
    snprintf(shown, cap, "%s", t);
    free(t);
}

static int has_sentence_mark(const char *s)
{
    return strstr(s, "。") || strstr(s, ";") || strstr(s, "!") ||
           strstr(s, "?") || strstr(s, ",");
}

static json_t *extract(const char *const *lines, size_t n, const ext_meta *meta,
                       size_t nmeta, const char *title_hint,
                       const char *marked_title, char *err);

json_t *dm_extract(const char *const *lines, size_t n, const ext_meta *meta,
                   size_t nmeta, const char *title_hint, char *err)
{
    return extract(lines, n, meta, nmeta, title_hint, NULL, err);
}

static json_t *extract(const char *const *lines, size_t n, const ext_meta *meta,
                       size_t nmeta, const char *title_hint,
                       const char *marked_title, char *err)
{
    reader rd;
    memset(&rd, 0, sizeof rd);
    const char *HAN_AGENCY =
        "^[\\p{Han}()]{2,40}(人民政府|政府|委员会|办公室|办公厅|局|厅|部|委|院|"
        "中心|党委|人大常委会|政协|总队|支队|协会|公司|银行|研究会|领导小组|指挥部|"
        "公署|管委会|管理委员会)$";
    if (rx_open(&rd.number, "(?:^|\\s)([\\p{Han}]{1,14}?)\\s*[〔\\[【(（{]\\s*(\\d{4})"
                "\\s*[〕\\]】)）}]\\s*第?\\s*0*(\\d{1,6})\\s*号", err) < 0 ||
        rx_open(&rd.date, "^\\s*[(（]?\\s*(\\d{4}|[〇零○o一二三四五六七八九]{4})\\s*年\\s*"
                "(\\d{1,2}|[一二三四五六七八九十]{1,3})\\s*月\\s*"
                "(\\d{1,2}|[一二三四五六七八九十]{1,3})\\s*日\\s*[)）]?\\s*$", err) < 0 ||
        rx_open(&rd.isodate, "(\\d{4})\\s*[-/.年]\\s*(\\d{1,2})\\s*[-/.月]\\s*"
                "(\\d{1,2})", err) < 0 ||
        rx_open(&rd.year, "((?:19|20)\\d{2})\\s*年", err) < 0 ||
        rx_open(&rd.report, "([[\\p{Han}]-[年]]{2,14}?(?:自治区|省|市|县|区|旗|盟|州))"
                "(?:\\d{4}年)?(?:人民)?政府工作报告", err) < 0 ||
        rx_open(&rd.agency_line, HAN_AGENCY, err) < 0 ||
        rx_open(&rd.header, "^(.{2,80}?)\\s*文件$", err) < 0 ||
        rx_open(&rd.news, "(记者|通讯员|讯\\s|讯\\)|来源:|本报讯|新华社)", err) < 0 ||
        rx_open(&rd.addressee, "[::]$", err) < 0 ||
        rx_open(&rd.section, "^(?:[一二三四五六七八九十]+、|\\(?[一二三四五六七八九十]+\\)|"
                "第[一二三四五六七八九十]+[章节条]|\\d+\\.)", err) < 0) {
        rx_close(&rd.section);
        rx_close(&rd.number), rx_close(&rd.date), rx_close(&rd.isodate);
        rx_close(&rd.year), rx_close(&rd.report), rx_close(&rd.agency_line);
        rx_close(&rd.header), rx_close(&rd.news), rx_close(&rd.addressee);
        return NULL;
    }
    /* Fold and trim the lines that are read: the first HEAD_LINES and
     * the last TAIL_LINES that are not blank (the body is not needed). */
    size_t *keep = ps_xmalloc((n ? n : 1) * sizeof(size_t)), nk = 0;
    for (size_t i = 0; i < n; i++) {
        const char *l = lines[i];
        while (*l == ' ' || *l == '\t' || *l == '\r' ||
               strncmp(l, "\xe3\x80\x80", 3) == 0)
            l += *l == '\xe3' ? 3 : 1;
        if (*l)
            keep[nk++] = i;
    }
    if (nk > HEAD_LINES + TAIL_LINES) {
        memmove(keep + HEAD_LINES, keep + nk - TAIL_LINES, TAIL_LINES * sizeof(size_t));
        nk = HEAD_LINES + TAIL_LINES;
    }
    rd.line = ps_xcalloc(nk ? nk : 1, sizeof(char *));
    rd.src = ps_xcalloc(nk ? nk : 1, sizeof(char *));
    for (size_t j = 0; j < nk; j++) {
        size_t i = keep[j];
        ps_buf f;
        ps_buf_init(&f);
        if (norm_fold(lines[i], strlen(lines[i]), &f, err) < 0) {
            ps_buf_free(&f);
            continue;
        }
        /* whitespace runs become one space (kept between Chinese words:
         * a joint header's agencies are separated by it) */
        ps_buf sq;
        ps_buf_init(&sq);
        int space = 0;
        for (size_t k = 0; k < f.len; k++) {
            char c = f.data[k];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
                space = sq.len > 0;
                continue;
            }
            if (space)
                ps_buf_addc(&sq, ' ');
            space = 0;
            ps_buf_addc(&sq, c);
        }
        ps_buf_free(&f);
        if (sq.len) {
            rd.src[rd.n] = trimmed(lines[i]);
            rd.line[rd.n++] = ps_xstrdup(sq.data);
        }
        ps_buf_free(&sq);
    }
    free(keep);
    json_t *out = json_object(), *agencies = json_array();
    char g[4][GROUP_BYTES], buf[1024];
    size_t head = rd.n < HEAD_LINES ? rd.n : HEAD_LINES;

    /* The file's own statements first. */
    static const char *const K_AGENCY[] = {"发文机关", "发布机构", "发文单位", "Author"};
    static const char *const K_NUMBER[] = {"发文字号", "文号"};
    static const char *const K_DATE[] = {"成文日期", "印发日期"};
    static const char *const K_PUB[] = {"发布日期", "发布时间", "PubDate", "pubdate"};
    static const char *const K_TITLE[] = {"标题", "ArticleTitle", "名称"};
    const char *v;
    if ((v = meta_value(meta, nmeta, K_AGENCY, 4))) {
        ps_buf f;
        ps_buf_init(&f);
        if (norm_fold(v, strlen(v), &f, err) == 0)
            add_agencies(&rd, agencies, f.data ? f.data : "");
        ps_buf_free(&f);
    }
    char num[GROUP_BYTES] = "";
    if ((v = meta_value(meta, nmeta, K_NUMBER, 2)))
        dm_number(v, num, sizeof num);
    char date[11] = "", pub[11] = "";
    if ((v = meta_value(meta, nmeta, K_DATE, 2)))
        iso_date(&rd, v, date);
    if ((v = meta_value(meta, nmeta, K_PUB, 4)))
        iso_date(&rd, v, pub);
    /* title: folded (to read), shown: as the source writes it */
    char title[1024] = "", shown[1024] = "";
    if (!(v = meta_value(meta, nmeta, K_TITLE, 3)))
        v = marked_title && *marked_title ? marked_title : NULL;
    if (v)
        take_title(v, title, shown, sizeof title, err);

    /* The header area: red header (XX文件), number, title. */
    size_t after_header = 0;
    for (size_t i = 0; i < head; i++) {
        if (strlen(rd.line[i]) <= 120 && !has_sentence_mark(rd.line[i]) &&
            rx_find(&rd.header, rd.line[i], g, 1)) {
            if (!add_agencies(&rd, agencies, g[0])) {
                /* joint: the agencies on the lines above "文件" */
                for (size_t k = 0; k < i; k++)
                    add_agencies(&rd, agencies, rd.line[k]);
            }
            after_header = i + 1;
        }
    }
    size_t title_from = after_header;
    for (size_t i = 0; i < head && !*num; i++)
        if (rx_find(&rd.number, rd.line[i], g, 3))
            snprintf(num, sizeof num, "%s〔%s〕%s号", g[0], g[1], g[2]);
    for (size_t i = 0; i < head && !*num; i++)
        dm_number(rd.line[i], num, sizeof num);
    if (!*title) {
        /* The first lines that read like a title (no sentence marks, not a
         * marker, an addressee or a date), two joined when the first does
         * not end the title. */
        for (size_t i = title_from; i < head && !*title; i++) {
            const char *l = rd.line[i];
            char d[11];
            char nb[GROUP_BYTES];
            if (rx_find(&rd.addressee, l, g, 0) || has_sentence_mark(l))
                break;          /* the body has begun */
            if (strlen(l) <= 9 || strstr(l, "签发人") || line_date(&rd, l, d) ||
                rx_find(&rd.number, l, g, 0) || dm_number(l, nb, sizeof nb) ||
                rx_find(&rd.section, l, g, 0) || ps_table_row(l, strlen(l)))
                continue;
            snprintf(title, sizeof title, "%s", l);
            snprintf(shown, sizeof shown, "%s", rd.src[i]);
            if (!type_of(title) && i + 1 < head) {
                const char *nx = rd.line[i + 1];
                if (strlen(nx) <= 90 && !has_sentence_mark(nx) &&
                    !rx_find(&rd.addressee, nx, g, 0) && !line_date(&rd, nx, d) &&
                    !rx_find(&rd.section, nx, g, 0)) {
                    snprintf(buf, sizeof buf, "%s%s", title, nx);
                    if (type_of(buf)) {
                        snprintf(title, sizeof title, "%s", buf);
                        snprintf(buf, sizeof buf, "%s%s", shown, rd.src[i + 1]);
                        snprintf(shown, sizeof shown, "%s", buf);
                    }
                }
            }
        }
        if (!*title && title_hint && *title_hint)
            take_title(title_hint, title, shown, sizeof title, err);
    }

    /* The end: the date above the seal, the signature above it. */
    size_t tail = rd.n > TAIL_LINES ? rd.n - TAIL_LINES : 0;
    for (size_t i = rd.n; i-- > tail;) {
        char d[11];
        if (!line_date(&rd, rd.line[i], d))
            continue;
        if (!*date)
            snprintf(date, sizeof date, "%s", d);
        for (size_t k = i; k-- > tail && i - k <= 4;) {
            if (!add_agencies(&rd, agencies, rd.line[k]))
                break;
        }
        break;
    }
    /* A report's government from its title; a year from the title. */
    if (*title && rx_find(&rd.report, title, g, 1)) {
        snprintf(buf, sizeof buf, "%s人民政府", g[0]);
        add_agency(agencies, buf);
    }
    if (!*date && !*pub && *title && rx_find(&rd.year, title, g, 1))
        snprintf(date, sizeof date, "%s", g[0]);

    /* The kind: the title's last word; news by its byline. */
    const char *type = *title ? type_of(title) : NULL;
    if (!type) {
        int news = 0;
        for (size_t i = 0; i < head && !news; i++)
            news = rx_find(&rd.news, rd.line[i], g, 0);
        type = news ? "新闻" : "其他";
    }

    /* a very long title was cut at its buffer: at a whole character */
    size_t sl = strlen(shown);
    while (sl && !ps_utf8_valid(shown, sl))
        shown[--sl] = '\0';
    if (*shown)
        json_object_set_new(out, "title", json_string(shown));
    if (json_array_size(agencies))
        json_object_set(out, "agency", agencies);
    json_decref(agencies);
    if (*num)
        json_object_set_new(out, "number", json_string(num));
    if (*date)
        json_object_set_new(out, "date", json_string(date));
    if (*pub)
        json_object_set_new(out, "published", json_string(pub));
    json_object_set_new(out, "type", json_string(type));
    for (size_t i = 0; i < rd.n; i++) {
        free(rd.line[i]);
        free(rd.src[i]);
    }
    free(rd.line);
    free(rd.src);
    rx_close(&rd.number), rx_close(&rd.date), rx_close(&rd.isodate);
    rx_close(&rd.year), rx_close(&rd.report), rx_close(&rd.agency_line);
    rx_close(&rd.header), rx_close(&rd.news), rx_close(&rd.addressee);
    rx_close(&rd.section);
    return out;
}

json_t *dm_from_doc(const ext_doc *xd, char *err)
{
    size_t n = 0, cap = 0;
    char **lines = NULL;
    for (size_t i = 0; i < xd->nin; i++) {
        const char *t = xd->in[i].text, *end = t + xd->in[i].len;
        while (t < end) {
            const char *nl = memchr(t, '\n', (size_t)(end - t));
            const char *e = nl ? nl : end;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                lines = ps_xrealloc(lines, cap * sizeof(char *));
            }
            /* page breaks and carriage returns are line ends too */
            char *l = ps_xstrndup(t, (size_t)(e - t));
            for (char *c = l; *c; c++)
                if (*c == '\f' || *c == '\r')
                    *c = ' ';
            lines[n++] = l;
            t = nl ? nl + 1 : end;
        }
    }
    /* A title the format marks as such (a DOCX Title style) is the title. */
    const char *marked = NULL;
    for (size_t i = 0; i < xd->nin && !marked; i++)
        if (xd->in[i].kind == PSG_IN_TITLE)
            marked = xd->title;
    json_t *o = extract((const char *const *)lines, n, xd->meta, xd->nmeta,
                        xd->title, marked, err);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return o;
}
