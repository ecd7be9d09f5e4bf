#!/usr/bin/env python3
"""Slow clients cannot shut others out: 600 connections from 127.0.0.1-4
send their request headers one byte every 5 s; throughout, a new
client's /healthz answers in under 1 s and a search is answered.  And
connections whose first request was answered and which then trickle a
second one: at most 64 stay open (keep-alive only below that many).

  slowloris.py DB     (BIN: directory of the binaries)
"""
import http.client
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report, start_web, stop_web  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
SLOW = 600
SECONDS = 24


def search_ok(port):
    """A new client's search: 1 when answered 200."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/api/search?q=%E9%98%B2%E6%B2%99&limit=1")
        ok = c.getresponse().status == 200
        c.close()
        return int(ok)
    except OSError:
        return 0


def main():
    db = sys.argv[1]
    log = tempfile.NamedTemporaryFile("w+", errors="replace", delete=False)
    web, port = start_web(BIN, db, log)
    req = b"GET /api/search?q=%E9%98%B2%E6%B2%99 HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
    socks = []
    for i in range(SLOW):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind(("127.0.0.%d" % (1 + i % 4), 0))
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append([s, 0])
    worst, answered, searched, t0 = 0.0, 0, 0, time.time()
    next_byte = t0
    while time.time() - t0 < SECONDS:
        if time.time() >= next_byte:
            for entry in socks:
                s, k = entry
                if k < len(req) - 4:            # never finish the headers
                    try:
                        s.send(req[k:k + 1])
                        entry[1] += 1
                    except OSError:
                        pass
            next_byte += 5
        h0 = time.time()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            ok = c.getresponse().status == 200
            c.close()
        except OSError:
            ok = False
        dt = time.time() - h0 if ok else 5.0
        worst = max(worst, dt)
        answered += ok
        searched += search_ok(port)
        time.sleep(0.5)
    for s, _ in socks:
        s.close()
    # Keep-alive: clients whose first request was answered and who then
    # trickle the next one (the server's idle timeout never fires) hold at
    # most KEEPALIVE_MAX (64) connections; past that, answers close.
    held = []
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=("127.0.0.%d" % (1 + i % 4), 0))
        s.sendall(b"GET /api/search?q=%E9%98%B2%E6%B2%99&limit=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while True:
            head, sep, body = reply.partition(b"\r\n\r\n")
            if sep:
                n = [int(x.split(b":")[1]) for x in head.split(b"\r\n")
                     if x.lower().startswith(b"content-length:")]
                if n and len(body) >= n[0]:
                    break
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        s.setblocking(False)
        held.append(s)
    closed, t1 = set(), time.time()
    k = 0
    served = 0
    while time.time() - t1 < 12 and len(closed) < len(held):
        for i, s in enumerate(held):
            if i in closed:
                continue
            try:
                s.send(req[k:k + 1])
                if s.recv(4096) == b"":
                    closed.add(i)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
        k = (k + 1) % (len(req) - 4)
        served += search_ok(port)
        time.sleep(2)
    for s in held:
        s.close()
    check(stop_web(web), "the server did not stop on SIGTERM")
    os.unlink(log.name)
    print("%d slow connections for %d s: /healthz answered %d times, slowest %.3f s; "
          "%d searches answered" % (len(socks), SECONDS, answered, worst, searched))
    check(worst < 1.0, "a new client waited %.2f s for /healthz" % worst)
    check(searched >= answered > 10, "searches answered %d of %d" % (searched, answered))
    print("%d keep-alive connections trickling a second request: %d closed by the server "
          "within 12 s; %d searches from a new client answered meanwhile"
          % (len(held), len(closed), served))
    check(len(held) - len(closed) <= 64, "%d of %d keep-alive connections trickling a second "
          "request still open after 12 s (at most 64 may be)" % (len(held) - len(closed), len(held)))
    check(served >= 3, "a new client's searches answered while they trickle: %d" % served)
    return report("slowloris")


if __name__ == "__main__":
    sys.exit(main())
