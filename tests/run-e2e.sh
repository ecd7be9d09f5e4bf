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
# The same on a 5 MB generated corpus with its GB18030, full-width and
# hard-wrapped variants; and the evaluator against a brute-force oracle
# (1,000 random query and flag pairs per corpus; 250 in the sanitizer
# build, whose every process start costs half a second).
case "$BIN" in *asan*) pairs=250 ;; *) pairs=1000 ;; esac
if [ -x ../shared/tools/gen-corpus ]; then
  gc=$(mktemp -d)
  ../shared/tools/gen-corpus --out "$gc/corpus" --mb 5 --seed 3 > /dev/null
  python3 tests/recall.py "$gc/corpus" --queries 300
  if [ -d ../shared/corpus ]; then
    python3 tests/oracle.py fixtures tests/data/meta ../shared/corpus "$gc/corpus" --pairs $pairs
  else
    python3 tests/oracle.py fixtures tests/data/meta "$gc/corpus" --pairs $pairs
  fi
  rm -rf "$gc"
else
  echo "ok - recall on a generated corpus # SKIP needs ../shared/tools/gen-corpus"
  python3 tests/oracle.py fixtures tests/data/meta --pairs $((2 * pairs))
fi
# Every document format, from one known text (tools/make-docs.py).
python3 tests/formats.py
# Reindexing while the server answers two query loops: only 200s.
python3 tests/live.py
# The same at full speed: four loops against an indexer committing as
# fast as it can, compactions and removals included (make stress runs it
# longer).  Not in the sanitizer build, whose pace would hide the races
# this is for.
case "$BIN" in *asan*) ;; *) python3 tests/stress.py --seconds 30 ;; esac
# Hostile query strings under the sanitizers (the normal build's server
# gets them in the browser test's run).
case "$BIN" in *asan*)
  hd=$(mktemp -d)
  "$BIN/policy-index" --db "$hd/db" fixtures 2>/dev/null
  set -- $(sh tools/start-web.sh "$BIN" "$hd/db" "$hd/web.log")
  hrc=0
  BASE="http://127.0.0.1:$2" python3 tests/hostile_http.py --seconds 10 || hrc=1
  kill "$1"
  for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if grep -q "ERROR: AddressSanitizer\|runtime error:" "$hd/web.log"; then
    cat "$hd/web.log"; hrc=1
  fi
  rm -rf "$hd"
  [ $hrc = 0 ] ;;
esac
# kill -9 at random moments, two indexers together: the index survives.
python3 tests/soak.py
python3 tests/numbers_gold.py
python3 tests/meta_gold.py
# Document filters, sort, grouping, number search and CSV export.
python3 tests/docfilters.py
python3 tests/facets.py
