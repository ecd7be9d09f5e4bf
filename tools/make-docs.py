#!/usr/bin/env python3
"""Makes documents of every supported format from one known text.

  make-docs.py OUTDIR [--no-pdf] [--repeat N] [--doc]

(--repeat N: the body N times over, for benchmarks of realistic size.)

Writes OUTDIR/known.json (the text: title, then blocks of kind heading,
para or cell, in order) and the same text as
  plan.docx   Word (OOXML): title and heading styles, words split across
              runs, a table, a footnote
  plan.ofd    OFD: text objects placed line by line on two pages
  plan.html   a government web page in GBK: navigation, metadata table,
              article, footer, script
  plan.pdf    printed by headless Chromium from HTML (running header)
  plan-scan.pdf  the PDF's pages rasterized (pdftoppm, 300 dpi) and put
              back as images: no text layer
  plan-page1.png, plan-page2.jpg  its pages as images (300 and 200 dpi)
  plan.wps    the DOCX under the name Kingsoft WPS gives OOXML files
  plan.mht    the web page saved as one file (MIME, quoted-printable GBK,
              with an image part)
  plan-rtf.doc  RTF under a .doc name, as many sites serve it
  plan.doc    (--doc, needs LibreOffice) Word 97-2003, converted from the
              DOCX; tests/data/plan.doc is its committed copy, since
              LibreOffice is not a test dependency
The text is written for these tests; facts and figures are in the style
of the sample documents.  Python standard library only (Chromium and
pdftoppm for the PDFs).
"""
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

TITLE = "赤峰市防沙治沙和风电光伏一体化工程实施方案"
BLOCKS = [
    ("para", "赤政办发〔2025〕18号"),
    ("heading", "一、总体要求"),
    ("para", "以科尔沁沙地和浑善达克沙地综合治理为重点，坚持山水林田湖草沙一体化保护和系统治理，"
             "统筹推进防沙治沙与新能源开发，力争到2026年底完成沙化土地治理任务462万亩，"
             "新增风电光伏装机200万千瓦，项目区植被覆盖度提高到百分之四十以上。"),
    ("heading", "二、重点任务"),
    ("para", "（一）实施光伏治沙示范工程。在翁牛特旗、敖汉旗和奈曼旗沙化土地集中区域建设光伏治沙基地，"
             "板上发电、板下种植、板间养殖，同步配套节水灌溉设施，当年完成治理面积13.02万亩，"
             "带动周边农牧民务工增收1.55亿元。"),
    ("para", "（二）推进以工代赈。对防沙治沙项目中的造林、种草、围栏等用工环节，优先吸纳脱贫人口和"
             "监测对象参与，全年发放劳务报酬不低于3000万元，惠及群众12091名。"),
    ("heading", "三、任务分解表"),
    ("cell", "旗县区"), ("cell", "治理任务（万亩）"), ("cell", "计划投资（亿元）"),
    ("cell", "翁牛特旗"), ("cell", "120.5"), ("cell", "3.6"),
    ("cell", "敖汉旗"), ("cell", "98.2"), ("cell", "2.9"),
    ("heading", "四、保障措施"),
    ("para", "各旗县区人民政府是防沙治沙工作的责任主体，要建立月调度、季通报、年考核工作机制，"
             "将任务完成情况纳入年度实绩考核；财政、林草、能源等部门要加强协作，"
             "确保各项资金及时足额到位。"),
    ("para", "赤峰市人民政府办公室"),
    ("para", "2025年3月12日"),
]
FOOTNOTE = "注：治理面积以自治区林草部门年度核查数据为准。"


def known():
    return {"title": TITLE, "blocks": [{"kind": k, "text": t} for k, t in BLOCKS],
            "footnote": FOOTNOTE}


# ---- DOCX ----

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def runs(text):
    """Splits text into runs at awkward places, as Word does."""
    out, i, step = [], 0, 3
    while i < len(text):
        out.append('<w:r><w:t xml:space="preserve">%s</w:t></w:r>' % html.escape(text[i:i + step]))
        i += step
        step = 7 if step == 3 else 3
    return "".join(out)


def docx(path):
    body = ['<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr>%s</w:p>' % runs(TITLE)]
    row = []
    table = []
    for kind, text in BLOCKS:
        if kind == "cell":
            row.append('<w:tc><w:p>%s</w:p></w:tc>' % runs(text))
            if len(row) == 3:
                table.append("<w:tr>%s</w:tr>" % "".join(row))
                row = []
            continue
        if table:
            body.append("<w:tbl>%s</w:tbl>" % "".join(table))
            table = []
        style = '<w:pPr><w:pStyle w:val="Heading1"/></w:pPr>' if kind == "heading" else ""
        note = ('<w:r><w:footnoteReference w:id="1"/></w:r>'
                if text.startswith("（一）") else "")
        body.append("<w:p>%s%s%s</w:p>" % (style, runs(text), note))
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<w:document %s><w:body>%s<w:sectPr/></w:body></w:document>' % (W, "".join(body)))
    styles = ('<?xml version="1.0" encoding="UTF-8"?><w:styles %s>'
              '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>'
              '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style>'
              '</w:styles>' % W)
    notes = ('<?xml version="1.0" encoding="UTF-8"?><w:footnotes %s>'
             '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>'
             '<w:footnote w:id="1"><w:p>%s</w:p></w:footnote></w:footnotes>' % (W, runs(FOOTNOTE)))
    ct = ('<?xml version="1.0" encoding="UTF-8"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
          '<Override PartName="/word/styles.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
          '<Override PartName="/word/footnotes.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"/></Types>')
    docrels = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
               '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
               'relationships/styles" Target="styles.xml"/>'
               '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
               'relationships/footnotes" Target="footnotes.xml"/></Relationships>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", doc)
        z.writestr("word/_rels/document.xml.rels", docrels)
        z.writestr("word/styles.xml", styles)
        z.writestr("word/footnotes.xml", notes)


# ---- OFD ----

def ofd_lines():
    """The text laid out as printed lines (title, wrapped paragraphs)."""
    lines = [TITLE, ""]
    cells = []
    for kind, text in BLOCKS:
        if kind == "cell":
            cells.append(text)
            if len(cells) == 3:
                lines.append("   ".join(cells))
                cells = []
            continue
        while len(text) > 28:
            lines.append(text[:28])
            text = text[28:]
        lines.append(text)
        lines.append("")
    return lines


def ofd(path):
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    lines = ofd_lines()
    per_page = 24
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD %s Version="1.0">'
                   '<ofd:DocBody><ofd:DocInfo><ofd:DocID>1</ofd:DocID><ofd:Title>%s</ofd:Title>'
                   '</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody>'
                   '</ofd:OFD>' % (ns, html.escape(TITLE)))
        refs = "".join('<ofd:Page ID="%d" BaseLoc="Pages/Page_%d/Content.xml"/>' % (i + 10, i)
                       for i in range(len(pages)))
        z.writestr("Doc_0/Document.xml", '<?xml version="1.0" encoding="UTF-8"?>'
                   '<ofd:Document %s><ofd:CommonData><ofd:PageArea><ofd:PhysicalBox>0 0 210 297'
                   '</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData><ofd:Pages>%s</ofd:Pages>'
                   '</ofd:Document>' % (ns, refs))
        for i, pg in enumerate(pages):
            objs = []
            oid = 100
            for k, line in enumerate(pg):
                if not line:
                    continue
                # Objects are written in shuffled order: reading order
                # must come from the positions.
                y = 20 + k * 10
                half = len(line) // 2 or len(line)
                for part, x0 in ((line[half:], 20 + half * 5.3), (line[:half], 20)):
                    if not part:
                        continue
                    oid += 1
                    objs.append('<ofd:TextObject ID="%d" Boundary="%.1f %.1f 170 8" Font="1" Size="5.3">'
                                '<ofd:TextCode X="0" Y="5">%s</ofd:TextCode></ofd:TextObject>'
                                % (oid, x0, y, html.escape(part)))
            z.writestr("Doc_0/Pages/Page_%d/Content.xml" % i, '<?xml version="1.0" encoding="UTF-8"?>'
                       '<ofd:Page %s><ofd:Content><ofd:Layer ID="2">%s</ofd:Layer></ofd:Content>'
                       '</ofd:Page>' % (ns, "".join(reversed(objs))))


# ---- HTML ----

NAV = "首页 机构概况 政务公开 政务服务 互动交流 无障碍浏览"
FOOTER = "网站标识码1504000001 蒙ICP备05003500号 主办单位联系电话0476-8888888"
SCRIPT = "var siteTrackerToken = 'zzzq'; document.write('统计代码不应被检索');"


def article_html():
    out = []
    cells = []
    rows = []
    for kind, text in BLOCKS:
        if kind == "cell":
            cells.append("<td>%s</td>" % html.escape(text))
            if len(cells) == 3:
                rows.append("<tr>%s</tr>" % "".join(cells))
                cells = []
            continue
        if rows:
            out.append("<table border=1>%s</table>" % "".join(rows))
            rows = []
        tag = "h3" if kind == "heading" else "p"
        out.append("<%s>%s</%s>" % (tag, html.escape(text), tag))
    return "\n".join(out)


def gov_html(path):
    page = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>{title}_赤峰市人民政府</title>
<meta name="ArticleTitle" content="{title}">
<meta name="PubDate" content="2025-03-14 09:30">
<script>{script}</script><style>.nav{{color:red}}</style></head>
<body>
<div class="top-nav"><ul><li><a href="/">{nav}</a></li></ul></div>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a></div>
<table class="xxgk-table">
<tr><td>索引号：</td><td>11150400011515130F/2025-00018</td><td>主题分类：</td><td>国土资源、能源</td></tr>
<tr><td>发文机关：</td><td>赤峰市人民政府办公室</td><td>成文日期：</td><td>2025年03月12日</td></tr>
<tr><td>标题：</td><td>{title}</td></tr>
<tr><td>发文字号：</td><td>赤政办发〔2025〕18号</td><td>发布日期：</td><td>2025年03月14日</td></tr>
</table>
<div class="article"><h1>{title}</h1>
<div class="TRS_Editor">
{article}
</div></div>
<div class="share-bar">分享到：<a href="#">微信</a> <a href="#">微博</a></div>
<div class="footer"><p>{footer}</p></div>
</body></html>
""".format(title=html.escape(TITLE), nav=NAV, script=SCRIPT, footer=FOOTER, article=article_html())
    with open(path, "wb") as f:
        f.write(page.encode("gb18030"))


def mht(path, page_path):
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.mime.image import MIMEImage
    import email.charset
    raw = open(page_path, "rb").read().decode("gb18030")
    msg = MIMEMultipart("related", type="text/html")
    cs = email.charset.Charset("gb18030")
    cs.body_encoding = email.charset.QP
    part = MIMEText(raw, "html", cs)
    part["Content-Location"] = "http://www.chifeng.gov.cn/zwgk/plan.html"
    msg.attach(part)
    img = MIMEImage(b"\x89PNG\r\n\x1a\n" + bytes(64), "png")
    img["Content-Location"] = "http://www.chifeng.gov.cn/images/logo.png"
    msg.attach(img)
    with open(path, "wb") as f:
        f.write(msg.as_bytes())


def rtf_escape(t):
    out = []
    for ch in t:
        o = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif o < 128:
            out.append(ch)
        else:
            out.append("\\u%d?" % (o if o < 32768 else o - 65536))
    return "".join(out)


def rtf(path):
    body = ["{\\pard\\qc\\b\\fs36 %s\\par}" % rtf_escape(TITLE)]
    for kind, text in BLOCKS:
        if kind == "heading":
            body.append("{\\pard\\b %s\\par}" % rtf_escape(text))
        else:
            body.append("{\\pard\\fi480 %s\\par}" % rtf_escape(text))
    with open(path, "w", encoding="ascii") as f:
        f.write("{\\rtf1\\ansi\\ansicpg936\\deff0{\\fonttbl{\\f0\\fnil SimSun;}}\n%s\n}\n"
                % "\n".join(body))


# ---- PDF ----

def chromium_pdf(src_html, out_pdf):
    profile = tempfile.mkdtemp()
    try:
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
                        "--no-pdf-header-footer", "--print-to-pdf-no-header",
                        "--print-to-pdf=" + out_pdf, "file://" + src_html],
                       check=True, capture_output=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def pdfs(outdir):
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "print.html")
        with open(src, "w", encoding="utf-8") as f:
            f.write("""<!DOCTYPE html><html><head><meta charset="utf-8"><style>
@page { size: A4; margin: 25mm 20mm; }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 16pt; line-height: 1.8; }
h1 { font-size: 22pt; text-align: center; } h3 { font-size: 17pt; }
td { padding: 2pt 10pt; }
.running { position: fixed; top: -18mm; left: 0; font-size: 10pt; color: #a00; }
</style></head><body><div class="running">赤峰市人民政府公报</div>
<h1>%s</h1>%s</body></html>""" % (html.escape(TITLE), article_html()))
        pdf = os.path.join(outdir, "plan.pdf")
        chromium_pdf(src, pdf)
        # The scanned copy: pages as 300 dpi images, printed back.
        subprocess.run(["pdftoppm", "-r", "300", "-png", pdf, os.path.join(tmp, "pg")], check=True)
        imgs = sorted(n for n in os.listdir(tmp) if n.startswith("pg") and n.endswith(".png"))
        scan = os.path.join(tmp, "scan.html")
        with open(scan, "w") as f:
            f.write('<!DOCTYPE html><html><head><style>@page{size:A4;margin:0}'
                    'body{margin:0}img{width:210mm;height:297mm;display:block;'
                    'page-break-after:always}</style></head><body>%s</body></html>'
                    % "".join('<img src="%s">' % n for n in imgs))
        chromium_pdf(scan, os.path.join(outdir, "plan-scan.pdf"))
        # The pages as a phone or scanner saves them: page 1 a PNG, page
        # 2 a JPEG at 200 dpi.
        shutil.copy(os.path.join(tmp, imgs[0]), os.path.join(outdir, "plan-page1.png"))
        subprocess.run(["pdftoppm", "-r", "200", "-jpeg", "-f", "2", "-l", "2", "-singlefile",
                        pdf, os.path.join(outdir, "plan-page2")], check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    global BLOCKS
    out = sys.argv[1]
    if "--repeat" in sys.argv:
        BLOCKS = BLOCKS * int(sys.argv[sys.argv.index("--repeat") + 1])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "known.json"), "w", encoding="utf-8") as f:
        json.dump(known(), f, ensure_ascii=False, indent=1)
    docx(os.path.join(out, "plan.docx"))
    shutil.copy(os.path.join(out, "plan.docx"), os.path.join(out, "plan.wps"))
    if "--doc" in sys.argv:
        profile = tempfile.mkdtemp()
        try:
            subprocess.run(["soffice", "--headless", "-env:UserInstallation=file://" + profile,
                            "--convert-to", "doc", "--outdir", out, os.path.join(out, "plan.docx")],
                           check=True, capture_output=True, timeout=180)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
    ofd(os.path.join(out, "plan.ofd"))
    gov_html(os.path.join(out, "plan.html"))
    mht(os.path.join(out, "plan.mht"), os.path.join(out, "plan.html"))
    rtf(os.path.join(out, "plan-rtf.doc"))
    if "--no-pdf" not in sys.argv:
        pdfs(out)


if __name__ == "__main__":
    main()
