#!/usr/bin/env python3
"""Document metadata against a gold file: `policy-index --meta` on each
document of tests/data/meta (written by tools/make-meta-docs.py: red-header
documents, joint ones, two-line titles, Chinese-numeral dates, numbers in
every bracket style, full-width digits, Traditional script, announcements,
web pages with a metadata table, reports, news, plain pages) compared
field by field with tests/gold/meta.json.  Prints precision and recall per
field; each must be at least 0.95.

  meta_gold.py        (BIN: directory of the binaries)
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
FIELDS = ["title", "agency", "number", "date", "published", "type"]


def main():
    gold = json.load(open(os.path.join(ROOT, "tests", "gold", "meta.json"), encoding="utf-8"))
    tally = {f: [0, 0, 0] for f in FIELDS}      # tp, fp, fn
    wrong = []
    for name, want in sorted(gold.items()):
        p = subprocess.run([os.path.join(BIN, "policy-index"), "--meta",
                            os.path.join(ROOT, "tests", "data", "meta", name)], capture_output=True)
        got = json.loads(p.stdout) if p.returncode == 0 else {}
        check(p.returncode == 0, "%s: exit %d %s" % (name, p.returncode, p.stderr.decode()[-200:]))
        for f in FIELDS:
            w, g = want.get(f), got.get(f)
            ws = set(w) if isinstance(w, list) else ({w} if w else set())
            gs = set(g) if isinstance(g, list) else ({g} if g else set())
            t = tally[f]
            t[0] += len(ws & gs)
            t[1] += len(gs - ws)
            t[2] += len(ws - gs)
            if ws != gs:
                wrong.append("%s %s: got %s, gold %s" % (name, f, g, w))
    print("%d documents" % len(gold))
    for f in FIELDS:
        tp, fp, fn = tally[f]
        prec = tp / (tp + fp) if tp + fp else 1.0
        rec = tp / (tp + fn) if tp + fn else 1.0
        print("%-10s precision %.3f  recall %.3f  (%d right, %d wrong or extra, %d missed)"
              % (f, prec, rec, tp, fp, fn))
        check(prec >= 0.95 and rec >= 0.95, "%s: precision %.3f, recall %.3f" % (f, prec, rec))
    for w in wrong[:20]:
        print("  " + w)
    check(len(gold) >= 40, "only %d gold documents" % len(gold))
    return report("meta")


if __name__ == "__main__":
    sys.exit(main())
