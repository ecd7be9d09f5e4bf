#!/bin/sh
# start-web.sh BIN DB LOG [FLAG...]: starts policy-web on a free loopback
# port in the background (with the extra flags), waits until it listens,
# prints "PID PORT".  The caller stops it by that PID.
bin=$1 db=$2 log=$3
shift 3
"$bin/policy-web" --db "$db" --port 0 --quiet "$@" >/dev/null 2>"$log" &
pid=$!
for i in $(seq 1 100); do
  port=$(sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$log")
  if [ -n "$port" ]; then
    echo "$pid $port"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
echo "policy-web did not start:" >&2
cat "$log" >&2
kill "$pid" 2>/dev/null
exit 1
