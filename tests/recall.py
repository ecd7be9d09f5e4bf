#!/usr/bin/env python3
"""Exact-recall check of quoted search, at passage level.

Indexes CORPUS, lists every passage (an empty query lists them all), draws
random 1-8 character substrings of the passages plus fixed policy phrases,
runs each as a quoted query through `policy-search --batch`, and compares
the hits with a plain substring scan of the passages' normalized text.
Recall and precision must both be 1.0.  Passages are shown as the source
writes them; `policy-search --normalize` gives the form matching uses.

For the fixed phrases it also checks documents against the raw files
(whitespace removed, NFKC): every file whose text says the phrase must
have a hit, so a phrase wrapped across lines is not lost before it
reaches a passage.

  recall.py CORPUS [--queries N] [--seed S]     (BIN: directory of binaries)
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unicodedata

FIXED = ["防沙治沙", "以工代赈", "专精特新", "高标准农田", "两大沙地",
         "乡村振兴", "新能源", "营商环境", "万亩", "亿元"]
QUOTES = set('"\u201c\u201d\uff02')


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def raw_text(path):
    data = open(path, "rb").read()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            t = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", t)).lower()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2)
    a = ap.parse_args()
    bindir = os.environ.get("BIN", "bin")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "db")
        r = run([os.path.join(bindir, "policy-index"), "--db", db, a.corpus])
        print(r.stderr.decode().strip().splitlines()[-1])
        out = run([os.path.join(bindir, "policy-search"), "--db", db, "--json",
                   "--limit", "0", ""]).stdout
        hits = json.loads(out)["hits"]
        # Hits show the source text; "contains" compares normalized forms,
        # as the engine normalizes them.
        normed = run([os.path.join(bindir, "policy-search"), "--normalize"],
                     input="".join(h["text"].replace("\n", " ") + "\n" for h in hits).encode()
                     ).stdout.decode().split("\n")
        passages = {(h["doc"], h["passage"]): t for h, t in zip(hits, normed)}
        print("passages:", len(passages))
        rng = random.Random(a.seed)
        keys = sorted(passages)
        queries = list(FIXED)
        while len(queries) < a.queries + len(FIXED):
            t = passages[rng.choice(keys)]
            n = rng.randint(1, 8)
            if len(t) < n:
                continue
            i = rng.randrange(0, len(t) - n + 1)
            q = t[i:i + n]
            if q != q.strip() or QUOTES & set(q) or "  " in q:
                continue
            queries.append(q)
        batch = "".join('"%s"\n' % q for q in queries)
        out = run([os.path.join(bindir, "policy-search"), "--db", db,
                   "--batch", "-", "--limit", "0"], input=batch.encode()).stdout
        results = [json.loads(line) for line in out.decode().splitlines()]
        assert len(results) == len(queries), "one result per query"
        tp = fp = fn = 0
        bad = []
        for q, res in zip(queries, results):
            got = {(h["doc"], h["passage"]) for h in res["hits"]}
            want = {k for k, t in passages.items() if q in t}
            if res["total"] != len(got):
                bad.append((q, "total %d but %d hits" % (res["total"], len(got))))
            tp += len(got & want)
            fp += len(got - want)
            fn += len(want - got)
            if got != want:
                bad.append((q, "missing %d, wrong %d" % (len(want - got), len(got - want))))
        recall = tp / (tp + fn) if tp + fn else 1.0
        precision = tp / (tp + fp) if tp + fp else 1.0
        print("queries: %d  matching passages: %d  recall: %.4f  precision: %.4f"
              % (len(queries), tp + fn, recall, precision))
        # Document level, against the raw files.
        files = {}
        for root, _, names in os.walk(a.corpus):
            for n in names:
                if n.endswith((".txt", ".md")):
                    p = os.path.join(root, n)
                    files[os.path.relpath(p, a.corpus)] = raw_text(p)
        for q, res in zip(queries[:len(FIXED)], results[:len(FIXED)]):
            docs = {h["doc"] for h in res["hits"]}
            want = {d for d, t in files.items() if q in t}
            if not want <= docs:
                bad.append((q, "documents missing: %s" % sorted(want - docs)[:5]))
        for q, why in bad[:20]:
            print("FAIL %r: %s" % (q, why))
        if bad or recall < 1.0 or precision < 1.0:
            sys.exit(1)
        print("ok: quoted search is exact on %s" % a.corpus)


if __name__ == "__main__":
    main()
