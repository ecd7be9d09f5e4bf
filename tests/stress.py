#!/usr/bin/env python3
"""Stress: a server without its answer cache under four query loops while
the indexer commits as fast as it can, changing and adding documents, an
--optimize run (a compaction of every shard) every fifth time.  Every
request must answer 200: a reading that meets a writer's change or a
shard swapped in is answered from the index's new state, never an error.
At the end the server stops on SIGTERM.  (tests/live.py checks the same
at a slower pace; make test runs this for 30 s, `make stress` for 60.)

  stress.py [--seconds N]        (BIN: directory of the binaries)
"""
import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, http_get, query_loops, report, start_web, stop_web  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
QUERIES = ['"防沙治沙"', "新能源 装机", '"的"', '"亿元"', "", "肉牛 OR 奶业"]


def utf8(path):
    """True when the file is UTF-8 (lines are appended to those only)."""
    try:
        open(path, encoding="utf-8").read()
        return True
    except UnicodeDecodeError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    secs = ap.parse_args().seconds
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "docs")
        shutil.copytree(os.path.join(ROOT, "fixtures"), d)
        db = os.path.join(tmp, "db")
        index = os.path.join(BIN, "policy-index")
        subprocess.run([index, "--db", db, "--jobs", "2", d], check=True,
                       capture_output=True)
        log = open(os.path.join(tmp, "web.log"), "w+")
        web, port = start_web(BIN, db, log, "--cache-mb", "0")
        check(port is not None, "policy-web did not start")
        if port is None:
            return report("stress")
        lock = threading.Lock()
        stats = {"ok": 0, "bad": []}

        def one(i):
            q = QUERIES[i % len(QUERIES)]
            try:
                status, body = http_get(port, "/api/search?limit=20&q=" +
                                        urllib.parse.quote(q))
                with lock:
                    if status == 200:
                        stats["ok"] += 1
                    else:
                        stats["bad"].append((status, body[:200]))
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    stats["bad"].append(("no answer", repr(e)))

        halt = query_loops(4, one)
        names = sorted(n for n in os.listdir(d) if n.endswith(".txt") and utf8(os.path.join(d, n)))
        runs = failed_runs = 0
        first_failure = None
        t0 = time.time()
        while time.time() - t0 < secs:
            runs += 1
            with open(os.path.join(d, names[runs % len(names)]), "a",
                      encoding="utf-8") as f:
                f.write("\n第%d轮改写：光伏装机新增%d万千瓦。\n" % (runs, runs))
            with open(os.path.join(d, "new%d.txt" % (runs % 7)), "w",
                      encoding="utf-8") as f:
                f.write("新文件%d：赤峰市防沙治沙%d万亩。\n" % (runs, runs))
            if runs % 3 == 0:   # and one removed now and then
                gone = os.path.join(d, "new%d.txt" % ((runs + 3) % 7))
                if os.path.exists(gone):
                    os.remove(gone)
            args = [index, "--db", db] + (["--optimize"] if runs % 5 == 0 else []) + [d]
            p = subprocess.run(args, capture_output=True)
            if p.returncode != 0:
                failed_runs += 1
                first_failure = first_failure or p.stderr.decode()[-300:]
        halt()
        print("%d index runs in %.0f s; %d requests answered 200, %d not"
              % (runs, secs, stats["ok"], len(stats["bad"])))
        check(failed_runs == 0, "%d index runs failed, the first: %s"
              % (failed_runs, first_failure))
        check(stats["ok"] > 0, "no request answered")
        check(not stats["bad"], "requests not answered 200 while indexing: %r"
              % stats["bad"][:5])
        check(stop_web(web), "the server did not stop on SIGTERM")
    return report("stress")


if __name__ == "__main__":
    sys.exit(main())
