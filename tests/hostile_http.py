#!/usr/bin/env python3
"""Hostile requests against a running server: random query strings built
from pieces users and attackers send (long Chinese values, NUL, bytes
that are not UTF-8, huge numbers, operators, paths), on every endpoint,
for a few seconds with a fixed seed.  Every request gets an answer below
500, and the server still answers /healthz at the end.  (A parameter name
cut inside a character once made its error message invalid JSON and
stopped the server within 400 such requests.)

  BASE=http://127.0.0.1:PORT hostile_http.py [--seconds N] [--seed N]
"""
import argparse
import http.client
import os
import random
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report  # noqa: E402

KEYS = ["q", "region", "sector", "unit", "min", "max", "limit", "offset", "from",
        "to", "agency", "type", "sort", "group", "doc", "facets", "budget_ms"]
PIECES = ["北京市", "赤峰", "防沙治沙", '"', "OR", "AND", "NOT", "-", "+", " ", "\u3000",
          "%", "亿", "万", "1e308", "-1", "0", "9" * 30, "\x00", "\udcff", "é", "🙂",
          "《", "》", "<", "&", "/", "..", "内蒙古", "2024-02-30", "2024", "date",
          "doc", "亩", "元"]
PATHS = ["/api/search", "/api/doc", "/api/file", "/api/export", "/"]


def piece_string(rng, most):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, most)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    base = urllib.parse.urlsplit(os.environ["BASE"])
    rng = random.Random(a.seed)
    n, codes, bad = 0, {}, []
    t0 = time.time()
    while time.time() - t0 < a.seconds and not bad:
        params = []
        for _ in range(rng.randint(0, 5)):
            k = rng.choice(KEYS) if rng.random() < 0.9 else piece_string(rng, 30)
            v = piece_string(rng, rng.choice([3, 10, 60]))
            params.append(urllib.parse.quote(k.encode("utf-8", "surrogateescape"), safe="") + "=" +
                          urllib.parse.quote(v.encode("utf-8", "surrogateescape"), safe=""))
        path = rng.choice(PATHS) + "?" + "&".join(params)
        try:
            c = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            codes[r.status] = codes.get(r.status, 0) + 1
            if r.status >= 500:
                bad.append("%d for %s" % (r.status, path[:300]))
        except (OSError, http.client.HTTPException) as e:
            bad.append("%r for %s" % (e, path[:300]))
        n += 1
    print("%d hostile requests: %s" % (n, ", ".join("%d ×%d" % kv for kv in sorted(codes.items()))))
    check(n > 0, "no request sent")
    check(not bad, "a request failed: " + (bad[0] if bad else ""))
    c = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
    try:
        c.request("GET", "/healthz")
        ok = c.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        ok = False
    check(ok, "the server no longer answers /healthz")
    return report("hostile-http")


if __name__ == "__main__":
    sys.exit(main())
