#!/usr/bin/env python3
"""Facet and filter tests: regions with their subdivisions, facet counts
that equal filtered totals, numeric ranges satisfied by one mention, and
two indexes joined by a stub answering exactly like a single index.  Uses ../shared/corpus when present, fixtures always.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
FIXTURES = os.path.join(ROOT, "fixtures")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, gazetteer, report  # noqa: E402


def index(db, *paths, jobs=2):
    subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", str(jobs), *paths],
                   check=True, capture_output=True)


def search(db, q, *flags):
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", *flags, "--", q],
                       capture_output=True)
    if p.returncode:
        raise AssertionError("policy-search %s %s: %s" % (q, flags, p.stderr.decode()))
    return json.loads(p.stdout)


def within(code, anc, parent):
    while code:
        if code == anc:
            return True
        code = parent.get(code, "")
    return False


def main():
    names, parent = gazetteer()
    by_name = {}
    for c, n in names.items():
        by_name.setdefault(n, []).append(c)
    sources = [FIXTURES] + ([SHARED] if os.path.isdir(SHARED) else [])
    if len(sources) == 1:
        print("ok - facets on ../shared/corpus # SKIP needs ../shared/corpus (fixtures only)")
    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "db")
    index(db, *sources)

    # A batch (filters and counts from the in-memory facet index) answers
    # exactly like a single query (read from the database): hits, order, scores,
    # totals and facets, for quoted, unquoted, OR, excluded and filtered
    # queries with pages.
    queries = ['"防沙治沙"', '防沙治沙', '新能源', '"发展"', '乡村振兴 -通辽', '肉牛 OR 奶业',
               '"新能源" -光伏', '招商引资项目', '高质量发展', '"的"', '科技型中小企业',
               '"亿元" "增长"', '赤峰 新能源', '不存在的词语', '', '-发展']
    for flags in [[], ["--region", "赤峰市"], ["--sector", "工业", "--sector", "能源"],
                  ["--unit", "亩"], ["--limit", "0"], ["--offset", "5", "--limit", "7"],
                  ["--region", "赤峰", "--sector", "生态环保", "--limit", "3", "--offset", "2"],
                  ["--unit", "亩", "--min", "100万", "--max", "500万"],
                  ["--unit", "元", "--min", "1亿", "--region", "内蒙古", "--limit", "20"],
                  ["--unit", "%", "--max", "5"]]:
        p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--batch", "-",
                            *flags], input=("\n".join(queries) + "\n").encode(), capture_output=True)
        lines = p.stdout.decode().splitlines()
        check(p.returncode == 0 and len(lines) == len(queries), "batch %s: exit %d" % (flags, p.returncode))
        for q, line in zip(queries, lines):
            b, one = json.loads(line), search(db, q, *flags)
            b.pop("took_ms")
            one.pop("took_ms")
            check(b == one, "batch and single differ: %r %s (totals %d, %d)" % (q, flags, b["total"], one["total"]))

    # Region filter: only Chifeng and its subdivisions; Inner Mongolia is wider.
    cf = search(db, '"防沙治沙"', "--region", "赤峰市", "--limit", "0")
    check(cf["total"] > 0, "防沙治沙 in 赤峰市 found nothing")
    for h in cf["hits"]:
        ok = any(within(c, "150400", parent) for r in h["regions"] for c in by_name.get(r, []))
        check(ok, "hit outside 赤峰市: %s %s" % (h["doc"], h["regions"]))
    nm = search(db, '"防沙治沙"', "--region", "内蒙古", "--limit", "0")
    check(nm["total"] >= cf["total"], "内蒙古 (%d) < 赤峰市 (%d)" % (nm["total"], cf["total"]))
    short = search(db, '"防沙治沙"', "--region", "赤峰", "--limit", "0")
    check(short["total"] == cf["total"], "赤峰 and 赤峰市 differ")

    # Roll-up: a passage naming 巴林右旗 counts under it and its ancestors.
    br = search(db, '"巴林右旗"', "--limit", "0")
    fac = {f["value"]: f["count"] for f in br["facets"]["region"]}
    check(br["total"] > 0 and fac.get("巴林右旗") == br["total"], "巴林右旗 facet %s of %d" % (fac.get("巴林右旗"), br["total"]))
    check(fac.get("赤峰市") == br["total"] and fac.get("内蒙古自治区") == br["total"],
          "巴林右旗 passages must count under 赤峰市 and 内蒙古自治区: %s" % fac)

    # Every facet value's count equals the total of the same query filtered by it.
    queries = [("", []), ('"防沙治沙"', []), ("新能源", []), ('"亿元"', []), ("肉牛 OR 奶业", []),
               ("高标准农田", []), ('"增长"', ["--sector", "工业"]), ("", ["--region", "包头市"]),
               ('"万亩"', ["--unit", "亩", "--min", "10万"]), ("营商环境 -呼和浩特", []),
               ("乡村振兴", []), ('"投资"', []), ("", ["--sector", "生态环保", "--sector", "农牧业"])]
    checked = 0
    for q, flags in queries:
        base = search(db, q, *flags, "--limit", "1")
        # Values of a facet that is already filtered would be ORed with the
        # filter (contract), so only facets not yet filtered are checked.
        for f in ([] if "--region" in flags else base["facets"]["region"]):
            n = search(db, q, *flags, "--region", f["code"], "--limit", "1")["total"]
            check(n == f["count"], "%r %s region %s: facet %d, filtered %d" % (q, flags, f["value"], f["count"], n))
            checked += 1
        for f in ([] if "--sector" in flags else base["facets"]["sector"]):
            n = search(db, q, *flags, "--sector", f["value"], "--limit", "1")["total"]
            check(n == f["count"], "%r %s sector %s: facet %d, filtered %d" % (q, flags, f["value"], f["count"], n))
            checked += 1
        if "--unit" not in flags:
            for f in base["facets"]["unit"]:
                n = search(db, q, *flags, "--unit", f["value"], "--limit", "1")["total"]
                check(n == f["count"], "%r unit %s: facet %d, filtered %d" % (q, f["value"], f["count"], n))
                checked += 1
    check(checked > 200, "only %d facet values checked" % checked)
    # --batch counts facets with the in-memory facet index: same answers.
    for q, flags in queries:
        single = search(db, q, *flags, "--limit", "3")
        p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--batch", "-",
                            "--limit", "3", *flags], input=(q + "\n").encode(), capture_output=True)
        batch = json.loads(p.stdout.decode().splitlines()[0])
        check(batch["facets"] == single["facets"] and batch["total"] == single["total"],
              "batch (facet index) and single query differ for %r %s" % (q, flags))
    print("facet values checked against filtered totals: %d" % checked)

    # Numeric ranges: exactly the passages with one mention in range.
    everything = search(db, "", "--limit", "0")["hits"]
    for unit, lo, hi, los, his in [("亩", 1e6, 5e6, "100万", "500万"), ("元", 1e8, 1e9, "1亿", "10亿"),
                                   ("%", 10, 1e18, "10", None), ("千瓦", 1.2e6, 1.2e6, "120万", "1.2e6")]:
        flags = ["--unit", unit, "--min", los] + (["--max", his] if his else [])
        got = {(h["doc"], h["passage"]) for h in search(db, "", *flags, "--limit", "0")["hits"]}
        want = {(h["doc"], h["passage"]) for h in everything
                if any(n["unit"] == unit and lo <= n["value"] <= hi for n in h["numbers"])}
        check(got == want and want, "%s [%s, %s]: %d hits, %d expected" % (unit, los, his, len(got), len(want)))
    # One and the same mention: 50万亩 and 600万亩 together do not make a hit in [100万, 500万].
    d = os.path.join(tmp, "same")
    os.makedirs(d)
    open(os.path.join(d, "a.txt"), "w").write("甲县完成造林50万亩，乙县完成造林600万亩。\n")
    open(os.path.join(d, "b.txt"), "w").write("丙县完成造林200万亩。\n")
    sdb = os.path.join(tmp, "same-db")
    index(sdb, d)
    got = search(sdb, "", "--unit", "亩", "--min", "100万", "--max", "500万", "--limit", "0")
    check([h["doc"] for h in got["hits"]] == ["b.txt"], "range must hold for one mention: %s" % [h["doc"] for h in got["hits"]])

    # Two indexes built apart and listed in one stub answer like one index:
    # the character index is read per shard and ranked with global figures.
    one = os.path.join(tmp, "one")
    index(one, *sources, jobs=1)
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    index(a, FIXTURES, jobs=1)
    index(b, *(sources[1:] or [os.path.join(ROOT, "tests", "data", "html-doc.txt")]), jobs=1)
    if len(sources) == 1:
        index(one, os.path.join(ROOT, "tests", "data", "html-doc.txt"), jobs=1)
    joined = os.path.join(tmp, "joined")
    os.makedirs(joined)
    open(os.path.join(joined, "XAPIANDB"), "w").write(
        "glass %s\nglass ../b/shard0\n" % os.path.join(a, "shard0"))
    for q, flags in [('"防沙治沙"', []), ("新能源", []), ("", ["--region", "赤峰市"]),
                     ('"亿元"', ["--sector", "工业"]), ("", ["--unit", "亩", "--min", "100万", "--max", "500万"]),
                     ("乡村振兴 -通辽", ["--limit", "0"]), ('"的"', [])]:
        x = search(one, q, *flags, "--limit", "0")
        y = search(joined, q, *flags, "--limit", "0")
        hx = sorted((h["doc"], h["passage"]) for h in x["hits"])
        hy = sorted((h["doc"], h["passage"]) for h in y["hits"])
        check(x["total"] == y["total"] and hx == hy and x["total"] > 0,
              "shards: %r %s totals %d vs %d" % (q, flags, x["total"], y["total"]))
        check(x["facets"] == y["facets"], "shards: %r %s facets differ" % (q, flags))
        sx = {(h["doc"], h["passage"]): h["score"] for h in x["hits"]}
        check(all(abs(sx[(h["doc"], h["passage"])] - h["score"]) < 1e-3 for h in y["hits"]),
              "shards: %r scores differ" % q)
    # A remote shard is refused with a message, not half-served.
    remote = os.path.join(tmp, "remote")
    os.makedirs(remote)
    open(os.path.join(remote, "XAPIANDB"), "w").write("remote 127.0.0.1:9\n")
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", remote, "x"], capture_output=True)
    check(p.returncode != 0 and b"only local shards" in p.stderr,
          "remote shard: exit %d, %r" % (p.returncode, p.stderr[:200]))
    subprocess.run(["rm", "-rf", tmp])
    return report("facets")


if __name__ == "__main__":
    sys.exit(main())
