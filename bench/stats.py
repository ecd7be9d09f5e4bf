#!/usr/bin/env python3
"""Reads policy-search --batch output on stdin; prints took_ms median, p95
and p99.
  stats.py LABEL"""
import json
import sys

ts = sorted(json.loads(l)["took_ms"] for l in sys.stdin if l.strip())
if not ts:
    sys.exit("stats: no results")
pick = lambda q: ts[min(len(ts) - 1, int(q * len(ts)))]
print("%-34s %4d queries  median %.3f ms  p95 %.3f ms  p99 %.3f ms  max %.3f ms"
      % (sys.argv[1], len(ts), pick(0.5), pick(0.95), pick(0.99), ts[-1]))
