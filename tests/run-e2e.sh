#!/bin/sh
# Runs the end-to-end and exact-recall tests against the binaries in $BIN.
set -e
cd "$(dirname "$0")/.."
: "${BIN:=$(pwd)/bin}"
export BIN
python3 tests/e2e.py
if [ -d ../shared/corpus ]; then
  python3 tests/recall.py ../shared/corpus --queries 300
else
  echo "ok - recall on ../shared/corpus # SKIP needs ../shared/corpus"
fi
python3 tests/recall.py fixtures --queries 300
python3 tests/numbers_gold.py
python3 tests/facets.py
