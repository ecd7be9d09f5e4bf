#!/usr/bin/env python3
"""Document filters, sort, grouping, number search and CSV export, as a
user sees them.

The expected answers come from the documents themselves: `policy-index
--meta FILE` reads each file of tests/data/meta (the extraction has its
own gold test, meta_gold.py); the engine's answers are checked against
that, not against what it stored.

  - `--from 2024 --to 2024` returns exactly the passages of the documents
    dated 2024 (date, else published date);
  - `--sort date` is non-increasing by date, undated documents last;
    `-date` the reverse;
  - every year, agency and type facet count equals the total of the same
    search filtered on that value;
  - a document's issuing agency gives all its passages the agency's
    region;
  - a document number typed with other brackets, 第 or leading zeros
    finds its document first;
  - `--group doc` totals equal the number of distinct documents among the
    passage hits, on random queries;
  - bad dates, `--from` after `--to`, unknown sort or type: exit 2 and 400;
  - /api/export: UTF-8 with a BOM, read by Python's csv module it equals
    the API's hits for the same query, row for row; a search matching
    200,000 passages is refused with a message.
"""
import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report, start_web, stop_web  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
DOCS = os.path.join(ROOT, "tests", "data", "meta")


def search(db, query, *flags):
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", *flags,
                        "--", query], capture_output=True)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr.decode()


def ok(db, query, *flags):
    rc, res, err = search(db, query, *flags)
    if rc != 0:
        raise AssertionError("policy-search %r %s: exit %d %s" % (query, flags, rc, err))
    return res


class Web:
    def __init__(self, db):
        self.log = tempfile.NamedTemporaryFile("w+", encoding="utf-8", errors="replace",
                                               delete=False)
        self.p, port = start_web(BIN, db, self.log, quiet=False)
        if not port:
            raise AssertionError("policy-web did not start")
        self.base = "http://127.0.0.1:%d" % port

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=120) as r:
                return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read()

    def stop(self):
        check(stop_web(self.p), "the server did not stop on SIGTERM")
        os.unlink(self.log.name)


def q(params):
    return urllib.parse.urlencode(params, doseq=True)


def main():
    tmp = tempfile.mkdtemp()
    try:
        db = os.path.join(tmp, "db")
        # A notice whose only word of its own region is its signature: the
        # body names another place twice.
        extra = os.path.join(tmp, "extra")
        os.mkdir(extra)
        with open(os.path.join(extra, "notice.txt"), "w", encoding="utf-8") as out:
            out.write("关于做好专项资金管理工作的通知\n\n各旗县市财政局：\n\n"
                      "为加强专项资金管理，提高资金使用效益，现就有关事项通知如下。\n\n"
                      "一、今年的现场推进会在阿拉善盟召开，阿拉善盟的做法值得借鉴。\n\n"
                      "二、各单位要按时报送资金使用情况。\n\n兴安盟财政局\n2025年4月8日\n")
        subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "2", DOCS,
                        os.path.join(ROOT, "fixtures"), extra], check=True, capture_output=True)
        meta = {}
        for root in (DOCS, os.path.join(ROOT, "fixtures"), extra):
            for d, _, files in os.walk(root):
                for name in files:
                    path = os.path.join(d, name)
                    out = subprocess.run([os.path.join(BIN, "policy-index"), "--meta", path],
                                         capture_output=True)
                    if out.returncode == 0:
                        meta[os.path.relpath(path, root)] = json.loads(out.stdout)
        # Each web page reads the same every time, body paragraphs and all
        # (an uninitialized score once picked its metadata table as the
        # article in some runs: the body was lost).
        for name in sorted(os.listdir(DOCS)):
            if not name.endswith(".html"):
                continue
            outs = {subprocess.run([os.path.join(BIN, "policy-extract"), os.path.join(DOCS, name)],
                                   capture_output=True).stdout for _ in range(6)}
            paras = [p for p in json.loads(next(iter(outs)).split(b"\0")[0])["pieces"]
                     if p[0] == "para"]
            check(len(outs) == 1 and len(paras) >= 3,
                  "%s: %d different readings in 6, %d paragraphs" % (name, len(outs), len(paras)))
        everything = ok(db, "", "--limit", "0", "--no-facets")["hits"]
        passages = {}
        for h in everything:
            passages.setdefault(h["doc"], set()).add(h["passage"])

        def date_of(doc):
            m = meta.get(doc, {})
            return m.get("date") or m.get("published")

        # Exactly the passages of the documents dated 2024.
        got = ok(db, "", "--from", "2024", "--to", "2024", "--limit", "0")
        have = {(h["doc"], h["passage"]) for h in got["hits"]}
        want = {(d, p) for d in meta if (date_of(d) or "").startswith("2024")
                for p in passages.get(d, ())}
        check(want and have == want and got["total"] == len(want),
              "--from 2024 --to 2024: %d passages, the documents dated 2024 have %d (%s)"
              % (len(have), len(want), sorted({d for d, _ in have ^ want})[:4]))
        got = ok(db, "", "--from", "2024-03", "--to", "2025-06-30", "--limit", "0")
        have = {h["doc"] for h in got["hits"]}
        want = {d for d in meta if date_of(d) and len(date_of(d)) == 10 and
                "2024-03-01" <= date_of(d) <= "2025-06-30"}
        check(want and have == want, "--from 2024-03 --to 2025-06-30: %d documents, want %d"
              % (len(have), len(want)))

        # Sorting by date.
        for sort, sign in (("date", 1), ("-date", -1)):
            hits = ok(db, "", "--sort", sort, "--limit", "0")["hits"]
            dates = [date_of(h["doc"]) if h["doc"] in meta else
                     (h.get("meta") or {}).get("date") or (h.get("meta") or {}).get("published")
                     for h in hits]
            first_undated = next((k for k, d in enumerate(dates) if not d), len(dates))
            dated = dates[:first_undated]
            pad = [(d + "-00-00")[:10] for d in dated]
            mono = all((a >= b) if sign > 0 else (a <= b) for a, b in zip(pad, pad[1:]))
            check(dated and mono and not any(dates[first_undated:]),
                  "--sort %s: %d dated in order, then %d undated" % (
                      sort, len(dated), len(dates) - first_undated))
            check(hits == ok(db, "", "--sort", sort, "--limit", "0")["hits"],
                  "--sort %s: the same order twice" % sort)

        # Facet counts equal the filtered totals.
        for query in ("", "发展", "通知", "2025"):
            res = ok(db, query)
            facets = res["facets"]
            check(facets["year"] and facets["agency"] and facets["type"],
                  "%r: year, agency and type facets present" % query)
            years = [x["value"] for x in facets["year"]]
            check(years == sorted(years, reverse=True), "%r: years newest first" % query)
            for x in facets["year"][:6]:
                t = ok(db, query, "--from", x["value"], "--to", x["value"], "--no-facets")["total"]
                check(t == x["count"], "%r year %s: facet %d, filtered %d" % (query, x["value"], x["count"], t))
            for x in facets["agency"][:6]:
                t = ok(db, query, "--agency", x["value"], "--no-facets")["total"]
                check(t == x["count"], "%r agency %s: facet %d, filtered %d" % (query, x["value"], x["count"], t))
            for x in facets["type"][:6]:
                t = ok(db, query, "--type", x["value"], "--no-facets")["total"]
                check(t == x["count"], "%r type %s: facet %d, filtered %d" % (query, x["value"], x["count"], t))
            g = ok(db, query, "--group", "doc")
            for x in g["facets"]["year"][:4]:
                t = ok(db, query, "--group", "doc", "--from", x["value"], "--to", x["value"])["total"]
                check(t == x["count"], "%r grouped, year %s: facet %d documents, filtered %d"
                      % (query, x["value"], x["count"], t))

        # A short agency name takes every agency containing it.
        agencies = sorted({a for m in meta.values() for a in m.get("agency", [])})
        city = next(a[:3] for a in agencies if a[2] == "市")
        want = {d for d, m in meta.items() if any(city in a for a in m.get("agency", []))}
        have = {h["doc"] for h in ok(db, "", "--agency", city, "--limit", "0")["hits"]}
        check(want and have == want, "--agency %s: %d documents, want %d" % (city, len(have), len(want)))
        short = next((a for a in agencies if a.endswith("市人民政府")), None)
        if short:
            s = short.replace("人民政府", "政府")
            check(ok(db, "", "--agency", s)["total"] == ok(db, "", "--agency", short)["total"],
                  "--agency %s reads as %s" % (s, short))

        # The issuing agency gives the document its region: every passage
        # of a document the city's bodies issued is found under the city.
        cities = ("赤峰市", "通辽市", "鄂尔多斯市", "乌兰察布市", "包头市", "巴彦淖尔市", "呼和浩特市")
        for c in cities:
            docs = {d for d, m in meta.items() if d in passages and m.get("agency") and
                    m["agency"][0].startswith(c)}
            if not docs:
                continue
            got = {(h["doc"], h["passage"]) for h in ok(db, "", "--region", c, "--limit", "0")["hits"]}
            want = {(d, p) for d in docs for p in passages[d]}
            check(want <= got, "--region %s: %d passages of documents its bodies issued are missing"
                  % (c, len(want - got)))

        hits = ok(db, '"提高资金使用效益"')["hits"]
        check(len(hits) == 1 and hits[0]["regions"] == ["兴安盟"],
              "a notice signed by 兴安盟财政局 is 兴安盟's, though its body names 阿拉善盟 twice: %s"
              % (hits[0]["regions"] if hits else None))

        # Document numbers, typed any way.
        numbered = [(d, m["number"]) for d, m in sorted(meta.items()) if "〔" in m.get("number", "")]
        check(len(numbered) >= 5, "documents with numbers: %d" % len(numbered))
        for doc, num in numbered[:8]:
            code, rest = num.split("〔")
            year, serial = rest.split("〕")
            for typed in ("%s[%s]%s" % (code, year, serial), "%s（%s）%s" % (code, year, serial),
                          "%s〔%s〕第0%s" % (code, year, serial), "%s%s年%s" % (code, year, serial),
                          "%s【%s]%s" % (code, year, serial), '"%s(%s)%s"' % (code, year, serial)):
                hits = ok(db, typed, "--limit", "3")["hits"]
                check(hits and meta.get(hits[0]["doc"], {}).get("number") == num and
                      (hits[0].get("meta") or {}).get("number") == num,
                      "number %s typed %s: first hit %s" % (num, typed, hits[0]["doc"] if hits else None))

        # --group doc: totals are the distinct documents of the passage hits.
        rng = random.Random(5)
        texts = [h["text"] for h in everything if len(h["text"]) > 6]
        for _ in range(40):
            t = rng.choice(texts)
            k = rng.randint(1, 4)
            j = rng.randrange(0, len(t) - k)
            s = re.sub(r'["\s\-]', "", t[j:j + k]) or "发展"
            flags = rng.choice([[], ["--sort", "date"], ["--from", "2024"], ["--type", "通知"]])
            full = ok(db, s, "--limit", "0", *flags)
            g = ok(db, s, "--group", "doc", "--limit", "0", *flags)
            docs = {}
            for h in full["hits"]:
                docs[h["doc"]] = docs.get(h["doc"], 0) + 1
            check(g["total"] == len(docs) == len(g["hits"]) and
                  all(h["passages"] == docs[h["doc"]] for h in g["hits"]),
                  "--group doc %r %s: %d documents, passage hits name %d" % (s, flags, g["total"], len(docs)))
            firsts = {}
            for h in full["hits"]:
                firsts.setdefault(h["doc"], h["passage"])
            check(all(h["passage"] == firsts[h["doc"]] for h in g["hits"]),
                  "--group doc %r: each document's best passage first" % s)

        # Bad input: exit 2 with a message.
        for flags, word in ((["--from", "2025", "--to", "2024"], "after"),
                            (["--from", "2023-02-30"], "date"), (["--to", "2023-13"], "date"),
                            (["--from", "yesterday"], "date"), (["--sort", "newest"], "sort"),
                            (["--type", "随便"], "type"), (["--group", "file"], "group")):
            rc, res, err = search(db, "发展", *flags)
            check(rc == 2 and res and word in res.get("error", ""), "%s: exit %d %r" % (flags, rc, err))
        many = []
        for k in range(50):
            many += ["--agency", "某某市第%d局" % k]
        rc, res, _ = search(db, "发展", *many)
        check(rc == 0 and res["total"] == 0, "50 unknown agencies: no hits, exit %d" % rc)
        rc, res, _ = search(db, "发展", "--agency", "局" * 2000)
        check(rc == 2, "an agency of 2,000 characters: exit %d" % rc)

        web = Web(db)
        try:
            st, _, body = web.get("/api/search?" + q({"q": "发展", "from": "2025", "to": "2024"}))
            check(st == 400 and b"after" in body, "API from after to: %d" % st)
            st, _, _ = web.get("/api/search?" + q({"q": "发展", "sort": "x"}))
            check(st == 400, "API unknown sort: %d" % st)
            for params in ({"q": "发展"}, {"q": "治沙", "sort": "date"},
                           {"q": "", "from": "2024", "to": "2025", "type": ["通知", "方案"]},
                           {"q": "", "agency": city, "sort": "-date"}):
                st, headers, body = web.get("/api/export?" + q(params))
                check(st == 200 and body.startswith(b"\xef\xbb\xbf") and
                      headers.get("content-type", "").startswith("text/csv"),
                      "export %s: %d %s" % (params, st, headers.get("content-type")))
                rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
                hits, off = [], 0
                while True:
                    st, _, page = web.get("/api/search?" + q(dict(params, limit=1000, offset=off)))
                    got = json.loads(page)
                    hits += got["hits"]
                    off += 1000
                    if off >= got["total"]:
                        break
                head = rows[0] if rows else []
                want = []
                for h in hits:
                    m = h.get("meta") or {}
                    want.append([h["doc"], str(h["passage"]), m.get("title") or h["title"] or "",
                                 "; ".join(m.get("agency", [])), m.get("number", ""),
                                 m.get("date", ""), m.get("published", ""), m.get("type", ""),
                                 str(h["page"]) if h.get("page") else "", h["heading"] or "",
                                 h["text"], "; ".join(h["regions"]), "; ".join(h["sectors"]),
                                 "; ".join(x["surface"] for x in h["numbers"])])
                body_rows = [[c[1:] if c[:1] == "'" and c[1:2] in "=+-@\t\r" else c for c in r]
                             for r in rows[1:]]
                check(head[:3] == ["doc", "passage", "title"] and body_rows == want and len(want) > 0,
                      "export %s: %d rows, the API has %d hits (first difference %s)" % (
                          params, len(body_rows), len(want),
                          next(((a, b) for a, b in zip(body_rows, want) if a != b), None)))
        finally:
            web.stop()

        # 200,000 matches: refused with the message.
        big = os.path.join(tmp, "big")
        os.mkdir(big)
        for f in range(4):
            with open(os.path.join(big, "part-%d.txt" % f), "w", encoding="utf-8") as out:
                for k in range(52000):
                    out.write("第%d条 推进发展。\n\n" % (f * 52000 + k))
        bdb = os.path.join(tmp, "bdb")
        subprocess.run([os.path.join(BIN, "policy-index"), "--db", bdb, "--jobs", "2", big],
                       check=True, capture_output=True)
        web = Web(bdb)
        try:
            st, _, body = web.get("/api/search?" + q({"q": "发展", "limit": 1}))
            total = json.loads(body)["total"]
            st, headers, body = web.get("/api/export?" + q({"q": "发展"}))
            msg = json.loads(body).get("error", "") if st == 400 else ""
            check(total >= 200000 and st == 400 and "100000" in msg and str(total) in msg,
                  "export of %d matches: %d %r" % (total, st, msg))
        finally:
            web.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report("docfilters")


if __name__ == "__main__":
    sys.exit(main())
