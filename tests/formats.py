#!/usr/bin/env python3
"""Documents of every format: made from one known text by
tools/make-docs.py, indexed, and checked against that text.

- recall and precision 1.0 of 300 random quoted strings per format (each
  drawn from one block of the known text: a paragraph, heading or cell);
- nothing dropped: every block of the known text is contained in the
  concatenation of the document's passages, in order;
- the web page's navigation, footer, share bar and script are not found,
  its title is (as a passage of kind "title");
- OCR of the scanned PDF: character accuracy against the known text;
- bad input: one clear stderr line each naming the file, the rest indexed.

  formats.py          (BIN: directory of the binaries)
"""
import difflib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
QUOTES = set('"\u201c\u201d\uff02')


def norm(s):
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s)).lower()


def index(db, *paths, ok=(0,), extra=()):
    p = subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, *extra, *paths],
                       capture_output=True)
    if p.returncode not in ok:
        raise SystemExit("policy-index exited %d: %s" % (p.returncode, p.stderr.decode()[-800:]))
    return p


def batch(db, queries):
    inp = "".join('"%s"\n' % q for q in queries)
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--batch", "-",
                        "--limit", "0", "--no-facets"], input=inp.encode(),
                       capture_output=True, check=True)
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def passages_of(db, doc):
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit", "0",
                        "--no-facets", ""], capture_output=True, check=True)
    hits = [h for h in json.loads(p.stdout)["hits"] if h["doc"] == doc]
    return sorted(hits, key=lambda h: h["passage"])


def known_blocks(known, fmt):
    blocks = [known["title"]] + [b["text"] for b in known["blocks"]]
    if fmt in ("docx", "wps", "doc"):
        blocks.append(known["footnote"])
    return blocks


def recall(db, doc, blocks, rng, n=300):
    queries = []
    while len(queries) < n:
        b = rng.choice(blocks)
        k = rng.randint(1, min(10, len(b)))
        i = rng.randrange(0, len(b) - k + 1)
        q = b[i:i + k]
        if q != q.strip() or QUOTES & set(q) or " " in q:
            continue
        queries.append(q)
    results = batch(db, queries)
    found = wrong = 0
    missed = []
    for q, r in zip(queries, results):
        hits = [h for h in r["hits"] if h["doc"] == doc]
        if hits:
            found += 1
        else:
            missed.append(q)
        wrong += sum(1 for h in hits if norm(q) not in norm(h["text"]))
    rec = found / len(queries)
    prec = 1.0 - wrong / max(1, sum(len([h for h in r["hits"] if h["doc"] == doc]) for r in results))
    print("%-14s queries: %d  recall: %.4f  precision: %.4f%s" % (
        doc, len(queries), rec, prec, ("  missed: %s" % missed[:5]) if missed else ""))
    check(rec == 1.0 and prec == 1.0, "%s: recall %.4f precision %.4f" % (doc, rec, prec))


def nothing_dropped(db, doc, blocks):
    ps = passages_of(db, doc)
    joined = norm("".join(h["text"] for h in ps))
    lost = [b for b in blocks if norm(b) not in joined]
    check(not lost, "%s: blocks not in its passages: %s" % (doc, lost[:3]))
    # in order
    pos, order_ok = 0, True
    for b in blocks:
        i = joined.find(norm(b), pos)
        if i < 0:
            order_ok = False
            break
        pos = i
    check(order_ok, "%s: passages not in the order of the text" % doc)
    return ps


def main():
    have_pdf = os.path.exists("/usr/bin/chromium") and shutil.which("pdftoppm")
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "docs")
        args = [sys.executable, os.path.join(ROOT, "tools", "make-docs.py"), d]
        if not have_pdf:
            args.append("--no-pdf")
            print("ok - PDF formats # SKIP needs chromium and pdftoppm")
        subprocess.run(args, check=True)
        known = json.load(open(os.path.join(d, "known.json"), encoding="utf-8"))
        os.remove(os.path.join(d, "known.json"))
        # Word 97-2003: LibreOffice's conversion of the DOCX, committed
        # (make-docs.py --doc makes it anew).
        shutil.copy(os.path.join(ROOT, "tests", "data", "plan.doc"), os.path.join(d, "plan.doc"))
        have_doc = shutil.which("antiword") or shutil.which("catdoc")
        db = os.path.join(tmp, "db")
        r = index(db, d, extra=("--ocr",))
        print(r.stderr.decode().strip().splitlines()[-1])
        fmts = [("plan.docx", "docx"), ("plan.wps", "wps"), ("plan.ofd", "ofd"), ("plan.html", "html"),
                ("plan.mht", "mht"), ("plan-rtf.doc", "rtf")]
        if have_doc:
            fmts.append(("plan.doc", "doc"))
        else:
            print("ok - DOC format # SKIP needs antiword or catdoc")
        if have_pdf:
            fmts.append(("plan.pdf", "pdf"))
        for doc, fmt in fmts:
            blocks = known_blocks(known, fmt)
            ps = nothing_dropped(db, doc, blocks)
            check(ps and all(h.get("format") == fmt for h in ps), "%s: format not %s" % (doc, fmt))
            check(ps and ps[0]["kind"] == "title" and norm(ps[0]["text"]) == norm(known["title"]),
                  "%s: first passage is not the title: %s" % (doc, ps[0] if ps else None))
            check(any(h["kind"] == "heading" for h in ps), "%s: no heading passages" % doc)
            check(ps and ps[0]["title"] == known["title"], "%s: title %r" % (doc, ps[0]["title"] if ps else None))
            if fmt in ("pdf", "ofd"):
                check(all(h.get("page") for h in ps) and {h["page"] for h in ps} == {1, 2},
                      "%s: pages %s" % (doc, sorted({h.get("page") for h in ps})))
            if fmt in ("docx", "wps"):
                check(any(h["kind"] == "table" for h in ps), "%s: no table cells" % fmt)
            recall(db, doc, blocks, rng)
        # The web page: boilerplate is not text of the document.
        boiler = ["互动交流", "无障碍浏览", "网站标识码", "蒙ICP备", "sitetrackertoken",
                  "统计代码不应被检索", "分享到", "当前位置", ".nav{color"]
        for q, res in zip(boiler, batch(db, boiler)):
            check(not res["hits"], "web page boilerplate %r found: %s" % (q, res["hits"][:1]))
        meta = batch(db, ["发文字号：赤政办发〔2025〕18号"])[0]
        check({"plan.html", "plan.mht"} <= {h["doc"] for h in meta["hits"]},
              "metadata table of the page and the saved page not searchable")
        t = batch(db, [known["title"]])[0]
        check(any(h["doc"] == "plan.html" and h["kind"] == "title" for h in t["hits"]),
              "the web page's title is not found as a title passage")
        # OCR of the scanned copy.
        if have_pdf:
            ps = passages_of(db, "plan-scan.pdf")
            check(ps and all(h.get("ocr") for h in ps), "scanned PDF passages not marked ocr")
            got = norm("".join(h["text"] for h in ps))
            want = norm("".join(known_blocks(known, "pdf")))
            acc = difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()
            print("OCR character accuracy (300 dpi): %.4f on %d characters" % (acc, len(want)))
            check(acc >= 0.95, "OCR character accuracy %.4f < 0.95" % acc)
            # The same pages as images, a PNG (300 dpi) and a JPEG (200 dpi).
            ps = passages_of(db, "plan-page1.png") + passages_of(db, "plan-page2.jpg")
            check(ps and all(h.get("ocr") and h["format"] == "image" and h.get("page") == 1
                             for h in ps), "image passages: %r" % [(h["doc"], h["format"]) for h in ps[:3]])
            got = norm("".join(h["text"] for h in ps))
            acc = difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()
            print("OCR character accuracy (PNG and JPEG pages): %.4f" % acc)
            check(acc >= 0.95, "OCR character accuracy of the images %.4f < 0.95" % acc)
            # Page 2 alone has no title of its own: not its table's last
            # row or its section heading, but its name.
            p2 = passages_of(db, "plan-page2.jpg")
            check(p2 and p2[0]["title"] == "plan-page2" and
                  any(h["kind"] == "heading" and h["text"] == "四、保障措施" for h in p2),
                  "page 2's title and heading: %r" % [(h["kind"], h["title"], h["text"][:12]) for h in p2[:3]])
            r = batch(db, ["防沙治沙工作的责任主体"])[0]
            check({"plan-page2.jpg", "plan-scan.pdf", "plan.pdf"} <= {h["doc"] for h in r["hits"]},
                  "a phrase of page 2: %r" % [h["doc"] for h in r["hits"]])
        bad_input(tmp, d)
    return report("formats")


def bad_input(tmp, docs):
    b = os.path.join(tmp, "bad")
    os.makedirs(b)
    shutil.copy(os.path.join(docs, "plan.docx"), os.path.join(b, "good.docx"))
    # A file whose extension lies is read as what it is.
    shutil.copy(os.path.join(docs, "plan.docx"), os.path.join(b, "really-docx.pdf"))
    shutil.copy(os.path.join(docs, "plan.html"), os.path.join(b, "really-html.doc"))
    open(os.path.join(b, "corrupt.pdf"), "wb").write(b"%PDF-1.7\n" + os.urandom(3000))
    if os.path.exists(os.path.join(docs, "plan.pdf")):
        data = open(os.path.join(docs, "plan.pdf"), "rb").read()
        open(os.path.join(b, "truncated.pdf"), "wb").write(data[:len(data) // 3])
        shutil.copy(os.path.join(docs, "plan-scan.pdf"), os.path.join(b, "scanned.pdf"))
    # An encrypted PDF (user password), hand-made: poppler must say so.
    open(os.path.join(b, "encrypted.pdf"), "wb").write(encrypted_pdf())
    # A page tree claiming millions of pages.
    open(os.path.join(b, "bomb.pdf"), "wb").write(page_bomb_pdf())
    # A zip bomb: a DOCX whose document.xml inflates to 100 MB.
    with zipfile.ZipFile(os.path.join(b, "zipbomb.docx"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"<w:document>" + b" " * (100 << 20))
    # Entity expansion (billion laughs) in a DOCX.
    lol = '<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "hahahahahahahahahahaha">' + "".join(
        '<!ENTITY %s "%s">' % (chr(98 + i), ("&%s;" % chr(97 + i)) * 10) for i in range(9)) + \
        ']><w:document xmlns:w="x"><w:body><w:p><w:r><w:t>&j;实体测试</w:t></w:r></w:p></w:body></w:document>'
    with zipfile.ZipFile(os.path.join(b, "entities.docx"), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", lol)
    # Deeply nested HTML, and a 200 MB web page.
    open(os.path.join(b, "nested.html"), "w").write(
        "<html><body>" + "<div>" * 200000 + "深层嵌套的文字" + "</div>" * 200000 + "</body></html>")
    with open(os.path.join(b, "huge.html"), "w") as f:
        f.write("<html><body>")
        chunk = "<p>" + "超大网页的段落文字。" * 100 + "</p>\n"
        for _ in range((200 << 20) // len(chunk.encode())):
            f.write(chunk)
        f.write("</body></html>")
    open(os.path.join(b, "nested.rtf"), "w").write("{\\rtf1 " + "{" * 300 + "x" + "}" * 300 + "}")
    open(os.path.join(b, "broken.mht"), "w").write("MIME-Version: 1.0\nContent-Type: multipart/related\n\nno parts")
    open(os.path.join(b, "sheet.xlsx"), "wb").write(zip_with("xl/workbook.xml", "<workbook/>"))
    open(os.path.join(b, "slides.pptx"), "wb").write(zip_with("ppt/presentation.xml", "<presentation/>"))
    open(os.path.join(b, "letter.odt"), "wb").write(zip_with("content.xml", "<office:document-content/>"))
    open(os.path.join(b, "photo.jpg"), "wb").write(b"\xff\xd8\xff\xe0" + os.urandom(500))
    # (fixed bytes: what a random header claims decides the message)
    open(os.path.join(b, "garbled.png"), "wb").write(b"\x89PNG\r\n\x1a\n" +
                                                     random.Random(3).randbytes(3000))
    db = os.path.join(tmp, "bad-db")
    p = index(db, b, ok=(1,))
    err = p.stderr.decode()
    lines = err.strip().splitlines()
    expect = {
        "corrupt.pdf": "corrupt or unreadable PDF",
        "encrypted.pdf": "encrypted PDF",
        "bomb.pdf": "PDF",
        "zipbomb.docx": "zip bomb",
        "huge.html": "web page too large",
        "sheet.xlsx": "a spreadsheet without a readable sheet",
        "slides.pptx": "a presentation without a readable slide",
        "letter.odt": "unsupported format (OpenDocument without text, sheets or slides, .odt)",
        "entities.docx": "not well-formed XML: Detected an entity reference loop",
        "nested.html": "web page nested more than 250 elements deep",
        "nested.rtf": "RTF nested more than 255 groups deep",
        "broken.mht": "saved web page (MHT) without a multipart boundary",
        "photo.jpg": "unsupported format (JPEG image, .jpg): an image is read with --ocr",
        "garbled.png": "unsupported format (PNG image, .png): an image is read with --ocr",
    }
    if os.path.exists(os.path.join(b, "scanned.pdf")):
        expect["scanned.pdf"] = "scanned PDF (2 pages without a text layer): index with --ocr"
    for name, msg in expect.items():
        mine = [l for l in lines if "/" + name + ":" in l]
        check(len(mine) == 1 and msg in mine[0], "%s: expected one line with %r, got %s" % (name, msg, mine))
    for name in ("good.docx", "really-docx.pdf", "really-html.doc"):
        check(not any("/" + name + ":" in l for l in lines), "%s reported: %s" % (name, err[-400:]))
    check("3 skipped (unsupported format: " in lines[-1] and
          all(x in lines[-1] for x in (".jpg ×1", ".png ×1", ".odt ×1")), "summary: " + lines[-1])
    # With --ocr, an image that is not one, and a photograph without text.
    o = os.path.join(tmp, "bad-images")
    os.makedirs(o)
    shutil.copy(os.path.join(b, "garbled.png"), o)
    if os.path.exists(os.path.join(docs, "plan-page1.png")):
        shutil.copy(os.path.join(docs, "plan-page1.png"), o)
    blank = os.path.join(o, "blank.png")
    # a 64 x 64 grey PNG: no text in it
    import struct, zlib
    raw = b"".join(b"\0" + b"\x80" * 64 for _ in range(64))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    open(blank, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0))
                            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    err = index(os.path.join(tmp, "bad-images-db"), o, ok=(1,), extra=("--ocr",)).stderr.decode()
    for name, msgs in (("garbled.png", ("corrupt or unreadable image", "image too large to read")),
                       ("blank.png", ("image without readable text",))):
        mine = [l for l in err.splitlines() if "/" + name + ":" in l]
        check(len(mine) == 1 and any(m in mine[0] for m in msgs), "%s with --ocr: %s" % (name, mine))
    res = batch(db, ["风电光伏一体化"])
    docs = {h["doc"] for h in res[0]["hits"]}
    check({"good.docx", "really-docx.pdf", "really-html.doc"} <= docs, "liars not read as what they are: %s" % docs)
    print("bad input: %d files, %d reported" % (len(os.listdir(b)), len(lines) - 1))


def zip_with(name, text):
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, text)
    return buf.getvalue()


def pdf_bytes(objs, trailer_extra=""):
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o.encode("latin-1") + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += ("trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, trailer_extra, xref)).encode()
    return out


def encrypted_pdf():
    # Standard security handler, revision 3, with a user password: the
    # O and U strings are arbitrary, so no empty password opens it.
    return pdf_bytes(["<< /Type /Catalog /Pages 2 0 R >>",
                      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
                      "<< /Filter /Standard /V 2 /R 3 /Length 128 /P -4 "
                      "/O <" + "11" * 32 + "> /U <" + "22" * 32 + "> >>"],
                     "/Encrypt 4 0 R /ID [<" + "ab" * 16 + "> <" + "ab" * 16 + ">]")


def page_bomb_pdf():
    return pdf_bytes(["<< /Type /Catalog /Pages 2 0 R >>",
                      "<< /Type /Pages /Kids [3 0 R] /Count 50000000 >>",
                      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"])


if __name__ == "__main__":
    sys.exit(main())
