#!/usr/bin/env python3
"""Reindexing under load: policy-web answers two query loops while
policy-index changes and removes documents of the same --db, several
times over (compaction and purge included).  Every response must be a
200, and after the last run the answers must be those of that state.

  live.py            (BIN: directory of the binaries)
"""
import http.client
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
from checks import check, report  # noqa: E402

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
        web = subprocess.Popen([os.path.join(BIN, "policy-web"), "--db", db, "--port", "0",
                                "--quiet"], stdout=subprocess.DEVNULL, stderr=log)
        port = None
        for _ in range(100):
            log.seek(0)
            t = log.read()
            if "http://127.0.0.1:" in t:
                port = int(t.split("http://127.0.0.1:")[1].split("/")[0])
                break
            time.sleep(0.1)
        stop = threading.Event()
        stats = {"ok": 0, "bad": []}
        lock = threading.Lock()

        def loop(k):
            i = k
            while not stop.is_set():
                q = QUERIES[i % len(QUERIES)]
                i += 1
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    c.request("GET", "/api/search?q=" + urllib.parse.quote(q) + "&limit=5")
                    r = c.getresponse()
                    body = r.read()
                    c.close()
                    with lock:
                        if r.status == 200:
                            stats["ok"] += 1
                        else:
                            stats["bad"].append((r.status, body[:200]))
                except Exception as e:          # noqa: BLE001
                    with lock:
                        stats["bad"].append(("exception", repr(e)))

        threads = [threading.Thread(target=loop, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        names = sorted(n for n in os.listdir(d) if n.endswith(".txt") and "gb18030" not in n)
        try:
            for rnd in range(1, 7):
                # change some documents, remove one, bring back the last
                for n in names[rnd % 3::3]:
                    p = os.path.join(d, n)
                    with open(p, "a", encoding="utf-8", errors="ignore") as f:
                        f.write("\n第%d轮改写的段落，赤峰市推进防沙治沙。\n" % rnd)
                    os.utime(p, (time.time() + rnd, time.time() + rnd))
                gone = os.path.join(d, names[rnd % len(names)])
                keep = os.path.join(tmp, "away.txt")
                if os.path.exists(gone):
                    os.rename(gone, keep)
                subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, d],
                               check=True, capture_output=True)
                if os.path.exists(keep):
                    os.rename(keep, gone)
                time.sleep(0.3)
            subprocess.run([os.path.join(BIN, "policy-index"), "--db", db, d],
                           check=True, capture_output=True)
            time.sleep(1.5)         # readers reopen within a second
        finally:
            stop.set()
            for t in threads:
                t.join()
        print("requests during 7 reindex runs: %d answered 200, %d not" % (stats["ok"], len(stats["bad"])))
        check(not stats["bad"], "non-200 responses while reindexing: %s" % stats["bad"][:3])
        if stats["bad"] or web.poll() is not None:
            log.seek(0)
            print("server log:\n" + log.read()[-3000:])
        check(stats["ok"] > 50, "too few requests to say anything: %d" % stats["ok"])
        # After the last run: the server answers like a fresh process.
        for q in QUERIES:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/search?q=" + urllib.parse.quote(q) + "&limit=0&facets=0")
            got = json.loads(c.getresponse().read())
            c.close()
            p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit",
                                "0", "--no-facets", "--", q], capture_output=True)
            want = json.loads(p.stdout)
            check(got["total"] == want["total"] and
                  sorted((h["doc"], h["passage"]) for h in got["hits"]) ==
                  sorted((h["doc"], h["passage"]) for h in want["hits"]),
                  "after reindexing, %r: server %d, fresh process %d" % (q, got["total"], want["total"]))
        web.terminate()
        web.wait()
    return report("live")


if __name__ == "__main__":
    sys.exit(main())
