"""A tally of checks for the Python test scripts: check() records one,
printing "not ok - MESSAGE" when it fails; report() prints the totals and
returns the exit status.  Also the gazetteer, as the tests read it, and a
server started on a free port."""
import os
import subprocess
import time

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


def start_web(bin_dir, db, log, *flags, quiet=True):
    """policy-web on db at a free loopback port, its messages written to
    log (a file open for reading and writing, text): (process, port),
    port None if it did not say it listens within 30 s.  quiet: without
    the request log.  The caller stops the process."""
    w = subprocess.Popen([os.path.join(bin_dir, "policy-web"), "--db", db, "--port", "0",
                          *(["--quiet"] if quiet else []), *flags],
                         stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        log.seek(0)
        t = log.read()
        if "http://127.0.0.1:" in t:
            return w, int(t.split("http://127.0.0.1:")[1].split("/")[0])
        if w.poll() is not None:
            break
        time.sleep(0.1)
    return w, None


def stop_web(w, timeout=15):
    """Stops a server started by start_web as a user would (SIGTERM):
    True when it exits within timeout s; else it is killed, and False."""
    w.terminate()
    try:
        w.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        w.kill()
        w.wait()
        return False


def http_get(port, path, timeout=30):
    """GET path from the server on 127.0.0.1:port: (status, body)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def query_loops(n, one):
    """Starts n threads, thread k calling one(k), one(k + 1), ... (each
    a request to a server under test) until the function returned here
    is called, which stops and joins them."""
    import threading
    stop = threading.Event()

    def run(k):
        i = k
        while not stop.is_set():
            one(i)
            i += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()

    def halt():
        stop.set()
        for t in threads:
            t.join()
    return halt
