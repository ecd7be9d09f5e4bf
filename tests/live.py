#!/usr/bin/env python3
"""Reindexing under load: policy-web answers two query loops while
policy-index adds, changes and removes documents of the same --db, ten
times over (segment merges and an --optimize run with its compaction
included).  Every response must be a 200 and come from one committed
state: a search's total equals its hits (limit=0), a document's passages
are 0..n-1 with none missing or twice.  A document added by a run is
found within a second of the run's end, and the server's memory does
not grow from reindex to reindex.  After the last run the answers must
be those of that state.

  live.py            (BIN: directory of the binaries)
"""
import json
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
QUERIES = ['"防沙治沙"', "新能源 装机", '"的"', '"亿元"', "", '"第3轮改写"', "肉牛 OR 奶业"]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.join(tmp, "docs")
        shutil.copytree(os.path.join(ROOT, "fixtures"), d)
        db = os.path.join(tmp, "db")
        subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "2", d],
                       check=True, capture_output=True)
        log = open(os.path.join(tmp, "web.log"), "w+")
        # Under AddressSanitizer freed blocks wait in a quarantine (256 MB
        # by default) before they are reused, which reads as growth below
        # until it is full: keep it small, so that the resident size says
        # what the server keeps.
        if os.environ.get("ASAN_OPTIONS"):
            os.environ["ASAN_OPTIONS"] += ":quarantine_size_mb=16"
        web, port = start_web(BIN, db, log)
        stats = {"ok": 0, "bad": []}
        lock = threading.Lock()

        stats["mixed"] = []
        docs_seen = sorted(n for n in os.listdir(d) if n.endswith(".txt"))

        def get(path):
            return http_get(port, path)

        def one(i):
            q = QUERIES[i % len(QUERIES)]
            i += 1
            try:
                if i % 3 == 0:
                    # a whole document: passages 0..n-1, one state
                    doc = docs_seen[i % len(docs_seen)]
                    status, body = get("/api/doc?doc=" + urllib.parse.quote(doc))
                    if status == 200:
                        ords = [p["passage"] for p in json.loads(body)["passages"]]
                        if ords != list(range(len(ords))):
                            with lock:
                                stats["mixed"].append((doc, ords[:20]))
                    elif status == 404:
                        status = 200      # removed in this state
                else:
                    status, body = get("/api/search?q=" + urllib.parse.quote(q) +
                                       "&limit=0&facets=0")
                    if status == 200:
                        o = json.loads(body)
                        if o["total"] <= 1000 and o["total"] != len(o["hits"]):
                            with lock:
                                stats["mixed"].append((q, o["total"], len(o["hits"])))
                with lock:
                    if status == 200:
                        stats["ok"] += 1
                    else:
                        stats["bad"].append((status, body[:200]))
            except Exception as e:          # noqa: BLE001
                with lock:
                    stats["bad"].append(("exception", repr(e)))

        def rss():
            got = {}
            with open("/proc/%d/status" % web.pid) as f:
                for line in f:
                    if line.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                        got[line.split(":")[0]] = int(line.split()[1])
            return got

        halt = query_loops(2, one)
        names = sorted(n for n in os.listdir(d) if n.endswith(".txt") and "gb18030" not in n)
        rss_after = []
        late = []
        try:
            for rnd in range(1, 11):
                # change some documents, remove one, bring back the last,
                # add a new one
                for n in names[rnd % 3::3]:
                    p = os.path.join(d, n)
                    with open(p, "a", encoding="utf-8", errors="ignore") as f:
                        f.write("\n第%d轮改写的段落，赤峰市推进防沙治沙。\n" % rnd)
                    os.utime(p, (time.time() + rnd, time.time() + rnd))
                gone = os.path.join(d, names[rnd % len(names)])
                keep = os.path.join(tmp, "away.txt")
                if os.path.exists(gone):
                    os.rename(gone, keep)
                marker = "新增文件标记%d号" % rnd
                with open(os.path.join(d, "new-%02d.txt" % rnd), "w", encoding="utf-8") as f:
                    f.write("第%d轮新增的文件\n\n%s，通辽市新能源项目开工。\n" % (rnd, marker))
                args = ["--optimize"] if rnd == 5 else []
                subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, *args, d],
                               check=True, capture_output=True)
                t0 = time.time()
                found = False
                while time.time() - t0 < 1.0 and not found:
                    status, body = get("/api/search?q=" + urllib.parse.quote('"%s"' % marker))
                    found = status == 200 and json.loads(body)["total"] == 1
                    if not found:
                        time.sleep(0.05)
                if not found:
                    late.append(rnd)
                if os.path.exists(keep):
                    os.rename(keep, gone)
                time.sleep(0.3)
                rss_after.append(rss())
            subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, d],
                           check=True, capture_output=True)
            time.sleep(1.0)         # the watcher takes a new state within 0.2 s
        finally:
            halt()
        check(not late, "documents added by runs %s were not found within a second" % late)
        print("requests answering from two states at once: %d" % len(stats["mixed"]))
        check(not stats["mixed"], "answers mixing two states: %s" % stats["mixed"][:3])
        print("server RSS after each of 10 reindexes (KB): %s" % [r.get("VmRSS") for r in rss_after])
        print("  of it anonymous: %s" % [r.get("RssAnon") for r in rss_after])
        print("  of it index files mapped: %s" % [r.get("RssFile") for r in rss_after])
        # Its own memory (not the index files it maps, which grow with
        # the index): level from the fifth run (--optimize) on, so the
        # snapshots that rounds 6 to 10 replace were given back (one
        # snapshot kept per reindex grows it by about 2 MB a round here).
        anon = [r.get("RssAnon", 0) for r in rss_after]
        slack = 5120 + 0.05 * anon[4] + (16384 if os.environ.get("ASAN_OPTIONS") else 0)
        check(max(anon[5:]) <= anon[4] + slack,
              "server memory grows from reindex to reindex (KB): %s" % anon)
        print("requests during 11 reindex runs: %d answered 200, %d not" % (stats["ok"], len(stats["bad"])))
        check(not stats["bad"], "non-200 responses while reindexing: %s" % stats["bad"][:3])
        if stats["bad"] or web.poll() is not None:
            log.seek(0)
            print("server log:\n" + log.read()[-3000:])
        check(stats["ok"] > 50, "too few requests to say anything: %d" % stats["ok"])
        # After the last run the server reads its full snapshot again (a
        # new document is found before, without the facet index): it
        # gets there, and describes the state it answers from.
        t0, st = time.time(), {}
        while time.time() - t0 < 30:
            status, body = get("/api/status")
            st = json.loads(body) if status == 200 else {}
            if st.get("facet_index"):
                break
            time.sleep(0.05)
        status, body = get("/api/search?q=&limit=1&facets=0")
        check(st.get("facet_index") is True and st.get("shards") == 2 and
              st.get("passages") == json.loads(body)["total"],
              "the server's state after the last run: %s (%s passages found)" % (
                  st, json.loads(body)["total"]))
        # After the last run: the server answers like a fresh process.
        for q in QUERIES:
            got = json.loads(get("/api/search?q=" + urllib.parse.quote(q) +
                                 "&limit=0&facets=0")[1])
            p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit",
                                "0", "--no-facets", "--", q], capture_output=True)
            want = json.loads(p.stdout)
            check(got["total"] == want["total"] and
                  sorted((h["doc"], h["passage"]) for h in got["hits"]) ==
                  sorted((h["doc"], h["passage"]) for h in want["hits"]),
                  "after reindexing, %r: server %d, fresh process %d" % (q, got["total"], want["total"]))
        check(stop_web(web), "the server did not stop on SIGTERM")
    return report("live")


if __name__ == "__main__":
    sys.exit(main())
