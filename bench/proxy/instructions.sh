#!/usr/bin/env bash
# User-space instructions per request of an http-mode proxy, counted by valgrind's callgrind (an
# instruction count, unlike wall time, repeats exactly whatever else the machine is doing), for
# this build and, in the same run, for a baseline binary (e.g. the previous commit's build):
#   bench/proxy/instructions.sh [BASELINE_BINARY] [REQUESTS]
# One keep-alive client, 615 B responses from nginx (Debian), 500 warm-up requests not counted.
# Kernel time (most of a proxy's cost, see BENCHMARKS.md) is not in these figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in nginx valgrind; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light valgrind; break; }
done
BASELINE=${1:-}; N=${2:-3000}
cargo build --release --locked --quiet
. bench/proxy/common.sh
NGINX_PORT=$(free_port)
cat > "$WORK/client.py" <<'PY'
import http.client, sys
host, port = sys.argv[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
for _ in range(int(sys.argv[2])):
    conn.request("GET", "/small.html")
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200 and len(body) == 615, (r.status, body[:80])
PY
start_nginx "$NGINX_PORT"

# instructions BINARY -> user-space instructions per request
instructions() {
  local out="$WORK/cg.$RANDOM" api vg listen
  api=$(free_port)
  MONKEYWRENCH_WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$1" proxy serve --host 127.0.0.1 --port "$api" --seed 1 2>"$out.log" & PIDS+=($!)
  vg=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$api/proxies" >/dev/null && break; sleep 0.3; done
  listen=$(curl -sf -X POST "http://127.0.0.1:$api/proxies" \
    -d "{\"name\":\"h\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\",\"protocol\":\"http\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
  python3 "$WORK/client.py" "$listen" 500
  callgrind_control -z "$vg" >/dev/null 2>&1
  python3 "$WORK/client.py" "$listen" "$N"
  callgrind_control -d "$vg" >/dev/null 2>&1
  kill "$vg"; wait "$vg" 2>/dev/null || true
  callgrind_annotate "$out.1" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' |
    python3 -c "import sys; print(round(int(sys.stdin.read()) / $N))"
}

now=$(instructions target/release/monkeywrench)
echo "| build | user-space instructions per request (callgrind, $N requests) |"
echo "|---|---:|"
echo "| this build | $now |"
if [ -n "$BASELINE" ]; then
  base=$(instructions "$BASELINE")
  echo "| baseline $BASELINE | $base |"
  echo "| ratio this / baseline | $(python3 -c "print(f'{$now/$base:.2f}×')") |"
fi
