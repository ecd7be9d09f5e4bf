#!/bin/sh
# make bench: indexing throughput, index size, peak RSS, query latency
# (median, p95) plain, filtered and faceted, and an HTTP load test, on a
# corpus from ../shared/tools/gen-corpus (default 50 MB, --seed 7
# --utf8-only; BENCH_MB overrides the size).
set -e
cd "$(dirname "$0")/.."
: "${BIN:=$(pwd)/bin}"
MB=${BENCH_MB:-50}
GEN=../shared/tools/gen-corpus
if [ ! -x "$GEN" ]; then
  echo "bench: SKIP, needs $GEN (the shared tools beside this checkout)"
  exit 0
fi
dir=build/bench
corpus=$dir/corpus-$MB
mkdir -p "$dir"
if [ ! -f "$corpus/MANIFEST.tsv" ]; then
  rm -rf "$corpus"
  "$GEN" --out "$corpus" --mb "$MB" --seed 7 --utf8-only
fi
text_bytes=$(du -sb --exclude=MANIFEST.tsv "$corpus" | cut -f1)
echo "corpus: $corpus, $(ls "$corpus" | wc -l) files, $((text_bytes / 1000000)) MB"

# Each indexing run three times: a shared VM's speed drifts by a third
# within minutes, so the spread is part of the figure.
index_runs() {
  label=$1 db=$2; shift 2
  for i in 1 2 3; do
    rm -rf "$db"
    "$BIN/policy-index" --db "$db" "$@" "$corpus" 2>&1 | tail -1 | sed "s/^/$label run $i: /"
  done | tee "$dir/runs.txt"
  sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p' "$dir/runs.txt" | sort -n |
    awk -v l="$label" '{v[NR]=$1} END {printf "%s: median %.2f MB/s, best %.2f MB/s over %d runs\n", l, v[int((NR+1)/2)], v[NR], NR}'
}
index_runs "index --jobs 1" "$dir/db-j1" --jobs 1
index_runs "index --jobs 2" "$dir/db-j2" --jobs 2
index_runs "index --jobs 2 --no-facets" "$dir/db-nofacets" --jobs 2 --no-facets
rm -rf "$dir/db-nofacets"
db=$dir/db-j2
idx_bytes=$(du -sb "$db" | cut -f1)
echo "index size: $((idx_bytes / 1000000)) MB = $(awk "BEGIN{printf \"%.2f\", $idx_bytes/$text_bytes}") x text"

q=bench/queries.txt
grep '^"' $q > "$dir/quoted.txt"
grep -v '^"' $q > "$dir/unquoted.txt"
# Warm the page cache, then measure.
"$BIN/policy-search" --db "$db" --batch $q --json > /dev/null
for i in 1 2 3; do cat "$dir/quoted.txt"; done > "$dir/quoted3.txt"
for i in 1 2 3; do cat "$dir/unquoted.txt"; done > "$dir/unquoted3.txt"
"$BIN/policy-search" --db "$db" --batch "$dir/quoted3.txt" --no-facets | python3 bench/stats.py "quoted, top 10 + exact total"
"$BIN/policy-search" --db "$db" --batch "$dir/unquoted3.txt" --no-facets | python3 bench/stats.py "unquoted, top 10 + exact total"
"$BIN/policy-search" --db "$db" --batch "$dir/quoted3.txt" | python3 bench/stats.py "quoted, top 10 + facets"
"$BIN/policy-search" --db "$db" --batch "$dir/unquoted3.txt" | python3 bench/stats.py "unquoted, top 10 + facets"
"$BIN/policy-search" --db "$db" --batch "$dir/quoted3.txt" --region 赤峰市 | python3 bench/stats.py "quoted + --region 赤峰市"
"$BIN/policy-search" --db "$db" --batch "$dir/quoted3.txt" --sector 工业 --sector 能源 | python3 bench/stats.py "quoted + 2 sectors"
"$BIN/policy-search" --db "$db" --batch "$dir/quoted3.txt" --unit 元 --min 1亿 --max 10亿 | python3 bench/stats.py "quoted + 元 in [1亿, 10亿]"
printf '\n\n\n' | "$BIN/policy-search" --db "$db" --batch - --unit 亩 --min 100万 --max 500万 | python3 bench/stats.py "filter only: 亩 in [100万, 500万]"

# HTTP load test.
set -- $(sh tools/start-web.sh "$BIN" "$db" "$dir/web.log")
pid=$1 port=$2
trap 'kill $pid 2>/dev/null' EXIT
wrk -t2 -c16 -d10s -s bench/wrk.lua "http://127.0.0.1:$port" | grep '^wrk:'
kill $pid; trap - EXIT
