#!/usr/bin/env python3
"""Precision and recall of `policy-index --extract` against hand-checked
gold files (tests/gold/NAME.jsonl for ../shared/corpus/NAME.txt).

How the gold was made: a draft from an independent regular-expression
extractor and one from policy-index were compared; every disagreement and
every mention without a unit was checked against the source text and the
contract's rules (years, dates, ordinals, rankings, list markers, codes
such as 1+3 or the 12345 hotline and road 306 are not mentions).  A match
needs the same line, surface, value and unit.  Both figures must be at
least 0.97.  Skips when ../shared/corpus is absent.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
SHARED = os.path.join(ROOT, "..", "shared", "corpus")


def key(m):
    return (m["line"], m["surface"], round(float(m["value"]), 6), m["unit"])


def main():
    if not os.path.isdir(SHARED):
        print("ok - numeric mentions gold # SKIP needs ../shared/corpus")
        return 0
    tp = fp = fn = 0
    for name in sorted(os.listdir(os.path.join(ROOT, "tests", "gold"))):
        if not name.endswith(".jsonl"):
            continue            # other gold files (meta.json) are not mentions
        gold = [json.loads(l) for l in open(os.path.join(ROOT, "tests", "gold", name))
                if l.strip() and not l.startswith("#")]
        src = os.path.join(SHARED, name.replace(".jsonl", ".txt"))
        out = subprocess.run([os.path.join(BIN, "policy-index"), "--extract", src],
                             capture_output=True, check=True).stdout.decode()
        got = [json.loads(l) for l in out.splitlines()]
        g, s = {}, {}
        for m in gold:
            g[key(m)] = g.get(key(m), 0) + 1
        for m in got:
            s[key(m)] = s.get(key(m), 0) + 1
        t = sum(min(g.get(k, 0), n) for k, n in s.items())
        tp += t
        fp += sum(s.values()) - t
        fn += sum(g.values()) - t
        for k in sorted(set(s) - set(g)):
            print("  extra   %s: %s" % (name, k))
        for k in sorted(set(g) - set(s)):
            print("  missing %s: %s" % (name, k))
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    print("numeric mentions: gold %d, extracted %d, precision %.4f, recall %.4f"
          % (tp + fn, tp + fp, p, r))
    return 0 if p >= 0.97 and r >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())
