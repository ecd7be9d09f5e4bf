#!/usr/bin/env python3
"""The query evaluator against a brute-force oracle.

Indexes a corpus, lists every stored passage (an empty query lists them
in docid order), and answers random (query, flags) pairs twice: through
policy-search (a batch, with the in-memory facet index; the same batch
twice keeping the strings' passage lists, as a server does; and one-off
processes, reading the database) and by scanning the passages here.  The
oracle knows the contract's semantics, not the engine's code: a string
matches a passage that contains it (normalized, `--normalize`); items in
a group are ORed, groups ANDed, `-` excludes; unquoted items of several
words need each word and rank the passages holding the whole string
first; BM25 over character lengths ranks, equal scores in listing order
(document, then passage); region
filters take a region with its subdivisions, a value range needs one
mention of the unit within it; facets count every matching passage.
Document filters read each passage's document metadata (its "meta" as
listed): a date range keeps documents whose date (else published date),
as the span it names (2024 is all of 2024), lies within it; an agency is
its exact name when indexed, else every agency containing it; `--sort
date` orders by that date (newest first, undated last) before tiers and
scores; `--group doc` keeps each document's best passage, totals and
facets count documents.
The words of unquoted items come from `--explain` (the word breaker is
not what is tested here).

Hits (order, page), totals, scores and facets must be identical; pages
whose order differs only between scores equal to 1e-9 are counted apart
(floating point sums may differ in the last bit) and must stay rare.

  oracle.py CORPUS... [--pairs N] [--seed S]     (BIN: directory of binaries)
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, gazetteer, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
K1, B = 1.2, 0.75
EPS = 1e-9


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True)
    if p.returncode not in (0,):
        raise AssertionError("%s: exit %d: %s" % (args[:4], p.returncode, p.stderr.decode()[-300:]))
    return p.stdout


class Index:
    def __init__(self, db):
        self.db = db
        out = run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--limit", "0",
                   "--no-facets", ""])
        self.p = json.loads(out)["hits"]          # docid order
        normed = run([os.path.join(BIN, "policy-search"), "--normalize"],
                     "".join(h["text"].replace("\n", " ") + "\n" for h in self.p).encode())
        self.text = normed.decode().split("\n")[:len(self.p)]
        names, parent = gazetteer()
        self.names = names
        self.parent = parent
        self.codes = []
        self.units = []
        for h in self.p:
            cs = set()
            for c in h.get("region_codes", []):
                while c:
                    cs.add(c)
                    c = parent.get(c, "")
            self.codes.append(cs)
            self.units.append({m["unit"] for m in h["numbers"] if m["unit"]})
        self.meta = [h.get("meta") or {} for h in self.p]
        self.dates = [date_code(m.get("date") or m.get("published") or "") for m in self.meta]
        self.docs = [h["doc"] for h in self.p]
        lens = [len(t) for t in self.text]
        live = [n for n in lens if n]
        self.avglen = sum(live) / len(live) if live else 1.0
        self.lens = lens
        self.N = len(self.p)
        self.df_cache = {}

    def bm25(self, needle):
        """Weight of needle in each passage (None where absent)."""
        if needle in self.df_cache:
            return self.df_cache[needle]
        tfs = []
        for t in self.text:
            n, i = 0, t.find(needle)
            while i >= 0:
                n += 1
                i = t.find(needle, i + 1)
            tfs.append(n)
        df = sum(1 for x in tfs if x)
        N = max(self.N, df)
        idf = math.log(1.0 + (N - df + 0.5) / (df + 0.5))
        w = []
        for tf, ln in zip(tfs, self.lens):
            if not tf:
                w.append(None)
                continue
            length = ln if ln else self.avglen
            w.append(idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / self.avglen)))
        self.df_cache[needle] = w
        return w

    def answer(self, plan, flags):
        items = plan["items"]
        groups = {}
        for it in items:
            groups.setdefault(it["group"], []).append(it)
        positive = [g for k, g in sorted(groups.items()) if not g[0]["negated"]]
        negative = [g for k, g in sorted(groups.items()) if g[0]["negated"]]
        wholes = [g[0]["whole"] for g in positive if len(g) == 1 and g[0]["whole"]]
        base = {}
        for i in range(self.N):
            total = 0.0 if not positive else None
            ok = True
            for g in positive:
                gw = None
                for it in g:
                    mw = None
                    for m in it["must"]:
                        x = self.bm25(m)[i]
                        if x is None:
                            mw = None
                            break
                        mw = x if mw is None else mw + x
                    if mw is not None:
                        gw = mw if gw is None else gw + mw
                if gw is None:
                    ok = False
                    break
                total = gw if total is None else total + gw
            if not ok:
                continue
            if any(self.bm25(it["must"][0])[i] is not None for g in negative for it in g):
                continue
            if not self.passes(i, flags):
                continue
            base[i] = total
        tier = {i: 0 if not wholes or all(self.bm25(w)[i] is not None for w in wholes) else 1
                for i in base}
        sort = flags.get("sort", 0)

        def key(i):
            d = self.dates[i]
            dk = (0, -d * sort) if sort and d else (1 if sort else 0, 0)
            return (dk, tier[i], -base[i], i)
        order = sorted(base, key=key)
        if flags.get("group"):
            best, count = {}, {}
            for i in order:
                best.setdefault(self.docs[i], i)
                count[self.docs[i]] = count.get(self.docs[i], 0) + 1
            return base, sorted(best.values(), key=key), count
        return base, order, None

    def passes(self, i, f):
        if f.get("regions"):
            if not (self.codes[i] & f["region_codes"]):
                return False
        if f.get("sectors"):
            if not (set(self.p[i]["sectors"]) & set(f["sectors"])):
                return False
        if f.get("unit"):
            u = f["unit"]
            if "min" not in f and "max" not in f:
                if u not in self.units[i]:
                    return False
            else:
                lo = f.get("min", -math.inf)
                hi = f.get("max", math.inf)
                if not any(k < 48 and m["unit"] == u and m["value"] is not None and
                           lo <= m["value"] <= hi
                           for k, m in enumerate(self.p[i]["numbers"])):
                    return False
        if "from" in f:
            d = self.dates[i]
            if not d or d < f["from"] or date_end(d) > f["to"]:
                return False
        m = self.meta[i]
        if "agencies" in f and not set(m.get("agency", [])) & f["agencies"]:
            return False
        if "types" in f and m.get("type") not in f["types"]:
            return False
        return True

    def facets(self, hits, group=False):
        reg, sec, unit, ag, ty, yr = {}, {}, {}, {}, {}, {}
        seen = set()

        def bump(d, k, doc):
            if group:
                if (id(d), k, doc) in seen:
                    return
                seen.add((id(d), k, doc))
            d[k] = d.get(k, 0) + 1
        for i in hits:
            doc = self.docs[i]
            for c in self.codes[i]:
                bump(reg, c, doc)
            for s in self.p[i]["sectors"]:
                bump(sec, s, doc)
            for u in self.units[i]:
                bump(unit, u, doc)
            m = self.meta[i]
            for a in m.get("agency", []):
                bump(ag, a, doc)
            if m.get("type"):
                bump(ty, m["type"], doc)
            d = m.get("date") or m.get("published")
            if d:
                bump(yr, d[:4], doc)

        def order(d):
            return sorted(d.items(), key=lambda kv: (-kv[1], kv[0].encode()))
        return ([(self.names.get(c), n, c) for c, n in order(reg) if c in self.names],
                [(v, n) for v, n in order(sec)], [(v, n) for v, n in order(unit)],
                [(v, n) for v, n in order(ag)], [(v, n) for v, n in order(ty)],
                sorted(yr.items(), reverse=True))


def date_code(s):
    """YYYYMMDD with 00 for what the date leaves out; 0 for none."""
    parts = s.split("-") if s else []
    if not parts or not parts[0].isdigit() or len(parts[0]) != 4:
        return 0
    y = int(parts[0])
    m = int(parts[1]) if len(parts) > 1 else 0
    d = int(parts[2]) if len(parts) > 2 else 0
    return y * 10000 + m * 100 + d


def date_end(c):
    if c % 100 == 0:
        c += 99
    if c // 100 % 100 == 0:
        c += 9900
    return c


def random_queries(ix, rng, n):
    """Strings that occur (and some that do not), in every query form."""
    def piece(lo, hi):
        for _ in range(100):
            t = ix.text[rng.randrange(ix.N)]
            k = rng.randint(lo, hi)
            if len(t) < k:
                continue
            j = rng.randrange(0, len(t) - k + 1)
            s = t[j:j + k]
            if s.strip() == s and not set(s) & set('"\u201c\u201d\uff02-() ') and "OR" not in s:
                return s
        return "发展"
    forms = [
        lambda: '"%s"' % piece(1, 6),
        lambda: piece(2, 8),
        lambda: "%s %s" % (piece(1, 4), piece(1, 4)),
        lambda: '"%s" OR "%s"' % (piece(2, 4), piece(2, 4)),
        lambda: "%s -%s" % (piece(2, 4), piece(1, 2)),
        lambda: '"%s" -"%s" %s' % (piece(1, 3), piece(1, 3), piece(2, 5)),
        lambda: "-%s" % piece(1, 2),
        lambda: "",
        lambda: '"%s"' % "龘靐齉",
    ]
    return [rng.choice(forms)() for _ in range(n)]


def random_flags(ix, rng):
    f, args = {}, []
    r = rng.random()
    present = sorted({c for cs in ix.codes for c in cs})
    name_count = {}
    for nm in ix.names.values():
        name_count[nm] = name_count.get(nm, 0) + 1
    unique = [c for c in present if name_count.get(ix.names.get(c), 0) == 1]
    if r < 0.3 and unique:
        cs = rng.sample(unique, min(len(unique), rng.randint(1, 2)))
        f["regions"] = [ix.names[c] for c in cs]
        f["region_codes"] = set(cs)
        for c in cs:
            args += ["--region", ix.names[c]]
    if rng.random() < 0.25:
        secs = sorted({s for h in ix.p for s in h["sectors"]})
        if secs:
            ss = rng.sample(secs, min(len(secs), rng.randint(1, 2)))
            f["sectors"] = ss
            for s in ss:
                args += ["--sector", s]
    if rng.random() < 0.4:
        ms = [m for h in ix.p for m in h["numbers"] if m["unit"] and m["value"] is not None]
        if ms:
            m = rng.choice(ms)
            f["unit"] = m["unit"]
            args += ["--unit", m["unit"]]
            if rng.random() < 0.7:
                # bounds equal to a stored value half the time: inclusive
                lo = m["value"] * rng.choice([0.5, 1, 1])
                hi = m["value"] * rng.choice([1, 1, 10])
                lo, hi = min(lo, hi), max(lo, hi)
                if rng.random() < 0.8:
                    f["min"] = lo
                    args += ["--min", repr(float(lo))]
                if rng.random() < 0.8:
                    f["max"] = hi
                    args += ["--max", repr(float(hi))]
    # document filters, from the metadata the passages list
    dated = sorted({m.get("date") or m.get("published") for m in ix.meta} - {None})
    if dated and rng.random() < 0.3:
        a, b = sorted(rng.sample(dated, 2) if len(dated) > 1 else dated * 2)
        a = a[:rng.choice([4, 7, 10])]
        b = b[:rng.choice([4, 7, 10])]
        if date_code(a) <= date_end(date_code(b)):
            f["from"], f["to"] = date_code(a), date_end(date_code(b))
            args += ["--from", a, "--to", b]
    agencies = sorted({a for m in ix.meta for a in m.get("agency", [])})
    if agencies and rng.random() < 0.25:
        name = rng.choice(agencies)
        if rng.random() < 0.4 and len(name) > 4 and not name[:3].endswith("政府"):
            name = name[:3]         # a short form: every agency containing it
        f["agencies"] = {a for a in agencies if a == name} or {a for a in agencies if name in a}
        args += ["--agency", name]
    types = sorted({m["type"] for m in ix.meta if m.get("type")})
    if types and rng.random() < 0.2:
        ts = rng.sample(types, min(len(types), rng.randint(1, 2)))
        f["types"] = set(ts)
        for t in ts:
            args += ["--type", t]
    r = rng.random()
    if r < 0.3:
        f["sort"] = rng.choice([1, -1])
        args += ["--sort", "date" if f["sort"] > 0 else "-date"]
    if rng.random() < 0.3:
        f["group"] = True
        args += ["--group", "doc"]
    limit = rng.choice([10, 10, 3, 0])
    offset = rng.choice([0, 0, 2, 15])
    args += ["--limit", str(limit), "--offset", str(offset)]
    f["limit"], f["offset"] = limit, offset
    if rng.random() < 0.2:
        args.append("--no-facets")
        f["no_facets"] = True
    return f, args


def compare(ix, q, plan, f, got, stats, where):
    base, order, count = ix.answer(plan, f)
    page = order[f["offset"]:] if f["limit"] == 0 else order[f["offset"]:f["offset"] + f["limit"]]
    key = {(h["doc"], h["passage"]): i for i, h in enumerate(ix.p)}
    want = [(ix.p[i]["doc"], ix.p[i]["passage"]) for i in page]
    have = [(h["doc"], h["passage"]) for h in got["hits"]]
    stats["pairs"] += 1
    what = "%s %r %s" % (where, q, {k: v for k, v in f.items() if k != "region_codes"})
    ntotal = len(order) if count is not None else len(base)
    if got["total"] != ntotal:
        stats["bad"].append("%s: total %d, oracle %d" % (what, got["total"], ntotal))
        return
    if count is not None:
        for h in got["hits"]:
            if h.get("passages") != count.get(h["doc"]):
                stats["bad"].append("%s: %s has %s matching passages, oracle %s"
                                    % (what, h["doc"], h.get("passages"), count.get(h["doc"])))
                return
    if have != want:
        # the same passages in an order that differs only between equal scores?
        ids = [key.get(x) for x in have]
        near = (None not in ids and sorted(ids) == sorted(page) and
                all(abs(base[a] - base[b]) <= EPS * max(1.0, abs(base[a]))
                    for a, b in zip(ids, page) if a != b))
        if near:
            stats["near"] += 1
        else:
            stats["bad"].append("%s: hits %s, oracle %s" % (what, have[:5], want[:5]))
            return
    for h in got["hits"]:
        i = key[(h["doc"], h["passage"])]
        if abs(h["score"] - base[i]) > 0.0015:
            stats["bad"].append("%s: score %s, oracle %.4f" % (what, h["score"], base[i]))
            return
    if not f.get("no_facets"):
        want_f = ix.facets(base, count is not None)
        gf = got["facets"]
        have_f = ([(x["value"], x["count"], x["code"]) for x in gf["region"]],) + tuple(
            [(x["value"], x["count"]) for x in gf[k]]
            for k in ("sector", "unit", "agency", "type", "year"))
        for name, h, w in zip(("region", "sector", "unit", "agency", "type", "year"),
                              have_f, want_f):
            if h != w:
                stats["bad"].append("%s: %s facet differs: %s vs oracle %s" % (what, name, h[:3], w[:3]))
                return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="+")
    ap.add_argument("--pairs", type=int, default=1000, help="per corpus")
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    total = {"pairs": 0, "near": 0, "bad": []}
    for corpus in a.corpus:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "db")
            run([os.path.join(BIN, "policy-index"), "--db", db, "--jobs", "2", corpus])
            ix = Index(db)
            stats = {"pairs": 0, "near": 0, "bad": []}
            nsets = 25
            per = a.pairs // nsets
            for _ in range(nsets):
                f, args = random_flags(ix, rng)
                qs = random_queries(ix, rng, per)
                # An unquoted item of several words ORed with its own last
                # word: the word is matched inside the item among the
                # passages of the words before it, and alone in full.
                src = "".join(q + "\n" for q in qs).encode()
                ex = [json.loads(x) for x in run([os.path.join(BIN, "policy-search"), "--db", db,
                                                  "--explain", "--batch", "-"], src).splitlines()]
                for q, plan in list(zip(qs, ex)):
                    its = plan.get("items") or []
                    if len(its) == 1 and len(its[0]["must"]) >= 2 and len(qs) < per + 4:
                        w = its[0]["must"][-1]
                        qs.append("%s OR %s" % (q, w) if rng.random() < 0.5 else "%s OR %s" % (w, q))
                src = "".join(q + "\n" for q in qs).encode()
                plans = [json.loads(x) for x in run([os.path.join(BIN, "policy-search"), "--db", db,
                                                     "--explain", "--batch", "-"], src).splitlines()]
                out = run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--batch", "-",
                           *args], src).splitlines()
                for q, plan, line in zip(qs, plans, out):
                    compare(ix, q, plan, f, json.loads(line), stats, "batch")
                # The same batch twice with every passage list kept (as a
                # server keeps them): the second time each string's list is
                # the one kept, narrowed to this query's filters.
                out = run([os.path.join(BIN, "policy-search"), "--db", db, "--json", "--batch", "-",
                           "--postings-mb", "64", *args], src + src).splitlines()
                for q, plan, line in zip(qs + qs, plans + plans, out):
                    compare(ix, q, plan, f, json.loads(line), stats, "batch, lists kept")
                # a few one-off processes: filters and counts read from the database
                for q, plan in list(zip(qs, plans))[:2]:
                    got = json.loads(run([os.path.join(BIN, "policy-search"), "--db", db, "--json",
                                          *args, "--", q]))
                    compare(ix, q, plan, f, got, stats, "one-off")
            print("%s: %d passages, %d (query, flags) pairs, %d differ, %d equal-score orders"
                  % (corpus, ix.N, stats["pairs"], len(stats["bad"]), stats["near"]))
            for b in stats["bad"][:8]:
                print("  " + b)
            for k in ("pairs", "near"):
                total[k] += stats[k]
            total["bad"] += stats["bad"]
    check(not total["bad"], "%d of %d pairs differ from the oracle" % (len(total["bad"]), total["pairs"]))
    check(total["near"] * 100 <= total["pairs"],
          "%d pairs ordered differently between equal scores" % total["near"])
    check(total["pairs"] >= a.pairs * len(a.corpus) * 0.9, "too few pairs: %d" % total["pairs"])
    return report("oracle")


if __name__ == "__main__":
    sys.exit(main())
