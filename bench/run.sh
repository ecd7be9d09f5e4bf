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

# Document readers: one known text as each format, 30 times over (about
# 60 PDF pages), read by policy-extract; OCR on the 2-page scanned copy.
docs=$dir/docs
rm -rf "$docs"
if [ -x /usr/bin/chromium ] && command -v pdftoppm >/dev/null 2>&1; then
  python3 tools/make-docs.py "$docs" --repeat 30 >/dev/null
  python3 tools/make-docs.py "$docs/small" >/dev/null
  for f in plan.html plan.docx plan.ofd plan.pdf; do
    python3 - "$BIN/policy-extract" "$docs/$f" <<'PY'
import json, os, subprocess, sys, time
exe, path = sys.argv[1], sys.argv[2]
best = 1e9
for _ in range(3):
    t0 = time.time()
    out = subprocess.run([exe, path], capture_output=True, check=True).stdout
    best = min(best, time.time() - t0)
d = json.loads(out)
chars = sum(len(p[1]) for p in d["pieces"])
pages = d.get("pages")
print("extract %-9s %7.1f KB file, %6d characters: %6.1f ms%s" % (
    os.path.basename(path), os.path.getsize(path) / 1e3, chars, best * 1e3,
    ", %.1f pages/s" % (pages / best) if pages else ", %.2f MB text/s" % (chars * 3 / 1e6 / best)))
PY
  done
  t0=$(date +%s.%N)
  "$BIN/policy-extract" --ocr "$docs/small/plan-scan.pdf" > /dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "OCR (chi_sim, 300 dpi): 2 pages in %.2f s, %.2f pages/s\n", b - a, 2 / (b - a) }' 
else
  echo "extract: SKIP, needs chromium and pdftoppm for the PDF fixtures"
fi
