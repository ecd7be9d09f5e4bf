#!/bin/sh
# Browser test: index the fixtures (plus a document full of HTML), serve
# them with policy-web on a free loopback port, drive the page with
# headless Chromium, stop the server by its PID.  Screenshots go to
# tests/artifacts/.
set -e
cd "$(dirname "$0")/../.."
: "${BIN:=$(pwd)/bin}"
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
"$BIN/policy-index" --db "$tmp/db" fixtures tests/data/meta tests/data/html-doc.txt 2>"$tmp/index.log"
set -- $(sh tools/start-web.sh "$BIN" "$tmp/db" "$tmp/web.log")
pid=$1 port=$2
mkdir -p tests/artifacts
BASE="http://127.0.0.1:$port" python3 tests/api.py "$tmp/db"
BASE="http://127.0.0.1:$port" python3 tests/hostile_http.py --seconds 15
python3 tests/slowloris.py "$tmp/db"
node tests/browser/test.mjs "http://127.0.0.1:$port" tests/artifacts
