#!/usr/bin/env python3
"""End-to-end tests of policy-index and policy-search, TAP-style output.

Runs the real binaries (from $BIN) in temporary directories.  Tests that
need ../shared/corpus say they skip when it is absent.

  e2e.py [-k NAME]
"""
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import start_web, stop_web  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
FIXTURES = os.path.join(ROOT, "fixtures")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Skip(Exception):
    pass


def need_shared():
    if not os.path.isdir(SHARED):
        raise Skip("needs ../shared/corpus")


def run(*args, ok=(0,), input=None):
    p = subprocess.run(list(args), capture_output=True, input=input)
    if p.returncode not in ok:
        raise AssertionError("%s exited %d: %s" % (" ".join(args), p.returncode,
                                                   p.stderr.decode()[-500:]))
    return p


def index(db, *paths, ok=(0,), jobs=None):
    args = [os.path.join(BIN, "policy-index"), "--db", db]
    if jobs:
        args += ["--jobs", str(jobs)]
    p = run(*args, *paths, ok=ok)
    # Every index a run leaves behind passes the full check.
    if os.path.exists(os.path.join(db, "XAPIANDB")) and p.returncode in (0, 1) and \
            b"nothing written" not in p.stderr:
        c = subprocess.run([os.path.join(BIN, "policy-index"), "--check", db], capture_output=True)
        if c.returncode != 0:
            raise AssertionError("--check after indexing: " + c.stderr.decode()[-300:])
    return p


def search(db, query, *flags, ok=(0,)):
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", *flags,
            "--", query, ok=ok)
    return json.loads(p.stdout.decode().splitlines()[-1])


def write_text(path, text):
    """Writes text (UTF-8) to path, making its directory."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


_dbs = {}


def shared_db(tmp):
    need_shared()
    if "shared" not in _dbs:
        db = os.path.join(tmp, "shared-db")
        index(db, SHARED)
        _dbs["shared"] = db
    return _dbs["shared"]


def fixtures_db(tmp):
    if "fixtures" not in _dbs:
        db = os.path.join(tmp, "fixtures-db")
        index(db, FIXTURES)
        _dbs["fixtures"] = db
    return _dbs["fixtures"]


# ---- core search ----

@test
def quoted_phrase_finds_every_passage_including_wrapped(tmp):
    db = shared_db(tmp)
    r = search(db, '"防沙治沙"', "--limit", "0")
    check(all("防沙治沙" in h["text"] for h in r["hits"]), "a hit lacks the phrase")
    want = 0
    for name in os.listdir(SHARED):
        t = open(os.path.join(SHARED, name), encoding="utf-8").read()
        want += "".join(t.split()).count("防沙治沙")
    check(r["total"] == want == len(r["hits"]),
          "total %d, hits %d, occurrences in files %d" % (r["total"], len(r["hits"]), want))
    wrapped = [h for h in r["hits"] if "462万亩" in h["text"]]
    check(wrapped, "the passage wrapping 防沙/治沙 across lines is missing")
    check(all("<mark>防沙治沙</mark>" in h["snippet"] for h in r["hits"]), "match not marked")


@test
def hits_show_the_source_as_written(tmp):
    # Matching is on the normalized text; hits show the source's own
    # characters (full-width punctuation, Traditional, full-width digits)
    # with the marks around the right ones.
    db = fixtures_db(tmp)
    r = search(db, '"乡村振兴作为新时代"')
    check(r["total"] == 1, "total %d" % r["total"])
    h = r["hits"][0] if r["hits"] else {"text": "", "snippet": "", "title": ""}
    check("張家口市堅持把鄉村振興作為新時代「三農」工作總抓手，" in h["text"], "text not as written: " + h["text"][:60])
    check("<mark>鄉村振興作為新時代</mark>「三農」" in h["snippet"], "mark misplaced: " + h["snippet"][:80])
    check(h["title"] == "張家口市鄉村振興工作簡報（繁體）", "title not as written: " + h["title"])
    r = search(db, '"优势,建设"')          # an ASCII comma finds the full-width one
    check(r["total"] == 1 and "<mark>优势，建设</mark>" in r["hits"][0]["snippet"],
          "full-width comma not marked as written: %s" % r["hits"][:1])
    r = search(db, '"120万台"')
    h = r["hits"][0] if r["hits"] else {"text": "", "snippet": ""}
    check("１２０万台" in h["text"] and "<mark>１２０万台</mark>" in h["snippet"],
          "full-width digits not as written: " + h["snippet"][:80])


@test
def symlinks_out_of_the_roots_are_not_followed(tmp):
    d = os.path.join(tmp, "links")
    os.makedirs(d)
    open(os.path.join(d, "own.txt"), "w").write("本目录自己的文件：链接测试段落。\n")
    outside = os.path.join(tmp, "outside-secret.txt")
    open(outside, "w").write("目录之外的机密文字。\n")
    os.symlink(outside, os.path.join(d, "secret.txt"))
    os.symlink(os.path.join(d, "own.txt"), os.path.join(d, "inside-link.txt"))
    db = os.path.join(tmp, "links-db")
    p = index(db, d)
    err = p.stderr.decode()
    check("secret.txt: symbolic link out of the indexed directory" in err, err)
    check("skipped (outside the indexed roots ×1)" in err.strip().splitlines()[-1], err)
    check(search(db, '"机密文字"')["total"] == 0, "a file outside the root was indexed")
    check(search(db, '"链接测试段落"')["total"] == 2, "a link inside the root was not followed")
    index(db, "--follow-symlinks", d)
    check(search(db, '"机密文字"')["total"] == 1, "--follow-symlinks did not follow")


def normalize(lines):
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--normalize"],
                       input="".join(l.replace("\n", " ") + "\n" for l in lines).encode(),
                       capture_output=True, check=True)
    return p.stdout.decode().split("\n")[:len(lines)]


def read_text(path):
    data = open(path, "rb").read()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    return ""


def text_files(root):
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith((".txt", ".md")):
                yield os.path.relpath(os.path.join(dirpath, n), root)


def check_nothing_dropped(db, root):
    hits = search(db, "", "--limit", "0", "--no-facets")["hits"]
    docs = {}
    for h in hits:
        docs.setdefault(h["doc"], []).append(h)
    for rel in text_files(root):
        ps = sorted(docs.get(rel, []), key=lambda h: h["passage"])
        raw = read_text(os.path.join(root, rel))
        # Markdown marks are layout, not text.
        raw = re.sub(r"(?m)^[ \t]*#{1,6}[ \t]", "", raw).replace("**", "")
        want, got = normalize([raw, "".join(h["text"] for h in ps)])
        want, got = re.sub(r"\s", "", want), re.sub(r"\s", "", got)
        check(want == got, "%s: passages in order are not the text (%d vs %d characters; first "
              "difference at %d)" % (rel, len(got), len(want),
                                     next((i for i, (a, b) in enumerate(zip(want, got)) if a != b),
                                          min(len(want), len(got)))))
        # Every short line (titles, subtitles, bylines, headings) is found.
        # (A wrapped line holding a sentence end may run across two
        # passages of a long paragraph, which are cut at sentence ends.)
        lines = [l.strip() for l in raw.splitlines()
                 if 2 <= len(l.strip()) <= 32 and not set(l) & set("。；！？;!?")]
        lines = [l for l in lines if not (set(l) & set('"\u201c\u201d\uff02'))]
        if lines:
            res = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--batch", "-",
                                  "--limit", "0", "--no-facets"],
                                 input="".join('"%s"\n' % l for l in lines).encode(),
                                 capture_output=True, check=True).stdout.decode().splitlines()
            missing = [l for l, r in zip(lines, res) if rel not in {h["doc"] for h in json.loads(r)["hits"]}]
            check(not missing, "%s: short lines not found: %s" % (rel, missing[:3]))


@test
def every_character_of_the_fixtures_is_in_a_passage(tmp):
    check_nothing_dropped(fixtures_db(tmp), FIXTURES)


@test
def every_character_of_the_shared_corpus_is_in_a_passage(tmp):
    check_nothing_dropped(shared_db(tmp), SHARED)


@test
def traditional_query_finds_simplified(tmp):
    db = shared_db(tmp)
    trad = search(db, "鄉村振興", "--limit", "0")
    simp = search(db, "乡村振兴", "--limit", "0")
    check(simp["total"] > 0, "no 乡村振兴 passages")
    check(trad["total"] == simp["total"], "traditional %d vs simplified %d" % (trad["total"], simp["total"]))


@test
def fullwidth_query_finds_ascii_digits(tmp):
    db = shared_db(tmp)
    r = search(db, '"１２０９１名"')
    check(r["total"] >= 1 and all("12091名" in h["text"] for h in r["hits"]),
          "１２０９１名 did not find 12091名: %s" % r["total"])


@test
def fixtures_cover_encodings_and_scripts(tmp):
    db = fixtures_db(tmp)
    r = search(db, '"河套灌区"')
    check(r["total"] >= 1 and r["hits"][0]["doc"].endswith("gb18030.txt"), "GB18030 file not searchable")
    r = search(db, '"120万台"')
    check(r["total"] == 1, "full-width digits in a file not folded")
    r = search(db, '"乡村振兴"')
    check(r["total"] >= 1 and "zhangjiakou" in r["hits"][0]["doc"], "Traditional file not folded")
    r = search(db, '"新能源"')
    check(any("新能源发电量" in h["text"] for h in r["hits"]), "column-wrapped 新能\\n源 not rejoined")


@test
def query_syntax_and_exclusion(tmp):
    db = fixtures_db(tmp)
    a = search(db, '"肉牛"', "--limit", "0")["total"]
    b = search(db, '"光伏"', "--limit", "0")["total"]
    both = search(db, '"肉牛" OR "光伏"', "--limit", "0")
    check(both["total"] >= max(a, b) and both["total"] <= a + b, "OR count off")
    ex = search(db, '"新能源" -"鄂尔多斯"', "--limit", "0")
    check(ex["total"] > 0 and all("鄂尔多斯" not in h["text"] for h in ex["hits"]), "exclusion leaked")
    anded = search(db, "新能源 装机", "--limit", "0")
    check(all("新能源" in h["text"] and "装机" in h["text"] for h in anded["hits"]), "AND broken")
    # The operators users bring from other search boxes, in capitals.
    def ids(r):
        return [(h["doc"], h["passage"]) for h in r["hits"]]
    check(ids(search(db, "新能源 AND 装机", "--limit", "0")) == ids(anded), "AND differs from a space")
    check(ids(search(db, '"新能源" NOT "鄂尔多斯"', "--limit", "0")) == ids(ex), "NOT differs from -")
    check(ids(search(db, "+新能源 +装机", "--limit", "0")) == ids(anded), "+term differs from term")


def write_xlsx(path, sheets, shared, rels=True, styles=None):
    """A workbook as Excel writes one: sheets [(name, rows XML)], the
    shared strings [<si> XML], the workbook's relations unless rels is
    False, styles.xml's body when given."""
    import zipfile
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        wb, rl = [], []
        for i, (name, rows) in enumerate(sheets, 1):
            wb.append('<sheet name="%s" sheetId="%d" r:id="rId%d"/>' % (name, i, i))
            rl.append('<Relationship Id="rId%d" Target="worksheets/sheet%d.xml"/>' % (i, i))
            z.writestr("xl/worksheets/sheet%d.xml" % i,
                       '<worksheet %s><sheetData>%s</sheetData></worksheet>' % (ns, rows))
        z.writestr("xl/workbook.xml", '<workbook %s xmlns:r="http://schemas.openxml'
                   'formats.org/officeDocument/2006/relationships"><sheets>%s</sheets>'
                   '</workbook>' % (ns, "".join(wb)))
        if rels:
            z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.'
                       'openxmlformats.org/package/2006/relationships">%s</Relationships>'
                       % "".join(rl))
        z.writestr("xl/sharedStrings.xml", '<sst %s>%s</sst>' % (ns, "".join(shared)))
        if styles:
            z.writestr("xl/styles.xml", '<styleSheet %s>%s</styleSheet>' % (ns, styles))


@test
def spreadsheet_rows_are_passages(tmp):
    # A project list attached as .xlsx: every row a passage (its cells
    # joined), under its sheet's name; regions, amounts and the value
    # filter work on them as on any text.
    d = os.path.join(tmp, "xlsx-docs")
    os.makedirs(d)
    shared = ["<si><t>项目名称</t></si>", "<si><t>总投资</t></si>", "<si><t>翁牛特旗光伏治沙基地</t></si>",
              "<si><r><t>科尔沁沙地</t></r><r><t>综合治理</t></r><rPh><t>ke</t></rPh></si>",
              "<si><t>5.2亿元</t></si>"]
    rows1 = ('<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row>'
             '<row><c t="s"><v>2</v></c><c t="s"><v>4</v></c><c><v>2025</v></c></row>'
             '<row><c t="s"><v>3</v></c><c t="inlineStr"><is><t>3.8亿元</t></is></c></row>')
    rows2 = '<row><c t="inlineStr"><is><t>敖汉旗退化草原修复</t></is></c><c><v>98.2</v></c></row>'
    # Dates are day numbers under a date style: a built-in one (14), a
    # custom one with 年, and a custom number format quoting a "d".
    styles = ('<numFmts><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
              '<numFmt numFmtId="165" formatCode="0.0&quot;d&quot;"/></numFmts>'
              '<cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/>'
              '<xf numFmtId="165"/></cellXfs>')
    rows1 += ('<row><c t="inlineStr"><is><t>开工</t></is></c><c s="1"><v>45728</v></c>'
              '<c s="2"><v>45717</v></c><c s="3"><v>12.5</v></c></row>')
    write_xlsx(os.path.join(d, "projects.xlsx"), [("重点项目", rows1), ("Sheet2", rows2)], shared,
               styles=styles)
    write_xlsx(os.path.join(d, "bare.xlsx"), [("Sheet1", rows2)], [], rels=False)
    db = os.path.join(tmp, "xlsx-db")
    p = index(db, d)
    check(b"2 indexed" in p.stderr, p.stderr.decode()[-200:])
    hits = search(db, "", "--limit", "0")["hits"]
    rows = {(h["doc"], h["text"]): h for h in hits}
    row = rows.get(("projects.xlsx", "翁牛特旗光伏治沙基地 | 5.2亿元 | 2025"))
    check(row is not None, "row not a passage: %r" % sorted(rows))
    check(row["kind"] == "table" and row["heading"] == "重点项目" and row["format"] == "xlsx",
          "row: %r" % {k: row[k] for k in ("kind", "heading", "format")})
    check("赤峰市" in row["regions"] or "翁牛特旗" in row["regions"], "regions %r" % row["regions"])
    check(("projects.xlsx", "科尔沁沙地综合治理 | 3.8亿元") in rows, "rich text runs joined, phonetic left out")
    check(("bare.xlsx", "敖汉旗退化草原修复 | 98.2") in rows, "a workbook without relations")
    check(("projects.xlsx", "开工 | 2025-03-12 | 2025年3月1日 | 12.5") in rows,
          "date cells: %r" % [t for (dc, t) in rows if t.startswith("开工")])
    check(not any(h["text"] == "Sheet2" for h in hits), "a default sheet name is not a heading")
    r = search(db, "", "--unit", "元", "--min", "4亿", "--limit", "0")
    check([h["text"] for h in r["hits"]] == ["翁牛特旗光伏治沙基地 | 5.2亿元 | 2025"],
          "value filter on rows: %r" % [h["text"] for h in r["hits"]])


@test
def excel_97_workbook_rows_are_passages(tmp):
    # An .xls attachment (tests/data/projects.xls, written by a BIFF8
    # writer: tools/make-xls.py): rows as for .xlsx, dates as dates, the
    # cell with a comma, quotes and a line break whole; a damaged copy
    # and a Word file named .xls are reported, the rest indexed.
    d = os.path.join(tmp, "xls-docs")
    os.makedirs(d)
    src = os.path.join(ROOT, "tests", "data", "projects.xls")
    shutil.copy(src, os.path.join(d, "projects.xls"))
    data = open(src, "rb").read()
    open(os.path.join(d, "damaged.xls"), "wb").write(data[:len(data) // 3])
    shutil.copy(os.path.join(ROOT, "tests", "data", "plan.doc"), os.path.join(d, "word.xls"))
    db = os.path.join(tmp, "xls-db")
    p = index(db, d, ok=(1,))
    err = p.stderr.decode()
    check(b"1 indexed" in p.stderr and "2 failed" in err, err[-300:])
    for name in ("damaged.xls", "word.xls"):
        check(any(("/%s: cannot read this Excel 97-2003 spreadsheet" % name) in l
                  for l in err.splitlines()), "%s not reported: %s" % (name, err[-400:]))
    hits = search(db, "", "--limit", "0")["hits"]
    rows = {h["text"]: h for h in hits}
    row = rows.get("1 | 翁牛特旗光伏治沙基地 | 翁牛特旗 | 5.2 | 2025-03-12 | 板上发电、板下种植")
    check(row is not None, "row not a passage: %r" % sorted(rows)[:5])
    if row:
        check(row["kind"] == "table" and row["heading"] == "重点项目" and row["format"] == "xls",
              "row: %r" % {k: row[k] for k in ("kind", "heading", "format")})
        check("翁牛特旗" in row["regions"], "regions %r" % row["regions"])
    check('2 | 科尔沁沙地综合治理 | 敖汉旗 | 3.8亿元 | 2025-05-06 | 含"三北"工程, 年内完工' in rows,
          "the cell with a comma and quotes")
    check("3 | 巴林右旗退化草原修复 | 巴林右旗 | 1.25 | 第一期第二期" in rows,
          "the two-line cell, its lines joined")
    check(len([t for t in rows if t[:1].isdigit()]) == 123, "rows: %d" % len(rows))
    heads = [h["text"] for h in hits if h["kind"] == "heading"]
    check(heads == ["重点项目", "任务分工"], "sheet headings: %r" % heads)
    check("备用" in rows, "the third sheet's cell")
    r = search(db, '"退化草原修复"')
    check(r["total"] == 1 and r["hits"][0]["doc"] == "projects.xls", "quoted search: %r" % r["total"])
    r = search(db, "", "--unit", "元", "--min", "3亿", "--limit", "0")
    check([h["text"].split(" | ")[1] for h in r["hits"]] == ["科尔沁沙地综合治理"],
          "value filter on rows: %r" % [h["text"] for h in r["hits"]])


@test
def presentation_slides_are_passages(tmp):
    # A policy briefing as .pptx (tests/data/briefing.pptx, written by a
    # PPTX writer: tools/make-pptx.cjs): slides in order, each slide's
    # number its page, title placeholders as headings (the first slide's
    # the title), bullets as text under them, a table a passage a row;
    # speaker notes are not passages.  A PowerPoint 97-2003 file beside
    # it is skipped with what to do (an OLE container named .ppt: the
    # name decides, so Word's container stands in for one).
    d = os.path.join(tmp, "pptx-docs")
    os.makedirs(d)
    shutil.copy(os.path.join(ROOT, "tests", "data", "briefing.pptx"), d)
    shutil.copy(os.path.join(ROOT, "tests", "data", "plan.doc"), os.path.join(d, "old.ppt"))
    db = os.path.join(tmp, "pptx-db")
    err = index(db, d).stderr.decode()
    check("old.ppt: unsupported format (PowerPoint 97-2003 presentation, .ppt): "
          "saved as .pptx it is read" in err and "1 skipped" in err and "0 failed" in err,
          "the .ppt: %s" % err[-300:])
    hits = sorted(search(db, "", "--limit", "0")["hits"], key=lambda h: h["passage"])
    got = [(h["kind"], h.get("page"), h["heading"], h["text"]) for h in hits]
    want = [("title", 1, None, "赤峰市防沙治沙三年行动政策解读"),
            ("text", 1, None, "赤峰市林业和草原局\u30002025年3月"),
            ("heading", 2, None, "一、主要目标"),
            ("text", 2, "一、主要目标", "到2026年底完成沙化土地治理任务462万亩"),
            ("text", 2, "一、主要目标", "新增风电光伏装机200万千瓦"),
            ("text", 2, "一、主要目标", "项目区植被覆盖度提高到百分之四十以上"),
            ("heading", 3, None, "二、重点工程"),
            ("table", 3, "二、重点工程", "工程 | 地点 | 投资"),
            ("table", 3, "二、重点工程", "光伏治沙示范工程 | 翁牛特旗 | 5.2亿元"),
            ("table", 3, "二、重点工程", "退化草原修复 | 巴林右旗 | 1.25亿元"),
            ("heading", 4, None, "三、保障措施"),
            ("text", 4, "三、保障措施", "各旗县区人民政府是防沙治沙工作的责任主体。"),
            ("text", 4, "三、保障措施", "建立月调度、季通报、年考核工作机制。")]
    check(got == want, "passages:\n%s" % "\n".join(map(repr, got)))
    check(all(h["format"] == "pptx" and h["title"] == "赤峰市防沙治沙三年行动政策解读" for h in hits),
          "format and title: %r" % {(h["format"], h["title"]) for h in hits})
    r = search(db, '"防沙治沙工作的责任主体"')
    check(r["total"] == 1 and r["hits"][0].get("page") == 4, "a phrase of slide 4: %r" % r["hits"])
    check(search(db, '"以工代赈"')["total"] == 0, "speaker notes were indexed")
    r = search(db, "", "--region", "巴林右旗", "--limit", "0")
    check([h["text"] for h in r["hits"]] == ["退化草原修复 | 巴林右旗 | 1.25亿元"],
          "region filter on a table row: %r" % [h["text"] for h in r["hits"]])


ODF_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
          'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
          'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
          'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3"')


def write_odf(path, mime, body, title=None):
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), mime)       # first, stored
        z.writestr("content.xml", '<?xml version="1.0" encoding="UTF-8"?>'
                   '<office:document-content %s><office:automatic-styles><style:style style:name="P1" '
                   'style:family="paragraph" style:parent-style-name="Title"/></office:automatic-styles>'
                   '<office:body>%s</office:body>'
                   '</office:document-content>' % (ODF_NS, body))
        if title:
            z.writestr("meta.xml", '<office:document-meta %s><office:meta><dc:title>%s</dc:title>'
                       '</office:meta></office:document-meta>' % (ODF_NS, title))
        z.writestr("META-INF/manifest.xml", '<manifest:manifest xmlns:manifest='
                   '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')


@test
def opendocument_files_are_read(tmp):
    # Offices on domestic Linux desktops save OpenDocument: text (headings,
    # spans, spaces, a list, a table, a deletion tracked but not content),
    # a spreadsheet (named sheets, rows) and a presentation (slides as
    # pages, title frames as headings).
    d = os.path.join(tmp, "odf-docs")
    os.makedirs(d)
    write_odf(os.path.join(d, "plan.odt"), "application/vnd.oasis.opendocument.text",
              '<office:text><text:tracked-changes><text:changed-region><text:deletion>'
              '<text:p>已删除的旧表述</text:p></text:deletion></text:changed-region></text:tracked-changes>'
              '<text:p text:style-name="P1">赤峰市防沙治沙工作方案</text:p>'
              '<text:h text:outline-level="2">一、总体要求</text:h>'
              '<text:p>到2026年底完成<text:span>沙化土地</text:span>治理任务462万亩<text:s text:c="2"/>，'
              '新增风电光伏装机200万千瓦。</text:p>'
              '<text:list><text:list-item><text:p>敖汉旗完成造林种草38万亩。</text:p></text:list-item></text:list>'
              '<table:table table:name="表1"><table:table-row><table:table-cell><text:p>工程</text:p></table:table-cell>'
              '<table:table-cell><text:p>投资</text:p></table:table-cell></table:table-row>'
              '<table:table-row><table:table-cell><text:p>光伏治沙</text:p></table:table-cell>'
              '<table:table-cell><text:p>5.2亿元</text:p></table:table-cell></table:table-row></table:table>'
              '</office:text>', title="赤峰市防沙治沙工作方案")
    write_odf(os.path.join(d, "list.ods"), "application/vnd.oasis.opendocument.spreadsheet",
              '<office:spreadsheet><table:table table:name="重点项目"><table:table-row>'
              '<table:table-cell><text:p>巴林右旗退化草原修复</text:p></table:table-cell>'
              '<table:table-cell office:value-type="float" office:value="1.25"><text:p>1.25</text:p></table:table-cell>'
              '</table:table-row><table:table-row table:number-rows-repeated="1048570"><table:table-cell/>'
              '</table:table-row></table:table><table:table table:name="任务分工"><table:table-row>'
              '<table:table-cell><text:p>市林草局</text:p></table:table-cell></table:table-row></table:table>'
              '</office:spreadsheet>')
    write_odf(os.path.join(d, "talk.odp"), "application/vnd.oasis.opendocument.presentation",
              '<office:presentation><draw:page draw:name="p1"><draw:frame presentation:class="title">'
              '<draw:text-box><text:p>防沙治沙政策解读</text:p></draw:text-box></draw:frame></draw:page>'
              '<draw:page draw:name="p2"><draw:frame presentation:class="title"><draw:text-box>'
              '<text:p>主要目标</text:p></draw:text-box></draw:frame><draw:frame presentation:class="outline">'
              '<draw:text-box><text:list><text:list-item><text:p>植被覆盖度提高到百分之四十</text:p>'
              '</text:list-item></text:list></draw:text-box></draw:frame></draw:page></office:presentation>')
    db = os.path.join(tmp, "odf-db")
    p = index(db, d)
    check(b"3 indexed" in p.stderr, p.stderr.decode()[-300:])
    hits = sorted(search(db, "", "--limit", "0")["hits"], key=lambda h: (h["doc"], h["passage"]))
    got = {}
    for h in hits:
        got.setdefault(h["doc"], []).append((h["kind"], h.get("page"), h["text"]))
    check(got.get("plan.odt") == [
        ("title", None, "赤峰市防沙治沙工作方案"), ("heading", None, "一、总体要求"),
        ("text", None, "到2026年底完成沙化土地治理任务462万亩 ，新增风电光伏装机200万千瓦。"),
        ("text", None, "敖汉旗完成造林种草38万亩。"),
        ("table", None, "工程 | 投资"), ("table", None, "光伏治沙 | 5.2亿元")],
        "odt: %r" % got.get("plan.odt"))
    check(got.get("list.ods") == [("heading", None, "重点项目"), ("table", None, "巴林右旗退化草原修复 | 1.25"),
                                  ("heading", None, "任务分工"), ("table", None, "市林草局")],
          "ods: %r" % got.get("list.ods"))
    check(got.get("talk.odp") == [("title", 1, "防沙治沙政策解读"), ("heading", 2, "主要目标"),
                                  ("text", 2, "植被覆盖度提高到百分之四十")],
          "odp: %r" % got.get("talk.odp"))
    check({h["format"] for h in hits} == {"odt", "ods", "odp"}, "formats")
    check(search(db, '"已删除的旧表述"')["total"] == 0, "deleted text was indexed")


@test
def files_named_in_gbk_are_indexed_under_their_chinese_names(tmp):
    # A zip made on Chinese Windows, unpacked here, leaves names in GBK:
    # they were skipped.  Each part of the path that is not UTF-8 is read
    # as GB18030 (what even that cannot read becomes %XX); the file itself
    # is found by its bytes.
    from checks import http_get
    import urllib.parse
    d = os.path.join(tmp, "gbk-docs").encode()
    os.makedirs(os.path.join(d, "附件".encode("gbk")))
    files = {"赤峰治沙方案.txt".encode("gbk"): "赤峰市防沙治沙三年行动方案。\n",
             os.path.join("附件".encode("gbk"), "项目清单.txt".encode()): "重点项目：防沙治沙工程。\n",
             b"\xff\xfeodd.txt": "另一份防沙治沙材料。\n"}
    for name, text in files.items():
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(text)
    db = os.path.join(tmp, "gbk-db")
    index(db, d.decode("utf-8", "surrogateescape"))
    r = search(db, '"防沙治沙"', "--limit", "0")
    got = sorted(h["doc"] for h in r["hits"])
    check(got == ["%FF%FEodd.txt", "赤峰治沙方案.txt", "附件/项目清单.txt"], "documents: %r" % got)
    titles = {h["doc"]: h["title"] for h in r["hits"]}
    check(titles["赤峰治沙方案.txt"] == "赤峰治沙方案", "title from the name: %r" % titles)
    p = index(db, d.decode("utf-8", "surrogateescape"))
    check(b"3 unchanged" in p.stderr, "a second run: " + p.stderr.decode()[-200:])
    log = open(os.path.join(tmp, "gbk-web.log"), "w+")
    w, port = start_web(BIN, db, log)
    try:
        check(port is not None, "policy-web did not start")
        for doc, text in [("赤峰治沙方案.txt", "赤峰市防沙治沙三年行动方案"),
                          ("%FF%FEodd.txt", "另一份防沙治沙材料")]:
            status, body = http_get(port, "/api/file?doc=" + urllib.parse.quote(doc))
            check(status == 200 and text in body.decode("utf-8", "replace"),
                  "/api/file %s: %d %r" % (doc, status, body[:80]))
    finally:
        stop_web(w)
    os.remove(os.path.join(d, "赤峰治沙方案.txt".encode("gbk")))
    p = index(db, d.decode("utf-8", "surrogateescape"))
    check(b"1 removed" in p.stderr, "removal: " + p.stderr.decode()[-200:])
    check(search(db, '"防沙治沙"')["total"] == 2, "the removed file's passage is gone")


@test
def a_region_is_found_however_it_is_written(tmp):
    # Padded, Traditional, a short form, or a path down from its province
    # (the way to say which 朝阳区): the same passages as its name.
    db = fixtures_db(tmp)
    def hits(region):
        r = search(db, "", "--region", region, "--limit", "0")
        return sorted((h["doc"], h["passage"]) for h in r["hits"])
    for name, forms in [("赤峰市", [" 赤峰市 ", "赤峰", "內蒙古赤峰市", "内蒙古自治区/赤峰市"]),
                        ("石拐区", ["包头市石拐区", "包头 石拐区", "內蒙古包頭市石拐區"]),
                        ("内蒙古自治区", ["內蒙古", "内蒙古　"])]:
        want = hits(name)
        check(want, "no passages in %s" % name)
        for f in forms:
            check(hits(f) == want, "--region %r differs from %s" % (f, name))
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--region",
            "赤峰市石拐区", "", ok=(2,))
    check("unknown region" in json.loads(p.stdout)["error"], "a path that does not nest is unknown")


@test
def a_word_pasted_with_its_punctuation_finds_the_word(tmp):
    # Copied out of a document: 防沙治沙。 or 《防沙治沙》; the text has the
    # word followed or framed by other characters.
    db = fixtures_db(tmp)
    word = search(db, "防沙治沙", "--limit", "0")
    check(word["total"] > 0, "no hits for the word")
    for q in ["防沙治沙。", "《防沙治沙》", "“防沙治沙，"[1:]]:
        r = search(db, q, "--limit", "0")
        check(r["total"] == word["total"], "%s: %d hits, the word alone %d" % (q, r["total"], word["total"]))
    # Quoted, the punctuation is part of the phrase.
    quoted = search(db, '"防沙治沙。"', "--limit", "0")
    check(all("防沙治沙。" in h["text"] for h in quoted["hits"]), "quoted punctuation ignored")


@test
def unquoted_whole_string_ranks_first(tmp):
    db = fixtures_db(tmp)
    r = search(db, "防沙治沙任务", "--limit", "0")
    texts = [h["text"] for h in r["hits"]]
    check(texts, "no hits")
    whole = [i for i, t in enumerate(texts) if "防沙治沙任务" in t]
    part = [i for i, t in enumerate(texts) if "防沙治沙任务" not in t]
    check(whole and (not part or max(whole) < min(part)),
          "passages with the whole string must come first: %s %s" % (whole, part))


@test
def limit_offset_total(tmp):
    db = fixtures_db(tmp)
    all_ = search(db, "", "--limit", "0")
    check(all_["total"] == len(all_["hits"]) > 20, "empty query should list every passage")
    page = search(db, "", "--limit", "5", "--offset", "10")
    check([h["passage"] for h in page["hits"]] == [h["passage"] for h in all_["hits"][10:15]],
          "offset page differs from the full list")
    check(page["total"] == all_["total"], "total depends on the page")


@test
def every_hit_at_once_is_the_pages_put_together(tmp):
    # --limit 0 (and any limit over a thousand) writes hits as they are
    # made: the answer must be the one paging gives, in JSON, for
    # people and in a batch; an error after some hits still ends the
    # JSON, with the error, and exits 1.
    db = fixtures_db(tmp)
    for q, flags in (("", ()), ('"新能源"', ()), ("", ("--group", "doc")),
                     ("", ("--sort", "date", "--no-facets"))):
        whole = search(db, q, "--limit", "0", *flags)
        check(whole["total"] > 10 and len(whole["hits"]) == whole["total"],
              "%r %s: %d hits of %d" % (q, flags, len(whole["hits"]), whole["total"]))
        hits = []
        while len(hits) < whole["total"]:
            page = search(db, q, "--limit", "7", "--offset", str(len(hits)), *flags)
            check(page["hits"], "%r: page at %d is empty" % (q, len(hits)))
            hits += page["hits"]
        for h in hits + whole["hits"]:
            h.pop("score")      # rounded alike, but a float
        check(hits == whole["hits"], "%r %s: --limit 0 differs from its pages" % (q, flags))
        check(page["facets"] == whole["facets"] and page["total"] == whole["total"],
              "%r %s: facets or total differ" % (q, flags))
        p = run(os.path.join(BIN, "policy-search"), "--db", db, "--limit", "0", *flags, "--", q)
        out = p.stdout.decode()
        check(out.split("\n")[0].startswith("%d " % whole["total"]) and
              len(re.findall(r"(?m)^\S+ #\d+  \[", out)) == whole["total"],
              "%r %s: the readable list does not hold every hit" % (q, flags))
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit", "1001",
            "--batch", "-", input='"新能源"\n\n'.encode())
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    check(len(lines) == 2 and [len(x["hits"]) for x in lines] ==
          [search(db, q, "--limit", "0")["total"] for q in ('"新能源"', "")],
          "a batch of two streamed answers: %s" % [len(x.get("hits", ())) for x in lines])
    # Written to a full disk: an error, not a cut answer taken for whole.
    if os.path.exists("/dev/full"):
        with open("/dev/full", "wb") as full:
            p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json",
                                "--limit", "0", ""], stdout=full, stderr=subprocess.PIPE)
        check(p.returncode == 1 and b"writing the answer" in p.stderr,
              "--limit 0 to a full disk: exit %d, %r" % (p.returncode, p.stderr[-200:]))
    # A record lost after the first hits: the JSON still parses.
    d = os.path.join(tmp, "streamed-cut")
    os.makedirs(d)
    for name, times in (("a", 3), ("b", 1)):      # a's passages rank first
        with open(os.path.join(d, name + ".txt"), "w", encoding="utf-8") as f:
            f.write("标题\n\n" + "".join("赤峰市推进%s第%d段。\n\n" % ("防沙治沙" * times, i)
                                         for i in range(30)))
    cut = os.path.join(tmp, "streamed-cut-db")
    subprocess.run([os.path.join(BIN, "policy-index"), "--db", cut, d], check=True,
                   capture_output=True, env=dict(os.environ, PS_FAULT="data-record:b.txt"))
    p = run(os.path.join(BIN, "policy-search"), "--db", cut, "--json", "--limit", "0",
            "防沙治沙", ok=(1,))
    o = json.loads(p.stdout)
    check(o.get("hits") and "record" in o.get("error", "") and b"record" in p.stderr,
          "an answer cut short: %s" % p.stdout.decode()[-300:])


@test
def malformed_queries_and_flags_exit_2(tmp):
    db = fixtures_db(tmp)
    for q in ['"unclosed', "OR 光伏", "光伏 OR", '""', "光伏 AND", "NOT"]:
        p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--", q, ok=(2,))
        check("error" in json.loads(p.stdout), "no JSON error for %r" % q)
        check(p.stderr.strip(), "no message for %r" % q)
    run(os.path.join(BIN, "policy-search"), "--db", db, "--limit", "-1", "x", ok=(2,))
    run(os.path.join(BIN, "policy-search"), "--db", db, "--bogus", ok=(2,))
    run(os.path.join(BIN, "policy-search"), "--db", db, "--unit", "亩", "--min", "abc", "x", ok=(2,))
    run(os.path.join(BIN, "policy-search"), "--db", db, "--region", "火星", "x", ok=(2,))
    run(os.path.join(BIN, "policy-index"), ok=(2,))
    # A flag's value quoted in the message: cut at a whole character, and
    # bytes that are not UTF-8 shown as '?' (JSON cannot carry either).
    for flag in ["--region", "--sector", "--type", "--agency", "--sort",
                 "--group", "--unit", "--from"]:
        for v in ["北京市" * 30, b"\xe5\x8c\x97\xff\xe5".decode("utf-8", "surrogateescape")]:
            p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", flag, v,
                    "x", ok=(0, 2))
            out = p.stdout.decode("utf-8")
            check(out and json.loads(out.splitlines()[-1]) is not None,
                  "%s %r: no JSON answer" % (flag, v[:8]))
    hostile = "\"" * 3 + "防" * 5000
    run(os.path.join(BIN, "policy-search"), "--db", db, "--", hostile, ok=(2,))
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--", "<script>*?[(\\", ok=(0,))
    check(json.loads(p.stdout)["total"] == 0, "odd characters should just find nothing")


@test
def a_query_over_its_time_budget_is_refused_with_a_message(tmp):
    db = fixtures_db(tmp)
    # 64 phrases (the most a query takes), each read from the index in
    # three bigrams: well over a 1 ms budget.
    text = "".join(read_text(os.path.join(FIXTURES, p)) for p in sorted(os.listdir(FIXTURES))
                   if p.endswith(".txt"))
    runs = [r for r in re.findall("[\u4e00-\u9fff]{6}", text)]
    phrases = sorted(set(runs))[:64]
    heavy = " OR ".join('"%s"' % r for r in phrases)
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--budget-ms", "1",
            "--", heavy, ok=(1,))
    err = json.loads(p.stdout).get("error", "")
    check("more than 1 ms" in err and "fewer" in err, "budget message: %r" % err)
    ok = search(db, heavy, "--budget-ms", "60000", "--limit", "1")
    check(ok["total"] > 0, "the same query with time to spare is answered")
    check(search(db, '"防沙治沙"', "--budget-ms", "5000")["total"] > 0,
          "a phrase within its budget is answered")


@test
def batch_mode_one_line_per_query(tmp):
    db = fixtures_db(tmp)
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--batch", "-",
            input='"光伏"\n肉牛\n"unclosed\n'.encode(), ok=(2,))
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    check(len(lines) == 3 and lines[0]["total"] >= 1 and "error" in lines[2], "batch output wrong")


@test
def an_index_a_writer_moves_on_under_is_read_again(tmp):
    # Reading a snapshot of the index takes a while; a writer that commits
    # twice meanwhile overwrites the revision being read (each shard keeps
    # one old one).  Injected: the first N readings fail that way.  Four
    # are read past; five, every attempt, are an error naming the cause.
    db = fixtures_db(tmp)
    exe = os.path.join(BIN, "policy-search")
    want = search(db, "光伏")["total"]
    # The same for a shard that cannot be opened while a compaction swaps
    # it in (its directory is missing between two renames), and for an
    # opening whose root block a writer overwrote meanwhile, which Xapian
    # tells as damage.
    for kind, error in (("modified", b"DatabaseModifiedError"),
                        ("opening", b"DatabaseOpeningError"),
                        ("overwritten", b"Expected block 5 to be level 1")):
        for n, ok in ((1, True), (4, True), (5, False)):
            env = dict(os.environ, PS_FAULT="%s:%d" % (kind, n))
            p = subprocess.run([exe, "--db", db, "--json", "光伏"], env=env,
                               capture_output=True)
            if ok:
                got = json.loads(p.stdout.decode().splitlines()[-1])["total"] \
                    if p.returncode == 0 else None
                check(got == want, "%s, %d failed readings: exit %d, total %s, %r"
                      % (kind, n, p.returncode, got, p.stderr.decode()[-200:]))
            else:
                check(p.returncode == 1 and error in p.stderr,
                      "%s, 5 failed readings: exit %d, %r"
                      % (kind, p.returncode, p.stderr.decode()[-200:]))


@test
def a_damaged_read_of_an_outdated_state_is_answered_from_the_new_one(tmp):
    # A long-lived reader (a batch, a server) holds a snapshot; a writer's
    # commits overwrite the blocks of the revision it reads, and Xapian
    # does not always tell that as a change: "DatabaseError: EOF reading
    # block", a corrupt block.  Injected: the second query's reading fails
    # that way.  After the index moved on, the query is answered from the
    # new state; on an index that did not move, it is damage, and said.
    docs = os.path.join(tmp, "moved-docs")
    write_text(os.path.join(docs, "a.txt"), "赤峰市推进光伏产业发展。\n")
    db = os.path.join(tmp, "moved-db")
    index(db, docs)
    exe = os.path.join(BIN, "policy-search")
    for moves in (False, True):
        p = subprocess.Popen([exe, "--db", db, "--json", "--batch", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             env=dict(os.environ, PS_FAULT="corrupt:2"))
        p.stdin.write("光伏\n".encode())
        p.stdin.flush()
        first = json.loads(p.stdout.readline())
        if moves:
            # Two commits: the first state's revision is overwritten.
            for i in (1, 2):
                write_text(os.path.join(docs, "b%d.txt" % i),
                           "通辽市光伏项目第%d期建成。\n" % i)
                index(db, docs)
        out, errs = p.communicate("光伏\n光伏\n".encode(), timeout=60)
        lines = [json.loads(l) for l in out.decode().splitlines()]
        totals = [d.get("total") for d in lines]
        check(first["total"] == 1, "before: %r" % first)
        if moves:
            check(p.returncode == 0 and totals == [3, 3],
                  "after two commits, a damaged read of the old state: exit "
                  "%d, totals %r, %r" % (p.returncode, totals, errs.decode()[-300:]))
        else:
            check(p.returncode == 1 and b"DatabaseCorruptError" in errs and
                  totals[1:] == [1],
                  "a damaged read of the current state: exit %d, totals %r, %r"
                  % (p.returncode, totals, errs.decode()[-300:]))


@test
def a_snapshot_read_on_one_handle_answers_alike(tmp):
    # A batch reads the facet terms on one handle and the values (numbers
    # by unit and value) on a second, in two threads; when the index moves
    # on before the second opens, one handle reads both.  Both ways must
    # give the same answers: facets, number ranges, dates, order.
    db = fixtures_db(tmp)
    exe = os.path.join(BIN, "policy-search")
    queries = '"光伏"\n肉牛\n\n"亿元"\n生态\n'.encode()
    flag_sets = ([], ["--unit", "元", "--min", "1亿", "--max", "10亿"],
                 ["--unit", "亩", "--min", "1"], ["--sort", "date"],
                 ["--group", "doc"], ["--sector", "工业"])
    for flags in flag_sets:
        outs = []
        for env in (os.environ, dict(os.environ, PS_FAULT="one-handle")):
            p = subprocess.run([exe, "--db", db, "--batch", "-", "--json"] + flags,
                               input=queries, env=env, capture_output=True)
            check(p.returncode == 0, "%s: exit %d %r" % (flags, p.returncode,
                                                       p.stderr[-200:]))
            lines = [json.loads(l) for l in p.stdout.decode().splitlines()]
            for d in lines:
                d.pop("took_ms", None)
            outs.append(lines)
        check(outs[0] == outs[1], "%s: two handles and one answer differently"
              % flags)
        check(any(d["total"] for d in outs[0]), "%s: nothing found" % flags)
        if "--unit" in flags:
            check(any(d["facets"]["unit"] for d in outs[0] if d["total"]),
                  "%s: no unit facet" % flags)


@test
def an_answer_that_cannot_be_written_is_an_error(tmp):
    # A full disk under stdout: the caller must not take a cut (here
    # empty) answer for a whole one.
    db = fixtures_db(tmp)
    if not os.path.exists("/dev/full"):
        raise Skip("needs /dev/full")
    exe = os.path.join(BIN, "policy-search")
    for args, inp in (([exe, "--db", db, "--json", "光伏"], None),
                      ([exe, "--db", db, "光伏"], None),
                      ([exe, "--db", db, "--batch", "-"], '"光伏"\n肉牛\n'.encode())):
        with open("/dev/full", "wb") as full:
            p = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, input=inp)
        err = p.stderr.decode()
        check(p.returncode == 1 and "writing the answer" in err,
              "%s to a full disk: exit %d, %r" % (args[3:], p.returncode, err[-200:]))


# ---- indexer ----

@test
def bad_input_is_reported_and_the_rest_indexed(tmp):
    d = os.path.join(tmp, "bad")
    os.makedirs(d)
    open(os.path.join(d, "good.txt"), "w").write("赤峰市完成防沙治沙任务462万亩。\n")
    open(os.path.join(d, "invalid-utf8.txt"), "wb").write(
        "这是一段正常的中文文字，后面有坏字节".encode() * 20 + b"\xff\xfe\xc3" + "结尾".encode())
    open(os.path.join(d, "binary.txt"), "wb").write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    open(os.path.join(d, "empty.txt"), "w").close()
    open(os.path.join(d, "huge-line.txt"), "w").write("以工代赈带动群众增收，" * (10 * 1024 * 1024 // 33) + "完。")
    os.symlink(os.path.join(d, "vanished-target"), os.path.join(d, "vanished.txt"))
    os.mkfifo(os.path.join(d, "fifo.txt"))
    os.makedirs(os.path.join(d, "sub"))
    os.symlink(d, os.path.join(d, "sub", "loop"))     # a directory cycle
    db = os.path.join(tmp, "bad-db")
    p = index(db, d, ok=(1,))
    err = p.stderr.decode()
    lines = err.strip().splitlines()
    for name in ("invalid-utf8.txt", "binary.txt", "vanished.txt", "fifo.txt"):
        check(sum(name in l for l in lines) == 1, "expected one error line naming %s:\n%s" % (name, err))
    check("good.txt" not in err and "huge-line.txt" not in err and "empty.txt" not in err,
          "good files reported as failed:\n" + err)
    # binary.txt is a PNG whatever its name says: a format we do not read.
    check(any("binary.txt: unsupported format (PNG image, .txt)" in l for l in lines), err)
    check("3 indexed" in lines[-1] and "3 failed, 1 skipped (unsupported format: .txt ×1)" in lines[-1],
          "summary: " + lines[-1])
    check(search(db, '"防沙治沙"')["total"] == 1, "good file not searchable")
    check(search(db, '"以工代赈带动群众增收"', "--limit", "1")["total"] > 1000, "10 MB line not indexed")
    bad = os.path.join(tmp, "afile")
    open(bad, "w").write("x")
    p = index(os.path.join(bad, "db"), d, ok=(1,))
    check("afile" in p.stderr.decode(), "unwritable --db not named: " + p.stderr.decode())


@test
def an_index_optimized_after_every_daily_run_still_opens(tmp):
    # A document added and --optimize run, seventy times over (a daily
    # habit of ten weeks).  Each full merge raised the segment's level by
    # one, and past 64 the shard no longer opened for writing: "the list
    # of segments of the character index does not decode".
    docs = os.path.join(tmp, "daily-docs")
    db = os.path.join(tmp, "daily-db")
    exe = os.path.join(BIN, "policy-index")
    failed = []
    for day in range(1, 71):
        write_text(os.path.join(docs, "day%02d.txt" % day),
                   "第%d天：赤峰市完成防沙治沙%d万亩。\n" % (day, day))
        p = subprocess.run([exe, "--db", db, "--optimize", docs],
                           capture_output=True)
        if p.returncode != 0:
            failed.append((day, p.stderr.decode()[-200:]))
            break
    check(not failed, "an --optimize run failed: %r" % failed[:1])
    c = subprocess.run([exe, "--check", db], capture_output=True)
    check(c.returncode == 0, "--check: %s" % c.stderr.decode()[-300:])
    check(search(db, '"防沙治沙"')["total"] == 70, "not every day's document found")


@test
def incremental_runs(tmp):
    d = os.path.join(tmp, "inc")
    shutil.copytree(FIXTURES, d)
    db = os.path.join(tmp, "inc-db")
    first = index(db, d).stderr.decode().strip().splitlines()[-1]
    n = sum(len(files) for _, _, files in os.walk(d))
    check("%d indexed" % n in first, first)
    again = index(db, d).stderr.decode().strip().splitlines()[-1]
    check("0 indexed, %d unchanged, 0 removed" % n in again, again)
    total = search(db, "", "--limit", "0")["total"]
    fields = search(db, '"高标准农田"')["total"]
    path = os.path.join(d, "tongliao-agriculture-2024.txt")
    open(path, "a").write("\n通辽市新增示范牧场一处，命名为增量测试牧场。\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    os.remove(os.path.join(d, "xilingol-grassland-2024.txt"))
    third = index(db, d).stderr.decode().strip().splitlines()[-1]
    check("1 indexed, %d unchanged, 1 removed" % (n - 2) in third, third)
    check(search(db, '"增量测试牧场"')["total"] == 1, "changed file not re-indexed")
    check(search(db, '"草原超载率"')["total"] == 0, "deleted file still found")
    # The replaced passages' character index is still stored; it must not
    # count twice.
    check(search(db, '"高标准农田"')["total"] == fields >= 1, "changed file: %d passages with 高标准农田, %d before" % (search(db, '"高标准农田"')["total"], fields))
    check(search(db, '"光伏治沙"')["total"] >= 1, "other files lost")
    check(search(db, "", "--limit", "0")["total"] != total, "passage count unchanged")


@test
def churned_index_answers_like_a_fresh_one(tmp):
    # Files changed again and again: the replaced passages' character index
    # is skipped, then purged; every answer must equal a fresh index's.
    d = os.path.join(tmp, "churn")
    shutil.copytree(FIXTURES, d)
    db = os.path.join(tmp, "churn-db")
    index(db, d, jobs=2)
    for r in range(1, 4):
        for name in sorted(os.listdir(d)):
            if "gb18030" in name or not name.endswith((".txt", ".md")):
                continue
            path = os.path.join(d, name)
            open(path, "a", encoding="utf-8").write("\n第%d轮新增的一段文字。\n" % r)
            os.utime(path, (time.time() + 10 * r, time.time() + 10 * r))
        index(db, d)
    fresh = os.path.join(tmp, "churn-fresh")
    index(fresh, d, jobs=2)
    for q in ['"防沙治沙"', '"的"', '"第2轮新增"', '"第3轮新增"', "新能源", '"亿元"', '"，"', ""]:
        got = [search(x, q, "--limit", "0") for x in (db, fresh)]
        view = [(g["total"], sorted((h["doc"], h["passage"], h["score"], h["text"]) for h in g["hits"]),
                 g["facets"]) for g in got]
        check(view[0] == view[1], "churned index differs from a fresh one for %r: totals %d, %d"
              % (q, got[0]["total"], got[1]["total"]))


def write_docs(d, n):
    """n documents of 400 passages each, doc00.txt ... in directory d."""
    os.makedirs(d)
    for i in range(n):
        open(os.path.join(d, "doc%02d.txt" % i), "w").write(
            ("第%d号文件：赤峰市推进防沙治沙，完成任务%d万亩。\n\n" % (i, i + 10)) * 400)
    return d


@test
def interrupted_run_leaves_openable_index(tmp):
    d = write_docs(os.path.join(tmp, "intr"), 40)
    db = os.path.join(tmp, "intr-db")
    index(db, os.path.join(FIXTURES, "ordos-industry-2025.txt"))
    p = subprocess.Popen([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "1", d],
                         stderr=subprocess.DEVNULL)
    time.sleep(0.4)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = search(db, '"专精特新"')
    check(r["total"] >= 1, "what was committed before the crash is lost")
    index(db, d)
    check(search(db, '"第39号文件"')["total"] == 400,
          "re-run after the crash must index the rest once, without duplicates")


@test
def a_new_index_opens_from_its_first_moment(tmp):
    # Killed before its first batch was committed, a new index still opens
    # (it used to refuse: "no format mark").
    d = write_docs(os.path.join(tmp, "first"), 60)
    db = os.path.join(tmp, "first-db")
    p = subprocess.Popen([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "1", d],
                         stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not os.path.exists(os.path.join(db, "shard0", "iamglass")) and time.time() - t0 < 10:
        time.sleep(0.002)
    time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", ""],
                       capture_output=True)
    check(r.returncode == 0, "index killed before its first commit does not open: %s"
          % r.stderr.decode()[-200:])
    index(db, d)
    check(search(db, '"第59号文件"')["total"] == 400, "re-run after the kill did not index the rest")


@test
def damaged_stubs_are_refused(tmp):
    db = os.path.join(tmp, "stub-db")
    index(db, FIXTURES, jobs=2)
    stub = os.path.join(db, "XAPIANDB")
    good = open(stub).read()
    # A shard listed twice: totals would double.
    open(stub, "w").write("glass shard0\nglass shard0\nglass shard1\n")
    r = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, ""], capture_output=True)
    check(r.returncode != 0 and b"lists one shard twice" in r.stderr, r.stderr.decode()[-200:])
    p = index(db, FIXTURES, ok=(1,))
    check(b"not a stub this program wrote" in p.stderr, p.stderr.decode()[-200:])
    # A listed shard that is missing: refused, not recreated empty.
    open(stub, "w").write(good)
    shutil.move(os.path.join(db, "shard1"), os.path.join(tmp, "shard1-away"))
    p = index(db, FIXTURES, ok=(1,))
    check(b"lists shard1, which is missing" in p.stderr, p.stderr.decode()[-200:])
    check(not os.path.exists(os.path.join(db, "shard1")), "a missing shard was recreated empty")
    shutil.move(os.path.join(tmp, "shard1-away"), os.path.join(db, "shard1"))
    # A shard of another format (only shard 0 used to be checked).
    subprocess.run(["xapian-metadata", "set", os.path.join(db, "shard1"), "policy-search:format", "2"],
                   capture_output=True) if shutil.which("xapian-metadata") else None
    if shutil.which("xapian-metadata"):
        r = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, ""], capture_output=True)
        check(r.returncode != 0 and b"shard 1: index format 2" in r.stderr, r.stderr.decode()[-200:])


@test
def skipped_paths_are_counted_and_names_escaped(tmp):
    d = os.path.join(tmp, "names")
    os.makedirs(os.path.join(d, ".git"))
    open(os.path.join(d, ".notes.txt"), "w").write("隐藏文件。\n")
    open(os.path.join(d, "ok.txt"), "w").write("正常的文件。\n")
    evil = os.path.join(d, "evil\x1b[2J\nforged.txt")
    open(evil, "wb").write(b"\x00\x01binary" * 10)
    p = index(os.path.join(tmp, "names-db"), d, ok=(1,))
    err = p.stderr.decode()
    check("\x1b" not in err and "\nforged" not in err and "evil\\x1B[2J\\x0Aforged.txt" in err,
          "control characters in a file name printed raw: %r" % err)
    check("2 skipped (hidden ×2)" in err.strip().splitlines()[-1], err)


@test
def check_finds_damage_in_any_shard_file(tmp):
    import random
    db = os.path.join(tmp, "check-db")
    index(db, FIXTURES, jobs=1)
    p = run(os.path.join(BIN, "policy-index"), "--check", db)
    check(b": ok" in p.stderr, p.stderr.decode())
    rnd = random.Random(3)
    files = sorted(n for n in os.listdir(os.path.join(db, "shard0")) if n.endswith(".glass")
                   or n == "iamglass")
    check(files, "no shard files")
    for name in files:
        bad = os.path.join(tmp, "check-bad")
        shutil.rmtree(bad, ignore_errors=True)
        shutil.copytree(db, bad)
        path = os.path.join(bad, "shard0", name)
        data = bytearray(open(path, "rb").read())
        for _ in range(200):
            i = rnd.randrange(len(data))
            data[i] ^= 0xFF
        open(path, "wb").write(bytes(data))
        p = run(os.path.join(BIN, "policy-index"), "--check", bad, ok=(1,))
        check(b"DAMAGED" in p.stderr, "%s: %s" % (name, p.stderr.decode()[-200:]))


@test
def a_full_disk_is_named_and_nothing_is_counted_twice(tmp):
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        raise Skip("needs to mount a 3 MB tmpfs (root)")
    try:
        d = write_docs(os.path.join(tmp, "full-docs"), 40)
        db = os.path.join(mnt, "db")
        p = run(os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "1", d, ok=(1,))
        err = p.stderr.decode()
        check("No space left on device" in err, err[-300:])
        # the summary line (a sanitizer may print after it)
        last = [l for l in err.splitlines() if l.startswith("policy-index: ") and " indexed, " in l][-1]
        said = int(last.split(" passages;")[0].split("; ")[-1])
        got = search(db, "", "--limit", "1", "--no-facets")["total"]
        check(got == said, "summary says %d passages, the index has %d" % (said, got))
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


@test
def a_failed_file_record_never_doubles_passages(tmp):
    # The file record is written last; when it fails, the file's passages
    # go too, and the next run indexes it once.
    d = os.path.join(tmp, "docs")
    shutil.copytree(os.path.join(ROOT, "fixtures"), d)
    db = os.path.join(tmp, "db")
    name = sorted(n for n in os.listdir(d) if n.endswith(".txt"))[0]
    env = dict(os.environ, PS_FAULT="file-record:" + name)
    p = subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, d], env=env,
                       capture_output=True)
    check(p.returncode == 1 and b"PS_FAULT" in p.stderr and name.encode() in p.stderr,
          p.stderr.decode()[-300:])
    check(name not in passages_per_doc(db),
          "passages of a file without a record stayed")
    index(db, d)
    fresh = os.path.join(tmp, "fresh")
    index(fresh, d)
    check(passages_per_doc(db) == passages_per_doc(fresh),
          "after the failed record, the next run differs from a fresh index")


@test
def a_reader_that_crashes_costs_only_its_file(tmp):
    # Every format but text is read in a process of its own, forked for the
    # file by one long-lived reader per indexing job.  A crash while
    # reading a file, or the reader itself going away, costs that file
    # alone; the files after it are read (by a new reader if need be).
    d = os.path.join(tmp, "pages")
    os.makedirs(d)
    with open(os.path.join(ROOT, "fixtures", "documents",
                           "chifeng-sand-pv-plan-2025.html"), "rb") as f:
        page = f.read()
    names = ["p%d.html" % i for i in range(6)]
    for i, name in enumerate(names):
        with open(os.path.join(d, name), "wb") as f:
            f.write(page.replace(b"<title>", b"<title>%d " % i))
    for fault, msg in (("extract-crash", b"the reader stopped on signal "),
                       ("extract-reader-exit", b"the reader stopped without a result")):
        db = os.path.join(tmp, fault)
        env = dict(os.environ, PS_FAULT=fault + ":p2.html")
        p = subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "1", d],
                           env=env, capture_output=True)
        mine = [l for l in p.stderr.splitlines() if b"p2.html" in l]
        check(p.returncode == 1 and len(mine) == 1 and msg in mine[0],
              "%s: %s" % (fault, p.stderr.decode()[-400:]))
        got = set(passages_per_doc(db))
        check(got == set(names) - {"p2.html"}, "%s: indexed %s" % (fault, sorted(got)))
    # Without a fault every page is read, by one reader.
    db = os.path.join(tmp, "clean")
    index(db, d, jobs=1)
    check(set(passages_per_doc(db)) == set(names), "not every page indexed")


@test
def a_passage_without_its_record_is_an_error_naming_the_shard(tmp):
    # Damage is never answered silently: a match whose record is gone.
    d = os.path.join(tmp, "norecord")
    write_text(os.path.join(d, "a.txt"), "标题\n\n赤峰市推进防沙治沙，完成治理任务。\n")
    db = os.path.join(tmp, "norecord-db")
    env = dict(os.environ, PS_FAULT="data-record:a.txt")
    subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, d], env=env,
                   check=True, capture_output=True)
    p = run(os.path.join(BIN, "policy-search"), "--db", db, '"防沙治沙"', ok=(1,))
    check(re.search(rb"shard \d+: passage \d+", p.stderr) and b"damaged" in p.stderr,
          p.stderr.decode()[-300:])
    p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit", "0", "", ok=(1,))
    check(b"record" in p.stderr, p.stderr.decode()[-300:])


@test
def passages_missing_from_the_character_index_or_records_are_named(tmp):
    # Totals that disagree (a passage the database holds but the
    # character index does not list), a document without its metadata
    # record, passages whose coded facets name members the shard's
    # dictionary lacks and a facet column's row that is not its passage's
    # value: the searcher refuses with the shard, --check says DAMAGED.
    d = os.path.join(tmp, "damage-docs")
    shutil.copytree(FIXTURES, d)
    name = sorted(n for n in os.listdir(d) if n.endswith(".txt"))[0]
    for fault, said, checked in (
            ("grams", rb"shard \d+: the character index lists \d+ passages, "
                      rb"the database holds \d+", b"the character index lists"),
            ("doc-record", rb"shard \d+: passage \d+ matches but the record of "
                           rb"its document is missing", b"no metadata record"),
            ("facets", rb"shard \d+: corrupt facet (value|column)",
             b"not decode with the facet dictionary"),
            ("facet-column", rb"shard \d+: corrupt facet column, block \d+",
             b"differ from the passage's facet value")):
        db = os.path.join(tmp, "db-" + fault)
        env = dict(os.environ, PS_FAULT=fault + ":" + name)
        subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, d], env=env,
                       check=True, capture_output=True)
        # (JSON: its facets read the facet data; the readable list has none.)
        p = run(os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit", "1000",
                "", ok=(1,))
        check(re.search(said, p.stderr), "%s: %s" % (fault, p.stderr.decode()[-300:]))
        p = run(os.path.join(BIN, "policy-index"), "--check", db, ok=(1,))
        check(checked in p.stderr and b"DAMAGED" in p.stderr,
              "%s: --check said %s" % (fault, p.stderr.decode()[-300:]))


@test
def flipped_bytes_are_named_by_shard_and_never_crash(tmp):
    # Damage the storage engine meets while answering is named by the
    # shard it is in; damaged files never crash the searcher (Xapian's
    # term lists crash on some damage, so queries do not read them).
    import random
    db = os.path.join(tmp, "flip-db")
    index(db, FIXTURES, os.path.join(ROOT, "tests", "data", "meta"), jobs=2)
    queries = ["发展", '"防沙治沙"', "生态", "赤峰", "通知"]
    errors = batch_errors = 0
    for shard in (0, 1):
        for name in ("postlist.glass", "termlist.glass"):
            for seed in range(1, 13):
                bad = os.path.join(tmp, "flip-bad")
                shutil.rmtree(bad, ignore_errors=True)
                shutil.copytree(db, bad)
                path = os.path.join(bad, "shard%d" % shard, name)
                data = bytearray(open(path, "rb").read())
                rnd = random.Random(seed)
                for _ in range(100):
                    data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
                open(path, "wb").write(bytes(data))
                for q in queries:
                    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", bad,
                                        "--json", "--limit", "100", q],
                                       capture_output=True)
                    where = "shard%d/%s seed %d %s" % (shard, name, seed, q)
                    check(p.returncode in (0, 1), "%s: exit %d" % (where, p.returncode))
                    if p.returncode == 1:
                        errors += 1
                        check(("shard %d:" % shard).encode() in p.stderr,
                              "%s: not named: %s" % (where, p.stderr.decode()[-300:]))
                # A batch reads the tables through mappings of the files
                # (a one-off query reads them block by block): the same
                # damage, checked alike.
                p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", bad,
                                    "--json", "--limit", "100", "--batch", "-"],
                                   input="\n".join(queries).encode(), capture_output=True)
                where = "shard%d/%s seed %d, --batch" % (shard, name, seed)
                check(p.returncode in (0, 1), "%s: exit %d" % (where, p.returncode))
                if p.returncode == 1:
                    batch_errors += 1
                    check(("shard %d:" % shard).encode() in p.stderr,
                          "%s: not named: %s" % (where, p.stderr.decode()[-300:]))
    check(errors > 20, "only %d errors: the damage was not met" % errors)
    check(batch_errors > 5, "only %d batches met the damage" % batch_errors)


@test
def a_block_pointing_outside_itself_is_named_and_never_read(tmp):
    # The storage engine's blocks carry no checksums and it trusts the
    # offsets in them: a directory entry pointing past its block had it
    # read past its buffer (garbage, or a crash under the sanitizer
    # build).  Every block is checked before it is read: each query is
    # an error naming the shard and the damage, never a crash.
    db = os.path.join(tmp, "dir-db")
    index(db, FIXTURES, jobs=2)
    path = os.path.join(db, "shard0", "postlist.glass")
    data = bytearray(open(path, "rb").read())
    bs = 8192
    check(len(data) % bs == 0, "postlist.glass is not made of %d-byte blocks" % bs)
    spoiled = 0
    for at in range(0, len(data), bs):
        dir_end = data[at + 9] << 8 | data[at + 10]
        if data[at + 4] == 0 and dir_end > 11:
            data[at + 11:at + 13] = b"\xff\xf0"
            spoiled += 1
    check(spoiled > 0, "no leaf block found")
    open(path, "wb").write(bytes(data))
    for q in ["发展", '"防沙治沙"', "赤峰", ""]:
        p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", q],
                           capture_output=True)
        check(p.returncode == 1, "%r: exit %d" % (q, p.returncode))
        check(b"shard 0:" in p.stderr and b"damaged" in p.stderr,
              "%r: %s" % (q, p.stderr.decode()[-300:]))
    # The server reads the tables through mappings of the files, checked
    # alike: it refuses the index, naming the damage.
    try:
        w = subprocess.run([os.path.join(BIN, "policy-web"), "--db", db, "--port", "0",
                            "--quiet"], capture_output=True, timeout=60)
        check(w.returncode == 1 and b"shard 0:" in w.stderr and b"damaged" in w.stderr,
              "policy-web: exit %d: %s" % (w.returncode, w.stderr.decode()[-300:]))
    except subprocess.TimeoutExpired:
        check(False, "policy-web started on a damaged index")
    c = subprocess.run([os.path.join(BIN, "policy-index"), "--check", db], capture_output=True)
    check(c.returncode == 1 and b"shard0" in c.stderr, "--check: %d %s" %
          (c.returncode, c.stderr.decode()[-300:]))


@test
def a_table_cut_short_under_a_running_server_is_an_error_not_a_crash(tmp):
    # The server reads its tables through mappings of the files; a file
    # copied over a table in place is cut short while mapped, and reading
    # past its new end raises SIGBUS.  Such reads go through the kernel
    # instead: errors naming the shard, and the server keeps answering.
    import http.client
    import urllib.parse
    db = os.path.join(tmp, "cut-db")
    index(db, FIXTURES, jobs=2)
    log = open(os.path.join(tmp, "cut-web.log"), "w+")
    w, port = start_web(BIN, db, log)
    try:
        check(port is not None, "policy-web did not start")
        if port is None:
            return

        def get(q):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/search?q=" + urllib.parse.quote(q))
            r = c.getresponse()
            body = r.read()
            c.close()
            return r.status, body

        queries = ["发展", '"防沙治沙"', "生态", "赤峰", "通知", '"草原"']
        for q in queries:
            status, _ = get(q)
            check(status == 200, "%r before the cut: %d" % (q, status))
        for shard in (0, 1):
            path = os.path.join(db, "shard%d" % shard, "postlist.glass")
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 4)
        statuses = []
        for q in queries + ["项目", "经济", "建设"]:
            try:
                status, body = get(q)
            except (ConnectionError, http.client.HTTPException) as e:
                check(False, "%r after the cut: %r" % (q, e))
                break
            statuses.append(status)
            check(status == 200 or (status >= 500 and b"shard" in body),
                  "%r after the cut: %d %r" % (q, status, body[:200]))
        check(w.poll() is None, "the server died: exit %s" % w.poll())
        check(any(st != 200 for st in statuses), "no query met the cut: %s" % statuses)
    finally:
        check(stop_web(w), "the server did not stop on SIGTERM")


OLD_FORMAT_DOCS = ["official-0%d.txt" % i for i in range(6)] + ["news-00.txt", "page-00.html"]


@test
def indexes_of_formats_5_to_8_are_read_and_upgraded_in_place(tmp):
    # tests/data/formatN: an index the format-N build wrote of eight
    # documents of tests/data/meta.  This build answers from it as from an
    # index of its own (format 5: agency, type and year facets from the
    # old passages' terms; format 6: facet values as text, not coded;
    # format 7: no facet column, facets counted from the values; formats
    # 5 to 8: chunks keyed gram first), and adding to it upgrades it in
    # place: old and new passages answer alike.
    for fmt in (5, 6, 7, 8):
        old_format_is_read_and_upgraded(os.path.join(tmp, "f%d" % fmt), fmt)


def old_format_is_read_and_upgraded(tmp, fmt):
    import tarfile
    top = os.path.join(tmp, "format%d" % fmt)
    with tarfile.open(os.path.join(ROOT, "tests", "data", "format%d" % fmt,
                                   "index.tar.gz")) as t:
        t.extractall(top)
    old = os.path.join(top, "index")
    meta = os.path.join(ROOT, "tests", "data", "meta")

    def copy(names, to):
        os.makedirs(to, exist_ok=True)
        for n in names:
            shutil.copy(os.path.join(meta, n), to)

    def same(a, b, what):
        what = "format %d: %s" % (fmt, what)
        for q in ["", "发展", '"人民政府"', "通知", "赤峰"]:
            for flags in ([], ["--group", "doc"], ["--sort", "date"], ["--from", "2024"],
                          ["--agency", "内蒙古自治区人民政府"], ["--type", "通知"]):
                x = search(a, q, "--limit", "100", *flags)
                y = search(b, q, "--limit", "100", *flags)
                x.pop("took_ms")
                y.pop("took_ms")
                check(x == y, "%s: %r %r differ" % (what, q, flags))
        got = search(a, "")["facets"]
        check(got.get("agency") and got.get("year") and got.get("type"),
              "%s: no agency/year/type facets: %r" % (what, list(got)))

    docs, more = os.path.join(top, "docs"), os.path.join(top, "more")
    copy(OLD_FORMAT_DOCS, docs)
    fresh = os.path.join(top, "fresh")
    index(fresh, docs)
    same(old, fresh, "as read")
    run(os.path.join(BIN, "policy-index"), "--check", old)
    # Documents of another folder: the old ones stay as written.
    copy(["official-06.txt", "news-01.txt", "official-17.txt"], more)
    p = run(os.path.join(BIN, "policy-index"), "--db", old, more)
    check(b"3 indexed, 0 unchanged, 0 removed" in p.stderr, p.stderr.decode()[-300:])
    check(search(old, "", "--limit", "0")["total"] ==
          search(fresh, "", "--limit", "0")["total"] + search_total(more, top),
          "format %d: the old passages did not stay" % fmt)
    run(os.path.join(BIN, "policy-index"), "--check", old)
    fresh2 = os.path.join(top, "fresh2")
    index(fresh2, docs, more)
    same(old, fresh2, "upgraded in place")


def search_total(folder, tmp):
    db = os.path.join(tmp, "only-" + os.path.basename(folder))
    index(db, folder)
    return search(db, "", "--limit", "0")["total"]


@test
def one_two_and_four_shards_answer_alike(tmp):
    # Equal scores are ordered by document and passage, not by internal
    # docids: builds with any number of shards give the same JSON.
    src = [os.path.join(ROOT, "fixtures")] + ([SHARED] if os.path.isdir(SHARED) else [])
    dbs = []
    for j in (1, 2, 4):
        db = os.path.join(tmp, "db%d" % j)
        index(db, *src, jobs=j)
        dbs.append(db)
    queries = ['"防沙治沙"', "发展", '"的"', "乡村振兴 -农业", '"新能源" OR "光伏"', "生态 保护",
               "", "-的", '"亿元"', "赤峰市 治沙", '"沙"']
    flagsets = [[], ["--region", "赤峰市"], ["--unit", "亩", "--min", "100万"], ["--limit", "0"],
                ["--limit", "5", "--offset", "7"]]
    differ = []
    for f in flagsets:
        for q in queries:
            answers = []
            for db in dbs:
                r = search(db, q, *f)
                r.pop("took_ms", None)
                answers.append(r)
            if answers[1] != answers[0] or answers[2] != answers[0]:
                differ.append((q, f))
    check(not differ, "1, 2 and 4 shards answer differently: %s" % differ[:5])


@test
def compaction_crash_is_recovered(tmp):
    db = os.path.join(tmp, "compact-db")
    index(db, FIXTURES, jobs=1)
    n = search(db, "", "--limit", "0")["total"]
    # A crash between the two renames of a compaction leaves shard0.old.
    os.rename(os.path.join(db, "shard0"), os.path.join(db, "shard0.old"))
    os.makedirs(os.path.join(db, "shard0.new"))
    index(db, FIXTURES)
    check(search(db, "", "--limit", "0")["total"] == n, "index lost by an interrupted compaction")
    check(sorted(os.listdir(db)) == ["XAPIANDB", "generation", "shard0", "writer.lock"],
          "leftovers: %s" % os.listdir(db))


def passages_per_doc(db):
    r = search(db, "", "--limit", "0", "--no-facets")
    counts = {}
    for h in r["hits"]:
        counts[h["doc"]] = counts.get(h["doc"], 0) + 1
    return counts


def xapian_check(db):
    """Every shard of db passes xapian-check (when it is installed)."""
    tool = shutil.which("xapian-check")
    if not tool:
        return
    for name in sorted(os.listdir(db)):
        if name.startswith("shard") and name[5:].isdigit():
            p = subprocess.run([tool, os.path.join(db, name)], capture_output=True)
            check(p.returncode == 0, "xapian-check %s: %s" % (name, p.stdout.decode()[-300:]))


@test
def a_second_indexer_is_refused_while_one_writes(tmp):
    import fcntl
    db = os.path.join(tmp, "lock-db")
    index(db, os.path.join(FIXTURES, "ordos-industry-2025.txt"))
    # A live writer holds the lock: the second says who and exits 2.
    with open(os.path.join(db, "writer.lock"), "r+") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        lk.truncate(0)
        lk.write("%d\n" % os.getpid())
        lk.flush()
        p = index(db, FIXTURES, ok=(2,))
        msg = p.stderr.decode()
        check("another policy-index (pid %d) is writing" % os.getpid() in msg, msg)
        # --wait waits for it, then indexes.
        w = subprocess.Popen([os.path.join(BIN, "policy-index"), "--db", db, "--wait", FIXTURES],
                             stderr=subprocess.PIPE)
        time.sleep(0.3)
        check(w.poll() is None, "--wait did not wait for the lock")
    err = w.communicate(timeout=60)[1].decode()
    check(w.returncode == 0 and "waiting for another policy-index" in err, err)
    check(search(db, '"防沙治沙"')["total"] >= 1, "--wait run indexed nothing")


@test
def two_indexers_started_together_lose_nothing(tmp):
    # Two indexers on one index, the second started at random moments of
    # the first (walk, indexing, commit, compaction): the second either
    # runs after the first or is refused; nothing is lost or corrupted.
    import random
    rnd = random.Random(11)
    a, b = os.path.join(tmp, "two-a"), os.path.join(tmp, "two-b")
    os.makedirs(a)
    shutil.copytree(FIXTURES, b)
    for i in range(30):
        open(os.path.join(a, "a%02d.txt" % i), "w").write(
            ("第%d号通知：赤峰市推进防沙治沙，完成治理任务%d万亩。\n\n" % (i, i + 10)) * 300)
    db = os.path.join(tmp, "two-db")
    exe = os.path.join(BIN, "policy-index")
    t0 = time.time()
    index(os.path.join(tmp, "two-probe"), a, b, jobs=2)
    span = time.time() - t0
    for rnd_i in range(6):
        shutil.rmtree(db, ignore_errors=True)
        pa = subprocess.Popen([exe, "--db", db, "--jobs", "2", a], stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0, span))
        pb = subprocess.Popen([exe, "--db", db, "--jobs", "2", b], stderr=subprocess.PIPE)
        ea, eb = pa.communicate()[1].decode(), pb.communicate()[1].decode()
        check(pa.returncode == 0, "first indexer: %s" % ea[-300:])
        check(pb.returncode in (0, 2), "second indexer: %s" % eb[-300:])
        if pb.returncode == 2:
            check("is writing" in eb, eb)
            index(db, b)
        xapian_check(db)
        # Both directories are there, each document whole.
        fresh = os.path.join(tmp, "two-fresh")
        if not os.path.isdir(fresh):
            index(fresh, a, b, jobs=2)
        got, want = passages_per_doc(db), passages_per_doc(fresh)
        check(got == want, "round %d: %d documents, %d in a fresh index" % (rnd_i, len(got), len(want)))


@test
def paragraph_layout_is_linear_in_lines(tmp):
    # 8x the lines must cost about 8x the time (the width census was
    # quadratic: 25k/200k lines took 1.5/89 s).  A ratio, not a timing.
    def cost(n):
        path = os.path.join(tmp, "lines%d.txt" % n)
        with open(path, "w") as f:
            for i in range(n):
                f.write("第%d行短文字\n" % i if i % 7 else "\n")
        best = None
        for _ in range(3):
            t0 = time.time()
            run(os.path.join(BIN, "policy-index"), "--passages", path)
            best = min(best or 1e9, time.time() - t0)
        return best
    small, large = cost(25000), cost(200000)
    check(large < 20 * max(small, 0.05), "25k lines %.2f s, 200k lines %.2f s" % (small, large))


@test
def extract_prints_numeric_mentions(tmp):
    p = run(os.path.join(BIN, "policy-index"), "--extract",
            os.path.join(FIXTURES, "chifeng-sand-control-2025.md"))
    ms = [json.loads(l) for l in p.stdout.decode().splitlines()]
    want = {("462万亩", 4620000, "亩"), ("1.55亿元", 155000000, "元"), ("200万千瓦", 2000000, "千瓦"),
            ("0.8个百分点", 0.8, "个百分点"), ("12091名", 12091, "名")}
    got = {(m["surface"], m["value"], m["unit"]) for m in ms}
    check(want <= got, "missing: %s" % (want - got))
    check(not any(m["surface"].startswith("2025") or m["surface"].startswith("2026") for m in ms),
          "years reported as mentions")
    check(all(isinstance(m["line"], int) and m["line"] >= 1 for m in ms), "bad line numbers")


def main():
    only = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "-k" else None
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for t in TESTS:
            if only and only not in t.__name__:
                continue
            try:
                t(tmp)
                print("ok - %s" % t.__name__)
            except Skip as s:
                print("ok - %s # SKIP %s" % (t.__name__, s))
            except Exception as e:
                failed += 1
                print("not ok - %s: %s" % (t.__name__, e))
    print("%d tests, %d failed" % (len(TESTS), failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
