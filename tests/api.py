#!/usr/bin/env python3
"""HTTP API tests against a running policy-web ($BASE) serving DB.

Same JSON as the CLI for the same query and filters, 400 with a JSON error
for bad parameters, 404 for unknown documents and traversal attempts,
escaped HTML in snippets, security headers.

  BASE=http://127.0.0.1:PORT api.py DB      (BIN: directory of binaries)
"""
import http.client
import json
import os
import subprocess
import sys
import urllib.parse

BASE = os.environ["BASE"]
BIN = os.environ.get("BIN", "bin")
DB = sys.argv[1]
host, port = urllib.parse.urlparse(BASE).netloc.split(":")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, report, start_web, stop_web  # noqa: E402


def get(path):
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), body


def api(path):
    status, headers, body = get(path)
    return status, json.loads(body) if body else None, headers


def strip(res):
    res = dict(res)
    res.pop("took_ms", None)
    return res


def cli(query, *flags):
    p = subprocess.run([os.path.join(BIN, "policy-search"), "--db", DB, "--json", *flags,
                        "--", query], capture_output=True)
    return json.loads(p.stdout)


cases = [
    ("防沙治沙", []),
    ('"新能源"', [("region", "鄂尔多斯"), ("region", "包头市")]),
    ("", [("sector", "能源"), ("unit", "千瓦"), ("min", "100万"), ("max", "1亿")]),
    ("肉牛 OR 奶业", [("limit", "3"), ("offset", "1")]),
]
for q, params in cases:
    qs = urllib.parse.urlencode([("q", q)] + params)
    status, res, headers = api("/api/search?" + qs)
    flags = []
    for k, v in params:
        flags += ["--" + k, v]
    check(status == 200, "search %r: status %d" % (q, status))
    check(strip(res) == strip(cli(q, *flags)), "API and CLI differ for %r %s" % (q, params))
    check(headers.get("content-type", "").startswith("application/json"), "JSON content type")
    check(headers.get("x-content-type-options") == "nosniff", "nosniff header")

# facets=0 skips counting but not the hits or the exact total.
status, with_f, _ = api("/api/search?q=" + urllib.parse.quote("新能源") + "&offset=2")
status0, without, _ = api("/api/search?q=" + urllib.parse.quote("新能源") + "&offset=2&facets=0")
check(status0 == 200 and without["total"] == with_f["total"] and without["hits"] == with_f["hits"]
      and without["facets"]["region"] == [] and with_f["facets"]["region"],
      "facets=0: same hits and total, no facet counts")

bad = [
    "/api/search?facets=2",
    "/api/search?q=%ff%fe",
    "/api/search?limit=-1",
    "/api/search?limit=abc",
    "/api/search?offset=-5",
    "/api/search?unit=%E4%BA%A9&min=abc",
    "/api/search?unit=%E4%BA%A9&min=10&max=1",
    "/api/search?q=%22unclosed",
    "/api/search?region=%E7%81%AB%E6%98%9F",
    "/api/search?sector=%E4%B8%8D%E5%AD%98%E5%9C%A8",
    # Quoted in the message, cut at a whole character (cut inside one,
    # the message was not UTF-8 and the server fell over writing it).
    "/api/search?region=" + urllib.parse.quote("北京市" * 30),
    "/api/search?sector=" + urllib.parse.quote("生态环保" * 30),
    "/api/search?type=" + urllib.parse.quote("通知" * 30),
    "/api/search?sort=" + urllib.parse.quote("日期" * 30),
    "/api/search?" + urllib.parse.quote("参数" * 20) + "=%E9%98%B2%00",
]
for path in bad:
    status, res, _ = api(path)
    check(status == 400 and isinstance(res, dict) and res.get("error"),
          "bad request %s: %d %s" % (path[:60], status, res))

# A request longer than the server reads: answered at once, in JSON,
# naming the parameter (and the connection is not reset before the
# answer can be read).
status, res, _ = api("/api/search?q=" + "%E9%98%B2" * (100 * 1024 // 9))
check(status == 414 and "parameter q is too long" in res.get("error", ""),
      "100 KB query: %d %s" % (status, res))
status, res, _ = api("/api/search?q=%E9%98%B2&" + "a" * 20000 + "=1")
check(status == 414 and "too long" in res.get("error", ""),
      "20 KB parameter name: %d %s" % (status, res))

status, res, _ = api("/api/doc?doc=no-such-doc.txt")
check(status == 404 and res.get("error"), "unknown doc 404")
status, res, _ = api("/api/doc?doc=chifeng-sand-control-2025.md")
check(status == 200 and len(res["passages"]) > 3 and res["passages"][0]["passage"] == 0,
      "doc view lists passages in order")

# The document view marks every occurrence of the query, as written.
status, res, _ = api("/api/doc?doc=zhangjiakou-rural-revitalization-traditional.txt&q="
                     + urllib.parse.quote('"乡村振兴"'))
marked = [p for p in (res or {}).get("passages", []) if "<mark>" in p.get("snippet", "")]
check(status == 200 and len(marked) >= 2 and all("<mark>鄉村振興</mark>" in p["snippet"] for p in marked),
      "doc view with q: every occurrence marked on the Traditional source: %s" % marked[:1])

# What a file says of itself is kept: the web page's metadata table.
status, res, _ = api("/api/doc?doc=" + urllib.parse.quote("documents/chifeng-sand-pv-plan-2025.html"))
src = ((res or {}).get("file") or {}).get("source") or {}
check(status == 200 and src.get("发文字号") == "赤政办发〔2025〕18号" and src.get("发文机关") == "赤峰市人民政府办公室"
      and res["file"].get("format") == "html", "web page metadata kept: %s" % (res or {}).get("file"))

# The original file: its bytes, type and name; nothing else.
status, headers, body = get("/api/file?doc=" + urllib.parse.quote("bayannur-irrigation-2024-gb18030.txt"))
src = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "bayannur-irrigation-2024-gb18030.txt"), "rb").read()
check(status == 200 and body == src, "/api/file returns the file's bytes (%d)" % status)
check(headers.get("content-type") == "text/plain; charset=GB18030", "type %s" % headers.get("content-type"))
cd = headers.get("content-disposition", "")
check(cd.startswith("attachment;") and "filename*=UTF-8''bayannur-irrigation-2024-gb18030.txt" in cd, cd)
check(headers.get("content-security-policy") == "sandbox", "indexed files are served sandboxed")
status, headers, body = get("/api/file?doc=" + urllib.parse.quote("张家口/../../etc/passwd"))
check(status == 404 and b"root:" not in body, "/api/file of an unknown document: %d" % status)
status, _, _ = get("/api/file")
check(status == 400, "/api/file without doc: %d" % status)

for path in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/../../etc/passwd",
             "/..%2f..%2fetc%2fpasswd", "/fixtures/", "/web/static/app.js%00.html"]:
    status, _, body = get(path)
    check(status == 404 and b"root:" not in body, "traversal %s: %d" % (path, status))

status, res, _ = api("/api/search?q=" + urllib.parse.quote("脚本注入测试"))
snip = res["hits"][0]["snippet"] if res and res["hits"] else ""
check("<script>" not in snip and "&lt;script&gt;" in snip and "<img" not in snip,
      "HTML in documents is escaped in snippets: " + snip[:120])

# Hostile parameters: NUL, too many, a request body; limit=0 is capped.
status, res, _ = api("/api/search?q=" + urllib.parse.quote("发") + "%00abc")
check(status == 400 and "NUL" in (res or {}).get("error", ""), "NUL in q: %d %s" % (status, res))
status, res, _ = api("/api/search?" + "&".join("p%d=1" % i for i in range(300)))
check(status == 400 and "query parameters" in (res or {}).get("error", ""), "300 parameters: %d" % status)
import socket
import time as _time
t0 = _time.time()
s5 = socket.create_connection((host, int(port)), timeout=10)
s5.sendall(("GET /api/search?" + "&".join("x%d=1" % i for i in range(5000)) +
            " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode())
reply = b""
try:
    while True:
        chunk = s5.recv(65536)
        if not chunk:
            break
        reply += chunk
except socket.timeout:
    pass
s5.close()
check(reply.startswith(b"HTTP/1.1 4") and _time.time() - t0 < 5,
      "5,000 parameters: %r after %.1f s" % (reply[:40], _time.time() - t0))
t0 = _time.time()
s6 = socket.create_connection((host, int(port)), timeout=10)
s6.sendall(b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n" + b"x" * 65536)
head = s6.recv(4096)
s6.close()
check(head.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD" in head and _time.time() - t0 < 3,
      "POST with a 100 MB body: %r" % head[:120])
status, res, _ = api("/api/search?q=" + urllib.parse.quote('"的"') + "&limit=0")
check(status == 200 and len(res["hits"]) <= 1000 and res.get("limit_capped") is True and
      "1000" in res.get("message", ""), "limit=0 is capped with a message")

# The request log escapes control characters: no forged lines.
import tempfile as _tf
logf = _tf.NamedTemporaryFile("w+", encoding="utf-8", errors="replace", delete=False)
w, wport = start_web(BIN, DB, logf, quiet=False)
c = http.client.HTTPConnection("127.0.0.1", wport, timeout=10)
c.request("GET", "/api/search?q=" + urllib.parse.quote("防沙\nforged 200 OK \x1b[31m"))
c.getresponse().read()
c.close()
_time.sleep(0.3)
check(stop_web(w), "the logging server did not stop on SIGTERM")
log = open(logf.name, encoding="utf-8", errors="replace").read()
os.unlink(logf.name)
check("\nforged" not in log and "\x1b" not in log and "\\x0Aforged" in log,
      "log lines escape control characters: %r" % log[-200:])

status, headers, body = get("/")
check(status == 200 and "default-src 'self'" in headers.get("content-security-policy", ""),
      "page has a Content-Security-Policy")
check(headers.get("content-type", "").startswith("text/html"), "page is text/html")
status, _, _ = get("/healthz")
check(status == 200, "healthz")
status, _, body = get("/api/status")
st = json.loads(body) if status == 200 else {}
status, _, body = get("/api/search?q=&limit=1&facets=0")
check(st.get("facet_index") is True and isinstance(st.get("state"), int) and
      st.get("shards", 0) >= 1 and st.get("passages") == json.loads(body)["total"] > 0,
      "/api/status: %s" % st)
pc, rc = st.get("postings") or {}, st.get("records") or {}
check(pc.get("cap") == 96 << 20 and rc.get("cap") == 32 << 20 and
      all(isinstance(c.get(k), int) and c[k] >= 0 for c in (pc, rc)
          for k in ("entries", "bytes", "hits", "misses", "evictions")) and
      pc["bytes"] <= pc["cap"] and 0 < rc["bytes"] <= rc["cap"] and rc["hits"] > 0,
      "/api/status tells what the read caches hold: %s %s" % (pc, rc))

# Documents indexed while the server runs show up without a restart (the
# indexer also compacts the shard it wrote, replacing its files).
import tempfile
import time
extra = tempfile.mkdtemp()
# Asked before the document exists, and answered twice (the second from
# the kept answers): after the commit the kept answer is not given.
for _ in range(2):
    status, res, _ = api("/api/search?q=" + urllib.parse.quote('"热更新检验段落"'))
    check(status == 200 and res["total"] == 0, "not there yet: %s" % res.get("total"))
open(os.path.join(extra, "late.txt"), "w", encoding="utf-8").write("运行中追加的文件：热更新检验段落。\n")
subprocess.run([os.path.join(BIN, "policy-index"), "--db", DB, extra], capture_output=True, check=True)
time.sleep(1.5)
found = 0
for _ in range(4):          # one request per server thread at least
    status, res, _ = api("/api/search?q=" + urllib.parse.quote('"热更新检验段落"'))
    found += status == 200 and res["total"] == 1
    if not (status == 200 and res["total"] == 1):
        print("  late document:", status, res.get("total"), res.get("error"))
check(found == 4, "a document indexed while serving is found by every worker (%d of 4)" % found)
status, res, _ = api("/api/search?q=" + urllib.parse.quote('"防沙治沙"'))
check(status == 200 and res["total"] >= 1, "older documents still found after the update")

sys.exit(report("api"))
