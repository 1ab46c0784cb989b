#!/usr/bin/env bash
# Fault-proxy throughput and latency against a direct connection, in the same run:
# nginx (Debian) as origin, wrk (Debian) as client, iperf3 (Debian) for bulk transfer, and HAProxy
# (Debian) in TCP and HTTP mode as a reference proxy measured in the same run.
#   bench/proxy/run.sh                 # ~4 minutes; prints tables with ratios
#   BENCH_ONLY=cpu bench/proxy/run.sh  # only the req/s and CPU-per-request tables
# Installs nginx-light, wrk, iperf3 and haproxy with apt-get if missing. Everything binds 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in nginx wrk iperf3 haproxy /usr/bin/time; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light wrk iperf3 haproxy time; break; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet
MW="$PWD/target/release/monkeywrench"
. bench/proxy/common.sh

NGINX_PORT=$(free_port); NGINX_PORT2=$(free_port); API_PORT=$(free_port); IPERF_PORT=$(free_port)
HAP_TCP_PORT=$(free_port); HAP_HTTP_PORT=$(free_port); HAP_BULK_PORT=$(free_port); HAP_LB_PORT=$(free_port)
cat > "$WORK/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 5000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend tcpin
  mode tcp
  bind 127.0.0.1:$HAP_TCP_PORT
  default_backend tcpout
backend tcpout
  mode tcp
  server origin 127.0.0.1:$NGINX_PORT
frontend bulkin
  mode tcp
  bind 127.0.0.1:$HAP_BULK_PORT
  default_backend bulkout
backend bulkout
  mode tcp
  server iperf 127.0.0.1:$IPERF_PORT
frontend httpin
  mode http
  bind 127.0.0.1:$HAP_HTTP_PORT
  default_backend httpout
backend httpout
  mode http
  http-reuse always
  server origin 127.0.0.1:$NGINX_PORT
frontend lbin
  mode http
  bind 127.0.0.1:$HAP_LB_PORT
  default_backend lbout
backend lbout
  mode http
  http-reuse always
  balance roundrobin
  server one 127.0.0.1:$NGINX_PORT
  server two 127.0.0.1:$NGINX_PORT2
CONF
start_nginx "$NGINX_PORT" "$NGINX_PORT2"
haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 & PIDS+=($!)
HAP_PID=$!
"$MW" proxy serve --host 127.0.0.1 --port "$API_PORT" --seed 1 2>/dev/null & PIDS+=($!)
MW_PID=$!
iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" >/dev/null 2>&1 & PIDS+=($!)
sleep 1
api() { curl -s -X "$1" "http://127.0.0.1:$API_PORT$2" ${3:+-d "$3"}; }
HTTP_PROXY_ADDR=$(api POST /proxies "{\"name\":\"web\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
HTTPMODE_PROXY_ADDR=$(api POST /proxies "{\"name\":\"webhttp\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\",\"protocol\":\"http\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
LB_PROXY_ADDR=$(api POST /proxies "{\"name\":\"weblb\",\"listen\":\"127.0.0.1:0\",\"upstreams\":[\"127.0.0.1:$NGINX_PORT\",\"127.0.0.1:$NGINX_PORT2\"],\"protocol\":\"http\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
BULK_PROXY_ADDR=$(api POST /proxies "{\"name\":\"bulk\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$IPERF_PORT\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')

NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
# Every URL measured must answer 200 with the file's exact size, or the figures mean nothing.
for url in "127.0.0.1:$NGINX_PORT" "127.0.0.1:$NGINX_PORT2" "$HTTP_PROXY_ADDR" "$HTTPMODE_PROXY_ADDR" "$LB_PROXY_ADDR" \
           "127.0.0.1:$HAP_TCP_PORT" "127.0.0.1:$HAP_HTTP_PORT" "127.0.0.1:$HAP_LB_PORT"; do
  for f in small:615 large:65536; do
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://$url/${f%%:*}.html")
    [ "$got" = "200 ${f##*:}" ] || { echo "http://$url/${f%%:*}.html answered '$got', expected '200 ${f##*:}'" >&2; exit 1; }
  done
done
cpu_ticks() { if [ "$1" = 0 ]; then echo 0; else awk '{print $14+$15}' "/proc/$1/stat"; fi; }
# wrk_cpu URL PROXY_PID -> "req/s proxy_us_per_req wrk_plus_nginx_us_per_req" (CPU time per request,
# user + system, from /proc and from wrk's own rusage; PROXY_PID 0 for the direct run).
wrk_cpu() {
  local p0 n0 p1 n1 out
  p0=$(cpu_ticks "$2"); n0=$(cpu_ticks "$NGINX_WORKER")
  out=$( { /usr/bin/time -f "WRKCPU %U %S" wrk -t2 -c64 -d10s "$1"; } 2>&1 )
  p1=$(cpu_ticks "$2"); n1=$(cpu_ticks "$NGINX_WORKER")
  if grep -q "Non-2xx" <<<"$out"; then echo "wrk saw error responses from $1" >&2; exit 1; fi
  python3 - "$out" "$p0" "$p1" "$n0" "$n1" "$(getconf CLK_TCK)" <<'PY'
import re, sys
out, (p0, p1, n0, n1, hz) = sys.argv[1], map(float, sys.argv[2:])
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
u, s = map(float, re.search(r"WRKCPU ([\d.]+) ([\d.]+)", out).groups())
n = rps * 10
print(f"{rps:.0f} {(p1 - p0) / hz * 1e6 / n:.1f} {((n1 - n0) / hz + u + s) * 1e6 / n:.1f}")
PY
}
wrk_p50() { wrk -t1 -c1 -d10s --latency "$1" | awk '/^ +50%/ {print $2}'; }
to_us() { python3 -c "import sys; v=sys.argv[1]; u={'us':1,'ms':1e3,'s':1e6}; n=v.rstrip('usm'); print(float(n)*u[v[len(n):]])" "$1"; }
iperf_gbps() { iperf3 -c 127.0.0.1 -p "$1" -n 1G $2 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'; }

# 615 B and 64 KiB through each proxy, each right after a direct run, with the CPU every party
# spent per request. On a machine whose cores wrk and nginx already fill, req/s ≈ cores / (W + N +
# P): the ceiling a proxy spending P µs per request can reach is (W + N) / (W + N + P).
for size in "615 B|small" "64 KiB|large"; do
  IFS='|' read -r size_label file <<<"$size"
  echo "| $size_label, wrk -t2 -c64 -d10s | direct req/s | via the proxy | ratio | proxy CPU µs/req | wrk + nginx CPU µs/req (direct) | ceiling (W+N)/(W+N+P) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for row in "monkeywrench tcp mode|$HTTP_PROXY_ADDR|$MW_PID" "monkeywrench http mode|$HTTPMODE_PROXY_ADDR|$MW_PID" \
             "HAProxy tcp mode|127.0.0.1:$HAP_TCP_PORT|$HAP_PID" "HAProxy http mode|127.0.0.1:$HAP_HTTP_PORT|$HAP_PID" \
             "monkeywrench http mode, 2 upstreams round-robin|$LB_PROXY_ADDR|$MW_PID" \
             "HAProxy http mode, 2 servers roundrobin|127.0.0.1:$HAP_LB_PORT|$HAP_PID"; do
    IFS='|' read -r label addr pid <<<"$row"
    # Plain assignments, so a failed measurement stops the script (set -e).
    direct=$(wrk_cpu "http://127.0.0.1:$NGINX_PORT/$file.html" 0)
    proxied=$(wrk_cpu "http://$addr/$file.html" "$pid")
    read -r d _ wn <<<"$direct"; read -r p pc _ <<<"$proxied"
    python3 -c "d,p,pc,wn=$d,$p,$pc,$wn; print(f'| $label | {d:.0f} | {p:.0f} | {p/d:.2f}× | {pc} | {wn} | {wn/(wn+pc):.2f}× |')"
  done
  echo
done
# Both balanced proxies really spread the load over the two backends.
curl -s "http://127.0.0.1:$API_PORT/proxies/weblb/traffic" | python3 -c 'import json,sys; print("monkeywrench upstream responses:", [u["responses"] for u in json.load(sys.stdin)["upstreams"]])'
# BENCH_ONLY=cpu: stop after the CPU tables (about 4 minutes).
[ "${BENCH_ONLY:-}" = cpu ] && exit 0
echo "| measurement | direct | via monkeywrench | ratio |"
echo "|---|---:|---:|---:|"
for row in "tcp mode|$HTTP_PROXY_ADDR" "http mode|$HTTPMODE_PROXY_ADDR" \
           "reference: HAProxy tcp mode|127.0.0.1:$HAP_TCP_PORT" "reference: HAProxy http mode|127.0.0.1:$HAP_HTTP_PORT"; do
  IFS='|' read -r label addr <<<"$row"
  d=$(to_us "$(wrk_p50 "http://127.0.0.1:$NGINX_PORT/small.html")"); p=$(to_us "$(wrk_p50 "http://$addr/small.html")")
  echo "| $label: p50 latency, one connection (wrk -t1 -c1) | ${d} µs | ${p} µs | +$(python3 -c "print(f'{$p-$d:.1f}')") µs |"
done
PP=${BULK_PROXY_ADDR##*:}
for dir in "" "-R"; do
  d=$(iperf_gbps "$IPERF_PORT" "$dir"); p=$(iperf_gbps "$PP" "$dir")
  echo "| bulk 1 GiB iperf3 ${dir:-(client→server)} Gbit/s | $(printf %.2f "$d") | $(printf %.2f "$p") | $(python3 -c "print(f'{$p/$d:.2f}×')") |"
  h=$(iperf_gbps "$HAP_BULK_PORT" "$dir")
  echo "| reference: HAProxy tcp mode, bulk ${dir:-(client→server)} Gbit/s | $(printf %.2f "$d") | $(printf %.2f "$h") | $(python3 -c "print(f'{$h/$d:.2f}×')") |"
done
api POST /proxies/web/toxics '{"type":"latency","attributes":{"latency":100,"jitter":20}}' >/dev/null
p=$(wrk -t2 -c64 -d10s --latency "http://$HTTP_PROXY_ADDR/small.html" | awk '/^ +50%/ {print $2}')
echo "| p50 with a latency 100 ± 20 ms toxic (wrk -t2 -c64) | – | $p | target 100 ms ± 1 |"
api DELETE /proxies/web/toxics/latency_downstream >/dev/null
# idle_rss ADDR NAME LABEL PID API_PORT: the RSS of the proxy server PID while ~10 000 clients hold
# connections to its proxy NAME at ADDR without sending anything.
idle_rss() {
  local before after active
  before=$(awk '/VmRSS/ {print $2}' /proc/"$4"/status)
  rm -f "$WORK/idle-ready"
  python3 - "$1" "$WORK/idle-ready" <<'PY' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
host, port = sys.argv[1].rsplit(":", 1)
conns = [socket.create_connection((host, int(port))) for _ in range(10000)]
time.sleep(1)
open(sys.argv[2], "w").write("1")
time.sleep(5)
PY
  local idle=$!
  for _ in $(seq 1 600); do [ -f "$WORK/idle-ready" ] && break; sleep 0.1; done
  after=$(awk '/VmRSS/ {print $2}' /proc/"$4"/status)
  active=$(curl -s "http://127.0.0.1:$5/traffic" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2']['connections']['active'])")
  wait "$idle" || true
  echo "| $3 proxy RSS with $active idle proxied connections | – | $((after/1024)) MiB (before: $((before/1024)) MiB) | target ≤ 64 MiB |"
  sleep 1 # the clients' connections close
}
idle_rss "$HTTP_PROXY_ADDR" web "tcp mode:" "$MW_PID" "$API_PORT"
# A server of its own for the http proxy: memory freed after the first measurement stays in the
# first process and would hide what the second one needs.
API2_PORT=$(free_port)
"$MW" proxy serve --host 127.0.0.1 --port "$API2_PORT" --seed 1 2>/dev/null & PIDS+=($!)
MW2_PID=$!
sleep 1
IDLE_HTTP_ADDR=$(curl -s -X POST "http://127.0.0.1:$API2_PORT/proxies" -d "{\"name\":\"idlehttp\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\",\"protocol\":\"http\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
idle_rss "$IDLE_HTTP_ADDR" idlehttp "http mode:" "$MW2_PID" "$API2_PORT"
