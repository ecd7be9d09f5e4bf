"""A tally of checks for the Python test scripts: check() records one,
printing "not ok - MESSAGE" when it fails; report() prints the totals and
returns the exit status."""

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
