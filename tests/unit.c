/*
 * unit.c: unit tests of the C modules: UTF-8 helpers, normalization,
 * decoding, passages, tokenization, numbers (data-driven from
 * tests/data/numbers.test), regions, sectors, query parsing and snippets.
 */
#include "analyze.h"
#include "grams.h"
#include "ncache.h"
#include "docmeta.h"
#include "decode.h"
#include "normalize.h"
#include "numbers.h"
#include "passage.h"
#include "query.h"
#include "regions.h"
#include "sectors.h"
#include "snippet.h"
#include "xap.h"
#include "schema.h"
#include "search.h"
#include "tokenize.h"
#include "util.h"
#include "vrange.h"
#include "fcount.h"
#include "blockcheck.h"
#include "dset.h"
#include "fcol.h"
#include "fdict.h"

#include "testhelp.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *fold(const char *s)
{
    ps_buf b;
    ps_buf_init(&b);
    char err[PS_ERRLEN];
    norm_query(s, strlen(s), &b, err);
    return ps_buf_steal(&b);
}

static void test_utf8_and_amounts(void)
{
    CHECK(ps_utf8_valid("防沙治沙", strlen("防沙治沙")));
    CHECK(!ps_utf8_valid("\xff\xfe", 2));
    CHECK(!ps_utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
    CHECK(!ps_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    /* Messages quote input cut at a whole character, bad bytes as '?'. */
    CHECK(ps_clip("防沙治沙", 7) == 6 && ps_clip("防沙治沙", 6) == 6);
    CHECK(ps_clip("防沙", 100) == 6 && ps_clip("ab", 1) == 1 && ps_clip("防", 2) == 0);
    char scrub[] = "a\xff\xe9\x98\xb2\xe9\x98" "b";
    ps_utf8_scrub(scrub);
    CHECK_STR(scrub, "a?防??b");
    CHECK(ps_utf8_count("防沙a", strlen("防沙a")) == 3);
    double v;
    CHECK(ps_parse_amount("100万", &v) == 0 && v == 1e6);
    CHECK(ps_parse_amount("1.5亿", &v) == 0 && v == 1.5e8);
    CHECK(ps_parse_amount("2e6", &v) == 0 && v == 2e6);
    CHECK(ps_parse_amount("１２.５", &v) == 0 && v == 12.5);
    CHECK(ps_parse_amount("abc", &v) < 0);
    CHECK(ps_parse_amount("", &v) < 0);
    CHECK(ps_parse_amount("万", &v) < 0);
    long l;
    CHECK(ps_parse_long("12x", &l) < 0 && ps_parse_long("-3", &l) == 0 && l == -3);
}

static void test_normalize(void)
{
    struct { const char *in, *out; } cases[] = {
        {"鄉村振興", "乡村振兴"},
        {"１２０９１名", "12091名"},
        {"ＡＢＣ Def", "abc def"},
        {"防沙\n治沙", "防沙治沙"},
        {"防沙 　治沙", "防沙治沙"},
        {"13.02 万亩", "13.02 万亩"},
        {"交易转化 2412\n笔", "交易转化 2412笔"},
        {"5G  网络", "5g 网络"},
        {"hello\nworld", "hello world"},
        {"  前后空白  ", "前后空白"},
        {"，\n新增", ",新增"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = fold(cases[i].in);
        CHECK_STR(f, cases[i].out);
        free(f);
    }
    CHECK(norm_t2s(0x9109) == 0x4E61);             /* 鄉 -> 乡 */
}

static void test_decode(void)
{
    char *out, err[PS_ERRLEN];
    size_t n;
    const char *enc;
    /* "政策" in GB18030 */
    CHECK(dec_to_utf8("\xd5\xfe\xb2\xdf", 4, &out, &n, &enc, err) == 0);
    CHECK_STR(enc, "GB18030");
    CHECK_STR(out, "政策");
    free(out);
    /* UTF-16LE with BOM */
    CHECK(dec_to_utf8("\xff\xfe\x3f\x65\x56\x7b", 6, &out, &n, &enc, err) == 0);
    CHECK_STR(out, "政策");
    free(out);
    CHECK(dec_to_utf8("\xef\xbb\xbf\xe6\x94\xbf", 6, &out, &n, &enc, err) == 0);
    CHECK_STR(out, "政");
    free(out);
    CHECK(dec_to_utf8("ab\0cd", 5, &out, &n, &enc, err) < 0 && strstr(err, "binary"));
    ps_buf b;
    ps_buf_init(&b);
    for (int i = 0; i < 50; i++)
        ps_buf_adds(&b, "正常的文字");
    ps_buf_add(&b, "\xff", 1);
    CHECK(dec_to_utf8(b.data, b.len, &out, &n, &enc, err) < 0 &&
          strstr(err, "invalid UTF-8"));
    ps_buf_free(&b);
    CHECK(dec_to_utf8("", 0, &out, &n, &enc, err) == 0 && n == 0);
    free(out);
}

/* norm_text_map gives what norm_query gives, and maps each output byte
 * back to the source characters that produced it. */
static void test_text_map(void)
{
    static const char *const cases[] = {
        "赤峰市完成防沙治沙任务４６２万亩，增长８．５％。",
        "鄉村振興戰略  全面推進\n到２０２５年",
        "Hello\nWorld  ABC 防沙\n治沙",
        "e\xcc\x81t\xc3\xa9 \xef\xac\x81 \xe3\x88\xb1 ①②",   /* e+combining, ligature, ㈱ */
        "  leading and trailing  ",
        "",
    };
    char err[PS_ERRLEN];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *s = cases[c];
        ps_buf a, b;
        ps_buf_init(&a);
        ps_buf_init(&b);
        uint32_t *from = NULL, *to = NULL;
        CHECK(norm_query(s, strlen(s), &a, err) == 0);
        CHECK(norm_text_map(s, strlen(s), &b, &from, &to, err) == 0);
        CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        for (size_t i = 0; i < b.len; i++)
            CHECK(from[i] <= to[i] && to[i] <= strlen(s));
        free(from);
        free(to);
        ps_buf_free(&a);
        ps_buf_free(&b);
    }
    /* "，" folds to ","; its source is the full-width character. */
    const char *s = "防沙，治沙";
    ps_buf b;
    ps_buf_init(&b);
    uint32_t *from, *to;
    norm_text_map(s, strlen(s), &b, &from, &to, err);
    CHECK_STR(b.data, "防沙,治沙");
    CHECK(from[6] == 6 && to[6] == 9);
    free(from);
    free(to);
    ps_buf_free(&b);
}

static void test_passages(void)
{
    char err[PS_ERRLEN];
    const char *doc =
        "# 标题在这里\n\n"
        "第一段的第一行文字在这里继续写下去，直到换\n"
        "行为止，这一段被硬换行切成了好几行文字呀\n"
        "最后一行。\n\n"
        "- 12 -\n\n"
        "二、工作安排\n\n"
        "第二段只有一行。\n";
    psg_doc *d = psg_parse(doc, strlen(doc), "fallback", err);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK_STR(d->title, "标题在这里");
    /* Every block is a passage: title, text, page number, heading, text. */
    CHECK(d->npassages == 5);
    if (d->npassages == 5) {
        CHECK_STR(d->passages[0].text, "标题在这里");
        CHECK(d->passages[0].kind == PSG_K_TITLE);
        CHECK(strstr(d->passages[1].text, "直到换行为止") != NULL);
        CHECK(d->passages[1].kind == PSG_K_TEXT && !d->passages[1].heading);
        CHECK_STR(d->passages[2].text, "- 12 -");
        CHECK_STR(d->passages[3].text, "二、工作安排");
        CHECK(d->passages[3].kind == PSG_K_HEADING);
        CHECK(d->passages[4].heading && strcmp(d->passages[4].heading, "二、工作安排") == 0);
        CHECK(d->passages[4].ordinal == 4);
    }
    psg_doc_free(d);

    /* Paged text: a form feed starts a page, and a paragraph broken at the
     * page end is one passage that starts on the first page. */
    const char *paged =
        "第一页的文字写到这里还没有写完，这一行很长很长很长很长很长\n"
        "继续写下去，一直写到页面的末尾为止，这一行也很长很长很长很\n"
        "长，然后这一段在下一页\f"
        "接着写完了。\n\n"
        "第二页的第二段。\n";
    psg_input in = {PSG_IN_LINES, paged, strlen(paged), 1};
    d = psg_parse_input(&in, 1, "x", err);
    CHECK(d && d->npassages == 2);
    if (d && d->npassages == 2) {
        CHECK(strstr(d->passages[0].text, "这一段在下一页接着写完了") != NULL);
        CHECK(d->passages[0].page == 1 && d->passages[1].page == 2);
    }
    psg_doc_free(d);

    /* Blocks of a structured format keep the kind the format gives. */
    psg_input blocks[] = {
        {PSG_IN_TITLE, "关于印发方案的通知", 27, 0},
        {PSG_IN_HEADING, "一、总体要求", 18, 0},
        {PSG_IN_PARA, "第一段。", 12, 0},
        {PSG_IN_CELL, "1273万亩", 10, 0},
    };
    d = psg_parse_input(blocks, 4, "x", err);
    CHECK(d && d->npassages == 4);
    if (d && d->npassages == 4) {
        CHECK_STR(d->title, "关于印发方案的通知");
        CHECK(d->passages[0].kind == PSG_K_TITLE && d->passages[1].kind == PSG_K_HEADING &&
              d->passages[2].kind == PSG_K_TEXT && d->passages[3].kind == PSG_K_TABLE);
        CHECK(d->passages[2].heading && strcmp(d->passages[2].heading, "一、总体要求") == 0);
        CHECK_STR(d->passages[3].text, "1273万亩");
    }
    psg_doc_free(d);

    /* A scanned continuation page as OCR reads it: a table's last row,
     * wide with its spaces, then a numbered heading.  The row is text,
     * the heading starts a block of its own, and neither is the title. */
    const char *ocr =
        "敖汉旗   98.2          2.9\n"
        "四、保障措施\n"
        "各旗县区人民政府是防沙治沙工作的责任主体，要建立月调度、季\n"
        "通报、年考核工作机制，将任务完成情况纳入年度实绩考核， 财\n"
        "政、林草、能源等部门要加强协作，确保各项资金及时足额到位。\n";
    d = psg_parse(ocr, strlen(ocr), "plan-page2", err);
    CHECK(d && d->npassages == 3);
    if (d && d->npassages == 3) {
        CHECK_STR(d->title, "plan-page2");
        CHECK(d->passages[0].kind == PSG_K_TEXT && strstr(d->passages[0].text, "98.2"));
        CHECK(d->passages[1].kind == PSG_K_HEADING);
        CHECK_STR(d->passages[1].text, "四、保障措施");
        CHECK(d->passages[2].heading && strcmp(d->passages[2].heading, "四、保障措施") == 0);
    }
    psg_doc_free(d);
    /* A wrap mid-sentence before a section's number is not a new
     * section. */
    const char *wraps[] = {
        "坚持农牧业优先发展，深入推进农村牧区改革，加快推动一、\n"
        "二、三产业融合发展，带动农牧民持续增收致富奔小康，全面\n"
        "推进乡村振兴。\n",
        "违反规定的，由县级以上人民政府林业草原主管部门依照本条例\n"
        "第三十二条规定责令改正，没收违法所得，并处罚款，情节严\n"
        "重的依法追究责任。\n"};
    for (size_t k = 0; k < 2; k++) {
        d = psg_parse(wraps[k], strlen(wraps[k]), "x", err);
        CHECK(d && d->npassages == 1 &&
              (strstr(d->passages[0].text, "一、二、三产业") ||
               strstr(d->passages[0].text, "本条例第三十二条")));
        psg_doc_free(d);
    }
    CHECK(ps_table_row("敖汉旗 98.2 2.9", strlen("敖汉旗 98.2 2.9")));
    CHECK(ps_table_row("1 | 5.2 | 2025", strlen("1 | 5.2 | 2025")));
    CHECK(!ps_table_row("赤峰市2025年政府工作报告", strlen("赤峰市2025年政府工作报告")));
    CHECK(!ps_table_row("政 府 工 作 报 告", strlen("政 府 工 作 报 告")));
    CHECK(!ps_table_row("第 3 页", strlen("第 3 页")));
    /* Body text a format marks as such (a slide's) is never a heading,
     * and a piece's own page is its block's. */
    psg_input slide[] = {
        {PSG_IN_HEADING, "一、主要目标", 18, 2},
        {PSG_IN_TEXT, "新增风电光伏装机200万千瓦", 36, 2},
    };
    d = psg_parse_input(slide, 2, "x", err);
    CHECK(d && d->npassages == 2);
    if (d && d->npassages == 2)
        CHECK(d->passages[1].kind == PSG_K_TEXT && d->passages[1].page == 2 &&
              d->passages[0].page == 2);
    psg_doc_free(d);

    /* A long paragraph is cut at sentence ends into pieces of at most
     * PSG_MAX_CHARS characters. */
    ps_buf b;
    ps_buf_init(&b);
    for (int i = 0; i < 60; i++)
        ps_buf_adds(&b, "这是一个用来测试切分的句子。");
    d = psg_parse(b.data, b.len, "x", err);
    CHECK(d && d->npassages >= 3);
    for (size_t i = 0; d && i < d->npassages; i++) {
        CHECK(ps_utf8_count(d->passages[i].text, strlen(d->passages[i].text)) <= PSG_MAX_CHARS);
        const char *t = d->passages[i].text;
        CHECK(strcmp(t + strlen(t) - 3, "。") == 0);
    }
    psg_doc_free(d);
    ps_buf_free(&b);
}

static int count_tokens(void *ctx, const char *t, size_t n, size_t s, size_t e)
{
    (void)s;
    (void)e;
    ps_buf *b = ctx;
    if (b->len)
        ps_buf_addc(b, '|');
    ps_buf_add(b, t, n);
    return 0;
}

static void test_tokenize_and_regions(const ana_res *res)
{
    char err[PS_ERRLEN];
    tok_state *ts = tok_state_create(ana_lexicon(res, 0, err), err);
    CHECK(ts != NULL);
    ps_buf b;
    ps_buf_init(&b);
    const char *t = "赤峰市全力推进防沙治沙和以工代赈";
    tok_run(ts, t, strlen(t), count_tokens, &b, err);
    CHECK(strstr(b.data, "赤峰市|") != NULL);
    CHECK(strstr(b.data, "防沙治沙") != NULL);
    CHECK(strstr(b.data, "以工代赈") != NULL);
    ps_buf_free(&b);
    /* The names lexicon finds where a region name or keyword starts. */
    CHECK(tok_lexicon_word_at(ana_lexicon(res, 1, err), "赤峰市全力", strlen("赤峰市全力")) == 1);
    CHECK(tok_lexicon_word_at(ana_lexicon(res, 1, err), "全力推进", strlen("全力推进")) == 0);
    CHECK(tok_lexicon_word_at(ana_lexicon(res, 1, err), "赤", strlen("赤")) == 0);
    tok_state_destroy(ts);

    const reg_gazetteer *g = res->gaz;
    int c[8];
    CHECK(reg_lookup(g, "内蒙古", strlen("内蒙古"), c, 8) == 1 &&
          strcmp(reg_name(g, c[0]), "内蒙古自治区") == 0);
    CHECK(reg_lookup(g, "赤峰", strlen("赤峰"), c, 8) == 1 &&
          strcmp(reg_code(g, c[0]), "150400") == 0);
    int br = reg_by_code(g, "150423");
    CHECK(br >= 0 && strcmp(reg_name(g, br), "巴林右旗") == 0);
    CHECK(reg_is_within(g, br, reg_by_code(g, "150000")));
    CHECK(reg_lookup(g, "城区", strlen("城区"), c, 8) == 0);   /* too generic */
    size_t n = reg_lookup(g, "新城区", strlen("新城区"), c, 8);
    CHECK(n >= 2);
    int hohhot = reg_by_code(g, "150100");
    int r = reg_resolve(g, c, n, &hohhot, 1);
    CHECK(r >= 0 && strcmp(reg_code(g, r), "150102") == 0);
    CHECK(reg_resolve(g, c, n, NULL, 0) < 0 ||
          reg_level(g, reg_resolve(g, c, n, NULL, 0)) < 3);
    /* A name written as a path picks the one meant. */
#define PATH(s) reg_lookup_path(g, s, strlen(s), c, 8)
    CHECK(PATH("朝阳区") >= 2);
    CHECK(PATH("北京市朝阳区") == 1 && strcmp(reg_code(g, c[0]), "110105") == 0);
    CHECK(PATH("吉林长春朝阳区") == 1 && strcmp(reg_code(g, c[0]), "220104") == 0);
    CHECK(PATH("内蒙古自治区赤峰市巴林右旗") == 1 && c[0] == br);
    CHECK(PATH("赤峰巴林右旗") == 1 && c[0] == br);
    CHECK(PATH("赤峰市") == 1 && strcmp(reg_code(g, c[0]), "150400") == 0);
    CHECK(PATH("巴林右旗赤峰市") == 0);         /* not a path downwards */
    CHECK(PATH("赤峰市朝阳区") == 0);           /* no 朝阳区 in 赤峰 */
    CHECK(PATH("赤峰市赤峰市") == 0);
#undef PATH

    sec_score s;
    sec_score_reset(&s);
    sec_score_word(res->sec, &s, "防沙治沙", strlen("防沙治沙"));
    uint32_t m = sec_score_labels(res->sec, &s);
    int eco = sec_find(res->sec, "生态环保");
    CHECK(eco >= 0 && (m & (1u << eco)));
    CHECK(sec_count(res->sec) == 14);
}

static void test_numbers_data(const ana_res *res)
{
    char path[1024], err[PS_ERRLEN];
    snprintf(path, sizeof path, "%s/../tests/data/numbers.test", ps_data_dir());
    char *data;
    size_t len;
    if (ps_read_file(path, &data, &len, err) < 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        CHECK(0);
        return;
    }
    int cases = 0;
    char *save = NULL, *in = NULL;
    num_mention *ms = NULL;
    size_t nm = 0, k = 0;
    for (char *ln = strtok_r(data, "\n", &save);; ln = strtok_r(NULL, "\n", &save)) {
        if (!ln || strncmp(ln, "IN: ", 4) == 0) {
            if (in) {
                if (k != nm)
                    fprintf(stderr, "numbers.test: %s: %zu mentions, expected %zu\n", in, nm, k);
                CHECK(k == nm);
                free(ms);
                ms = NULL;
            }
            if (!ln)
                break;
            in = ln + 4;
            nm = num_extract(res->units, in, strlen(in), &ms);
            k = 0;
            cases++;
        } else if (strncmp(ln, "OUT: ", 5) == 0 && in) {
            if (strcmp(ln + 5, "-") == 0)
                continue;
            char surface[64], unit[32] = "";
            double v = 0;
            char *bar1 = strchr(ln + 5, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
            if (!bar2) {
                CHECK(0);
                continue;
            }
            snprintf(surface, sizeof surface, "%.*s", (int)(bar1 - ln - 5), ln + 5);
            v = atof(bar1 + 1);
            snprintf(unit, sizeof unit, "%s", bar2 + 1);
            int ok = k < nm && strcmp(ms[k].surface, surface) == 0 &&
                     fabs(ms[k].value - v) < 1e-9 * (fabs(v) + 1) &&
                     strcmp(ms[k].unit, unit) == 0;
            if (!ok)
                fprintf(stderr, "numbers.test: %s: mention %zu is %s|%g|%s, expected %s|%g|%s\n",
                        in, k, k < nm ? ms[k].surface : "-", k < nm ? ms[k].value : 0,
                        k < nm ? ms[k].unit : "-", surface, v, unit);
            CHECK(ok);
            k++;
        }
    }
    CHECK(cases >= 10);
    free(data);
}

static void test_query(void)
{
    char err[PS_ERRLEN];
    qry *q = qry_parse("防沙治沙 \"以工代赈\" 光伏 OR 风电 -煤炭", err);
    CHECK(q && q->n == 5 && q->ngroups == 4);
    if (q && q->n == 5) {
        CHECK(q->items[1].quoted && !q->items[0].quoted);
        CHECK(q->items[2].group == q->items[3].group);
        CHECK(q->items[4].negated);
    }
    qry_free(q);
    q = qry_parse("“鄉村振興”", err);
    CHECK(q && q->n == 1 && q->items[0].quoted && strcmp(q->items[0].text, "乡村振兴") == 0);
    qry_free(q);
    CHECK(qry_parse("\"unclosed", err) == NULL && strstr(err, "quote"));
    CHECK(qry_parse("OR x", err) == NULL);
    CHECK(qry_parse("x OR", err) == NULL);
    CHECK(qry_parse("x OR -y", err) == NULL);
    CHECK(qry_parse("\xff", err) == NULL && strstr(err, "UTF-8"));
    q = qry_parse("", err);
    CHECK(q && q->n == 0);
    qry_free(q);
    /* AND is what a space means; NOT is -; +term is a term. */
    q = qry_parse("光伏 AND 风电 NOT 煤炭 +储能", err);
    CHECK(q && q->n == 4 && q->ngroups == 4);
    if (q && q->n == 4) {
        CHECK_STR(q->items[1].text, "风电");
        CHECK(!q->items[1].negated && q->items[2].negated);
        CHECK_STR(q->items[2].text, "煤炭");
        CHECK_STR(q->items[3].text, "储能");
        CHECK(!q->items[3].negated);
    }
    qry_free(q);
    q = qry_parse("光伏 and 风电 \"AND\"", err);     /* only capitals */
    CHECK(q && q->n == 4 && q->items[3].quoted);
    qry_free(q);
    CHECK(qry_parse("AND x", err) == NULL && strstr(err, "AND"));
    CHECK(qry_parse("x AND", err) == NULL && strstr(err, "AND"));
    CHECK(qry_parse("x AND OR y", err) == NULL);
    CHECK(qry_parse("x NOT", err) == NULL && strstr(err, "NOT"));
    CHECK(qry_parse("NOT NOT x", err) == NULL && strstr(err, "NOT"));
    CHECK(qry_parse("NOT -x", err) == NULL && strstr(err, "NOT"));
    CHECK(qry_parse("x OR NOT y", err) == NULL && strstr(err, "excluded"));
}

static void test_snippet(void)
{
    ps_buf b;
    ps_buf_init(&b);
    const char *needles[] = {"防沙治沙", "防沙"};
    snip_make("赤峰<b>防沙治沙</b>&防沙", needles, 2, SNIP_CHARS, &b);
    CHECK_STR(b.data, "赤峰&lt;b&gt;<mark>防沙治沙</mark>&lt;/b&gt;&amp;<mark>防沙</mark>");
    ps_buf_free(&b);
    ps_buf_init(&b);
    ps_buf long_text;
    ps_buf_init(&long_text);
    for (int i = 0; i < 100; i++)
        ps_buf_adds(&long_text, "前文");
    ps_buf_adds(&long_text, "目标词");
    for (int i = 0; i < 100; i++)
        ps_buf_adds(&long_text, "后文");
    const char *n2[] = {"目标词"};
    snip_make(long_text.data, n2, 1, SNIP_CHARS, &b);
    CHECK(strstr(b.data, "<mark>目标词</mark>") != NULL);
    CHECK(strncmp(b.data, "…", 3) == 0);
    CHECK(ps_utf8_count(b.data, b.len) < SNIP_CHARS + 20);
    ps_buf_free(&b);
    ps_buf_init(&b);
    snip_make(long_text.data, n2, 1, 0, &b);        /* the whole text */
    CHECK(strncmp(b.data, "前文", 6) == 0 && strstr(b.data, "<mark>目标词</mark>后文"));
    ps_buf_free(&b);
    ps_buf_free(&long_text);
    /* Source text as written: marks land on the source characters, the
     * full-width and Traditional ones kept. */
    const char *n3[] = {"防沙治沙", "乡村振兴", "12091名,"};
    ps_buf_init(&b);
    snip_make("完成防沙\n治沙，推進鄉村振興，惠及１２０９１名，。", n3, 3, 0, &b);
    CHECK_STR(b.data, "完成<mark>防沙\n治沙</mark>，推進<mark>鄉村振興</mark>，惠及<mark>１２０９１名，</mark>。");
    ps_buf_free(&b);
}

/* An in-memory metadata store for the character index. */
typedef struct kv {
    char *k[4096], *v[4096];
    size_t kl[4096], vl[4096];
    size_t n;
} kv;

static int kv_put(void *ctx, const char *key, size_t klen, const char *val,
                  size_t vlen)
{
    kv *s = ctx;
    /* Like Xapian metadata: an empty value deletes, a key is replaced. */
    for (size_t i = 0; i < s->n; i++)
        if (s->kl[i] == klen && memcmp(s->k[i], key, klen) == 0) {
            free(s->k[i]);
            free(s->v[i]);
            memmove(&s->k[i], &s->k[i + 1], (s->n - i - 1) * sizeof(char *));
            memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(char *));
            memmove(&s->kl[i], &s->kl[i + 1], (s->n - i - 1) * sizeof(size_t));
            memmove(&s->vl[i], &s->vl[i + 1], (s->n - i - 1) * sizeof(size_t));
            s->n--;
            break;
        }
    if (vlen == 0)
        return 0;
    if (s->n == 4096)
        return 1;
    s->k[s->n] = ps_xstrndup(key, klen);
    s->kl[s->n] = klen;
    s->v[s->n] = ps_xmalloc(vlen + 1);
    memcpy(s->v[s->n], val, vlen);
    s->vl[s->n] = vlen;
    s->n++;
    return 0;
}

static int kv_scan(void *ctx, const char *prefix, size_t plen,
                   int (*cb)(void *, const char *, size_t, const char *, size_t),
                   void *cctx, char *err);

static int kv_fetch_one(void *ctx, const char *key, size_t klen,
                        const char *val, size_t vlen)
{
    (void)key;
    (void)klen;
    ps_buf *out = ctx;
    uint32_t l = (uint32_t)vlen;
    ps_buf_add(out, (const char *)&l, 4);
    ps_buf_add(out, val, vlen);
    return 0;
}

/* In key order, as Xapian gives them. */
static int kv_fetch(void *ctx, const char *prefix, size_t plen, ps_buf *out,
                    char *err)
{
    return kv_scan(ctx, prefix, plen, kv_fetch_one, out, err);
}

/* Where a reader finds the store's chunks: its segments, from their
 * dictionaries (a shard lists them under META_SEGMENTS); those starting
 * below kv_legacy keyed the old way (formats 5 to 8), the others segment
 * first, as written. */
static unsigned kv_legacy;

static const gram_src *kv_src(kv *s)
{
    static gram_seg segs[64];
    static gram_src src;
    size_t n = 0;
    size_t dl = strlen(META_SEGDICT);
    for (size_t i = 0; i < s->n && n < 64; i++)
        if (s->kl[i] == dl + 4 && memcmp(s->k[i], META_SEGDICT, dl) == 0) {
            unsigned first = ps_get_be32(s->k[i] + dl);
            gram_seg g = {first, 0, 0, 0, first >= kv_legacy, first};
            size_t j = n++;
            while (j > 0 && segs[j - 1].first > g.first) {
                segs[j] = segs[j - 1];
                j--;
            }
            segs[j] = g;
        }
    for (size_t i = 0; i < n; i++)
        segs[i].last = i + 1 < n ? segs[i + 1].first - 1 : UINT32_MAX;
    /* A merged segment's chunks carry a number of its own range. */
    for (size_t j = 0; j < s->n; j++) {
        unsigned no;
        if (gram_key_segment(s->k[j], s->kl[j], 1, &no) < 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (segs[i].seg_first && no >= segs[i].first && no <= segs[i].last)
                segs[i].key = no;
    }
    src.fetch = kv_fetch;
    src.ctx = s;
    src.segs = segs;
    src.nsegs = n;
    src.by_prefix = 0;
    return &src;
}

static int kv_get(void *ctx, const char *key, size_t klen, ps_buf *out,
                  char *err)
{
    (void)err;
    kv *s = ctx;
    out->len = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->kl[i] == klen && memcmp(s->k[i], key, klen) == 0)
            ps_buf_add(out, s->v[i], s->vl[i]);
    return 0;
}

/* The JSON string writer round-trips through a JSON parser. */
static void test_json_string(void)
{
    static const char in[] = "a\"b\\c\n\t\x01\x1f/防沙\xff\xe9z";
    ps_buf b;
    ps_buf_init(&b);
    ps_buf_add_json(&b, in, sizeof in - 1);
    json_error_t je;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, &je);
    CHECK(v && json_is_string(v));
    CHECK_STR(v ? json_string_value(v) : NULL,
              "a\"b\\c\n\t\x01\x1f/防沙\xef\xbf\xbd\xef\xbf\xbdz");
    json_decref(v);
    ps_buf_free(&b);
}

static int kv_scan(void *ctx, const char *prefix, size_t plen,
                   int (*cb)(void *, const char *, size_t, const char *, size_t),
                   void *cctx, char *err)
{
    (void)err;
    kv *s = ctx;
    /* Keys first, sorted, as Xapian gives them; then their values. */
    size_t n = 0;
    char **keys = ps_xmalloc((s->n + 1) * sizeof(char *));
    size_t *kl = ps_xmalloc((s->n + 1) * sizeof(size_t));
    for (size_t i = 0; i < s->n; i++)
        if (s->kl[i] >= plen && memcmp(s->k[i], prefix, plen) == 0) {
            size_t j = n++;
            while (j > 0) {
                size_t m = kl[j - 1] < s->kl[i] ? kl[j - 1] : s->kl[i];
                int c = memcmp(keys[j - 1], s->k[i], m);
                if (c < 0 || (c == 0 && kl[j - 1] < s->kl[i]))
                    break;
                keys[j] = keys[j - 1];
                kl[j] = kl[j - 1];
                j--;
            }
            keys[j] = ps_xstrndup(s->k[i], s->kl[i]);
            kl[j] = s->kl[i];
        }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < s->n && !rc; j++)
            if (s->kl[j] == kl[i] && memcmp(s->k[j], keys[i], kl[i]) == 0) {
                char *v = ps_xmalloc(s->vl[j] + 1);
                memcpy(v, s->v[j], s->vl[j]);
                size_t vl = s->vl[j];
                rc = cb(cctx, keys[i], kl[i], v, vl) ? -1 : 0;
                free(v);
                break;
            }
        free(keys[i]);
    }
    free(keys);
    free(kl);
    return rc;
}

typedef struct verify_texts {
    const char *const *t;
    size_t n;
} verify_texts;

/* Passage 2i+1 is t[i]; deleted ones (1, 3, 15) are not stored. */
static int verify_text(void *ctx, unsigned docid, ps_buf *out, int *live,
                       char *err)
{
    (void)err;
    const verify_texts *v = ctx;
    *live = 0;
    if (docid % 2 == 0 || docid == 1 || docid == 3 || docid == 15 ||
        (docid - 1) / 2 >= v->n)
        return 0;
    const char *t = v->t[(docid - 1) / 2];
    ps_buf_add(out, t, strlen(t));
    *live = 1;
    return 0;
}

/* The index of the byte before the end: the last position of a chunk's
 * last passage (its terminating 0 is the last byte). */
static size_t i_last_byte(size_t vl)
{
    return vl - 2;
}

/* 1 when gram_match finds needle in exactly the passages of texts[0..nt)
 * that contain it (passage i as docid mul * i + add), each with the
 * number of times it does (counted with strstr). */
static int matches_agree(kv *store, const char *needle,
                         const char *const *texts, size_t nt, unsigned mul,
                         unsigned add)
{
    char err[PS_ERRLEN];
    gram_hits h;
    memset(&h, 0, sizeof h);
    int ok = gram_match(needle, strlen(needle), kv_src(store), NULL, 0, &h,
                        err) == 0;
    size_t want = 0;
    for (size_t i = 0; i < nt; i++) {
        unsigned tf = 0;
        for (const char *p = strstr(texts[i], needle); p;
             p = strstr(p + ps_utf8_len((unsigned char)*p), needle))
            tf++;
        if (!tf)
            continue;
        ok &= want < h.n && h.docs[want] == mul * (unsigned)i + add &&
              h.tf[want] == tf;
        want++;
    }
    ok &= h.n == want;
    if (!ok)
        fprintf(stderr, "needle %s: %zu hits, want %zu\n", needle, h.n, want);
    gram_hits_free(&h);
    return ok;
}

/* Passages long enough that positions and their gaps take two and three
 * bytes: counts and matches are exact, and a chunk cut short (a passage
 * whose positions never end) is damage, in whichever list it is met. */
static void test_grams_long(void)
{
    static const char *const needles[] = {"治沙", "防沙治沙", "沙治", "沙",
                                          "防沙治沙防", "林", "林治沙"};
    ps_buf t[6];
    for (int i = 0; i < 6; i++) {
        ps_buf_init(&t[i]);
        /* passage i: 治沙 or 防沙治沙 every 130 + 997 i characters */
        for (int c = 0; c < 20000; c++) {
            int gap = 130 + 997 * i;
            const char *ch = c % gap == 0 ? "防" : c % gap == 1 ? "沙" :
                             c % gap == 2 ? "治" : c % gap == 3 ? "沙" :
                             (i % 2 && c % gap == 60) ? "治" : "林";
            ps_buf_add(&t[i], ch, strlen(ch));
            if (i % 2 && c % gap == 60) {
                ps_buf_add(&t[i], "沙", strlen("沙"));
                c++;
            }
        }
        ps_buf_add(&t[i], "", 1);
        t[i].len--;
    }
    kv store;
    memset(&store, 0, sizeof store);
    gram_batch *b = gram_batch_create();
    gram_seg seg;
    for (int i = 0; i < 6; i++)
        gram_batch_add(b, (unsigned)(3 * i + 2), t[i].data, t[i].len);
    CHECK(gram_batch_flush(b, kv_put, &store, &seg) == 0);
    gram_batch_destroy(b);
    const char *ts[6];
    for (int i = 0; i < 6; i++)
        ts[i] = t[i].data;
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
        CHECK(matches_agree(&store, needles[k], ts, 6, 3, 2));
    char err[PS_ERRLEN];
    /* Cut each bigram chunk before its last byte (the last passage's end):
     * every needle reading it fails with a message, none crashes. */
    size_t cut = 0;
    for (size_t i = 0; i < store.n; i++)
        if (store.k[i][0] == 'g' && store.vl[i] > 1) {
            store.vl[i]--;
            cut++;
        }
    CHECK(cut >= 4);
    static const char *const bad[] = {"治沙", "防沙治沙", "沙治沙"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        gram_hits h;
        memset(&h, 0, sizeof h);
        err[0] = '\0';
        CHECK(gram_match(bad[k], strlen(bad[k]), kv_src(&store), NULL, 0, &h,
                         err) == -1 && strstr(err, "corrupt"));
        gram_hits_free(&h);
    }
    for (size_t i = 0; i < store.n; i++) {
        free(store.k[i]);
        free(store.v[i]);
    }
    for (int i = 0; i < 6; i++)
        ps_buf_free(&t[i]);
}


/* A shard a format-8 writer wrote, then upgraded: its old segment keyed
 * gram first, a new one segment first.  Both are read, --check's chunk
 * test takes each as listed, and merging them leaves one segment keyed
 * segment first, no old key, the same answers. */
static void test_grams_old_keys(void)
{
    static const char *const texts[] = {
        "赤峰市今年已完成防沙治沙462万亩。", "防沙", "沙治沙治沙", "治沙防沙治沙。防沙治沙",
        "a防b", "沙", "防沙治沙防沙治沙防沙治沙", "治沙"};
    size_t nt = sizeof texts / sizeof texts[0];
    static const char *const needles[] = {"防沙治沙", "沙", "治沙", "沙治沙", "防",
                                          "a防b", "赤峰市今年", "不在"};
    kv store;
    memset(&store, 0, sizeof store);
    gram_batch *b = gram_batch_create();
    gram_seg segs[2];
    for (size_t i = 0; i < 4; i++)
        gram_batch_add(b, (unsigned)(2 * i + 1), texts[i], strlen(texts[i]));
    CHECK(gram_batch_flush(b, kv_put, &store, &segs[0]) == 0);
    /* Rekey the first segment's chunks the old way. */
    size_t n = store.n, moved = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned seg;
        if (gram_key_segment(store.k[i], store.kl[i], 1, &seg) < 0)
            continue;
        char key[64];
        size_t kl = store.kl[i];
        memcpy(key, store.k[i], 2);
        memcpy(key + 2, store.k[i] + 6, kl - 6);
        ps_put_be32(key + kl - 4, seg);
        free(store.k[i]);
        store.k[i] = ps_xstrndup(key, kl);
        moved++;
    }
    CHECK(moved > 20);
    segs[0].seg_first = 0;
    for (size_t i = 4; i < nt; i++)
        gram_batch_add(b, (unsigned)(2 * i + 1), texts[i], strlen(texts[i]));
    CHECK(gram_batch_flush(b, kv_put, &store, &segs[1]) == 0);
    gram_batch_destroy(b);
    CHECK(segs[1].seg_first == 1);
    kv_legacy = segs[1].first;
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
        CHECK(matches_agree(&store, needles[k], texts, nt, 2, 1));
    char err[PS_ERRLEN];
    size_t good = 0, grams = 0;
    for (size_t i = 0; i < store.n; i++) {
        unsigned seg;
        int old = gram_key_segment(store.k[i], store.kl[i], 0, &seg) == 0 &&
                  seg == segs[0].first;
        if (store.k[i][0] != 'g' && store.k[i][0] != 'u')
            continue;
        grams++;
        good += gram_check_chunk(store.k[i], store.kl[i], !old, store.v[i],
                                 store.vl[i], 0, 2 * (unsigned)nt, err) == 0;
    }
    CHECK(grams > 30 && good == grams);
    gram_seg m;
    CHECK(gram_merge(kv_get, kv_put, &store, segs, 2, NULL, 0, &m, err) == 0);
    CHECK(m.first == 1 && m.seg_first == 1 && m.passages == nt &&
          m.key == m.last && m.last == 2 * nt - 1);
    size_t stray = 0;
    for (size_t i = 0; i < store.n; i++) {
        unsigned seg = 0;
        if (store.k[i][0] == 'g' || store.k[i][0] == 'u')
            stray += gram_key_segment(store.k[i], store.kl[i], 1, &seg) < 0 ||
                     seg != m.key;
    }
    CHECK(stray == 0);
    kv_legacy = 0;
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
        CHECK(matches_agree(&store, needles[k], texts, nt, 2, 1));
    for (size_t i = 0; i < store.n; i++) {
        free(store.k[i]);
        free(store.v[i]);
    }
}

/* A merged segment merged again, as the later of two: the chunks it
 * wrote under its own number are replaced, and its passage lengths
 * (keyed by its first passage) do not stay beside the new ones. */
static void test_grams_merge_twice(void)
{
    static const char *const texts[] = {"防沙治沙", "治沙", "沙治沙", "防沙",
                                        "赤峰市防沙治沙", "沙"};
    size_t nt = sizeof texts / sizeof texts[0];
    kv store;
    memset(&store, 0, sizeof store);
    gram_batch *b = gram_batch_create();
    gram_seg sg[3], m, m2;
    for (size_t i = 0; i < nt; i++) {
        gram_batch_add(b, (unsigned)(2 * i + 1), texts[i], strlen(texts[i]));
        if (i % 2)
            CHECK(gram_batch_flush(b, kv_put, &store, &sg[i / 2]) == 0);
    }
    gram_batch_destroy(b);
    char err[PS_ERRLEN];
    CHECK(gram_merge(kv_get, kv_put, &store, sg + 1, 2, NULL, 0, &m, err) == 0);
    gram_seg two[2] = {sg[0], m};
    CHECK(gram_merge(kv_get, kv_put, &store, two, 2, NULL, 0, &m2, err) == 0);
    CHECK(m2.first == 1 && m2.key == m.key && m2.passages == nt);
    uint32_t *len = NULL;
    size_t nlen = 0, live = 0;
    CHECK(gram_lengths(kv_fetch, &store, NULL, 0, 0, &len, &nlen, &live,
                       err) == 0 && live == nt);
    free(len);
    for (size_t k = 0; k < nt; k++)
        CHECK(matches_agree(&store, texts[k], texts, nt, 2, 1));
    for (size_t i = 0; i < store.n; i++) {
        free(store.k[i]);
        free(store.v[i]);
    }
}

/* Runs the merge policy after each of n additions of size[i] passages
 * (as one run's segment each); returns the segment count at the end and
 * the passages merges rewrote in *rewritten. */
static size_t plan_after(const unsigned *size, size_t n, double *rewritten)
{
    gram_seg *sg = ps_xcalloc(n + 1, sizeof *sg);
    size_t ns = 0, start, k;
    unsigned next = 1;
    *rewritten = 0;
    for (size_t i = 0; i < n; i++) {
        sg[ns].first = next;
        sg[ns].passages = size[i];
        sg[ns].last = next + size[i] - 1;
        sg[ns++].level = 0;
        next += size[i];
        while ((k = gram_plan(sg, ns, NULL, 0, &start)) > 0) {
            gram_seg m = sg[start];
            for (size_t j = 1; j < k; j++)
                m.passages += sg[start + j].passages;
            m.last = sg[start + k - 1].last;
            *rewritten += m.passages;
            sg[start] = m;
            memmove(sg + start + 1, sg + start + k,
                    (ns - start - k) * sizeof *sg);
            ns -= k - 1;
        }
    }
    free(sg);
    return ns;
}

/* Daily additions end as few segments as a bulk run writes, at a
 * bounded cost per added passage; a bulk run's batches do not merge. */
static void test_plan_growth(void)
{
    unsigned size[2000];
    double re;
    /* 20 runs of about half a batch: pairs become full segments. */
    for (size_t i = 0; i < 20; i++)
        size[i] = 9400 + (unsigned)(i * 37 % 800);
    size_t ns = plan_after(size, 20, &re);
    CHECK(ns == 10);
    CHECK(re > 0 && re <= 200000);
    /* A bulk run: full batches, then a short last one; no merge. */
    for (size_t i = 0; i < 10; i++)
        size[i] = i < 9 ? 20000 + (unsigned)i : 6657;
    CHECK(plan_after(size, 10, &re) == 10 && re == 0);
    /* 2,000 days of 1 to 3,000 passages: few segments, each passage
     * rewritten a bounded number of times. */
    unsigned x = 7;
    double total = 0;
    for (size_t i = 0; i < 2000; i++) {
        x = x * 1103515245u + 12345u;
        size[i] = 1 + (x >> 8) % 3000;
        total += size[i];
    }
    ns = plan_after(size, 2000, &re);
    size_t budget = GRAM_BUDGET_BASE;
    for (double y = total / GRAM_BIG + 1; y > 1; y /= GRAM_MERGE_K)
        budget += GRAM_BUDGET_STEP;
    CHECK(ns <= budget);
    CHECK(re / total < 12);
    /* Tiny additions (one passage a day): under log2(GRAM_BIG) + 1 small
     * segments however many days. */
    for (size_t i = 0; i < 2000; i++)
        size[i] = 1;
    CHECK(plan_after(size, 2000, &re) <= 12 && re / 2000 <= 12);
}
static void test_grams(void)
{
    static const char *const texts[] = {
        "赤峰市今年已完成防沙治沙462万亩。", "防沙", "沙治沙治沙", "治沙防沙治沙。防沙治沙",
        "a防b", "", "沙", "防沙治沙防沙治沙防沙治沙"};
    size_t nt = sizeof texts / sizeof texts[0];
    kv store;
    memset(&store, 0, sizeof store);
    gram_batch *b = gram_batch_create();
    /* Two batches: chunks of one gram in both must be read together. */
    gram_seg segs[2];
    for (size_t i = 0; i < nt; i++) {
        gram_batch_add(b, (unsigned)(2 * i + 1), texts[i], strlen(texts[i]));
        if (i == 3)
            CHECK(gram_batch_flush(b, kv_put, &store, &segs[0]) == 0);
    }
    CHECK(gram_batch_passages(b) == 4 && gram_batch_bytes(b) > 0);
    CHECK(gram_batch_flush(b, kv_put, &store, &segs[1]) == 0);
    CHECK(segs[0].first == 1 && segs[0].last == 7 && segs[0].passages == 4 &&
          segs[1].first == 9 && segs[1].last == 15 && segs[1].level == 0);
    gram_batch_destroy(b);
    /* --check: every stored chunk passes; a flipped byte, a cut chunk or
     * a passage beyond the last do not. */
    {
        char cerr[PS_ERRLEN];
        size_t good = 0, caught = 0, tried = 0;
        for (size_t i = 0; i < store.n; i++) {
            good += gram_check_chunk(store.k[i], store.kl[i], 1, store.v[i],
                                     store.vl[i], 0, 2 * (unsigned)nt, cerr) == 0;
            if (store.k[i][0] != 'g' && store.k[i][0] != 'u')
                continue;
            tried++;
            char *bad = ps_xmalloc(store.vl[i] + 1);
            memcpy(bad, store.v[i], store.vl[i]);
            bad[0] = (char)0xff;                          /* flipped */
            int c1 = gram_check_chunk(store.k[i], store.kl[i], 1, bad, store.vl[i],
                                      0, 2 * (unsigned)nt, cerr) < 0;
            int c2 = gram_check_chunk(store.k[i], store.kl[i], 1, store.v[i],
                                      store.vl[i] - 1, 0, 2 * (unsigned)nt, cerr) < 0;
            int c3 = gram_check_chunk(store.k[i], store.kl[i], 1, store.v[i],
                                      store.vl[i], 0, 0, cerr) < 0;
            caught += c1 && c2 && c3;
            free(bad);
        }
        CHECK(good == store.n);
        CHECK(tried > 10 && caught == tried);
    }
    static const char *const needles[] = {"防沙治沙", "沙", "治沙", "沙治沙", "防",
                                          "防沙治沙防", "。防", "赤峰市今年", "b",
                                          "不在", "沙治沙治沙"};
    char err[PS_ERRLEN];
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++)
        CHECK(matches_agree(&store, needles[k], texts, nt, 2, 1));
    /* Deleted passages are left out. */
    unsigned (*del)[2] = NULL;
    size_t ndel = 0;
    unsigned ids[] = {15, 1, 3, 2};
    gram_ranges_add(&del, &ndel, ids, 4);
    CHECK(ndel == 2 && del[0][0] == 1 && del[0][1] == 3 && del[1][0] == 15);
    ps_buf enc;
    ps_buf_init(&enc);
    gram_ranges_encode((const unsigned (*)[2])del, ndel, &enc);
    unsigned (*dec)[2];
    size_t ndec;
    CHECK(gram_ranges_decode(enc.data, enc.len, &dec, &ndec) == 0 && ndec == 2 &&
          dec[1][0] == 15 && dec[1][1] == 15);
    free(dec);
    CHECK(gram_ranges_decode("\xff", 1, &dec, &ndec) == -1 && !dec);
    ps_buf_free(&enc);
    gram_hits h;
    memset(&h, 0, sizeof h);
    CHECK(gram_match("防沙治沙", strlen("防沙治沙"), kv_src(&store),
                     (const unsigned (*)[2])del, ndel, &h, err) == 0 &&
          h.n == 1 && h.docs[0] == 7 && h.tf[0] == 2);
    gram_hits_free(&h);
    uint32_t *len;
    size_t nlen;
    size_t live;
    CHECK(gram_lengths(kv_fetch, &store, (const unsigned (*)[2])del, ndel, 0, &len,
                       &nlen, &live, err) == 0 && nlen == 16 &&
          len[1] == ps_utf8_count(texts[0], strlen(texts[0])) && len[15] == 12);
    CHECK(live == nt - 3);      /* 1, 3 and 15 deleted */
    free(len);
    /* A passage beyond the shard's last is damage, not a 16 GB array. */
    err[0] = '\0';
    CHECK(gram_lengths(kv_fetch, &store, NULL, 0, 8, &len, &nlen, &live, err) == -1 &&
          strstr(err, "length"));
    free(len);
    /* Merging the two segments leaves one chunk per gram, without the
     * deleted passages, and the same answers without the deleted list. */
    size_t before = store.n;
    gram_seg m;
    CHECK(gram_merge(kv_get, kv_put, &store, segs, 2, (const unsigned (*)[2])del,
                     ndel, &m, err) == 0);
    CHECK(store.n < before && m.first == 1 && m.last == 15 && m.key == 15 && m.level == 1 &&
          m.passages == 5);
    for (size_t i = 0; i < store.n; i++) {
        unsigned sg1 = 0;
        CHECK(memcmp(store.k[i], "d:", 2) == 0 ||
              (gram_key_segment(store.k[i], store.kl[i], 1, &sg1) == 0 ?
               sg1 == m.key : memcmp(store.k[i] + store.kl[i] - 4, "\0\0\0\1", 4) == 0));
    }
    memset(&h, 0, sizeof h);
    CHECK(gram_match("防沙治沙", strlen("防沙治沙"), kv_src(&store), NULL, 0,
                     &h, err) == 0 && h.n == 1 && h.docs[0] == 7 && h.tf[0] == 2);
    gram_hits_free(&h);
    memset(&h, 0, sizeof h);
    CHECK(gram_match("沙", strlen("沙"), kv_src(&store), NULL, 0, &h, err) == 0 &&
          h.n == 3 && h.docs[0] == 5 && h.docs[1] == 7 && h.docs[2] == 13);
    gram_hits_free(&h);
    /* Kept to some passages: those listed, the weight's count of all. */
    {
        static const unsigned keep[] = {2, 7, 13, 14};
        uint64_t bits[1] = {0};
        const char *const ns[] = {"沙", "治沙", "沙治"};
        for (size_t k = 0; k < 3; k++) {
            gram_hits all, in;
            size_t df = 0, n = strlen(ns[k]);
            memset(&all, 0, sizeof all);
            memset(&in, 0, sizeof in);
            CHECK(gram_match(ns[k], n, kv_src(&store), NULL, 0, &all, err) == 0);
            gram_keep gk = {bits, 64, 1, 0, 4};
            bits[0] = 0;
            for (size_t j = 0; j < 4; j++)     /* docid d: bit d - 1 */
                bits[0] |= (uint64_t)1 << (keep[j] - 1);
            CHECK(gram_match_in(ns[k], n, kv_src(&store), NULL, 0, &gk, &in,
                                &df, err) == 0);
            size_t want = 0, same = 1;
            for (size_t i = 0; i < all.n; i++)
                for (size_t j = 0; j < 4; j++)
                    if (all.docs[i] == keep[j]) {
                        same &= want < in.n && in.docs[want] == all.docs[i] &&
                                in.tf[want] == all.tf[i];
                        want++;
                    }
            CHECK(df == all.n && in.n == want && same && want > 0 && want < all.n);
            gram_hits_free(&all);
            gram_hits_free(&in);
        }
    }
    CHECK(gram_lengths(kv_fetch, &store, NULL, 0, 0, &len, &nlen, &live, err) == 0 &&
          len[1] == 0 && len[15] == 0 && live == nt - 3 &&
          len[7] == ps_utf8_count(texts[3], strlen(texts[3])));
    free(len);
    /* The merged range leaves the deleted list; the segment list round-trips. */
    gram_ranges_drop(&del, &ndel, 1, 15);
    CHECK(ndel == 0);
    unsigned more[] = {3, 20, 21};
    gram_ranges_add(&del, &ndel, more, 3);
    gram_ranges_drop(&del, &ndel, 10, 20);
    CHECK(ndel == 2 && del[0][1] == 3 && del[1][0] == 21 && del[1][1] == 21);
    gram_seg list[3] = {{1, 15, 5, 1, 0, 1}, {16, 30, 15, 0, 1, 30},
                        {31, 31, 1, 0, 1, 31}}, *back;
    size_t nback;
    ps_buf_init(&enc);
    gram_segs_encode(list, 3, &enc);
    CHECK(gram_segs_decode(enc.data, enc.len, &back, &nback) == 0 && nback == 3 &&
          back[1].first == 16 && back[1].last == 30 && back[2].passages == 1 &&
          back[0].level == 1 && !back[0].seg_first && back[1].seg_first &&
          back[1].level == 0 && back[0].key == 1 && back[1].key == 30 &&
          back[2].key == 31);
    free(back);
    CHECK(gram_segs_decode("\x05\x00\x01\x00\x03\x00\x01\x00", 8, &back,
                           &nback) == -1);     /* overlapping segments */
    /* Level 65, as --optimize after every run once wrote after 65 runs:
     * read back, not taken for damage. */
    CHECK(gram_segs_decode("\x01\x05\x06\x41", 4, &back, &nback) == 0 &&
          nback == 1 && back[0].level == 65 && back[0].passages == 6);
    free(back);
    ps_buf_free(&enc);
    /* The policy: a half-deleted segment alone, before anything else. */
    size_t start;
    CHECK(gram_plan(list, 3, NULL, 0, &start) == 2 && start == 0);
    unsigned dead[] = {16, 17, 18, 19, 20, 21, 22, 23};
    unsigned (*dr)[2] = NULL;
    size_t ndr = 0;
    gram_ranges_add(&dr, &ndr, dead, 8);
    CHECK(gram_plan(list, 3, (const unsigned (*)[2])dr, ndr, &start) == 1 &&
          start == 1);
    free(dr);
    /* Two small neighbours, the later at least half the earlier, merge. */
    gram_seg two[3] = {{1, 100, 100, 0, 1, 1}, {101, 149, 49, 0, 1, 101},
                       {150, 199, 50, 0, 1, 150}};
    CHECK(gram_plan(two, 2, NULL, 0, &start) == 0);
    CHECK(gram_plan(two, 3, NULL, 0, &start) == 2 && start == 1);
    /* Over budget (32 segments for up to 64 * 16384 passages), all full:
     * the K adjacent ones with the fewest passages merge. */
    gram_seg many[33];
    for (unsigned i = 0; i < 33; i++) {
        many[i].first = i * 2 * GRAM_BIG + 1;
        many[i].passages = i >= 5 && i < 9 ? GRAM_BIG : 2 * GRAM_BIG;
        many[i].last = many[i].first + many[i].passages - 1;
        many[i].level = 0;
    }
    CHECK(gram_plan(many, 32, NULL, 0, &start) == 0);
    CHECK(gram_plan(many, 33, NULL, 0, &start) == GRAM_MERGE_K && start == 5);
    test_plan_growth();
    test_grams_old_keys();
    test_grams_merge_twice();
    free(del);
    /* --check's rebuild: the merged segment equals the one rebuilt from
     * the texts; a flipped position, a missing chunk are found. */
    {
        verify_texts vt = {texts, nt};
        size_t problems = 99;
        /* even docids were never written; 1, 3 and 15 were deleted */
        unsigned gone[] = {1, 2, 3, 4, 6, 8, 10, 12, 14, 15};
        unsigned (*vd)[2] = NULL;
        size_t nvd = 0;
        gram_ranges_add(&vd, &nvd, gone, 10);
        CHECK(gram_verify(kv_get, &store, &m, verify_text, &vt,
                          (const unsigned (*)[2])vd, nvd, 3, &problems, err) == 0 &&
              problems == 0);
        size_t gi = store.n;
        for (size_t i = 0; i < store.n; i++)
            if (memcmp(store.k[i], "g:", 2) == 0 && store.vl[i] > 2)
                gi = i;
        CHECK(gi < store.n);
        if (gi < store.n) {
            store.v[gi][i_last_byte(store.vl[gi])] ^= 1;   /* a position */
            CHECK(gram_verify(kv_get, &store, &m, verify_text, &vt,
                              (const unsigned (*)[2])vd, nvd, 100, &problems,
                              err) == 0 && problems == 1);
            store.v[gi][i_last_byte(store.vl[gi])] ^= 1;
            char *k = ps_xstrndup(store.k[gi], store.kl[gi]);
            size_t kl = store.kl[gi];
            kv_put(&store, k, kl, "", 0);                            /* gone */
            CHECK(gram_verify(kv_get, &store, &m, verify_text, &vt,
                              (const unsigned (*)[2])vd, nvd, 100, &problems,
                              err) == 0 && problems == 1);
            free(k);
        }
        free(vd);
    }
    /* A corrupt chunk is an error, not a crash. */
    free(store.v[0]);
    store.v[0] = ps_xstrdup("\xff\xff");
    store.vl[0] = 2;
    for (size_t i = 0; i < store.n; i++)
        if (memcmp(store.k[i], "l:", 2) == 0) {
            free(store.v[i]);
            store.v[i] = ps_xstrdup("\x01\xff");
            store.vl[i] = 2;
        }
    CHECK(gram_lengths(kv_fetch, &store, NULL, 0, 0, &len, &nlen, NULL, err) == -1 &&
          strlen(err) > 0);
    free(len);
    /* A passage listed twice (a zero step) is damage too. */
    for (size_t i = 0; i < store.n; i++)
        if (memcmp(store.k[i], "l:", 2) == 0) {
            free(store.v[i]);
            store.v[i] = ps_xmalloc(4);
            memcpy(store.v[i], "\x01\x05\x00\x03", 4);
            store.vl[i] = 4;
        }
    err[0] = '\0';
    CHECK(gram_lengths(kv_fetch, &store, NULL, 0, 0, &len, &nlen, &live, err) == -1 &&
          strstr(err, "length"));
    free(len);
    /* A merge over a corrupt chunk fails with a message. */
    gram_seg one = {1, 15, 5, 1, 1, 1}, m2;
    err[0] = '\0';
    CHECK(gram_merge(kv_get, kv_put, &store, &one, 1, NULL, 0, &m2, err) == -1 &&
          strlen(err) > 0);
    for (size_t i = 0; i < store.n; i++) {
        free(store.k[i]);
        free(store.v[i]);
    }
}

/* An index of another format is refused with a message, not searched. */
static void test_format_check(const ana_res *res)
{
    char dir[] = "/tmp/unit-format-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char err[PS_ERRLEN];
    for (int k = 0; k < 3; k++) {
        xap_wdb *w;
        CHECK(xap_wdb_open(dir, &w, err) == XAP_OK);
        if (k < 2)
            xap_wdb_set_metadata(w, META_VERSION, k == 0 ? "2" : "", err);
        else
            xap_wdb_set_metadata(w, META_VERSION, PS_FORMAT_VERSION, err);
        CHECK(xap_wdb_commit(w, err) == XAP_OK);
        xap_wdb_close(w);
        err[0] = '\0';
        srch_engine *e = srch_open(dir, res, err);
        if (k == 0)
            CHECK(!e && strstr(err, "index format 2") != NULL);
        else if (k == 1)
            CHECK(!e && strstr(err, "not a policy-search index") != NULL);
        else
            CHECK(e != NULL);
        srch_close(e);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

static void count_member(void *ctx, uint32_t id)
{
    ((unsigned *)ctx)[id]++;
}

typedef struct text_back {
    const fdict *d;
    ps_buf *out;
    int part;             /* of the last member written, -1 at first */
} text_back;

static void text_member(void *ctx, uint32_t id)
{
    text_back *t = ctx;
    int p = fdict_part(t->d, id);
    if (t->part == p)
        ps_buf_addc(t->out, p < 3 ? ',' : FACET_MEMBER);
    for (; t->part < p; t->part++)
        if (t->part >= 0)
            ps_buf_addc(t->out, FACET_SEP);
    size_t len;
    const char *name = fdict_name(t->d, id, &len);
    ps_buf_add(t->out, name, len);
}

/* The textual value a coded one stands for, as readers of format 6 take
 * it: the members in order, parts FACET_SEP apart.  Its parts, or -1. */
static int fdict_text(const fdict *d, const char *v, size_t n, ps_buf *out)
{
    out->len = 0;
    text_back t = {d, out, -1};
    int parts = fdict_each(d, v, n, text_member, &t);
    if (parts < 0)
        return -1;
    for (t.part = t.part < 0 ? 0 : t.part; t.part < parts - 1; t.part++)
        ps_buf_addc(out, FACET_SEP);
    if (!out->data)
        ps_buf_add(out, "", 0);
    return parts;
}

/* Coded facet values: the same members, parts and order as the text,
 * through a dictionary stored and read back; damage is refused. */
static void test_fdict(void)
{
    static const char *const values[] = {
        "150400,150000\x1e" "生态环保,农牧业\x1e" "亩,元\x1e"
            "赤峰市人民政府\x1f" "赤峰市林业和草原局\x1e" "通知\x1e" "2025",
        "\x1e\x1e\x1e\x1e\x1e",
        "150000,,150000\x1e\x1e" "万吨\x1e\x1e\x1e" "2024",
        "150400\x1e" "工业\x1e" "元",       /* format 5: three parts */
        "", "\x1e\x1e\x1e\x1e\x1e\x1e\x1e" "extra"};
    fdict *d = fdict_create();
    ps_buf coded, text, saved;
    ps_buf_init(&coded);
    ps_buf_init(&text);
    ps_buf_init(&saved);
    size_t added, total = 0;
    char **kept = calloc(6, sizeof(char *));
    size_t *klen = calloc(6, sizeof(size_t));
    for (size_t i = 0; i < 6; i++) {
        fdict_encode(d, values[i], strlen(values[i]), &coded, &added);
        total += added;
        CHECK(fdict_coded(coded.data, coded.len));
        CHECK(coded.len < strlen(values[i]) / 2 + 9);
        kept[i] = malloc(coded.len);
        memcpy(kept[i], coded.data, coded.len);
        klen[i] = coded.len;
    }
    CHECK(total == fdict_count(d) && total == 13);   /* 150000 once */
    fdict_save(d, &saved);
    fdict *e = fdict_create();
    CHECK(fdict_load(e, saved.data, saved.len) == 0 && fdict_count(e) == 13);
    /* The text back: the members in order, empty ones gone, the parts. */
    static const char *const back[] = {
        "150400,150000\x1e" "生态环保,农牧业\x1e" "亩,元\x1e"
            "赤峰市人民政府\x1f" "赤峰市林业和草原局\x1e" "通知\x1e" "2025",
        "\x1e\x1e\x1e\x1e\x1e",
        "150000,150000\x1e\x1e" "万吨\x1e\x1e\x1e" "2024",
        "150400\x1e" "工业\x1e" "元", "",
        "\x1e\x1e\x1e\x1e\x1e"};
    static const int parts[] = {6, 6, 6, 3, 1, 6};
    for (size_t i = 0; i < 6; i++) {
        int p = fdict_text(e, kept[i], klen[i], &text);
        CHECK(p == parts[i]);
        CHECK(text.len == strlen(back[i]) &&
              memcmp(text.data, back[i], text.len) == 0);
    }
    unsigned counts[13] = {0};
    CHECK(fdict_each(e, kept[2], klen[2], count_member, counts) == 6);
    size_t len, twice = 0;
    for (uint32_t id = 0; id < 13; id++)
        if (counts[id] == 2) {
            CHECK(strcmp(fdict_name(e, id, &len), "150000") == 0 &&
                  fdict_part(e, id) == 0);
            twice++;
        }
    CHECK(twice == 1);
    /* Damage: a number past the dictionary, a cut value, a member in
     * another part, a dictionary entry with no end or no such part. */
    char bad[64];
    memcpy(bad, kept[0], klen[0]);
    bad[3] = 100;
    CHECK(fdict_each(e, bad, klen[0], count_member, counts) == -1);
    CHECK(fdict_each(e, kept[0], klen[0] - 1, count_member, counts) == -1);
    CHECK(fdict_text(e, bad, klen[0], &text) == -1);
    const char moved[] = {FACET_CODED, 2, 0, 1, 0};   /* member 0 in part 1 */
    CHECK(fdict_each(e, moved, sizeof moved, count_member, counts) == -1);
    fdict *f = fdict_create();
    CHECK(fdict_load(f, saved.data, saved.len - 1) == -1);
    fdict_destroy(f);
    f = fdict_create();
    CHECK(fdict_load(f, "\x09name", 6) == -1);
    fdict_destroy(f);
    for (size_t i = 0; i < 6; i++)
        free(kept[i]);
    free(kept);
    free(klen);
    fdict_destroy(d);
    fdict_destroy(e);
    ps_buf_free(&coded);
    ps_buf_free(&text);
    ps_buf_free(&saved);
}

/* Document numbers whatever brackets and forms; metadata never guessed. */
/* The facet column: rows written out of a writer's order (gaps, a row
 * set again, emptied) read back the same, at every width; counting
 * reads only the rows asked for; damage is refused. */
static void test_fcol(void)
{
    static const uint32_t widths[] = {200, 60000, 70000000};
    for (size_t wi = 0; wi < 3; wi++) {
        uint32_t big = widths[wi];
        fcol_block b;
        memset(&b, 0, sizeof b);
        fcol_block_start(&b, 3);
        uint32_t first = 3 * FCOL_ROWS + 1;
        uint32_t r0[] = {5, 7, big}, r2[] = {1}, r9[] = {big, big, 0, 3};
        CHECK(fcol_block_put(&b, first - 1, r0, 3) == -1);      /* block 2 */
        CHECK(fcol_block_put(&b, first + FCOL_ROWS, r0, 3) == -1);
        CHECK(fcol_block_put(&b, first, r0, 3) == 0);
        CHECK(fcol_block_put(&b, first + 2, r2, 1) == 0);      /* row 1 empty */
        CHECK(fcol_block_put(&b, first + 9, r9, 4) == 0);
        CHECK(fcol_block_put(&b, first + 2, r9, 4) == 0);      /* set again */
        CHECK(fcol_block_put(&b, first, NULL, 0) == 0);        /* emptied */
        CHECK(b.nrows == 10);
        ps_buf rec;
        ps_buf_init(&rec);
        fcol_block_encode(&b, &rec);
        fcol_view v;
        CHECK(fcol_view_open(&v, rec.data, rec.len) == 0);
        CHECK(v.nrows == 10 && v.nids == 8);
        CHECK(v.iw == (wi == 0 ? 1u : wi == 1 ? 2u : 4u));
        uint32_t at, n;
        fcol_view_row(&v, 2, &at, &n);
        CHECK(n == 4 && fcol_view_id(&v, at) == big &&
              fcol_view_id(&v, at + 3) == 3);
        fcol_view_row(&v, 0, &at, &n);
        CHECK(n == 0);
        fcol_view_row(&v, 9, &at, &n);
        CHECK(n == 4 && fcol_view_id(&v, at + 2) == 0);
        /* Loaded and written again: the same bytes. */
        fcol_block c;
        memset(&c, 0, sizeof c);
        CHECK(fcol_block_load(&c, 3, rec.data, rec.len) == 0 && c.nrows == 10);
        ps_buf again;
        ps_buf_init(&again);
        fcol_block_encode(&c, &again);
        CHECK(again.len == rec.len && memcmp(again.data, rec.data, rec.len) == 0);
        /* Counting rows 2 and 9 (docids), not the others. */
        unsigned *counts = calloc((size_t)big + 1, sizeof(unsigned));
        unsigned docs[] = {first + 2, first + 9};
        CHECK(fcol_count(&v, 3, docs, 2, counts, big + 1) == 0);
        CHECK(counts[big] == 4 && counts[0] == 2 && counts[3] == 2 &&
              counts[5] == 0 && counts[1] == 0);
        /* A member past the dictionary, a row past the record, a docid of
         * another block. */
        CHECK(fcol_count(&v, 3, docs, 2, counts, big) == -1);
        unsigned past[] = {first + 10}, before[] = {first - 1};
        CHECK(fcol_count(&v, 3, past, 1, counts, big + 1) == -1);
        CHECK(fcol_count(&v, 3, before, 1, counts, big + 1) == -1);
        /* Damage: cut, offsets out of order, a width no writer uses, no
         * rows. */
        CHECK(fcol_view_open(&v, rec.data, rec.len - 1) == -1);
        CHECK(fcol_view_open(&v, rec.data, 3) == -1);
        char *bad = malloc(rec.len);
        memcpy(bad, rec.data, rec.len);
        bad[4 + 2 * (size_t)rec.data[1]] = 0x7f;       /* off[2] > off[3] */
        CHECK(fcol_view_open(&v, bad, rec.len) == -1);
        memcpy(bad, rec.data, rec.len);
        bad[0] = 3;
        CHECK(fcol_view_open(&v, bad, rec.len) == -1);
        memcpy(bad, rec.data, rec.len);
        bad[2] = bad[3] = 0;
        CHECK(fcol_view_open(&v, bad, rec.len) == -1);
        CHECK(fcol_block_load(&c, 3, bad, rec.len) == -1 && c.nrows == 0);
        free(bad);
        free(counts);
        ps_buf_free(&rec);
        ps_buf_free(&again);
        fcol_block_free(&b);
        fcol_block_free(&c);
    }
    /* A coded value's members, in order; not a coded value: -1. */
    fdict *d = fdict_create();
    ps_buf coded;
    ps_buf_init(&coded);
    size_t added, cap = 0;
    uint32_t *ids = NULL;
    const char *text = "150400,150000\x1e" "工业\x1e" "元\x1e\x1e\x1e" "2025";
    fdict_encode(d, text, strlen(text), &coded, &added);
    CHECK(fcol_value_ids(coded.data, coded.len, &ids, &cap) == 5);
    CHECK(ids[0] == 0 && ids[1] == 1 && ids[4] == 4);
    CHECK(fcol_value_ids(text, strlen(text), &ids, &cap) == -1);
    CHECK(fcol_value_ids(coded.data, coded.len - 1, &ids, &cap) == -1);
    free(ids);
    ps_buf_free(&coded);
    fdict_destroy(d);
}

static void test_docmeta(void)
{
    char out[256];
    CHECK(dm_number("内政发[2023]第012号", out, sizeof out) && strcmp(out, "内政发〔2023〕12号") == 0);
    CHECK(dm_number("内政发（２０２３）１２号", out, sizeof out) && strcmp(out, "内政发〔2023〕12号") == 0);
    CHECK(dm_number("内政发2023年12号", out, sizeof out) && strcmp(out, "内政发〔2023〕12号") == 0);
    CHECK(dm_number("2026年第025号", out, sizeof out) && strcmp(out, "2026年第25号") == 0);
    CHECK(!dm_number("防沙治沙462万亩", out, sizeof out));
    char err[PS_ERRLEN];
    /* 2023年2月30日 does not exist: no date; a 2,000-character title is
     * cut at a whole character; nothing crashes. */
    ps_buf longt;
    ps_buf_init(&longt);
    for (int i = 0; i < 2000; i++)
        ps_buf_adds(&longt, "治");
    const char *lines[] = {longt.data, "", "正文第一段，说明情况。", "赤峰市人民政府",
                           "2023年2月30日"};
    json_t *m = dm_extract(lines, 5, NULL, 0, NULL, err);
    CHECK(m && !json_object_get(m, "date") && !json_object_get(m, "number"));
    const char *t = m ? json_string_value(json_object_get(m, "title")) : NULL;
    CHECK(t && strlen(t) <= 1024 && ps_utf8_valid(t, strlen(t)));
    json_decref(m);
    ps_buf_free(&longt);
    const char *none[] = {"", "   "};
    m = dm_extract(none, 2, NULL, 0, NULL, err);
    CHECK(m && !json_object_get(m, "title") &&
          strcmp(json_string_value(json_object_get(m, "type")), "其他") == 0);
    json_decref(m);
}

/* Mentions for the range index: doc d's values are pool[off[d]..off[d+1]). */
typedef struct vr_docs {
    unsigned char *pool;
    size_t *off;
} vr_docs;

static size_t vr_values(const void *ctx, unsigned doc, const unsigned char **buf)
{
    const vr_docs *v = ctx;
    *buf = v->pool + v->off[doc];
    return v->off[doc + 1] - v->off[doc];
}

static size_t vr_mention(unsigned char *at, const char *unit, double value)
{
    size_t ul = strlen(unit);
    at[0] = (unsigned char)(ul + 9);
    memcpy(at + 1, unit, ul);
    at[1 + ul] = '\0';
    num_sortable(value, at + 2 + ul);
    return ul + 10;
}

static void vr_bound(unsigned char *out, const char *unit, double value)
{
    unsigned char m[64];
    size_t n = vr_mention(m, unit, value);
    memcpy(out, m + 1, n - 1);
}

/* The sorted mentions answer every range as a scan of the mentions does:
 * units kept apart, ends included, a passage once however many of its
 * mentions match, negative and fractional values in order, a damaged
 * value ignored. */
/* Facet counts by bits: the same as counting every passage's row, for
 * sets of every size, in one part or several, for each width of term
 * number. */
/* Large blocks (ps_big_alloc): usable and aligned at every size, zeroed
 * by ps_big_calloc even when handed out again with old bytes in it. */
static void test_big_blocks(void)
{
    static const size_t sizes[] = {1, 4000, (size_t)4 << 20,
                                   ((size_t)9 << 20) + 3, (size_t)33 << 20};
    for (int round = 0; round < 2; round++) {
        unsigned char *p[5];
        for (size_t i = 0; i < 5; i++) {
            p[i] = ps_big_alloc(sizes[i]);
            CHECK(((uintptr_t)p[i] & 15) == 0);
            memset(p[i], 0xab, sizes[i]);
        }
        for (size_t i = 0; i < 5; i++)
            CHECK(p[i][0] == 0xab && p[i][sizes[i] - 1] == 0xab);
        for (size_t i = 0; i < 5; i++)
            ps_big_free(p[i]);
        /* The freed blocks again (kept), as zeroed arrays. */
        for (size_t i = 0; i < 5; i++) {
            p[i] = ps_big_calloc(sizes[i], 1);
            int zero = 1;
            for (size_t k = 0; k < sizes[i]; k += 4093)
                zero &= p[i][k] == 0;
            CHECK(zero && p[i][sizes[i] - 1] == 0);
        }
        for (size_t i = 0; i < 5; i++)
            ps_big_free(p[i]);
    }
    ps_big_free(NULL);
}

static void test_fcount(void)
{
    static const size_t nts[] = {40, 300, 70000};
    for (size_t w = 0; w < 3; w++) {
        size_t nt = nts[w], ndocs = 5000;
        unsigned width = nt <= 0x100 ? 1 : nt <= 0x10000 ? 2 : 4;
        uint32_t *off = calloc(ndocs + 2, sizeof(uint32_t));
        unsigned char *vals = malloc(ndocs * 12 * width);
        uint32_t rnd = 12345;
#define RND() (rnd = rnd * 1103515245u + 12345u, (rnd >> 8))
        size_t nv = 0;
        for (size_t d = 1; d <= ndocs; d++) {
            off[d] = (uint32_t)nv;
            if (d % 97 == 0)
                continue;                   /* a passage without terms */
            /* term 0 in all, 1..3 in many, the rest seldom */
            uint32_t row[12];
            size_t nr = 0;
            row[nr++] = 0;
            for (uint32_t t = 1; t <= 3; t++)
                if (RND() % 3)
                    row[nr++] = t;
            size_t extra = RND() % 4;
            for (size_t k = 0; k < extra; k++) {
                uint32_t t = 4 + RND() % (uint32_t)(nt - 4);
                int dup = 0;
                for (size_t j = 0; j < nr; j++)
                    dup |= row[j] == t;
                if (!dup)
                    row[nr++] = t;
            }
            for (size_t j = 0; j < nr; j++) {
                memcpy(vals + nv * width, (const char *)&row[j], width);
                nv++;
            }
        }
        off[ndocs + 1] = (uint32_t)nv;
        fcount *f = fcount_build(off, vals, width, ndocs + 2, nt);
        CHECK(f != NULL);
        static const size_t sizes[] = {1, 7, 300, 2500, 4990};
        unsigned *ids = malloc(ndocs * sizeof(unsigned));
        unsigned *want = malloc(nt * sizeof(unsigned));
        unsigned *got = malloc(3 * nt * sizeof(unsigned));
        for (size_t s = 0; s < 5; s++) {
            size_t n = 0;
            for (size_t d = 1; d <= ndocs && n < sizes[s]; d++)
                if (RND() % ndocs < sizes[s] * 1.2)
                    ids[n++] = (unsigned)d;
            memset(want, 0, nt * sizeof(unsigned));
            for (size_t i = 0; i < n; i++)
                for (uint32_t k = off[ids[i]]; k < off[ids[i] + 1]; k++) {
                    uint32_t t = 0;
                    memcpy(&t, vals + (size_t)k * width, width);
                    want[t]++;
                }
            /* Parts 4-6: the same with words counted one at a time where
             * the processor counts them in vectors. */
            for (size_t run = 1; run <= 6; run++) {
                size_t parts = (run - 1) % 3 + 1;
                fcount_vectors(f, run <= 3);
                memset(got, 0, 3 * nt * sizeof(unsigned));
                uint64_t *bits = fcount_bits(f, ids, n);
                for (size_t k = 0; k < parts; k++)
                    fcount_count(f, bits, ids, n, k, parts, got + k * nt);
                free(bits);
                int same = 1;
                for (size_t t = 0; t < nt; t++)
                    same &= got[t] + got[nt + t] + got[2 * nt + t] == want[t];
                CHECK(same);
            }
        }
        /* Counting thousands is cheaper by bits; a handful, by rows. */
        CHECK(fcount_worth(f, 4000) && !fcount_worth(f, 5));
#undef RND
        fcount_free(f);
        free(ids);
        free(want);
        free(got);
        free(off);
        free(vals);
    }
}

static void test_vrange(void)
{
    static const char *units[] = {"亩", "元", "%", "万千瓦"};
    static const double vals[] = {-5, -0.5, 0, 0.25, 1, 3, 100, 1e4, 5e8, 1e9, 1.5e9};
    enum { NDOC = 400 };
    vr_docs v;
    v.pool = ps_xmalloc(NDOC * 8 * 32);
    v.off = ps_xmalloc((NDOC + 2) * sizeof(size_t));
    unsigned docs[NDOC];
    size_t p = 0, nment = 0;
    unsigned seed = 7;
    for (unsigned d = 0; d < NDOC; d++) {
        docs[d] = d;
        v.off[d] = p;
        seed = seed * 1103515245u + 12345u;
        for (unsigned k = 0; k < (seed >> 16) % 6; k++) {
            seed = seed * 1103515245u + 12345u;
            p += vr_mention(v.pool + p, units[(seed >> 16) % 4],
                            vals[(seed >> 8) % 11]);
            nment++;
        }
        if (d == 17) {          /* damaged: no NUL before the 8 bytes */
            memcpy(v.pool + p, "\x0b" "abcdefghijk", 12);
            p += 12;
        }
    }
    v.off[NDOC] = p;
    vrange *r = vrange_build(docs, NDOC, vr_values, &v);
    size_t all = 0, wrong = 0;
    for (size_t u = 0; u < 4; u++)
        for (size_t a = 0; a < 11; a++)
            for (size_t b = 0; b < 11; b++) {
                unsigned char lo[32], hi[32];
                size_t len = strlen(units[u]) + 9;
                vr_bound(lo, units[u], vals[a]);
                vr_bound(hi, units[u], vals[b]);
                unsigned *ids;
                size_t n = vrange_find(r, (const char *)lo, (const char *)hi, len, &ids);
                size_t count = vrange_count(r, (const char *)lo, (const char *)hi, len);
                size_t j = 0, mentions = 0;
                for (unsigned d = 0; d < NDOC; d++) {
                    const unsigned char *m;
                    size_t ml = vr_values(&v, d, &m);
                    int in = 0;
                    for (size_t k = 0; k < ml; k += 1 + m[k])
                        if (m[k] == len && memcmp(m + k + 1, lo, len) >= 0 &&
                            memcmp(m + k + 1, hi, len) <= 0) {
                            in = 1;
                            mentions++;
                        }
                    if (in) {
                        if (j >= n || ids[j] != d)
                            wrong++;
                        j++;
                    }
                }
                if (j != n || count != mentions)
                    wrong++;
                unsigned char bits[NDOC / 8 + 1];   /* the same as bits */
                memset(bits, 0, sizeof bits);
                vrange_mark(r, (const char *)lo, (const char *)hi, len, bits);
                for (size_t k = 0, m = 0; k < NDOC; k++)
                    if (bits[k / 8] >> (k % 8) & 1) {
                        if (m >= n || ids[m] != k)
                            wrong++;
                        m++;
                    } else if (m < n && ids[m] == k) {
                        wrong++;
                    }
                all += n;
                free(ids);
            }
    CHECK(wrong == 0);
    CHECK(all > 1000);       /* the ranges found something */
    CHECK(vrange_maxdoc(r) > NDOC / 2 && vrange_maxdoc(r) < NDOC);
    CHECK(vrange_size(r) == nment);     /* the damaged one left out */
    unsigned *ids = NULL;    /* two units: no range */
    unsigned char lo[32], hi[32];
    vr_bound(lo, "亩", 0);
    vr_bound(hi, "元", 1e9);
    CHECK(vrange_find(r, (const char *)lo, (const char *)hi, 12, &ids) == 0 && !ids);
    vrange_free(r);
    vrange *e = vrange_build(docs, 0, vr_values, &v);     /* empty */
    CHECK(vrange_size(e) == 0 &&
          vrange_find(e, (const char *)lo, (const char *)lo, 12, &ids) == 0);
    vrange_free(e);
    free(v.pool);
    free(v.off);
}


/* A glass block (the layout blockcheck.c describes) passes; each way its
 * directory or an item can point outside it fails. */
static void put2(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void test_blockcheck(void)
{
    enum { N = 8192 };
    static unsigned char b[N], c[N];
    memset(b, 0, N);
    b[3] = 1;                                   /* revision 1, level 0 */
    put2(b + 9, 15);                            /* two directory entries */
    /* item 1: first component, key "ab", tag "xyz": size 3+2+3 = 8 */
    put2(b + 11, N - 8);
    put2(b + N - 8, 0x2000 | 0x4000 | (8 - 3));
    b[N - 6] = 2;
    memcpy(b + N - 5, "abxyz", 5);
    /* item 2: second component of key "c": X(2), tag "q": size 3+1+2+1 */
    put2(b + 13, N - 15);
    put2(b + N - 15, 0x4000 | (7 - 3));
    b[N - 13] = 1;
    memcpy(b + N - 12, "c\0\2q", 4);
    CHECK(blockcheck_block(b, N) == 0);

    memcpy(c, b, N);
    put2(c + 11, 0xfff0);                       /* an item past the block */
    CHECK(blockcheck_block(c, N) < 0);
    memcpy(c, b, N);
    put2(c + 11, 5);                            /* an item in the header */
    CHECK(blockcheck_block(c, N) < 0);
    memcpy(c, b, N);
    put2(c + N - 8, 0x2000 | 0x1000);           /* its length past the end */
    CHECK(blockcheck_block(c, N) < 0);
    memcpy(c, b, N);
    c[N - 6] = 200;                             /* its key past the item */
    CHECK(blockcheck_block(c, N) < 0);
    memcpy(c, b, N);
    put2(c + 9, 0xf000);                        /* the directory past it */
    CHECK(blockcheck_block(c, N) < 0);
    memcpy(c, b, N);
    put2(c + 9, 14);                            /* half an entry */
    CHECK(blockcheck_block(c, N) < 0);

    /* A branch: block(4) K(1) key X(2); the first key is empty. */
    memset(c, 0, N);
    c[3] = 1;
    c[4] = 1;
    put2(c + 9, 15);
    put2(c + 11, N - 7);                        /* empty key -> block 9 */
    c[N - 4] = 9;
    put2(c + 13, N - 16);                       /* key "ab" -> block 10 */
    c[N - 13] = 10;
    c[N - 12] = 2;
    CHECK(blockcheck_block(c, N) == 0);
    c[N - 12] = 9;                              /* a key to the block's end */
    CHECK(blockcheck_block(c, N) == 0);
    c[N - 12] = 250;                            /* key past the block */
    CHECK(blockcheck_block(c, N) < 0);

    memset(c, 0xff, N);                         /* a free-list block */
    c[4] = 254;
    CHECK(blockcheck_block(c, N) == 0);
    memset(c, 0, N);                            /* zeros: no directory */
    CHECK(blockcheck_block(c, N) < 0);
}

/* A random set: each id below span in it with chance 1/every, weight
 * its id + 0.5 (x scale). */
static void random_dset(dset *d, unsigned span, unsigned every, double scale,
                        unsigned *seed)
{
    d->ids = malloc((span + 1) * sizeof(unsigned));
    d->w = malloc((span + 1) * sizeof(double));
    d->n = 0;
    for (unsigned id = 1; id <= span; id++) {
        *seed = *seed * 1103515245u + 12345u;
        if ((*seed >> 16) % every == 0) {
            d->ids[d->n] = id;
            d->w[d->n++] = (id + 0.5) * scale;
        }
    }
}

/* AND and FILTER against a membership table, for sets of like sizes (the
 * merge) and of very different ones (galloping, either side larger). */
static void test_dset(void)
{
    static const unsigned every[][2] = {{1, 1}, {2, 3}, {3, 2}, {1, 40},
                                        {40, 1}, {7, 200}, {300, 2}, {5, 5}};
    unsigned seed = 7;
    int bad = 0;
    for (size_t t = 0; t < sizeof every / sizeof every[0]; t++) {
        dset a, b, and_, filt;
        random_dset(&a, 20000, every[t][0], 1, &seed);
        random_dset(&b, 20000, every[t][1], 1000, &seed);
        unsigned char *inb = calloc(20001, 1);
        for (size_t j = 0; j < b.n; j++)
            inb[b.ids[j]] = 1;
        dset_and(&a, &b, &and_);
        dset_filter(&a, &b, &filt);
        /* The same through a's bits, from b's side. */
        dset_bits ab;
        dset by;
        dset_bits_build(&a, &ab);
        dset_filter_by(&a, &ab, &b, &by);
        CHECK(by.n == filt.n &&
              memcmp(by.ids, filt.ids, by.n * sizeof(unsigned)) == 0 &&
              memcmp(by.w, filt.w, by.n * sizeof(double)) == 0);
        dset_bits_free(&ab);
        dset_free(&by);
        size_t k = 0;
        for (size_t i = 0; i < a.n; i++) {
            if (!inb[a.ids[i]])
                continue;
            double id = a.ids[i];
            if (k >= and_.n || and_.ids[k] != a.ids[i] ||
                and_.w[k] != (id + 0.5) * 1001 || filt.ids[k] != a.ids[i] ||
                filt.w[k] != id + 0.5)
                bad++;
            k++;
        }
        CHECK(and_.n == k && filt.n == k);
        CHECK(k > 0);
        dset_free(&a);
        dset_free(&b);
        dset_free(&and_);
        dset_free(&filt);
        free(inb);
    }
    CHECK(bad == 0);
    if (bad)
        fprintf(stderr, "dset: %d ids or weights differ\n", bad);
}

/* The read cache: what is kept reads back as it was put, the least
 * recently used goes first when full, a value held by a reader outlives
 * its eviction, and every value is freed exactly once. */
static int ncache_freed;

static void free_counted(void *v)
{
    ncache_freed++;
    free(v);
}

static int *counted(int v)
{
    int *p = malloc(sizeof *p);
    *p = v;
    return p;
}

static void test_ncache(void)
{
    const size_t one = 1000;       /* what each value is said to cost */
    ncache_freed = 0;
    ncache *c = ncache_create(10 * (one + 100), free_counted);
    char key[16];
    for (int k = 0; k < 12; k++) {
        snprintf(key, sizeof key, "k%d", k);
        ncache_put(c, key, strlen(key), counted(k), one);
        if (k == 0) {
            const ncache_ent *e = ncache_get(c, "k0", 2);
            CHECK(e && *(int *)e->v == 0);
            ncache_release(c, e);
        }
    }
    ncache_stats st;
    ncache_stats_get(c, &st);
    CHECK(st.bytes <= st.cap && st.entries >= 8 && st.entries < 12);
    CHECK(st.evictions == 12 - st.entries && ncache_freed == (int)st.evictions);
    CHECK(ncache_get(c, "k0", 2) == NULL);          /* the oldest went first */
    const ncache_ent *last = ncache_get(c, "k11", 3);
    CHECK(last && *(int *)last->v == 11);
    /* The same key again: the first stays, the second is freed. */
    int before = ncache_freed;
    ncache_put(c, "k11", 3, counted(99), one);
    CHECK(ncache_freed == before + 1);
    const ncache_ent *held = ncache_get(c, "k4", 2);
    CHECK(held != NULL);
    for (int k = 12; k < 40; k++) {
        snprintf(key, sizeof key, "k%d", k);
        ncache_put(c, key, strlen(key), counted(k), one);
    }
    /* k4 has been evicted by now but is still readable by its holder,
     * and freed only when let go. */
    CHECK(ncache_get(c, "k4", 2) == NULL);
    CHECK(held && *(int *)held->v == 4);
    before = ncache_freed;
    ncache_release(c, held);
    CHECK(ncache_freed == before + 1);
    CHECK(*(int *)last->v == 11);
    ncache_release(c, last);
    /* Above a quarter of the cap: freed, not kept. */
    ncache *small = ncache_create(4 * one, free_counted);
    before = ncache_freed;
    ncache_put(small, "big", 3, counted(1), one + 1);
    CHECK(ncache_get(small, "big", 3) == NULL && ncache_freed == before + 1);
    ncache_destroy(small);
    ncache_stats_get(c, &st);
    CHECK(st.hits == 3 && st.misses == 2);
    before = ncache_freed;
    size_t left = st.entries;
    ncache_destroy(c);
    CHECK(ncache_freed == before + (int)left && ncache_freed == 40 + 1 + 1);
}

int main(void)
{
    char err[PS_ERRLEN];
    ana_res *res = ana_res_load(0, err);
    if (!res) {
        fprintf(stderr, "cannot load data: %s\n", err);
        return 1;
    }
    test_utf8_and_amounts();
    test_normalize();
    test_decode();
    test_text_map();
    test_passages();
    test_tokenize_and_regions(res);
    test_numbers_data(res);
    test_query();
    test_snippet();
    test_grams();
    test_grams_long();
    test_vrange();
    test_big_blocks();
    test_fcount();
    test_dset();
    test_ncache();
    test_fdict();
    test_fcol();
    test_blockcheck();
    test_docmeta();
    test_json_string();
    test_format_check(res);
    ana_res_destroy(res);
    return TEST_REPORT("unit");
}
