#!/usr/bin/env python3
"""Writes the documents of the metadata gold test and their gold file.

  make-meta-docs.py OUTDIR GOLD.json

Forty-odd documents in the layouts staff meet: red-header official
documents (GB/T 9704) with a document number and a signature block, joint
documents, two-line titles, Chinese-numeral dates, document numbers in
every bracket style with 第 and leading zeros, full-width digits, a
Traditional-script notice, announcements numbered by year, government web
pages with their metadata table (GBK), work reports dated only by their
title, news items, and plain pages that state nothing.  The sentences are
our own; places, agencies and figures are those of the sample documents.
The gold file lists, per file, every field a reader should find: title,
agency, number, date, published, type.  Deterministic (seeded).
"""
import json
import os
import random
import sys

AGENCIES = [
    ("赤峰市人民政府", "赤政发"), ("赤峰市人民政府办公室", "赤政办发"),
    ("内蒙古自治区人民政府", "内政发"), ("通辽市发展和改革委员会", "通发改发"),
    ("鄂尔多斯市财政局", "鄂财发"), ("呼和浩特市生态环境局", "呼环发"),
    ("包头市工业和信息化局", "包工信发"), ("赤峰市林业和草原局", "赤林草发"),
    ("内蒙古自治区农牧厅", "内农牧发"), ("乌兰察布市人民政府", "乌政发"),
    ("巴彦淖尔市水利局", "巴水发"), ("锡林郭勒盟行政公署", "锡署发"),
]
TOPICS = [
    "防沙治沙和风电光伏一体化工程", "高标准农田建设", "以工代赈项目管理", "专精特新中小企业培育",
    "营商环境优化提升", "草原生态保护修复", "河套灌区节水改造", "数据中心集群建设",
    "乡村振兴重点帮扶", "新能源项目并网运行", "肉牛产业高质量发展", "科尔沁沙地综合治理",
]
DOCTYPES = ["实施方案", "管理办法", "若干措施", "工作要点", "实施意见", "规定", "细则"]
TYPE_OF = {"实施方案": "方案", "管理办法": "办法", "若干措施": "措施", "工作要点": "要点",
           "实施意见": "意见", "规定": "规定", "细则": "细则"}
BODY = [
    "为深入推进{t}，结合本地实际，现就有关事项{v}如下。",
    "各地要把{t}作为重点工作，细化目标任务，压实工作责任，确保按期完成。",
    "到2026年底，累计完成治理面积462万亩，新增风电光伏装机200万千瓦。",
    "财政、发展改革、林草等部门要加强协作，确保资金及时足额到位。",
    "对工作中出现的新情况新问题，要及时研究解决，重大事项及时报告。",
]
CN = "〇一二三四五六七八九"


def cn_year(y):
    return "".join(CN[int(c)] for c in str(y))


def cn_small(n):
    if n < 10:
        return CN[n]
    if n < 20:
        return "十" + (CN[n - 10] if n > 10 else "")
    return CN[n // 10] + "十" + (CN[n % 10] if n % 10 else "")


def fullwidth(s):
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in s)


def body(rng, topic, verb="通知"):
    ps = [BODY[0].format(t=topic, v=verb)] + [b.format(t=topic) for b in rng.sample(BODY[1:], 3)]
    return ps


def official(rng, i, joint=False, cn_date=False, brackets="〔〕", di=False, zero=False,
             fw=False, two_line=False, trad=False, kind=None):
    """A red-header document; returns (text, gold)."""
    ag = rng.sample(AGENCIES, 2 if joint else 1)
    year = rng.choice([2023, 2024, 2025])
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    seq = rng.randint(1, 120)
    topic = rng.choice(TOPICS)
    prefix = ag[0][1]
    seqs = ("%03d" % seq) if zero else str(seq)
    num_src = "%s%s%d%s%s%s号" % (prefix, brackets[0], year, brackets[1], "第" if di else "", seqs)
    if fw:
        num_src = fullwidth(num_src)
    gold_num = "%s〔%d〕%d号" % (prefix, year, seq)
    kind = kind or rng.choice(["notice", "opinion", "decision", "reply", "letter", "bulletin"])
    issuer = "".join(a[0] for a in ag[:1])
    if kind == "notice":
        dt = rng.choice(DOCTYPES)
        title = "%s关于印发%s%s的通知" % (issuer, topic, dt)
        typ = "通知"
    elif kind == "opinion":
        title = "%s关于加快推进%s的意见" % (issuer, topic)
        typ = "意见"
    elif kind == "decision":
        title = "%s关于表彰%s先进集体的决定" % (issuer, topic)
        typ = "决定"
    elif kind == "reply":
        title = "%s关于%s有关事项的批复" % (issuer, topic)
        typ = "批复"
    elif kind == "letter":
        title = "%s关于征求%s意见的函" % (issuer, topic)
        typ = "函"
    else:
        title = "%s关于%s工作情况的通报" % (issuer, topic)
        typ = "通报"
    header = ("　".join(a[0] for a in ag) + "文件") if joint else ag[0][0] + "文件"
    lines = [header, "", num_src, ""]
    if two_line:
        cut = len(title) // 2
        lines += [title[:cut], title[cut:]]
    else:
        lines.append(title)
    lines += ["", "各旗县区人民政府，市直有关部门：", ""]
    lines += ["　　" + p for p in body(rng, topic)]
    lines += ["", ""]
    lines += ["　　　　" + a[0] for a in ag]
    if cn_date:
        date_src = "%s年%s月%s日" % (cn_year(year), cn_small(month), cn_small(day))
    else:
        date_src = "%d年%d月%d日" % (year, month, day)
    if fw:
        date_src = fullwidth(date_src)
    lines += ["　　　　" + date_src, "", "（此件公开发布）", ""]
    text = "\n".join(lines)
    gold = {"title": title, "agency": [a[0] for a in ag], "number": gold_num,
            "date": "%04d-%02d-%02d" % (year, month, day), "type": typ}
    if trad:
        table = str.maketrans("发关于进实施设区县业务务处办见达时间现项确门报义", "發關於進實施設區縣業務務處辦見達時間現項確門報義")
        text = text.translate(table)
        gold["title"] = title.translate(table)
        gold["agency"] = [a[0] for a in ag]       # canonical, Simplified
    return text, gold


def announcement(rng):
    ag = rng.choice(AGENCIES)
    year = rng.choice([2024, 2025, 2026])
    seq = rng.randint(1, 40)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    topic = rng.choice(TOPICS)
    title = "%s关于%s项目公示的公告" % (ag[0], topic)
    lines = [title, "", "%d年第%d号" % (year, seq), ""] + body(rng, topic, "公告") + \
        ["", "特此公告。", "", ag[0], "%d年%d月%d日" % (year, month, day)]
    return "\n".join(lines), {"title": title, "agency": [ag[0]], "number": "%d年第%d号" % (year, seq),
                              "date": "%04d-%02d-%02d" % (year, month, day), "type": "公告"}


def report(rng):
    place = rng.choice(["赤峰市", "通辽市", "鄂尔多斯市", "包头市", "乌兰察布市", "巴彦淖尔市"])
    year = rng.choice([2023, 2024, 2025])
    title = "%d年%s政府工作报告" % (year, place)
    lines = [title, "", "——%d年1月在%s第十五届人民代表大会第三次会议上" % (year, place), "", "各位代表：", ""]
    lines += body(rng, rng.choice(TOPICS), "报告")
    return "\n".join(lines), {"title": title, "agency": [place + "人民政府"], "date": str(year),
                              "type": "报告"}


def news(rng):
    topic = rng.choice(TOPICS)
    place = rng.choice(["赤峰", "通辽", "鄂尔多斯", "呼和浩特"])
    title = "%s%s取得新进展" % (place, topic)
    lines = [title, "", "本报讯（记者 王晓明）近日，%s在%s方面取得新进展。" % (place, topic)] + \
        body(rng, topic, "报道")[1:]
    return "\n".join(lines), {"title": title, "type": "新闻"}


def plain(rng):
    topic = rng.choice(TOPICS)
    title = "%s情况介绍" % topic
    lines = [title, ""] + body(rng, topic, "介绍")[1:]
    return "\n".join(lines), {"title": title, "type": "其他"}


def web_page(rng, i):
    ag = rng.choice(AGENCIES)
    year = rng.choice([2023, 2024, 2025])
    month, day = rng.randint(1, 12), rng.randint(1, 26)
    seq = rng.randint(1, 90)
    topic = rng.choice(TOPICS)
    dt = rng.choice(DOCTYPES)
    title = "%s%s" % (topic, dt)
    num_src = "%s〔%d〕%d号" % (ag[1], year, seq)
    paras = "".join("<p>%s</p>\n" % p for p in body(rng, topic))
    html = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk">
<title>{title}_{site}</title>
<meta name="ArticleTitle" content="{title}">
<meta name="PubDate" content="{y}-{m:02d}-{pd:02d} 10:00">
</head><body>
<div class="top-nav"><a href="/">首页</a> 政务公开 政务服务 互动交流</div>
<table class="xxgk-table">
<tr><td>索引号：</td><td>1115040001151513{i:02d}/2025-000{i:02d}</td><td>主题分类：</td><td>综合政务</td></tr>
<tr><td>发文机关：</td><td>{agency}</td><td>成文日期：</td><td>{y}年{m:02d}月{d:02d}日</td></tr>
<tr><td>标题：</td><td>{title}</td></tr>
<tr><td>发文字号：</td><td>{num}</td><td>发布日期：</td><td>{y}年{m:02d}月{pd:02d}日</td></tr>
</table>
<div class="article"><h1>{title}</h1>
<div class="TRS_Editor">
{paras}<p>{agency}</p>
<p>{y}年{m}月{d}日</p>
</div></div>
<div class="footer">主办单位：{site} 备案号：蒙ICP备05003500号</div>
</body></html>
""".format(title=title, site=ag[0] + "门户网站", y=year, m=month, d=day, pd=day + 2, i=i,
           agency=ag[0], num=num_src, paras=paras)
    typ = TYPE_OF[dt]
    return html.encode("gbk"), {
        "title": title, "agency": [ag[0]], "number": num_src, "date": "%04d-%02d-%02d" % (year, month, day),
        "published": "%04d-%02d-%02d" % (year, month, day + 2), "type": typ}


def main():
    out, goldpath = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20261128)
    gold = {}

    def put(name, data, g):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(out, name), mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            f.write(data)
        gold[name] = g

    variants = [
        {}, {}, {"joint": True}, {"cn_date": True}, {"brackets": "[]", "di": True, "zero": True},
        {"brackets": "【】"}, {"brackets": "()"}, {"fw": True}, {"two_line": True},
        {"trad": True}, {"joint": True, "cn_date": True}, {"brackets": "［］", "zero": True},
        {"two_line": True, "cn_date": True}, {"kind": "decision"}, {"kind": "reply"},
        {"kind": "letter"}, {"kind": "bulletin"}, {"kind": "notice", "di": True},
        {"kind": "opinion", "joint": True}, {"trad": True, "cn_date": True},
    ]
    for i, v in enumerate(variants):
        text, g = official(rng, i, **v)
        put("official-%02d.txt" % i, text, g)
    for i in range(4):
        put("announcement-%02d.txt" % i, *announcement(rng))
    for i in range(5):
        put("report-%02d.txt" % i, *report(rng))
    for i in range(4):
        put("news-%02d.txt" % i, *news(rng))
    for i in range(2):
        put("plain-%02d.txt" % i, *plain(rng))
    for i in range(6):
        put("page-%02d.html" % i, *web_page(rng, i))
    with open(goldpath, "w", encoding="utf-8") as f:
        json.dump(gold, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    print("%d documents, gold in %s" % (len(gold), goldpath))


if __name__ == "__main__":
    main()
