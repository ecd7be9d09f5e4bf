#!/usr/bin/env python3
"""Soak: kill -9 the indexer at random moments (indexing, commit, purge,
compaction) and start two indexers together, many times over, on one
index whose documents keep changing.  After every kill the index opens;
at the end `policy-index --check` and xapian-check pass on every shard
and the answers (totals, passages per document) equal a fresh index's.

  soak.py [--rounds N] [--seed S]        (BIN: directory of the binaries)
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
EXE = os.path.join(BIN, "policy-index")


def search(db, q):
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit", "0",
                        "--no-facets", "--", q], capture_output=True)
    return p.returncode, (json.loads(p.stdout) if p.returncode == 0 else p.stderr.decode())


def per_doc(db):
    rc, r = search(db, "")
    counts = {}
    for h in r["hits"]:
        counts[h["doc"]] = counts.get(h["doc"], 0) + 1
    return counts


def churn(d, rnd, rnd_no):
    """Changes, adds and removes documents."""
    names = sorted(os.listdir(d))
    for n in rnd.sample(names, min(len(names), 8)):
        if rnd.random() < 0.15 and len(names) > 20:
            os.remove(os.path.join(d, n))
            continue
        with open(os.path.join(d, n), "a", encoding="utf-8") as f:
            f.write("\n第%d轮：赤峰市推进防沙治沙，新增治理任务%d万亩。\n" % (rnd_no, rnd.randint(1, 999)))
        t = time.time() + rnd_no
        os.utime(os.path.join(d, n), (t, t))
    for k in range(rnd.randint(0, 3)):
        with open(os.path.join(d, "new-%d-%d.txt" % (rnd_no, k)), "w", encoding="utf-8") as f:
            f.write(("第%d轮新文件：乡村振兴与以工代赈。\n\n" % rnd_no) * rnd.randint(50, 400))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "docs")
        os.makedirs(d)
        for i in range(40):
            with open(os.path.join(d, "doc%02d.txt" % i), "w", encoding="utf-8") as f:
                f.write(("第%d号文件：鄂尔多斯市新能源装机%d万千瓦，增长%d%%。\n\n" % (i, i * 7, i)) * 300)
        db = os.path.join(tmp, "db")
        t0 = time.time()
        subprocess.run([EXE, "--db", db, "--jobs", "2", d], check=True, capture_output=True)
        span = max(0.2, time.time() - t0)
        kills = refused = 0
        for r in range(1, a.rounds + 1):
            churn(d, rnd, r)
            p = subprocess.Popen([EXE, "--db", db, d], stderr=subprocess.DEVNULL)
            if r % 5 == 0:
                # two indexers started together
                time.sleep(rnd.uniform(0, span))
                q = subprocess.run([EXE, "--db", db, d], capture_output=True)
                refused += q.returncode == 2
                check(q.returncode in (0, 2), "round %d: second indexer exited %d" % (r, q.returncode))
                p.wait()
            else:
                # an incremental run is shorter than the first: aim inside it
                time.sleep(rnd.uniform(0, span * 0.4))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
                p.wait()
            rc, res = search(db, '"防沙治沙"')
            check(rc == 0, "round %d: the index does not open after the kill: %s" % (r, res))
        subprocess.run([EXE, "--db", db, d], check=True, capture_output=True)
        c = subprocess.run([EXE, "--check", db], capture_output=True)
        check(c.returncode == 0, "--check after the soak: %s" % c.stderr.decode()[-300:])
        if shutil.which("xapian-check"):
            for name in sorted(os.listdir(db)):
                if name.startswith("shard") and name[5:].isdigit():
                    x = subprocess.run(["xapian-check", os.path.join(db, name)], capture_output=True)
                    check(x.returncode == 0, "xapian-check %s: %s" % (name, x.stdout.decode()[-200:]))
        fresh = os.path.join(tmp, "fresh")
        subprocess.run([EXE, "--db", fresh, "--jobs", "2", d], check=True, capture_output=True)
        check(per_doc(db) == per_doc(fresh), "passages per document differ from a fresh index")
        for q in ['"防沙治沙"', '"第3轮"', '"以工代赈"', '"新能源"', ""]:
            got, want = search(db, q)[1], search(fresh, q)[1]
            check(got["total"] == want["total"], "%r: %d after the soak, %d fresh" % (q, got["total"], want["total"]))
        print("soak: %d rounds, %d indexers killed mid-run, %d second indexers refused; "
              "index checked and equal to a fresh one" % (a.rounds, kills, refused))
    return report("soak")


if __name__ == "__main__":
    sys.exit(main())
