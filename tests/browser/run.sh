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
"$BIN/policy-index" --db "$tmp/db" fixtures tests/data/html-doc.txt 2>"$tmp/index.log"
"$BIN/policy-web" --db "$tmp/db" --port 0 --quiet 2>"$tmp/web.log" &
pid=$!
port=""
for i in $(seq 1 50); do
  port=$(sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$tmp/web.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "policy-web did not start:"; cat "$tmp/web.log"; exit 1; }
mkdir -p tests/artifacts
BASE="http://127.0.0.1:$port" python3 tests/api.py "$tmp/db"
node tests/browser/test.mjs "http://127.0.0.1:$port" tests/artifacts
