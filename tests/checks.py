"""A tally of checks for the Python test scripts: check() records one,
printing "not ok - MESSAGE" when it fails; report() prints the totals and
returns the exit status.  Also the gazetteer, as the tests read it."""
import os

counts = {"passed": 0, "failed": 0}


def check(cond, msg):
    if cond:
        counts["passed"] += 1
    else:
        counts["failed"] += 1
        print("not ok - " + msg)


def report(name):
    print("%s: %d checks passed, %d failed" % (name, counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


def gazetteer():
    """data/regions.tsv: code -> name, code -> parent code."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    names, parent = {}, {}
    for line in open(os.path.join(root, "data", "regions.tsv"), encoding="utf-8"):
        if line.startswith("#"):
            continue
        code, name, par, _ = line.rstrip("\n").split("\t")
        names[code] = name
        parent[code] = par
    return names, parent
