#!/usr/bin/env bash
# The per-request cost of cohorts in the http proxy: proxy CPU µs per request (from /proc) with no
# split, and with a split in force that puts every request in a cohort (assignment by header hash
# plus the cohort's own figures), measured in alternating rounds in one run against nginx.
#   bench/proxy/cohorts.sh            # ~2 minutes
# Installs nginx-light and wrk with apt-get if missing. Everything binds 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light wrk; break; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet
MW="$PWD/target/release/monkeywrench"
. bench/proxy/common.sh
NGINX_PORT=$(free_port); API_PORT=$(free_port)
start_nginx "$NGINX_PORT"
"$MW" proxy serve --host 127.0.0.1 --port "$API_PORT" >/dev/null 2>&1 & PIDS+=($!)
MW_PID=$!
sleep 1
api() { curl -sf -X "$1" "http://127.0.0.1:$API_PORT$2" ${3:+-d "$3"}; }
ADDR=$(api POST /proxies "{\"name\":\"web\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\",\"protocol\":\"http\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# round -> "req/s proxy_us_per_req"
round() {
  local p0 p1 out
  p0=$(cpu_ticks "$MW_PID")
  out=$(wrk -t2 -c64 -d10s -H "x-user: someone" "http://$ADDR/small.html")
  p1=$(cpu_ticks "$MW_PID")
  python3 - "$out" "$p0" "$p1" "$(getconf CLK_TCK)" <<'PY'
import re, sys
out, p0, p1, hz = sys.argv[1], *map(float, sys.argv[2:])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
print(f"{rps:.0f} {(p1 - p0) / hz * 1e6 / (rps * 10):.2f}")
PY
}
echo "| round, wrk -t2 -c64 -d10s, 615 B | no split: req/s | µs/req | split (50 % + 50 %): req/s | µs/req | cost of cohorts µs/req |"
echo "|---|---:|---:|---:|---:|---:|"
for i in 1 2 3; do
  api DELETE /proxies/web/cohorts >/dev/null 2>&1 || true
  read -r off_rps off_us <<<"$(round)"
  api POST /proxies/web/cohorts '{"key": "header:x-user", "control": 50, "experiment": 50}' >/dev/null
  read -r on_rps on_us <<<"$(round)"
  in_cohort=$(api GET /proxies/web/cohorts | python3 -c 'import json,sys; r=json.load(sys.stdin)["requests"]; print(r["control"] + r["experiment"])')
  [ "$in_cohort" -gt 0 ] || { echo "no request landed in a cohort" >&2; exit 1; }
  python3 -c "print(f'| {$i} | $off_rps | $off_us | $on_rps | $on_us | {$on_us - $off_us:+.2f} |')"
done
